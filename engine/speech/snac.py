"""SNAC 24 kHz decoding on onnxruntime: codes -> PCM, in one shot or streamed with overlapping context.

Orpheus emits 7 audio tokens per SNAC frame; a frame is 1 coarse (L0), 2 middle (L1) and 4 fine (L2) codes and
decodes to 2048 samples (85.3 ms at 24 kHz). The decoder is a stack of non-causal convolutions with no attention,
so a sample depends only on codes within a few frames of it (its receptive field, ~2.5 frames each side).

`StreamingSnacDecoder` uses that: it decodes growing chunks, each with a few frames of already-emitted codes
before it (left context) and a few not-yet-emitted codes after it (lookahead), and keeps only the chunk's own
samples. The first audio comes after 2 frames; later chunks grow fourfold up to `max_chunk` frames, so the total
decoder work stays near one-shot decoding: at most 1.5x for any utterance of 12 frames or more (upstream's recipe
decodes 4 frames for every frame it plays, ~4x). Chunks are contiguous slices of one waveform: nothing is dropped
or overlapped at playback, so there are no clicks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ModelError

log = logging.getLogger(__name__)

SAMPLE_RATE = 24000
SAMPLES_PER_FRAME = 2048
CODEBOOK_SIZE = 4096
TOKENS_PER_FRAME = 7
#: Files accepted as a SNAC decoder, in order: ours and onnx-community/snac_24khz-ONNX's (root or ``onnx/``).
DECODER_FILES = (
    "decoder_model.onnx",
    "onnx/decoder_model.onnx",
    "snac_decoder.onnx",
)
_INPUT_NAMES = ("audio_codes.0", "audio_codes.1", "audio_codes.2")


def frames_to_levels(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split ``[n, 7]`` frames into SNAC's three levels ``[1, n]``, ``[1, 2n]``, ``[1, 4n]`` (int64).

    A frame's 7 codes are ordered L0, L1, L2, L2, L1, L2, L2 (Orpheus' layout).
    """
    frames = np.asarray(frames, dtype=np.int64).reshape(-1, TOKENS_PER_FRAME)
    level_0 = frames[:, 0]
    level_1 = frames[:, [1, 4]].reshape(-1)
    level_2 = frames[:, [2, 3, 5, 6]].reshape(-1)
    return level_0[None, :], level_1[None, :], level_2[None, :]


def clamp_codes(frames: np.ndarray) -> tuple[np.ndarray, int]:
    """Return ``frames`` with every code outside 0..4095 clamped into range, and how many were.

    A bad code must never make a frame vanish (upstream skips such frames, which shifts everything after it);
    clamping keeps the frame's timing and costs at most one odd-sounding 85 ms frame.
    """
    frames = np.asarray(frames, dtype=np.int64).reshape(-1, TOKENS_PER_FRAME)
    bad = int(np.count_nonzero((frames < 0) | (frames >= CODEBOOK_SIZE)))
    if bad:
        frames = np.clip(frames, 0, CODEBOOK_SIZE - 1)
    return frames, bad


def find_decoder(folder: Path) -> Path:
    """The SNAC decoder file inside ``folder`` (either layout), or `ModelError`."""
    folder = Path(folder)
    if folder.is_file():
        return folder
    for name in DECODER_FILES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise ModelError(
        f"No SNAC decoder was found in {folder}.",
        "Run: main.py models download snac-24khz (or main.py models export snac).",
    )


class SnacDecoder:
    """The SNAC decoder on onnxruntime: ``[n, 7]`` code frames -> ``n * 2048`` float32 samples at 24 kHz.

    ``frames_decoded`` counts every frame run through the network, so callers can measure decoder work.
    """

    def __init__(self, model: Path, *, device: str | None = None, threads: int = 0) -> None:
        from engine.runtime import create_session

        self.path = find_decoder(Path(model))
        self.session: Any = create_session(self.path, device=device, threads=threads, name="snac-decoder")
        names = [node.name for node in self.session.get_inputs()]
        if len(names) != 3:
            raise ModelError(
                f"{self.path.name} is not a 24 kHz SNAC decoder (it takes {len(names)} inputs, not 3).",
                "Run: main.py models verify",
            )
        # Our export and onnx-community's share the names; any other export is taken in level order.
        self.input_names = list(_INPUT_NAMES) if set(names) == set(_INPUT_NAMES) else names
        self.output_name = self.session.get_outputs()[0].name
        self.frames_decoded = 0
        self.calls = 0

    def decode(self, frames: np.ndarray) -> np.ndarray:
        """Decode ``[n, 7]`` frames (codes 0..4095) to ``n * 2048`` samples."""
        frames = np.asarray(frames, dtype=np.int64).reshape(-1, TOKENS_PER_FRAME)
        if len(frames) == 0:
            return np.zeros(0, dtype=np.float32)
        frames, bad = clamp_codes(frames)
        if bad:
            log.warning("SNAC: %d code(s) out of range were clamped", bad)
        feed = dict(zip(self.input_names, frames_to_levels(frames), strict=True))
        audio = self.session.run([self.output_name], feed)[0]
        self.frames_decoded += len(frames)
        self.calls += 1
        return np.asarray(audio, dtype=np.float32).reshape(-1)


@dataclass
class StreamStats:
    """What one stream cost: frames received, frames run through the decoder, decoder calls (and how many of them
    were decoded early to keep playback going)."""

    frames_in: int = 0
    frames_decoded: int = 0
    chunks: int = 0
    early_chunks: int = 0

    @property
    def work_ratio(self) -> float:
        """Decoder work relative to decoding every frame once (one-shot = 1.0)."""
        return self.frames_decoded / self.frames_in if self.frames_in else 0.0


