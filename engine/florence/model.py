"""`Florence2`: Florence-2's four onnx-community graphs run with onnxruntime, numpy and tokenizers only.

Per picture and task: preprocess (numpy), the vision encoder, the prompt's embeddings, the encoder over both,
then the decoder one token at a time through `engine.captioner.decoding` (the same greedy and beam search as the
vit-gpt2 captioner: one decoder loop, two model families). The first step runs the merged decoder's no-cache
branch, which computes the cross-attention keys and values over the picture once; every later step runs the
cached branch, fed those and the growing self-attention cache as onnxruntime values (no copies through numpy
except when beam search reorders the self-attention part; the cross-attention part is the same for every beam).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from engine.captioner.decoding import Generated, GenerationSettings, generate
from engine.captioner.preprocess import ImagePreprocessor
from engine.errors import ModelError
from engine.florence.files import FIX_HINT, FlorenceFiles
from engine.florence.regions import Region, parse_answer
from engine.florence.tasks import ANSWER_KINDS, prompt_text, task_token
from engine.runtime import create_session, release_freed_memory

log = logging.getLogger(__name__)

# When the model's generation config sets no length: enough for a paragraph or a page of text lines.
DEFAULT_MAX_NEW_TOKENS = 256
_NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


@dataclass(frozen=True)
class FlorenceAnswer:
    """One task's answer: the decoded text (special tokens removed), its regions in pixels, and the tokens."""

    task: str
    text: str
    regions: tuple[Region, ...]
    generated: Generated
    raw_text: str  # decoded with special and location tokens, what the regions were read from


def _float_type(session: Any, name: str) -> type:
    kind = next(i.type for i in session.get_inputs() if i.name == name)
    return _NUMPY_TYPES.get(kind, np.float32)


class _DecoderSteps:
    """The `StepModel` of the decoding module over the merged decoder, for one encoded picture and prompt."""

    def __init__(self, model: Florence2, hidden: np.ndarray, mask: np.ndarray) -> None:
        import onnxruntime as ort

        self._ort = ort
        self._model = model
        self._hidden = hidden
        self._mask = mask

    def start(self, batch: int) -> dict[str, Any]:
        """No cache yet: the first step runs the no-cache branch."""
        return {"batch": batch}

    def _embed(self, tokens: np.ndarray) -> np.ndarray:
        model = self._model
        embeds = model.embed.run(None, {"input_ids": np.ascontiguousarray(tokens, dtype=np.int64)})[0]
        return embeds.astype(model.decoder_float, copy=False)

    def step(self, tokens: np.ndarray, state: dict[str, Any], *, bounded: bool = False) -> tuple[np.ndarray, Any]:
        """One decoder step; ``bounded`` is ignored (the logits are always exact here)."""
        model = self._model
        ort = self._ort
        batch = len(tokens)
        first = "self" not in state
        # Every beam starts from the same token and picture: run the first step once and repeat its results.
        rows = 1 if first and bool((tokens == tokens[0]).all()) else batch
        feeds: dict[str, Any] = {
            "inputs_embeds": ort.OrtValue.ortvalue_from_numpy(self._embed(tokens[:rows])),
            "use_cache_branch": ort.OrtValue.ortvalue_from_numpy(np.array([not first])),
            "encoder_attention_mask": ort.OrtValue.ortvalue_from_numpy(np.repeat(self._mask, rows, axis=0)),
            "encoder_hidden_states": ort.OrtValue.ortvalue_from_numpy(np.repeat(self._hidden, rows, axis=0)),
        }
        if first:
            empty = ort.OrtValue.ortvalue_from_numpy(
                np.zeros((rows, model.heads, 0, model.head_size), dtype=model.decoder_float))
            feeds.update({name: empty for name in model.past_names})
        else:
            feeds.update(state["self"])
            feeds.update(state["cross"])
        outputs = model.decoder.run_with_ort_values(model.present_names, feeds)
        logits = outputs[0].numpy()[:, -1, :].astype(np.float32, copy=False)
        presents = dict(zip(model.present_names[1:], outputs[1:], strict=True))
        own = {_past(n): v for n, v in presents.items() if ".decoder." in n}
        cross = state.get("cross") or {_past(n): v for n, v in presents.items() if ".encoder." in n}
        if rows != batch:
            logits = np.repeat(logits, batch, axis=0)
            own = {n: ort.OrtValue.ortvalue_from_numpy(np.repeat(v.numpy(), batch, axis=0)) for n, v in own.items()}
            cross = {n: ort.OrtValue.ortvalue_from_numpy(np.repeat(v.numpy(), batch, axis=0))
                     for n, v in cross.items()}
        return logits, {"batch": batch, "self": own, "cross": cross}

    def reorder(self, state: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
        """Keep the self-attention cache rows of the surviving beams (the cross-attention rows are all equal)."""
        if np.array_equal(rows, np.arange(len(rows))) or "self" not in state:
            return state
        own = {n: self._ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(v.numpy()[rows]))
               for n, v in state["self"].items()}
        return {**state, "self": own}


def _past(present: str) -> str:
    return present.replace("present", "past_key_values", 1)


