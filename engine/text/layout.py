"""Reading order: words grouped into line pieces, pieces into columns, columns read left to right, each top to bottom.

OCR engines see rows of ink. A page with two columns, a dialog with buttons side by side or a terminal running
``ls`` puts unrelated pieces on the same row; reading them straight across mixes the columns. So:

1. `split_wide_gaps` cuts each engine line where the space between two words is far wider than a space
   (more than `GAP_FACTOR` typical line heights): a column gutter, not a word gap.
2. `reading_order` cuts the pieces into rows at horizontal gaps, and groups consecutive rows while together they
   keep an empty vertical strip (a gutter, `GUTTER_FACTOR` line heights or wider) that no piece crosses; so a
   two-column section stays two columns even where one column has a blank row.
3. Rows at a group's start or end that sit on one side of the gutter only, set apart by more space than any gap
   between the rows spanning both columns, are a heading or a footer, not part of a column (`_trim`).
4. A group with a gutter is read column by column, each column ordered the same way, unless it is a table
   (`engine.text.table`: short cells aligned across rows), which is read row by row with its header; other groups
   row by row, each row left to right.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from engine.describe import TextLine
from engine.text.table import looks_like_table, table_lines

# A gap between two words wider than this many line heights separates two columns, not two words.
GAP_FACTOR = 2.5
# The narrowest empty vertical strip, in median line heights, that counts as a gutter between columns.
GUTTER_FACTOR = 2.0


@dataclass(frozen=True)
class Word:
    """One recognised word: its text, box (x, y, width, height) and confidence (0..1)."""

    text: str
    box: tuple[int, int, int, int]
    confidence: float


def join_words(words: Sequence[Word]) -> TextLine:
    """One line from words on one row: their texts joined by spaces, the union box, the mean confidence."""
    left = min(w.box[0] for w in words)
    top = min(w.box[1] for w in words)
    right = max(w.box[0] + w.box[2] for w in words)
    bottom = max(w.box[1] + w.box[3] for w in words)
    confidence = sum(w.confidence for w in words) / len(words)
    return TextLine(" ".join(w.text for w in words), (left, top, right - left, bottom - top), round(confidence, 3))


def line_height(lines: Sequence[Sequence[Word]]) -> float:
    """The typical height of a line of text: the median over lines of their tallest word."""
    heights = sorted(max(w.box[3] for w in line) for line in lines if line)
    return float(heights[len(heights) // 2]) if heights else 0.0


def split_wide_gaps(words: Sequence[Word], height: float | None = None, factor: float = GAP_FACTOR) -> list[TextLine]:
    """Turn the words of one engine line (left to right) into one or more line pieces, cut at wide gaps.

    ``height`` is the page's typical line height (`line_height`); a single line's own height varies with its
    letters (no ascender, no descender) and would make the cut depend on the words.
    """
    ordered = sorted(words, key=lambda w: w.box[0])
    if not ordered:
        return []
    height = max(height or 0.0, max(w.box[3] for w in ordered))
    pieces: list[list[Word]] = [[ordered[0]]]
    for previous, word in itertools.pairwise(ordered):
        gap = word.box[0] - (previous.box[0] + previous.box[2])
        if gap > factor * height:
            pieces.append([word])
        else:
            pieces[-1].append(word)
    return [join_words(piece) for piece in pieces]


def reading_order(lines: Sequence[TextLine]) -> list[TextLine]:
    """Return ``lines`` in reading order: columns left to right, each top to bottom."""
    if len(lines) < 2:
        return list(lines)
    heights = sorted(line.box[3] for line in lines)
    gutter = max(4.0, GUTTER_FACTOR * heights[len(heights) // 2])
    return _order(list(lines), gutter)


def _order(lines: list[TextLine], gutter: float) -> list[TextLine]:
    rows = _split_rows(lines)
    if len(rows) == 1:
        # One row: pieces left to right.
        return sorted(rows[0], key=lambda line: (line.box[0], line.box[1]))
    ordered: list[TextLine] = []
    for group in _group_rows(rows, gutter):
        columns = _split_columns([line for row in group for line in row], gutter)
        if len(group) > 1 and len(columns) > 1 and looks_like_table(group, columns):
            ordered.extend(table_lines(group, columns))
        elif len(group) > 1 and len(columns) > 1:
            ordered.extend(line for column in columns for line in _order(column, gutter))
        else:
            # No gutter: rows top to bottom, each row left to right.
            ordered.extend(line for row in group for line in sorted(row, key=lambda line: line.box[0]))
    return ordered


def _group_rows(rows: list[list[TextLine]], gutter: float) -> list[list[list[TextLine]]]:
    """Consecutive rows that together keep a gutter form a group; the others stand alone."""
    groups: list[list[list[TextLine]]] = []
    group: list[list[TextLine]] = []
    for row in rows:
        if group and len(_split_columns([line for r in (*group, row) for line in r], gutter)) < 2:
            groups.extend(_trim(group, gutter))
            group = []
        group.append(row)
    groups.extend(_trim(group, gutter))
    return groups


def _trim(group: list[list[TextLine]], gutter: float) -> list[list[list[TextLine]]]:
    """Part a group into (lead, columns, trail): rows on one side of the gutter only, set apart by more space
    than any gap between the rows that span both columns, are a heading or a footer, not part of a column."""
    if len(group) < 2:
        return [group]
    columns = _split_columns([line for row in group for line in row], gutter)
    if len(columns) < 2:
        return [group]
    column_of = {id(line): index for index, column in enumerate(columns) for line in column}
    spanning = [i for i, row in enumerate(group) if len({column_of[id(line)] for line in row}) > 1]
    if not spanning:
        return [group]
    first, last = spanning[0], spanning[-1]
    gaps = [_top(group[i + 1]) - _bottom(group[i]) for i in range(len(group) - 1)]
    heights = sorted(line.box[3] for row in group for line in row)
    # A gap this wide (wider than any inside the columns, and than a line) separates a heading or footer.
    wide = max([*gaps[first:last], heights[len(heights) // 2]]) * 1.25
    end = last + 1
    while end < len(group) and gaps[end - 1] <= wide:
        end += 1
    start = first
    while start > 0 and gaps[start - 1] <= wide:
        start -= 1
    parts = [group[:start], group[start:end], *([group[end:]] if end < len(group) else [])]
    return [part for part in parts if part]


def _top(row: list[TextLine]) -> int:
    return min(line.box[1] for line in row)


def _bottom(row: list[TextLine]) -> int:
    return max(line.box[1] + line.box[3] for line in row)


def _split_columns(lines: list[TextLine], gutter: float) -> list[list[TextLine]]:
    """Split at every empty vertical strip at least ``gutter`` wide that no piece crosses."""
    ordered = sorted(lines, key=lambda line: line.box[0])
    columns: list[list[TextLine]] = [[ordered[0]]]
    reach = ordered[0].box[0] + ordered[0].box[2]
    for line in ordered[1:]:
        if line.box[0] - reach >= gutter:
            columns.append([line])
        else:
            columns[-1].append(line)
        reach = max(reach, line.box[0] + line.box[2])
    return columns


def _split_rows(lines: list[TextLine]) -> list[list[TextLine]]:
    """Split at every horizontal gap: rows of pieces whose vertical extents overlap (by more than a third)."""
    ordered = sorted(lines, key=lambda line: line.box[1])
    rows: list[list[TextLine]] = [[ordered[0]]]
    bottom = ordered[0].box[1] + ordered[0].box[3]
    for line in ordered[1:]:
        # A small overlap (descenders of one row touching the next row's ascenders) does not merge rows.
        overlap = bottom - line.box[1]
        if overlap <= line.box[3] / 3:
            rows.append([line])
            bottom = line.box[1] + line.box[3]
        else:
            rows[-1].append(line)
            bottom = max(bottom, line.box[1] + line.box[3])
    return rows
