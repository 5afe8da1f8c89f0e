"""The tiny Orpheus-shaped Llama of `tests.tiny_orpheus`, written as GGUF for llama.cpp's server.

Written with the ``gguf`` package the way llama.cpp's ``convert_hf_to_gguf.py`` writes a Llama (its q/k weights
permuted into GGML's rotary layout), from the same transformers checkpoint the ONNX export was made from, so the
server and our onnxruntime loop run the same weights. The vocabulary is the tiny BPE tokenizer's (GPT-2
pre-tokenizer, like the HF tokenizer's ByteLevel one), padded to Orpheus' 156940 ids with the names Orpheus' real
tokenizer gives: ``<|eot_id|>`` at 128009 and ``<custom_token_N>`` at 128256 + N, which llama.cpp renders as text
(user-defined tokens), as real Orpheus GGUFs do. No begin-of-text is added by the server: the prompt carries it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CUSTOM_BASE = 128256
# A text-only server meets a picture in a message and renders only its text parts (this model has no vision).
CHAT_TEMPLATE = ("{% for message in messages %}<|begin_of_text|>{{ message['role'] }}: "
                 "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
                 "{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}"
                 "{% endif %}{% endfor %}{% endif %}<|eot_id|>{% endfor %}<|begin_of_text|>assistant: ")
EOT = 128009


def _permute(weights: np.ndarray, heads: int) -> np.ndarray:
    """HF's rotate-half q/k rows -> GGML's interleaved pairs (convert_hf_to_gguf's LlamaModel.permute)."""
    return (weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def write_tiny_orpheus_gguf(torch_dir: Path, tokenizer_json: Path, out: Path) -> Path:
    """Write ``out`` (f32 GGUF) from the checkpoint in ``torch_dir`` and the tiny tokenizer; return ``out``."""
    import gguf
    from safetensors.numpy import load_file

    config = json.loads((torch_dir / "config.json").read_text())
    weights = load_file(str(torch_dir / "model.safetensors"))
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    hidden, layers, vocab = config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]

    writer = gguf.GGUFWriter(str(out), "llama")
    writer.add_name("tiny-orpheus")
    writer.add_context_length(2048)
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_rope_dimension_count(hidden // heads)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_rope_freq_base(config.get("rope_theta", 10000.0))
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    tokenizer = json.loads(tokenizer_json.read_text())
    bpe = tokenizer["model"]["vocab"]
    tokens = [f"<|reserved_special_token_{i}|>" for i in range(vocab)]
    types = [gguf.TokenType.UNUSED] * vocab
    for piece, index in bpe.items():
        tokens[index], types[index] = piece, gguf.TokenType.NORMAL
    for added in tokenizer.get("added_tokens", []):
        tokens[added["id"]], types[added["id"]] = added["content"], gguf.TokenType.CONTROL
    tokens[EOT], types[EOT] = "<|eot_id|>", gguf.TokenType.CONTROL
    for index in range(CUSTOM_BASE, vocab):
        tokens[index], types[index] = f"<custom_token_{index - CUSTOM_BASE}>", gguf.TokenType.USER_DEFINED
    merges = [m if isinstance(m, str) else " ".join(m) for m in tokenizer["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(bpe.get("<|begin_of_text|>", 0))
    writer.add_eos_token_id(EOT)
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}
    writer.add_tensor("token_embd.weight", weights["model.embed_tokens.weight"].astype(np.float32))
    for layer in range(layers):
        for hf, ours in names.items():
            data = weights[f"model.layers.{layer}.{hf}.weight"].astype(np.float32)
            if hf == "self_attn.q_proj":
                data = _permute(data, heads)
            elif hf == "self_attn.k_proj":
                data = _permute(data, kv_heads)
            writer.add_tensor(f"blk.{layer}.{ours}.weight", np.ascontiguousarray(data))
    writer.add_tensor("output_norm.weight", weights["model.norm.weight"].astype(np.float32))
    output = weights.get("lm_head.weight", weights["model.embed_tokens.weight"])
    writer.add_tensor("output.weight", output.astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out
