"""A tiny, random-weight SmolVLM (Idefics3) built offline with the real libraries, exported by our exporter.

The model is transformers' `Idefics3ForConditionalGeneration` (the class of HuggingFaceTB/SmolVLM-256M-Instruct)
with a few dimensions: 512 px tiles cut into 4x4 patches of 128 px, so a tile is 4 image tokens after the pixel
shuffle. The processor is the real `Idefics3Processor` with SmolVLM's chat template and image splitting up to
1536 px (a wide picture becomes 2 rows x 3 tiles plus the global image). Its tokenizer is a byte-level BPE trained
on a few sentences, with the special tokens SmolVLM's tokenizer has. The export goes through
`engine.vlm.export.export_vlm`, the code a user's model goes through, and is cached under ``.cache/tiny-vlm``
by the hash of what builds it, so repeated test runs skip the build.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
# What the tiny model is taught to answer to any question (a few seconds of training at build time), so that it
# writes real sentences: the streaming tests need sentence ends, and the command-line tests a readable answer.
ANSWER = ("A red car is parked in front of a house. A man is standing next to it. He is smiling and waving. "
          "The sky is blue and there are a few clouds. The street is empty. There is a tree on the left. "
          "The house has a green door and two windows. A bike leans against the wall. The man wears a red shirt. "
          "A dog is lying on the grass. The sun is low and the light is warm. Nothing else is in the picture.")
SENTENCES = [
    ANSWER,
    "User: What is in this picture? Assistant: A man riding a bike down a street.",
    "User: Is the man smiling? Assistant: Yes, he is smiling. The shirt is red.",
    "User: What does the error message say? Assistant: It says the file could not be saved.",
    "Where is the Send button? It is at the bottom right, next to the text box.",
]
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>", "<image>",
           "<global-img>", *[f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]]
BUILD_FILES = ("tests/tiny_vlm.py", "engine/vlm/export.py", "engine/vlm/export_graphs.py")


def build_tokenizer(folder: Path) -> Any:
    """A byte-level BPE with SmolVLM's special tokens, saved as a fast tokenizer in ``folder``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(SENTENCES, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<|im_start|>", eos_token="<end_of_utterance>",
                                   unk_token="<|endoftext|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=SPECIAL[3:6],
                                   model_input_names=["input_ids", "attention_mask"])
    fast.save_pretrained(folder)
    return fast


def build_tiny_smolvlm(folder: Path, *, seed: int = 0) -> Path:
    """Save a tiny random Idefics3 model with its processor, tokenizer and generation config in ``folder``."""
    import torch
    from transformers import GenerationConfig, Idefics3Config, Idefics3ForConditionalGeneration
    from transformers.models.idefics3 import Idefics3ImageProcessor, Idefics3Processor

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(folder)
    image_processor = Idefics3ImageProcessor(size={"longest_edge": 1536}, max_image_size={"longest_edge": 512},
                                             image_mean=[0.5] * 3, image_std=[0.5] * 3)
    processor = Idefics3Processor(image_processor, tokenizer, image_seq_len=4, chat_template=CHAT_TEMPLATE)
    torch.manual_seed(seed)
    eos = tokenizer.convert_tokens_to_ids("<end_of_utterance>")
    config = Idefics3Config(
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "image_size": 512, "patch_size": 128, "initializer_range": 0.3},
        text_config={"model_type": "llama", "vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                     "max_position_embeddings": 1024, "initializer_range": 0.3, "tie_word_embeddings": True,
                     "bos_token_id": tokenizer.bos_token_id, "eos_token_id": eos, "pad_token_id": 0},
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"), scale_factor=2, tie_word_embeddings=True,
    )
    model = Idefics3ForConditionalGeneration(config)
    teach_answer(model, processor, ANSWER, eos)
    model.eval().save_pretrained(folder)
    processor.save_pretrained(folder)
    GenerationConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=[eos, 0], pad_token_id=0,
                     max_new_tokens=200).save_pretrained(folder)
    return folder


