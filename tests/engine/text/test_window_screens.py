"""Screens read window by window on a real desktop: Xvfb at 1920x1080, the Openbox window manager, a photo
wallpaper (feh), real programs (zenity, xterm, Chromium). Each test checks the front window's character error
rate (at most 3%) and that the front window is read first; the desktop picture never adds words."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.frames import Frame, window_at
from engine.text import TextReader, load_text_stage, read_text
from engine.text.by_window import group_by_window
from tests.engine.text.desktop import (
    accessibility_bus,
    chromium_window,
    missing_programs,
    set_wallpaper,
    window_manager_desktop,
)
from tests.engine.text.screens import character_error_rate, grab_screen, running, settle, wait_for_window

pytestmark = pytest.mark.gui

MAX_CER = 0.03


@pytest.fixture(scope="module")
def desktop() -> Iterator[str]:
    """A display of its own with Openbox; skipped where the programs are missing, except under CI."""
    lacking = missing_programs("Xvfb", "openbox", "feh", "zenity", "xterm", "xprop", "xdotool")
    if lacking:
        if os.environ.get("CI"):
            pytest.fail(f"missing {', '.join(lacking)}: scripts/bootstrap.sh installs them")
        pytest.skip(f"missing {', '.join(lacking)}")
    with window_manager_desktop() as display:
        yield display


@pytest.fixture(scope="module")
def reader() -> TextReader:
    """The text stage as shipped: Tesseract, with the PP-OCR recogniser's second opinion on doubtful words
    where scripts/bootstrap.sh put its models (.cache/ppocr-v4)."""
    from engine.text.onnx_ocr import OnnxOcrBackend
    from engine.text.second_opinion import SecondOpinion
    from engine.text.tesseract import TesseractBackend
    from tests.conftest import ROOT

    folder = ROOT / ".cache" / "ppocr-v4"
    if not (folder / "ch_PP-OCRv4_rec_infer.onnx").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{folder} is missing; scripts/bootstrap.sh extracts the PP-OCRv4 models there")
        return load_text_stage()
    return TextReader(TesseractBackend(), SecondOpinion(OnnxOcrBackend(folder, device="cpu", threads=1)))


@pytest.fixture
def photo(faces_dir: Path) -> Path:
    """A group photo (five faces) for the desktop picture."""
    return faces_dir / "multiface.jpg"


def front_text(frame: Frame, reader: TextReader) -> tuple[str, str]:
    """(the whole reading, the front window's own lines)."""
    result = read_text(frame, reader)
    assert frame.windows, "the window manager gave no window list"
    front = group_by_window(result.lines, frame.windows)[0]
    return result.text, "\n".join(line.text for line in front.lines)


def zenity(kind: str, title: str, text: str, *extra: str) -> list[str]:
    """A real GTK dialog."""
    return ["zenity", f"--{kind}", "--title", title, "--text", text, "--no-markup", *extra]


def xterm(title: str, command: str, theme: tuple[str, str], geometry: str) -> list[str]:
    """A real xterm running ``command`` (then waiting), in a known font and colours."""
    return ["xterm", "-T", title, "-u8", "-geometry", geometry, "-fa", "DejaVu Sans Mono", "-fs", "11",
            "-bg", theme[0], "-fg", theme[1], "-e", "sh", "-c", f"{command}; sleep 600"]


def test_dialog_over_a_photo_wallpaper_front_window_first_faces_in_the_desktop_picture(
        desktop: str, reader: TextReader, photo: Path, tmp_path: Path) -> None:
    set_wallpaper(photo)
    note = tmp_path / "note.txt"
    note.write_text("Shopping list: bread, milk, apples.\n", encoding="utf-8")
    message = "The backup finished at 10:42 with 3 warnings."
    behind = xterm("notes-terminal", f"cat '{note}'", ("white", "black"), "60x10+40+40")
    with running(behind), running(zenity("info", "Backup done", message)):
        wait_for_window("notes-terminal")
        wait_for_window("Backup done")
        settle(1.0)
        frame = grab_screen()
    assert frame.windows is not None and frame.windows[0].title == "Backup done"
    assert [w.title for w in frame.windows] == ["Backup done", "notes-terminal"]
    text, front = front_text(frame, reader)
    assert character_error_rate(f"{message}\nOK", front) <= MAX_CER, front
    assert text.startswith("Front window: Backup done.\n"), text
    assert text.index("backup finished") < text.index("Window: notes-terminal") < text.index("Shopping list"), text
    # Nothing was read from the photo: the only lines are the two windows' own.
    assert character_error_rate(f"Front window: Backup done. {message} OK Window: notes-terminal. "
                                "Shopping list: bread, milk, apples.", text) <= MAX_CER, text

    from engine.describe import Stages, describe_frame
    from engine.faces import load_face_stage

    faces = load_face_stage()
    said = describe_frame(frame, Stages(text=reader, faces=faces)).spoken
    assert said.startswith(f"Front window: Backup done. {message} OK."), said
    assert "Other windows: notes-terminal: Shopping list" in said, said
    assert "In the desktop picture:" in said and "people I don't know" in said, said
    # The faces of the wallpaper are not said as people near the user.
    assert "is on the" not in said and "are on the" not in said, said
    people = describe_frame(frame, Stages(faces=faces)).people
    assert len(people) >= 3 and all(window_at(frame.windows, p.box[0], p.box[1]) is None for p in people[:1])


LS_FOLDER = {"README.md": 812, "notes.txt": 96, "report-2026.pdf": 48213}


def _listing_folder(base: Path) -> Path:
    folder = base / "project"
    (folder / "docs").mkdir(parents=True)
    for name, size in LS_FOLDER.items():
        (folder / name).write_bytes(b"x" * size)
    for path in [folder, *folder.iterdir()]:
        os.utime(path, (1773480000, 1773480000))  # fixed times: the listing is the same on every run
    return folder


@pytest.mark.parametrize("theme", [("white", "black"), ("#1e1e1e", "#d4d4d4")], ids=["light", "dark"])
def test_ls_la_in_xterm_is_read_line_by_line_with_a_red_error_line(desktop: str, reader: TextReader,
                                                                   tmp_path: Path, theme: tuple[str, str]) -> None:
    folder = _listing_folder(tmp_path)
    listing = subprocess.run(["ls", "-la", "--time-style=+%b %d %H:%M", "--", str(folder)], capture_output=True,
                             text=True, env={**os.environ, "LC_ALL": "C"}, check=True).stdout
    error = "error: could not open config.yaml"
    command = (f"LC_ALL=C ls -la --time-style='+%b %d %H:%M' -- '{folder}'; "
               f"printf '\\033[31m{error}\\033[0m\\n'")
    with running(xterm("listing", command, theme, "100x14+60+60")):
        wait_for_window("listing")
        settle(1.0)
        frame = grab_screen()
    _, front = front_text(frame, reader)
    expected = [line for line in (listing + error).splitlines() if line.strip()]
    got = front.splitlines()
    assert character_error_rate("\n".join(expected), front) <= MAX_CER, front
    # Row by row, never column by column: each line of the listing is one line read, in order.
    assert len(got) == len(expected), front
    for wanted, line in zip(expected, got, strict=True):
        assert character_error_rate(wanted, line) <= 0.1, (wanted, line)
    assert got[-1].startswith("error:"), front


def test_man_page_in_a_dark_xterm_is_read_line_by_line(desktop: str, reader: TextReader) -> None:
    if subprocess.run(["man", "-w", "ls"], capture_output=True).returncode != 0:
        pytest.skip("the ls manual page is not installed")
    env = {**os.environ, "MANWIDTH": "90", "LC_ALL": "C", "MAN_KEEP_FORMATTING": ""}
    page = subprocess.run(["man", "ls"], capture_output=True, text=True, env=env, check=True).stdout
    shown = [line for line in page.splitlines()[:30] if line.strip()]
    command = "MANWIDTH=90 LC_ALL=C man ls | head -30"
    with running(xterm("manual", command, ("#1e1e1e", "#d4d4d4"), "92x32+10+10"), env=env):
        wait_for_window("manual")
        settle(1.0)
        frame = grab_screen()
    _, front = front_text(frame, reader)
    assert character_error_rate("\n".join(shown), front) <= MAX_CER, front
    got = front.splitlines()
    assert got[0].split() == shown[0].split(), front
    assert front.index("NAME") < front.index("SYNOPSIS") < front.index("DESCRIPTION"), front


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Ferry timetable</title><style>
body { font-family: 'DejaVu Sans', sans-serif; font-size: 18px; margin: 40px; }
</style></head><body><h1>Harbour ferry timetable</h1>
<p>Boats leave every forty minutes from six in the morning until late evening.</p></body></html>"""


def test_a_dialog_in_front_of_a_browser_is_read_first(desktop: str, reader: TextReader, tmp_path: Path) -> None:
    if missing_programs("chromium"):
        pytest.skip("Chromium is not installed (scripts/bootstrap.sh installs it)")
    page = tmp_path / "page.html"
    page.write_text(PAGE, encoding="utf-8")
    question = "Leave this page? Changes you made may not be saved."
    env = {**os.environ, "HOME": str(tmp_path)}
    browser = chromium_window(page.as_uri(), tmp_path / "profile", (0, 0, 1400, 900))
    with running(browser, env=env):
        wait_for_window("Ferry timetable", timeout=60)
        settle(2.0)
        with running(zenity("question", "Leave page", question)):
            wait_for_window("Leave page")
            settle(1.0)
            frame = grab_screen()
    assert frame.windows is not None and frame.windows[0].title == "Leave page"
    text, front = front_text(frame, reader)
    assert character_error_rate(f"{question}\nNo Yes", front) <= MAX_CER, front
    # The dialog first; the page after it, under the browser window's title.
    assert text.index("Leave this page") < text.index("Window: Ferry timetable") < text.index("Harbour ferry")
    assert "Boats leave every forty minutes" in " ".join(text.split()), text


def test_a_file_name_typed_into_a_gtk_save_dialog_is_read_exactly_and_its_focus_said_from_at_spi(
        desktop: str, reader: TextReader, tmp_path: Path) -> None:
    if missing_programs("dbus-daemon") or not Path("/usr/libexec/at-spi-bus-launcher").exists():
        if os.environ.get("CI"):
            pytest.fail("dbus or at-spi2-core is missing: scripts/bootstrap.sh installs them")
        pytest.skip("dbus or at-spi2-core is missing")
    dialog = ["zenity", "--file-selection", "--save", "--title", "Save report", f"--filename={tmp_path}/"]
    with accessibility_bus(), running(dialog, env={**os.environ, "HOME": str(tmp_path)}):
        window = wait_for_window("Save report")
        settle(1.0)
        subprocess.run(["xdotool", "windowactivate", "--sync", window], check=False, timeout=10)
        subprocess.run(["xdotool", "type", "--delay", "30", "report.txt"], check=True, timeout=30)
        settle(0.6)
        frame = grab_screen()
    assert frame.windows is not None and frame.windows[0].title == "Save report"
    _, front = front_text(frame, reader)
    words = front.split()
    assert "report.txt" in words, front
    assert front.splitlines()[0] == "Name: report.txt", front
    assert "Cancel" in words, front
    # The focused field, from the real accessibility tree (AT-SPI), is said first: its label, role and value.
    # The tree's buttons follow the focus (`engine.accessibility`), then OCR's reading, front window first.
    assert frame.focus is not None and frame.focus.startswith("Focus: Name, text field, report.txt. Buttons: ")
    assert "Cancel" in frame.focus.split("Buttons: ", 1)[1], frame.focus
    said = read_text(frame, reader).text.splitlines()
    assert said[0] == frame.focus and said[1].startswith("Front window: Save"), said[:2]


TABLE_ROWS = [
    ("%a", "Weekday as an abbreviated name.", "Sun, Mon, Sat"),
    ("%w", "Weekday as a decimal number.", "0, 1, 6"),
    ("%d", "Day of the month as a zero-padded number.", "01, 02, 31"),
    ("%b", "Month as an abbreviated name.", "Jan, Feb, Dec"),
    ("%Y", "Year with century as a decimal number.", "1999, 2026"),
]
TABLE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Format codes</title><style>
body { font-family: 'DejaVu Sans', sans-serif; font-size: 17px; margin: 40px; }
th { text-align: left; } th, td { padding: 6px 64px 6px 0; }
</style></head><body><table><tr><th>Directive</th><th>Meaning</th><th>Example</th></tr>{rows}</table>
</body></html>"""


def _browser_frame(tmp_path: Path, html: str, title: str, size: tuple[int, int] = (1400, 900)) -> Frame:
    page = tmp_path / "page.html"
    page.write_text(html, encoding="utf-8")
    env = {**os.environ, "HOME": str(tmp_path)}
    with running(chromium_window(page.as_uri(), tmp_path / "profile", (0, 0, *size)), env=env):
        wait_for_window(title, timeout=60)
        settle(2.0)
        return grab_screen()


def test_an_html_table_in_chromium_is_read_row_by_row_with_its_header(desktop: str, reader: TextReader,
                                                                     tmp_path: Path) -> None:
    if missing_programs("chromium"):
        pytest.skip("Chromium is not installed (scripts/bootstrap.sh installs it)")
    rows = "".join(f"<tr><td>{a}</td><td>{b}</td><td>{c}</td></tr>" for a, b, c in TABLE_ROWS)
    frame = _browser_frame(tmp_path, TABLE_PAGE.replace("{rows}", rows), "Format codes")
    text, front = front_text(frame, reader)
    # What is printed and spoken says each row on its own line (never run together as a paragraph).
    assert all(f"\nRow {n}: " in text for n in range(1, 6)) and "\nColumns: " in text, text
    said = [line for line in front.splitlines() if line.startswith(("Columns:", "Row "))]
    expected = ["Columns: Directive, Meaning, Example",
                *(f"Row {n}: {a}, {b}, {c}" for n, (a, b, c) in enumerate(TABLE_ROWS, 1))]
    assert character_error_rate("\n".join(expected), "\n".join(said)) <= MAX_CER, front
    # Every row in order, each cell with its own row: never column by column.
    assert [line.split(":")[0] for line in said] == [line.split(":")[0] for line in expected], front
    assert "Day of the month" in said[3] and "01, 02, 31" in said[3], front


PARAGRAPH = ("The harbour ferry now runs every forty minutes from six in the morning until late evening, and on "
             "public holidays the first boat leaves at eight. Step-free access is available at both piers, so ask "
             "the crew for the ramp or book assistance in advance. If a crossing is cancelled because of the "
             "weather, your ticket is refunded in full within five working days.")


def test_a_wrapped_paragraph_is_read_as_whole_sentences(desktop: str, reader: TextReader, tmp_path: Path) -> None:
    if missing_programs("chromium"):
        pytest.skip("Chromium is not installed (scripts/bootstrap.sh installs it)")
    html = ("<!doctype html><html><head><meta charset='utf-8'><title>Ferry news</title></head>"
            "<body style=\"font-family: 'DejaVu Sans', sans-serif; font-size: 18px; margin: 40px; width: 620px\">"
            f"<h1>Ferry news</h1><p>{PARAGRAPH}</p><p>Printed by the harbour council.</p></body></html>")
    frame = _browser_frame(tmp_path, html, "Ferry news", (1000, 700))
    text, front = front_text(frame, reader)
    page = front[front.rindex("Ferry news"):]  # the page, below the browser's tabs, address bar and warning
    assert character_error_rate(f"Ferry news\n{PARAGRAPH}\nPrinted by the harbour council.", page) <= MAX_CER, page
    # The paragraph wrapped over several screen lines is one line of the reading: its sentences are whole.
    paragraph = next(line for line in text.splitlines() if line.startswith("The harbour ferry"))
    assert character_error_rate(PARAGRAPH, paragraph) <= MAX_CER, text
    # It was drawn wrapped over several lines (the front window's lines, as drawn, before joining).
    assert page.count("\n") >= 5, page


def test_read_continue_goes_on_where_describe_stopped(desktop: str, tmp_path: Path) -> None:
    from tests.conftest import run_main

    notes = tmp_path / "minutes.txt"
    items = [f"Item {n}: the {word} report is due on day {n + 10}." for n, word in
             enumerate(["budget", "safety", "travel", "staff", "energy", "garden", "parking", "library", "canteen",
                        "archive", "website", "printing"], 1)]
    notes.write_text("\n".join(items) + "\n", encoding="utf-8")
    with running(xterm("minutes", f"cat '{notes}'", ("white", "black"), "70x16+30+30")):
        wait_for_window("minutes")
        settle(1.0)
        described = run_main("describe", "--screen", "--no-speech")
    assert described.returncode == 0, described.stderr
    assert described.stdout.startswith("Front window: minutes. Item 1:"), described.stdout
    assert "Item 5:" in described.stdout and "Item 6:" not in described.stdout, described.stdout
    assert "... and 7 more lines." in described.stdout, described.stdout
    first = run_main("read", "--continue", "--no-speech").stdout
    assert first.startswith("Item 6:") and "Item 10:" in first and "... and 2 more." in first, first
    assert character_error_rate("\n".join(items[5:10]), first.rsplit("\n", 2)[0]) <= MAX_CER, first
    second = run_main("read", "--continue", "--no-speech").stdout
    assert second.startswith("Item 11:") and second.strip().endswith("That is all the text."), second
    assert run_main("read", "--continue", "--no-speech").stdout.strip() == "That is all the text."