class StreamingSnacDecoder:
    """Feed code frames as they are generated; get back contiguous PCM chunks of one waveform.

    The first chunk (``first_chunk`` frames) is decoded as soon as ``first_chunk + first_lookahead`` frames exist
    (2 by default). Each later chunk is ``growth`` times the previous one, up to ``max_chunk`` frames, decoded with
    ``left_context`` frames before it and ``lookahead`` frames after it. `finish` decodes the rest.

    With ``adaptive`` (the default), a chunk is also decoded early, with the frames there are, when the audio
    already handed out would run out before the next frame arrives: it assumes playback started with the first
    chunk and runs on, and measures how fast frames arrive (``clock``; tests pass their own). With generation well
    ahead of real time this rarely triggers; close to real time it trades decoder work for no gaps in playback.
    """

    def __init__(
        self,
        decoder: SnacDecoder,
        *,
        left_context: int = 2,
        lookahead: int = 2,
        first_chunk: int = 1,
        first_lookahead: int = 1,
        growth: int = 4,
        max_chunk: int = 32,
        adaptive: bool = True,
        margin: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if first_chunk < 1 or max_chunk < first_chunk or growth < 1:
            raise ValueError("chunk sizes and growth must be positive")
        if min(left_context, lookahead, first_lookahead) < 0:
            raise ValueError("contexts must not be negative")
        self.decoder = decoder
        self.left_context = left_context
        self.lookahead = lookahead
        self.first_lookahead = first_lookahead
        self.growth = growth
        self.max_chunk = max_chunk
        self._frames: list[np.ndarray] = []
        self._emitted = 0
        self._next_chunk = first_chunk
        self.stats = StreamStats()
        self.clamped_codes = 0
        # The last decode's window and audio: when the stream ends right after it, its lookahead samples were
        # decoded against the true end of the codes, exactly as one-shot decoding sees it, so they are reused.
        self._last: tuple[int, int, np.ndarray] | None = None
        self.adaptive = adaptive
        self.margin = margin
        self.clock = clock
        self._first_push: float | None = None
        self._first_audio: float | None = None

    def push(self, frame: np.ndarray) -> np.ndarray | None:
        """Add one 7-code frame; return the next chunk of samples when one is ready, else ``None``."""
        codes, bad = clamp_codes(np.asarray(frame).reshape(1, TOKENS_PER_FRAME))
        self.clamped_codes += bad
        self._frames.append(codes[0])
        self.stats.frames_in += 1
        now = self.clock()
        if self._first_push is None:
            self._first_push = now
        lookahead = self.first_lookahead if self._emitted == 0 else self.lookahead
        ready = len(self._frames) - self._emitted - lookahead  # frames decodable with their full lookahead
        if ready >= self._next_chunk:
            end = self._emitted + self._next_chunk
            self._next_chunk = min(self._next_chunk * self.growth, self.max_chunk)
        elif ready >= 1 and self._starving(now):
            end = self._emitted + ready
            self.stats.early_chunks += 1
        else:
            return None
        chunk = self._decode(end, min(len(self._frames), end + lookahead))
        if self._first_audio is None:
            self._first_audio = now
        return chunk

    def _starving(self, now: float) -> bool:
        """Would the audio handed out so far run dry before the next frame arrives (plus ``margin`` to decode)?

        Deciding at the last moment makes each early chunk as large as the frames allow.
        """
        if not self.adaptive or self._first_audio is None or self._first_push is None:
            return False
        frame_seconds = SAMPLES_PER_FRAME / SAMPLE_RATE
        left = self._emitted * frame_seconds - (now - self._first_audio)
        interval = (now - self._first_push) / max(1, self.stats.frames_in - 1)
        return left < interval + self.margin

    def finish(self) -> np.ndarray:
        """Decode and return every sample not yet returned (empty when there is none)."""
        if self._emitted >= len(self._frames):
            return np.zeros(0, dtype=np.float32)
        if self._last is not None and self._last[1] == len(self._frames):
            start, _, audio = self._last
            tail = audio[(self._emitted - start) * SAMPLES_PER_FRAME :]
            self._emitted = len(self._frames)
            return tail
        return self._decode(len(self._frames), len(self._frames))

    def _decode(self, end: int, window_end: int) -> np.ndarray:
        start = max(0, self._emitted - self.left_context)
        audio = self.decoder.decode(np.stack(self._frames[start:window_end]))
        self.stats.frames_decoded += window_end - start
        self.stats.chunks += 1
        offset = (self._emitted - start) * SAMPLES_PER_FRAME
        chunk = audio[offset : offset + (end - self._emitted) * SAMPLES_PER_FRAME]
        self._last = (start, window_end, audio)
        self._emitted = end
        return chunk

    def stream(self, frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        """Push every frame of ``frames`` and yield the chunks as they become ready, then the rest."""
        for frame in frames:
            chunk = self.push(frame)
            if chunk is not None and len(chunk):
                yield chunk
        tail = self.finish()
        if len(tail):
            yield tail


__all__ = [
    "CODEBOOK_SIZE",
    "DECODER_FILES",
    "SAMPLES_PER_FRAME",
    "SAMPLE_RATE",
    "SnacDecoder",
    "StreamStats",
    "StreamingSnacDecoder",
    "clamp_codes",
    "find_decoder",
    "frames_to_levels",
]
