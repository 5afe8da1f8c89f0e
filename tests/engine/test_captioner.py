"""The ONNX captioner against the reference implementations, on a tiny model built and exported by the tests.

Parity: for the same weights and picture, our token ids equal transformers' ``generate`` on torch and Optimum's
``ORTModelForVision2Seq``, greedy and beam search. Bad model folders give a `ModelError` in plain words.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.captioner import Captioner, find_captioner_files, load_captioner, open_captioner
from engine.errors import ModelError
from engine.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
FREQUENT = -1  # placeholder: replaced by the `frequent_token` fixture's id


def _pictures(shared: Path | None) -> list[np.ndarray]:
    """A few different pictures: smooth gradients and noise of odd sizes, plus real photos when available."""
    rng = np.random.default_rng(7)
    pictures = [
        np.linspace(0, 255, 40 * 64 * 3).reshape(40, 64, 3).astype(np.uint8),
        rng.integers(0, 256, (97, 53, 3), dtype=np.uint8),
        np.full((32, 32, 3), (200, 30, 90), dtype=np.uint8),
    ]
    if shared is not None:
        from PIL import Image

        for name in ("paul_rudd.jpg", "multiface.jpg"):
            path = shared / "testdata" / "faces" / name
            if path.is_file():
                pictures.append(np.asarray(Image.open(path).convert("RGB")))
    return pictures


@pytest.fixture(scope="module")
def pictures() -> list[np.ndarray]:
    """Test pictures (real photos from ../shared when present)."""
    shared = ROOT.parent / "shared"
    return _pictures(shared if shared.is_dir() else None)


@pytest.fixture(scope="module")
def reference(tiny_captioner_build: tuple[Path, Path]) -> tuple[Any, Any, Any]:
    """(transformers model on torch, its image processor, Optimum's ORTModelForVision2Seq) on the same weights."""
    from optimum.onnxruntime import ORTModelForVision2Seq
    from transformers import VisionEncoderDecoderModel, ViTImageProcessor

    source, exported = tiny_captioner_build
    model = VisionEncoderDecoderModel.from_pretrained(source).eval()
    processor = ViTImageProcessor.from_pretrained(source)
    optimum_model = ORTModelForVision2Seq.from_pretrained(exported, use_cache=True)
    return model, processor, optimum_model


@pytest.fixture(scope="module")
def captioner(tiny_captioner_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Captioner:
    """Our captioner on the tiny export (its prepared decoder cached in a temporary folder)."""
    files = find_captioner_files(tiny_captioner_dir, "fp32")
    return Captioner(files, cache_root=tmp_path_factory.mktemp("prepared"))


@pytest.fixture(scope="module")
def frequent_token(captioner: Captioner, pictures: list[np.ndarray]) -> int:
    """A token the tiny model often says after its first words (stands in for end-of-text in some tests)."""
    from collections import Counter

    counts = Counter(t for p in pictures for t in captioner.generate(p, num_beams=1).token_ids[2:])
    return counts.most_common(1)[0][0]


def _strip(ids: Any, eos: int) -> tuple[int, ...]:
    """Generated ids without the start token and from end-of-text on (transformers pads after it)."""
    tokens = [int(t) for t in ids[1:]]
    return tuple(tokens[: tokens.index(eos)] if eos in tokens else tokens)


def _tensor(pixels: np.ndarray) -> Any:
    import torch

    return torch.from_numpy(pixels)


def _torch_ids(model: Any, pixels: np.ndarray, eos: int, **kwargs: Any) -> tuple[int, ...]:
    import torch

    with torch.no_grad():
        output = model.generate(torch.from_numpy(pixels), **kwargs)
    return _strip(output[0].tolist(), eos)


def test_preprocessing_matches_transformers(captioner: Captioner, reference: Any, pictures: list[np.ndarray]) -> None:
    _, processor, _ = reference
    for picture in pictures:
        expected = processor(images=picture, return_tensors="np")["pixel_values"]
        np.testing.assert_allclose(captioner.preprocess(picture), expected, atol=1e-5)


@pytest.mark.parametrize(
    "options",
    [
        {"num_beams": 1},
        {"num_beams": 3, "early_stopping": True},
        {"num_beams": 3, "early_stopping": False, "length_penalty": 0.5},
        {"num_beams": 4, "early_stopping": "never", "length_penalty": 2.0},
        {"num_beams": 2, "no_repeat_ngram_size": 2, "min_new_tokens": 5},
        {"num_beams": 1, "no_repeat_ngram_size": 2, "repetition_penalty": 1.5},
        {"num_beams": 1, "eos_token_id": FREQUENT},
        {"num_beams": 3, "early_stopping": True, "eos_token_id": FREQUENT},
        {"num_beams": 3, "early_stopping": False, "eos_token_id": FREQUENT, "length_penalty": 0.3},
        {"num_beams": 4, "early_stopping": "never", "eos_token_id": FREQUENT, "length_penalty": 1.5},
    ],
    ids=["greedy", "beam3-early", "beam3-heuristic", "beam4-never", "beam2-ngram", "greedy-penalties",
         "greedy-eos", "beam3-early-eos", "beam3-heuristic-eos", "beam4-never-eos"],
)
def test_token_ids_equal_transformers_and_optimum(
    captioner: Captioner, reference: Any, pictures: list[np.ndarray], options: dict[str, Any], frequent_token: int
) -> None:
    from dataclasses import replace

    model, processor, optimum_model = reference
    eos = model.generation_config.eos_token_id
    if options.get("eos_token_id") == FREQUENT:
        # The random model almost never says end-of-text; making a token it says often the end-of-text
        # exercises finished hypotheses, early stopping and the length penalty.
        eos = frequent_token
        options = {**options, "eos_token_id": eos}
    ours_options = {k: v for k, v in options.items() if k != "eos_token_id"}
    settings = replace(captioner.generation, eos_token_ids=(eos,), **ours_options)
    lengths = set()
    for picture in pictures:
        pixels = processor(images=picture, return_tensors="np")["pixel_values"]
        ours = captioner.generate(picture, settings).token_ids
        torch_ids = _torch_ids(model, pixels, eos, **options)
        optimum_ids = _strip(optimum_model.generate(pixel_values=_tensor(pixels), **options)[0].tolist(), eos)
        assert ours == torch_ids, f"transformers chose {torch_ids}, we chose {ours}"
        assert ours == optimum_ids, f"Optimum chose {optimum_ids}, we chose {ours}"
        lengths.add(len(ours))
    if "eos_token_id" in options:
        assert min(lengths) < captioner.generation.max_length - 1, "no search ended early: the test proved little"


def test_caption_text_and_confidence_follow_the_tokens(
    captioner: Captioner, reference: Any, pictures: list[np.ndarray]
) -> None:
    import torch

    model, processor, _ = reference
    picture = pictures[0]
    pixels = torch.from_numpy(processor(images=picture, return_tensors="np")["pixel_values"])
    with torch.no_grad():
        out = model.generate(pixels, num_beams=1, output_scores=True, return_dict_in_generate=True)
    ids = _strip(out.sequences[0].tolist(), model.generation_config.eos_token_id)
    probs = [float(torch.softmax(score[0], -1)[token]) for score, token in zip(out.scores, ids, strict=False)]
    caption = captioner.caption(picture)
    assert caption.text == captioner.tokenizer.decode(list(ids), skip_special_tokens=True).strip()
    assert caption.text
    # Greedy search takes the softmax normaliser's terms for tokens that cannot win from the int8 output layer
    # (engine.captioner.output_layer): within its error bound, a fraction of a percent on this tiny model's flat
    # distributions; far below what the hedge thresholds (0.35, 0.12) can notice.
    assert caption.confidence == pytest.approx(float(np.mean(probs)), rel=5e-3)
    assert 0.0 < caption.confidence <= 1.0


def test_int8_export_matches_optimum_on_the_same_files(tiny_captioner_int8_dir: Path, pictures: list) -> None:
    from optimum.onnxruntime import ORTModelForVision2Seq

    ours = open_captioner(tiny_captioner_int8_dir)
    assert ours.files.encoder.name == "encoder_model_quantized.onnx"
    assert not list(tiny_captioner_int8_dir.glob("*model.onnx")), "quantize must leave only int8 files"
    optimum_model = ORTModelForVision2Seq.from_pretrained(
        tiny_captioner_int8_dir, encoder_file_name="encoder_model_quantized.onnx",
        decoder_file_name="decoder_model_quantized.onnx",
        decoder_with_past_file_name="decoder_with_past_model_quantized.onnx", use_merged=False,
    )
    eos = ours.generation.eos_token_ids[0]
    for picture in pictures[:3]:
        pixels = ours.preprocess(picture)
        expected = _strip(optimum_model.generate(pixel_values=_tensor(pixels))[0].tolist(), eos)
        assert ours.generate(picture).token_ids == expected


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_int8_output_layer_bounds_hold_and_the_exact_argmax_wins(
    precision: str, tiny_captioner_dir: Path, tiny_captioner_int8_dir: Path, pictures: list, tmp_path: Path
) -> None:
    """The proven bound of the int8 output layer holds against the exact product, for every token and step."""
    from engine.captioner.output_layer import BoundedLogits

    folder = tiny_captioner_dir if precision == "fp32" else tiny_captioner_int8_dir
    captioner = Captioner(find_captioner_files(folder, precision), cache_root=tmp_path)
    layer = captioner.output_layer
    assert layer is not None, "the tied output layer was not detached"
    vocab = layer.table.shape[0]
    seen = []

    class Recording:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def start(self, batch: int) -> Any:
            return self.inner.start(batch)

        def step(self, tokens: np.ndarray, state: Any, *, bounded: bool = False) -> Any:
            logits, state = self.inner.step(tokens, state, bounded=bounded)
            assert isinstance(logits, BoundedLogits)
            exact = logits.exact(np.arange(vocab))
            slack = np.abs(exact - logits.values[0]) / logits.error
            seen.append(float(slack.max()))
            assert (slack <= 1.0).all(), f"bound broken by a factor {slack.max():.3f}"
            assert int(np.argmax(exact)) in np.flatnonzero(logits.values[0] + logits.error >= (logits.values[0] -
                                                                                             logits.error).max())
            return logits, state

        def reorder(self, state: Any, rows: np.ndarray) -> Any:
            return self.inner.reorder(state, rows)

    from engine.captioner.decoding import generate
    from engine.captioner.model import _CachedDecoder

    for picture in pictures[:3]:
        features = captioner.encoder.run(None, {"pixel_values": captioner.preprocess(picture)})[0]
        generated = generate(Recording(_CachedDecoder(captioner, features)), captioner.generation)
        assert generated.token_ids == captioner.generate(picture).token_ids
    assert seen and max(seen) > 0.0


def test_token_table_is_read_row_by_row_and_equals_the_arrays(
    captioner: Captioner, tiny_captioner_dir: Path, pictures: list
) -> None:
    """The cached table is read from its file, rows as the array has them; an uncached captioner keeps it in memory
    and chooses the same tokens."""
    from engine.captioner.token_table import TokenTable

    layer = captioner.output_layer
    assert layer is not None and layer.table.path is not None
    in_memory = TokenTable(np.load(layer.table.path))
    ids = np.array([[0, 5, in_memory.shape[0] - 1], [3, 3, 1]])
    assert np.array_equal(layer.table.rows(ids), in_memory.rows(ids))
    assert layer.table.rows(ids).shape == (2, 3, in_memory.shape[1])
    with pytest.raises(IndexError):
        layer.table.rows(np.array([[in_memory.shape[0]]]))
    uncached = Captioner(find_captioner_files(tiny_captioner_dir, "fp32"), cache_root=None)
    assert uncached.output_layer is not None and uncached.output_layer.table.path is None
    for picture in pictures[:3]:
        assert uncached.generate(picture).token_ids == captioner.generate(picture).token_ids
        assert uncached.generate(picture, num_beams=3).token_ids == captioner.generate(picture, num_beams=3).token_ids


def test_merged_decoder_in_xenova_layout_gives_the_same_tokens(
    captioner: Captioner, tiny_captioner_dir: Path, tmp_path: Path, pictures: list[np.ndarray]
) -> None:
    folder = tmp_path / "xenova"
    (folder / "onnx").mkdir(parents=True)
    for path in tiny_captioner_dir.iterdir():
        if path.suffix == ".json":
            shutil.copy(path, folder / path.name)
    for name in ("encoder_model.onnx", "decoder_model_merged.onnx"):
        shutil.copy(tiny_captioner_dir / name, folder / "onnx" / name)
    merged = open_captioner(folder)
    assert merged.files.decoder.name == "decoder_model_merged.onnx"
    for picture in pictures:
        assert merged.generate(picture).token_ids == captioner.generate(picture).token_ids
        assert merged.generate(picture, num_beams=3).token_ids == captioner.generate(picture, num_beams=3).token_ids


def test_fixed_token_budget_ignores_end_of_text(captioner: Captioner, pictures: list[np.ndarray]) -> None:
    generated = captioner.generate(pictures[0], max_new_tokens=8, min_new_tokens=8)
    assert len(generated.token_ids) == 8


def test_load_captioner_accepts_a_folder_in_the_setting(tiny_captioner_dir: Path, pictures: list) -> None:
    captioner = load_captioner(Settings({"captioner": str(tiny_captioner_dir)}))
    assert captioner.caption(pictures[0]).text


def test_prepared_decoder_is_cached_and_reused(tiny_captioner_dir: Path, spacevoice_home: Path) -> None:
    open_captioner(tiny_captioner_dir, precision="fp32")
    cached = sorted((spacevoice_home / "cache" / "captioner").rglob("step_part.onnx"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    open_captioner(tiny_captioner_dir, precision="fp32")
    assert cached[0].stat().st_mtime_ns == stamp


def _copy(folder: Path, target: Path) -> Path:
    shutil.copytree(folder, target)
    return target


def test_missing_folder_is_a_plain_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        open_captioner(tmp_path / "nowhere")


def test_text_model_folder_is_the_wrong_kind(tiny_captioner_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "gpt2"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_embd": 32}))
    shutil.copy(tiny_captioner_dir / "decoder_model.onnx", folder / "decoder_model.onnx")
    shutil.copy(tiny_captioner_dir / "tokenizer.json", folder / "tokenizer.json")
    with pytest.raises(ModelError, match="is not an image captioner"):
        open_captioner(folder)


def test_truncated_onnx_file_is_a_plain_model_error(tiny_captioner_dir: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_captioner_dir, tmp_path / "truncated")
    decoder = folder / "decoder_with_past_model.onnx"
    decoder.write_bytes(decoder.read_bytes()[: decoder.stat().st_size // 2])
    with pytest.raises(ModelError, match="damaged") as caught:
        open_captioner(folder)
    assert "decoder_with_past_model.onnx" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_truncated_encoder_is_a_plain_model_error(tiny_captioner_dir: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_captioner_dir, tmp_path / "truncated-encoder")
    encoder = folder / "encoder_model.onnx"
    encoder.write_bytes(encoder.read_bytes()[:1000])
    with pytest.raises(ModelError, match="damaged"):
        open_captioner(folder)


@pytest.mark.parametrize("missing", ["tokenizer.json", "preprocessor_config.json", "encoder_model.onnx"])
def test_partial_folder_names_what_is_missing(tiny_captioner_dir: Path, tmp_path: Path, missing: str) -> None:
    folder = _copy(tiny_captioner_dir, tmp_path / "partial")
    (folder / missing).unlink()
    with pytest.raises(ModelError, match="incomplete") as caught:
        open_captioner(folder)
    assert missing in str(caught.value)


def test_no_kv_cache_decoder_is_incomplete(tiny_captioner_dir: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_captioner_dir, tmp_path / "no-cache")
    (folder / "decoder_with_past_model.onnx").unlink()
    (folder / "decoder_model_merged.onnx").unlink()
    with pytest.raises(ModelError, match=r"decoder_with_past_model\.onnx or decoder_model_merged\.onnx"):
        open_captioner(folder)


@pytest.mark.parametrize("name", ["tokenizer.json", "config.json", "generation_config.json"])
def test_damaged_json_is_a_plain_model_error(tiny_captioner_dir: Path, tmp_path: Path, name: str) -> None:
    folder = _copy(tiny_captioner_dir, tmp_path / "damaged")
    (folder / name).write_text('{"truncated": ')
    with pytest.raises(ModelError, match="damaged"):
        open_captioner(folder)


def test_wrong_image_shape_is_an_input_error(captioner: Captioner) -> None:
    from engine.errors import InputError

    with pytest.raises(InputError, match="RGB picture"):
        captioner.caption(np.zeros((10, 10), dtype=np.uint8))


def test_runtime_path_never_imports_torch_or_transformers(tiny_captioner_dir: Path) -> None:
    code = (
        "import sys, numpy as np\n"
        "from engine.captioner import open_captioner\n"
        f"c = open_captioner({str(tiny_captioner_dir)!r})\n"
        "print(c.caption(np.full((20, 30, 3), 128, np.uint8)).text != None)\n"
        "heavy = [m for m in ('torch', 'transformers', 'optimum') if m in sys.modules]\n"
        "print('heavy:', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "heavy: []" in result.stdout


def test_load_captioner_names_a_model_that_is_not_installed() -> None:
    with pytest.raises(ModelError, match="not installed"):
        load_captioner(Settings({"captioner": "vit-gpt2-image-captioning"}))


def test_describe_says_the_caption_of_a_model_exported_into_the_store(
    tiny_captioner_build: tuple[Path, Path], spacevoice_home: Path, main_cli: Any, tmp_path: Path
) -> None:
    from PIL import Image

    from engine.capture import load_image

    source, _ = tiny_captioner_build
    exported = main_cli("models", "export", str(source), "--name", "tiny-captioner")
    assert exported.returncode == 0, exported.stderr
    config = spacevoice_home / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.json").write_text(
        json.dumps({"captioner": "tiny-captioner", "include_people": False, "include_text": False})
    )
    picture = tmp_path / "gradient.png"
    Image.fromarray(np.linspace(0, 255, 60 * 80 * 3).reshape(60, 80, 3).astype(np.uint8)).save(picture)
    described = main_cli("describe", "--image", str(picture), "--json", "--no-speech")
    assert described.returncode == 0, described.stderr
    result = json.loads(described.stdout)
    expected = load_captioner(Settings({"captioner": "tiny-captioner"})).caption(load_image(str(picture)).image)
    assert result["caption"] == expected.text
    assert result["timings_ms"]["caption"] > 0


@pytest.mark.parametrize("source", ["decoder_with_past_model.onnx", "decoder_model_merged.onnx"])
def test_per_token_part_never_redoes_the_image_work(tiny_captioner_dir: Path, tmp_path: Path, source: str) -> None:
    """The cross-attention weights live only in the once-per-picture part: no per-token recompute, no copies."""
    import onnx

    from engine.captioner.graphs import prepare_decoder

    prepared = prepare_decoder(tiny_captioner_dir / source, tmp_path)
    assert isinstance(prepared.image_part, Path) and isinstance(prepared.step_part, Path)

    def weights(path: Path) -> set[str]:
        model = onnx.load(str(path))
        return {t.name for t in model.graph.initializer if np.prod(t.dims) >= 32 * 32}

    image_weights, step_weights = weights(prepared.image_part), weights(prepared.step_part)
    assert any("crossattention" in name for name in image_weights), image_weights
    assert not image_weights & step_weights
    step = onnx.load(str(prepared.step_part))
    assert not any("crossattention.c_attn" in name for node in step.graph.node for name in node.input)


def test_export_never_overwrites_a_folder_with_files(tiny_captioner_build: tuple[Path, Path], tmp_path: Path) -> None:
    from engine.errors import InputError
    from engine.models.export import export_captioner

    source, _ = tiny_captioner_build
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not empty"):
        export_captioner(source, precious)
    assert (precious / "notes.txt").read_text() == "keep me"
    with pytest.raises(InputError, match="not a transformers model folder"):
        export_captioner(tmp_path / "mine", tmp_path / "out")
