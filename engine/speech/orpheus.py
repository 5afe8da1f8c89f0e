"""Orpheus neural voice: text -> prompt ids -> audio tokens (onnxruntime) -> SNAC frames -> streamed 24 kHz PCM.

Long text is split at sentence boundaries and spoken sentence by sentence; `OrpheusSpeaker.synthesize` is a
generator, so the first sentence's first chunk (after 2 SNAC frames) reaches the player while the rest is still
being generated. Inline tags such as ``<laugh>`` are passed to the model untouched.

Any failure once speech has started (a model error, a broken file) is raised as `OrpheusFailed`, a `ModelError`,
so the voice choice can hand over to the system voice.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ModelError, SpaceVoiceError
from engine.speech.base import AudioChunk
from engine.speech.sampling import AUDIO_TOKEN_BASE, CODEBOOK_SIZE, END_OF_SPEECH, SLOTS, SamplingConfig, SlotSampler
from engine.speech.sentences import split_sentences
from engine.speech.snac import SAMPLE_RATE, SAMPLES_PER_FRAME, StreamingSnacDecoder
from engine.speech.time_stretch import stretch_chunks

log = logging.getLogger(__name__)

VOICES = ("tara", "leah", "jess", "leo", "dan", "mia", "zac", "zoe")
START_OF_HUMAN, END_OF_TEXT, END_OF_HUMAN, START_OF_AI, START_OF_SPEECH = 128259, 128009, 128260, 128261, 128257
#: Audio tokens per second of speech: 7 per SNAC frame, 24000 / 2048 frames per second (~82).
REALTIME_TOKENS_PER_SECOND = SLOTS * SAMPLE_RATE / SAMPLES_PER_FRAME
LLM_MODEL, SNAC_MODEL = "orpheus-3b-0.1-ft", "snac-24khz"
NATURAL_RATE = 180  # words per minute the ``rate`` setting means at Orpheus' own pace (no stretching)


class OrpheusFailed(ModelError):
    """Orpheus failed while speaking; the caller falls back to the system voice."""


def build_prompt(tokenizer: Any, text: str, voice: str) -> list[int]:
    """Orpheus' prompt: start of human, ``tokenize(f"{voice}: {text}")``, end of text/human, start of AI/speech."""
    ids = tokenizer.encode(f"{voice}: {text}").ids
    return [START_OF_HUMAN, *ids, END_OF_TEXT, END_OF_HUMAN, START_OF_AI, START_OF_SPEECH]


def token_budget(text: str) -> int:
    """Length limit for one sentence, in tokens: generous (people speak ~15 characters a second), whole frames."""
    seconds = min(60.0, 4.0 + 0.15 * len(text))
    return SLOTS * math.ceil(seconds * SAMPLE_RATE / SAMPLES_PER_FRAME)


@dataclass
class SpeechStats:
    """What the last utterance cost and what went wrong in it, for logs and the speed probe."""

    tokens: int = 0
    frames: int = 0
    out_of_range_codes: int = 0
    ignored_tokens: int = 0
    length_limited: int = 0
    generation_seconds: float = 0.0
    first_audio_seconds: float | None = None


class FrameAssembler:
    """Turns audio tokens into 7-code frames. A token from the wrong slot is counted and its code replaced by the
    previous frame's code at that position (clamped on the first frame); a non-audio token is counted and
    ignored. No frame is ever dropped."""

    def __init__(self, stats: SpeechStats) -> None:
        self.stats = stats
        self._codes: list[int] = []
        self._previous: list[int] | None = None

    def add(self, token: int) -> np.ndarray | None:
        """Add one generated token; return a ``[7]`` frame when one is complete."""
        if token < AUDIO_TOKEN_BASE:
            self.stats.ignored_tokens += 1
            return None
        slot = len(self._codes)
        code = token - AUDIO_TOKEN_BASE - slot * CODEBOOK_SIZE
        if not 0 <= code < CODEBOOK_SIZE:
            self.stats.out_of_range_codes += 1
            code = self._previous[slot] if self._previous else min(max(code, 0), CODEBOOK_SIZE - 1)
        self._codes.append(code)
        if len(self._codes) < SLOTS:
            return None
        frame, self._previous, self._codes = np.asarray(self._codes, dtype=np.int64), self._codes, []
        self.stats.frames += 1
        return frame

    @property
    def pending(self) -> int:
        """Tokens of an unfinished frame (non-zero only when generation stopped mid-frame)."""
        return len(self._codes)


