"""Bad input for the text reader: blank screens, text in a script no language pack reads, huge pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.capture import load_image
from engine.errors import InputError
from engine.frames import Frame
from engine.text import TextReader, load_text_stage, read_text
from tests.engine.text.screens import character_error_rate


@pytest.fixture(scope="module")
def reader() -> TextReader:
    return load_text_stage()


@pytest.mark.parametrize(("pixels", "said"), [(0, "completely black"), (200, "one plain colour")])
def test_blank_screen_says_so(reader: TextReader, pixels: int, said: str) -> None:
    with pytest.raises(InputError, match=said) as caught:
        read_text(Frame(np.full((800, 1280, 3), pixels, np.uint8), "screen"), reader)
    assert "no text to read" in str(caught.value)


def test_tiny_picture_is_refused_plainly(reader: TextReader) -> None:
    with pytest.raises(InputError, match="too small"):
        reader.read(np.zeros((2, 900, 3), np.uint8))


def test_russian_only_text_names_the_missing_language_pack(reader: TextReader, cyrillic_png: Path) -> None:
    with pytest.raises(InputError) as caught:
        read_text(load_image(cyrillic_png), reader)
    message = str(caught.value)
    assert "Cyrillic" in message
    assert "tesseract-ocr-rus" in message


def test_english_is_read_and_the_russian_part_is_explained(reader: TextReader, mixed_frame: Frame) -> None:
    result = read_text(mixed_frame, reader)
    # A terminal is read line by line (its soft-wrapped lines stay lines): compare the words in order.
    words = " ".join(result.text.split())
    assert "Meeting moved to Thursday at 10:30 in room 4B." in words
    assert "Please bring two copies of the plan." in words
    assert any("Cyrillic" in note and "tesseract-ocr-rus" in note for note in result.notes), result.notes
    assert result.spoken.startswith("Meeting moved")
    assert "tesseract-ocr-rus" in result.spoken


def test_huge_screenshot_is_shrunk_and_still_read(reader: TextReader, terminal_frame: Frame) -> None:
    import cv2

    from tests.engine.text.conftest import TERMINAL_TEXT

    # An 8K-class picture (7680 x 4800, 37 megapixels): the terminal six times larger.
    huge = cv2.resize(terminal_frame.image, None, fx=6, fy=6, interpolation=cv2.INTER_NEAREST)
    lines = reader.read(huge)
    got = "\n".join(line.text for line in lines)
    assert character_error_rate(TERMINAL_TEXT, got) <= 0.03, got
    # Boxes are in the huge picture's own pixels.
    first = lines[0].box
    assert first[0] < 200 and 20 < first[1] < 120 and first[3] > 60


def test_very_long_strip_does_not_crash(reader: TextReader, terminal_frame: Frame) -> None:
    strip = np.concatenate([terminal_frame.image[:60, :500]] * 40, axis=1)  # 60 x 20000
    lines = reader.read(strip)
    assert isinstance(lines, list)


@pytest.mark.parametrize(("text", "garbled"), [
    ("modified: engine/text/layout.py", False),    # real, though Tesseract gave it 0.27 in a dark terminal
    ("$ cat notes. txt", False),
    ("OK", False),
    ("Coxpanwte okyMeHT nepen BbIXonOM W3 nporpaMMnl.", True),  # Russian read as Latin
    ("~~ |", True),
    ("ee", True),
])
def test_doubtful_lines_are_dropped_only_when_garbled(text: str, garbled: bool) -> None:
    from engine.text.reader import looks_garbled

    assert looks_garbled(text) is garbled


def test_doubtful_scraps_at_the_ends_of_a_line_go_and_confident_short_words_stay() -> None:
    # Scraps are what a photo wallpaper beside a dialog gave (see test_real_screens): "Be)" glued before the line.
    from engine.text.layout import Word
    from engine.text.reader import trim_doubtful_edges

    def words(*items: tuple[str, float]) -> list[Word]:
        return [Word(text, (i * 40, 0, 30, 12), confidence) for i, (text, confidence) in enumerate(items)]

    line = words(("Be)", 0.22), ("Open", 0.74), ("the", 0.97), ("log", 0.94), ("9", 0.33))
    assert [w.text for w in trim_doubtful_edges(line)] == ["Open", "the", "log"]
    assert [w.text for w in trim_doubtful_edges(words(("OK", 0.91)))] == ["OK"]  # a crisp button stays
    assert trim_doubtful_edges(words(("(a.", 0.39), ("eS", 0.11))) == []  # nothing but scraps
    # A doubtful long word is not a scrap: whether it is text is for the garbled-line check to say.
    assert [w.text for w in trim_doubtful_edges(words(("Discard", 0.45)))] == ["Discard"]
