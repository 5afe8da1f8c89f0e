"""Plays a stream of `AudioChunk`s through one continuous output stream, and stops at once; or writes a WAV file.

Why one stream fed by a callback: separate playback calls per chunk leave gaps that click, and a blocking write
cannot be interrupted. `Player.play` consumes the chunk generator as it arrives and pushes the samples into a
queue; PortAudio's callback (10 ms blocks) drains it. `Player.stop` sets a flag the next callback sees: it
aborts the stream, which drops what is still buffered, so the voice goes silent within one block plus the
device's own latency; `stop()` also aborts the stream itself, so it does not wait for a callback blocked on
the device. The time from `stop()` to the abort is kept in `last_stop_latency_s` (measured, not assumed).

Chunks at another sample rate than the stream's are resampled (linear interpolation, continuous across
chunks). `WavWriter` needs no sound device at all.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from engine.errors import DeviceError
from engine.speech.base import AudioChunk
from engine.speech.pcm import StreamResampler, WavWriter, write_wav

__all__ = ["NO_DEVICE_HINT", "Player", "StreamResampler", "WavWriter", "output_device", "write_wav"]

log = logging.getLogger(__name__)

NO_DEVICE_HINT = "Connect speakers or headphones, or write the speech to a file with --out FILE.wav."
BLOCK_SECONDS = 0.010
# Audio queued before the stream starts. A starting stream first fills the device's buffer in one burst; with
# less than this queued, a voice that only just keeps up leaves a gap (a click) right after its first chunk.
# Orpheus' first chunk (2 SNAC frames, 171 ms) already covers it; espeak-ng makes it in a millisecond or two.
PREROLL_SECONDS = 0.15
LATENCY = "low"  # PortAudio's low-latency buffer: stop() aborts it anyway, and pre-roll guards the start
# Keep at most this much audio queued ahead of the speaker: a stopped utterance wastes no more synthesis.
MAX_QUEUED_SECONDS = 2.0


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as error:  # PortAudio itself is missing
        raise DeviceError("SpaceVoice cannot reach the sound system (PortAudio is missing).", NO_DEVICE_HINT) from error
    return sounddevice


def output_device(device: int | str | None = None) -> dict[str, Any]:
    """Describe the output device that would be used; raise `DeviceError` in plain words when there is none."""
    sd = _sounddevice()
    try:
        info = sd.query_devices(device, kind="output")
    except (sd.PortAudioError, ValueError) as error:
        log.info("no output device: %s", error)
        raise DeviceError("No sound output device was found.", NO_DEVICE_HINT) from error
    if not info or int(info.get("max_output_channels", 0)) < 1:
        raise DeviceError("No sound output device was found.", NO_DEVICE_HINT)
    return dict(info)


class Player:
    """Plays chunk streams one at a time; `stop()` from any thread silences the current one at once.

    ``device``: a PortAudio device number or name (default: the system's default output). ``sample_rate``: run
    the stream at this rate and resample ourselves (default: the first chunk's rate when the device accepts it,
    else the device's own rate).
    """

    def __init__(self, device: int | str | None = None, *, sample_rate: int | None = None) -> None:
        self.device = device
        self.sample_rate = sample_rate
        self._stop_requested = threading.Event()
        self._finished = threading.Event()
        self._lock = threading.Lock()
        self._queue: collections.deque[np.ndarray] = collections.deque()
        self._queued = 0
        self._producer_done = False
        self._stop_time: float | None = None
        self._playing = False
        self._stream: Any = None
        self._stream_lock = threading.Lock()  # PortAudio calls on one stream must not overlap
        self.last_stop_latency_s: float | None = None
        self.underruns = 0
        self.device_underflows = 0
        self.samples_played = 0

    @property
    def is_playing(self) -> bool:
        """True while a stream is open and has not been stopped."""
        return self._playing and not self._stop_requested.is_set()

    def stop(self) -> None:
        """Silence the current playback (if any) within one audio block; safe from any thread."""
        if self._playing and not self._stop_requested.is_set():
            self._stop_time = time.perf_counter()
            self._stop_requested.set()
            # Abort here rather than wait for the next callback: the callback thread may be blocked until the
            # device has room (up to a period); aborting drops the device's buffer at once.
            with self._stream_lock:
                if self._stream is not None and self._stream.active:
                    with contextlib.suppress(Exception):
                        self._stream.abort()
                    self._note_stop_latency()

    def play(self, chunks: Iterable[AudioChunk]) -> bool:
        """Play ``chunks`` as they arrive; block until they have been heard. Return False when stopped."""
        sd = _sounddevice()
        info = output_device(self.device)
        iterator = iter(chunks)
        self._reset()
        stream = None
        resampler: StreamResampler | None = None
        self._playing = True
        try:
            for chunk in iterator:
                if self._stop_requested.is_set():
                    break
                if stream is None:
                    rate = self._stream_rate(sd, chunk.sample_rate, info)
                    resampler = StreamResampler(chunk.sample_rate, rate)
                    stream = self._open(sd, rate)
                    with self._stream_lock:
                        self._stream = stream
                assert resampler is not None
                if chunk.sample_rate != resampler.source_rate:
                    resampler = StreamResampler(chunk.sample_rate, resampler.target_rate)
                self._push(resampler.process(chunk.samples))
                if self._queued >= PREROLL_SECONDS * resampler.target_rate:
                    self._start(stream)
                self._wait_for_room(resampler.target_rate)
            with self._lock:
                self._producer_done = True
            if stream is not None:
                self._start(stream)
                while not self._finished.wait(0.05):
                    if self._stop_requested.is_set() and not stream.active:
                        break
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # tell the synthesizer to stop working on speech nobody will hear
            if stream is not None:
                with self._stream_lock:
                    with contextlib.suppress(Exception):
                        if self._stop_requested.is_set():
                            stream.abort()  # drops what is still buffered: silence now, not after the buffer
                        else:
                            stream.stop()
                    stream.close()
                    self._stream = None
            self._playing = False
        return not self._stop_requested.is_set()

    def _start(self, stream: Any) -> None:
        import sounddevice as sd

        with self._stream_lock:
            if not stream.active and not self._stop_requested.is_set() and not self._finished.is_set():
                try:
                    stream.start()
                except sd.PortAudioError as error:
                    log.info("cannot start output stream: %s", error)
                    raise DeviceError("The sound output device could not be started.",
                                      "Check that no other program holds it, or use --out FILE.wav.") from error

    def _note_stop_latency(self) -> None:
        if self._stop_time is not None and self.last_stop_latency_s is None:
            self.last_stop_latency_s = time.perf_counter() - self._stop_time

    def _reset(self) -> None:
        self._stop_requested.clear()
        self._finished.clear()
        with self._lock:
            self._queue.clear()
            self._queued = 0
            self._producer_done = False
        self._stop_time = None
        self.last_stop_latency_s = None
        self.underruns = 0
        self.device_underflows = 0
        self.samples_played = 0

    def _stream_rate(self, sd: Any, wanted: int, info: dict[str, Any]) -> int:
        if self.sample_rate:
            return self.sample_rate
        try:
            sd.check_output_settings(device=self.device, samplerate=wanted, channels=1, dtype="float32")
            return wanted
        except (sd.PortAudioError, ValueError):
            rate = int(info.get("default_samplerate") or 48000)
            log.info("output device refuses %d Hz; resampling to %d Hz", wanted, rate)
            return rate

    def _open(self, sd: Any, rate: int) -> Any:
        try:
            return sd.OutputStream(samplerate=rate, channels=1, dtype="float32", device=self.device,
                                   blocksize=max(1, int(rate * BLOCK_SECONDS)), latency=LATENCY,
                                   callback=self._callback, finished_callback=self._finished.set)
        except sd.PortAudioError as error:
            log.info("cannot open output stream: %s", error)
            raise DeviceError("The sound output device could not be opened.",
                              "Check that no other program holds it, or use --out FILE.wav.") from error

    def _push(self, samples: np.ndarray) -> None:
        if len(samples):
            with self._lock:
                self._queue.append(samples)
                self._queued += len(samples)

    def _wait_for_room(self, rate: int) -> None:
        while self._queued > MAX_QUEUED_SECONDS * rate and not self._stop_requested.is_set():
            self._stop_requested.wait(0.02)

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        import sounddevice as sd  # already imported by play(); the callback must not raise ImportError

        if status.output_underflow:
            self.device_underflows += 1

        if self._stop_requested.is_set():
            outdata.fill(0)
            self._note_stop_latency()
            raise sd.CallbackAbort
        filled = 0
        with self._lock:
            while filled < frames and self._queue:
                head = self._queue[0]
                take = min(frames - filled, len(head))
                outdata[filled:filled + take, 0] = head[:take]
                filled += take
                if take == len(head):
                    self._queue.popleft()
                else:
                    self._queue[0] = head[take:]
            self._queued -= filled
            done = self._producer_done and not self._queue
        self.samples_played += filled
        if filled < frames:
            outdata[filled:].fill(0)
            if done:
                raise sd.CallbackStop  # lets the buffered end play out, then finished_callback fires
            self.underruns += 1
