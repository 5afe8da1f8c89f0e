"""Reading order on known layouts: columns, headings and footers, tables of terminal output, uneven columns."""

from __future__ import annotations

from engine.describe import TextLine
from engine.text.layout import Word, line_height, reading_order, split_wide_gaps


def line(text: str, x: int, y: int, w: int = 300, h: int = 16) -> TextLine:
    return TextLine(text, (x, y, w, h), 0.9)


def texts(lines: list[TextLine]) -> list[str]:
    return [item.text for item in lines]


def shuffled(*lines: TextLine) -> list[TextLine]:
    # Engines return lines in their own order; reading order must not depend on it.
    return list(reversed(lines))


def test_two_columns_under_a_heading_with_a_footer() -> None:
    page = shuffled(
        line("Heading", 40, 20, 500, 32),
        line("L1", 40, 80), line("R1", 420, 80),
        line("L2", 40, 100), line("R2", 420, 100),
        line("L3", 40, 120),                         # the right column has a blank row here
        line("L4", 40, 140), line("R4", 420, 140),
        line("Footer", 40, 200, 200),
    )
    assert texts(reading_order(page)) == ["Heading", "L1", "L2", "L3", "L4", "R1", "R2", "R4", "Footer"]


def test_left_column_longer_than_the_right_stays_in_the_left_column() -> None:
    page = shuffled(
        line("L1", 40, 80), line("R1", 420, 80),
        line("L2", 40, 100), line("R2", 420, 100),
        line("L3", 40, 120),
        line("L4", 40, 140),
    )
    assert texts(reading_order(page)) == ["L1", "L2", "L3", "L4", "R1", "R2"]


def test_single_column_is_top_to_bottom_whatever_the_indent() -> None:
    page = shuffled(line("one", 10, 10, 400), line("two", 60, 30, 120), line("three", 10, 50, 250))
    assert texts(reading_order(page)) == ["one", "two", "three"]


def test_a_row_of_buttons_is_left_to_right() -> None:
    row = shuffled(line("Save", 100, 300, 40), line("Discard", 220, 301, 60), line("Cancel", 360, 299, 55))
    assert texts(reading_order(row)) == ["Save", "Discard", "Cancel"]


def test_sidebar_then_content() -> None:
    page = shuffled(
        line("Inbox", 10, 100, 60), line("Sent", 10, 130, 60), line("Drafts", 10, 160, 60),
        line("Dear Sam,", 300, 95, 200), line("The parcel arrived today.", 300, 125, 400),
        line("Thank you!", 300, 155, 150), line("Ana", 300, 185, 60),
    )
    assert texts(reading_order(page)) == ["Inbox", "Sent", "Drafts", "Dear Sam,", "The parcel arrived today.",
                                          "Thank you!", "Ana"]


def words(*items: tuple[str, int, int]) -> list[Word]:
    return [Word(text, (x, 10, width, 15), 0.9) for text, x, width in items]


def test_word_gaps_join_and_gutters_split() -> None:
    row = words(("modified:", 76, 77), ("engine/text/layout.py", 184, 187))  # three monospace spaces apart
    assert texts(split_wide_gaps(row, 15)) == ["modified: engine/text/layout.py"]
    row = words(("column", 40, 60), ("one.", 106, 40), ("Column", 682, 60), ("two.", 748, 40))  # a gutter
    assert texts(split_wide_gaps(row, 15)) == ["column one.", "Column two."]


def test_line_height_ignores_short_lowercase_lines() -> None:
    lines = [words(("Tall", 0, 40))] * 3 + [[Word("ace", (0, 0, 30, 9), 0.9)]]
    assert line_height(lines) == 15
