"""Tables: cells aligned in columns across rows are read row by row, with their header.

`engine.text.layout` finds columns (empty vertical strips no piece crosses). Newspaper columns and table
columns look alike there; what tells them apart is how full the columns are: a column of wrapped prose is filled
from edge to edge on nearly every line, while a table's columns hold short cells of varying width (names, sizes,
dates) that leave at least one of them mostly empty (under `PROSE_FILL` on its median row). And a table's cells
share their row's line exactly, where a sidebar of short links beside a page is laid out on its own. A group of at
least `MIN_ROWS` rows, most of them with cells in two or more columns, with a sparse column, whose crossing rows
agree in their top or bottom edges (`ALIGN_SHARE`), is a table.

It is said as a listener can follow it: "Columns: Name, Size, Modified." (the first row, when it fills every
column), then "Row 1: report.txt, 12 kB, 10:42." — never column by column.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.describe import TextLine

MIN_ROWS = 3
# Wrapped prose fills its column to at least this share on the median line; a table column holds less.
PROSE_FILL = 0.7
# Most rows (this share) of a table have cells in two or more columns.
SPANNING_SHARE = 0.6
# Cells of one row agree in top or bottom edge within this share of a line height (at least 2 pixels) ...
ALIGN_SHARE = 0.15
# ... in this share of the rows that cross columns.
ALIGNED_SHARE = 0.7


def looks_like_table(rows: Sequence[Sequence[TextLine]], columns: Sequence[Sequence[TextLine]]) -> bool:
    """Whether rows split into ``columns`` are a table rather than columns of prose (see the module notes)."""
    if len(rows) < MIN_ROWS or len(columns) < 2:
        return False
    column_of = _column_index(columns)
    spanning = sum(1 for row in rows if len({column_of[id(line)] for line in row}) > 1)
    if spanning < SPANNING_SHARE * len(rows):
        return False
    if not any(_is_sparse(column) for column in columns):
        return False  # columns of wrapped prose
    # A table's cells share their row's line: tops (or, where one cell has no capital, bottoms) agree to a pixel
    # or two. A sidebar beside a page is laid out on its own and agrees only by chance.
    heights = sorted(line.box[3] for row in rows for line in row)
    tolerance = max(2.0, ALIGN_SHARE * heights[len(heights) // 2])
    crossing = [row for row in rows if len({column_of[id(line)] for line in row}) > 1]
    aligned = sum(1 for row in crossing if _spread(row, top=True) <= tolerance or _spread(row, top=False) <= tolerance)
    return aligned >= ALIGNED_SHARE * len(crossing)


def _spread(row: Sequence[TextLine], *, top: bool) -> float:
    edges = [line.box[1] + (0 if top else line.box[3]) for line in row]
    return float(max(edges) - min(edges))


def _is_sparse(column: Sequence[TextLine]) -> bool:
    """Whether the median line of ``column`` fills less than `PROSE_FILL` of the column's width."""
    if len(column) < 2:
        return False
    left = min(line.box[0] for line in column)
    width = max(line.box[0] + line.box[2] for line in column) - left
    fills = sorted(line.box[2] / max(1, width) for line in column)
    return fills[len(fills) // 2] < PROSE_FILL


def table_lines(rows: Sequence[Sequence[TextLine]], columns: Sequence[Sequence[TextLine]]) -> list[TextLine]:
    """One line per table row, cells left to right joined by commas: "Columns: ..." for a header that fills
    every column, then "Row 1: ...", "Row 2: ..."."""
    column_of = _column_index(columns)
    said: list[TextLine] = []
    number = 0
    for index, row in enumerate(rows):
        cells: dict[int, list[TextLine]] = {}
        for line in sorted(row, key=lambda line: line.box[0]):
            cells.setdefault(column_of[id(line)], []).append(line)
        texts = [" ".join(line.text for line in cells[key]) for key in sorted(cells)]
        if index == 0 and len(cells) == len(columns):
            label = "Columns"
        else:
            number += 1
            label = f"Row {number}"
        said.append(_union(row, f"{label}: {', '.join(texts)}"))
    return said


def _column_index(columns: Sequence[Sequence[TextLine]]) -> dict[int, int]:
    return {id(line): index for index, column in enumerate(columns) for line in column}


def _union(lines: Sequence[TextLine], text: str) -> TextLine:
    left = min(line.box[0] for line in lines)
    top = min(line.box[1] for line in lines)
    right = max(line.box[0] + line.box[2] for line in lines)
    bottom = max(line.box[1] + line.box[3] for line in lines)
    confidence = sum(line.confidence for line in lines) / len(lines)
    return TextLine(text, (left, top, right - left, bottom - top), round(confidence, 3))
