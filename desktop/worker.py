"""The engine's one owner: a QObject living on a worker thread that loads, captures, recognises and reports back.

The GUI thread never waits on it. Requests arrive as queued signals; results, states and errors go back as
queued signals. Every request carries an id from a `RequestGate`: a newer request or Stop makes older ids stale,
and the worker checks the gate between every step (capture, each recogniser, before reporting), so a stale or
stopped request ends at the next step boundary and is never spoken. A recogniser already running finishes its
current call (onnxruntime cannot be interrupted), but its result is thrown away.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from desktop.requests import Cancelled, FencedStage, RequestGate
from engine.errors import SpaceVoiceError
from engine.runtime import release_freed_memory
from engine.settings import Settings

log = logging.getLogger(__name__)

def default_stage_loader(settings: Settings) -> Any:
    """The engine's recognisers for ``settings`` (`engine.pipeline.load_stages`)."""
    from engine.pipeline import load_stages

    return load_stages(settings)


def default_speaker(settings: Settings) -> Any:
    """The voice the speech engine chooses for ``settings``, or ``None`` when no speech module is installed."""
    try:
        choice = importlib.import_module("engine.speech.choice")
    except ModuleNotFoundError as error:
        if error.name != "engine.speech.choice":
            raise
        return None
    chain = choice.choose_speaker(settings, settings.speech_engine)
    load = getattr(chain.current, "load", None)
    if load is not None:  # a neural voice loads here, off the GUI thread, not when the first words are due
        try:
            load()
        except Exception:  # it falls back to the next voice when it is asked to speak
            log.info("the voice could not load in advance", exc_info=True)
    return chain


