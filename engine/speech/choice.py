"""Which voice speaks, the fallback when it cannot, and `say` (blocking; `engine.speech.narrator.Narrator` is the
background one).

Order: Orpheus, then Piper, then the system voice. ``auto`` picks Orpheus only when it is installed and a short
warm-up on this machine shows it keeps up with real time (`realtime_factor() >= 1.0`); the measurement is remembered
per machine and onnxruntime provider in ``cache_dir()/speech-realtime.json`` so the warm-up runs once, not per use.
Otherwise the Piper voice (built in, real time on any CPU) speaks, and the system voice when Piper cannot.
Everything is spoken sentence by sentence through a `VoiceChain`: when Orpheus fails in the middle of a sentence,
the system voice says that sentence again from its start and keeps the rest. A fallback is announced once, in
the voice that takes over (a listener cannot see a log), and reported to ``on_notice``. Orpheus simply not
being installed is not announced in ``auto``: nothing the user chose was lost.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import platform
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from engine import paths
from engine.atomicfile import write_atomic
from engine.errors import InputError, ModelError, SpaceVoiceError
from engine.speech.base import AudioChunk, Speaker
from engine.speech.player import Player, output_device, write_wav
from engine.speech.sentences import split_sentences
from engine.speech.system_voice import SystemVoice

__all__ = ["ENGINES", "VoiceChain", "choose_speaker", "say"]

log = logging.getLogger(__name__)

ENGINES = ("auto", "orpheus", "piper", "system", "remote")
ORPHEUS_VOICES = ("tara", "leah", "jess", "leo", "dan", "mia", "zac", "zoe")
REALTIME_CACHE = "speech-realtime.json"
Notice = Callable[[str], None]

# Fallback reasons already announced in this process: each is said once, however many utterances follow.
_announced: set[str] = set()


def _default_notice(message: str) -> None:
    log.warning("%s", message)


class VoiceChain:
    """A `Speaker` that speaks sentence by sentence with the first voice, handing over to the next on failure."""

    def __init__(self, voices: list[Speaker], *, voice_names: dict[str, str | None] | None = None,
                 notice: tuple[str, str] | None = None, on_notice: Notice | None = None,
                 speak_notices: bool = True) -> None:
        self.voices = voices
        self.voice_names = voice_names or {}
        self.on_notice = on_notice or _default_notice
        self.speak_notices = speak_notices
        self._index = 0
        self._pending: list[tuple[str, str]] = [notice] if notice else []

    @property
    def name(self) -> str:
        """The name of the voice that speaks now."""
        return self.voices[self._index].name

    @property
    def current(self) -> Speaker:
        """The voice that speaks now."""
        return self.voices[self._index]

    def is_available(self) -> str | None:
        """``None`` when the current voice can speak."""
        return self.current.is_available()

    def synthesize(self, text: str, *, voice: str | None = None, rate: int | None = None) -> Iterator[AudioChunk]:
        """Yield the audio of ``text``, one sentence after another, falling back on failure."""
        for sentence in split_sentences(text):
            yield from self._announce_pending(rate)
            while True:
                speaker = self.current
                orpheus_voice = voice is not None and speaker.name in ("orpheus", "remote")
                chosen = voice if orpheus_voice else self.voice_names.get(speaker.name)
                try:
                    yield from speaker.synthesize(sentence, voice=chosen, rate=rate)
                    break
                except InputError:
                    raise  # the user's input is wrong for every voice alike
                except Exception as error:
                    if self._index + 1 >= len(self.voices):
                        raise
                    log.info("%s voice failed: %s", speaker.name, error, exc_info=log.isEnabledFor(logging.DEBUG))
                    self._index += 1
                    self._pending.append((f"failed:{speaker.name}", f"The {_title(speaker.name)} voice stopped "
                                          f"working; the {_title(self.current.name)} voice takes over."))
                    yield from self._announce_pending(rate)

    def _announce_pending(self, rate: int | None) -> Iterator[AudioChunk]:
        while self._pending:
            key, message = self._pending.pop(0)
            if key in _announced:
                continue
            _announced.add(key)
            self.on_notice(message)
            if self.speak_notices:
                yield from self.current.synthesize(message, voice=self.voice_names.get(self.current.name), rate=rate)


def _title(name: str) -> str:
    return {"orpheus": "Orpheus", "piper": "Piper", "remote": "Orpheus on the server"}.get(name, name)


def machine_id() -> str:
    """A stable, anonymous id of this computer's hardware (hashed: no host name is stored)."""
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    raw = "|".join([platform.node(), platform.system(), platform.machine(), cpu, str(os.cpu_count())])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


