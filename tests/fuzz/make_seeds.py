#!/usr/bin/env python3
"""Seed inputs for the fuzz targets (standard library only): small GGUF files (a llama
configuration, a byte-level BPE or a SentencePiece vocabulary, one tensor of every type Leger
decodes), a safetensors file (F32, F16, BF16), and the test model's tokenizer.json and config.json.
Usage: make_seeds.py OUT_DIR   (writes OUT_DIR/gguf, OUT_DIR/safetensors, OUT_DIR/hf_json)"""
import json
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LLM = os.path.join(HERE, "..", "..", "resources", "llm")

# ggml types: (number, weights per block, bytes per block)
TYPES = {"F32": (0, 1, 4), "F16": (1, 1, 2), "Q4_0": (2, 32, 18), "Q4_1": (3, 32, 20), "Q5_0": (6, 32, 22),
         "Q5_1": (7, 32, 24), "Q8_0": (8, 32, 34), "Q2_K": (10, 256, 84), "Q3_K": (11, 256, 110),
         "Q4_K": (12, 256, 144), "Q5_K": (13, 256, 176), "Q6_K": (14, 256, 210), "BF16": (30, 1, 2)}


def s(v):
    b = v.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def kv(key, kind, value):
    if kind == "str":
        return s(key) + struct.pack("<I", 8) + s(value)
    if kind == "u32":
        return s(key) + struct.pack("<II", 4, value)
    if kind == "f32":
        return s(key) + struct.pack("<If", 6, value)
    if kind == "bool":
        return s(key) + struct.pack("<IB", 7, value)
    if kind == "strs":
        return s(key) + struct.pack("<IIQ", 9, 8, len(value)) + b"".join(s(x) for x in value)
    if kind == "i32s":
        return s(key) + struct.pack("<IIQ", 9, 5, len(value)) + b"".join(struct.pack("<i", x) for x in value)
    if kind == "f32s":
        return s(key) + struct.pack("<IIQ", 9, 6, len(value)) + b"".join(struct.pack("<f", x) for x in value)
    raise ValueError(kind)


def gguf(meta, tensors):
    """meta: list of kv bytes; tensors: (name, dims innermost first, type name)."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta)) + b"".join(meta)
    offset, data = 0, b""
    for name, dims, t in tensors:
        number, per_block, block_bytes = TYPES[t]
        n = 1
        for d in dims:
            n *= d
        size = n // per_block * block_bytes
        out += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", number, offset)
        chunk = bytes((i * 37 + 11) % 251 for i in range(size))
        if name == "rope_freqs.weight":
            chunk = struct.pack(f"<{n}f", *[1.0 + i / n for i in range(n)])
        pad = (-size) % 32
        data += chunk + b"\0" * pad
        offset += size + pad
    out += b"\0" * ((-len(out)) % 32)
    return out + data


def main(out):
    for sub in ("gguf", "safetensors", "hf_json"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    arch = [kv("general.architecture", "str", "llama"), kv("llama.embedding_length", "u32", 256),
            kv("llama.block_count", "u32", 1), kv("llama.feed_forward_length", "u32", 256),
            kv("llama.attention.head_count", "u32", 4), kv("llama.attention.head_count_kv", "u32", 2),
            kv("llama.context_length", "u32", 64), kv("llama.rope.freq_base", "f32", 10000.0),
            kv("llama.attention.layer_norm_rms_epsilon", "f32", 1e-5)]
    tensors = [(f"blk.0.t_{t.lower()}", [256, 2], t) for t in TYPES] + [("rope_freqs.weight", [32], "F32")]
    # GPT-2's byte symbols (bytes_to_unicode), three merges and an end-of-text token: 260 tokens.
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    extra = iter(range(256, 512))
    symbols = [chr(b) if b in printable else chr(next(extra)) for b in range(256)]
    byte_level = symbols + ["ab", "abc", "Ġa", "<|endoftext|>"]
    bpe = [kv("tokenizer.ggml.model", "str", "gpt2"), kv("tokenizer.ggml.pre", "str", "gpt-2"),
           kv("tokenizer.ggml.tokens", "strs", byte_level), kv("tokenizer.ggml.token_type", "i32s", [1] * 259 + [3]),
           kv("tokenizer.ggml.merges", "strs", ["a b", "ab c", "Ġ a"]), kv("tokenizer.ggml.eos_token_id", "u32", 259)]
    pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + ["▁", "a", "b", "▁a", "ab"]
    spm = [kv("tokenizer.ggml.model", "str", "llama"), kv("tokenizer.ggml.tokens", "strs", pieces),
           kv("tokenizer.ggml.scores", "f32s", [0.0] * 259 + [0.0, 0.0, 0.0, -1.0, -2.0]),
           kv("tokenizer.ggml.token_type", "i32s", [2, 3, 3] + [6] * 256 + [1] * 5),
           kv("tokenizer.ggml.bos_token_id", "u32", 1), kv("tokenizer.ggml.add_space_prefix", "bool", 1)]
    # A whole model that opens: llama's tensor names and shapes (width 32, one block, 260 tokens).
    tiny = [kv("general.architecture", "str", "llama"), kv("llama.embedding_length", "u32", 32),
            kv("llama.block_count", "u32", 1), kv("llama.feed_forward_length", "u32", 64),
            kv("llama.attention.head_count", "u32", 2), kv("llama.attention.head_count_kv", "u32", 1),
            kv("llama.context_length", "u32", 16), kv("llama.rope.dimension_count", "u32", 16)]
    model = [("token_embd.weight", [32, 260], "Q8_0"), ("blk.0.attn_norm.weight", [32], "F32"),
             ("blk.0.attn_q.weight", [32, 32], "F16"), ("blk.0.attn_k.weight", [32, 16], "Q4_0"),
             ("blk.0.attn_v.weight", [32, 16], "BF16"), ("blk.0.attn_output.weight", [32, 32], "F32"),
             ("blk.0.ffn_norm.weight", [32], "F32"), ("blk.0.ffn_gate.weight", [32, 64], "Q5_1"),
             ("blk.0.ffn_up.weight", [32, 64], "Q4_1"), ("blk.0.ffn_down.weight", [64, 32], "Q5_0"),
             ("output_norm.weight", [32], "F32"), ("rope_freqs.weight", [8], "F32")]
    with open(os.path.join(out, "gguf", "model.gguf"), "wb") as f:
        f.write(gguf(tiny + bpe, model))
    with open(os.path.join(out, "gguf", "bpe.gguf"), "wb") as f:
        f.write(gguf(arch + bpe, tensors))
    with open(os.path.join(out, "gguf", "spm.gguf"), "wb") as f:
        f.write(gguf(arch + spm, tensors[:3]))

    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name, dtype, count, width in (("a", "F32", 6, 4), ("b", "F16", 4, 2), ("c", "BF16", 4, 2)):
        header[name] = {"dtype": dtype, "shape": [2, count // 2], "data_offsets": [len(data), len(data) + count * width]}
        data += bytes((i * 29 + 3) % 200 for i in range(count * width))
    h = json.dumps(header).encode()
    with open(os.path.join(out, "safetensors", "small.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)

    for name in ("tokenizer.json", "config.json"):
        shutil.copy(os.path.join(LLM, name), os.path.join(out, "hf_json", name))
    shutil.copy(os.path.join(LLM, "gpt2", "config.json"), os.path.join(out, "hf_json", "gpt2-config.json"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
