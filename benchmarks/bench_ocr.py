"""Benchmark: SpaceVoice's text reader against the plain ``tesseract`` command on the same screenshots.

    .venv/bin/python benchmarks/bench_ocr.py [--runs 3] [--no-onnx] [--keep DIR] [--no-screens | --screens-only]

Then, unless ``--no-screens``, the real screens of benchmarks/ocr_screens.py (a dialog over a photo wallpaper,
``ls -la`` and a man page in xterm, an HTML table and a wrapped paragraph in Chromium, a dialog over the browser;
Xvfb at 1920x1080 with Openbox) read by us window by window and by the ``tesseract`` command on the whole
screenshot: time, the front window's character error rate, and whether it is read first.

Renders a realistic screen (a documentation page with a sidebar, headings, paragraphs, a code block and a
two-column section) in headless Chromium at 1280x800 and 1920x1080, then times, on each picture:

- ``tesseract`` (reference): the command as a user would run it, ``tesseract shot.png - --psm 3``, its own
  OpenMP threads;
- ``tesseract 1 thread``: the same with ``OMP_THREAD_LIMIT=1``;
- ``ours, 1 strip`` / ``ours, 2 strips``: SpaceVoice's Tesseract reader (plus reading order and filtering)
  reading the picture in one piece, or cut at empty rows into two strips read by two single-threaded Tesseracts
  side by side;
- ``ours (as shipped)``: as many strips as there are idle cores (load average), at most two;
- ``ours, onnx``: the PP-OCRv4 ONNX reader on the CPU (when .cache/ppocr-v4 holds the models).

Each is run ``--runs`` times after one warm-up, interleaved round by round; printed are the median wall time,
the CPU seconds used (all processes: on an idle machine two strips need about half their CPU seconds of wall
time), the ratio to the reference measured in the same run, and "words", the share of the page's words found (a
quick accuracy check that a speed-up did not lose text). Run it on a quiet machine; the load average is printed
with the table.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from engine import privacy as _privacy  # noqa: E402, F401 - first: onnxruntime's telemetry off before it loads

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body { margin: 0; font-family: 'DejaVu Sans', sans-serif; font-size: 15px; color: #1f2328; }
nav { position: fixed; top: 0; left: 0; bottom: 0; width: 230px; background: #f6f8fa; padding: 24px 16px; }
nav a { display: block; margin: 7px 0; color: #0969da; text-decoration: none; }
main { margin-left: 280px; padding: 24px 40px; max-width: 1400px; }
h1 { font-size: 30px; } h2 { font-size: 21px; margin-top: 26px; }
pre { background: #f6f8fa; padding: 12px; font-size: 14px; }
.cols { display: flex; gap: 56px; } .cols div { flex: 1; }
</style></head><body>
<nav>{nav}</nav>
<main><h1>Getting started with the harbour ferry booking service</h1>{body}</main>
</body></html>"""
NAV = ["Overview", "Install", "Quick start", "Timetables", "Tickets and fares", "Accessibility", "Payments",
       "Refunds", "Group travel", "Bicycles and pets", "Lost property", "Contact us", "Release notes"]
PARAGRAPHS = [
    "The booking service lets you reserve a seat on any ferry that leaves the harbour, check the timetable and "
    "change a ticket up to one hour before departure. Seats are held for ten minutes while you pay.",
    "Boats leave every forty minutes from six in the morning until late evening. On public holidays the first "
    "boat leaves at eight, and the last boat returns at half past ten in the evening.",
    "Step-free access is available at both piers. Ask the crew for the ramp, or book assistance in advance from "
    "the Accessibility page; guide dogs travel free of charge on every route.",
    "If a crossing is cancelled because of the weather, your ticket is refunded in full within five working "
    "days. You can also move it to the next boat without paying any difference.",
]
CODE = "$ ferry book --from harbour --to island --date 2026-03-14 --seats 2\nBooking 48213 confirmed: 2 seats, 09:40"


def page_html() -> tuple[str, str]:
    """The benchmark page, and its words (for the accuracy column)."""
    body = ""
    for index, paragraph in enumerate(PARAGRAPHS):
        body += f"<h2>Section {index + 1}: {paragraph.split()[1].capitalize()} details</h2><p>{paragraph}</p>"
        if index == 1:
            body += f"<pre>{CODE}</pre>"
            body += f"<div class='cols'><div><p>{PARAGRAPHS[2]}</p></div><div><p>{PARAGRAPHS[3]}</p></div></div>"
    words = " ".join([*NAV, *PARAGRAPHS, CODE])
    return PAGE.replace("{nav}", "".join(f"<a>{item}</a>" for item in NAV)).replace("{body}", body), words


def render(folder: Path, size: tuple[int, int]) -> Path:
    """A screenshot of the page in headless Chromium at ``size``."""
    from tests.engine.text.screens import chromium_command, chromium_screenshot

    if chromium_command() is None:
        raise SystemExit("Chromium is needed to render the benchmark screens (scripts/bootstrap.sh installs it).")
    html, _ = page_html()
    page = folder / "page.html"
    page.write_text(html, encoding="utf-8")
    out = folder / f"screen-{size[0]}x{size[1]}.png"
    chromium_screenshot(page, out, size)
    return out


