"""The torch modules `export_florence` traces: each part of Florence-2 with onnx-community's inputs and outputs.

Export tooling only (imports torch at the top); the runtime never imports this module.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def cache_names(layers: int, prefix: str) -> list[str]:
    """``{prefix}.{i}.{decoder|encoder}.{key|value}`` in onnx-community's order."""
    return [f"{prefix}.{i}.{part}.{kind}" for i in range(layers) for part in ("decoder", "encoder")
            for kind in ("key", "value")]


class VisionEncoder(nn.Module):
    """``pixel_values`` -> ``image_features`` (vision tower and multimodal projector)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Image tokens ready to precede the prompt's embeddings."""
        return self.model.model.get_image_features(pixel_values)


class EmbedTokens(nn.Module):
    """``input_ids`` -> ``inputs_embeds``: BART's shared embedding (its scale is part of the module)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.embed = model.get_input_embeddings()

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Token embeddings."""
        return self.embed(input_ids)


class Encoder(nn.Module):
    """BART's encoder over the image features followed by the prompt's embeddings."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.encoder = model.model.language_model.encoder

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``last_hidden_state``."""
        return self.encoder(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                            return_dict=True).last_hidden_state


class _Decoder(nn.Module):
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.decoder = model.model.language_model.decoder
        self.lm_head = model.lm_head

    def _run(self, inputs_embeds: torch.Tensor, encoder_hidden_states: torch.Tensor,
             encoder_attention_mask: torch.Tensor, cache: Any) -> tuple[torch.Tensor, ...]:
        out = self.decoder(inputs_embeds=inputs_embeds, encoder_hidden_states=encoder_hidden_states,
                           encoder_attention_mask=encoder_attention_mask, past_key_values=cache, use_cache=True,
                           return_dict=True)
        logits = self.lm_head(out.last_hidden_state)
        flat: list[torch.Tensor] = []
        for layer in out.past_key_values.to_legacy_cache():
            flat.extend(layer)
        return (logits, *flat)


class DecoderWithoutCache(_Decoder):
    """The first step: computes the self- and cross-attention caches (``present.*``) from the encoder output."""

    def forward(self, inputs_embeds: torch.Tensor, encoder_hidden_states: torch.Tensor,
                encoder_attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``logits`` then ``present.{i}.decoder.key/value, present.{i}.encoder.key/value`` per layer."""
        from transformers.cache_utils import DynamicCache, EncoderDecoderCache

        cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        return self._run(inputs_embeds, encoder_hidden_states, encoder_attention_mask, cache)


class DecoderWithCache(_Decoder):
    """Later steps: the cross-attention cache is an input and is not recomputed; only self-attention presents."""

    def forward(self, inputs_embeds: torch.Tensor, encoder_hidden_states: torch.Tensor,
                encoder_attention_mask: torch.Tensor, *past: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``logits`` then ``present.{i}.decoder.key/value`` per layer."""
        from transformers.cache_utils import EncoderDecoderCache

        legacy: Any = tuple(tuple(past[i : i + 4]) for i in range(0, len(past), 4))
        cache = EncoderDecoderCache.from_legacy_cache(legacy)
        logits, *flat = self._run(inputs_embeds, encoder_hidden_states, encoder_attention_mask, cache)
        own = [t for i, t in enumerate(flat) if i % 4 < 2]
        return (logits, *own)
