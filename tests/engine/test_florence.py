"""Florence-2 on onnxruntime against transformers' own Florence2ForConditionalGeneration and Florence2Processor.

The tiny random model of `tests.tiny_florence` is exported with SpaceVoice's exporter; the same weights run in
torch. Token ids must be equal for every task prompt, greedy and beam search, with the model's real generation
settings (3 beams, no-repeat 3-grams, BART's forced end-of-text at the length limit).
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.captioner.decoding import generate
from engine.errors import InputError, ModelError
from engine.florence import find_florence_files, open_florence
from engine.florence.regions import Region
from engine.florence.tasks import PROMPTS

TASKS = list(PROMPTS)
PICTURE = (np.random.default_rng(7).random((48, 80, 3)) * 255).astype(np.uint8)  # wider than tall


@pytest.fixture(scope="module")
def reference(tiny_florence: tuple[Path, Path, Path]) -> tuple[Any, Any]:
    """transformers' processor and model on the tiny source weights."""
    from transformers import AutoProcessor, Florence2ForConditionalGeneration

    source = tiny_florence[0]
    return AutoProcessor.from_pretrained(source), Florence2ForConditionalGeneration.from_pretrained(source).eval()


@pytest.fixture(scope="module")
def ours_fp32(tiny_florence: tuple[Path, Path, Path]) -> Any:
    """Our runtime on the fp32 export."""
    return open_florence(tiny_florence[1], precision="fp32", device="cpu")


def _torch_ids(reference: tuple[Any, Any], task: str, **options: Any) -> list[int]:
    import torch

    processor, model = reference
    inputs = processor(images=PICTURE, text=task, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, **options)
    return [int(t) for t in out[0].tolist()]


def _strip(ids: list[int], eos: int = 2, pad: int = 1) -> list[int]:
    """generate's row without the start token, padding and the final end-of-text (what `Generated` holds)."""
    body = [t for t in ids[1:] if t != pad]
    return body[:-1] if body and body[-1] == eos else body


@pytest.mark.parametrize("task", TASKS)
def test_token_ids_equal_transformers_greedy_and_beam(task: str, reference: Any, ours_fp32: Any) -> None:
    """The model's own settings (3 beams, no-repeat 3-grams, forced end) and greedy both give generate's ids."""
    for beams in (1, 3):
        expected = _torch_ids(reference, task, max_new_tokens=12, num_beams=beams)
        got = ours_fp32.generate(PICTURE, task, num_beams=beams, max_new_tokens=12)
        assert list(got.token_ids) == _strip(expected), (task, beams)
    # The generation config's own beam count is the default.
    assert ours_fp32.generation.num_beams == 3 and ours_fp32.generation.forced_eos_token_id == 2


def test_finished_beams_and_minimum_length_follow_transformers(reference: Any, ours_fp32: Any) -> None:
    """A frequent token stands in for end-of-text, so hypotheses finish early and the minimum length matters."""
    frequent = ours_fp32.generate(PICTURE, "<CAPTION>", num_beams=1, max_new_tokens=12).token_ids[1]
    for beams, min_new in ((1, 0), (3, 0), (3, 4), (1, 4)):
        expected = _torch_ids(reference, "<CAPTION>", max_new_tokens=12, num_beams=beams, eos_token_id=frequent,
                              forced_eos_token_id=frequent, min_new_tokens=min_new)
        settings = replace(ours_fp32.generation, eos_token_ids=(frequent,), forced_eos_token_id=frequent,
                           num_beams=beams, max_length=13, min_new_tokens=min_new)
        got = ours_fp32.generate(PICTURE, "<CAPTION>", settings)
        assert list(got.token_ids) == _strip(expected, eos=frequent), (beams, min_new)
        assert len(got.token_ids) < 12 or min_new


def test_caption_text_is_batch_decode(reference: Any, ours_fp32: Any) -> None:
    """The answer's text is ``batch_decode(..., skip_special_tokens=True)`` of generate's ids."""
    processor, _ = reference
    for task in ("<MORE_DETAILED_CAPTION>", "<OD>"):
        expected = processor.batch_decode([_torch_ids(reference, task, max_new_tokens=12)], skip_special_tokens=True)
        assert ours_fp32.run(PICTURE, task, max_new_tokens=12).text == expected[0]


