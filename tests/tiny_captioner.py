"""A tiny, random-weight image captioner built offline with the real libraries, for tests.

The model is a `VisionEncoderDecoderModel` (ViT encoder + GPT-2 decoder with cross-attention), the same classes as
`nlpconnect/vit-gpt2-image-captioning`, only with a few dimensions. Its tokenizer is a real byte-level BPE trained
with `tokenizers` on a handful of sentences, so decoding exercises the same `tokenizer.json` path a real model
does. The exported folder comes from SpaceVoice's own `export_captioner` (Optimum's exporter), so every test run
goes through the code a user's model goes through.

torch, transformers and optimum are imported inside the functions: only tests and benchmarks call them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TINY_IMAGE_SIZE = 32
TRAINING_SENTENCES = [
    "a man riding a bike down a street",
    "a woman sitting on a bench in a park",
    "a cat lying on a bed next to a window",
    "two dogs playing with a ball on the grass",
    "a plate of food with rice and vegetables",
    "a group of people standing around a table",
    "a red car parked in front of a house",
    "a computer screen showing a web page with text",
]


def build_tokenizer(folder: Path, vocab_size: int = 300) -> Any:
    """Train a byte-level BPE like GPT-2's on a few sentences and save it as a fast tokenizer in ``folder``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(TRAINING_SENTENCES, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    fast.save_pretrained(folder)
    return fast


def vit_gpt2_model(*, tiny: bool, vocab_size: int, eos_token_id: int, seed: int = 0) -> Any:
    """A random-weight ViT + GPT-2 vision-encoder-decoder: tiny for tests, or vit-gpt2's exact full size.

    The full size is the configuration of ``nlpconnect/vit-gpt2-image-captioning`` (ViT-B/16 at 224 pixels and
    GPT-2 124M with cross-attention), written out by hand because no model hub is reachable.
    """
    import torch
    from transformers import GPT2Config, VisionEncoderDecoderConfig, VisionEncoderDecoderModel, ViTConfig

    torch.manual_seed(seed)
    if tiny:
        encoder = ViTConfig(
            image_size=TINY_IMAGE_SIZE, patch_size=8, hidden_size=32, num_hidden_layers=2,
            num_attention_heads=2, intermediate_size=64,
        )
        # A wide initialisation makes the random logits decisive, so greedy and beam choices do not hinge on
        # float rounding differences between torch and onnxruntime.
        decoder = GPT2Config(
            vocab_size=vocab_size, n_positions=64, n_embd=32, n_layer=2, n_head=2,
            add_cross_attention=True, initializer_range=0.5,
            bos_token_id=eos_token_id, eos_token_id=eos_token_id,
        )
    else:
        encoder = ViTConfig(
            image_size=224, patch_size=16, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, qkv_bias=True,
        )
        decoder = GPT2Config(
            vocab_size=vocab_size, n_positions=1024, n_embd=768, n_layer=12, n_head=12,
            add_cross_attention=True, bos_token_id=eos_token_id, eos_token_id=eos_token_id,
        )
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id = eos_token_id
    config.pad_token_id = eos_token_id
    config.eos_token_id = eos_token_id
    model = VisionEncoderDecoderModel(config=config)
    model.eval()
    return model


def save_source_model(
    folder: Path, *, tiny: bool = True, num_beams: int = 1, max_length: int = 12, seed: int = 0
) -> Path:
    """Write a complete transformers folder (weights, configs, tokenizer, image processor) ready to export."""
    from transformers import GenerationConfig, ViTImageProcessor

    folder.mkdir(parents=True, exist_ok=True)
    if tiny:
        tokenizer = build_tokenizer(folder)
        vocab_size = len(tokenizer)
        eos = tokenizer.eos_token_id
    else:
        # GPT-2's vocabulary size and end-of-text id; the tokenizer only matters for the decoded words.
        build_tokenizer(folder, vocab_size=400)
        vocab_size, eos = 50257, 50256
    model = vit_gpt2_model(tiny=tiny, vocab_size=vocab_size, eos_token_id=eos, seed=seed)
    model.generation_config = GenerationConfig(
        bos_token_id=eos, eos_token_id=eos, pad_token_id=eos, decoder_start_token_id=eos,
        max_length=max_length, num_beams=num_beams, early_stopping=num_beams > 1,
    )
    model.save_pretrained(folder)
    size = TINY_IMAGE_SIZE if tiny else 224
    ViTImageProcessor(
        do_resize=True, size={"height": size, "width": size}, do_rescale=True, rescale_factor=1 / 255,
        do_normalize=True, image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5],
    ).save_pretrained(folder)
    return folder


def build_tiny_captioner(root: Path, *, num_beams: int = 1, quantize: bool = False) -> tuple[Path, Path]:
    """Build the tiny source model in ``root/source`` and export it to ``root/onnx``; return both folders."""
    from engine.models.export import export_captioner

    source = save_source_model(root / "source", num_beams=num_beams)
    exported = export_captioner(source, root / "onnx", quantize=quantize)
    return source, exported


def read_generation_config(folder: Path) -> dict[str, Any]:
    """The generation_config.json of a model folder, as a dict."""
    return dict(json.loads((folder / "generation_config.json").read_text()))
