"""Where SpaceVoice's words go: its own voice (the `Narrator`), the user's screen reader, or both.

The ``speak_through`` setting: ``own``, ``screen_reader``, ``both``, or ``auto`` (the screen reader when one runs,
else the own voice). `SpeechRoute` has the narrator's ``speak(text, interrupt=...)`` / ``stop()`` so the tray's
message path does not care where the words go. A user's own request (an answer, an error) interrupts what
SpaceVoice said before; a background announcement ("Loading...") does not.

One thread owns the screen reader connection (Prism's back ends are not thread-safe, and NVDA's and JAWS's are
COM/RPC clients tied to their thread) and decides the route, so ``speak`` never blocks the caller on a D-Bus
question or a slow connection (speech-dispatcher lists its voices when Prism connects: seconds on a busy
machine). When the screen reader cannot be reached, the own voice takes over and that is said once.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from engine.errors import DeviceError
from engine.speech.screen_reader import ScreenReader, running_screen_reader, speaks_through

log = logging.getLogger(__name__)


class SpeechRoute:
    """Sends each text to the own voice and/or the screen reader, as ``mode`` says. Thread-safe.

    Args:
        narrator: the own voice (anything with ``speak(text, interrupt=)`` and ``stop()``).
        mode: the ``speak_through`` setting.
        on_notice: told (once per problem) when the screen reader cannot be used and the own voice speaks.
        open_reader / detect: how to connect to the screen reader and whether one runs (tests may pass others).
    """

    def __init__(self, narrator: Any, mode: str = "auto", *, on_notice: Callable[[str], None] | None = None,
                 open_reader: Callable[[], Any] = ScreenReader,
                 detect: Callable[[], str | None] = running_screen_reader) -> None:
        self.narrator = narrator
        self._mode = mode
        self._on_notice = on_notice
        self._open_reader = open_reader
        self._detect = detect
        self._lock = threading.Lock()
        self._generation = 0
        self._queue: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._reader: Any = None
        self._resolved = threading.Event()
        self.own = True  # where words go now (valid once `wait_resolved` returns)
        self.screen_reader = False
        self.reader_name: str | None = None
        self._thread = threading.Thread(target=self._loop, name="spacevoice-speech-route", daemon=True)
        self._thread.start()
        self._queue.put(("mode", mode))

    def set_mode(self, mode: str) -> None:
        """Follow a new ``speak_through`` value (and look again whether a screen reader runs)."""
        self._resolved.clear()
        self._queue.put(("mode", mode))

    def wait_resolved(self, timeout: float = 30.0) -> bool:
        """Block until the route for the current mode is known (for reports and tests)."""
        return self._resolved.wait(timeout)

    def speak(self, text: str, *, interrupt: bool = True) -> None:
        """Say ``text`` where the route says; ``interrupt`` drops what SpaceVoice was saying first."""
        text = text.strip()
        if not text:
            return
        with self._lock:
            if interrupt:
                self._generation += 1
            self._queue.put(("speak", self._generation, text, interrupt))

    def stop(self) -> None:
        """Silence SpaceVoice at once, in its own voice and in the screen reader."""
        with self._lock:
            self._generation += 1
            self.narrator.stop()
        self._queue.put(("stop",))

    def describe(self) -> str:
        """One line for Check setup: where SpaceVoice's words go."""
        places = [*(["SpaceVoice's own voice"] if self.own else []),
                  *([f"the screen reader ({self.reader_name})"] if self.screen_reader else [])]
        return f"Speaking through {' and '.join(places) or 'nothing'} (Speak through: {self._mode})."

    def close(self) -> None:
        """End the route's thread (the narrator is closed by its owner)."""
        self._queue.put(("close",))
        self._thread.join(timeout=2)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            kind = item[0]
            try:
                if kind == "close":
                    return
                if kind == "mode":
                    self._resolve(item[1])
                elif kind == "stop":
                    if self._reader is not None:
                        self._reader.stop()
                else:
                    self._speak(*item[1:])
            except Exception as error:  # a failing screen reader must not end the route's thread
                log.warning("speaking through the screen reader failed: %s", error,
                            exc_info=log.isEnabledFor(logging.DEBUG))

    def _resolve(self, mode: str) -> None:
        self._mode = mode
        running = self._detect() if mode == "auto" else None
        own, through_reader = speaks_through(mode, running)
        self._reader = None  # connect afresh: the screen reader may have been restarted since
        if through_reader:
            try:
                self._reader = self._open_reader()
            except DeviceError as error:
                own, through_reader = True, False
                if self._on_notice is not None:
                    self._on_notice(f"{error} SpaceVoice's own voice speaks instead.")
        self.own, self.screen_reader = own, through_reader
        self.reader_name = getattr(self._reader, "name", None) if through_reader else None
        log.info("speaking through: %s", self.describe())
        self._resolved.set()

    def _speak(self, generation: int, text: str, interrupt: bool) -> None:
        # The own voice under the lock: a stop() on another thread either comes before (the text is stale and
        # dropped) or after (it silences what was just started); never between the check and the call. The
        # screen reader outside it: its call can wait on a busy speech server, and stop() must never wait for
        # that; its own stop is queued behind this call on this thread, so it still comes after.
        with self._lock:
            if generation != self._generation:
                return
            if self.own:
                self.narrator.speak(text, interrupt=interrupt)
        if self.screen_reader and self._reader is not None:
            self._reader.speak(text, interrupt=interrupt)
