"""Choosing Orpheus' next audio token: repetition penalty, temperature, top-k and top-p over one slot's ids.

Orpheus writes 7 tokens per SNAC frame, and the n-th audio token can only be one of the 4096 ids of slot
``n % 7`` (ids ``128266 + slot * 4096 + code``). Restricting every step to those ids is correct (a token from
another slot is an out-of-range code) and cheap: the filters below sort 4096 numbers, not ~157k. End of speech
(128258) is a candidate only at a frame boundary, so a reply is always whole frames.

The filters follow transformers' semantics (`RepetitionPenaltyLogitsProcessor`, `TemperatureLogitsWarper`,
`TopKLogitsWarper`, `TopPLogitsWarper`, applied in that order), and draws come from a seeded numpy generator,
so a run is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AUDIO_TOKEN_BASE = 128266
END_OF_SPEECH = 128258
CODEBOOK_SIZE = 4096
SLOTS = 7


@dataclass(frozen=True)
class SamplingConfig:
    """How tokens are chosen. ``temperature <= 0`` means greedy (the highest score after the penalty).

    Defaults are Orpheus' recommended ones; greedy decoding tends to loop.
    """

    temperature: float = 0.6
    top_p: float = 0.9
    top_k: int = 0
    repetition_penalty: float = 1.1
    seed: int | None = None


def slot_ids(slot: int) -> tuple[int, int]:
    """The ``[start, stop)`` token-id range of ``slot`` (0..6)."""
    start = AUDIO_TOKEN_BASE + slot * CODEBOOK_SIZE
    return start, start + CODEBOOK_SIZE


class SlotSampler:
    """Chooses each audio token among its slot's ids (plus end of speech at frame boundaries)."""

    def __init__(self, config: SamplingConfig | None = None) -> None:
        self.config = config or SamplingConfig()
        self.rng = np.random.default_rng(self.config.seed)
        # Which audio ids were generated so far (the repetition penalty's memory), one flag per audio id.
        self._seen = np.zeros(SLOTS * CODEBOOK_SIZE, dtype=bool)
        self.allow_stop = True

    def reset(self) -> None:
        """Forget the generated history (a new utterance); the random generator keeps its state."""
        self._seen[:] = False

    def candidates(self, logits: np.ndarray, audio_index: int) -> tuple[np.ndarray, np.ndarray]:
        """Candidate token ids and their scores for the ``audio_index``-th audio token, after the penalty.

        ``logits`` is one row over the whole vocabulary.
        """
        slot = audio_index % SLOTS
        start, stop = slot_ids(slot)
        scores = np.asarray(logits[start:stop], dtype=np.float32).copy()
        penalty = self.config.repetition_penalty
        if penalty != 1.0:
            seen = self._seen[slot * CODEBOOK_SIZE : (slot + 1) * CODEBOOK_SIZE]
            hit = scores[seen]
            scores[seen] = np.where(hit < 0, hit * penalty, hit / penalty)
        ids = np.arange(start, stop, dtype=np.int64)
        if slot == 0 and self.allow_stop and len(logits) > END_OF_SPEECH:
            ids = np.append(ids, END_OF_SPEECH)
            scores = np.append(scores, np.float32(logits[END_OF_SPEECH]))
        return ids, scores

    def distribution(self, logits: np.ndarray, audio_index: int) -> tuple[np.ndarray, np.ndarray]:
        """Candidate ids and their probabilities after penalty, temperature, top-k and top-p (sampling only)."""
        ids, scores = self.candidates(logits, audio_index)
        config = self.config
        scores = scores.astype(np.float64) / max(config.temperature, 1e-6)
        if 0 < config.top_k < len(scores):
            kth = np.partition(scores, -config.top_k)[-config.top_k]
            scores = np.where(scores < kth, -np.inf, scores)
        probs = _softmax(scores)
        if config.top_p < 1.0:
            probs = _top_p(probs, config.top_p)
        return ids, probs

    def choose(self, logits: np.ndarray, audio_index: int) -> int:
        """Pick the ``audio_index``-th audio token (or end of speech) from one row of logits."""
        if self.config.temperature <= 0:
            ids, scores = self.candidates(logits, audio_index)
            token = int(ids[int(np.argmax(scores))])
        else:
            ids, probs = self.distribution(logits, audio_index)
            cumulative = np.cumsum(probs)
            draw = self.rng.random() * cumulative[-1]
            token = int(ids[min(int(np.searchsorted(cumulative, draw, side="right")), len(ids) - 1)])
        if token >= AUDIO_TOKEN_BASE:
            self._seen[token - AUDIO_TOKEN_BASE] = True
        return token


def _top_p(probs: np.ndarray, top_p: float, head: int = 256) -> np.ndarray:
    """transformers' top-p: drop the least likely tokens whose total (ascending cumulative) mass is <= 1 - top_p.

    Sorting all 4096 candidates every token is the sampler's main cost, so only the ``head`` most likely are
    sorted when they alone hold ``top_p`` of the mass; every token outside them is then dropped anyway, and the
    result is the same as a full sort.
    """
    probs = probs.copy()
    subset = np.arange(len(probs))
    if len(probs) > head:
        top = np.argpartition(probs, -head)[-head:]
        if probs[top].sum() >= top_p:
            subset = top
    outside = probs.sum() - probs[subset].sum()
    order = subset[np.argsort(probs[subset], kind="stable")]  # ascending, as transformers' TopPLogitsWarper
    remove_mask = np.ones(len(probs), dtype=bool)
    remove_mask[subset] = False
    cumulative = outside + np.cumsum(probs[order])
    remove = cumulative <= (1.0 - top_p)
    remove[-1] = False  # always keep the most likely token
    remove_mask[order[remove]] = True
    probs[remove_mask] = 0.0
    return probs / probs.sum()


def _softmax(scores: np.ndarray) -> np.ndarray:
    finite = scores[np.isfinite(scores)]
    peak = finite.max() if len(finite) else 0.0
    weights = np.exp(scores - peak)
    return weights / weights.sum()


__all__ = ["AUDIO_TOKEN_BASE", "CODEBOOK_SIZE", "END_OF_SPEECH", "SLOTS", "SamplingConfig", "SlotSampler", "slot_ids"]
