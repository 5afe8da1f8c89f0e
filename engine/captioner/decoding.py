"""Greedy and beam search over a KV-cache decoder, following ``generation_config.json`` like transformers does.

The search is written against a small `StepModel` protocol (start, step, reorder) so it knows nothing about
onnxruntime. The beam search reproduces transformers' (4.5x) vectorised algorithm step for step: the top
2 x num_beams continuations, finished hypotheses scored with the length penalty, its early-stopping heuristic
and its stopping rules, so that parity tests can demand the very same token ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from engine.captioner.output_layer import BoundedLogits

NEG = np.float32(-1.0e9)


class StepModel(Protocol):
    """A decoder that is fed one token per sequence per step and keeps its own cache."""

    def start(self, batch: int) -> Any:
        """The empty cache for ``batch`` sequences."""
        ...

    def step(self, tokens: np.ndarray, state: Any, *, bounded: bool = False) -> tuple[np.ndarray | BoundedLogits, Any]:
        """Feed ``tokens`` (batch, 1) int64; return the next-token logits (batch, vocab) and the new cache.

        With ``bounded`` the model may answer `BoundedLogits` (approximate logits with proven error bounds and
        exact values on demand) instead; without it, it answers an array.
        """
        ...

    def reorder(self, state: Any, rows: np.ndarray) -> Any:
        """The cache with its rows taken in the order ``rows`` (beam search keeps the best beams)."""
        ...


@dataclass(frozen=True)
class GenerationSettings:
    """The decoding parameters of ``generation_config.json`` that SpaceVoice honours (transformers' defaults)."""

    decoder_start_token_id: int
    eos_token_ids: tuple[int, ...]
    max_length: int = 20
    min_length: int = 0
    min_new_tokens: int = 0
    num_beams: int = 1
    length_penalty: float = 1.0
    early_stopping: bool | str = False
    no_repeat_ngram_size: int = 0
    repetition_penalty: float = 1.0
    forced_bos_token_id: int | None = None  # BART-style configs: the first token, and the last before max_length
    forced_eos_token_id: int | None = None

    @classmethod
    def from_configs(cls, generation: dict[str, Any], config: dict[str, Any]) -> GenerationSettings:
        """Read ``generation_config.json``, falling back to ``config.json`` (older exports keep values there)."""
        decoder: dict[str, Any] = config["decoder"] if isinstance(config.get("decoder"), dict) else {}
        text: dict[str, Any] = config["text_config"] if isinstance(config.get("text_config"), dict) else {}

        def value(name: str, default: Any) -> Any:
            for source in (generation, config, decoder, text):
                if source.get(name) is not None:
                    return source[name]
            return default

        eos = value("eos_token_id", None)
        eos_ids = tuple(int(e) for e in (eos if isinstance(eos, list) else [eos] if eos is not None else []))
        start = value("decoder_start_token_id", None)
        if start is None:
            start = value("bos_token_id", eos_ids[0] if eos_ids else 0)
        max_length = int(value("max_length", 20))
        if value("max_new_tokens", None) is not None:
            max_length = int(value("max_new_tokens", 0)) + 1
        return cls(
            decoder_start_token_id=int(start),
            eos_token_ids=eos_ids,
            max_length=max_length,
            min_length=int(value("min_length", 0)),
            min_new_tokens=int(value("min_new_tokens", 0) or 0),
            num_beams=max(1, int(value("num_beams", 1))),
            length_penalty=float(value("length_penalty", 1.0)),
            early_stopping=value("early_stopping", False),
            no_repeat_ngram_size=int(value("no_repeat_ngram_size", 0) or 0),
            repetition_penalty=float(value("repetition_penalty", 1.0) or 1.0),
            forced_bos_token_id=_optional_int(value("forced_bos_token_id", None)),
            forced_eos_token_id=_optional_int(value("forced_eos_token_id", None)),
        )


def _optional_int(value: Any) -> int | None:
    """A token id from a config (lists are taken by their first entry), or ``None``."""
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else int(value)


@dataclass(frozen=True)
class Generated:
    """Generated token ids (without the start token and end-of-text) and their probabilities."""

    token_ids: tuple[int, ...]
    token_probs: tuple[float, ...]

    @property
    def confidence(self) -> float:
        """Mean probability of the chosen tokens; 0 for an empty result."""
        return float(np.mean(self.token_probs)) if self.token_probs else 0.0


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in float32."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def process_scores(sequences: np.ndarray, scores: np.ndarray, settings: GenerationSettings) -> np.ndarray:
    """transformers' logits processors for the settings above, on (batch, vocab) scores of (batch, len) ids."""
    cur_len = sequences.shape[1]
    if settings.repetition_penalty != 1.0:
        picked = np.take_along_axis(scores, sequences, axis=1)
        picked = np.where(picked < 0, picked * settings.repetition_penalty, picked / settings.repetition_penalty)
        scores = scores.copy()
        np.put_along_axis(scores, sequences, picked.astype(scores.dtype), axis=1)
    n = settings.no_repeat_ngram_size
    if n > 0 and cur_len + 1 >= n:
        scores = scores.copy() if settings.repetition_penalty == 1.0 else scores
        for row, sequence in enumerate(sequences.tolist()):
            prefix = tuple(sequence[cur_len - n + 1 :]) if n > 1 else ()
            banned = [sequence[i + n - 1] for i in range(cur_len - n + 1) if tuple(sequence[i : i + n - 1]) == prefix]
            scores[row, banned] = -np.inf
    if settings.eos_token_ids and (cur_len < settings.min_length or cur_len - 1 < settings.min_new_tokens):
        scores = scores.copy()
        scores[:, list(settings.eos_token_ids)] = -np.inf
    # transformers' ForcedBOS / ForcedEOS processors run last: every other token is banned, the forced one is 0.
    forced = None
    if settings.forced_bos_token_id is not None and cur_len == 1:
        forced = settings.forced_bos_token_id
    elif settings.forced_eos_token_id is not None and cur_len == settings.max_length - 1:
        forced = settings.forced_eos_token_id
    if forced is not None:
        scores = np.full_like(scores, -np.inf)
        scores[:, forced] = 0
    return scores


def greedy_search(model: StepModel, settings: GenerationSettings) -> Generated:
    """Pick the most likely token at every step until end-of-text or ``max_length``."""
    sequence = [settings.decoder_start_token_id]
    probs: list[float] = []
    state = model.start(1)
    eos = set(settings.eos_token_ids)
    while len(sequence) < settings.max_length:
        answer, state = model.step(np.array([[sequence[-1]]], dtype=np.int64), state, bounded=True)
        history = np.array([sequence], dtype=np.int64)
        logits = _exact_where_it_matters(answer, history, settings)
        scores = process_scores(history, logits, settings)
        token = int(np.argmax(scores[0]))
        sequence.append(token)
        if token in eos:
            break
        probs.append(float(np.exp(log_softmax(logits[:1])[0, token])))
    generated = [t for t in sequence[1:] if t not in eos]
    return Generated(tuple(generated), tuple(probs))


def _exact_where_it_matters(
    answer: np.ndarray | BoundedLogits, history: np.ndarray, settings: GenerationSettings
) -> np.ndarray:
    """Logits whose argmax after `process_scores` is the exact one: bounded logits made exact where it matters.

    Every processor is a non-decreasing function of each logit (the repetition penalty divides positive and
    multiplies negative scores; bans give -inf), so processing the lower and upper bounds bounds each processed
    score. A token whose upper bound is below the best lower bound cannot be the argmax; every other token (the
    candidates, a handful) gets its exact logit, and the approximate ones elsewhere stay below the best exact
    score. The probability normaliser then uses exact logits for the candidates and approximate ones for the rest.
    """
    if not isinstance(answer, BoundedLogits):
        return answer.astype(np.float32, copy=False)
    values = answer.values.astype(np.float32, copy=True)
    low = process_scores(history, values - answer.error, settings)
    high = process_scores(history, values + answer.error, settings)
    candidates = np.flatnonzero(high[0] >= low[0].max())
    values[0, candidates] = answer.exact(candidates)
    return values


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest values, largest first (ties: lower index first, as torch.topk on CPU)."""
    if k >= values.size:
        return np.argsort(-values, kind="stable")
    part = np.argpartition(-values, k - 1)[:k]
    return part[np.argsort(-values[part], kind="stable")]


def beam_search(model: StepModel, settings: GenerationSettings) -> Generated:
    """transformers' beam search (batch of one image, no sampling), with the model's KV cache reordered per step."""
    beams = settings.num_beams
    keep = max(2, 1 + len(settings.eos_token_ids)) * beams
    eos = np.array(settings.eos_token_ids, dtype=np.int64)
    prompt_len = 1
    running = np.full((beams, 1), settings.decoder_start_token_id, dtype=np.int64)
    running_logps = np.zeros((beams, 0), dtype=np.float32)
    running_scores = np.zeros(beams, dtype=np.float32)
    running_scores[1:] = NEG
    finished: list[tuple[np.ndarray, np.ndarray]] = [(running[0], running_logps[0])] * beams
    finished_scores = np.full(beams, NEG, dtype=np.float32)
    finished_flags = np.zeros(beams, dtype=bool)
    improvable = True
    state = model.start(beams)
    cur_len = 1
    is_top = np.arange(keep) < beams
    while True:
        logits, state = model.step(running[:, -1:], state)
        assert isinstance(logits, np.ndarray), "an unbounded step answers exact logits"
        logps = process_scores(running, log_softmax(logits.astype(np.float32, copy=False)), settings)
        vocab = logps.shape[1]
        accumulated = (logps + running_scores[:, None]).reshape(-1)
        top = _top(accumulated, keep)
        top_scores = accumulated[top]
        source, tokens = top // vocab, top % vocab
        candidates = np.concatenate([running[source], tokens[:, None]], axis=1)
        candidate_logps = np.concatenate([running_logps[source], logps[source, tokens][:, None]], axis=1)
        hits = np.isin(tokens, eos) | (cur_len + 1 >= settings.max_length)

        running_candidates = top_scores + hits.astype(np.float32) * NEG
        chosen = _top(running_candidates, beams)
        running, running_logps = candidates[chosen], candidate_logps[chosen]
        running_scores = running_candidates[chosen]

        final_scores = top_scores / np.float32((cur_len + 1 - prompt_len) ** settings.length_penalty)
        if finished_flags.all() and settings.early_stopping is True:
            final_scores = final_scores + NEG
        if not improvable:
            final_scores = final_scores + NEG
        just_finished = hits & is_top
        final_scores = final_scores + (~just_finished).astype(np.float32) * NEG
        merged_scores = np.concatenate([finished_scores, final_scores])
        best = _top(merged_scores, beams)
        pool = [*finished, *((candidates[i], candidate_logps[i]) for i in range(keep))]
        finished = [pool[i] for i in best]
        finished_scores = merged_scores[best]
        finished_flags = np.concatenate([finished_flags, just_finished])[best]

        state = model.reorder(state, source[chosen])
        cur_len += 1
        if settings.early_stopping == "never" and settings.length_penalty > 0.0:
            best_length = settings.max_length - prompt_len
        else:
            best_length = cur_len - prompt_len
        best_possible = running_scores[0] / np.float32(best_length**settings.length_penalty)
        worst = np.where(finished_flags, finished_scores.min(), NEG)
        improvable = improvable and bool(np.any(best_possible > worst))
        open_beam = not (finished_flags.all() and settings.early_stopping is True)
        if not (improvable and open_beam and not hits.all()):
            break
    sequence, token_logps = finished[0]
    ids = sequence[1:].tolist()
    probs = np.exp(token_logps).tolist()
    if ids and ids[-1] in settings.eos_token_ids:
        ids, probs = ids[:-1], probs[:-1]
    return Generated(tuple(int(i) for i in ids), tuple(float(p) for p in probs))


def generate(model: StepModel, settings: GenerationSettings) -> Generated:
    """Greedy search for one beam, beam search otherwise."""
    return greedy_search(model, settings) if settings.num_beams <= 1 else beam_search(model, settings)
