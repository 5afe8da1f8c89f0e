"""The system voice: espeak-ng on Linux, SAPI5 (Windows) or NSSS (macOS) through pyttsx3, rendered to PCM.

The voice never plays sound itself: it yields `AudioChunk`s that our `Player` plays (or a `WavWriter` saves), so
stop works the same as for Orpheus. Two backends behind one `SystemVoice`:

* ``espeak-ng`` (Linux default): ``espeak-ng --stdout`` in a subprocess, text on stdin (so text starting with
  "-" is never read as an option), WAV read from its stdout as it is produced. Measured here: first audio about
  10-20 ms after the call, and a stopped utterance simply kills the process. pyttsx3's own Linux driver is not
  used: its ``say`` shells out to ``aplay`` (silent without a sound card), its ``save_to_file`` writes nothing on
  the first ``runAndWait`` after ``init`` and prints "Audio saved to ..." on stdout, and it only returns audio
  once the whole text is rendered.
* ``pyttsx3`` (Windows, macOS, or Linux without the espeak-ng program): ``save_to_file`` into a fresh temporary
  WAV per sentence, never ``say`` (a later ``say`` would overwrite that file). pyttsx3 engines are not
  thread-safe and ``runAndWait`` can hang, so one dedicated thread owns the engine and every job has a timeout;
  a hung engine is abandoned and a new one started for the next job.

Voice and rate come from the settings ``system_voice`` (name or id; empty: the system default) and ``rate``
(words per minute). Orpheus' inline tags such as ``<laugh>`` are removed: a system voice would read them out.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from engine.errors import DeviceError, InputError, SpaceVoiceError
from engine.speech.base import AudioChunk
from engine.speech.pcm import pcm_to_float, read_wav_chunks

log = logging.getLogger(__name__)

_TAG = re.compile(r"<\s*(laugh|chuckle|sigh|cough|sniffle|groan|yawn|gasp)\s*>", re.IGNORECASE)
CHUNK_SECONDS = 0.1  # espeak-ng output is read in pieces this long
DEFAULT_RATE = 180
MIN_RATE, MAX_RATE = 80, 900  # the rate setting's bounds (engine/settings.py)


def strip_tags(text: str) -> str:
    """Remove Orpheus' emotion tags, which a system voice would read out as words."""
    return re.sub(r"\s{2,}", " ", _TAG.sub(" ", text)).strip()


class SystemVoice:
    """The operating system's voice as a `Speaker`. ``backend`` forces "espeak-ng" or "pyttsx3"."""

    name = "system"

    def __init__(self, settings: Any = None, *, backend: str | None = None) -> None:
        self.default_voice = str(getattr(settings, "system_voice", "") or "")
        self.default_rate = int(getattr(settings, "rate", DEFAULT_RATE) or DEFAULT_RATE)
        self.backend = backend or ("espeak-ng" if sys.platform.startswith("linux") and _espeak_ng() else "pyttsx3")
        self._pyttsx3: Pyttsx3Renderer | None = None

    def is_available(self) -> str | None:
        """``None`` when this voice can speak here, else the reason (cheap: no speech is made)."""
        if self.backend == "espeak-ng":
            return None if _espeak_ng() else "The espeak-ng program is not installed."
        try:
            import pyttsx3  # noqa: F401
        except ImportError:
            return "The pyttsx3 package is not installed."
        return None

    def voices(self) -> list[tuple[str, str]]:
        """The voices this backend can use, as (what to put in the ``system_voice`` setting, description)."""
        if self.backend == "espeak-ng":
            program = _espeak_ng()
            if program is None:
                return []
            listing = subprocess.run([program, "--voices"], capture_output=True, text=True, timeout=30).stdout
            found = []
            for line in listing.splitlines()[1:]:
                fields = line.split()
                if len(fields) >= 4:  # priority, language, age/gender, name, file, ...
                    found.append((fields[1], fields[3].replace("_", " ")))
            return found
        if self._pyttsx3 is None:
            self._pyttsx3 = Pyttsx3Renderer()
        return self._pyttsx3.voices()

    def synthesize(self, text: str, *, voice: str | None = None, rate: int | None = None) -> Iterator[AudioChunk]:
        """Yield PCM chunks of ``text`` spoken by the system voice."""
        text = strip_tags(text)
        if not text:
            return
        voice = voice if voice is not None else self.default_voice
        # espeak-ng itself goes past 450 words per minute with its sonic speed-up (Debian's build links libsonic;
        # measured: -s 800 speaks a 26-word sentence in 1.7 s, 930 wpm); the settings refuse what is out of range.
        rate = max(MIN_RATE, min(MAX_RATE, int(rate or self.default_rate)))
        if self.backend == "espeak-ng":
            yield from _espeak_ng_stream(text, voice, rate)
            return
        if self._pyttsx3 is None:
            self._pyttsx3 = Pyttsx3Renderer()
        yield from self._pyttsx3.render(text, voice, rate)


def _espeak_ng() -> str | None:
    return shutil.which("espeak-ng")


