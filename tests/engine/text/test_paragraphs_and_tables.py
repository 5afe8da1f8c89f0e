"""Layout rules on line boxes as an OCR engine gives them: wrapped lines joined into paragraphs, tables read row
by row. (The real-program checks of the same rules are in test_window_screens.py.)"""

from __future__ import annotations

from engine.describe import TextLine
from engine.text.layout import reading_order
from engine.text.paragraphs import join_paragraphs


def line(text: str, x: int, y: int, w: int, h: int = 16) -> TextLine:
    return TextLine(text, (x, y, w, h), 0.9)


def test_wrapped_lines_become_one_paragraph_and_a_hyphenated_word_is_whole() -> None:
    lines = [line("The ferry now runs every forty minutes from six in the", 40, 100, 600),
             line("morning until late evening. Step-free access is avail-", 40, 122, 590),
             line("able at both piers.", 40, 144, 180),
             line("Printed by the harbour council.", 40, 200, 300)]
    assert join_paragraphs(lines) == [
        "The ferry now runs every forty minutes from six in the morning until late evening. Step-free access is "
        "available at both piers.", "Printed by the harbour council."]


def test_terminal_lines_and_ended_sentences_stay_apart() -> None:
    terminal = [line("On branch main", 4, 25, 124), line("Your branch is up to date with 'origin/main'", 4, 44, 391),
                line("Changes not staged for commit:", 4, 63, 250)]
    assert join_paragraphs(terminal) == [item.text for item in terminal]
    sentences = [line("First sentence ends here, right at the margin.", 40, 100, 600),
                 line("Second sentence also reaches the right margin of", 40, 122, 598),
                 line("the column.", 40, 144, 100)]
    assert join_paragraphs(sentences) == [sentences[0].text, f"{sentences[1].text} {sentences[2].text}"]


def test_table_is_read_row_by_row_with_its_header() -> None:
    # Cells share each row's top edge; the columns hold short cells of varying width.
    rows = [("Directive", "Meaning", "Example"), ("%a", "Weekday as a name.", "Sun, Mon"),
            ("%d", "Day of the month as a zero-padded number.", "01, 02, 31"), ("%Y", "Year.", "2026")]
    cells = [line(text, x, 100 + 22 * r, len(text) * 9) for r, row in enumerate(rows)
             for text, x in zip(row, (40, 200, 640), strict=True)]
    ordered = reading_order(cells[::-1])
    assert [item.text for item in ordered] == [
        "Columns: Directive, Meaning, Example", "Row 1: %a, Weekday as a name., Sun, Mon",
        "Row 2: %d, Day of the month as a zero-padded number., 01, 02, 31", "Row 3: %Y, Year., 2026"]
    # Each row is said on its own, never run into the next as a wrapped paragraph.
    assert join_paragraphs(ordered) == [item.text for item in ordered]


def test_two_columns_of_prose_are_not_a_table() -> None:
    left = [line(f"left column prose line number {i} fills it", 40, 100 + 22 * i, 380 - (i == 3) * 200)
            for i in range(4)]
    right = [line(f"right column prose line number {i} fills", 520, 100 + 22 * i, 370) for i in range(4)]
    assert [item.text for item in reading_order(right + left)] == [item.text for item in left + right]
