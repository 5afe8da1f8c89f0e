"""What to say about the text in a frame, and when a caption must not be said beside it.

Text dominates a frame when it is what a person would want first: on a screen or window, any real amount of text
(`SCREEN_CHARS` characters); on a photo, a lot of it (`PHOTO_CHARS`) or text covering a large part of the
picture (`PHOTO_AREA`), e.g. a letter held up to the webcam. Then the description leads with it: the window
title, the headings (lines clearly taller than the body text), the first lines, and how much more there is.
Otherwise a short "It says: ..." follows the scene.

A caption contradicts the text (and is not spoken) when the frame is heavy with text (`HEAVY_LINES` lines or
`HEAVY_CHARS` characters) and the caption either

- quotes or claims words ("a sign that says 'open'") that are not among the words read, or
- names no surface that carries text (screen, page, sign, document ...): it describes some other scene, which on
  a text-heavy frame is the caption model guessing (NVDA removed its captioner for exactly this).

On a frame with little text, a caption naming objects the text does not mention is not a contradiction: a photo
of a street with a shop sign is both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.describe import TextLine, TextSummary
from engine.frames import Frame

if TYPE_CHECKING:
    from engine.text.by_window import WindowText

SCREEN_CHARS = 20
PHOTO_CHARS = 200
PHOTO_AREA = 0.15
HEAVY_LINES = 6
HEAVY_CHARS = 150
# When text leads a description, this many lines are read before "... and N more lines".
FIRST_LINES = 5
FIRST_CHARS = 400
# A line this many times taller than the median line is a heading.
HEADING_FACTOR = 1.35
MAX_HEADINGS = 2

# Things a caption may name that carry text; a text-heavy frame captioned without one of them is misdescribed.
TEXT_SURFACES = frozenset({
    "screen", "screenshot", "computer", "monitor", "laptop", "display", "website", "web", "page", "pages",
    "document", "text", "texts", "words", "word", "writing", "written", "letter", "letters", "sign", "signs",
    "book", "books", "paper", "papers", "menu", "window", "dialog", "dialogue", "box", "message", "email",
    "phone", "tablet", "poster", "newspaper", "magazine", "label", "note", "notes", "list", "form", "receipt",
    "chart", "table", "code", "terminal", "keyboard", "tv", "television", "board", "whiteboard", "blackboard",
    "card", "ticket", "map", "calendar", "banner", "logo", "app", "application", "interface", "program",
})
# "a sign that says open", "a banner saying sale", "a note that reads hello", "a card with the words happy birthday".
_CLAIMS = re.compile(r"""\b(?:says|saying|that\s+reads|with\s+the\s+words?)\s+["'“‘]?([\w' -]+)""", re.IGNORECASE)
_QUOTED = re.compile(r"""["“‘]([^"”’]{2,})["”’]""")
_WORD = re.compile(r"[a-z0-9]+")


def total_chars(lines: Sequence[TextLine]) -> int:
    """Characters read, spaces excluded."""
    return sum(len(line.text.replace(" ", "")) for line in lines)


def text_dominates(lines: Sequence[TextLine], frame: Frame) -> bool:
    """Whether the text is the main thing in ``frame`` (see the module notes)."""
    chars = total_chars(lines)
    if frame.source in ("screen", "window"):
        return chars >= SCREEN_CHARS
    area = sum(line.box[2] * line.box[3] for line in lines) / float(max(1, frame.width * frame.height))
    return chars >= PHOTO_CHARS or (area >= PHOTO_AREA and chars >= SCREEN_CHARS)


