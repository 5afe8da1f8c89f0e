"""A decoder-only vision-language model on onnxruntime: its three graphs, its processor files, and one step.

`VisionLanguageModel` loads a folder of the transformers.js layout (see `engine.vlm.layout`): the vision encoder
turns a picture's tiles into image features, ``embed_tokens`` turns ids into embeddings, and the merged decoder
runs any number of new positions against the key/value cache, so a prompt, each generated token and a follow-up
question are all one call. Image features replace the embedding rows of the image token, as transformers'
``inputs_merger`` does. The cache goes from one step to the next as OrtValues through I/O binding (on a GPU it
stays there; only the last row of logits comes back to numpy).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ModelError
from engine.vlm.images import SmolVlmImageProcessor
from engine.vlm.layout import VlmFiles, find_vlm_files
from engine.vlm.prompt import ChatTemplate, load_chat_template, smolvlm_image_prompt
from engine.vlm.sampling import GenerationSettings
from engine.vlm.tokens import TextTokens

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncodedPicture:
    """A picture as the model sees it: image features (one row per image token) and the prompt text for it."""

    features: np.ndarray  # float32 [image tokens, hidden]
    image_prompt: str
    tiles: int
    vision_ms: float


class KeyValueCache:
    """The decoder's past keys and values as OrtValues, with the ids they were computed for."""

    def __init__(self, names: list[str], empty: Any) -> None:
        self.names = names
        self.values: dict[str, Any] = dict.fromkeys(names, empty)
        self.ids: list[int] = []

    def truncate(self, length: int, device: str) -> None:
        """Keep only the first ``length`` positions (a follow-up whose text re-tokenized differently)."""
        import onnxruntime as ort

        for name in self.names:
            kept = np.ascontiguousarray(self.values[name].numpy()[:, :, :length])
            self.values[name] = ort.OrtValue.ortvalue_from_numpy(kept, device, 0)
        self.ids = self.ids[:length]


