"""Wrapped lines joined back into paragraphs, so speech follows sentences, not the screen's line breaks.

A page's paragraph is drawn as several lines; said one by one, each became a sentence of its own (a pause and a
falling voice in the middle of a sentence; a 314-word page took 177 s at 180 wpm). A line continues the one above
it when:

- it starts where that one starts (within one line height), right below it (a gap under `MAX_GAP` line heights),
  in text of the same size;
- the one above fills most of the paragraph's width (`FULL_LINE`: it was wrapped, not ended) and does not end a
  sentence or a label (``. ! ? : ;``); the paragraph's width is a right margin that at least two of its lines
  reach (within `MARGIN_SHARE`), so one long line among short ones (a terminal) is never taken for wrapped text.
  A paragraph of two lines, the second short, is left as two lines.

A word hyphenated across the break ("docu-" + "ment") is joined without its hyphen when the next line goes on in
lower case. Terminals and table rows are never joined (each line there is its own).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from engine.describe import TextLine

MAX_GAP = 0.8
FULL_LINE = 0.7
MARGIN_SHARE = 0.9
_ENDS = (".", "!", "?", ":", ";", "…")
_TABLE_ROW = re.compile(r"(Columns|Row \d+): ")


def join_paragraphs(lines: Sequence[TextLine]) -> list[str]:
    """The texts of ``lines`` (in reading order) with each paragraph's wrapped lines made one."""
    if not lines:
        return []
    widest = _block_widths(lines)
    out: list[str] = [lines[0].text]
    for index in range(1, len(lines)):
        previous, line = lines[index - 1], lines[index]
        if _continues(previous, line, widest[index - 1]):
            out[-1] = _glue(out[-1], line.text)
        else:
            out.append(line.text)
    return out


def _continues(previous: TextLine, line: TextLine, width: int) -> bool:
    if _TABLE_ROW.match(previous.text) or _TABLE_ROW.match(line.text):
        return False  # a table's rows (`engine.text.table`) are each said on their own
    px, py, pw, ph = previous.box
    x, y, _, h = line.box
    height = max(ph, h)
    return (abs(x - px) <= height and 0 <= y - (py + ph) < MAX_GAP * height and abs(h - ph) <= 0.35 * height
            and pw >= FULL_LINE * width and not previous.text.rstrip().endswith(_ENDS))


def _block_widths(lines: Sequence[TextLine]) -> list[int]:
    """For each line, the width of the widest line in its run of left-aligned consecutive lines."""
    widths = [line.box[2] for line in lines]
    runs: list[list[int]] = [[0]]
    for index in range(1, len(lines)):
        previous, line = lines[index - 1].box, lines[index].box
        together = abs(line[0] - previous[0]) <= max(line[3], previous[3]) and line[1] > previous[1]
        if together:
            runs[-1].append(index)
        else:
            runs.append([index])
    for run in runs:
        widest = max(widths[i] for i in run)
        # Wrapped text has a right margin that several lines reach. One long line among short ones (a terminal's
        # "Your branch is up to date ..." after "On branch main") is not a margin: nothing there is joined.
        margin = sum(1 for i in run if widths[i] >= MARGIN_SHARE * widest) >= 2
        for i in run:
            widths[i] = widest if margin else 1 << 30
    return widths


def _glue(text: str, more: str) -> str:
    if text.endswith("-") and len(text) > 1 and text[-2].isalpha() and more[:1].islower():
        return text[:-1] + more
    return f"{text} {more}"
