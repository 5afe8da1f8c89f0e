"""Read more by paragraphs: ``read --continue`` parts, then ``--next-paragraph`` / ``--previous-paragraph``
from the paragraph last said, on the text a description kept (`engine.text.continuation`)."""

from __future__ import annotations

from engine.text.continuation import THE_END, THE_START, keep_unread, move_paragraph, read_more
from tests.conftest import run_main

# About 240 characters each: a part of `read_more` (at most 600 characters) holds two of them.
PARAGRAPHS = [f"Paragraph {name}: " + f"the {name} notes of the meeting go on at some length here. " * 4
              for name in ("one", "two", "three", "four")]


def test_paragraph_moves_follow_what_was_said_last() -> None:
    keep_unread(PARAGRAPHS)
    assert move_paragraph(-1) == THE_START  # nothing said yet after the description
    assert read_more() == "\n".join(PARAGRAPHS[:2]) + "\n... and 2 more."
    assert move_paragraph(-1) == PARAGRAPHS[0]
    assert move_paragraph(1) == PARAGRAPHS[1]
    assert move_paragraph(1) == PARAGRAPHS[2]
    # Reading on goes on after the paragraph moved to.
    assert read_more() == f"{PARAGRAPHS[3]}\n{THE_END}"
    assert move_paragraph(1) == THE_END
    assert move_paragraph(-1) == PARAGRAPHS[2]


def test_the_cli_moves_by_paragraphs() -> None:
    keep_unread(PARAGRAPHS)
    first = run_main("read", "--next-paragraph", "--no-speech")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == PARAGRAPHS[0].strip()
    both = run_main("read", "--continue", "--previous-paragraph", "--no-speech")
    assert both.returncode == 2 and "not allowed with" in both.stderr, both.stderr