class EngineWorker(QObject):
    """Owns every model session. Move it to a QThread; talk to it only through its slots and signals."""

    status = Signal(str)  # a state worth saying: "Loading the scene model...", "Ready"
    speaker_ready = Signal(object)  # the Speaker chosen for the current settings (or None)
    described = Signal(int, str, str)  # request id, action id, the sentences to speak
    failed = Signal(int, str)  # request id, a plain message with the next step
    report = Signal(str)  # the check-setup report
    step = Signal(int, str)  # request id, the step starting ("capture", "recognise"): lets tests and UIs follow
    enrolled = Signal(int, str)  # request id, the sentence saying who was enrolled
    question = Signal(int, object)  # request id, (EnrolRequest, FaceChoiceNeeded | DoubtfulFace): ask the person
    download_progress = Signal(str, int, int)  # file label, bytes done, bytes in all (0: unknown)
    downloaded = Signal(int, str)  # request id, the sentence saying what was downloaded
    sound_output = Signal(object)  # engine.speech.sound_device.SoundOutput: the device speech plays on, or none

    def __init__(self, settings: Settings, gate: RequestGate, *,
                 stage_loader: Callable[[Settings], Any] = default_stage_loader,
                 speaker_factory: Callable[[Settings], Any] = default_speaker) -> None:
        super().__init__()
        self.settings = settings
        self.gate = gate
        self._stage_loader = stage_loader
        self._speaker_factory = speaker_factory
        self._stages: Any = None
        self._text_stage: Any = None

    @Slot()
    def warm_up(self) -> None:
        """Choose the voice, then load the recognisers: runs once the tray is visible."""
        self._load_speaker()
        self._check_sound_output()
        try:
            self._ensure_stages()
        except SpaceVoiceError as error:
            self.failed.emit(0, str(error))
            return
        self.status.emit("Ready")

    @Slot(object)
    def apply_settings(self, settings: Settings) -> None:
        """Use new settings: the voice is chosen again and the recognisers reload on next use."""
        self.settings = settings
        self._stages = None
        self._text_stage = None
        self._load_speaker()

    @Slot(int, str)
    def run(self, request_id: int, action_id: str) -> None:
        """Perform ``action_id`` (a describe or read-text) unless it went stale while queued."""
        try:
            self._run(request_id, action_id)
        finally:
            # After the answer is on its way: a frame's buffers (~40 MB for a 1280x800 screen) are freed by then,
            # and glibc would otherwise keep them for as long as the tray sits idle.
            release_freed_memory()

    def _run(self, request_id: int, action_id: str) -> None:
        if not self.gate.is_current(request_id):
            log.debug("request %d (%s) superseded before it started", request_id, action_id)
            return
        started = time.perf_counter()
        try:
            spoken = self._perform(request_id, action_id)
            self.gate.check(request_id)
        except Cancelled:
            log.info("%s stopped or superseded", action_id)
            return
        except SpaceVoiceError as error:
            self.failed.emit(request_id, str(error))
            return
        except Exception as error:  # the worker must survive anything a recogniser throws
            log.debug("%s failed", action_id, exc_info=True)
            self.failed.emit(request_id, f"Something went wrong that SpaceVoice did not expect "
                                         f"({type(error).__name__}). Choose Check setup to see what is missing.")
            return
        log.info("%s done in %.0f ms", action_id, (time.perf_counter() - started) * 1000)
        self.described.emit(request_id, action_id, spoken)

    @Slot()
    def check_setup(self) -> None:
        """Work out what works here and emit it as `report`."""
        from desktop.setup_check import setup_report

        self._check_sound_output()
        self.report.emit(setup_report(self.settings, self._ensure_stages_quietly()))

    @Slot(int, object)
    def enrol(self, request_id: int, request: Any) -> None:
        """Carry out an `desktop.enrolment.EnrolRequest`; a group photo or a doubtful face becomes a `question`."""
        from desktop.enrolment import run_request
        from engine.faces.enrolment import DoubtfulFace, FaceChoiceNeeded

        try:
            message = run_request(request, self._face_identifier(), device=self.settings.webcam_device,
                                  announce=self.status.emit, keep_thumbnails=bool(self.settings.keep_thumbnails),
                                  should_stop=lambda: self.gate.check(request_id))
        except Cancelled:
            return
        except (FaceChoiceNeeded, DoubtfulFace) as question:
            self.question.emit(request_id, (request, question))
            return
        except SpaceVoiceError as error:
            self.failed.emit(request_id, str(error))
            return
        self.enrolled.emit(request_id, message)

    @Slot(int, object)
    def download(self, request_id: int, names: Any) -> None:
        """Download the models ``names`` (verified), then reload the recognisers so they are used at once."""
        from desktop.model_offer import SignalProgress, download_models

        progress = SignalProgress(self.download_progress.emit, lambda: self.gate.check(request_id))
        try:
            message = download_models(list(names), self.settings, progress)
        except Cancelled:
            self.failed.emit(0, "The download was stopped. It resumes where it stopped next time: "
                                "main.py models download.")
            return
        except SpaceVoiceError as error:
            self.failed.emit(request_id, str(error))
            return
        self._stages = None
        self.downloaded.emit(request_id, message)
        self.warm_up()

    @Slot()
    def reload_people(self) -> None:
        """The people file changed (rename, remove): matching uses the new one from the next describe."""
        faces = getattr(self._stages, "faces", None)
        if faces is not None and hasattr(faces, "gallery"):
            # refresh() re-reads only a changed file and turns a damaged or newer-version file into
            # `gallery.problem` instead of raising on the worker thread.
            faces.gallery.refresh()

    def _face_identifier(self) -> Any:
        faces = getattr(self._stages, "faces", None)
        if faces is not None and hasattr(faces, "analyse"):
            self.reload_people()
            return faces
        from engine.faces import load_face_stage

        return load_face_stage(self.settings)

    def _load_speaker(self) -> None:
        try:
            speaker = self._speaker_factory(self.settings)
        except SpaceVoiceError as error:
            self.failed.emit(0, str(error))
            speaker = None
        self.speaker_ready.emit(speaker)

    def _check_sound_output(self) -> None:
        from engine.speech.sound_device import find_sound_output

        self.sound_output.emit(find_sound_output())

    def _ensure_stages(self) -> Any:
        if self._stages is None:
            self.status.emit("Loading the scene model..." if self.settings.include_scene
                             else "Loading the recognisers...")
            self._stages = self._stage_loader(self.settings)
            release_freed_memory()
        return self._stages

    def _ensure_stages_quietly(self) -> Any:
        try:
            return self._ensure_stages()
        except SpaceVoiceError:
            return None

    def _fenced(self, stages: Any, request_id: int) -> Any:
        from engine.describe import Stages

        def check() -> None:
            self.gate.check(request_id)

        def fence(stage: Any) -> Any:
            return None if stage is None else FencedStage(stage, check)

        return Stages(fence(stages.captioner), fence(stages.faces), fence(stages.text), dict(stages.missing))

    def _capture(self, request_id: int, action_id: str) -> Any:
        from engine.capture.source import capture_source

        self.step.emit(request_id, "capture")
        kinds = {"describe-window": "window", "describe-webcam": "webcam"}
        frame = capture_source(kinds.get(action_id, "screen"), None, self.settings)
        self.gate.check(request_id)
        return frame

    def _perform(self, request_id: int, action_id: str) -> str:
        if action_id == "read-text":
            return self._read_text(request_id)
        stages = self._ensure_stages()
        self.gate.check(request_id)
        started = time.perf_counter()
        frame = self._capture(request_id, action_id)
        capture_ms = (time.perf_counter() - started) * 1000
        from engine.describe import describe_frame

        self.step.emit(request_id, "recognise")
        description = describe_frame(frame, self._fenced(stages, request_id), capture_ms=capture_ms)
        log.debug("timings %s", description.timings_ms)
        from engine.capture.source import capture_notice
        from engine.text.continuation import keep_unread, unread_after_summary

        # What the summary left unsaid, for "Read more"; an earlier screen's text is never read on after this one.
        keep_unread(unread_after_summary(description.text, frame) if description.text else [])
        notice = capture_notice(frame)  # the window asked for was not there: say what was described instead
        return f"{notice} {description.spoken}" if notice else str(description.spoken)

    def _read_text(self, request_id: int) -> str:
        text_stage = self._load_text_stage()
        frame = self._capture(request_id, "read-text")
        blank = frame.blank_reason()
        if blank is not None:
            return str(blank)
        self.step.emit(request_id, "recognise")
        from engine.text import read_text

        # read_text adds the reader's notes ("install tesseract-ocr-rus") after the text, as `main.py read` does.
        fenced: Any = FencedStage(text_stage, lambda: self.gate.check(request_id))
        return read_text(frame, fenced).spoken

    def _load_text_stage(self) -> Any:
        if self._stages is not None and self._stages.text is not None:
            return self._stages.text
        if self._text_stage is None:
            from engine.pipeline import load_stages

            stages = load_stages(self.settings, only=("text",))
            if stages.text is None:
                from engine.errors import ModelError

                reason = stages.missing.get("text", "No text reader is installed.")
                raise ModelError(reason, "Install Tesseract or choose another text reader in Settings.")
            self._text_stage = stages.text
        return self._text_stage
