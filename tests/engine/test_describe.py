"""What a person hears: text first when it dominates, unsure captions hedged or dropped, failures never lose the rest.

The stages here are small hand-written recognisers with fixed outputs: they feed the composition rules known
inputs. The real recognisers are tested in their own modules and end to end in tests/cli/.
"""

from __future__ import annotations

import numpy as np

from engine.describe import Caption, PersonSeen, Stages, TextLine, TextSummary, describe_frame
from engine.frames import make_frame


class FixedCaptioner:
    def __init__(self, text: str, confidence: float) -> None:
        self.result = Caption(text, confidence)

    def caption(self, image: np.ndarray) -> Caption:
        return self.result


class FixedText:
    def __init__(self, lines: list[str], dominates: bool, contradicting: tuple[str, ...] = ()) -> None:
        self.lines = [TextLine(t, (0, i * 20, 100, 18), 0.95) for i, t in enumerate(lines)]
        self.dominates = dominates
        self.contradicting = contradicting

    def read(self, image):
        return self.lines

    def summarize(self, lines, frame):
        return TextSummary("It reads: " + " ".join(line.text for line in lines), self.dominates)

    def contradicts(self, caption, lines):
        return any(word in caption for word in self.contradicting)


class FailingFaces:
    def identify(self, image):
        raise RuntimeError("face model crashed")

    def summarize(self, people):  # pragma: no cover - never reached
        return ""


class FixedFaces:
    def identify(self, image):
        return [PersonSeen("Mia", (10, 10, 50, 50), "left", "close", 0.8)]

    def summarize(self, people):
        return "Mia is on the left, close."


def _photo() -> object:
    rng = np.random.default_rng(0)
    return make_frame(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), "image")


def test_confident_caption_and_people_are_spoken_in_order():
    stages = Stages(captioner=FixedCaptioner("a girl on a swing", 0.8), faces=FixedFaces())
    result = describe_frame(_photo(), stages)
    assert result.spoken == "A girl on a swing. Mia is on the left, close."
    assert result.people[0].name == "Mia" and set(result.timings_ms) >= {"caption", "faces", "total"}


def test_unsure_caption_is_hedged_and_a_guess_is_not_spoken():
    assert describe_frame(_photo(), Stages(captioner=FixedCaptioner("a dog", 0.2))).spoken == "It might be a dog."
    spoken = describe_frame(_photo(), Stages(captioner=FixedCaptioner("a dog", 0.05))).spoken
    assert "dog" not in spoken and "can't tell" in spoken


def test_text_leads_when_it_dominates_and_a_contradicting_caption_is_dropped():
    stages = Stages(
        captioner=FixedCaptioner("a cat sitting on a laptop", 0.9),
        text=FixedText(["Invoice 2041", "Total due 120 euros"], dominates=True, contradicting=("cat",)),
    )
    result = describe_frame(_photo(), stages)
    assert result.spoken == "It reads: Invoice 2041 Total due 120 euros"
    assert result.caption == "a cat sitting on a laptop"  # kept in the result, not spoken


def test_a_failing_stage_becomes_a_warning_and_the_rest_is_still_spoken():
    stages = Stages(captioner=FixedCaptioner("a kitchen", 0.7), faces=FailingFaces())
    result = describe_frame(_photo(), stages)
    assert result.spoken == "A kitchen."
    assert any("faces step failed" in w for w in result.warnings)


def test_black_screen_is_reported_never_captioned():
    black = make_frame(np.zeros((100, 100, 3), np.uint8), "screen")
    result = describe_frame(black, Stages(captioner=FixedCaptioner("a dark room", 0.9)))
    assert result.caption is None and "completely black" in result.spoken


def test_missing_stages_are_said_once():
    stages = Stages(missing={"captioner": "The scene model is not installed."})
    result = describe_frame(_photo(), stages)
    assert result.spoken == "The scene model is not installed."
    assert result.warnings == ("The scene model is not installed.",)
    assert set(result.to_json()) == {"source", "caption", "caption_task", "objects", "people", "text", "spoken",
                                     "warnings", "timings_ms"}


def test_window_title_is_said_first_unless_the_text_summary_names_it():
    frame = make_frame(np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8), "window",
                       window_title="Budget.ods - LibreOffice Calc")
    spoken = describe_frame(frame, Stages(captioner=FixedCaptioner("a spreadsheet", 0.8))).spoken
    assert spoken == "Window: Budget.ods - LibreOffice Calc. A spreadsheet."
