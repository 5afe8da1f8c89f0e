"""Orpheus on the server: the server's language model writes the audio tokens, this computer decodes them.

The server gets the Orpheus prompt as text, the way Orpheus-FastAPI sends it to llama.cpp or LM Studio: the
special tokens by name (``<custom_token_3>`` is id 128259, start of human; ``<|eot_id|>`` 128009; then end of
human, start of AI, start of speech), which llama.cpp's tokenizer turns back into the same ids. It answers with
text pieces holding ``<custom_token_N>`` strings; token N is id 128256 + N, so the k-th audio token's code is
``N - 10 - (k % 7) * 4096``, exactly as for the local loop (`engine.speech.orpheus.FrameAssembler`). SNAC
decoding (`StreamingSnacDecoder`) and playback stay here, so the first audio plays two frames after the first
tokens arrive.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

from engine.remote import RemoteError
from engine.remote.client import RemoteClient
from engine.remote.config import RemoteConfig
from engine.speech.base import AudioChunk
from engine.speech.orpheus import (
    END_OF_HUMAN,
    END_OF_TEXT,
    START_OF_AI,
    START_OF_HUMAN,
    START_OF_SPEECH,
    FrameAssembler,
    SpeechStats,
    token_budget,
)
from engine.speech.sampling import END_OF_SPEECH, SLOTS
from engine.speech.sentences import split_sentences
from engine.speech.snac import SAMPLE_RATE

log = logging.getLogger(__name__)

CUSTOM_TOKEN_BASE = 128256
_CUSTOM = re.compile(r"<custom_token_(\d+)>")


def token_text(token: int) -> str:
    """How Orpheus' tokenizer writes a special token (the ones the prompt uses)."""
    if token == END_OF_TEXT:
        return "<|eot_id|>"
    return f"<custom_token_{token - CUSTOM_TOKEN_BASE}>"


def orpheus_prompt_text(text: str, voice: str) -> str:
    """The Orpheus prompt, with its special tokens written by name (see the module docstring)."""
    # Orpheus' own code puts the tokenizer's begin-of-text after start of human; a server that adds its own at the
    # very start (llama.cpp does when the model says so) gives one more, which Orpheus tolerates.
    return (token_text(START_OF_HUMAN) + "<|begin_of_text|>" + f"{voice}: {text}" + token_text(END_OF_TEXT)
            + token_text(END_OF_HUMAN) + token_text(START_OF_AI) + token_text(START_OF_SPEECH))


def audio_token_ids(pieces: Iterator[str]) -> Iterator[int]:
    """Token ids from streamed text pieces; a ``<custom_token_N>`` split across two pieces is joined first."""
    pending = ""
    for piece in pieces:
        pending += piece
        last = 0
        for match in _CUSTOM.finditer(pending):
            yield CUSTOM_TOKEN_BASE + int(match.group(1))
            last = match.end()
        pending = pending[last:]
        cut = pending.rfind("<")
        pending = pending[cut:] if cut >= 0 else ""  # only a token's unfinished beginning is kept
        if len(pending) > 64:
            pending = ""


class RemoteOrpheusSpeaker:
    """`engine.speech.base.Speaker` whose tokens come from the server; ``cancel`` (Stop) closes the stream."""

    name = "remote"

    def __init__(self, config: RemoteConfig, key: str = "", *, snac_dir: Any = None, settings: Any = None,
                 client: RemoteClient | None = None, sampling: dict[str, float] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        self.config = config
        self.client = client or RemoteClient(config.base, key)
        self.settings = settings
        self.snac_dir = snac_dir
        self.sampling = sampling or {"temperature": 0.6, "top_p": 0.9, "repeat_penalty": 1.1}
        self.extra = extra or {}  # more request fields for every sentence
        self.cancel = threading.Event()
        self.last_stats = SpeechStats()
        self._snac: Any = None

    def is_available(self) -> str | None:
        """Cheap: the remote engine is on and set up, and the local SNAC decoder is installed."""
        problem = self.config.usable()
        if problem:
            return problem
        if not self.config.voice_model:
            return "No voice model is set for the server. Set it: main.py settings set remote_voice_model NAME"
        from engine.errors import SpaceVoiceError
        from engine.speech.snac import find_decoder

        try:
            find_decoder(self._snac_folder())
        except SpaceVoiceError as error:
            return str(error)
        return None

    def _snac_folder(self) -> Any:
        if self.snac_dir is not None:
            return self.snac_dir
        from engine.models.store import ModelStore
        from engine.speech.orpheus import SNAC_MODEL

        return ModelStore.from_settings(self.settings).require(SNAC_MODEL)

    def tokens(self, text: str, voice: str, *, max_tokens: int, greedy: bool = False,
               extra: dict[str, Any] | None = None) -> Iterator[int]:
        """The server's token ids for one sentence, as they arrive (stops at end of speech).

        ``extra``: more request fields (tests pass a ``logit_bias``).
        """
        sampling: dict[str, Any] = {"temperature": 0.0, "top_k": 1} if greedy else dict(self.sampling)
        payload = {"model": self.config.voice_model, "prompt": orpheus_prompt_text(text, voice),
                   "max_tokens": max_tokens, "stop": [token_text(END_OF_SPEECH)], **sampling, **self.extra,
                   **(extra or {})}
        pieces = (str(choice.get("text") or "") for event in self.client.stream("/v1/completions", payload,
                                                                              cancel=self.cancel)
                  for choice in event.get("choices") or ())
        for token in audio_token_ids(pieces):
            if token == END_OF_SPEECH:
                return
            yield token

    def synthesize(self, text: str, *, voice: str | None = None, rate: int | None = None) -> Iterator[AudioChunk]:
        """Yield 24 kHz audio for ``text`` sentence by sentence as the server writes it."""
        from engine.speech.snac import SnacDecoder, StreamingSnacDecoder

        if self._snac is None:
            self._snac = SnacDecoder(self._snac_folder())
        voice = voice or str(getattr(self.settings, "voice", "") or "tara")
        self.cancel.clear()
        stats = self.last_stats = SpeechStats()
        started = time.perf_counter()
        for sentence in split_sentences(text):
            assembler = FrameAssembler(stats)
            stream = StreamingSnacDecoder(self._snac)
            budget = token_budget(sentence)
            budget -= budget % SLOTS
            for token in self.tokens(sentence, voice, max_tokens=budget):
                stats.tokens += 1
                frame = assembler.add(token)
                chunk = stream.push(frame) if frame is not None else None
                if chunk is not None and len(chunk):
                    stats.first_audio_seconds = stats.first_audio_seconds or time.perf_counter() - started
                    yield AudioChunk(chunk, SAMPLE_RATE)
                if self.cancel.is_set():
                    return
            tail = stream.finish()
            if len(tail):
                yield AudioChunk(tail, SAMPLE_RATE)
        stats.generation_seconds = time.perf_counter() - started

    def stop(self) -> None:
        """Stop: close the server's stream at once (the server stops generating when the client goes)."""
        self.cancel.set()


def load_remote_voice(settings: Any) -> RemoteOrpheusSpeaker:
    """The ``speech_engine remote`` voice."""
    from engine.remote.keys import load_key

    config = RemoteConfig.from_settings(settings)
    if config.usable():
        raise RemoteError(str(config.usable()))
    return RemoteOrpheusSpeaker(config, load_key(), settings=settings)