class OrpheusSpeaker:
    """The Orpheus voice (`engine.speech.base.Speaker`). Models load on first use, not at construction.

    ``llm_dir`` / ``snac_dir`` name the model folders directly; otherwise the model store provides them.
    ``max_tokens_per_sentence`` tightens the length limit (by default it grows with the sentence's length).
    """

    name = "orpheus"

    def __init__(
        self,
        settings: Any = None,
        *,
        llm_dir: Path | None = None,
        snac_dir: Path | None = None,
        device: str | None = None,
        threads: int = 0,
        sampling: SamplingConfig | None = None,
        llm_file: str | None = None,
        max_tokens_per_sentence: int | None = None,
    ) -> None:
        self.settings = settings
        self.llm_dir, self.snac_dir = llm_dir, snac_dir
        self.device = device or (getattr(settings, "device", None) if settings is not None else None)
        self.threads = threads
        self.sampling = sampling or SamplingConfig()
        self.llm_file = llm_file
        self.max_tokens_per_sentence = max_tokens_per_sentence
        self.last_stats = SpeechStats()
        self._lm: Any = None
        self._snac: Any = None
        self._tokenizer: Any = None

    def _folders(self) -> tuple[Path, Path]:
        if self.llm_dir is not None and self.snac_dir is not None:
            return Path(self.llm_dir), Path(self.snac_dir)
        from engine.models.store import ModelStore

        store = ModelStore.from_settings(self.settings)
        llm = Path(self.llm_dir) if self.llm_dir is not None else Path(store.require(LLM_MODEL))
        snac = Path(self.snac_dir) if self.snac_dir is not None else Path(store.require(SNAC_MODEL))
        return llm, snac

    def is_available(self) -> str | None:
        """``None`` when the LLM folder (with tokenizer) and the SNAC decoder are installed, else why not."""
        from engine.speech.orpheus_lm import find_llm
        from engine.speech.snac import find_decoder

        try:
            llm, snac = self._folders()
            find_llm(llm)
            find_decoder(snac)
        except SpaceVoiceError as error:
            return str(error)
        except ImportError:
            return "The model store is not available in this build."
        if not (llm / "tokenizer.json").is_file():
            return f"The Orpheus tokenizer is missing from {llm}. Run: main.py models verify"
        return None

    def load(self) -> None:
        """Load the tokenizer, the LLM and the SNAC decoder (once)."""
        if self._lm is not None:
            return
        from tokenizers import Tokenizer

        from engine.speech.orpheus_lm import OrpheusLM
        from engine.speech.snac import SnacDecoder

        llm, snac = self._folders()
        if not (llm / "tokenizer.json").is_file():
            raise ModelError(f"The Orpheus tokenizer is missing from {llm}.", "Run: main.py models verify")
        try:
            self._tokenizer = Tokenizer.from_file(str(llm / "tokenizer.json"))
        except Exception as error:  # tokenizers raises a bare Exception on a damaged file
            raise ModelError(f"The Orpheus tokenizer in {llm} is damaged.", "Run: main.py models verify") from error
        self._snac = SnacDecoder(snac, device=self.device, threads=self.threads)
        self._lm = OrpheusLM(llm, device=self.device, threads=self.threads, model_file=self.llm_file)

    def prompt(self, text: str, voice: str | None = None) -> list[int]:
        """The prompt ids for ``text`` spoken by ``voice`` (default: the ``voice`` setting, else tara)."""
        self.load()
        return build_prompt(self._tokenizer, text, self._voice(voice))

    def _voice(self, voice: str | None) -> str:
        return voice or (getattr(self.settings, "voice", None) if self.settings is not None else None) or "tara"

    def tokens(
        self, prompt: list[int], *, max_new_tokens: int, sampler: SlotSampler | None = None, allow_stop: bool = True
    ) -> Iterator[int]:
        """Generated tokens for ``prompt`` (the stop token included when reached)."""
        self.load()
        sampler = sampler or SlotSampler(self.sampling)
        sampler.allow_stop = allow_stop
        budget = max_new_tokens - max_new_tokens % SLOTS or SLOTS  # whole frames only
        yield from self._lm.generate(prompt, sampler.choose, max_new_tokens=budget, stop_ids=(END_OF_SPEECH,))

    def synthesize(self, text: str, *, voice: str | None = None, rate: int | None = None) -> Iterator[AudioChunk]:
        """Yield 24 kHz audio for ``text`` as it is generated, time-stretched to ``rate`` words per minute (default
        the ``rate`` setting; 180 is Orpheus' own pace): Orpheus cannot be asked to speak faster."""
        rate = rate or int(getattr(self.settings, "rate", NATURAL_RATE) or NATURAL_RATE)
        yield from stretch_chunks(self._speak(text, voice), rate / NATURAL_RATE)

    def _speak(self, text: str, voice: str | None) -> Iterator[AudioChunk]:
        self.load()
        stats = self.last_stats = SpeechStats()
        started = time.perf_counter()
        for sentence in split_sentences(text):
            assembler = FrameAssembler(stats)
            stream = StreamingSnacDecoder(self._snac)
            sampler = SlotSampler(self.sampling)
            budget = min(token_budget(sentence), self.max_tokens_per_sentence or 1 << 30)
            budget -= budget % SLOTS
            try:
                count = 0
                for token in self.tokens(self.prompt(sentence, voice), max_new_tokens=budget, sampler=sampler):
                    count += 1
                    frame = assembler.add(token)
                    chunk = stream.push(frame) if frame is not None else None
                    if chunk is not None and len(chunk):
                        stats.first_audio_seconds = stats.first_audio_seconds or time.perf_counter() - started
                        yield AudioChunk(chunk, SAMPLE_RATE)
                stats.tokens += count
                if count >= budget and token != END_OF_SPEECH:
                    stats.length_limited += 1
                    log.warning("Orpheus reached the length limit of %d tokens in a sentence", budget)
                tail = stream.finish()
            except SpaceVoiceError:
                raise
            except Exception as error:
                raise OrpheusFailed(
                    "The Orpheus voice stopped in the middle of a sentence.", "The system voice takes over."
                ) from error
            if len(tail):
                stats.first_audio_seconds = stats.first_audio_seconds or time.perf_counter() - started
                yield AudioChunk(tail, SAMPLE_RATE)
        stats.generation_seconds = time.perf_counter() - started
        if stats.out_of_range_codes or stats.ignored_tokens:
            log.warning("Orpheus: %d out-of-range code(s) replaced, %d non-audio token(s) ignored",
                        stats.out_of_range_codes, stats.ignored_tokens)

    def realtime_factor(self, seconds: float = 2.0) -> float:
        """Speed probe: generate (and decode) for about ``seconds`` and return audio seconds made per second.

        1.0 means Orpheus keeps up with real time (~82 tokens/s); below 1 playback would stall. The model load and
        the first (prompt) step are not timed. A failure raises `OrpheusFailed` (or the load's `ModelError`).
        """
        self.load()
        try:
            return self._probe(seconds)
        except SpaceVoiceError:
            raise
        except Exception as error:
            raise OrpheusFailed("The Orpheus voice failed its speed test.", "The system voice is used.") from error

    def _probe(self, seconds: float) -> float:
        sampler = SlotSampler(self.sampling)
        stream = StreamingSnacDecoder(self._snac)
        assembler = FrameAssembler(SpeechStats())
        budget = SLOTS * max(2, math.ceil(seconds * 3 * SAMPLE_RATE / SAMPLES_PER_FRAME))
        made, begun = 0, 0.0
        for step, token in enumerate(self.tokens(self.prompt("Hello there, how are you today?"),
                                                 max_new_tokens=budget, sampler=sampler, allow_stop=False)):
            if step == 0:
                begun = time.perf_counter()
                continue
            frame = assembler.add(token)
            if frame is not None:
                stream.push(frame)
            made = step
            if time.perf_counter() - begun >= seconds and made >= 3:
                break
        stream.finish()
        elapsed = max(time.perf_counter() - begun, 1e-9)
        factor = made / elapsed / REALTIME_TOKENS_PER_SECOND
        log.info("Orpheus speed probe: %.1f tokens/s, %.2fx real time", made / elapsed, factor)
        return factor


__all__ = [
    "REALTIME_TOKENS_PER_SECOND",
    "VOICES",
    "FrameAssembler",
    "OrpheusFailed",
    "OrpheusSpeaker",
    "SpeechStats",
    "build_prompt",
    "token_budget",
]
