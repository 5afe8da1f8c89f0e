"""What a person hears about text: it leads on a screen, says how much more there is, and silences a caption
that would mislead next to it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.describe import Caption, Stages, TextLine, describe_frame
from engine.frames import Frame
from engine.text import TextReader, load_text_stage
from engine.text.summary import caption_contradicts_text


@pytest.fixture(scope="module")
def reader() -> TextReader:
    return load_text_stage()


class FixedCaption:
    """A caption stage that always says the same thing (a real captioner's words are random in tests)."""

    def __init__(self, text: str, confidence: float = 0.9) -> None:
        self.result = Caption(text, confidence)

    def caption(self, image: np.ndarray) -> Caption:
        return self.result


def test_screen_text_leads_with_window_title_first_lines_and_how_much_more(terminal_frame: Frame,
                                                                           reader: TextReader) -> None:
    frame = dataclasses.replace(terminal_frame, window_title="Terminal - notes")
    lines = reader.read(frame.image)
    summary = reader.summarize(lines, frame)
    assert summary.dominates
    assert summary.spoken.startswith("Window: Terminal - notes. $ git status. On branch main.")
    assert summary.spoken.endswith(f"... and {len(lines) - 5} more lines.")
    assert "Thursday" not in summary.spoken  # beyond the first lines


def test_describe_drops_a_caption_that_invents_a_scene_on_a_text_screen(terminal_frame: Frame,
                                                                        reader: TextReader) -> None:
    stages = Stages(captioner=FixedCaption("a cat sitting on a couch"), text=reader)
    description = describe_frame(terminal_frame, stages)
    assert description.caption == "a cat sitting on a couch"  # kept in the record ...
    assert "cat" not in description.spoken  # ... but not said
    assert description.spoken.startswith("$ git status.")
    assert len(description.text) >= 9


def test_describe_keeps_a_fitting_caption_after_the_text(terminal_frame: Frame, reader: TextReader) -> None:
    stages = Stages(captioner=FixedCaption("a computer screen with white text"), text=reader)
    spoken = describe_frame(terminal_frame, stages).spoken
    assert spoken.index("git status") < spoken.index("A computer screen with white text.")


def test_text_on_a_photo_follows_the_scene(terminal_frame: Frame, reader: TextReader) -> None:
    # A webcam frame with one short line of text in it: the scene comes first, then what the text says.
    image = np.full((480, 640, 3), 120, np.uint8)
    image[::7] = 90  # not a blank frame
    image[200:220, 100:500] = terminal_frame.image[40:60, 0:400]  # "Your branch is up to date ..." line
    frame = Frame(image, "webcam")
    stages = Stages(captioner=FixedCaption("a person holding a sign"), text=reader)
    spoken = describe_frame(frame, stages).spoken
    assert spoken.startswith("A person holding a sign. It says: Your branch is up to date"), spoken


def lines_of(*texts: str) -> list[TextLine]:
    return [TextLine(text, (0, 20 * i, 300, 16), 0.9) for i, text in enumerate(texts)]


def test_caption_claiming_words_that_are_not_there_contradicts() -> None:
    shop = lines_of("OPEN 9-5", "Fresh bread")
    assert caption_contradicts_text('a sign that says "closed"', shop)
    assert caption_contradicts_text("a shop window with a sign saying sale", shop)
    assert not caption_contradicts_text("a sign that says open", shop)
    assert not caption_contradicts_text("a bakery with a sign", shop)


def test_scene_caption_contradicts_only_a_text_heavy_frame() -> None:
    heavy = lines_of(*[f"Line {i} of the report, with figures for March." for i in range(8)])
    assert caption_contradicts_text("a dog running on the beach", heavy)
    assert not caption_contradicts_text("a computer screen showing a document", heavy)
    light = lines_of("EXIT")
    assert not caption_contradicts_text("a dog running in a hallway", light)


def test_a_reading_is_spoken_line_by_line_so_stop_is_quick(terminal_frame: Frame, reader: TextReader) -> None:
    from engine.speech.sentences import split_sentences
    from engine.text import read_text

    result = read_text(terminal_frame, reader)
    pieces = split_sentences(result.spoken)
    # Every screen line ends a sentence: a terminal line without a full stop never runs into the next one.
    assert len(pieces) >= len(result.lines)
    assert pieces[0] == "$ git status"