class VisionLanguageModel:
    """One loaded SmolVLM-family model: picture encoding, prompts, and the decoder step."""

    def __init__(self, folder: Path, *, name: str | None = None, device: str | None = None, precision: str = "auto",
                 max_tiles: int = 0, threads: int = 0) -> None:
        from engine.runtime import create_session

        self.files: VlmFiles = find_vlm_files(Path(folder), precision)
        self.name = name or Path(folder).name
        config = self.files.json("config.json", required=True)
        text = config.get("text_config") or {}
        vision = config.get("vision_config") or {}
        try:
            self.image_token_id = int(config["image_token_id"])
            heads = int(text.get("num_attention_heads", 0))
            self.kv_heads = int(text.get("num_key_value_heads") or heads)
            self.head_dim = int(text.get("head_dim") or int(text["hidden_size"]) // heads)
        except (KeyError, ValueError, TypeError, ZeroDivisionError) as error:
            raise ModelError(f"config.json of {self.name} lacks what the model needs ({error}).",
                             "Export or download the model again.") from error
        processor = self.files.json("processor_config.json")
        scale = int(config.get("scale_factor", 2))
        computed = (int(vision.get("image_size", 512)) // int(vision.get("patch_size", 16))) ** 2 // scale ** 2
        self.image_seq_len = int(processor.get("image_seq_len") or computed)
        self.images = SmolVlmImageProcessor(self.files.json("preprocessor_config.json"), max_tiles=max_tiles)
        self.tokens = TextTokens(self.files.folder)
        self.template = ChatTemplate(load_chat_template(self.files.folder), self.tokens.special_tokens)
        eos = text.get("eos_token_id", config.get("eos_token_id"))
        fallback = tuple(eos) if isinstance(eos, list) else ((int(eos),) if eos is not None else ())
        self.generation = GenerationSettings.from_config(self.files.json("generation_config.json"),
                                                         fallback_eos=fallback)
        self.vision = create_session(self.files.vision_encoder, device=device, threads=threads)
        self.embed = create_session(self.files.embed_tokens, device=device, threads=threads)
        self.decoder = create_session(self.files.decoder, device=device, threads=threads)
        self.device = "cuda" if self.decoder.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
        self._decoder_inputs = {i.name for i in self.decoder.get_inputs()}
        self.past_names = [i.name for i in self.decoder.get_inputs() if i.name.startswith("past_key_values.")]
        self.present_names = [o.name for o in self.decoder.get_outputs() if o.name.startswith("present")]
        if len(self.past_names) != len(self.present_names) or not self.past_names:
            raise ModelError(f"The decoder of {self.name} has no key/value cache.", "Export the model again.")
        types = {i.name: i.type for i in self.decoder.get_inputs()}
        self._cache_dtype = np.float16 if "float16" in types[self.past_names[0]] else np.float32
        self._embed_dtype = np.float16 if "float16" in types.get("inputs_embeds", "") else np.float32

    # -- the picture ------------------------------------------------------------------------------------------

    def encode_picture(self, rgb: np.ndarray) -> EncodedPicture:
        """Tiles, vision encoder and projection: the image features of one picture."""
        started = time.perf_counter()
        tiled = self.images(rgb)
        inputs = {"pixel_values": tiled.pixel_values, "pixel_attention_mask": tiled.pixel_attention_mask}
        known = {i.name for i in self.vision.get_inputs()}
        features = self.vision.run(None, {k: v for k, v in inputs.items() if k in known})[0]
        features = np.asarray(features, dtype=np.float32).reshape(-1, features.shape[-1])
        prompt = smolvlm_image_prompt(tiled.rows, tiled.cols, self.image_seq_len)
        expected = tiled.tiles * self.image_seq_len
        if len(features) != expected:
            raise ModelError(f"The vision encoder of {self.name} gave {len(features)} image rows, not {expected}.",
                             "Export the model again.")
        vision_ms = (time.perf_counter() - started) * 1000
        log.debug("picture: %d tiles (%d x %d), %.0f ms", tiled.tiles, tiled.rows, tiled.cols, vision_ms)
        return EncodedPicture(features, prompt, tiled.tiles, vision_ms)

    # -- the decoder ------------------------------------------------------------------------------------------

    def new_cache(self) -> KeyValueCache:
        """An empty cache (zero positions), where the model runs."""
        import onnxruntime as ort

        empty = np.zeros((1, self.kv_heads, 0, self.head_dim), dtype=self._cache_dtype)
        return KeyValueCache(self.past_names, ort.OrtValue.ortvalue_from_numpy(empty, self.device, 0))

    def embeddings(self, ids: list[int], picture: EncodedPicture | None, image_rows_before: int, *,
                   replace_images: bool = True) -> np.ndarray:
        """Embeddings of ``ids``, image-token rows replaced by the picture's features (``image_rows_before`` of
        them were used by earlier positions). Generated ids are embedded as they are (``replace_images=False``),
        as transformers does: an image token the model writes is not a picture."""
        array = np.asarray([ids], dtype=np.int64)
        embeds = np.asarray(self.embed.run(None, {"input_ids": array})[0])
        where = np.flatnonzero(array[0] == self.image_token_id) if replace_images else np.zeros(0, dtype=np.int64)
        if len(where):
            if picture is None or image_rows_before + len(where) > len(picture.features):
                raise ModelError("The prompt has more image tokens than the picture has features.",
                                 "Export the model again.")
            rows = picture.features[image_rows_before:image_rows_before + len(where)]
            embeds[0, where] = rows.astype(embeds.dtype)
        return embeds.astype(self._embed_dtype, copy=False)

    def step(self, cache: KeyValueCache, ids: list[int], embeds: np.ndarray) -> np.ndarray:
        """Run ``ids`` (embedded as ``embeds``) after the cache; grow the cache; return the last row of logits."""
        start = len(cache.ids)
        total = start + len(ids)
        binding = self.decoder.io_binding()
        binding.bind_cpu_input("inputs_embeds", np.ascontiguousarray(embeds))
        if "attention_mask" in self._decoder_inputs:
            binding.bind_cpu_input("attention_mask", np.ones((1, total), dtype=np.int64))
        if "position_ids" in self._decoder_inputs:
            binding.bind_cpu_input("position_ids", np.arange(start, total, dtype=np.int64)[None])
        if "num_logits_to_keep" in self._decoder_inputs:
            binding.bind_cpu_input("num_logits_to_keep", np.array(1, dtype=np.int64))
        for name in cache.names:
            binding.bind_ortvalue_input(name, cache.values[name])
        binding.bind_output("logits", "cpu")
        for name in self.present_names:
            binding.bind_output(name, self.device)
        self.decoder.run_with_iobinding(binding)
        outputs = binding.get_outputs()
        cache.values = dict(zip(cache.names, outputs[1:], strict=True))
        cache.ids = [*cache.ids, *ids]
        return np.asarray(outputs[0].numpy()[0, -1], dtype=np.float32)


def load_vlm(name_or_folder: str | Path, settings: Any = None, **options: Any) -> VisionLanguageModel:
    """A model by store name (a ``vlm`` model) or folder; ``vlm_max_tiles`` and ``device`` from ``settings``."""
    folder = Path(str(name_or_folder))
    name = folder.name
    if not folder.is_dir():
        from engine.models.store import ModelStore

        store = ModelStore.from_settings(settings)
        folder = store.require(str(name_or_folder), task="vlm")
        name = str(name_or_folder)
    if settings is not None:
        options.setdefault("max_tiles", int(getattr(settings, "vlm_max_tiles", 0)))
        options.setdefault("device", getattr(settings, "device", None))
    return VisionLanguageModel(folder, name=name, **options)
