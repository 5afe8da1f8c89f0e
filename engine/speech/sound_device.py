"""Is there a sound output device? One answer for `check-setup`, the tray and the self-test, in plain words.

The question is PortAudio's (through sounddevice), the same library the player opens the device with, so the
answer matches what playing would do: no ALSA card and no PulseAudio/PipeWire sink means PortAudio has no default
output. Querying happens with native stderr silenced: ALSA prints its own complaints ("cannot find card") there,
which would reach the user's terminal and fail the self-test's error-output watch although nothing is wrong with
SpaceVoice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

log = logging.getLogger(__name__)

NO_SOUND = "No sound output device was found, so SpaceVoice's voice cannot be heard."
# What to do: the user's side first (the cable, the sound server), then how to get the answer anyway.
NO_SOUND_HINT = ("Connect speakers or headphones; on Linux check that PulseAudio or PipeWire runs (pactl info "
                 "lists a sink). Until then choose Speak through: screen reader in Settings, read the answer in "
                 "Show results, or on the command line write speech to a file with --out FILE.wav.")


@dataclass(frozen=True)
class SoundOutput:
    """The sound output PortAudio would use, or why there is none."""

    name: str | None  # the device's name; None when there is no output device
    host_api: str = ""  # "ALSA", "Windows WASAPI", ...
    problem: str | None = None  # the plain sentence and what to do, when ``name`` is None

    @property
    def available(self) -> bool:
        """True when a device is there to play on."""
        return self.name is not None

    def line(self) -> str:
        """One line for a setup report."""
        if self.name is None:
            return f"Sound output: none. {self.problem}"
        via = f" ({self.host_api})" if self.host_api else ""
        return f"Sound output: {self.name}{via}."


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 points at /dev/null for the block (ALSA writes its complaints there)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def find_sound_output() -> SoundOutput:
    """The default sound output device, or a `SoundOutput` whose ``problem`` says what is missing and what to do."""
    with _native_stderr_silenced():
        try:
            import sounddevice as sd
        except OSError as error:  # PortAudio itself is missing
            log.info("PortAudio cannot load: %s", error)
            return SoundOutput(None, problem=f"{NO_SOUND} The sound library (PortAudio) is missing: install "
                                             f"libportaudio2. {NO_SOUND_HINT}")
        try:
            info = sd.query_devices(kind="output")
            host_api = str(sd.query_hostapis(int(info["hostapi"]))["name"])
        except (sd.PortAudioError, ValueError, KeyError, TypeError) as error:
            log.info("no sound output device: %s", error)
            return SoundOutput(None, problem=f"{NO_SOUND} {NO_SOUND_HINT}")
    if not info or int(info.get("max_output_channels", 0)) < 1:
        return SoundOutput(None, problem=f"{NO_SOUND} {NO_SOUND_HINT}")
    return SoundOutput(str(info["name"]), host_api)
