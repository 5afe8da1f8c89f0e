"""The speech contract shared by every voice and the player."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class AudioChunk:
    """Mono PCM: ``samples`` float32 in [-1, 1], at ``sample_rate`` Hz."""

    samples: np.ndarray
    sample_rate: int

    @property
    def seconds(self) -> float:
        """Duration of the chunk."""
        return len(self.samples) / float(self.sample_rate)


@runtime_checkable
class Speaker(Protocol):
    """A voice. ``synthesize`` yields audio as soon as it has some, so playback starts early."""

    name: str

    def is_available(self) -> str | None:
        """Return ``None`` when this voice can speak here, else a plain reason why not. Must be cheap."""
        ...

    def synthesize(self, text: str, *, voice: str | None = None, rate: int | None = None) -> Iterator[AudioChunk]:
        """Yield PCM chunks for ``text``. Stops early when the caller stops iterating."""
        ...


@dataclass
class SpeechSpy:
    """A speaker that records what would have been said (NVDA's speech spy): tests assert on words.

    It yields a short silent chunk per sentence so the player path is exercised too.
    """

    name: str = "spy"
    spoken: list[str] = field(default_factory=list)
    said: threading.Event = field(default_factory=threading.Event)

    def is_available(self) -> str | None:
        """The spy is always available."""
        return None

    def synthesize(self, text: str, *, voice: str | None = None, rate: int | None = None) -> Iterator[AudioChunk]:
        """Record ``text`` and yield 10 ms of silence."""
        self.spoken.append(text)
        self.said.set()
        yield AudioChunk(np.zeros(160, dtype=np.float32), 16000)