def orpheus_realtime_factor(speaker: Any, settings: Any) -> tuple[float, bool]:
    """Orpheus' real-time factor on this machine and provider, measured once by its warm-up probe, then recalled;
    and whether it was measured just now. Delete ``cache_dir()/speech-realtime.json`` to measure again."""
    provider = str(getattr(speaker, "provider", None) or getattr(speaker, "device", None)
                   or getattr(settings, "device", None) or "auto")
    if provider == "auto":
        import onnxruntime  # what "auto" resolves to depends on the onnxruntime flavour installed

        provider = f"auto:{onnxruntime.get_available_providers()[0]}"
    key = f"{machine_id()}|{provider}"
    path = paths.cache_dir() / REALTIME_CACHE
    cache: dict[str, Any] = {}
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
        entry = cache.get(key) if isinstance(cache, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("realtime_factor"), (int, float)):
            return float(entry["realtime_factor"]), False
    except (OSError, ValueError):
        cache = {}
    started = time.perf_counter()
    factor = float(speaker.realtime_factor())
    log.info("Orpheus real-time factor on %s: %.2f (probe took %.1f s)", provider, factor,
             time.perf_counter() - started)
    cache = cache if isinstance(cache, dict) else {}
    cache[key] = {"realtime_factor": factor, "provider": provider, "measured": int(time.time())}
    try:
        write_atomic(path, json.dumps(cache, indent=2, sort_keys=True).encode("utf-8"))
    except OSError as error:  # a read-only cache costs a warm-up per start, nothing worse
        log.info("cannot remember the Orpheus speed: %s", error)
    return factor, True


def load_orpheus(settings: Any) -> tuple[Speaker | None, str | None]:
    """The Orpheus speaker, or ``None`` and the reason when this installation cannot have one."""
    try:
        module = importlib.import_module("engine.speech.orpheus")
    except ImportError as error:
        if isinstance(error, ModuleNotFoundError) and error.name == "engine.speech.orpheus":
            return None, "Orpheus is not part of this installation."
        # Orpheus is installed but something it needs is not: the system voice must still speak.
        log.info("Orpheus cannot be imported", exc_info=True)
        return None, f"Orpheus cannot load ({error})."
    speaker: Speaker = module.OrpheusSpeaker(settings)
    return speaker, None


def load_piper(settings: Any) -> tuple[Speaker | None, str | None]:
    """The Piper speaker, or ``None`` and the reason when it cannot speak here (a cheap check: nothing loads)."""
    try:
        from engine.speech.piper_voice import PiperSpeaker
    except ImportError as error:  # numpy/onnxruntime missing in a stripped build: the system voice still speaks
        log.info("Piper cannot be imported", exc_info=True)
        return None, f"Piper cannot load ({error})."
    speaker: Speaker = PiperSpeaker(settings)
    try:
        reason = speaker.is_available()
    except Exception as error:  # a broken check must not silence the system voice
        log.info("Piper availability check failed", exc_info=True)
        reason = f"Piper cannot check its voice ({type(error).__name__})."
    return (speaker, None) if reason is None else (None, reason)


