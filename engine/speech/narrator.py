"""Speaks text without ever blocking the caller: ``speak()`` returns at once, ``stop()`` silences at once.

The tray app talks to speech only through `Narrator`: a queue and a thread in front of a `Speaker` (chosen by
the tray's engine worker, the one owner of model sessions) and `engine.speech.player.Player` (which stops within
one 10 ms block). A new text interrupts the old one; `stop` drops the queue and silences the player. Without a
sound device the audio is consumed silently (said once), so the voice still runs and a speech spy still hears
the words. `on_first_audio` marks when a text's first audio is ready: the "first spoken word" benchmarks time.
Importing this module loads neither numpy nor a voice, so the tray can create its narrator before its icon shows.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy comes with it: not needed before the first word is spoken
    from engine.speech.base import AudioChunk, Speaker

log = logging.getLogger(__name__)

class SilentOutput:
    """Where there is no sound device: consumes the audio (so the voice still runs and a spy still hears the
    words) at once, and can be stopped like a real player."""

    def __init__(self) -> None:
        self._stopped = threading.Event()

    def play(self, chunks: Iterable[AudioChunk]) -> bool:
        """Consume ``chunks``; return False when stopped first."""
        self._stopped.clear()
        return all(not self._stopped.is_set() for _chunk in chunks)

    def stop(self) -> None:
        """Stop consuming."""
        self._stopped.set()


class AudioOut:
    """The sound card through `engine.speech.player.Player` (one stream, stops within a block), or
    `SilentOutput` when there is no sound device (said once in the log and to ``on_no_device``)."""

    def __init__(self, on_no_device: Callable[[str], None] | None = None) -> None:
        self._player: Any = None
        self._on_no_device = on_no_device

    def _choose(self) -> Any:
        if self._player is None:
            from engine.errors import DeviceError
            from engine.speech.player import Player, output_device

            try:
                output_device()
                self._player = Player()
            except DeviceError as error:
                log.warning("%s Speech is not audible.", error)
                if self._on_no_device is not None:
                    self._on_no_device(str(error))
                self._player = SilentOutput()
        return self._player

    @property
    def player(self) -> Any:
        """The `Player` or `SilentOutput` in use, or ``None`` before the first `play`."""
        return self._player

    def play(self, chunks: Iterable[AudioChunk]) -> bool:
        """Play ``chunks`` until they end or `stop` is called."""
        return bool(self._choose().play(chunks))

    def stop(self) -> None:
        """Silence the current playback."""
        if self._player is not None:
            self._player.stop()


class Narrator:
    """A non-blocking voice: ``speak(text)``, ``stop()``, ``is_speaking``; thread-safe.

    Args:
        speaker: the voice; may be set later with `set_speaker` (texts spoken before wait for it).
        output: plays the audio; default the sound card.
        on_first_audio: called on the speech thread with (text, ``time.perf_counter()``) when a text's first
            audio chunk is ready: what benchmarks time as "first spoken word".
    """

    def __init__(self, speaker: Speaker | None = None, *, voice: str | None = None, rate: int | None = None,
                 output: AudioOut | SilentOutput | None = None,
                 on_first_audio: Callable[[str, float], None] | None = None) -> None:
        self._speaker = speaker
        self._voice = voice
        self._rate = rate
        self._output = output or AudioOut()
        self.on_first_audio = on_first_audio
        self._queue: queue.Queue[tuple[int, str] | None] = queue.Queue()
        self._generation = 0
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._busy = threading.Event()
        self._current = -1  # the generation of the text the speech thread is handling
        if speaker is not None:
            self._ready.set()
        self._thread = threading.Thread(target=self._loop, name="spacevoice-narrator", daemon=True)
        self._thread.start()

    @property
    def speaker_name(self) -> str | None:
        """The name of the voice in use, or ``None`` before one is set."""
        return getattr(self._speaker, "name", None)

    def set_speaker(self, speaker: Speaker, *, voice: str | None = None, rate: int | None = None) -> None:
        """Use ``speaker`` from now on (texts already queued are spoken with it)."""
        self._speaker, self._voice, self._rate = speaker, voice, rate
        self._ready.set()

    def speak(self, text: str, *, interrupt: bool = True) -> None:
        """Queue ``text``; with ``interrupt`` anything being said or queued is dropped first."""
        text = text.strip()
        if not text:
            return
        with self._lock:
            if interrupt:
                self._generation += 1
                self._drain()
                self._output.stop()
            self._queue.put((self._generation, text))

    def stop(self) -> None:
        """Stop speaking now and forget everything queued."""
        with self._lock:
            self._generation += 1
            self._drain()
        self._output.stop()

    @property
    def is_speaking(self) -> bool:
        """True while a text is being synthesised or played, or waits in the queue; False from the moment `stop`
        (or an interrupting `speak`) makes the current text stale, even while its last block drains."""
        return (self._busy.is_set() and self._current == self._generation) or not self._queue.empty()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until the speech thread has nothing left to do (for tests and benchmarks); True when idle."""
        deadline = time.monotonic() + timeout
        while self._busy.is_set() or not self._queue.empty():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        """Stop and end the speech thread."""
        self.stop()
        self._queue.put(None)
        self._ready.set()
        self._thread.join(timeout=2)

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            generation, text = item
            self._current = generation
            self._busy.set()
            try:
                self._ready.wait()
                if generation == self._generation and self._speaker is not None:
                    self._say(generation, text)
            except Exception as error:  # a failing voice must not end the speech thread
                log.warning("speaking failed: %s", error, exc_info=log.isEnabledFor(logging.DEBUG))
            finally:
                self._busy.clear()

    def _say(self, generation: int, text: str) -> None:
        assert self._speaker is not None
        self._output.play(self._audio(generation, text, self._speaker.synthesize(text, voice=self._voice,
                                                                                 rate=self._rate)))

    def _audio(self, generation: int, text: str, chunks: Iterator[AudioChunk]) -> Iterator[AudioChunk]:
        first = True
        try:
            for chunk in chunks:
                if generation != self._generation:
                    self._output.stop()  # we are inside play(): this stop cannot be lost
                    return
                if first and self.on_first_audio is not None:
                    self.on_first_audio(text, time.perf_counter())
                first = False
                yield chunk
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # tell a streaming voice to stop generating
