"""The ONNX vision-language loop against transformers, on a tiny SmolVLM (Idefics3) the tests build and export.

Parity: the same picture gives the same pixels and prompt ids as `Idefics3Processor`, and our token ids equal
transformers' ``generate`` on torch: greedy, seeded sampling (the same draws), on a 900 x 500 picture cut into
2 x 3 tiles plus the global image, and for a follow-up question answered from the kept cache (equal to ``generate``
over the whole conversation).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.errors import InputError, ModelError
from engine.vlm.conversation import Conversation, start_conversation
from engine.vlm.model import VisionLanguageModel
from engine.vlm.sampling import GenerationSettings, TokenChooser
from tests.tiny_vlm import ANSWER, teaching_pictures, tiny_smolvlm

WIDE, QUESTION = teaching_pictures()[0]
FOLLOW_UP = "Is the man smiling?"


@pytest.fixture(scope="session")
def smolvlm() -> tuple[Path, Path]:
    return tiny_smolvlm()


@pytest.fixture(scope="session")
def model(smolvlm: tuple[Path, Path]) -> VisionLanguageModel:
    return VisionLanguageModel(smolvlm[1], max_tiles=0)


@pytest.fixture(scope="session")
def reference(smolvlm: tuple[Path, Path]) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    torch.set_num_threads(1)  # see tests/tiny_vlm.py: a second thread only spins on a busy machine
    return AutoProcessor.from_pretrained(smolvlm[0]), AutoModelForImageTextToText.from_pretrained(smolvlm[0]).eval()


def _reference_inputs(processor: Any, messages: list[dict[str, Any]], picture: np.ndarray, **images: Any) -> Any:
    from PIL import Image

    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    splitting = processor.image_processor.do_image_splitting
    processor.image_processor.do_image_splitting = images.pop("do_image_splitting", splitting)
    try:
        return processor(text=text, images=[Image.fromarray(picture)], return_tensors="pt", **images)
    finally:
        processor.image_processor.do_image_splitting = splitting


def _generate(torch_model: Any, inputs: Any, max_new_tokens: int, processors: list[Any] | None = None) -> list[int]:
    import torch
    from transformers import LogitsProcessorList

    with torch.no_grad():
        out = torch_model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                   logits_processor=LogitsProcessorList(processors or []))
    return [int(t) for t in out[0, inputs["input_ids"].shape[1]:]]


def _first_question(picture: np.ndarray = WIDE, question: str = QUESTION) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]


@pytest.mark.parametrize(("max_tiles", "processor_options"), [
    (0, {}),  # the processor's own limit: 2 rows x 3 tiles + the global image
    (4, {"size": {"longest_edge": 1024}}),  # capped: the largest first resize with at most 4 tiles
    (1, {"do_image_splitting": False}),  # the global image only
])
def test_pixels_and_prompt_ids_equal_the_processor(smolvlm, reference, max_tiles, processor_options) -> None:
    processor, _ = reference
    ours = VisionLanguageModel(smolvlm[1], max_tiles=max_tiles)
    inputs = _reference_inputs(processor, _first_question(), WIDE, **processor_options)
    conversation = start_conversation(ours, WIDE)
    tiled = ours.images(WIDE)
    assert tiled.pixel_values.shape == tuple(inputs["pixel_values"].shape)
    assert np.array_equal(tiled.pixel_values, inputs["pixel_values"].numpy())
    assert np.array_equal(tiled.pixel_attention_mask, inputs["pixel_attention_mask"].numpy().astype(bool))
    assert conversation.prompt_ids(QUESTION)[1] == inputs["input_ids"][0].tolist()
    assert {0: 7, 4: 5, 1: 1}[max_tiles] == tiled.tiles


def test_greedy_answer_equals_generate_on_a_wide_picture_with_six_tiles(model, reference) -> None:
    processor, torch_model = reference
    turn = start_conversation(model, WIDE).ask(QUESTION, greedy=True, max_new_tokens=200)
    expected = _generate(torch_model, _reference_inputs(processor, _first_question(), WIDE), 200)
    assert list(turn.ids) == expected
    assert turn.finished_by == "end"
    assert turn.answer == processor.decode(expected, skip_special_tokens=True)
    assert turn.answer.strip().startswith(ANSWER.split(".")[0])  # the taught answer: real sentences


def _replay(chooser: TokenChooser) -> Any:
    """A transformers logits processor letting our sampler choose from torch's logits: the same draws."""
    import torch
    from transformers import LogitsProcessor

    class Replay(LogitsProcessor):
        def __call__(self, input_ids: Any, scores: Any) -> Any:
            token = chooser.choose(scores[0].float().numpy())
            forced = torch.full_like(scores, float("-inf"))
            forced[:, token] = 0
            return forced

    return Replay()


def test_seeded_sampling_equals_generate_with_the_same_draws(model, reference) -> None:
    processor, torch_model = reference
    settings = GenerationSettings(do_sample=True, temperature=4.0, top_k=40, top_p=0.95, repetition_penalty=1.3,
                                  max_new_tokens=24, eos_token_ids=model.generation.eos_token_ids, seed=3)
    turn = start_conversation(model, WIDE).ask(QUESTION, settings=settings)
    inputs = _reference_inputs(processor, _first_question(), WIDE)
    chooser = TokenChooser(settings, inputs["input_ids"][0].tolist())
    assert list(turn.ids) == _generate(torch_model, inputs, 24, [_replay(chooser)])
    again = start_conversation(model, WIDE).ask(QUESTION, settings=settings)
    other = start_conversation(model, WIDE).ask(QUESTION, settings=settings, seed=4)
    assert again.ids == turn.ids  # seeded: reproducible
    assert other.ids != turn.ids


