"""Questions about one picture, with follow-ups that reuse everything already computed.

A `Conversation` holds the picture's image features, the messages so far and the decoder's key/value cache. Each
question renders the whole conversation with the model's chat template and tokenizes it; the ids the cache
already holds (the picture, earlier questions and answers) are skipped, so a follow-up encodes only its new
tokens. If the text of an earlier answer re-tokenizes differently from the ids that were generated, the cache is
cut back to the common prefix: the result always equals running the whole conversation from scratch.

`Conversation.stream` yields the answer's text as it is written (for speech), honours stop strings, the token
limit and a cancel event checked before every decoder step.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from engine.vlm.model import EncodedPicture, VisionLanguageModel
from engine.vlm.prompt import Message, assistant_message, expand_images, user_message
from engine.vlm.sampling import GenerationSettings, TokenChooser
from engine.vlm.tokens import TextStream


@dataclass(frozen=True)
class Turn:
    """One question and its answer, with what it cost."""

    question: str
    answer: str  # decoded as the model's processor decodes it, special tokens skipped
    ids: tuple[int, ...]  # the generated ids, the end token included when one ended the answer
    new_prompt_tokens: int  # prompt positions encoded for this question (the rest came from the cache)
    finished_by: str  # "end" (an end token), "stop" (a stop string), "limit" (max_new_tokens), "cancelled"
    first_token_ms: float | None
    total_ms: float
    confidence: float | None = None  # mean probability of the chosen tokens (the end token excluded)


class Conversation:
    """A conversation about one picture (or none); see the module docstring."""

    def __init__(self, model: VisionLanguageModel, picture: EncodedPicture | None) -> None:
        self.model = model
        self.picture = picture
        self.messages: list[Message] = []
        self.turns: list[Turn] = []
        self.cache = model.new_cache()

    def prompt_ids(self, question: str) -> tuple[list[Message], list[int]]:
        """The messages with ``question`` added, and the ids of the whole conversation ending with the cue."""
        messages = [*self.messages, user_message(question, with_picture=self.picture is not None and not self.turns)]
        text = self.model.template.render(messages, add_generation_prompt=True)
        if self.picture is not None:
            text = expand_images(text, self.picture.image_prompt)
        return messages, self.model.tokens.encode(text)

    def ask(self, question: str, **options: object) -> Turn:
        """Answer ``question`` in full (see `stream` for the options)."""
        for _piece in self.stream(question, **options):  # type: ignore[arg-type]
            pass
        return self.turns[-1]

    def stream(self, question: str, *, settings: GenerationSettings | None = None, greedy: bool = False,
               seed: int | None = None, max_new_tokens: int | None = None, stop: Sequence[str] = (),
               cancel: threading.Event | None = None) -> Iterator[str]:
        """Yield the answer's text piece by piece; the finished `Turn` is then ``turns[-1]``.

        ``settings`` default to the model's generation config; ``greedy`` forces greedy decoding, ``seed`` seeds
        sampling, ``max_new_tokens`` caps the answer, ``stop`` strings end it (they are not part of the answer).
        """
        started = time.perf_counter()
        settings = settings or self.model.generation
        if greedy:
            settings = settings.greedy()
        if seed is not None or max_new_tokens is not None:
            settings = replace(settings, seed=settings.seed if seed is None else seed,
                               max_new_tokens=max_new_tokens or settings.max_new_tokens)
        messages, ids = self.prompt_ids(question)
        new = self._reuse_cache(ids)
        image_rows = sum(1 for i in ids[:len(ids) - len(new)] if i == self.model.image_token_id)
        chooser = TokenChooser(settings, ids)
        text = TextStream(self.model.tokens, stop)
        finished_by, first_token_ms = "cancelled", None
        try:
            logits = self._step(new, image_rows)
            while True:
                token = chooser.choose(logits)
                if first_token_ms is None:
                    first_token_ms = (time.perf_counter() - started) * 1000
                piece = text.push(token)
                if piece:
                    yield piece
                if token in settings.eos_token_ids:
                    finished_by = "end"
                elif text.stopped:
                    finished_by = "stop"
                elif len(text.ids) >= settings.max_new_tokens:
                    finished_by = "limit"
                elif cancel is not None and cancel.is_set():
                    finished_by = "cancelled"
                if finished_by != "cancelled" or (cancel is not None and cancel.is_set()):
                    break
                logits = self._step([token], None)  # generated ids are text: no picture rows
            rest = text.flush()
            if rest and finished_by != "cancelled":
                yield rest
        finally:  # also when the reader stops early (a closed generator): the turn is what was said so far
            answer = text.text
            self.messages = [*messages, assistant_message(answer.strip())]
            chosen = chooser.probabilities[:-1] if finished_by == "end" else chooser.probabilities
            confidence = float(np.mean(chosen)) if chosen else None
            self.turns.append(Turn(question, answer, tuple(text.ids), len(new), finished_by, first_token_ms,
                                   (time.perf_counter() - started) * 1000, confidence))

    def _reuse_cache(self, ids: list[int]) -> list[int]:
        cached = self.cache.ids
        common = 0
        for old, current in zip(cached, ids, strict=False):
            if old != current:
                break
            common += 1
        common = min(common, len(ids) - 1)  # at least one position must run to give the next token's logits
        if common < len(cached):
            self.cache.truncate(common, self.model.device)
        return ids[common:]

    def _step(self, ids: list[int], image_rows: int | None) -> np.ndarray:
        picture = self.picture if image_rows is not None else None
        embeds = self.model.embeddings(ids, picture, image_rows or 0, replace_images=image_rows is not None)
        return self.model.step(self.cache, ids, embeds)


def start_conversation(model: VisionLanguageModel, rgb: object | None) -> Conversation:
    """Encode the picture (when there is one) and start a conversation about it."""
    picture = model.encode_picture(rgb) if rgb is not None else None  # type: ignore[arg-type]
    return Conversation(model, picture)
