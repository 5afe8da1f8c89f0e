"""`TextReader`: the text stage. Picture in, lines in reading order out, and what to say about them.

Before a backend sees the picture it is made grey and shrunk when it is huge. Afterwards, words the engine itself
doubts and that are not made of letters or digits (icons, borders, the edge of a photo read as "|" or "@") are dropped.
When a great deal of ink yields almost nothing readable, Tesseract's script detection says whether the text is in
a writing system no installed language pack reads, and which pack to install.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np

from engine.describe import TextLine, TextSummary
from engine.errors import InputError
from engine.frames import Frame, blank_reason
from engine.text.backend import OcrBackend
from engine.text.layout import Word, join_words, line_height, reading_order, split_wide_gaps
from engine.text.second_opinion import SecondOpinion
from engine.text.summary import caption_contradicts_text, summarize_lines

log = logging.getLogger(__name__)

# Pictures above this many pixels are shrunk first: 8K screenshots and scanner pages stay readable at this size
# and Tesseract's time and memory grow with the area.
MAX_PIXELS = 12_000_000
# The longest side any engine is given (Leptonica and onnxruntime both misbehave far beyond this).
MAX_SIDE = 8000
# A word the engine is less sure of than this, made of no letter or digit, is noise.
NOISE_CONFIDENCE = 0.6
# A line whose words average below this, and that looks garbled (`looks_garbled`), is dropped as a misread (a
# photo, a pattern, a foreign script). Confidence alone is no test: Tesseract gives 0.27 to a correctly read
# "modified:   engine/text/layout.py" in a dark terminal.
LINE_CONFIDENCE = 0.35
# Below this, a word of at most three letters or digits at either end of a line is a scrap of a picture
# (measured: scraps of a photo wallpaper next to a dialog 0.00-0.33; the dialog's own words 0.72-0.97).
SCRAP_CONFIDENCE = 0.5
# A line with a word under this confidence is read again on its own (`reread_doubtful_lines`).
REREAD_BELOW = 0.5
MAX_REREADS = 6
REREAD_ACCEPT = 0.75
_ALNUM = re.compile(r"\w", re.UNICODE)
_CASE_FLIP = re.compile(r"[a-z][A-Z]")
# Lines and frames drawn around widgets; spoken, they are only noise ("vertical bar Save vertical bar").
_BORDER = re.compile(r"[|¦│┃‖_—–=\[\]{}()<>/\\~-]+")


def prepare(image: np.ndarray) -> tuple[np.ndarray, float]:
    """Grey, at most `MAX_PIXELS`: the picture a backend reads, and the scale applied to it."""
    import cv2

    if image.ndim == 3:
        gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    else:
        gray = np.ascontiguousarray(image)
    scale = min(1.0, (MAX_PIXELS / float(gray.shape[0] * gray.shape[1])) ** 0.5, MAX_SIDE / max(gray.shape))
    if scale < 1.0:
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    # No global inversion for dark themes: Tesseract 5 and PP-OCR read light-on-dark lines as they are, and
    # inverting a screen that mixes dark and light windows only moves the problem (and breaks script detection).
    return gray, scale


def clean_words(words: Sequence[Word]) -> list[Word]:
    """Drop the words that are noise rather than text: borders of buttons and boxes read as ``|`` or ``_``,
    and doubtful words with no letter or digit."""
    return [w for w in words if w.text.strip() and not _BORDER.fullmatch(w.text)
            and (w.confidence >= NOISE_CONFIDENCE or _ALNUM.search(w.text))]


def trim_doubtful_edges(words: Sequence[Word]) -> list[Word]:
    """Drop doubtful scraps (confidence under `SCRAP_CONFIDENCE`, at most three letters or digits) from both ends
    of a line: the edge of a photo or an icon next to a window's text, read as "Be)" or "(a." and glued to the
    line. Crisp screen text, even one letter, is read far more confidently; a line of nothing but scraps goes."""
    kept = list(words)
    while kept and _is_scrap(kept[0]):
        kept.pop(0)
    while kept and _is_scrap(kept[-1]):
        kept.pop()
    return kept


def _is_scrap(word: Word) -> bool:
    return word.confidence < SCRAP_CONFIDENCE and len(_ALNUM.findall(word.text)) <= 3


def looks_garbled(text: str) -> bool:
    """Whether a doubtful line is a misread rather than text: mostly symbols, or words whose case flips inside
    them the way another script read as Latin does ("okyMeHT", "BbIXonOM" for Russian "документ", "выходом")."""
    chars = text.replace(" ", "")
    if not chars or sum(c.isalnum() for c in chars) < 0.6 * len(chars):
        return True
    words = [w.strip(".,:;!?()[]'\"") for w in text.split()]
    words = [w for w in words if sum(c.isalpha() for c in w) >= 3]
    if not words:
        # Short words: "OK", "No", "42" are text; "ee", "a", "Ss" from the edge of an icon are not.
        return not (len(chars) >= 2 and (chars.isdigit() or (chars[0].isupper() and chars[1:].islower())
                                         or chars.isupper()) and chars.isalnum())
    flipped = sum(bool(_CASE_FLIP.search(w)) for w in words)
    return flipped >= max(1, len(words) / 3)


def reread_doubtful_lines(backend: OcrBackend, gray: np.ndarray, lines: list[list[Word]], *,
                          whole_rows: bool = False) -> list[list[Word]]:
    """Read again, alone, each line holding a word the engine doubts (under `REREAD_BELOW`), and keep the new
    reading where the engine is surer of it (at most `MAX_REREADS` lines, the most doubtful first).

    Read with the whole page, a terminal's ``drwx------`` came out as ``------`` at confidence 0 (and was
    dropped); read as one line it is ``drwx------``. ``whole_rows``: the line's whole row is read (a terminal,
    where nothing else shares a row); otherwise the line's span widened by a few line heights.
    """
    read_line = getattr(backend, "recognise_line", None)
    if read_line is None:
        return lines
    doubtful = sorted((min(w.confidence for w in line), index) for index, line in enumerate(lines) if line)
    doubtful = [(low, index) for low, index in doubtful if low < REREAD_BELOW][:MAX_REREADS]
    result = list(lines)
    for _, index in doubtful:
        words = lines[index]
        top = min(w.box[1] for w in words)
        bottom = max(w.box[1] + w.box[3] for w in words)
        height = bottom - top
        left = 0 if whole_rows else max(0, min(w.box[0] for w in words) - 4 * height)
        right = gray.shape[1] if whole_rows else min(gray.shape[1], max(w.box[0] + w.box[2] for w in words)
                                                     + 4 * height)
        top, bottom = max(0, top - height // 3), min(gray.shape[0], bottom + height // 3)
        again = [Word(w.text, (w.box[0] + left, w.box[1] + top, w.box[2], w.box[3]), w.confidence)
                 for w in read_line(gray[top:bottom, left:right])]
        # Only a confident new reading replaces the old: re-read, Russian text read as Latin only grew surer of
        # its nonsense (0.2 -> 0.45), which would have kept lines that are dropped as misreads.
        if again and _mean_word_confidence(again) >= max(REREAD_ACCEPT, _mean_word_confidence(words)):
            result[index] = again
    return result


def _mean_word_confidence(words: Sequence[Word]) -> float:
    return sum(w.confidence for w in words) / len(words)


class TextReader:
    """The text stage behind `engine.describe.TextStage`, reading with one `OcrBackend`."""

    def __init__(self, backend: OcrBackend, second_opinion: SecondOpinion | None = None) -> None:
        self.backend = backend
        # Reads the words the backend doubts again (`engine.text.second_opinion`), where installed.
        self.second_opinion = second_opinion
        # Said after the text (by `summarize` and `engine.text.read_text`): text that could not be read and why.
        self.notes: list[str] = []

    @property
    def name(self) -> str:
        """The backend's name (``tesseract``, ``onnx``)."""
        return self.backend.name

    def read_frame(self, frame: Frame) -> list[TextLine]:
        """The lines of ``frame``: window by window, front window first, when the frame knows its windows
        (`engine.text.by_window`; the desktop picture is never read), else the whole picture by region."""
        if frame.windows is None:
            return self.read(frame.image)
        from engine.text.by_window import read_windows

        notes: list[str] = []

        def read_picture(gray: np.ndarray, terminal: bool) -> list[TextLine]:
            lines = self.read(gray, grid=terminal)
            notes.extend(note for note in self.notes if note not in notes)
            return lines

        windows = read_windows(frame, read_picture)
        self.notes = notes
        return [line for window in windows for line in window.lines]

    def read(self, image: np.ndarray, *, grid: bool = False) -> list[TextLine]:
        """The lines of text in ``image`` (RGB or grey uint8), in reading order, boxes in the picture's own pixels.

        ``grid``: the picture is a terminal, a grid of lines: read line by line (Tesseract's single-block mode),
        top to bottom, never cut into columns.

        Raises `InputError` for a blank picture, and for one whose only text is in a script no installed language
        pack reads (saying which pack to install).
        """
        self.notes = []
        if image.size == 0 or min(image.shape[:2]) < 4:
            raise InputError("The picture is too small to hold any text.", "Capture a larger area.")
        blank = blank_reason(image if image.ndim == 3 else image[:, :, None])
        if blank is not None:
            raise InputError(blank, "There is no text to read.")
        gray, scale = prepare(image)
        recognise = getattr(self.backend, "recognise_lines", self.backend.recognise) if grid \
            else self.backend.recognise
        engine_lines = recognise(gray)
        if grid:
            # On pages the second opinion checks doubtful words; a terminal's rows are re-read whole.
            engine_lines = reread_doubtful_lines(self.backend, gray, engine_lines, whole_rows=True)
        if self.second_opinion is not None:
            engine_lines = self.second_opinion.check(gray, engine_lines)
        lines: list[TextLine] = []
        dropped: list[TextLine] = []
        cleaned = [trim_doubtful_edges(clean_words(engine_line)) for engine_line in engine_lines]
        height = line_height(cleaned)
        for words in cleaned:
            pieces = [join_words(words)] if grid and words else split_wide_gaps(words, height)
            for piece in pieces:
                if piece.confidence < LINE_CONFIDENCE and looks_garbled(piece.text):
                    dropped.append(piece)
                    continue
                lines.append(_rescale(piece, scale))
        log.debug("read %d lines (%d dropped as misreads)", len(lines), len(dropped))
        self._check_script(gray, engine_lines, lines, dropped)
        if grid:
            return sorted(lines, key=lambda line: (line.box[1], line.box[0]))
        return reading_order(lines)

    def _check_script(self, gray: np.ndarray, engine_lines: list[list[Word]], lines: list[TextLine],
                      dropped: list[TextLine]) -> None:
        """When much was seen but little read, ask whether the text is in a script we have no pack for."""
        words = [word for line in engine_lines for word in line]
        # Worth a look: a block of misread lines with letters in them (another script read as Latin; icon and
        # photo noise is short), or nothing read with confidence.
        misread = len(dropped) >= 2 and sum(c.isalpha() for line in dropped for c in line.text) >= 20
        if len(words) < 3 or (not misread and _mean_confidence(lines) >= 0.7):
            return
        detect = getattr(self.backend, "detect_script", None)
        if detect is None:
            return
        # Only the misread part (else all the ink): faster, and readable lines would dilute the guess.
        boxes = [line.box for line in dropped] or [word.box for word in words]
        left = max(0, min(b[0] for b in boxes) - 8)
        top = max(0, min(b[1] for b in boxes) - 8)
        right = max(b[0] + b[2] for b in boxes) + 8
        bottom = max(b[1] + b[3] for b in boxes) + 8
        found = detect(gray[top:bottom, left:right])
        if found is None:
            return
        script, confidence = found
        from engine.text.tesseract import installed_languages, missing_pack_message

        command = getattr(self.backend, "command", "")
        message = missing_pack_message(script, installed_languages(command) if command else ())
        if message is None or confidence < 1.0:
            return
        what, hint = message
        if not lines:
            raise InputError(what, hint)
        self.notes.append(f"Some text looks like {script} script and was not read. {hint}")

    def summarize(self, lines: Sequence[TextLine], frame: Frame) -> TextSummary:
        """What to say about the text, and whether it dominates the frame (then it is said first)."""
        summary = summarize_lines(lines, frame)
        if self.notes:
            return TextSummary(f"{summary.spoken} {' '.join(self.notes)}".strip(), summary.dominates)
        return summary

    def contradicts(self, caption: str, lines: Sequence[TextLine]) -> bool:
        """True when the caption would mislead next to the text (see `engine.text.summary`)."""
        return caption_contradicts_text(caption, lines)


def _rescale(line: TextLine, scale: float) -> TextLine:
    if scale == 1.0:
        return line
    x, y, w, h = (round(v / scale) for v in line.box)
    return TextLine(line.text, (x, y, w, h), line.confidence)


def _mean_confidence(lines: Sequence[TextLine]) -> float:
    return sum(line.confidence for line in lines) / len(lines) if lines else 0.0