def test_sampling_distribution_equals_transformers_filters() -> None:
    import torch
    from transformers import (
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    rng = np.random.default_rng(0)
    history = [5, 77, 300]
    for temperature, top_k, top_p, penalty in ((0.7, 50, 0.9, 1.2), (1.5, 0, 0.8, 1.0), (1.0, 5, 1.0, 1.5)):
        logits = rng.normal(0, 3, 400).astype(np.float32)
        logits[77] = logits.max() + 1
        settings = GenerationSettings(True, temperature, top_k, top_p, penalty)
        ours = TokenChooser(settings, history).distribution(logits)
        ids = torch.tensor([history])
        scores = RepetitionPenaltyLogitsProcessor(penalty)(ids, torch.tensor(logits)[None])
        scores = TemperatureLogitsWarper(temperature)(ids, scores)
        if top_k:
            scores = TopKLogitsWarper(top_k)(ids, scores)
        if top_p < 1:
            scores = TopPLogitsWarper(top_p)(ids, scores)
        expected = torch.softmax(scores, dim=-1)[0].numpy()
        assert np.array_equal(ours > 0, expected > 0)
        np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_follow_up_reuses_the_cache_and_equals_generate_over_the_whole_conversation(model, reference) -> None:
    processor, torch_model = reference
    conversation = start_conversation(model, WIDE)
    first = conversation.ask(QUESTION, greedy=True, max_new_tokens=200)
    second = conversation.ask(FOLLOW_UP, greedy=True, max_new_tokens=30)
    whole = [*_first_question(), {"role": "assistant", "content": [{"type": "text", "text": first.answer.strip()}]},
             {"role": "user", "content": [{"type": "text", "text": FOLLOW_UP}]}]
    inputs = _reference_inputs(processor, whole, WIDE)
    assert list(second.ids) == _generate(torch_model, inputs, 30)
    # Only the follow-up's own tokens (and the end of the first answer) ran: the picture and the first turn came
    # from the cache.
    assert second.new_prompt_tokens < 20 < first.new_prompt_tokens
    assert conversation.cache.ids == inputs["input_ids"][0].tolist() + list(second.ids[:-1])


def test_stop_strings_the_token_limit_and_cancel_end_an_answer(model) -> None:
    stopped = start_conversation(model, WIDE).ask(QUESTION, greedy=True, stop=["house"])
    assert stopped.finished_by == "stop"
    assert stopped.answer.strip() == "A red car is parked in front of a"
    limited = start_conversation(model, WIDE).ask(QUESTION, greedy=True, max_new_tokens=5)
    assert (limited.finished_by, len(limited.ids)) == ("limit", 5)
    cancel = threading.Event()
    conversation = start_conversation(model, WIDE)
    pieces = []
    for piece in conversation.stream(QUESTION, greedy=True, cancel=cancel):
        pieces.append(piece)
        cancel.set()
    assert conversation.turns[-1].finished_by == "cancelled"
    assert len(conversation.turns[-1].ids) <= 2 and "".join(pieces) == conversation.turns[-1].answer


def test_a_conversation_streams_the_same_text_it_returns(model) -> None:
    conversation = Conversation(model, model.encode_picture(WIDE))
    pieces = list(conversation.stream(QUESTION, greedy=True))
    assert len(pieces) > 5 and "".join(pieces) == conversation.turns[-1].answer


def test_a_folder_of_another_family_is_refused_in_plain_words(tmp_path: Path, smolvlm) -> None:
    from engine.vlm.export import export_vlm

    folder = tmp_path / "llama"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ModelError, match="llama model, not a vision-language model"):
        VisionLanguageModel(folder)
    with pytest.raises(InputError, match="llama model, not a vision-language model"):
        export_vlm(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_int8_export_replaces_each_graph_and_is_chosen_first() -> None:
    _, folder = tiny_smolvlm(quantize=True)
    assert sorted(p.name for p in (folder / "onnx").iterdir()) == [
        "decoder_model_merged_quantized.onnx", "embed_tokens_quantized.onnx", "vision_encoder_quantized.onnx"]
    int8 = VisionLanguageModel(folder)
    assert int8.files.precision == "int8"
    turn = start_conversation(int8, WIDE).ask(QUESTION, greedy=True, max_new_tokens=8)
    assert len(turn.ids) >= 1 and turn.finished_by in ("end", "limit")


def test_describe_can_use_a_vlm_as_its_scene_captioner(smolvlm, model) -> None:
    from engine.describe import describe_frame
    from engine.frames import Frame
    from engine.pipeline import load_stages
    from engine.settings import Settings
    from engine.vlm.captioning import SCENE_QUESTION, VlmCaptioner

    settings = Settings({"captioner": str(smolvlm[1]), "include_people": False, "include_text": False,
                         "vlm_max_tiles": 0})
    stages = load_stages(settings)
    assert isinstance(stages.captioner, VlmCaptioner) and not stages.missing
    description = describe_frame(Frame(WIDE, "image"), stages)
    expected = start_conversation(model, WIDE).ask(SCENE_QUESTION, greedy=True, max_new_tokens=96)
    assert description.caption == expected.answer.strip() and description.caption
    assert description.caption_confidence == pytest.approx(expected.confidence)
    assert 0 < (expected.confidence or 0) <= 1
