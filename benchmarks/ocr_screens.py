"""Real screens for bench_ocr.py: Xvfb at 1920x1080 with the Openbox window manager and real programs, read by
SpaceVoice window by window and by the plain ``tesseract`` command on the whole screenshot, side by side.

Columns: median wall seconds; CPU seconds (this process and its tesseract children: what the work costs, whatever
the machine's load); "front CER", the character error rate of the front window's text (or, for a page,
its content) in each reading, taken as the best-matching stretch of the reading so that text read before or
after it (other windows, browser chrome) is not counted against it; "first", whether that stretch starts the
reading (within its first tenth): what a listener hears first. Table cells are compared without the "Row N:"
labels and commas our reading adds.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.frames import Frame

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT.parent / "shared" / "testdata" / "faces" / "multiface.jpg"
MESSAGE = "The backup finished at 10:42 with 3 warnings."
QUESTION = "Leave this page? Changes you made may not be saved."


@dataclass
class Screen:
    """A screen to read: its name, the frame, the expected front text, and whether it is a table."""

    name: str
    frame: Frame
    expected: str
    table: bool = False


def semiglobal_cer(expected: str, got: str) -> tuple[float, int]:
    """The error rate of ``expected`` against its best-matching stretch of ``got`` (white space made single
    spaces), and where that stretch ends in ``got``."""
    a, b = " ".join(expected.split()), " ".join(got.split())
    previous = [0] * (len(b) + 1)  # free start anywhere in ``got``
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    end = min(range(len(previous)), key=previous.__getitem__)
    return previous[end] / max(1, len(a)), end


def _untable(text: str) -> str:
    return re.sub(r"(?m)^(Columns|Row \d+): ", "", text).replace(",", "")


def make_screens(folder: Path) -> list[Screen]:
    """Put each scene on a fresh desktop and capture it with SpaceVoice's own capture."""
    from tests.engine.text.desktop import chromium_window, set_wallpaper, window_manager_desktop
    from tests.engine.text.screens import grab_screen, running, settle, wait_for_window
    from tests.engine.text.test_window_screens import (
        PARAGRAPH,
        TABLE_PAGE,
        TABLE_ROWS,
        _listing_folder,
        xterm,
        zenity,
    )

    screens: list[Screen] = []
    with window_manager_desktop():
        env = {**os.environ, "HOME": str(folder)}  # DISPLAY is the new desktop's only from here
        if PHOTO.is_file():
            set_wallpaper(PHOTO)
        note = folder / "note.txt"
        note.write_text("Shopping list: bread, milk, apples.\n", encoding="utf-8")
        with running(xterm("notes", f"cat '{note}'", ("white", "black"), "60x10+40+40")), \
                running(zenity("info", "Backup done", MESSAGE)):
            wait_for_window("Backup done")
            settle(1.0)
            screens.append(Screen("dialog on photo", grab_screen(), f"{MESSAGE} OK"))
        listing_dir = _listing_folder(folder)
        listing = subprocess.run(["ls", "-la", "--time-style=+%b %d %H:%M", "--", str(listing_dir)],
                                 capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"}).stdout
        error = "error: could not open config.yaml"
        command = (f"LC_ALL=C ls -la --time-style='+%b %d %H:%M' -- '{listing_dir}'; "
                   f"printf '\\033[31m{error}\\033[0m\\n'")
        with running(xterm("listing", command, ("#1e1e1e", "#d4d4d4"), "100x14+60+60")):
            wait_for_window("listing")
            settle(1.0)
            screens.append(Screen("ls -la, dark", grab_screen(), listing + error))
        man_env = {**os.environ, "MANWIDTH": "90", "LC_ALL": "C"}
        page = subprocess.run(["man", "ls"], capture_output=True, text=True, env=man_env).stdout
        with running(xterm("manual", "MANWIDTH=90 LC_ALL=C man ls | head -30", ("white", "black"), "92x32+10+10"),
                     env=man_env):
            wait_for_window("manual")
            settle(1.0)
            screens.append(Screen("man page, light", grab_screen(), "\n".join(page.splitlines()[:30])))
        html = folder / "table.html"
        rows = "".join(f"<tr><td>{a}</td><td>{b}</td><td>{c}</td></tr>" for a, b, c in TABLE_ROWS)
        html.write_text(TABLE_PAGE.replace("{rows}", rows), encoding="utf-8")
        with running(chromium_window(html.as_uri(), folder / "p1", (0, 0, 1400, 900)), env=env):
            wait_for_window("Format codes", timeout=60)
            settle(2.0)
            expected = "\n".join(["Directive Meaning Example", *(" ".join(row) for row in TABLE_ROWS)])
            screens.append(Screen("HTML table", grab_screen(), expected.replace(",", ""), table=True))
            with running(zenity("question", "Leave page", QUESTION)):
                wait_for_window("Leave page")
                settle(1.0)
                screens.append(Screen("dialog over browser", grab_screen(), f"{QUESTION} No Yes"))
        html = folder / "news.html"
        html.write_text("<!doctype html><html><head><meta charset='utf-8'><title>Ferry news</title></head><body "
                        "style=\"font-family: 'DejaVu Sans', sans-serif; font-size: 18px; margin: 40px; width: "
                        f"620px\"><h1>Ferry news</h1><p>{PARAGRAPH}</p></body></html>", encoding="utf-8")
        with running(chromium_window(html.as_uri(), folder / "p2", (0, 0, 1000, 700)), env=env):
            wait_for_window("Ferry news", timeout=60)
            settle(2.0)
            screens.append(Screen("wrapped paragraph", grab_screen(), f"Ferry news {PARAGRAPH}"))
    return screens


def _tesseract_command(frame: Frame, folder: Path) -> str:
    from PIL import Image

    from engine.text.tesseract import find_tesseract

    shot = folder / "shot.png"
    Image.fromarray(frame.image).save(shot)
    env = {key: value for key, value in os.environ.items() if key != "OMP_THREAD_LIMIT"}
    return subprocess.run([find_tesseract() or "tesseract", str(shot), "-", "--psm", "3"], capture_output=True,
                          text=True, env=env, check=True).stdout


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the tesseract runs): on a quiet machine, about the
    wall time of work that runs on one core at a time, whatever the load here."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(runs: int = 3) -> list[tuple[str, str, float, float, float, bool]]:
    """(screen, engine, median seconds, median CPU seconds, front CER, front first) per screen and engine."""
    from engine.text import TextReader, read_text
    from engine.text.onnx_ocr import OnnxOcrBackend
    from engine.text.second_opinion import SecondOpinion
    from engine.text.tesseract import TesseractBackend

    folder = Path(tempfile.mkdtemp(prefix="bench-screens-"))
    screens = make_screens(folder)
    engines: list[tuple[str, Callable[[Frame], str]]] = [
        ("tesseract command", lambda frame: _tesseract_command(frame, folder)),
        ("ours, tesseract only", lambda frame: read_text(frame, TextReader(TesseractBackend())).text),
    ]
    ppocr = ROOT / ".cache" / "ppocr-v4"
    if (ppocr / "ch_PP-OCRv4_rec_infer.onnx").is_file():
        checked = TextReader(TesseractBackend(), SecondOpinion(OnnxOcrBackend(ppocr, device="cpu", threads=1)))
        engines.append(("ours + PP-OCR words", lambda frame: read_text(frame, checked).text))
    rows: list[tuple[str, str, float, float, float, bool]] = []
    for screen in screens:
        times: dict[str, list[float]] = {name: [] for name, _ in engines}
        cpu: dict[str, list[float]] = {name: [] for name, _ in engines}
        texts: dict[str, str] = {name: work(screen.frame) for name, work in engines}  # warm-up
        for _ in range(runs):
            for name, work in engines:
                start, start_cpu = time.perf_counter(), _cpu_seconds()
                texts[name] = work(screen.frame)
                times[name].append(time.perf_counter() - start)
                cpu[name].append(_cpu_seconds() - start_cpu)
        for name, _ in engines:
            text = _untable(texts[name]) if screen.table else texts[name]
            cer, end = semiglobal_cer(screen.expected, text)
            start_at = max(0, end - len(" ".join(screen.expected.split())))
            first = start_at <= 0.1 * len(" ".join(text.split())) + 40
            rows.append((screen.name, name, statistics.median(times[name]), statistics.median(cpu[name]), cer, first))
        print(f"  measured {screen.name}", flush=True)
    return rows


def print_table(rows: list[tuple[str, str, float, float, float, bool]]) -> None:
    """The side-by-side table, with each engine's time over the tesseract command's on the same screen."""
    reference = {screen: seconds for screen, name, seconds, *_ in rows if name == "tesseract command"}
    print("\nReal screens at 1920x1080 (Xvfb + Openbox); ratio = time / tesseract command on the same screen")
    print(f"{'screen':<22}{'engine':<23}{'seconds':>9}{'cpu s':>7}{'ratio':>7}{'front CER':>11}{'first':>7}")
    for screen, name, seconds, cpu, cer, first in rows:
        print(f"{screen:<22}{name:<23}{seconds:>9.3f}{cpu:>7.2f}{seconds / reference[screen]:>7.2f}{cer:>11.1%}"
              f"{'yes' if first else 'no':>7}")
