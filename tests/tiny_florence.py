"""A tiny, random-weight Florence-2 built offline with the real libraries, for tests and the benchmark.

`Florence2ForConditionalGeneration` (transformers' native class: DaViT vision tower, projector, BART) with a few
dimensions, and a real byte-level BPE tokenizer trained with `tokenizers` on a handful of sentences plus
Florence-2's added tokens (``<loc_0>`` ... ``<loc_999>``, ``<od>``, ``<image>`` ...), saved as a complete
transformers folder (weights, configs, tokenizer, CLIP-style image processor) that `Florence2Processor` loads.
The full-size variant has Florence-2-base-ft's exact configuration, written out by hand (no model hub here).

torch and transformers are imported inside the functions: only tests and benchmarks call them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TINY_IMAGE_SIZE = 64
SENTENCES = [
    "a man riding a bike down a street",
    "a woman sitting on a bench in a park",
    "a cat lying on a bed next to a window",
    "two dogs playing with a ball on the grass",
    "a red car parked in front of a house",
    "a computer screen showing a web page with text",
    "What does the image describe?",
    "Describe in detail what is shown in the image.",
    "Describe with a paragraph what is shown in the image.",
    "Locate the objects with category name in the image.",
    "Locate the objects in the image, with their descriptions.",
    "What is the text in the image, with regions?",
    "What is the text in the image?",
    "Locate the region proposals in the image.",
]
# Florence-2's added tokens besides the 1000 location bins (its tokenizer_config.json lists them).
EXTRA_TOKENS = ["<od>", "</od>", "<ocr>", "</ocr>", "<cap>", "</cap>", "<ncap>", "</ncap>", "<dcap>", "</dcap>",
                "<grounding>", "</grounding>", "<seg>", "</seg>", "<sep>", "<region_cap>", "</region_cap>",
                "<region_to_desciption>", "</region_to_desciption>", "<proposal>", "</proposal>", "<poly>",
                "</poly>", "<and>"]


# The parse rules Florence-2's processor_config.json carries (the original processor's defaults).
POST_PROCESSOR_CONFIG = {
    "ocr": {"PATTERN": r"(.+?)<loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)><loc_(\d+)>"
                       r"<loc_(\d+)>", "AREA_THRESHOLD": 0.0},
    "phrase_grounding": {"banned_grounding_tokens": []},
    "pure_text": {}, "description_with_bboxes": {}, "description_with_polygons": {}, "polygons": {}, "bboxes": {},
    "description_with_bboxes_or_polygons": {},
}


def build_tokenizer(folder: Path, *, vocab_size: int = 400) -> Any:
    """A BART-style byte-level BPE (``<s>`` 0, ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3) with Florence-2's tokens."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import BartTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(SENTENCES, trainer)
    tokenizer.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    tokenizer.add_special_tokens([AddedToken("<mask>", special=True)])
    tokenizer.add_tokens([AddedToken(f"<loc_{i}>", special=False) for i in range(1000)])
    tokenizer.add_tokens([AddedToken(t, special=False) for t in EXTRA_TOKENS])
    tokenizer.add_special_tokens([AddedToken("<image>", special=True)])
    fast = BartTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        cls_token="<s>", sep_token="</s>", mask_token="<mask>", extra_special_tokens={"image_token": "<image>"},
    )
    fast.save_pretrained(folder)
    return fast


