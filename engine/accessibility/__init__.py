"""Controls by their roles, from the platform's accessibility tree: the focused control and the front window's
buttons and fields, said before what OCR reads (``Focus: Name, text field, report.txt.``).

Linux reads AT-SPI over D-Bus (`engine.accessibility.atspi`). Other systems have no reader yet (Windows' UI
Automation is not written): there, and wherever the tree is missing or the front application exposes nothing,
`front_window_sentences` returns ``""`` and OCR does the rest.
"""

from __future__ import annotations

import logging
import sys

from engine.accessibility.controls import Control, FrontWindow, controls_sentence, focus_sentence

log = logging.getLogger(__name__)


def read_front_window() -> FrontWindow | None:
    """The active window's controls from the accessibility tree, or ``None`` when there is no tree to ask."""
    if not sys.platform.startswith("linux"):
        return None
    from engine.accessibility.atspi import read_active_window

    return read_active_window()


def front_window_sentences() -> str:
    """What to say first about the front window: its focused control, then its buttons and fields; or ``""``."""
    try:
        window = read_front_window()
    except Exception as error:  # the tree is a bonus: any failure there must not cost the OCR reading
        log.debug("accessibility tree not read: %s", error)
        return ""
    if window is None:
        return ""
    return " ".join(part for part in (focus_sentence(window.focus), controls_sentence(window)) if part)


__all__ = ["Control", "FrontWindow", "controls_sentence", "focus_sentence", "front_window_sentences",
           "read_front_window"]
