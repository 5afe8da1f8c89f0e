"""Text read from real programs on a real X display (Xvfb): xterm, a Qt dialog, a page in headless Chromium.

Each test checks what a listener would notice: the words (character error rate at most 3%) and their order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.frames import Frame
from engine.text import TextReader, load_text_stage, read_text
from tests.engine.text.conftest import TERMINAL_TEXT, xterm_frame
from tests.engine.text.screens import (
    character_error_rate,
    chromium_command,
    chromium_screenshot,
    grab_screen,
    qt_dialog,
    running,
    settle,
    wait_for_window,
    wallpaper,
)

pytestmark = pytest.mark.gui

MAX_CER = 0.03

@pytest.fixture(scope="module")
def reader() -> TextReader:
    """The default text stage (Tesseract here)."""
    return load_text_stage()


def _read(reader: TextReader, frame: Frame) -> str:
    return read_text(frame, reader).text


def test_terminal_text_is_read_with_few_errors(terminal_frame: Frame, reader: TextReader) -> None:
    got = _read(reader, terminal_frame)
    assert character_error_rate(TERMINAL_TEXT, got) <= MAX_CER, got
    # Lines come out in the order the terminal shows them; "modified:" stays with its file name.
    assert got.index("git status") < got.index("Thursday") < got.index("Dr. Ahmed")
    assert "modified: engine/text/layout.py" in " ".join(got.split())


def test_dark_terminal_is_read_as_well(shots: Path, reader: TextReader) -> None:
    frame = xterm_frame(shots, TERMINAL_TEXT, "terminal-dark", theme=("#1e1e1e", "#d4d4d4"))
    got = _read(reader, frame)
    assert character_error_rate(TERMINAL_TEXT, got) <= MAX_CER, got


def test_qt_dialog_message_then_buttons_left_to_right(x_display: str, reader: TextReader) -> None:
    message = ["Do you want to save the changes you made to report.txt?",
               "Your changes will be lost if you close without saving."]
    buttons = ["Save", "Discard", "Cancel"]
    with running(qt_dialog("dialog-under-test", message, buttons), env=_qt_env()):
        wait_for_window("dialog-under-test")
        settle(1.0)
        frame = grab_screen()
    result = read_text(frame, reader)
    expected = "\n".join([*message, " ".join(buttons)])
    assert character_error_rate(expected, result.text) <= MAX_CER, result.text
    positions = [result.text.index(word) for word in ("Do you want", "Your changes", "Save", "Discard", "Cancel")]
    assert positions == sorted(positions), result.text
    # Each button is found where it is drawn: left to right along one row.
    boxes = {line.text: line.box for line in result.lines if line.text in buttons}
    assert set(boxes) == set(buttons), [line.text for line in result.lines]
    assert boxes["Save"][0] < boxes["Discard"][0] < boxes["Cancel"][0]


def test_a_dialog_over_a_photo_wallpaper_is_read_and_the_photo_adds_no_words(x_display: str,
                                                                             reader: TextReader) -> None:
    # Most desktops have a photo behind the windows; a threshold taken over the whole screen could lose the
    # dialog's light-grey buttons against it, or read the photo's texture as letters.
    message = ["The backup finished at 10:42 with 3 warnings.", "Open the log to see which files were skipped."]
    buttons = ["Open log", "Close"]
    photo = Path(__file__).resolve().parents[3] / "resources" / "samples" / "astronaut.png"
    with running(wallpaper(photo), env=_qt_env()):
        wait_for_window("wallpaper")
        with running(qt_dialog("dialog-on-photo", message, buttons, at=(380, 300)), env=_qt_env()):
            wait_for_window("dialog-on-photo")
            settle(1.0)
            frame = grab_screen()
    assert float(frame.image[780, 20].astype(float).std()) > 0 or frame.image.std() > 30  # the photo is there
    result = read_text(frame, reader)
    expected = "\n".join([*message, " ".join(buttons)])
    assert character_error_rate(expected, result.text) <= MAX_CER, result.text


def _qt_env() -> dict[str, str]:
    import os

    return {**os.environ, "QT_QPA_PLATFORM": "xcb"}


COLUMNS_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body { font-family: 'DejaVu Sans', sans-serif; font-size: 17px; margin: 48px; color: #202020; background: #fff; }
h1 { font-size: 34px; margin: 0 0 28px 0; }
.cols { display: flex; gap: 96px; }
.cols div { flex: 1; }
footer { margin-top: 40px; font-size: 15px; }
</style></head><body>
<h1>Harbour Town Weekly</h1>
<div class="cols">
<div><p>The ferry timetable changes on Monday.</p><p>Boats leave every forty minutes until late evening.</p>
<p>Tickets can be bought on board with a card.</p></div>
<div><p>The library reopens after its long repair.</p><p>Children's reading hour is back on Saturday mornings.</p>
<p>Volunteers are welcome at the front desk.</p></div>
</div>
<footer>Printed by the harbour council.</footer>
</body></html>
"""
LEFT = ("The ferry timetable changes on Monday. Boats leave every forty minutes until late evening. "
        "Tickets can be bought on board with a card.")