class _PlainSteps:
    """A reference step model: transformers.js's loop over the merged decoder, written plainly.

    Every beam row is run (no shared first step), every cache array goes through numpy and is reordered whole,
    the cross-attention cache included. The same tensors reach the graphs as in our loop, so an int8 model's
    dynamically quantized activations (one scale per tensor) are the same too.
    """

    def __init__(self, model: Any, hidden: np.ndarray, mask: np.ndarray) -> None:
        self.model, self.hidden, self.mask = model, hidden, mask

    def start(self, batch: int) -> dict[str, np.ndarray]:
        return {}

    def step(self, tokens: np.ndarray, state: dict[str, np.ndarray], *,
             bounded: bool = False) -> tuple[np.ndarray, Any]:
        model = self.model
        batch = len(tokens)
        feeds = {"inputs_embeds": model.embed.run(None, {"input_ids": tokens})[0],
                 "encoder_hidden_states": np.repeat(self.hidden, batch, axis=0),
                 "encoder_attention_mask": np.repeat(self.mask, batch, axis=0),
                 "use_cache_branch": np.array([bool(state)])}
        for name in model.past_names:
            empty = np.zeros((batch, model.heads, 0, model.head_size), dtype=np.float32)
            feeds[name] = state.get(name, empty)
        outputs = dict(zip(model.present_names, model.decoder.run(model.present_names, feeds), strict=True))
        new_state = {name.replace("present", "past_key_values", 1): value for name, value in outputs.items()
                     if name != "logits" and (".decoder." in name or not state)}
        for name, value in state.items():
            new_state.setdefault(name, value)
        return outputs["logits"][:, -1, :], new_state

    def reorder(self, state: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
        return {name: value[rows] for name, value in state.items()}


def test_int8_decoding_equals_a_plain_loop(tiny_florence: tuple[Path, Path, Path]) -> None:
    """int8: our loop gives the ids of a plain loop over the same int8 graphs, greedy and beam.

    int8 ids are not compared with torch's fp32 ones: on this tiny random model the best two logits are often
    within 0.1 of each other while int8 moves them by ~0.3, so the ids legitimately differ (measured). Nor with
    a cache-free run: dynamic quantization takes one scale per activation tensor, so a whole prefix (or a batch of
    beams) quantizes differently from one token at a time (measured: beam ids differed from the 7th token).
    """
    model = open_florence(tiny_florence[2], precision="int8", device="cpu")
    assert set(model.files.precisions.values()) == {"int8"}
    # Both branches of the merged decoder hold int8 products (they live inside its If node).
    import onnx

    merged = onnx.load(str(model.files.graphs["decoder_model_merged"]))
    branches = [a.g for n in merged.graph.node if n.op_type == "If" for a in n.attribute]
    assert len(branches) == 2
    assert all(sum(n.op_type == "MatMulInteger" for n in g.node) >= 8 for g in branches)
    for task in ("<CAPTION>", "<OD>", "<OCR_WITH_REGION>"):
        for beams in (1, 3):
            settings = replace(model.generation, num_beams=beams, max_length=13)
            hidden, mask = model.encode(PICTURE, task)
            expected = generate(_PlainSteps(model, hidden, mask), settings)
            got = model.generate(PICTURE, task, settings)
            assert got.token_ids == expected.token_ids, (task, beams)


@pytest.mark.parametrize("size", [(1280, 720), (333, 1001)])
def test_regions_equal_post_process_generation(reference: Any, ours_fp32: Any, size: tuple[int, int]) -> None:
    """Boxes and quadrilaterals from the same ids equal Florence2Processor.post_process_generation's."""
    from engine.florence.regions import parse_answer
    from engine.florence.tasks import ANSWER_KINDS

    processor, _ = reference
    width, height = size
    answers = {
        "<OD>": "a car<loc_12><loc_40><loc_500><loc_999>a dog<loc_0><loc_1><loc_2><loc_3><loc_600><loc_601>"
                "<loc_777><loc_998>",
        "<DENSE_REGION_CAPTION>": "a red car parked in front of a house<loc_100><loc_200><loc_300><loc_400>",
        "<OCR_WITH_REGION>": "</s><s>EXIT<loc_10><loc_20><loc_110><loc_20><loc_110><loc_60><loc_10><loc_60>"
                             "a park<loc_501><loc_502><loc_903><loc_504><loc_905><loc_906><loc_507><loc_908>",
    }
    for task, answer in answers.items():
        ids = [2, *ours_fp32.tokenizer.encode(answer, add_special_tokens=False).ids, 2]
        text = processor.batch_decode([ids], skip_special_tokens=False)[0]
        expected = processor.post_process_generation(text, task=task, image_size=(width, height))[task]
        ours_text = ours_fp32.tokenizer.decode(ids, skip_special_tokens=False)
        rules = ours_fp32.files.processor["post_processor_config"]
        regions = parse_answer(ANSWER_KINDS[task], ours_text, width, height, rules)
        key = "quad_boxes" if task == "<OCR_WITH_REGION>" else "bboxes"
        assert [list(r.box) for r in regions] == [list(map(int, b)) for b in expected[key]], task
        assert [r.label for r in regions] == expected["labels"], task
        assert regions and all(0 <= v <= max(width, height) for r in regions for v in r.box)
    # The processor's area threshold drops small text lines the same way.
    small = dict(rules, ocr={**rules["ocr"], "AREA_THRESHOLD": 0.01})
    kept = parse_answer("ocr", ours_fp32.tokenizer.decode(ids, skip_special_tokens=False), width, height, small)
    assert [r.label for r in kept] == ["a park"]


def test_run_reads_regions_in_picture_pixels(ours_fp32: Any) -> None:
    """An `<OD>` answer has no regions when the text has no locations, and every task name maps to a token."""
    answer = ours_fp32.run(PICTURE, "objects", num_beams=1, max_new_tokens=8)
    assert answer.task == "<OD>"
    assert all(isinstance(r, Region) for r in answer.regions)
    with pytest.raises(InputError, match="no task called 'poem'"):
        ours_fp32.run(PICTURE, "poem")


def _copy_as(source: Path, target: Path, rename: dict[str, str]) -> Path:
    shutil.copytree(source, target)
    for old, new in rename.items():
        (target / "onnx" / old).rename(target / "onnx" / new)
    return target


def test_onnx_community_suffixes_load(tiny_florence: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """``_quantized``, ``_q4`` (with onnx-community's fp32 embed_tokens beside it) and ``_fp16`` names load."""
    fp32, int8 = tiny_florence[1], tiny_florence[2]
    files = find_florence_files(int8, "int8")
    assert {p.name for p in files.graphs.values()} == {f"{g}_quantized.onnx" for g in files.graphs}
    q4 = _copy_as(int8, tmp_path / "q4", {f"{g}_quantized.onnx": f"{g}_q4.onnx" for g in
                                          ("vision_encoder", "encoder_model", "decoder_model_merged")})
    (q4 / "onnx" / "embed_tokens_quantized.onnx").unlink()
    shutil.copy(fp32 / "onnx" / "embed_tokens.onnx", q4 / "onnx" / "embed_tokens.onnx")
    files = find_florence_files(q4, "q4")
    assert files.precisions == {"vision_encoder": "q4", "embed_tokens": "fp32", "encoder_model": "q4",
                                "decoder_model_merged": "q4"}
    assert open_florence(q4, precision="q4").run(PICTURE, "caption", num_beams=1, max_new_tokens=4).generated
    fp16 = _copy_as(fp32, tmp_path / "fp16", {f"{g}.onnx": f"{g}_fp16.onnx" for g in files.graphs})
    assert set(find_florence_files(fp16, "fp16").precisions.values()) == {"fp16"}
    # auto picks int8 on a CPU, fp16 on a GPU; an fp32-only folder still loads with int8 asked for.
    assert open_florence(fp32, device="cpu").files.precisions["decoder_model_merged"] == "fp32"


def test_bad_folders_say_what_is_wrong(tiny_florence: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """A missing graph, a folder of another model and an unknown precision each give one plain sentence."""
    broken = _copy_as(tiny_florence[1], tmp_path / "broken", {})
    (broken / "onnx" / "encoder_model.onnx").unlink()
    with pytest.raises(ModelError, match=r"incomplete: onnx/encoder_model.onnx is missing"):
        find_florence_files(broken, "fp32")
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text('{"model_type": "vision-encoder-decoder"}')
    with pytest.raises(ModelError, match="is not a Florence-2 model"):
        find_florence_files(other, "fp32")
    with pytest.raises(ModelError, match="Unknown Florence-2 precision"):
        open_florence(tiny_florence[1], precision="fp8")
    for error in (ModelError, InputError):
        assert "\n" not in str(error("one line.", "hint"))


def test_runtime_imports_no_torch_or_transformers(tiny_florence: tuple[Path, Path, Path]) -> None:
    """Loading and running Florence-2 needs onnxruntime, numpy and tokenizers only (checked in a fresh process)."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    script = (f"import sys, json; sys.path.insert(0, {str(root)!r}); import numpy as np\n"
              "from engine.florence import open_florence\n"
              f"model = open_florence({str(tiny_florence[2])!r})\n"
              "model.run(np.zeros((40, 60, 3), np.uint8), 'objects', max_new_tokens=4)\n"
              "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not loaded & {"torch", "transformers", "optimum"}
