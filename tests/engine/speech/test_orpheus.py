"""Orpheus on onnxruntime against transformers on torch (same tiny random Llama with Orpheus' real vocabulary
layout), the slot sampler against transformers' own filters, and the speech a listener gets out of it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ModelError
from engine.speech.base import Speaker
from engine.speech.orpheus import (
    END_OF_HUMAN,
    END_OF_TEXT,
    START_OF_AI,
    START_OF_HUMAN,
    START_OF_SPEECH,
    FrameAssembler,
    OrpheusFailed,
    OrpheusSpeaker,
    SpeechStats,
)
from engine.speech.sampling import AUDIO_TOKEN_BASE, END_OF_SPEECH, SamplingConfig, SlotSampler
from engine.speech.snac import SAMPLE_RATE, SAMPLES_PER_FRAME, SnacDecoder

pytest.importorskip("optimum.exporters.onnx", reason="the export extra is not installed")
ROOT = Path(__file__).resolve().parents[3]
GREEDY = SamplingConfig(temperature=0, repetition_penalty=1.1)
MAX_TOKENS = 7 * 24  # a random model never says end of speech: keep each sentence short
SAMPLED = SamplingConfig(temperature=0.6, top_p=0.9, top_k=200, repetition_penalty=1.1, seed=7)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from tests.tiny_orpheus import built_once

    base = tmp_path_factory.getbasetemp()
    return built_once("orpheus", base), built_once("snac", base)


@pytest.fixture(scope="module")
def torch_model(models: tuple[Path, Path]):
    from transformers import LlamaForCausalLM

    return LlamaForCausalLM.from_pretrained(models[0] / "torch").eval()


def _speaker(models: tuple[Path, Path], sampling: SamplingConfig = SAMPLED) -> OrpheusSpeaker:
    return OrpheusSpeaker(llm_dir=models[0], snac_dir=models[1], device="cpu", sampling=sampling,
                          max_tokens_per_sentence=MAX_TOKENS)


def _torch_generate(model, prompt: list[int], processor, steps: int, **options) -> list[int]:
    import torch
    from transformers import LogitsProcessorList

    out = model.generate(torch.tensor([prompt]), max_new_tokens=steps, logits_processor=LogitsProcessorList(
        [processor]), eos_token_id=END_OF_SPEECH, pad_token_id=128263, do_sample=False, **options)
    return out[0, len(prompt):].tolist()


def test_prompt_layout_and_tags_pass_through(models: tuple[Path, Path]) -> None:
    speaker = _speaker(models)
    prompt = speaker.prompt("Hello <laugh> there.", "leo")
    assert prompt[0] == START_OF_HUMAN
    assert prompt[-4:] == [END_OF_TEXT, END_OF_HUMAN, START_OF_AI, START_OF_SPEECH]
    speaker.load()
    text = speaker._tokenizer.decode(prompt[1:-4], skip_special_tokens=True)
    assert text == "leo: Hello <laugh> there."


def test_greedy_tokens_equal_transformers_generate(models, torch_model) -> None:
    from tests.tiny_orpheus import slot_restriction_processor

    speaker = _speaker(models, GREEDY)
    prompt = speaker.prompt("Hello there, how are you today?", "tara")
    ours = list(speaker.tokens(prompt, max_new_tokens=63, sampler=SlotSampler(GREEDY)))
    reference = _torch_generate(torch_model, prompt, slot_restriction_processor(len(prompt)), 63,
                                repetition_penalty=1.1)
    assert ours == reference
    assert all(AUDIO_TOKEN_BASE + (i % 7) * 4096 <= t < AUDIO_TOKEN_BASE + (i % 7 + 1) * 4096
               for i, t in enumerate(ours))


def test_seeded_sampling_equals_transformers_with_the_same_draws(models, torch_model) -> None:
    from tests.tiny_orpheus import numpy_sampler_processor

    speaker = _speaker(models)
    prompt = speaker.prompt("A person is sitting at a desk.", "tara")
    ours = list(speaker.tokens(prompt, max_new_tokens=63, sampler=SlotSampler(SAMPLED)))
    reference = _torch_generate(torch_model, prompt, numpy_sampler_processor(SlotSampler(SAMPLED), len(prompt)), 63)
    assert ours == reference
    again = list(speaker.tokens(prompt, max_new_tokens=63, sampler=SlotSampler(SAMPLED)))
    other = SamplingConfig(**{**SAMPLED.__dict__, "seed": 8})
    assert again == ours  # seeded: reproducible
    assert list(speaker.tokens(prompt, max_new_tokens=63, sampler=SlotSampler(other))) != ours


def test_sampler_distribution_equals_transformers_filters() -> None:
    import torch
    from transformers import (
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    rng = np.random.default_rng(0)
    history = [AUDIO_TOKEN_BASE + 3 * 4096 + c for c in (5, 77, 4000)]
    configs = (SamplingConfig(0.6, 0.9, 0, 1.1), SamplingConfig(0.4, 0.8, 50, 1.3), SamplingConfig(1.0, 1.0, 0, 1.0))
    # Flat logits keep hundreds of tokens after top-p (full sort); peaked ones keep a few (the fast path).
    for scale, config in ((s, c) for s in (0.5, 3.0) for c in configs):
        logits = rng.normal(0, scale, 156940).astype(np.float32)
        logits[history[1]] = logits.max() + 1  # a repeated favourite: the penalty must matter
        sampler = SlotSampler(config)
        sampler.allow_stop = False
        for token in history:
            sampler._seen[token - AUDIO_TOKEN_BASE] = True
        ids, probs = sampler.distribution(logits, 3)
        scores = torch.tensor(logits)[None]
        input_ids = torch.tensor([history])
        scores = RepetitionPenaltyLogitsProcessor(config.repetition_penalty)(input_ids, scores)
        mask = torch.full_like(scores, float("-inf"))
        mask[:, ids[0]: ids[-1] + 1] = 0
        scores = TemperatureLogitsWarper(config.temperature)(input_ids, scores + mask)
        if config.top_k:
            scores = TopKLogitsWarper(config.top_k)(input_ids, scores)
        scores = TopPLogitsWarper(config.top_p)(input_ids, scores)
        reference = torch.softmax(scores.double(), -1)[0, ids].numpy()
        np.testing.assert_allclose(probs, reference, rtol=1e-5, atol=1e-7)
        assert (probs > 0).sum() == (reference > 0).sum()


def test_end_of_speech_only_at_frame_boundaries() -> None:
    logits = np.zeros(156940, dtype=np.float32)
    logits[END_OF_SPEECH] = 100.0
    sampler = SlotSampler(GREEDY)
    assert sampler.choose(logits, 7) == END_OF_SPEECH
    assert sampler.choose(logits, 8) != END_OF_SPEECH


def test_tokens_become_streamed_audio_equal_to_one_shot(models: tuple[Path, Path]) -> None:
    speaker = _speaker(models)
    chunks = list(speaker.synthesize("Hi.", voice="tara"))
    stats = speaker.last_stats
    assert all(c.sample_rate == SAMPLE_RATE and c.samples.dtype == np.float32 for c in chunks)
    assert len(chunks[0].samples) == SAMPLES_PER_FRAME  # the first audio comes after 2 frames
    audio = np.concatenate([c.samples for c in chunks])
    assert len(audio) == stats.frames * SAMPLES_PER_FRAME and stats.frames == stats.tokens // 7
    assert stats.length_limited == 1 and stats.tokens == MAX_TOKENS  # the length limit stops a random model
    assert float(np.abs(audio).max()) > 0.01
    # The same tokens (same seed), decoded in one shot, sound the same.
    prompt = speaker.prompt("Hi.", "tara")
    tokens = list(speaker.tokens(prompt, max_new_tokens=stats.tokens, sampler=SlotSampler(SAMPLED)))
    assembler = FrameAssembler(SpeechStats())
    frames = [f for f in (assembler.add(t) for t in tokens) if f is not None]
    one_shot = SnacDecoder(models[1], device="cpu").decode(np.stack(frames))
    assert len(one_shot) == len(audio)
    assert np.abs(one_shot - audio).max() < 0.03


def test_first_sentence_plays_before_the_next_is_generated(models: tuple[Path, Path]) -> None:
    prompts: list[int] = []

    class Recording(OrpheusSpeaker):
        def prompt(self, text: str, voice: str | None = None) -> list[int]:
            prompts.append(len(text))
            return super().prompt(text, voice)

    speaker = Recording(llm_dir=models[0], snac_dir=models[1], device="cpu", sampling=SAMPLED,
                        max_tokens_per_sentence=MAX_TOKENS)
    stream = speaker.synthesize("First sentence here. Second sentence comes later!")
    first = next(stream)
    assert len(first.samples) > 0 and len(prompts) == 1
    rest = list(stream)
    assert len(prompts) == 2 and speaker.last_stats.length_limited == 2 and rest


def test_frame_assembler_counts_and_replaces_bad_tokens() -> None:
    stats = SpeechStats()
    assembler = FrameAssembler(stats)
    good = [AUDIO_TOKEN_BASE + slot * 4096 + 100 + slot for slot in range(7)]
    assert [assembler.add(t) is not None for t in good] == [False] * 6 + [True]
    bad = [*good]
    bad[2] = AUDIO_TOKEN_BASE + 5 * 4096 + 9  # a slot-5 id in slot 2: out of range for slot 2
    frames = [assembler.add(t) for t in [*bad[:3], 128000, *bad[3:]]]
    frame = frames[-1]
    assert frame is not None and frame.tolist() == [100, 101, 102, 103, 104, 105, 106]  # replaced, not dropped
    assert stats.out_of_range_codes == 1 and stats.ignored_tokens == 1 and stats.frames == 2


def test_availability_and_plain_errors(models: tuple[Path, Path], tmp_path: Path) -> None:
    assert isinstance(_speaker(models), Speaker)
    assert _speaker(models).is_available() is None
    missing = OrpheusSpeaker(llm_dir=models[0], snac_dir=tmp_path)
    assert "No SNAC decoder" in (missing.is_available() or "")
    with pytest.raises(ModelError):
        missing.load()
    from_store = OrpheusSpeaker()  # an empty SpaceVoice home: nothing installed
    reason = from_store.is_available()
    assert reason is not None and "not installed" in reason


def test_failure_mid_sentence_raises_for_the_fallback(models: tuple[Path, Path]) -> None:
    speaker = _speaker(models)
    speaker.load()
    # A real onnxruntime failure: the LLM session replaced by the SNAC decoder's, which has no input_ids.
    speaker._lm.session = speaker._snac.session
    with pytest.raises(OrpheusFailed) as caught:
        list(speaker.synthesize("This will fail."))
    assert "system voice" in str(caught.value)
    with pytest.raises(OrpheusFailed):  # the speed probe fails the same catchable way
        speaker.realtime_factor(0.2)


def test_realtime_probe_measures_tokens_per_second(models: tuple[Path, Path]) -> None:
    factor = _speaker(models).realtime_factor(0.5)
    assert factor > 0 and np.isfinite(factor)


def test_runtime_path_never_imports_torch(models: tuple[Path, Path]) -> None:
    script = (
        "import sys; from pathlib import Path; from engine.speech.orpheus import OrpheusSpeaker\n"
        f"s = OrpheusSpeaker(llm_dir=Path({str(models[0])!r}), snac_dir=Path({str(models[1])!r}), device='cpu')\n"
        "n = sum(len(c.samples) for c in s.synthesize('Hi.'))\n"
        "bad = [m for m in ('torch', 'transformers', 'optimum', 'snac') if m in sys.modules]\n"
        "print(n, bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    samples, modules = result.stdout.split(" ", 1)
    assert int(samples) > 0 and modules.strip() == "[]"


def test_int8_quantized_model_speaks_like_fp32(models: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    import onnx

    from engine.models.int8_matmul import quantize_matmuls_int8

    folder = tmp_path / "int8"
    shutil.copytree(models[0], folder, ignore=shutil.ignore_patterns("torch"))
    quantize_matmuls_int8(folder / "model.onnx", folder / "model_int8.onnx")
    graph = onnx.load(str(folder / "model_int8.onnx"), load_external_data=False).graph
    assert sum(n.op_type == "DynamicQuantizeMatMul" for n in graph.node) >= 2 * 7  # every projection of 2 layers
    assert not any(n.op_type == "MatMul" and n.input[1] in {t.name for t in graph.initializer} for n in graph.node)
    fp32 = OrpheusSpeaker(llm_dir=models[0], snac_dir=models[1], device="cpu", llm_file="model.onnx")
    int8 = OrpheusSpeaker(llm_dir=folder, snac_dir=models[1], device="cpu")  # the CPU picks model_int8.onnx
    prompt = fp32.prompt("Hello there.", "tara")
    logits = {}
    for name, speaker in (("fp32", fp32), ("int8", int8)):
        speaker.load()
        logits[name] = []
        list(speaker._lm.generate(prompt, lambda row, step, out=logits[name]: out.append(row) or 130000,
                                  max_new_tokens=3))
    assert int8._lm.path.name == "model_int8.onnx"
    for a, b in zip(logits["fp32"], logits["int8"], strict=True):
        assert np.corrcoef(a, b)[0, 1] > 0.99