def florence2_config(*, tiny: bool, vocab_size: int, image_token_id: int, large: bool = False) -> Any:
    """Florence-2's configuration: tiny for tests, or Florence-2-base-ft's (``large``: -large-ft's) exact one."""
    from transformers import BartConfig, Florence2Config, Florence2VisionConfig

    if tiny:
        vision = Florence2VisionConfig(
            depths=(1, 1, 1, 1), embed_dim=(8, 16, 16, 32), num_heads=(1, 2, 2, 2), num_groups=(1, 2, 2, 2),
            window_size=2, projection_dim=32, drop_path_rate=0.0,
        )
        text = BartConfig(
            vocab_size=vocab_size, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
            decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=512,
            init_std=0.5, scale_embedding=False, no_repeat_ngram_size=3, num_beams=3,
        )
    else:
        dims = (256, 512, 1024, 2048) if large else (128, 256, 512, 1024)
        heads = (8, 16, 32, 64) if large else (4, 8, 16, 32)
        width = 1024 if large else 768
        vision = Florence2VisionConfig(
            depths=(1, 1, 9, 1), embed_dim=dims, num_heads=heads, num_groups=heads, window_size=12,
            projection_dim=width, drop_path_rate=0.1, patch_size=(7, 3, 3, 3), patch_stride=(4, 2, 2, 2),
            patch_padding=(3, 1, 1, 1), patch_prenorm=(False, True, True, True),
        )
        layers = 12 if large else 6
        text = BartConfig(
            vocab_size=vocab_size, d_model=width, encoder_layers=layers, decoder_layers=layers,
            encoder_attention_heads=width // 64, decoder_attention_heads=width // 64, encoder_ffn_dim=4 * width,
            decoder_ffn_dim=4 * width, max_position_embeddings=1024, scale_embedding=False,
            no_repeat_ngram_size=3, num_beams=3,
        )
    return Florence2Config(text_config=text.to_dict(), vision_config=vision.to_dict(), image_token_id=image_token_id)


def save_source_model(folder: Path, *, tiny: bool = True, large: bool = False, seed: int = 0,
                      max_length: int = 20) -> Path:
    """Write a complete transformers Florence-2 folder (weights, configs, tokenizer, processor) ready to export."""
    import torch
    from transformers import CLIPImageProcessor, Florence2ForConditionalGeneration, Florence2Processor

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(folder)
    # Full size: Florence-2's vocabulary of 51289 tokens (the small tokenizer's ids all fall inside it, <image>
    # included, so transformers' processor still places the picture).
    vocab_size = len(tokenizer) if tiny else 51289
    torch.manual_seed(seed)
    config = florence2_config(tiny=tiny, vocab_size=vocab_size, image_token_id=tokenizer.image_token_id,
                              large=large)
    model = Florence2ForConditionalGeneration(config).eval()
    model.generation_config.num_beams = 3
    model.generation_config.no_repeat_ngram_size = 3
    model.generation_config.max_length = max_length
    model.generation_config.early_stopping = False
    model.save_pretrained(folder)
    size = TINY_IMAGE_SIZE if tiny else 768
    tokens = (size // 32) ** 2 + 1
    image_processor = CLIPImageProcessor(
        do_resize=True, size={"height": size, "width": size}, resample=3, do_center_crop=False, do_rescale=True,
        rescale_factor=1 / 255, do_normalize=True, image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225], do_convert_rgb=True,
    )
    image_processor.image_seq_length = tokens
    processor = Florence2Processor(image_processor=image_processor, tokenizer=tokenizer,
                                   post_processor_config=POST_PROCESSOR_CONFIG)
    processor.save_pretrained(folder)
    return folder


def _build_key(*, quantize: bool) -> str:
    """A content hash of everything the tiny export depends on: this file, the exporter, the library versions."""
    import hashlib

    import torch
    import transformers

    import engine.models.export_florence as exporter
    import engine.models.export_florence_wrappers as wrappers

    digest = hashlib.sha256(f"{torch.__version__}|{transformers.__version__}|{quantize}".encode())
    for module_file in (__file__, exporter.__file__, wrappers.__file__):
        digest.update(Path(str(module_file)).read_bytes())
    return digest.hexdigest()[:16]


def build_tiny_florence(cache_root: Path) -> tuple[Path, Path, Path]:
    """(source folder, fp32 export, int8 export) of the tiny model, cached under ``cache_root`` by content hash.

    Built once and reused while nothing it depends on changes; a half-built entry is never reused (the folder
    appears only when complete).
    """
    import shutil
    import tempfile

    from engine.models.export_florence import export_florence2, quantize_florence

    entry = cache_root / f"florence-{_build_key(quantize=True)}"
    if not (entry / "int8").is_dir():
        cache_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".florence-", dir=cache_root))
        try:
            source = save_source_model(staging / "source")
            export_florence2(source, staging / "fp32")
            shutil.copytree(staging / "fp32", staging / "int8.part")
            quantize_florence(staging / "int8.part" / "onnx")
            (staging / "int8.part").rename(staging / "int8")
            if entry.exists():
                shutil.rmtree(entry)
            staging.rename(entry)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return entry / "source", entry / "fp32", entry / "int8"
