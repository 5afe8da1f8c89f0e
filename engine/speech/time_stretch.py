"""Speech faster or slower without changing its pitch: WSOLA (waveform-similarity overlap-add), streamed.

Why WSOLA: a voice that cannot speak faster by itself (Orpheus; Piper beyond what its length scale allows)
still has to follow the user's rate. Resampling would raise the pitch; a phase vocoder smears speech and needs
an FFT per frame. WSOLA cuts the input into windowed frames read ``speed`` times faster than they are written,
and nudges each frame (within +-10 ms) to where it best continues the previous one, so the pitch periods line
up and no click is heard. It runs on chunks as they arrive (a voice streams), keeping only what the next frames
need; `finish` flushes the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from engine.speech.base import AudioChunk

__all__ = ["TimeStretcher", "stretch_chunks"]

FRAME_SECONDS = 0.030
SEARCH_SECONDS = 0.010


class TimeStretcher:
    """Plays ``speed`` times faster (2.0: half the duration) at the same pitch. Feed `process`, end with `finish`."""

    def __init__(self, speed: float, sample_rate: int) -> None:
        if not speed > 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        self.frame = max(16, int(FRAME_SECONDS * sample_rate) // 2 * 2)
        self.hop_out = self.frame // 2
        self.hop_in = self.hop_out * self.speed
        self.search = int(SEARCH_SECONDS * sample_rate)
        # A periodic Hann window: frames overlapping by half add up to exactly one.
        self.window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self.frame) / self.frame)).astype(np.float32)
        self._input = np.zeros(0, dtype=np.float32)
        self._input_start = 0  # absolute index of self._input[0]
        self._frames = 0  # frames written so far
        self._previous: int | None = None  # absolute input position of the last frame written
        self._output = np.zeros(self.frame, dtype=np.float32)  # overlap-add accumulator

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Take the next input samples; return the output that is final so far."""
        self._input = np.concatenate([self._input, np.asarray(samples, dtype=np.float32)])
        return self._run(final=False)

    def finish(self) -> np.ndarray:
        """The rest of the output (the input's end, padded with silence for the last frames)."""
        pad = np.zeros(self.frame + self.search * 2 + int(self.hop_in) + 1, dtype=np.float32)
        end = self._input_start + len(self._input)
        self._input = np.concatenate([self._input, pad])
        out = self._run(final=True, end=end)
        return np.concatenate([out, self._output[: self.hop_out]])

    def _run(self, *, final: bool, end: int | None = None) -> np.ndarray:
        pieces: list[np.ndarray] = []
        available = self._input_start + len(self._input)
        while True:
            nominal = round(self._frames * self.hop_in)
            if final and end is not None and nominal >= end:
                break
            if nominal + self.search + self.frame > available:
                break
            position = self._best_position(nominal)
            local = position - self._input_start
            self._output[: self.frame] += self._input[local : local + self.frame] * self.window
            pieces.append(self._output[: self.hop_out].copy())
            self._output = np.concatenate([self._output[self.hop_out :], np.zeros(self.hop_out, dtype=np.float32)])
            self._previous = position
            self._frames += 1
        self._trim()
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)

    def _best_position(self, nominal: int) -> int:
        low = max(self._input_start, nominal - self.search)
        if self._previous is None:
            return max(nominal, self._input_start)
        # The previous frame's natural continuation: where the input would go on had we not skipped ahead.
        target_start = self._previous + self.hop_out - self._input_start
        target = self._input[target_start : target_start + self.frame]
        region = self._input[low - self._input_start : nominal + self.search + self.frame - self._input_start]
        if len(target) < self.frame or len(region) < self.frame:
            return max(nominal, self._input_start)
        scores = np.correlate(region, target, mode="valid")
        return low + int(np.argmax(scores))

    def _trim(self) -> None:
        # Keep what the next frame can reach: its search window and the previous frame's continuation.
        nominal = round(self._frames * self.hop_in)
        keep_from = nominal - self.search
        if self._previous is not None:
            keep_from = min(keep_from, self._previous + self.hop_out)
        drop = max(0, keep_from - self._input_start)
        if drop:
            self._input = self._input[drop:]
            self._input_start += drop


def stretch_chunks(chunks: Iterable[AudioChunk], speed: float) -> Iterator[AudioChunk]:
    """``chunks`` played ``speed`` times faster (pitch kept); unchanged when ``speed`` is 1."""
    if abs(speed - 1.0) < 1e-3:
        yield from chunks
        return
    stretcher: TimeStretcher | None = None
    rate = 0
    try:
        for chunk in chunks:
            if stretcher is None or chunk.sample_rate != rate:
                if stretcher is not None:
                    yield AudioChunk(stretcher.finish(), rate)
                rate, stretcher = chunk.sample_rate, TimeStretcher(speed, chunk.sample_rate)
            out = stretcher.process(chunk.samples)
            if len(out):
                yield AudioChunk(out, rate)
        if stretcher is not None:
            tail = stretcher.finish()
            if len(tail):
                yield AudioChunk(tail, rate)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # a stopped listener stops the voice behind us too
