""""Read more": the text a description stopped at ("... and 84 more lines"), kept so the listener can hear it.

``main.py describe`` keeps the paragraphs it did not say; ``main.py read --continue`` says the next
`PART_PARAGRAPHS` of them (at most `PART_CHARS` characters) and moves on, until "That is all the text.";
``--next-paragraph`` / ``--previous-paragraph`` say one whole paragraph after or before the one last said.

Privacy: the kept text is what was on the screen. It lives only in the user's runtime folder (``XDG_RUNTIME_DIR``
on Linux: memory, cleared at log-out; the user's temporary folder elsewhere), readable by the user alone, and is
replaced by the next description. It is never logged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from engine.describe import TextLine
from engine.frames import Frame

PART_PARAGRAPHS = 5
PART_CHARS = 600
FILE_NAME = "reading.json"
THE_END = "That is all the text."
THE_START = "There is no earlier paragraph kept: the description said what came before."
NOTHING = "There is nothing more to read. Describe the screen first."


def reading_file() -> Path:
    """Where the unread paragraphs are kept (see the module notes)."""
    home = os.environ.get("SPACEVOICE_HOME")
    if home:
        return Path(home).expanduser() / "runtime" / FILE_NAME
    import platformdirs

    return Path(platformdirs.user_runtime_dir("SpaceVoice", appauthor=False)) / FILE_NAME


def unread_after_summary(lines: Sequence[TextLine], frame: Frame) -> list[str]:
    """The paragraphs a description's summary did not say, in reading order, each window's under its title."""
    from engine.text.by_window import group_by_window, is_terminal
    from engine.text.summary import _first_lines, full_text, headings, text_dominates

    if frame.windows:
        windows = group_by_window(lines, frame.windows)
        if not windows:
            return []
        front, *others = windows
        said = len(_first_lines(front.lines))
        rest = full_text(front.lines[said:], grid=is_terminal(front.window)).splitlines()
        for other in others:
            if other.lines:
                rest.append(f"Window: {other.window.title.strip() or 'untitled'}.")
                rest.extend(full_text(other.lines, grid=is_terminal(other.window)).splitlines())
        return [paragraph for paragraph in rest if paragraph.strip()]
    if not text_dominates(lines, frame):  # "It says: ..." said three lines
        return [p for p in full_text(lines[3:]).splitlines() if p.strip()]
    tops = headings(lines)
    body = [line for line in lines if line not in tops]
    return [p for p in full_text(body[len(_first_lines(body)):]).splitlines() if p.strip()]


def keep_unread(paragraphs: Sequence[str]) -> None:
    """Keep ``paragraphs`` for "read more" (replacing what was kept); nothing kept when there are none."""
    path = reading_file()
    if not paragraphs:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    keep_position(path, list(paragraphs), 0)


def _kept() -> tuple[Path, list[str], int] | None:
    path = reading_file()
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        return path, [str(p) for p in kept["paragraphs"]], int(kept["next"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_more() -> str:
    """The next part of the kept text (and it is marked as heard), `THE_END` after the last, or `NOTHING`."""
    kept = _kept()
    if kept is None:
        return NOTHING
    path, paragraphs, start = kept
    if start >= len(paragraphs):
        return THE_END
    end, size = start, 0
    while end < len(paragraphs) and end - start < PART_PARAGRAPHS and (end == start or size + len(paragraphs[end])
                                                                        <= PART_CHARS):
        size += len(paragraphs[end])
        end += 1
    keep_position(path, paragraphs, end)
    said = "\n".join(paragraphs[start:end])
    left = len(paragraphs) - end
    return f"{said}\n... and {left} more." if left else f"{said}\n{THE_END}"


def move_paragraph(step: int) -> str:
    """The next (``step`` 1) or previous (-1) kept paragraph, whole, from the one last said; reading on
    (`read_more`) then goes on after it. `THE_END` past the last, `THE_START` before the first, or `NOTHING`."""
    kept = _kept()
    if kept is None:
        return NOTHING
    path, paragraphs, after_said = kept
    target = after_said - 1 + step  # the paragraph last said is the one before the next unread one
    if target >= len(paragraphs):
        return THE_END
    if target < 0:
        return THE_START
    keep_position(path, paragraphs, target + 1)
    return paragraphs[target]


def keep_position(path: Path, paragraphs: list[str], position: int) -> None:
    """Write the paragraphs and the position of the next unread one."""
    part = path.with_suffix(".part")
    # Created readable by the user alone before anything is written into it.
    descriptor = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump({"paragraphs": paragraphs, "next": position}, out, ensure_ascii=False)
    part.replace(path)