def word_set(text: str) -> set[str]:
    """The distinct words of 3+ letters, lower case."""
    return set(re.findall(r"[a-z]{3,}", text.lower()))


def time_interleaved(engines: list[tuple[str, Callable[[], str]]],
                     runs: int) -> list[tuple[str, float, float, str]]:
    """Median wall and CPU seconds of each engine over ``runs`` rounds after one warm-up round, and its output.

    Each round runs every engine once, in turn, so a change in machine load (others share it) hits all of them
    alike instead of skewing the ratios.
    """
    outputs = {name: work() for name, work in engines}
    times: dict[str, list[float]] = {name: [] for name, _ in engines}
    cpu: dict[str, list[float]] = {name: [] for name, _ in engines}
    for _ in range(runs):
        for name, work in engines:
            start, start_cpu = time.perf_counter(), _cpu_seconds()
            outputs[name] = work()
            times[name].append(time.perf_counter() - start)
            cpu[name].append(_cpu_seconds() - start_cpu)
    return [(name, statistics.median(times[name]), statistics.median(cpu[name]), outputs[name])
            for name, _ in engines]


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and of the finished child processes (the tesseract runs)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX reader")
    parser.add_argument("--keep", type=Path, help="keep the screenshots in this folder")
    parser.add_argument("--no-screens", action="store_true", help="skip the real window-by-window screens")
    parser.add_argument("--screens-only", action="store_true", help="only the real window-by-window screens")
    args = parser.parse_args()
    if args.screens_only:
        return _screens(args.runs)

    from engine.capture import load_image
    from engine.text import TextReader
    from engine.text.onnx_ocr import OnnxOcrBackend
    from engine.text.tesseract import TesseractBackend, find_tesseract

    command = find_tesseract()
    if command is None:
        raise SystemExit("tesseract is not installed")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-ocr-"))
    folder.mkdir(parents=True, exist_ok=True)
    _, page_words = page_html()
    onnx_folder = ROOT / ".cache" / "ppocr-v4"
    rows: list[tuple[str, str, float, float, float, float]] = []
    for size in ((1280, 800), (1920, 1080)):
        shot = render(folder, size)
        frame = load_image(shot)
        label = f"{size[0]}x{size[1]}"

        def tesseract_cli(threads: str | None, path: Path = shot) -> str:
            env = {**os.environ}
            env.pop("OMP_THREAD_LIMIT", None)
            if threads:
                env["OMP_THREAD_LIMIT"] = threads
            result = subprocess.run([command, str(path), "-", "--psm", "3"], capture_output=True, text=True,
                                    env=env, check=True)
            return result.stdout

        engines: list[tuple[str, Callable[[], str]]] = [
            ("tesseract (reference)", functools.partial(tesseract_cli, None)),
            ("tesseract 1 thread", functools.partial(tesseract_cli, "1")),
        ]
        engines.append(("ours, 1 strip", functools.partial(_read, TextReader(TesseractBackend(workers=1)), frame)))
        engines.append(("ours, 2 strips", functools.partial(_read, TextReader(TesseractBackend(workers=2)), frame)))
        engines.append(("ours (as shipped)", functools.partial(_read, TextReader(TesseractBackend()), frame)))
        if not args.no_onnx and (onnx_folder / "ch_PP-OCRv4_rec_infer.onnx").is_file():
            onnx = TextReader(OnnxOcrBackend(onnx_folder, device="cpu"))
            engines.append(("ours, onnx (cpu)", functools.partial(_read, onnx, frame)))
        measured = time_interleaved(engines, args.runs)
        reference = measured[0][1]
        print(f"  measured {label}", file=sys.stderr, flush=True)
        # The page's words that are on this screen: those any engine found (a small screen cuts the page off).
        visible = word_set(page_words) & set().union(*(word_set(text) for *_, text in measured))
        for name, seconds, cpu, text in measured:
            found = len(visible & word_set(text)) / max(1, len(visible))
            rows.append((label, name, seconds, cpu, seconds / reference, found))

    load = os.getloadavg()
    print(f"\nOCR time per screen (median of {args.runs}; ratio = time / tesseract command on the same picture)")
    print(f"{'screen':<11}{'engine':<20}{'seconds':>9}{'cpu s':>8}{'ratio':>8}{'words':>8}")
    for label, name, seconds, cpu, ratio, found in rows:
        print(f"{label:<11}{name:<20}{seconds:>9.3f}{cpu:>8.2f}{ratio:>8.2f}{found:>8.0%}")
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0 if args.no_screens else _screens(args.runs)


def _screens(runs: int) -> int:
    """The real screens (benchmarks/ocr_screens.py): ours window by window vs the tesseract command."""
    import ocr_screens

    ocr_screens.print_table(ocr_screens.run(runs))
    load = os.getloadavg()
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


def _read(reader: object, frame: object) -> str:
    from engine.text import read_text

    return read_text(frame, reader).text  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