def choose_speaker(settings: Any, engine: str | None = "auto", *, orpheus: Speaker | None = None,
                   piper: Speaker | None = None, on_notice: Notice | None = None,
                   speak_notices: bool = True) -> VoiceChain:
    """The voice to speak with, as a `VoiceChain` that falls back to Piper, then the system voice. ``orpheus`` and
    ``piper`` override the installed speakers (tests, or a caller that already holds one)."""
    engine = engine or "auto"
    if engine not in ENGINES:
        raise InputError(f"Unknown speech engine '{engine}'.", f"Use one of: {', '.join(ENGINES)}.")
    system = SystemVoice(settings)
    voice_names: dict[str, str | None] = {"system": getattr(settings, "system_voice", "") or "",
                                          "orpheus": getattr(settings, "voice", None),
                                          "remote": getattr(settings, "voice", None)}
    options = {"voice_names": voice_names, "on_notice": on_notice, "speak_notices": speak_notices}
    piper_reason: str | None = None
    if piper is None and engine in ("auto", "orpheus", "piper", "remote"):
        piper, piper_reason = load_piper(settings)

    def fallback(notice: tuple[str, str] | None = None) -> VoiceChain:
        """Piper when it can speak, else the system voice; ``notice`` is said once by whoever speaks."""
        voices: list[Speaker] = [piper, system] if piper is not None else [system]
        if piper is None and system.is_available() is not None:
            raise ModelError(f"No voice can speak on this computer: {system.is_available()}",
                             "Install espeak-ng (Linux) or a system voice, or use --no-speech.")
        if notice is not None:
            notice = (notice[0], notice[1].replace("{fallback}", "the Piper voice" if piper else "the system voice"))
        return VoiceChain(voices, notice=notice, **options)  # type: ignore[arg-type]

    if engine == "system":
        piper = None
        return fallback()
    if engine == "piper":
        if piper is None:
            raise ModelError(f"The Piper voice cannot speak: {piper_reason}", "Or use --engine system.")
        return fallback()
    if engine == "remote":
        from engine.remote.voice import load_remote_voice

        remote = load_remote_voice(settings)  # raises when the remote engine is off or not set up
        problem = remote.is_available()
        if problem is not None:
            raise ModelError(f"Orpheus on the server cannot speak: {problem}", "Or use --engine system.")
        return VoiceChain([remote, *([piper] if piper else []), system], **options)  # type: ignore[arg-type]
    speaker, reason = (orpheus, None) if orpheus is not None else load_orpheus(settings)
    if speaker is not None:
        try:
            reason = speaker.is_available()
        except Exception as error:  # a broken check must not silence the other voices
            log.info("Orpheus availability check failed", exc_info=True)
            reason = f"Orpheus cannot check its models ({type(error).__name__})."
    if engine == "orpheus":
        if reason is not None:
            raise ModelError(f"The Orpheus voice cannot speak: {reason}",
                             "Or use --engine piper or --engine system.")
        return VoiceChain([speaker, *([piper] if piper else []), system], **options)  # type: ignore[arg-type, list-item]
    if reason is not None:
        log.info("auto speech: %s (%s)", "Piper" if piper else "system voice", reason)
        return fallback()
    try:
        factor, measured_now = orpheus_realtime_factor(speaker, settings)
    except Exception as error:  # a voice that cannot even warm up must not keep the user from hearing anything
        log.info("Orpheus warm-up failed", exc_info=True)
        reason = error.message if isinstance(error, SpaceVoiceError) else type(error).__name__
        return fallback(("probe-failed", f"The Orpheus voice could not start ({reason}); using {{fallback}}."))
    if factor < 1.0:
        # Said when measured, i.e. once per machine and provider: the result, and so the choice, does not change.
        notice = ("too-slow", f"This computer runs the Orpheus voice at {factor:.2f} times real time, too slow to "
                              "speak smoothly; using {fallback}.")
        return fallback(notice if measured_now else None)
    return VoiceChain([speaker, *([piper] if piper else []), system], **options)  # type: ignore[arg-type, list-item]


def _voice_option(voice: str | None, settings: Any, engine: str) -> tuple[str | None, Any, str]:
    """``--voice`` names an Orpheus voice, a Piper voice or else a system voice: route it to the right place. In
    ``auto`` a Piper or system voice named on purpose is the one that speaks (not silently passed over)."""
    if voice is None or voice.lower() in ORPHEUS_VOICES:
        return (voice.lower() if voice else None), settings, engine
    from engine.settings import Settings
    from engine.speech.piper_voice import installed_voices

    adjusted = Settings(getattr(settings, "as_dict", dict)())
    kind = "piper" if voice in installed_voices(settings) else "system"
    adjusted.set("piper_voice" if kind == "piper" else "system_voice", voice)
    return None, adjusted, kind if engine == "auto" else engine


def say(text: str, settings: Any, *, out: Path | None = None, engine: str | None = None,
        voice: str | None = None, on_notice: Notice | None = None) -> None:
    """Speak ``text`` and return when it has been heard, or write it to the WAV file ``out`` instead."""
    if not text or not text.strip():
        raise InputError("There is nothing to say.", "Give the words to speak.")
    if out is None:
        output_device()  # no sound device: say so before any model loads
    orpheus_voice, settings, engine = _voice_option(voice, settings,
                                                    str(engine or getattr(settings, "speech_engine", "auto")))
    chain = choose_speaker(settings, engine, on_notice=on_notice, speak_notices=out is None)
    chunks = chain.synthesize(text, voice=orpheus_voice)
    if out is not None:
        seconds = write_wav(out, chunks)
        log.info("wrote %.1f s of speech to %s", seconds, out)
    else:
        Player().play(chunks)
