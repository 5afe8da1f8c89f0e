"""Real audio sinks for the speech tests, with no sound card: ALSA configurations PortAudio sees as its default
output, and a listener that drains a FIFO sink at real-time pace (a sound card's clock), timestamping what it hears.

ALSA's ``null`` plugin swallows samples as fast as they come, so it cannot show when audio stops. The paced sink is
ALSA's ``file`` plugin writing raw 16-bit 48 kHz mono into a FIFO (shrunk to one page, ~43 ms) that the listener
reads at 48000 samples per second: the player's writes block exactly as they would on a real card. Timestamps use
``time.perf_counter`` (CLOCK_MONOTONIC on Linux), comparable across processes.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
RATE = 48000
LOUD = 300  # 16-bit amplitude above which a block counts as audible (espeak-ng speech peaks near 10000)
_F_SETPIPE_SZ = 1031

NO_DEVICE_CONF = "pcm.!default { type hw card \"NoSuchCardForTests\" }\n"  # an empty file crashes alsa-lib
NULL_CONF = "pcm.!default { type null }\n"
FIFO_CONF = """
pcm.!default {{
  type plug
  slave {{ pcm "fifosink"; format S16_LE; rate {rate}; channels 1 }}
}}
pcm.fifosink {{
  type file
  slave.pcm {{ type null }}
  file "{fifo}"
  format raw
}}
"""


def alsa_env(folder: Path, conf: str) -> dict[str, str]:
    """Environment variables that make ALSA (and so PortAudio) use only ``conf``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "asound.conf"
    path.write_text(conf)
    return {"ALSA_CONFIG_PATH": str(path)}


class PacedListener(threading.Thread):
    """Reads the FIFO sink at real-time pace; records when audible audio arrived and how much was heard."""

    def __init__(self, fifo: Path, *, keep: bool = False) -> None:
        super().__init__(daemon=True)
        self.fifo = fifo
        self.keep = keep
        self.recording: list[np.ndarray] = []  # everything heard, when ``keep``
        self.audible: list[float] = []
        self.samples = 0
        self.started_at: float | None = None
        self.ready = threading.Event()
        self._done = threading.Event()

    def run(self) -> None:
        # Shrink the pipe before any writer can fill it (a full pipe refuses to shrink). The descriptor stays open
        # for the listener's whole life, so every stream the player opens (one per utterance) finds a reader.
        fd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
        fcntl.fcntl(fd, _F_SETPIPE_SZ, 4096)
        self.ready.set()
        block = RATE // 100
        clock: float | None = None  # when the current writer's audio started, for pacing
        paced = 0
        try:
            while True:
                if clock is not None:
                    delay = clock + paced / RATE - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                select.select([fd], [], [], 0.05)
                try:
                    data = os.read(fd, block * 2)
                except BlockingIOError:  # a writer is connected but has nothing yet
                    continue
                if not data:  # no writer at the moment: between utterances, or finished
                    if self._done.is_set():
                        break
                    clock, paced = None, 0
                    time.sleep(0.005)
                    continue
                now = time.perf_counter()
                if clock is None:
                    clock = now
                    self.started_at = self.started_at or now
                samples = np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2")
                if len(samples) and int(np.abs(samples.astype(np.int32)).max()) > LOUD:
                    self.audible.append(now)
                self.samples += len(samples)
                paced += len(samples)
                if self.keep:
                    self.recording.append(samples.copy())
        finally:
            os.close(fd)

    @property
    def audible_seconds(self) -> float:
        """How long the listener heard sound for: from the first to the last audible block."""
        return self.audible[-1] - self.audible[0] if self.audible else 0.0

    def release(self) -> None:
        """Stop listening once the current writer (if any) has finished; wait for the thread."""
        self._done.set()
        self.join(10)


def paced_sink(folder: Path, *, keep: bool = False) -> tuple[dict[str, str], PacedListener]:
    """A FIFO sink and its listener (started; ``keep`` records the samples); returns the environment for the
    player's process."""
    fifo = folder / "sink.fifo"
    folder.mkdir(parents=True, exist_ok=True)
    os.mkfifo(fifo)
    env = alsa_env(folder, FIFO_CONF.format(rate=RATE, fifo=fifo))
    listener = PacedListener(fifo, keep=keep)
    listener.start()
    listener.ready.wait(10)
    return env, listener


def run_python(code: str, env: dict[str, str], timeout: float = 120) -> dict:
    """Run ``code`` in a fresh Python (PortAudio reads the ALSA configuration once per process); it must print
    one JSON object as its last line, which is returned."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **env}, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
