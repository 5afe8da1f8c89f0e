"""The Tesseract backend: the ``tesseract`` program (Debian's ``tesseract-ocr``, or UB Mannheim's Windows build).

The program is found at ``TESSERACT_CMD`` (an environment variable, for a Tesseract installed somewhere unusual),
else on ``PATH``, else at the places the Windows installers put it. Pictures go to it through a pipe as PGM,
never through a temporary file, so a screenshot never touches the disk.

Speed on a screen (the 1 s budget for 1080p on two cores, see benchmarks/bench_ocr.py): a tall picture is cut
at empty rows into as many strips as there are idle cores (at most `MAX_WORKERS`), and one single-threaded
``tesseract`` runs per strip at the same time. OpenMP threads inside one Tesseract help far less than that and
fight each other, so every run gets ``OMP_THREAD_LIMIT=1``.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from engine.errors import DeviceError, InputError
from engine.text.layout import Word

log = logging.getLogger(__name__)

# Page segmentation 3 (automatic, with layout analysis) finds scattered screen text best for its cost; 11
# (sparse) reads the same words but loses the line structure.
PSM = 3
# A terminal is one column of lines: mode 4 keeps each row whole (mode 3 cuts ``ls -la`` into columns; mode 6,
# one uniform block, lost a red "error:" at the start of a line in a dark terminal).
PSM_LINES = 4
PSM_SINGLE_LINE = 7
MAX_WORKERS = 2
# A strip shorter than this is not worth its own process (start-up and layout analysis cost ~50 ms each).
MIN_STRIP_HEIGHT = 240
RUN_TIMEOUT_S = 60.0
# Script detection (``--psm 0``) skips screen-sized letters as "too few characters"; twice the size works.
OSD_ZOOM = 2.0
OSD_MAX_SIDE = 3000

_WINDOWS_PLACES = (
    r"%ProgramFiles%\Tesseract-OCR\tesseract.exe",
    r"%ProgramFiles(x86)%\Tesseract-OCR\tesseract.exe",
    r"%LOCALAPPDATA%\Programs\Tesseract-OCR\tesseract.exe",
)

INSTALL_HINT_LINUX = "Install Tesseract: sudo apt install tesseract-ocr tesseract-ocr-eng"
INSTALL_HINT_WINDOWS = (
    "Install Tesseract for Windows (the UB Mannheim installer, github.com/UB-Mannheim/tesseract/wiki), "
    "or set TESSERACT_CMD to the full path of tesseract.exe."
)
INSTALL_HINT_MAC = "Install Tesseract: brew install tesseract"


def install_hint() -> str:
    """How to install Tesseract on this system."""
    if sys.platform == "win32":
        return INSTALL_HINT_WINDOWS
    if sys.platform == "darwin":
        return INSTALL_HINT_MAC
    return INSTALL_HINT_LINUX


def find_tesseract() -> str | None:
    """The tesseract program to run: ``TESSERACT_CMD``, else ``PATH``, else the Windows installers' places."""
    configured = os.environ.get("TESSERACT_CMD")
    if configured:
        return configured if Path(configured).is_file() or shutil.which(configured) else None
    found = shutil.which("tesseract")
    if found:
        return found
    if sys.platform == "win32":
        for place in _WINDOWS_PLACES:
            candidate = Path(os.path.expandvars(place))
            if candidate.is_file():
                return str(candidate)
    return None