RIGHT = ("The library reopens after its long repair. Children's reading hour is back on Saturday mornings. "
         "Volunteers are welcome at the front desk.")


def test_chromium_two_column_page_reads_column_by_column(tmp_path: Path, reader: TextReader) -> None:
    if chromium_command() is None:
        pytest.skip("Chromium is not installed (scripts/bootstrap.sh installs it)")
    page = tmp_path / "page.html"
    page.write_text(COLUMNS_PAGE, encoding="utf-8")
    image = chromium_screenshot(page, tmp_path / "page.png")
    result = read_text(Frame(image, "screen", window_title="Harbour Town Weekly - Chromium"), reader)
    expected = " ".join(["Harbour Town Weekly", LEFT, RIGHT, "Printed by the harbour council."])
    assert character_error_rate(expected, result.text) <= MAX_CER, result.text
    text = " ".join(result.text.split())
    # The whole left column before the right one, the heading first and the footer last.
    assert text.index("Harbour") < text.index("ferry") < text.index("on board") < text.index("library")
    assert text.index("front desk") < text.index("Printed")
    summary = reader.summarize(result.lines, Frame(image, "screen", window_title="Harbour Town Weekly - Chromium"))
    assert summary.dominates
    assert summary.spoken.startswith("Window: Harbour Town Weekly - Chromium. Heading: Harbour Town Weekly.")
    assert "more lines" in summary.spoken


def test_one_or_two_strips_read_the_same_page(tmp_path: Path) -> None:
    # How many strips run side by side depends on the machine's load; the words must not.
    if chromium_command() is None:
        pytest.skip("Chromium is not installed (scripts/bootstrap.sh installs it)")
    from engine.text.tesseract import TesseractBackend

    page = tmp_path / "page.html"
    page.write_text(COLUMNS_PAGE.replace("<footer>", "<div style='height:420px'></div><footer>"), encoding="utf-8")
    frame = Frame(chromium_screenshot(page, tmp_path / "page.png"), "screen")
    one = read_text(frame, TextReader(TesseractBackend(workers=1))).text
    two = read_text(frame, TextReader(TesseractBackend(workers=2))).text
    assert one == two
    assert one.splitlines()[-1] == "Printed by the harbour council."


def test_without_a_window_manager_the_screen_is_read_by_region(terminal_frame: Frame, reader: TextReader) -> None:
    # Bare Xvfb has no EWMH window manager (as Wayland gives no window list): no windows are claimed, and the
    # whole screen is read by region, as the terminal tests above check.
    assert terminal_frame.windows is None
    assert not read_text(terminal_frame, reader).text.startswith("Front window")
