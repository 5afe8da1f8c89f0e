"""Frame in, `Description` out: caption, people, text, warnings, timings, and the sentences a person hears.

Every stage is optional. A missing stage (no captioner installed, no OCR engine) is said once as a warning and
the rest still runs. The spoken text prefers what can be read and recognised over what a caption model guesses
(NVDA removed its captioner for inventing text on screenshots), and hedges a caption the model itself is unsure
of rather than stating it as fact.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from engine.frames import Frame

log = logging.getLogger(__name__)

# Below this mean token probability, the caption is spoken as a guess ("It might be ...").
HEDGE_BELOW = 0.35
# Below this, the caption is not spoken at all: "I can't tell" beats a confident wrong guess.
DROP_BELOW = 0.12


@dataclass(frozen=True)
class SceneObject:
    """One object a scene model located (Florence-2's ``<OD>``).

    Attributes:
        label: what it is ("laptop").
        box: (x, y, width, height) in frame pixels, as `PersonSeen`'s.
        position: ``"left"``, ``"centre"`` or ``"right"`` of the frame.
    """

    label: str
    box: tuple[int, int, int, int]
    position: str


@dataclass(frozen=True)
class Caption:
    """A caption and how sure the model was: the mean probability of its chosen tokens (0..1).

    A scene model that answers several tasks (Florence-2) also says which ``task`` produced the text and the
    ``objects`` it located.
    """

    text: str
    confidence: float
    task: str | None = None
    objects: tuple[SceneObject, ...] = ()


@dataclass(frozen=True)
class PersonSeen:
    """One face in the frame.

    Attributes:
        name: the enrolled person's name, or ``None`` for someone not enrolled.
        box: (x, y, width, height) in frame pixels.
        position: ``"left"``, ``"centre"`` or ``"right"`` of the frame.
        distance: ``"close"``, ``"near"`` or ``"far"``, from the face's size.
        score: cosine similarity to the matched person (to the best candidate when unknown).
    """

    name: str | None
    box: tuple[int, int, int, int]
    position: str
    distance: str
    score: float


@dataclass(frozen=True)
class TextLine:
    """One line of text read from the frame, in reading order."""

    text: str
    box: tuple[int, int, int, int]
    confidence: float


@dataclass(frozen=True)
class TextSummary:
    """What the OCR stage would say, and whether text dominates the frame (then it leads)."""

    spoken: str
    dominates: bool


@dataclass(frozen=True)
class Description:
    """Everything SpaceVoice learned from one frame, and what it says about it."""

    source: str
    caption: str | None
    people: tuple[PersonSeen, ...]
    text: tuple[TextLine, ...]
    spoken: str
    warnings: tuple[str, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    caption_confidence: float | None = None
    caption_task: str | None = None
    objects: tuple[SceneObject, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The `--json` object of ``main.py describe``."""
        return {
            "source": self.source,
            "caption": self.caption,
            "caption_task": self.caption_task,
            "objects": [{**asdict(o), "box": list(o.box)} for o in self.objects],
            "people": [{**asdict(p), "box": list(p.box)} for p in self.people],
            "text": [{**asdict(t), "box": list(t.box)} for t in self.text],
            "spoken": self.spoken,
            "warnings": list(self.warnings),
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }


class CaptionStage(Protocol):
    """Image -> caption."""

    def caption(self, image: np.ndarray) -> Caption:
        """Caption an RGB uint8 image."""
        ...


class FaceStage(Protocol):
    """Image -> the people in it, and how to say that."""

    def identify(self, image: np.ndarray) -> Sequence[PersonSeen]:
        """Find and identify faces, ordered left to right."""
        ...

    def summarize(self, people: Sequence[PersonSeen]) -> str:
        """One or two short sentences, left to right: "Mia is on the left, close." """
        ...


class TextStage(Protocol):
    """Image -> lines of text in reading order, and how to say them."""

    def read(self, image: np.ndarray) -> Sequence[TextLine]:
        """Read the text lines in reading order."""
        ...

    def summarize(self, lines: Sequence[TextLine], frame: Frame) -> TextSummary:
        """What to say about the text, and whether text dominates the frame."""
        ...

    def contradicts(self, caption: str, lines: Sequence[TextLine]) -> bool:
        """True when speaking ``caption`` beside this text would mislead the listener."""
        ...


@dataclass
class Stages:
    """The recognisers a description uses; any may be ``None``, with the reason in ``missing``."""

    captioner: CaptionStage | None = None
    faces: FaceStage | None = None
    text: TextStage | None = None
    missing: dict[str, str] = field(default_factory=dict)


def describe_frame(frame: Frame, stages: Stages | None = None, *, capture_ms: float = 0.0) -> Description:
    """Describe ``frame`` with whatever ``stages`` are available.

    Never raises for a stage's failure: that becomes a warning and the other stages still run.
    """
    stages = stages or Stages()
    started = time.perf_counter()
    timings: dict[str, float] = {"capture": capture_ms}
    warnings: list[str] = list(stages.missing.values())
    blank = frame.blank_reason()
    if blank is not None:
        timings["total"] = capture_ms + (time.perf_counter() - started) * 1000
        return Description(frame.source, None, (), (), blank, (*warnings, blank), timings)

    caption: Caption | None = None
    people: Sequence[PersonSeen] = ()
    lines: Sequence[TextLine] = ()
    if stages.text is not None:
        lines = _run("text", timings, warnings, lambda: _read_text(stages.text, frame)) or ()
    if stages.captioner is not None:
        caption = _run("caption", timings, warnings, lambda: stages.captioner.caption(frame.image))
    if stages.faces is not None:
        people = _run("faces", timings, warnings, lambda: stages.faces.identify(frame.image)) or ()

    spoken = compose_spoken(frame, stages, caption, people, lines, warnings)
    timings["total"] = capture_ms + (time.perf_counter() - started) * 1000
    return Description(
        source=frame.source,
        caption=caption.text if caption else None,
        people=tuple(people),
        text=tuple(lines),
        spoken=spoken,
        warnings=tuple(dict.fromkeys(warnings)),
        timings_ms=timings,
        caption_confidence=caption.confidence if caption else None,
        caption_task=caption.task if caption else None,
        objects=caption.objects if caption else (),
    )


def _read_text(stage: TextStage, frame: Frame) -> Sequence[TextLine]:
    """Window by window where the stage can (`engine.text.TextReader.read_frame`), else the whole picture."""
    read_frame = getattr(stage, "read_frame", None)
    return read_frame(frame) if read_frame is not None else stage.read(frame.image)


def _run(stage: str, timings: dict[str, float], warnings: list[str], work: Any) -> Any:
    start = time.perf_counter()
    try:
        return work()
    except Exception as error:  # a stage failing must never lose the rest of the description
        log.warning("%s stage failed: %s", stage, error, exc_info=log.isEnabledFor(logging.DEBUG))
        warnings.append(f"The {stage} step failed: {error}")
        return None
    finally:
        timings[stage] = (time.perf_counter() - start) * 1000


def compose_spoken(
    frame: Frame,
    stages: Stages,
    caption: Caption | None,
    people: Sequence[PersonSeen],
    lines: Sequence[TextLine],
    warnings: Sequence[str],
) -> str:
    """The sentences a person hears: text first when it dominates, then the scene, then the people."""
    parts: list[str] = []
    text_summary: TextSummary | None = None
    if lines and stages.text is not None:
        text_summary = stages.text.summarize(lines, frame)
    if text_summary is not None and text_summary.dominates:
        parts.append(text_summary.spoken)  # names the window itself when it leads
    elif frame.window_title and frame.window_title.strip():
        parts.append(f"Window: {frame.window_title.strip().rstrip('.')}.")
    if caption is not None and caption.text.strip():
        contradicted = bool(lines) and stages.text is not None and stages.text.contradicts(caption.text, lines)
        text_leads = text_summary is not None and text_summary.dominates
        # When text leads, an unsure caption adds only noise next to what was actually read.
        if not contradicted and not (text_leads and caption.confidence < HEDGE_BELOW):
            parts.append(caption_sentence(caption))
    if caption is not None and caption.objects and not (text_summary is not None and text_summary.dominates):
        # Objects after the caption; a person whose face was found is said by the faces stage, by name, once.
        parts.append(objects_sentence(caption.objects, people if stages.faces is not None else ()))
    if people and stages.faces is not None:
        # On a screen whose windows are known, a face where no window is drawn is in the desktop picture, not a
        # person near the user.
        pictured = [p for p in people if frame.windows is not None and _on_desktop(frame, p)]
        near = [p for p in people if p not in pictured]
        if near:
            parts.append(stages.faces.summarize(near))
        if pictured:
            parts.append(desktop_picture_sentence(pictured))
    if text_summary is not None and not text_summary.dominates:
        parts.append(text_summary.spoken)
    if not parts:
        parts.append("I can't tell what is in this picture." if not warnings else warnings[0])
    return " ".join(p.strip() for p in parts if p.strip())


def _on_desktop(frame: Frame, person: PersonSeen) -> bool:
    from engine.frames import window_at

    x, y, width, height = person.box
    return window_at(frame.windows or (), x + width / 2, y + height / 2) is None


def desktop_picture_sentence(people: Sequence[PersonSeen]) -> str:
    """Faces on the desktop picture: "In the desktop picture: Mia and two people I don't know." """
    names = list(dict.fromkeys(p.name for p in people if p.name))
    strangers = sum(1 for p in people if not p.name)
    if strangers:
        from engine.faces.placement import count_words

        names.append("someone I don't know" if strangers == 1 else f"{count_words(strangers)} people I don't know")
    said = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"In the desktop picture: {said}."


PERSON_LABELS = frozenset({"person", "man", "woman", "boy", "girl", "child", "baby", "people", "human face",
                           "face", "lady", "guy"})
MAX_OBJECTS = 6
_PLACES = {"left": "on the left", "centre": "in the centre", "right": "on the right"}
_ORDER = {"left": 0, "centre": 1, "right": 2}


def _holds_face(obj: SceneObject, people: Sequence[PersonSeen]) -> bool:
    x, y, w, h = obj.box
    for person in people:
        cx, cy = person.box[0] + person.box[2] / 2, person.box[1] + person.box[3] / 2
        if x <= cx <= x + w and y <= cy <= y + h:
            return True
    return False


def objects_sentence(objects: Sequence[SceneObject], people: Sequence[PersonSeen] = ()) -> str:
    """"A laptop in the centre, two mugs on the right.": the largest objects, left to right, people merged.

    A person-like box that holds a face the faces stage found is left out: that person is said by name (or as
    someone unknown) by the faces stage, once. Objects of one label on one side are counted together.
    """
    kept = [o for o in objects if not (o.label.lower() in PERSON_LABELS and _holds_face(o, people))]
    kept = sorted(kept, key=lambda o: -(o.box[2] * o.box[3]))
    groups: dict[tuple[str, str], list[SceneObject]] = {}
    for obj in kept:
        label = obj.label.strip().lower()
        if label:
            groups.setdefault((label, obj.position), []).append(obj)
    chosen = list(groups.items())[:MAX_OBJECTS]
    chosen.sort(key=lambda item: (_ORDER.get(item[0][1], 1), min(o.box[0] for o in item[1])))
    phrases = []
    for (label, position), group in chosen:
        if len(group) == 1:
            article = "an" if label[:1] in "aeiou" else "a"
            phrases.append(f"{article} {label} {_PLACES.get(position, position)}")
        else:
            from engine.faces.placement import count_words

            plural = label if label.endswith("s") else label + "s"
            phrases.append(f"{count_words(len(group))} {plural} {_PLACES.get(position, position)}")
    if not phrases:
        return ""
    text = ", ".join(phrases)
    return text[:1].upper() + text[1:] + "."


def caption_sentence(caption: Caption) -> str:
    """Turn a caption into a sentence, hedged when the model was unsure, or "I can't tell" when it guessed."""
    text = caption.text.strip().rstrip(".")
    if caption.confidence < DROP_BELOW:
        return "I can't tell what the scene shows."
    sentence = text[:1].upper() + text[1:] + "."
    if caption.confidence < HEDGE_BELOW:
        return "It might be " + text[:1].lower() + text[1:] + "."
    return sentence