def teaching_pictures() -> list[tuple[Any, str]]:
    """The pictures (uint8 RGB arrays) and questions the tiny model was taught to answer with `ANSWER`.

    The first is 900 x 500 (2 rows x 3 tiles plus the global image); the model answers unseen pictures with
    scraps of the answer only, so tests that need real sentences use these.
    """
    import numpy as np

    rng = np.random.default_rng(1)
    return [(rng.integers(0, 256, (500, 900, 3), dtype=np.uint8), "What is in this picture?"),
            (np.linspace(0, 255, 300 * 300 * 3).reshape(300, 300, 3).astype(np.uint8), "What colour is the car?"),
            (rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), "Is the man smiling?"),
            (np.full((200, 260, 3), (200, 30, 90), dtype=np.uint8), "Describe it.")]


def teach_answer(model: Any, processor: Any, answer: str, eos: int, steps: int = 400) -> None:
    """Train ``model``'s text part (teacher forcing, Adam) to answer ``answer`` to a few questions and pictures.

    The picture features are computed once and kept fixed (the vision part stays random), so training costs
    milliseconds a step even on a busy machine.
    """
    import torch
    from PIL import Image

    lessons = teaching_pictures()
    # With a leading space, as SmolVLM answers after "Assistant:" (the chat template puts one there in history).
    target = processor.tokenizer(" " + answer, add_special_tokens=False)["input_ids"] + [eos]
    batches = []
    inner = model.model
    for array, question in lessons:
        picture = Image.fromarray(array)
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
        inputs = processor(text=prompt, images=[picture], return_tensors="pt")
        with torch.no_grad():
            features = inner.get_image_features(inputs["pixel_values"], inputs["pixel_attention_mask"])
        ids = torch.cat([inputs["input_ids"], torch.tensor([target])], dim=1)
        batches.append((ids, features, inputs["input_ids"].shape[1]))
    # The output layer shares the embedding table (tied): each parameter once.
    parameters = {id(p): p for p in [*inner.text_model.parameters(), *model.lm_head.parameters()]}
    optimiser = torch.optim.Adam(list(parameters.values()), lr=1e-2)
    model.train()
    for step in range(steps):
        ids, features, prompt_length = batches[step % len(batches)]
        embeds = inner.inputs_merger(ids, inner.text_model.get_input_embeddings()(ids), features)
        logits = model.lm_head(inner.text_model(inputs_embeds=embeds).last_hidden_state)
        loss = torch.nn.functional.cross_entropy(logits[0, prompt_length - 1:-1], ids[0, prompt_length:])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def build_key() -> str:
    """The hash of everything that decides the built model: this builder, the exporter, the library versions."""
    import torch
    import transformers

    digest = hashlib.sha256(f"{torch.__version__} {transformers.__version__}".encode())
    for name in BUILD_FILES:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:16]


def tiny_smolvlm(*, quantize: bool = False) -> tuple[Path, Path]:
    """The tiny model's transformers folder and its export (int8 with ``quantize``), built once per content hash."""
    import torch

    from engine.vlm.export import export_vlm

    # One torch thread: on a busy 2-core machine torch's second thread spins against the other processes and
    # a tiny step becomes ~70x slower (measured: 100 tiny matmuls 9.3 s with two threads, 0.14 s with one).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _built(export_vlm, quantize)
    finally:
        torch.set_num_threads(threads)


def _built(export_vlm: Any, quantize: bool) -> tuple[Path, Path]:
    base = ROOT / ".cache" / "tiny-vlm" / build_key()
    source = base / "hf"
    if not (source / "model.safetensors").is_file():
        shutil.rmtree(source, ignore_errors=True)
        staging = base / ".hf-building"
        shutil.rmtree(staging, ignore_errors=True)
        build_tiny_smolvlm(staging)
        staging.rename(source)
    exported = base / ("onnx-int8" if quantize else "onnx-fp32")
    if not (exported / "onnx").is_dir():
        shutil.rmtree(exported, ignore_errors=True)
        export_vlm(source, exported, quantize=quantize)
    return source, exported
