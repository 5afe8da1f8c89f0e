"""PCM audio in and out of files, and resampling: what the voices and the player share.

`StreamResampler` converts the rate of a stream chunk by chunk (linear interpolation that keeps its phase, so
chunk edges do not click). `WavWriter` / `write_wav` write 16-bit mono WAV files that appear complete or not at
all; they need no sound device. `read_wav_chunks` and `pcm_to_float` turn PCM from a voice into `AudioChunk`s.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import wave
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from engine.errors import InputError, shown_path
from engine.speech.base import AudioChunk

CHUNK_SECONDS = 0.1


class StreamResampler:
    """Linear-interpolation resampler that keeps its phase across chunks, so chunk edges do not click."""

    def __init__(self, source_rate: int, target_rate: int) -> None:
        self.source_rate = source_rate
        self.target_rate = target_rate
        self._step = source_rate / target_rate
        self._pos = 0.0
        self._prev: np.ndarray | None = None

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Resample the next piece of the signal."""
        samples = np.asarray(samples, dtype=np.float32)
        if self.source_rate == self.target_rate:
            return samples
        x = samples if self._prev is None else np.concatenate([self._prev, samples])
        last = len(x) - 1
        if last < 1 or self._pos > last:
            self._prev = x
            return np.zeros(0, dtype=np.float32)
        count = int(np.floor((last - self._pos) / self._step)) + 1
        positions = self._pos + self._step * np.arange(count)
        out = np.interp(positions, np.arange(len(x)), x).astype(np.float32)
        self._pos = self._pos + self._step * count - last  # now relative to x[last], the next call's first sample
        self._prev = x[last:]
        return out


def pcm_to_float(data: bytes, sample_width: int, channels: int = 1) -> np.ndarray:
    """Convert little-endian PCM bytes (8, 16 or 32 bit) to mono float32 in [-1, 1]."""
    if sample_width == 1:
        samples = (np.frombuffer(data, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif sample_width == 2:
        samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    elif sample_width == 4:
        samples = np.frombuffer(data, dtype="<i4").astype(np.float32) / 2147483648.0
    else:
        raise ValueError(f"unsupported sample width {sample_width}")
    if channels > 1:
        samples = samples[: len(samples) - len(samples) % channels].reshape(-1, channels).mean(axis=1)
    return samples.astype(np.float32)


def read_wav_chunks(path: Path, chunk_seconds: float = CHUNK_SECONDS) -> Iterator[AudioChunk]:
    """Yield a PCM WAV file as mono float chunks of about ``chunk_seconds``."""
    with wave.open(str(path), "rb") as source:
        rate, width, channels = source.getframerate(), source.getsampwidth(), source.getnchannels()
        frames = max(1, int(rate * chunk_seconds))
        while True:
            data = source.readframes(frames)
            if not data:
                break
            yield AudioChunk(pcm_to_float(data, width, channels), rate)


class WavWriter:
    """Writes chunks to a 16-bit mono WAV file; the file appears complete or not at all. Needs no sound device."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.sample_rate: int | None = None
        self.frames = 0
        self._resampler: StreamResampler | None = None
        folder = self.path.parent
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part", dir=folder)
        except OSError as error:
            raise InputError(f"SpaceVoice cannot write the speech to {self.path} ({error.strerror}).",
                             "Choose a folder that exists and that you can write to.") from error
        self._tmp = Path(tmp)
        self._file = os.fdopen(fd, "wb")
        self._wave: wave.Wave_write | None = None

    def write(self, chunk: AudioChunk) -> None:
        """Append one chunk (resampled to the first chunk's rate if it differs)."""
        if self._wave is None:
            self._start(chunk.sample_rate)
        assert self._wave is not None and self._resampler is not None and self.sample_rate is not None
        if chunk.sample_rate != self._resampler.source_rate:
            self._resampler = StreamResampler(chunk.sample_rate, self.sample_rate)
        samples = self._resampler.process(chunk.samples)
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
        self._wave.writeframes(pcm.tobytes())
        self.frames += len(pcm)

    def _start(self, rate: int) -> None:
        self.sample_rate = rate
        self._resampler = StreamResampler(rate, rate)
        self._wave = wave.open(self._file, "wb")  # noqa: SIM115 - closed in close()
        self._wave.setnchannels(1)
        self._wave.setsampwidth(2)
        self._wave.setframerate(rate)

    def close(self) -> None:
        """Finish the file and move it into place."""
        if self._wave is None:
            self._start(24000)  # nothing was said: still a valid, empty WAV file
        assert self._wave is not None
        self._wave.close()
        self._file.close()
        os.replace(self._tmp, self.path)

    def discard(self) -> None:
        """Drop the partial file (after an error)."""
        if self._wave is not None:
            with contextlib.suppress(Exception):
                self._wave.close()  # else its finaliser would write to the closed file later
            self._wave = None
        with contextlib.suppress(Exception):
            self._file.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink()

    @property
    def seconds(self) -> float:
        """Duration written so far."""
        return self.frames / float(self.sample_rate) if self.sample_rate else 0.0


def write_wav(path: Path | str, chunks: Iterable[AudioChunk]) -> float:
    """Write ``chunks`` to ``path`` as WAV; return the duration in seconds. A failure leaves no partial file."""
    writer = WavWriter(path)
    try:
        for chunk in chunks:
            _written(writer.write, chunk, writer.path)
        _written(writer.close, None, writer.path)
    except BaseException:
        writer.discard()
        raise
    return writer.seconds


def _written(step: Callable[..., None], chunk: AudioChunk | None, path: Path) -> None:
    """Run one write step; a full disk or a lost folder is one plain `InputError` (the partial file is dropped)."""
    try:
        step() if chunk is None else step(chunk)
    except OSError as error:
        raise InputError(f"SpaceVoice could not finish writing the speech to {shown_path(path)} "
                         f"({error.strerror or error}); no partial file was left.",
                         "Choose a folder with free space that you can write to.") from error
