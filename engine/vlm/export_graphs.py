"""Traceable torch wrappers around a SmolVLM / Idefics3 model, one per ONNX graph of the transformers.js layout.

Export tooling only (imports torch at the top): `engine.vlm.export` imports this module inside its functions, so
the runtime path never does. The wrappers call the model's own modules (same weights, same arithmetic) and
rewrite only what the TorchScript tracer cannot follow:

- the vision embeddings' per-image loop (NaViT position buckets with ``bucketize``) becomes one vectorised
  comparison with the same float32 operations, so the buckets are identical;
- ``unfold`` on the pixel mask becomes a reshape and a sum over each patch;
- transformers' cache classes become `TracedCache`, a list of key/value tensors the tracer sees as plain inputs
  and outputs; the causal mask is built here as a 4-D additive mask, which the text model uses as given.
The padding-image filter of ``get_image_features`` (a data-dependent boolean index) is left out: the runtime
never sends padding images.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class VisionEncoder(nn.Module):
    """``pixel_values`` [B, N, 3, S, S] + ``pixel_attention_mask`` [B, N, S, S] -> ``image_features`` [B*N, T, D]."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        inner = model.model
        self.vision = inner.vision_model
        self.connector = inner.connector
        config = model.config.vision_config
        self.patch_size = int(config.patch_size)
        self.patches_per_side = int(config.image_size) // self.patch_size
        side = self.patches_per_side
        self.boundaries: torch.Tensor
        self.register_buffer("boundaries", torch.arange(1 / side, 1.0, 1 / side), persistent=False)

    def forward(self, pixel_values: torch.Tensor, pixel_attention_mask: torch.Tensor) -> torch.Tensor:
        """The projected image features of every tile, in the order the tiles come."""
        from transformers.modeling_attn_mask_utils import _prepare_4d_attention_mask

        batch, images, channels, height, width = pixel_values.shape
        pixels = pixel_values.reshape(batch * images, channels, height, width)
        patch = self.patch_size
        rows, cols = height // patch, width // patch
        mask = pixel_attention_mask.reshape(batch * images, rows, patch, cols, patch).to(torch.int32)
        patch_mask = mask.sum(dim=(2, 4)) > 0
        embeddings = self.vision.embeddings
        hidden = embeddings.patch_embedding(pixels).flatten(2).transpose(1, 2)
        hidden = hidden + embeddings.position_embedding(self._position_ids(patch_mask, pixels.dtype, rows, cols))
        flat_mask = patch_mask.reshape(batch * images, rows * cols)
        attention = _prepare_4d_attention_mask(flat_mask, hidden.dtype)
        hidden = self.vision.encoder(inputs_embeds=hidden, attention_mask=attention).last_hidden_state
        hidden = self.vision.post_layernorm(hidden)
        return self.connector(hidden)

    def _position_ids(self, patch_mask: torch.Tensor, dtype: torch.dtype, rows: int, cols: int) -> torch.Tensor:
        # The same float32 steps as Idefics3VisionEmbeddings: index / count * (1 - 1e-6), bucketed with right=True
        # (the number of boundaries at or below the value), for all images at once.
        rows_seen = patch_mask[:, :, 0].sum(dim=1).to(dtype)
        cols_seen = patch_mask[:, 0, :].sum(dim=1).to(dtype)
        row_frac = torch.arange(rows, dtype=dtype)[None, :] / rows_seen[:, None] * (1 - 1e-6)
        col_frac = torch.arange(cols, dtype=dtype)[None, :] / cols_seen[:, None] * (1 - 1e-6)
        row_bucket = (row_frac[..., None] >= self.boundaries).sum(-1)
        col_bucket = (col_frac[..., None] >= self.boundaries).sum(-1)
        ids = row_bucket[:, :, None] * self.patches_per_side + col_bucket[:, None, :]
        return torch.where(patch_mask, ids, torch.zeros_like(ids)).reshape(patch_mask.shape[0], rows * cols)


class EmbedTokens(nn.Module):
    """``input_ids`` [B, S] -> ``inputs_embeds`` [B, S, D]."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.embed = model.get_input_embeddings()

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The text model's token embeddings."""
        return self.embed(input_ids)


class TracedCache:
    """The key/value cache as plain tensors: what the text model's attention layers call ``update`` on."""

    def __init__(self, pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.keys = [k for k, _ in pairs]
        self.values = [v for _, v in pairs]

    def update(self, key: torch.Tensor, value: torch.Tensor, layer_idx: int,
               cache_kwargs: dict[str, Any] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Append this step's keys and values to layer ``layer_idx``; return the whole layer."""
        self.keys[layer_idx] = torch.cat([self.keys[layer_idx], key], dim=-2)
        self.values[layer_idx] = torch.cat([self.values[layer_idx], value], dim=-2)
        return self.keys[layer_idx], self.values[layer_idx]


class MergedDecoder(nn.Module):
    """``inputs_embeds``, ``attention_mask``, ``position_ids``, ``past_key_values.{i}.{key,value}`` -> ``logits``
    (of the last position: [B, 1, V]), ``present.{i}.{key,value}``. A zero-length past is the first step, so one
    graph serves both."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.text = model.model.text_model
        self.lm_head = model.lm_head
        self.layers = int(model.config.text_config.num_hidden_layers)

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                *past: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Logits for every new position and the grown cache."""
        cache = TracedCache([(past[2 * i], past[2 * i + 1]) for i in range(self.layers)])
        new = inputs_embeds.shape[1]
        total = attention_mask.shape[1]
        query_at = torch.arange(new, device=inputs_embeds.device) + (total - new)
        key_at = torch.arange(total, device=inputs_embeds.device)
        allowed = (key_at[None, :] <= query_at[:, None])[None, None] & (attention_mask[:, None, None, :] > 0)
        minimum = torch.finfo(inputs_embeds.dtype).min
        mask = torch.where(allowed, torch.zeros((), dtype=inputs_embeds.dtype),
                           torch.full((), minimum, dtype=inputs_embeds.dtype))
        output = self.text(inputs_embeds=inputs_embeds, attention_mask=mask, position_ids=position_ids,
                           past_key_values=cache, use_cache=True, cache_position=query_at)
        # Only the last position's logits: a prompt of a thousand positions would otherwise pay the vocabulary-wide
        # output layer a thousand times for rows nobody reads (the runtime takes the last row in either case).
        logits = self.lm_head(output.last_hidden_state[:, -1:, :])
        presents: list[torch.Tensor] = []
        for key, value in zip(cache.keys, cache.values, strict=True):
            presents += [key, value]
        return (logits, *presents)