def _espeak_ng_stream(text: str, voice: str, rate: int) -> Iterator[AudioChunk]:
    program = _espeak_ng()
    if program is None:
        raise DeviceError("The system voice is not installed (espeak-ng is missing).",
                          "Install the espeak-ng package, or choose another voice.")
    command = [program, "--stdout", "-b", "1", "-s", str(rate)]
    if voice:
        command += ["-v", voice]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    stdin = process.stdin
    # Feed stdin from a thread: espeak-ng may fill its stdout pipe before it has read all of a long text.
    feeder = threading.Thread(target=_feed, args=(stdin, text.encode("utf-8")), daemon=True)
    feeder.start()
    try:
        header = process.stdout.read(44)
        if len(header) < 44 or header[:4] != b"RIFF" or header[36:40] != b"data":
            process.wait(10)
            detail = process.stderr.read().decode("utf-8", "replace").strip()
            log.info("espeak-ng failed (exit %s): %s", process.returncode, detail)
            if "voice" in detail.lower():
                raise InputError(f"The system voice '{voice}' is not installed.",
                                 "Run 'espeak-ng --voices' to list voices, or leave the system voice setting empty.")
            raise DeviceError("The system voice failed to speak.", "Run again with -vv for details.")
        rate_hz = int.from_bytes(header[24:28], "little")
        width = int.from_bytes(header[34:36], "little") // 8
        step = max(width, int(rate_hz * CHUNK_SECONDS) * width)
        pending = b""
        while True:
            data = process.stdout.read1(step) if hasattr(process.stdout, "read1") else process.stdout.read(step)
            if not data:
                break
            pending += data
            usable = len(pending) - len(pending) % width
            if usable:
                yield AudioChunk(pcm_to_float(pending[:usable], width), rate_hz)
                pending = pending[usable:]
        process.wait(10)
    finally:
        # Reached on normal end, on error, and when the listener stopped (the generator is closed early).
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            stream.close()


def _feed(stdin: Any, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the process was killed because the listener stopped
        stdin.write(data)
        stdin.close()


class Pyttsx3Renderer:
    """Owns one pyttsx3 engine on its own thread and runs every call on it there, each with a timeout."""

    def __init__(self, timeout_s: float = 30.0) -> None:
        self.timeout_s = timeout_s
        self._jobs: queue.Queue[tuple[Callable[[Any], Any], queue.Queue[tuple[Any, BaseException | None]]]]
        self._start_owner()

    def _start_owner(self) -> None:
        self._jobs = queue.Queue()
        threading.Thread(target=self._run, args=(self._jobs,), name="pyttsx3-owner", daemon=True).start()

    def call(self, job: Callable[[Any], Any], timeout_s: float | None = None) -> Any:
        """Run ``job(engine)`` on the owner thread and return its result (its error is raised here)."""
        done: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue()
        self._jobs.put((job, done))
        try:
            result, error = done.get(timeout=timeout_s or self.timeout_s)
        except queue.Empty:
            # A hung engine: leave it to its daemon thread and start afresh next time.
            self._start_owner()
            raise DeviceError("The system voice did not respond.", "Try again, or restart SpaceVoice.") from None
        if isinstance(error, SpaceVoiceError):
            raise error
        if error is not None:
            raise DeviceError("The system voice failed to speak.", "Run again with -vv for details.") from error
        return result

    def render(self, text: str, voice: str, rate: int) -> Iterator[AudioChunk]:
        """Render ``text`` in the owner thread, then yield it in 100 ms chunks."""
        # A private folder (0700): the file's name is handed to another library, so it must not be guessable or
        # pre-creatable by another user in a shared temp folder; "the file exists" then means pyttsx3 wrote it.
        folder = Path(tempfile.mkdtemp(prefix="spacevoice-"))
        path = folder / "speech.wav"

        def save(engine: Any) -> None:
            engine.setProperty("rate", rate)
            if voice:
                engine.setProperty("voice", _pyttsx3_voice_id(engine, voice))
            for _attempt in range(2):
                # pyttsx3's espeak driver loses the first job after init; a second run writes it.
                engine.save_to_file(text, str(path))
                engine.runAndWait()
                if path.exists() and path.stat().st_size > 44:
                    break

        try:
            self.call(save, self.timeout_s + len(text) / 20)
            yield from read_wav_chunks(path)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def voices(self) -> list[tuple[str, str]]:
        """The installed voices as (id, name)."""
        return [(str(v.id), str(v.name)) for v in self.call(lambda engine: engine.getProperty("voices") or [])]

    @staticmethod
    def _run(jobs: queue.Queue[tuple[Callable[[Any], Any], queue.Queue[tuple[Any, BaseException | None]]]]) -> None:
        engine = None
        while True:
            job, done = jobs.get()
            try:
                if engine is None:
                    import pyttsx3

                    if sys.platform == "win32":
                        import comtypes  # SAPI5 is COM: this thread needs its own apartment

                        comtypes.CoInitialize()
                    engine = pyttsx3.init()
                done.put((job(engine), None))
            except Exception as error:  # handed to the caller's thread, which explains it
                log.debug("pyttsx3 failed", exc_info=True)
                done.put((None, error))


def _pyttsx3_voice_id(engine: Any, wanted: str) -> str:
    voices = engine.getProperty("voices") or []
    for candidate in voices:
        if wanted.lower() in (str(candidate.id).lower(), str(candidate.name).lower()):
            return str(candidate.id)
    for candidate in voices:
        if wanted.lower() in str(candidate.name).lower():
            return str(candidate.id)
    raise InputError(f"The system voice '{wanted}' is not installed.",
                     "Leave the system voice setting empty to use the default voice.")