def headings(lines: Sequence[TextLine]) -> list[TextLine]:
    """The lines noticeably taller than the body text, in reading order (at most `MAX_HEADINGS`)."""
    if len(lines) < 3:
        return []
    heights = sorted(line.box[3] for line in lines)
    median = heights[len(heights) // 2]
    return [line for line in lines if line.box[3] >= HEADING_FACTOR * median][:MAX_HEADINGS]


def summarize_lines(lines: Sequence[TextLine], frame: Frame) -> TextSummary:
    """The sentences about the text: leading ones when text dominates, else a short "It says"; the focused
    control and the front window's controls from the accessibility tree (`Frame.focus`) first, where known."""
    summary = _summarize_text(lines, frame)
    if frame.focus:  # with or without a window manager's window list: the tree knows the focus either way
        return TextSummary(f"{frame.focus} {summary.spoken}".strip(), True)
    return summary


def _summarize_text(lines: Sequence[TextLine], frame: Frame) -> TextSummary:
    if frame.windows:
        from engine.text.by_window import group_by_window

        return summarize_windows(group_by_window(lines, frame.windows))
    if not lines:
        return TextSummary("", False)
    if not text_dominates(lines, frame):
        shown = [line.text for line in lines[:3]]
        more = len(lines) - len(shown)
        said = "It says: " + " ".join(_sentence(text) for text in shown)
        return TextSummary(" ".join(p for p in (said, _more(more)) if p), False)
    parts: list[str] = []
    title = (frame.window_title or "").strip()
    if title:
        parts.append(_sentence(f"Window: {title}"))
    tops = headings(lines)
    if tops:
        parts.append(_sentence("Heading: " + "; ".join(line.text for line in tops)))
    first: list[TextLine] = []
    size = 0
    for line in lines:
        if line in tops:
            continue
        if len(first) >= FIRST_LINES or (first and size + len(line.text) > FIRST_CHARS):
            break
        first.append(line)
        size += len(line.text)
    parts.extend(_sentence(line.text) for line in first)
    parts.append(_more(len(lines) - len(first) - len(tops)))
    return TextSummary(" ".join(p for p in parts if p), True)


def summarize_windows(windows: Sequence[WindowText]) -> TextSummary:
    """A screen said window by window: the front window's title and first lines, then each other window's title
    with its first line. The desktop picture is not text and is never in it."""
    if not windows:
        return TextSummary("", False)
    front, *others = windows
    parts = [_sentence(f"Front window: {front.window.title.strip() or 'untitled'}")]
    shown = _first_lines(front.lines)
    parts.extend(_sentence(line.text) for line in shown)
    parts.append(_more(len(front.lines) - len(shown)))
    if others:
        parts.append("Other windows:")
        for other in others:
            title = other.window.title.strip() or "untitled"
            first = other.lines[0].text if other.lines else ""
            parts.append(_sentence(f"{title}: {first}" if first and first != title else title))
    return TextSummary(" ".join(p for p in parts if p), True)


def windows_text(windows: Sequence[WindowText]) -> str:
    """All the text, window by window, front window first, each under its title: what ``read`` prints."""
    out: list[str] = []
    for index, window in enumerate(windows):
        if not window.lines:
            continue
        title = window.window.title.strip() or "untitled"
        from engine.text.by_window import is_terminal

        out.append(_sentence(f"{'Front window' if index == 0 else 'Window'}: {title}"))
        out.append(full_text(window.lines, grid=is_terminal(window.window)))
    return "\n".join(out)


def _first_lines(lines: Sequence[TextLine]) -> list[TextLine]:
    first: list[TextLine] = []
    size = 0
    for line in lines:
        if len(first) >= FIRST_LINES or (first and size + len(line.text) > FIRST_CHARS):
            break
        first.append(line)
        size += len(line.text)
    return first


def full_text(lines: Sequence[TextLine], *, grid: bool = False) -> str:
    """All the text in reading order, one paragraph a line (wrapped lines joined, `engine.text.paragraphs`):
    what ``read`` prints and speaks. ``grid``: a terminal, one line per line."""
    from engine.text.paragraphs import join_paragraphs

    return "\n".join(line.text for line in lines) if grid else "\n".join(join_paragraphs(lines))


def caption_contradicts_text(caption: str, lines: Sequence[TextLine]) -> bool:
    """True when ``caption`` would mislead next to ``lines`` (see the module notes)."""
    if not caption.strip() or not lines:
        return False
    read_words = set(_WORD.findall(" ".join(line.text for line in lines).lower()))
    claimed = [m.group(1) for m in _CLAIMS.finditer(caption)] + _QUOTED.findall(caption)
    for claim in claimed:
        words = [w for w in _WORD.findall(claim.lower()) if len(w) > 2][:3]
        if words and not any(word in read_words for word in words):
            return True
    heavy = len(lines) >= HEAVY_LINES or total_chars(lines) >= HEAVY_CHARS
    if not heavy:
        return False
    caption_words = set(_WORD.findall(caption.lower()))
    return not (caption_words & TEXT_SURFACES)


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    return text if text[-1] in ".!?:;…" else text + "."


def _more(count: int) -> str:
    if count <= 0:
        return ""
    return "... and 1 more line." if count == 1 else f"... and {count} more lines."