@functools.lru_cache(maxsize=4)
def installed_languages(command: str) -> tuple[str, ...]:
    """The language packs Tesseract has (``eng``, ``rus``, ``osd`` ...)."""
    try:
        result = subprocess.run([command, "--list-langs"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    lines = (result.stdout or result.stderr).splitlines()
    return tuple(line.strip() for line in lines[1:] if line.strip())


def to_pgm(gray: np.ndarray) -> bytes:
    """Encode a 2-D uint8 array as binary PGM (fast: no compression, no temporary file)."""
    height, width = gray.shape
    return f"P5 {width} {height} 255\n".encode("ascii") + np.ascontiguousarray(gray).tobytes()


class TesseractBackend:
    """Reads text with the ``tesseract`` program."""

    name = "tesseract"

    def __init__(self, languages: str = "eng", command: str | None = None, workers: int | None = None) -> None:
        self.languages = languages
        self._command = command
        # None: as many parallel strips as there are idle cores (`idle_workers`); a number forces it.
        self.workers = workers

    def is_compatible(self) -> bool:
        """Tesseract runs on every desktop system SpaceVoice supports."""
        return True

    def is_installed(self) -> str | None:
        """``None`` when tesseract and its language packs are here, else a plain reason with what to install."""
        command = self._command or find_tesseract()
        if command is None:
            return f"Tesseract is not installed. {install_hint()}"
        have = installed_languages(command)
        lacking = [lang for lang in self.languages.split("+") if lang not in have]
        if have and lacking:
            return f"Tesseract lacks the language pack {', '.join(lacking)}. {language_hint(lacking[0])}"
        return None

    @property
    def command(self) -> str:
        """The program that runs, or a `DeviceError` saying how to install it."""
        command = self._command or find_tesseract()
        if command is None:
            raise DeviceError("Tesseract, the text reader, is not installed.", install_hint())
        return command

    def recognise(self, gray: np.ndarray) -> list[list[Word]]:
        """The words of ``gray`` (2-D uint8, dark text on light), grouped by Tesseract's lines."""
        strips = split_into_strips(gray, self.workers if self.workers is not None else idle_workers())
        if len(strips) == 1:
            return self._run(gray, 0)
        with ThreadPoolExecutor(max_workers=len(strips)) as pool:
            results = list(pool.map(lambda strip: self._run(gray[strip[0]:strip[1]], strip[0]), strips))
        return [line for lines in results for line in lines]

    def recognise_lines(self, gray: np.ndarray) -> list[list[Word]]:
        """The words of ``gray`` read as one block of lines (a terminal): rows are never cut into columns."""
        return self._run(gray, 0, PSM_LINES)

    def recognise_line(self, gray: np.ndarray) -> list[Word]:
        """The words of ``gray`` read as a single line of text (a line read again on its own)."""
        return [word for line in self._run(gray, 0, PSM_SINGLE_LINE) for word in line]

    def _run(self, gray: np.ndarray, top: int, psm: int = PSM) -> list[list[Word]]:
        args = [self.command, "stdin", "stdout", "--psm", str(psm), "-l", self.languages, "tsv"]
        environment = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            result = subprocess.run(args, input=to_pgm(gray), capture_output=True, timeout=RUN_TIMEOUT_S,
                                    env=environment)
        except FileNotFoundError as error:
            raise DeviceError("Tesseract, the text reader, could not be started.", install_hint()) from error
        except subprocess.TimeoutExpired as error:
            raise InputError("Reading the text took too long.", "Try a smaller window or region.") from error
        if result.returncode != 0:
            log.debug("tesseract failed: %s", result.stderr.decode("utf-8", "replace")[-500:])
            raise DeviceError("Tesseract could not read the picture.", "Run: tesseract --version to check it.")
        return parse_tsv(result.stdout.decode("utf-8", "replace"), top)

    def detect_script(self, gray: np.ndarray) -> tuple[str, float] | None:
        """Tesseract's guess of the writing system (``"Cyrillic"``, 9.5) from ``--psm 0``; ``None`` if unsure.

        Give it the part of the picture that holds the text: orientation and script detection wants letters
        larger than screen text, so the picture is enlarged (to at most `OSD_MAX_SIDE`) first.
        """
        import cv2

        if "osd" not in installed_languages(self.command):
            return None
        factor = min(OSD_ZOOM, OSD_MAX_SIDE / max(gray.shape))
        if factor > 1.0:
            gray = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        args = [self.command, "stdin", "stdout", "--psm", "0"]
        try:
            result = subprocess.run(args, input=to_pgm(gray), capture_output=True, timeout=RUN_TIMEOUT_S,
                                    env={**os.environ, "OMP_THREAD_LIMIT": "1"})
        except (OSError, subprocess.TimeoutExpired):
            return None
        fields = dict(
            line.split(":", 1) for line in result.stdout.decode("utf-8", "replace").splitlines() if ":" in line
        )
        try:
            return fields["Script"].strip(), float(fields["Script confidence"])
        except (KeyError, ValueError):
            return None


def idle_workers() -> int:
    """How many Tesseract processes to run side by side: one per idle core, at most `MAX_WORKERS`.

    On a busy machine a second process cannot run at the same time; it would only add its start-up and its own
    layout analysis, so the picture is read in one piece. Where the load is unknown (Windows), cores count as idle.
    """
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):
        busy = 0.0
    return max(1, min(MAX_WORKERS, cores, int(cores - busy + 0.5)))


def parse_tsv(tsv: str, top: int = 0) -> list[list[Word]]:
    """Tesseract's TSV output as lines of words, shifted down by ``top`` pixels."""
    lines: dict[tuple[str, str, str], list[Word]] = {}
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5":
            continue
        text = cells[11].strip()
        confidence = float(cells[10])
        if not text or confidence < 0:
            continue
        left, y, width, height = (int(cells[i]) for i in range(6, 10))
        key = (cells[2], cells[3], cells[4])
        lines.setdefault(key, []).append(Word(text, (left, y + top, width, height), confidence / 100.0))
    return list(lines.values())


def split_into_strips(gray: np.ndarray, count: int) -> list[tuple[int, int]]:
    """Cut ``gray`` into up to ``count`` horizontal strips at empty rows, so no line of text is cut in two."""
    height = gray.shape[0]
    if count < 2 or height < 2 * MIN_STRIP_HEIGHT:
        return [(0, height)]
    # An empty row is one whose pixels barely vary: background only. Sampled columns keep this cheap.
    sample = gray[:, :: max(1, gray.shape[1] // 512)].astype(np.int16)
    empty = (sample.max(axis=1) - sample.min(axis=1)) < 16
    cuts = [0]
    for index in range(1, count):
        wanted = height * index // count
        cut = _nearest_empty(empty, wanted, height // (3 * count))
        if cut is None or cut - cuts[-1] < MIN_STRIP_HEIGHT or height - cut < MIN_STRIP_HEIGHT:
            continue
        cuts.append(cut)
    cuts.append(height)
    return list(itertools.pairwise(cuts))


def _nearest_empty(empty: np.ndarray, wanted: int, reach: int) -> int | None:
    for offset in range(reach):
        for row in (wanted - offset, wanted + offset):
            if 0 < row < len(empty) and empty[row]:
                return row
    return None


# Tesseract's script names (``--psm 0``) -> the language pack most readers of that script want.
SCRIPT_PACKS: dict[str, tuple[str, str]] = {
    "Cyrillic": ("rus", "Russian"),
    "Arabic": ("ara", "Arabic"),
    "Han": ("chi_sim", "Chinese"),
    "HanS": ("chi_sim", "Simplified Chinese"),
    "HanT": ("chi_tra", "Traditional Chinese"),
    "Japanese": ("jpn", "Japanese"),
    "Korean": ("kor", "Korean"),
    "Hangul": ("kor", "Korean"),
    "Greek": ("ell", "Greek"),
    "Hebrew": ("heb", "Hebrew"),
    "Devanagari": ("hin", "Hindi"),
    "Thai": ("tha", "Thai"),
    "Bengali": ("ben", "Bengali"),
    "Tamil": ("tam", "Tamil"),
    "Georgian": ("kat", "Georgian"),
    "Armenian": ("hye", "Armenian"),
}


def language_hint(pack: str) -> str:
    """How to install one language pack on this system, as a sentence."""
    if sys.platform == "win32":
        return f"Run the Tesseract installer again and tick the '{pack}' language data."
    if sys.platform == "darwin":
        return "Install the language packs: brew install tesseract-lang"
    return f"Install the language pack: sudo apt install tesseract-ocr-{pack.replace('_', '-')}"


def missing_pack_message(script: str, languages: Sequence[str]) -> tuple[str, str] | None:
    """For text in ``script`` that ``languages`` cannot read: (what happened, what to install); else ``None``."""
    if script in ("Latin", "Common", ""):
        return None
    pack, language = SCRIPT_PACKS.get(script, ("", ""))
    if pack and pack in languages:
        return None
    what = f"The text looks like {script} script, which the installed language packs cannot read."
    if not pack:
        return what, f"Install the Tesseract language pack for {script} text."
    hint = language_hint(pack)
    return what, f"To read {language}, {hint[:1].lower()}{hint[1:]}, then set ocr_languages to eng+{pack}."