def clean_up_spaces(text: str) -> str:
    """transformers' ``clean_up_tokenization`` (spaces before punctuation and English contractions)."""
    for before, after in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                          (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        text = text.replace(before, after)
    return text


class Florence2:
    """Florence-2 on onnxruntime: ``run(image, task)`` answers one task for one RGB uint8 picture.

    Thread-safe: one answer at a time per instance.
    """

    def __init__(self, files: FlorenceFiles, *, device: str | None = None, threads: int = 0) -> None:
        from tokenizers import Tokenizer

        self.files = files
        self.preprocess = ImagePreprocessor.from_config(files.preprocessor)
        self.generation = self._generation_settings(files)
        try:
            self.tokenizer = Tokenizer.from_file(str(files.tokenizer))
        except Exception as error:  # tokenizers raises a bare Exception for a damaged file
            raise ModelError(f"The scene model's tokenizer.json in {files.folder.name} is damaged.",
                             FIX_HINT) from error
        self.clean_up = bool(files.tokenizer_config.get("clean_up_tokenization_spaces", False))
        graphs = files.graphs

        def session(name: str) -> Any:
            # No arena: resident memory stays near the files' size (see docs/captioner.md, Memory).
            return create_session(graphs[name], device=device, threads=threads, name=graphs[name].name, arena=False)

        self.vision = session("vision_encoder")
        self.embed = session("embed_tokens")
        self.encoder = session("encoder_model")
        self.decoder = session("decoder_model_merged")
        self._check_graphs()
        self.vision_float = _float_type(self.vision, "pixel_values")
        self.encoder_float = _float_type(self.encoder, "inputs_embeds")
        self.decoder_float = _float_type(self.decoder, "inputs_embeds")
        self.present_names = [o.name for o in self.decoder.get_outputs()]
        self.past_names = [_past(n) for n in self.present_names[1:]]
        text = files.config.get("text_config", {})
        self.heads = int(text.get("decoder_attention_heads", 12))
        self.head_size = int(text.get("d_model", 768)) // self.heads
        release_freed_memory()
        self._lock = threading.Lock()

    @staticmethod
    def _generation_settings(files: FlorenceFiles) -> GenerationSettings:
        settings = GenerationSettings.from_configs(files.generation, files.config)
        text = files.config.get("text_config", {})
        if not any(key in source for source in (files.generation, files.config, text)
                   for key in ("max_length", "max_new_tokens")):
            settings = replace(settings, max_length=DEFAULT_MAX_NEW_TOKENS + 1)
        # The decoder has a position embedding per token: it cannot go further (transformers would fail there).
        positions = int(text.get("max_position_embeddings") or 0)
        if positions and settings.max_length > positions:
            settings = replace(settings, max_length=positions)
        return settings

    def _check_graphs(self) -> None:
        expected = {
            "vision_encoder": (self.vision, "pixel_values"),
            "embed_tokens": (self.embed, "input_ids"),
            "encoder_model": (self.encoder, "inputs_embeds"),
            "decoder_model_merged": (self.decoder, "use_cache_branch"),
        }
        for graph, (sess, name) in expected.items():
            if name not in {i.name for i in sess.get_inputs()}:
                raise ModelError(f"{self.files.graphs[graph].name} is not Florence-2's {graph} graph.", FIX_HINT)

    def image_features(self, image: np.ndarray) -> np.ndarray:
        """The vision encoder's output for ``image``: shared by every task asked about the same picture."""
        pixels: np.ndarray = self.preprocess(image).astype(self.vision_float, copy=False)
        features: np.ndarray = self.vision.run(None, {"pixel_values": pixels})[0]
        return features

    def encode(self, image: np.ndarray, task: str,
               features: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The encoder's output over the picture's features and the task prompt, and its attention mask."""
        if features is None:
            features = self.image_features(image)
        prompt = self.tokenizer.encode(prompt_text(task), add_special_tokens=False).ids
        prompt_embeds = self.embed.run(None, {"input_ids": np.array([prompt], dtype=np.int64)})[0]
        embeds = np.concatenate([features.astype(np.float32), prompt_embeds.astype(np.float32)], axis=1)
        mask = np.ones(embeds.shape[:2], dtype=np.int64)
        hidden = self.encoder.run(None, {"inputs_embeds": embeds.astype(self.encoder_float),
                                         "attention_mask": mask})[0]
        return hidden.astype(self.decoder_float, copy=False), mask

    def generate(self, image: np.ndarray, task: str, settings: GenerationSettings | None = None, *,
                 num_beams: int | None = None, max_new_tokens: int | None = None,
                 min_new_tokens: int | None = None, features: np.ndarray | None = None) -> Generated:
        """Token ids for ``task`` on ``image`` (default settings: the model's generation config).

        ``features``: the picture's `image_features`, when another task already computed them.
        """
        settings = settings or self.generation
        if num_beams is not None:
            settings = replace(settings, num_beams=num_beams)
        if max_new_tokens is not None:
            settings = replace(settings, max_length=max_new_tokens + 1)
        if min_new_tokens is not None:
            settings = replace(settings, min_new_tokens=min_new_tokens)
        with self._lock:
            hidden, mask = self.encode(image, task, features)
            generated = generate(_DecoderSteps(self, hidden, mask), settings)
        release_freed_memory()
        return generated

    def run(self, image: np.ndarray, task: str = "<MORE_DETAILED_CAPTION>", **options: Any) -> FlorenceAnswer:
        """Answer ``task`` (a token such as ``<OD>`` or a user name such as ``objects``) for ``image``."""
        token = task_token(task)
        generated = self.generate(image, token, **options)
        ids = list(generated.token_ids)
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        raw = self.tokenizer.decode(ids, skip_special_tokens=False)
        if self.clean_up:
            text, raw = clean_up_spaces(text), clean_up_spaces(raw)
        height, width = image.shape[:2]
        rules = self.files.processor.get("post_processor_config") or {}
        regions = tuple(parse_answer(ANSWER_KINDS[token], raw, width, height, rules))
        log.debug("florence %s: %r", token, text)
        return FlorenceAnswer(token, text, regions, generated, raw)
