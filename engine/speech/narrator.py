"""`Narrator`: speech in the background for the tray app; `speak` returns at once, `stop` silences at once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from engine.errors import SpaceVoiceError
from engine.speech.base import AudioChunk, Speaker
from engine.speech.player import Player

if TYPE_CHECKING:
    from engine.speech.choice import VoiceChain

log = logging.getLogger(__name__)
Notice = Callable[[str], None]


class Narrator:
    """Speaks in the background for the tray app: `speak` returns at once, `stop` silences at once.

    A new `speak` interrupts the current one. The voice is chosen on first use, on the narrator's thread, so
    creating a narrator loads nothing. Errors (no sound device, a broken voice) go to ``on_error``.
    """

    def __init__(self, settings: Any, *, speaker: Speaker | None = None, player: Player | None = None,
                 engine: str | None = None, on_notice: Notice | None = None,
                 on_error: Callable[[SpaceVoiceError], None] | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.player = player or Player()
        self.on_notice = on_notice
        self.on_error = on_error or (lambda error: log.warning("%s", error))
        self._speaker: Speaker | VoiceChain | None = speaker
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def is_speaking(self) -> bool:
        """True from `speak` until the speech has been heard, stopped or has failed."""
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._cancel.is_set()

    def speak(self, text: str) -> None:
        """Start speaking ``text`` (interrupting anything being said) and return at once."""
        with self._lock:
            self.stop()
            previous = self._thread
            self._cancel = cancel = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(text, cancel, previous), name="narrator",
                                            daemon=True)
            self._thread.start()

    def use_settings(self, settings: Any, *, speaker: Speaker | None = None) -> None:
        """Take changed settings (voice, rate, engine): the voice is chosen again on the next `speak`."""
        with self._lock:
            self.settings = settings
            self._speaker = speaker

    def stop(self) -> None:
        """Silence the current speech within one audio block; does nothing when quiet."""
        self._cancel.set()
        self.player.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the current speech ends; return True when it has."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _run(self, text: str, cancel: threading.Event, previous: threading.Thread | None) -> None:
        if previous is not None:
            previous.join()  # one player, one utterance at a time: the stopped one lets go within a block
        try:
            speaker = self._speaker
            if speaker is None:
                from engine.speech.choice import choose_speaker  # choice imports this module

                engine = self.engine or getattr(self.settings, "speech_engine", "auto")
                speaker = self._speaker = choose_speaker(self.settings, engine, on_notice=self.on_notice)
            if cancel.is_set():
                return
            self.player.play(self._until_cancelled(speaker.synthesize(text), cancel))
        except SpaceVoiceError as error:
            self.on_error(error)
        except Exception:  # a thread must not die silently: tell the user in plain words, keep detail in the log
            log.debug("narrator failed", exc_info=True)
            self.on_error(SpaceVoiceError("Speech stopped because of an unexpected error.",
                                          "Run with -vv for details."))

    def _until_cancelled(self, chunks: Iterator[AudioChunk], cancel: threading.Event) -> Iterator[AudioChunk]:
        try:
            for chunk in chunks:
                if cancel.is_set():
                    self.player.stop()  # we are inside play(): this stop cannot be lost
                    return
                yield chunk
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
