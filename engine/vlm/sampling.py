"""Choosing the next token as transformers' ``generate`` does, from the model's ``generation_config.json``.

Greedy (``do_sample`` false) takes the highest score after the repetition penalty. Sampling applies transformers'
filters in its order (`RepetitionPenaltyLogitsProcessor` over every id of the sequence, prompt included, then
`TemperatureLogitsWarper`, `TopKLogitsWarper`, `TopPLogitsWarper`) and draws from a seeded numpy generator, so a
run is reproducible. Unset fields take transformers' defaults (temperature 1, top-k 50, top-p 1).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np


@dataclass(frozen=True)
class GenerationSettings:
    """How an answer is generated: the decoding choice, its filters, the end tokens and the length limit."""

    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 50
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    max_new_tokens: int = 256
    eos_token_ids: tuple[int, ...] = ()
    seed: int | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any], *, fallback_eos: tuple[int, ...] = ()) -> GenerationSettings:
        """Read a ``generation_config.json`` object (``max_length`` is ignored: answers have their own limit)."""
        eos = config.get("eos_token_id")
        eos_ids = tuple(int(e) for e in eos) if isinstance(eos, list) else ((int(eos),) if eos is not None else ())

        def number(key: str, default: float) -> float:
            value = config.get(key)
            return default if value is None else float(value)

        return cls(
            do_sample=bool(config.get("do_sample", False)),
            temperature=number("temperature", 1.0),
            top_k=int(number("top_k", 50)),
            top_p=number("top_p", 1.0),
            repetition_penalty=number("repetition_penalty", 1.0),
            max_new_tokens=int(number("max_new_tokens", 256)),
            eos_token_ids=eos_ids or fallback_eos,
        )

    def greedy(self) -> GenerationSettings:
        """The same settings with greedy decoding."""
        return replace(self, do_sample=False)


class TokenChooser:
    """Picks each next token from one row of logits; remembers the sequence for the repetition penalty."""

    def __init__(self, settings: GenerationSettings, sequence: list[int] | None = None) -> None:
        self.settings = settings
        self.rng = np.random.default_rng(settings.seed)
        self._seen: set[int] = set(sequence or ())
        self.probabilities: list[float] = []  # of each chosen token, under the distribution it was chosen from

    def remember(self, ids: list[int]) -> None:
        """Add ids that entered the sequence (the prompt of a follow-up question)."""
        self._seen.update(ids)

    def scores(self, logits: np.ndarray) -> np.ndarray:
        """The row after the repetition penalty (float32, as transformers computes it)."""
        scores = np.asarray(logits, dtype=np.float32).copy()
        penalty = self.settings.repetition_penalty
        if penalty != 1.0 and self._seen:
            seen = np.fromiter(self._seen, dtype=np.int64)
            seen = seen[seen < len(scores)]
            hit = scores[seen]
            scores[seen] = np.where(hit < 0, hit * penalty, hit / penalty)
        return scores

    def distribution(self, logits: np.ndarray) -> np.ndarray:
        """Probabilities over the vocabulary after temperature, top-k and top-p (sampling only)."""
        settings = self.settings
        scores = self.scores(logits).astype(np.float64)
        if settings.temperature != 1.0:
            scores = scores / settings.temperature
        if 0 < settings.top_k < len(scores):
            kth = np.partition(scores, -settings.top_k)[-settings.top_k]
            scores = np.where(scores < kth, -np.inf, scores)
        probs = _softmax(scores)
        if settings.top_p < 1.0:
            order = np.argsort(probs, kind="stable")  # ascending, as TopPLogitsWarper sorts
            remove = np.cumsum(probs[order]) <= (1.0 - settings.top_p)
            remove[-1] = False  # the most likely token always stays
            probs[order[remove]] = 0.0
            probs /= probs.sum()
        return probs

    def choose(self, logits: np.ndarray) -> int:
        """The next token for one row of logits."""
        if not self.settings.do_sample:
            scores = self.scores(logits)
            token = int(np.argmax(scores))
            self.probabilities.append(float(_softmax(scores.astype(np.float64))[token]))
        else:
            probs = self.distribution(logits)
            cumulative = np.cumsum(probs)
            draw = self.rng.random() * cumulative[-1]
            token = int(min(np.searchsorted(cumulative, draw, side="right"), len(cumulative) - 1))
            self.probabilities.append(float(probs[token]))
        self._seen.add(token)
        return token


def _softmax(scores: np.ndarray) -> np.ndarray:
    finite = scores[np.isfinite(scores)]
    weights = np.exp(scores - (finite.max() if len(finite) else 0.0))
    return np.asarray(weights / weights.sum())
