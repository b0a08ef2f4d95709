#!/usr/bin/python3
"""Trains Leger's small Llama-architecture test model on the King James Bible.

Dev-only. Regenerates everything in resources/llm/:

  heldout.txt              the held-out text (Hebrews .. Revelation, one verse a line)
  vocab.json, merges.txt   the byte-level BPE tokenizer, GPT-2 style
  tokenizer.json           the same tokenizer in Hugging Face `tokenizers` form
  config.json              Hugging Face LlamaConfig
  model.safetensors        float32 weights, Hugging Face LlamaForCausalLM names
  tiny-llama-f32.gguf      the same weights as GGUF v3 (llama.cpp names and q/k layout), F32
  reference.json           held-out perplexity (llama.cpp's method), logits, token ids
  README.md                how it was made and its measured figures

The text comes from Debian's bible-kjv-text package, which ships it compressed
(/usr/lib/bible.data); the `bible` program of the bible-kjv package (a dependency) prints it:
`bible -f Gen1:1-Rev22:21` writes one verse a line after its reference. Install first:

  apt-get install -y bible-kjv-text python3-regex
  nice -n 10 /usr/bin/python3 resources/llm/train_tiny_llama.py

Uses Debian's python3-torch (1.13) and numpy; installs nothing. Deterministic: fixed seeds,
a fixed number of threads (2) and of steps. Everything is written by this script by hand
(no transformers, tokenizers, safetensors or gguf packages): the tokenizer trainer and encoder
below are the reference for Leger's C++ tokenizer, the model below computes what Hugging Face's
LlamaForCausalLM computes.
"""

import argparse
import json
import math
import os
import random
import struct
import subprocess
import sys
import time
from collections import Counter

import numpy as np
import regex
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20261128
THREADS = 2

HELDOUT_FIRST_BOOK = "Heb"   # Hebrews .. Revelation are held out (about 3.5 % of the text)

VOCAB = 2048                 # 256 bytes + 1791 merges + <|endoftext|>
EOT = "<|endoftext|>"

# Every width is a multiple of QUANT_BLOCK so that each weight matrix's rows (hidden_size or
# intermediate_size values long) split into whole blocks of every GGUF block format: 32 values for
# Q8_0/Q4_0/Q4_1/Q5_0/Q5_1, 256 for the K-quants Q2_K .. Q6_K.
QUANT_BLOCK = 256
CONFIG = dict(
    hidden_size=256,
    intermediate_size=768,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=256,
    rms_norm_eps=1e-5,
    rope_theta=10000.0,
)

STEPS = 800
BATCH = 4
LR = 3e-3
WARMUP = 30
LOG_EVERY = 80
WEIGHT_DECAY = 0.1

# --------------------------------------------------------------------------- text

VERSE = regex.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$")


def read_kjv():
    """Returns [(book, verse text)] in canonical order, from Debian's bible-kjv(-text)."""
    out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], stdin=subprocess.DEVNULL,
                         capture_output=True, check=True).stdout.decode("ascii")
    verses = []
    for line in out.splitlines():
        m = VERSE.match(line)
        if not m:
            raise ValueError(f"unexpected line from bible: {line!r}")
        verses.append((m.group(1), m.group(4)))
    if len(verses) != 31102:
        raise ValueError(f"expected 31102 verses, got {len(verses)}")
    return verses


# --------------------------------------------------------------------------- tokenizer

# GPT-2's pre-tokenization pattern.
PRETOKENIZE = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    """GPT-2's table: every byte to a printable unicode character (printable bytes keep theirs)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def pretokenize(text):
    """The text's pieces, each as its bytes mapped through GPT-2's table."""
    return ["".join(BYTE_TO_CHAR[b] for b in piece.encode("utf-8")) for piece in PRETOKENIZE.findall(text)]


def train_bpe(text, merges_wanted):
    """Byte-level BPE: repeatedly merges the most frequent adjacent pair (ties: the smallest pair).
    Returns the merges in order."""
    counts = Counter(pretokenize(text))
    words = [list(w) for w in counts]
    freq = [counts[w] for w in counts]
    pairs = Counter()
    where = {}
    for i, w in enumerate(words):
        for p in zip(w, w[1:]):
            pairs[p] += freq[i]
            where.setdefault(p, set()).add(i)
    merges = []
    while len(merges) < merges_wanted:
        if not pairs:
            break
        top = max(pairs.values())
        a, b = min(p for p, c in pairs.items() if c == top)
        merges.append((a, b))
        joined = a + b
        for i in sorted(where.pop((a, b), ())):
            w = words[i]
            for p in zip(w, w[1:]):
                pairs[p] -= freq[i]
                if pairs[p] == 0:
                    del pairs[p]
            out, k = [], 0
            while k < len(w):
                if k + 1 < len(w) and w[k] == a and w[k + 1] == b:
                    out.append(joined)
                    k += 2
                else:
                    out.append(w[k])
                    k += 1
            words[i] = out
            for p in zip(out, out[1:]):
                pairs[p] += freq[i]
                where.setdefault(p, set()).add(i)
    return merges


class Tokenizer:
    """GPT-2's encoder: pre-tokenize, then in each piece merge the pair of lowest rank until none
    is left. Ids: 0..255 the bytes (in byte order), then one per merge, then <|endoftext|>."""

    def __init__(self, merges):
        self.merges = merges
        self.ranks = {m: r for r, m in enumerate(merges)}
        self.tokens = [BYTE_TO_CHAR[b] for b in range(256)] + [a + b for a, b in merges] + [EOT]
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        assert len(self.ids) == len(self.tokens), "duplicate token"
        self.eot = self.ids[EOT]
        self.cache = {}

    def bpe(self, piece):
        if piece in self.cache:
            return self.cache[piece]
        w = list(piece)
        while len(w) > 1:
            ranked = [(self.ranks.get(p, math.inf), k) for k, p in enumerate(zip(w, w[1:]))]
            r, k = min(ranked)
            if r == math.inf:
                break
            a, b = w[k], w[k + 1]
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    out.append(a + b)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            w = out
        ids = [self.ids[t] for t in w]
        self.cache[piece] = ids
        return ids

    def encode(self, text):
        ids = []
        for piece in pretokenize(text):
            ids.extend(self.bpe(piece))
        return ids

    def decode(self, ids):
        return bytes(CHAR_TO_BYTE[c] for i in ids if i != self.eot for c in self.tokens[i]).decode("utf-8", "replace")


def write_tokenizer(tok, out_dir):
    vocab = {t: i for i, t in enumerate(tok.tokens)}
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in tok.merges:
            f.write(f"{a} {b}\n")
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    hf = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": tok.eot, "content": EOT, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": dict(byte_level, trim_offsets=False),
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                  "merges": [f"{a} {b}" for a, b in tok.merges]},
    }
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(hf, f, ensure_ascii=False, indent=1)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer_class": "GPT2Tokenizer", "bos_token": EOT, "eos_token": EOT, "unk_token": EOT,
                   "add_bos_token": False, "add_prefix_space": False, "model_max_length": CONFIG["max_position_embeddings"]},
                  f, indent=1)


# --------------------------------------------------------------------------- model

def init_params(cfg, vocab, gen):
    """Hugging Face's parameter names and shapes ([out, in] for projections); normal(0, 0.02)."""
    h, i, hd = cfg["hidden_size"], cfg["intermediate_size"], cfg["hidden_size"] // cfg["num_attention_heads"]
    kv = cfg["num_key_value_heads"] * hd

    def w(*shape):
        return torch.nn.Parameter(torch.randn(*shape, generator=gen) * 0.02)

    p = {"model.embed_tokens.weight": w(vocab, h)}
    for n in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{n}."
        p[pre + "input_layernorm.weight"] = torch.nn.Parameter(torch.ones(h))
        p[pre + "self_attn.q_proj.weight"] = w(h, h)
        p[pre + "self_attn.k_proj.weight"] = w(kv, h)
        p[pre + "self_attn.v_proj.weight"] = w(kv, h)
        p[pre + "self_attn.o_proj.weight"] = w(h, h)
        p[pre + "post_attention_layernorm.weight"] = torch.nn.Parameter(torch.ones(h))
        p[pre + "mlp.gate_proj.weight"] = w(i, h)
        p[pre + "mlp.up_proj.weight"] = w(i, h)
        p[pre + "mlp.down_proj.weight"] = w(h, i)
    p["model.norm.weight"] = torch.nn.Parameter(torch.ones(h))
    return p


def rms_norm(x, weight, eps):
    # LlamaRMSNorm: in float32, x * rsqrt(mean(x^2) + eps), then times the weight.
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_cos_sin(seq, head_dim, theta):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    freqs = torch.outer(torch.arange(seq, dtype=torch.float32), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def forward(p, cfg, ids, interleaved_rope=False):
    """Logits [batch, seq, vocab] as LlamaForCausalLM computes them (tied lm_head). With
    interleaved_rope, q/k rotate adjacent pairs (x[2i], x[2i+1]) as llama.cpp does: that is the
    layout of the GGUF file's permuted q/k weights."""
    b, t = ids.shape
    h, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, eps = h // nh, cfg["rms_norm_eps"]
    cos, sin = rope_cos_sin(t, hd, cfg["rope_theta"])
    if interleaved_rope:
        cos_i, sin_i = cos[:, : hd // 2].repeat_interleave(2, -1), sin[:, : hd // 2].repeat_interleave(2, -1)

    def rope(x):
        if not interleaved_rope:
            return x * cos + rotate_half(x) * sin
        x2 = torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)
        return x * cos_i + x2 * sin_i

    mask = torch.full((t, t), float("-inf")).triu(1)
    x = F.embedding(ids, p["model.embed_tokens.weight"])   # (indexing would accumulate its gradient in a nondeterministic order)
    for n in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{n}."
        a = rms_norm(x, p[pre + "input_layernorm.weight"], eps)
        q = (a @ p[pre + "self_attn.q_proj.weight"].T).view(b, t, nh, hd).transpose(1, 2)
        k = (a @ p[pre + "self_attn.k_proj.weight"].T).view(b, t, nkv, hd).transpose(1, 2)
        v = (a @ p[pre + "self_attn.v_proj.weight"].T).view(b, t, nkv, hd).transpose(1, 2)
        q, k = rope(q), rope(k)
        k = k.repeat_interleave(nh // nkv, dim=1)   # repeat_kv: head j uses kv head j // (nh / nkv)
        v = v.repeat_interleave(nh // nkv, dim=1)
        s = (q @ k.transpose(2, 3)) / math.sqrt(hd) + mask
        o = (torch.softmax(s, dim=-1, dtype=torch.float32) @ v).transpose(1, 2).reshape(b, t, h)
        x = x + o @ p[pre + "self_attn.o_proj.weight"].T
        m = rms_norm(x, p[pre + "post_attention_layernorm.weight"], eps)
        g = F.silu(m @ p[pre + "mlp.gate_proj.weight"].T) * (m @ p[pre + "mlp.up_proj.weight"].T)
        x = x + g @ p[pre + "mlp.down_proj.weight"].T
    x = rms_norm(x, p["model.norm.weight"], eps)
    return x @ p["model.embed_tokens.weight"].T


# --------------------------------------------------------------------------- perplexity

def perplexity(logits_fn, tokens, n_ctx):
    """llama.cpp's `perplexity`: consecutive windows of n_ctx tokens; in each, only the second
    half is scored (the logits at positions n_ctx/2 .. n_ctx-2 predicting the next token).
    Returns (ppl, mean nll, windows, tokens scored, first window's logits)."""
    windows = len(tokens) // n_ctx
    first = n_ctx // 2
    nll, count, first_logits = 0.0, 0, None
    with torch.no_grad():
        for c in range(windows):
            w = torch.tensor(tokens[c * n_ctx:(c + 1) * n_ctx]).unsqueeze(0)
            logits = logits_fn(w)[0].double()
            if c == 0:
                first_logits = logits.float()
            lp = torch.log_softmax(logits[first:n_ctx - 1], dim=-1)
            nll -= lp.gather(1, w[0, first + 1:].unsqueeze(1)).sum().item()
            count += n_ctx - 1 - first
    return math.exp(nll / count), nll / count, windows, count, first_logits


# --------------------------------------------------------------------------- files

def to_gguf_name(name):
    if name == "model.embed_tokens.weight":
        return "token_embd.weight"
    if name == "model.norm.weight":
        return "output_norm.weight"
    n, rest = name[len("model.layers."):].split(".", 1)
    return f"blk.{n}." + {
        "input_layernorm.weight": "attn_norm.weight",
        "self_attn.q_proj.weight": "attn_q.weight",
        "self_attn.k_proj.weight": "attn_k.weight",
        "self_attn.v_proj.weight": "attn_v.weight",
        "self_attn.o_proj.weight": "attn_output.weight",
        "post_attention_layernorm.weight": "ffn_norm.weight",
        "mlp.gate_proj.weight": "ffn_gate.weight",
        "mlp.up_proj.weight": "ffn_up.weight",
        "mlp.down_proj.weight": "ffn_down.weight",
    }[rest]


def permute_for_gguf(w, n_head, n_head_kv=None):
    """llama.cpp's convert_hf_to_gguf.py LlamaModel.permute: Hugging Face's q/k rows are laid out
    for rotate_half (per head: all first halves of the rotary pairs, then all second halves);
    llama.cpp rotates adjacent pairs. Per head, rows [x0..x(d/2-1), y0..y(d/2-1)] become
    [x0, y0, x1, y1, ...]. For k, n_head is the number of kv heads."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    out, inp = w.shape
    return w.reshape(n_head, 2, out // n_head // 2, inp).transpose(1, 2).reshape(out, inp)


def write_safetensors(path, params):
    names = list(params)
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    blobs = []
    for name in names:
        a = np.ascontiguousarray(params[name].detach().numpy(), dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)   # the spec allows trailing spaces; the data starts 8-aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for blob in blobs:
            f.write(blob)


GGUF_U8, GGUF_I32, GGUF_U32, GGUF_F32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY = 0, 5, 4, 6, 7, 8, 9
GGUF_ALIGNMENT = 32


def gguf_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def gguf_value(type_, v):
    if type_ == GGUF_STRING:
        return gguf_string(v)
    if type_ == GGUF_U32:
        return struct.pack("<I", v)
    if type_ == GGUF_I32:
        return struct.pack("<i", v)
    if type_ == GGUF_F32:
        return struct.pack("<f", v)
    if type_ == GGUF_BOOL:
        return struct.pack("<B", 1 if v else 0)
    raise ValueError(type_)


def write_gguf(path, cfg, params, tok, name):
    """GGUF v3: header, metadata, tensor infos, padding to the alignment, tensor data (each
    tensor's offset aligned). Dims are written innermost first (a [out, in] weight is [in, out])."""
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    kvs = [
        ("general.architecture", GGUF_STRING, "llama"),
        ("general.name", GGUF_STRING, name),
        ("general.alignment", GGUF_U32, GGUF_ALIGNMENT),
        ("general.file_type", GGUF_U32, 0),   # all F32
        ("llama.vocab_size", GGUF_U32, len(tok.tokens)),
        ("llama.context_length", GGUF_U32, cfg["max_position_embeddings"]),
        ("llama.embedding_length", GGUF_U32, cfg["hidden_size"]),
        ("llama.block_count", GGUF_U32, cfg["num_hidden_layers"]),
        ("llama.feed_forward_length", GGUF_U32, cfg["intermediate_size"]),
        ("llama.attention.head_count", GGUF_U32, nh),
        ("llama.attention.head_count_kv", GGUF_U32, nkv),
        ("llama.rope.dimension_count", GGUF_U32, cfg["hidden_size"] // nh),
        ("llama.rope.freq_base", GGUF_F32, cfg["rope_theta"]),
        ("llama.attention.layer_norm_rms_epsilon", GGUF_F32, cfg["rms_norm_eps"]),
        ("tokenizer.ggml.model", GGUF_STRING, "gpt2"),
        ("tokenizer.ggml.pre", GGUF_STRING, "gpt-2"),
        ("tokenizer.ggml.tokens", (GGUF_ARRAY, GGUF_STRING), tok.tokens),
        ("tokenizer.ggml.token_type", (GGUF_ARRAY, GGUF_I32), [3 if t == EOT else 1 for t in tok.tokens]),
        ("tokenizer.ggml.merges", (GGUF_ARRAY, GGUF_STRING), [f"{a} {b}" for a, b in tok.merges]),
        ("tokenizer.ggml.bos_token_id", GGUF_U32, tok.eot),
        ("tokenizer.ggml.eos_token_id", GGUF_U32, tok.eot),
        ("tokenizer.ggml.add_bos_token", GGUF_BOOL, False),
    ]
    meta = b""
    for key, type_, v in kvs:
        meta += gguf_string(key)
        if isinstance(type_, tuple):
            meta += struct.pack("<IIQ", GGUF_ARRAY, type_[1], len(v)) + b"".join(gguf_value(type_[1], x) for x in v)
        else:
            meta += struct.pack("<I", type_) + gguf_value(type_, v)
    infos, blobs, offset = b"", [], 0
    for hf_name, t in params.items():
        a = t.detach()
        if hf_name.endswith("q_proj.weight"):
            a = permute_for_gguf(a, nh, nh)
        elif hf_name.endswith("k_proj.weight"):
            a = permute_for_gguf(a, nh, nkv)
        a = np.ascontiguousarray(a.numpy(), dtype="<f4")
        infos += gguf_string(to_gguf_name(hf_name)) + struct.pack("<I", a.ndim)
        infos += b"".join(struct.pack("<Q", d) for d in reversed(a.shape))
        infos += struct.pack("<IQ", 0, offset)   # type F32, offset in the data section
        blob = a.tobytes()
        blob += b"\0" * (-len(blob) % GGUF_ALIGNMENT)
        blobs.append(blob)
        offset += len(blob)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(params), len(kvs)) + meta + infos
    head += b"\0" * (-len(head) % GGUF_ALIGNMENT)
    with open(path, "wb") as f:
        f.write(head)
        for blob in blobs:
            f.write(blob)


def read_gguf_tensors(path):
    """A minimal reader of what write_gguf writes (used to check the file, not the writer's state)."""
    data = open(path, "rb").read()
    pos = 4
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", data, pos)
    pos += 20
    assert data[:4] == b"GGUF" and version == 3
    meta = {}

    def read_string():
        nonlocal pos
        (n,) = struct.unpack_from("<Q", data, pos)
        s = data[pos + 8:pos + 8 + n].decode("utf-8")
        pos += 8 + n
        return s

    def read_value(t):
        nonlocal pos
        if t == GGUF_STRING:
            return read_string()
        fmt = {GGUF_U8: "<B", GGUF_BOOL: "<B", GGUF_U32: "<I", GGUF_I32: "<i", GGUF_F32: "<f"}[t]
        (v,) = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v

    for _ in range(n_kv):
        key = read_string()
        (t,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if t == GGUF_ARRAY:
            et, n = struct.unpack_from("<IQ", data, pos)
            pos += 12
            meta[key] = [read_value(et) for _ in range(n)]
        else:
            meta[key] = read_value(t)
    infos = []
    for _ in range(n_tensors):
        name = read_string()
        (nd,) = struct.unpack_from("<I", data, pos)
        dims = struct.unpack_from("<" + "Q" * nd, data, pos + 4)
        t, off = struct.unpack_from("<IQ", data, pos + 4 + 8 * nd)
        pos += 4 + 8 * nd + 12
        assert t == 0
        infos.append((name, tuple(reversed(dims)), off))
    base = pos + (-pos % meta.get("general.alignment", 32))
    tensors = {}
    for name, shape, off in infos:
        n = int(np.prod(shape))
        tensors[name] = torch.from_numpy(np.frombuffer(data, "<f4", n, base + off).reshape(shape).copy())
    return meta, tensors


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--out", default=HERE)
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    torch.manual_seed(SEED)
    random.seed(SEED)
    started = time.time()

    verses = read_kjv()
    cut = next(i for i, (book, _) in enumerate(verses) if book == HELDOUT_FIRST_BOOK)
    train_text = "".join(v + "\n" for _, v in verses[:cut])
    heldout_text = "".join(v + "\n" for _, v in verses[cut:])
    with open(os.path.join(args.out, "heldout.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write(heldout_text)
    print(f"text: {len(train_text)} bytes for training, {len(heldout_text)} held out "
          f"({len(verses) - cut} verses from {HELDOUT_FIRST_BOOK})", flush=True)

    t0 = time.time()
    tok = Tokenizer(train_bpe(train_text, VOCAB - 257))
    assert len(tok.tokens) == VOCAB
    write_tokenizer(tok, args.out)
    train_ids = tok.encode(train_text)
    heldout_ids = tok.encode(heldout_text)
    assert tok.decode(heldout_ids) == heldout_text
    print(f"tokenizer: {VOCAB} tokens in {time.time() - t0:.0f} s; {len(train_ids)} training tokens "
          f"({len(train_text) / len(train_ids):.2f} bytes/token), {len(heldout_ids)} held-out tokens", flush=True)

    cfg = dict(CONFIG)
    assert cfg["hidden_size"] % QUANT_BLOCK == 0 and cfg["intermediate_size"] % QUANT_BLOCK == 0
    n_ctx = cfg["max_position_embeddings"]
    gen = torch.Generator().manual_seed(SEED)
    params = init_params(cfg, VOCAB, gen)
    n_params = sum(p.numel() for p in params.values())
    print(f"model: {n_params} parameters", flush=True)

    decay = [p for n, p in params.items() if p.ndim == 2]
    no_decay = [p for n, p in params.items() if p.ndim == 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": no_decay, "weight_decay": 0.0}], lr=LR, betas=(0.9, 0.95))
    data = torch.tensor(train_ids, dtype=torch.int64)
    curve = []
    t0 = time.time()
    window = []
    for step in range(1, args.steps + 1):
        lr = LR * step / WARMUP if step <= WARMUP else \
            LR * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - WARMUP) / max(1, args.steps - WARMUP))))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(data) - n_ctx - 1, (BATCH,), generator=gen)
        batch = torch.stack([data[s:s + n_ctx + 1] for s in starts.tolist()])
        logits = forward(params, cfg, batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
        opt.step()
        window.append(loss.item())
        if step % LOG_EVERY == 0 or step == args.steps or step == 1:
            mean = sum(window) / len(window)
            curve.append((step, round(mean, 4), round(time.time() - t0)))
            print(f"step {step:5d}  loss {mean:.4f}  lr {lr:.2e}  {time.time() - t0:.0f} s", flush=True)
            window = []
    train_seconds = time.time() - t0

    for p in params.values():
        p.requires_grad_(False)
    ppl, nll, windows, scored, first_logits = perplexity(lambda w: forward(params, cfg, w), heldout_ids, n_ctx)
    print(f"held-out perplexity {ppl:.4f} (mean nll {nll:.5f}) over {windows} windows of {n_ctx}, "
          f"{scored} tokens scored; uniform would be {VOCAB}", flush=True)

    # Files.
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": VOCAB,
        **cfg, "head_dim": cfg["hidden_size"] // cfg["num_attention_heads"], "hidden_act": "silu",
        "tie_word_embeddings": True, "attention_bias": False, "mlp_bias": False, "rope_scaling": None,
        "bos_token_id": tok.eot, "eos_token_id": tok.eot, "torch_dtype": "float32", "initializer_range": 0.02,
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    write_safetensors(os.path.join(args.out, "model.safetensors"), params)
    gguf_path = os.path.join(args.out, "tiny-llama-f32.gguf")
    write_gguf(gguf_path, cfg, params, tok, "Leger tiny Llama (KJV)")

    # Check the GGUF: its weights, run with llama.cpp's rotary layout, give the same perplexity.
    meta, g = read_gguf_tensors(gguf_path)
    assert meta["tokenizer.ggml.tokens"] == tok.tokens
    back = {hf: g[to_gguf_name(hf)] for hf in params}
    for hf in params:
        if not (hf.endswith("q_proj.weight") or hf.endswith("k_proj.weight")):
            assert torch.equal(back[hf], params[hf]), hf
    g_ppl, g_nll, _, _, g_logits = perplexity(lambda w: forward(back, cfg, w, interleaved_rope=True), heldout_ids, n_ctx)
    gguf_max_diff = (g_logits - first_logits).abs().max().item()
    print(f"GGUF weights with interleaved rotary: perplexity {g_ppl:.4f}, first window's logits differ by at most "
          f"{gguf_max_diff:.2e}", flush=True)
    assert abs(g_ppl - ppl) < 1e-3 * ppl and gguf_max_diff < 1e-3

    def top5(pos):
        v, i = first_logits[pos].topk(5)
        return {"position": pos, "token": heldout_ids[pos], "top5_ids": i.tolist(),
                "top5_logits": [round(x, 6) for x in v.tolist()]}

    reference = {
        "model": "model.safetensors / tiny-llama-f32.gguf (float32)",
        "text": "heldout.txt",
        "heldout_tokens": len(heldout_ids),
        "perplexity": {
            "method": "llama.cpp perplexity: consecutive windows of n_ctx tokens, no BOS added, only the "
                      "second half of each window scored (logits at positions n_ctx/2 .. n_ctx-2 predict the next token)",
            "n_ctx": n_ctx, "windows": windows, "tokens_scored": scored,
            "mean_nll": round(nll, 6), "ppl": round(ppl, 6), "ppl_gguf_layout": round(g_ppl, 6),
            "uniform_ppl": VOCAB,
        },
        "first_window_logits": [top5(0), top5(1), top5(n_ctx // 2), top5(n_ctx - 1)],
        "logits_row": {"position": n_ctx - 1, "values": [round(x, 6) for x in first_logits[n_ctx - 1].tolist()]},
        "first_64_token_ids": heldout_ids[:64],
        "first_64_tokens_text": tok.decode(heldout_ids[:64]),
    }
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)

    write_readme(args.out, config, n_params, curve, train_seconds, time.time() - started, reference,
                 len(train_text), len(heldout_text), len(train_ids), gguf_max_diff, args.steps)


def write_readme(out, config, n_params, curve, train_seconds, total_seconds, ref, train_bytes, heldout_bytes,
                 train_tokens, gguf_max_diff, steps):
    files = ["train_tiny_llama.py", "heldout.txt", "vocab.json", "merges.txt", "tokenizer.json",
             "tokenizer_config.json", "config.json", "model.safetensors", "tiny-llama-f32.gguf", "reference.json",
             "README.md"]
    p = ref["perplexity"]
    sizes = {f: os.path.getsize(os.path.join(out, f)) for f in files if f != "README.md" and os.path.exists(os.path.join(out, f))}
    lines = [
        "# A small Llama-architecture test model",
        "",
        "A decoder-only language model with Llama's architecture (RMSNorm, rotary embeddings, grouped-query",
        "attention, SwiGLU MLP, tied output projection), small enough to ship with Leger and to run in tests,",
        "trained on the King James Bible. It is not a good language model; it is a real one, with a real",
        "tokenizer, in the two formats Leger reads language models from (Hugging Face safetensors + config.json",
        "and GGUF), with reference figures to check a runtime against.",
        "",
        "Made by `train_tiny_llama.py` (dev-only; Debian's python3-torch 1.13, numpy, python3-regex):",
        "",
        "    apt-get install -y bible-kjv-text python3-regex",
        "    nice -n 10 /usr/bin/python3 resources/llm/train_tiny_llama.py",
        "",
        "It regenerates every file here (fixed seeds, 2 threads, a fixed number of steps); two runs gave",
        "byte-identical files, but for the timings in this README.",
        "",
        "## Text",
        "",
        "The King James Bible (public domain) from Debian's `bible-kjv-text`, which ships it compressed",
        "(`/usr/lib/bible.data`); `bible -f Gen1:1-Rev22:21` (package `bible-kjv`) prints it one verse a line.",
        f"The verse references are dropped. Genesis .. Philemon is the training text ({train_bytes} bytes);",
        f"Hebrews .. Revelation is held out as `heldout.txt` ({heldout_bytes} bytes, one verse a line).",
        "",
        "## Tokenizer",
        "",
        f"Byte-level BPE in GPT-2's form, trained on the training text: {config['vocab_size']} tokens = 256 bytes",
        f"(ids 0-255, in byte order, spelled with GPT-2's bytes-to-unicode table) + {config['vocab_size'] - 257} merges",
        f"(ids 256-{config['vocab_size'] - 2}, in merge order) + `<|endoftext|>` (id {config['vocab_size'] - 1}, BOS and EOS).",
        "Pre-tokenization is GPT-2's regex. Each merge joins the most frequent adjacent pair (ties: the smallest",
        "pair). Encoding is GPT-2's (in each piece, merge the pair of lowest rank until none is left);",
        "`Tokenizer.encode` in the script is the reference. No BOS is added when encoding.",
        f"The training text is {train_tokens} tokens ({train_bytes / train_tokens:.2f} bytes a token), the held-out",
        f"text {ref['heldout_tokens']}.",
        "Written as `vocab.json` + `merges.txt` (GPT-2), `tokenizer.json` (Hugging Face: BPE model, ByteLevel",
        "pre-tokenizer and decoder) and in the GGUF (`tokenizer.ggml.model` = gpt2, `tokenizer.ggml.pre` = gpt-2).",
        "",
        "## Model",
        "",
        "| | |",
        "|---|---|",
        f"| vocabulary | {config['vocab_size']} |",
        f"| hidden size | {config['hidden_size']} |",
        f"| layers | {config['num_hidden_layers']} |",
        f"| attention heads / key-value heads | {config['num_attention_heads']} / {config['num_key_value_heads']} (head size {config['head_dim']}) |",
        f"| MLP (SwiGLU) width | {config['intermediate_size']} |",
        f"| context | {config['max_position_embeddings']} |",
        f"| RMSNorm eps, rope theta | {config['rms_norm_eps']}, {config['rope_theta']} |",
        "| output projection | tied to the token embedding (`tie_word_embeddings`: true) |",
        f"| parameters | {n_params:,} |",
        "",
        f"The widths are chosen for GGUF's block formats: every weight matrix's rows are {config['hidden_size']} (embedding,",
        f"attention, gate and up projections) or {config['intermediate_size']} (down projection) values long, multiples",
        f"of {QUANT_BLOCK}, so they split into whole blocks of every format (32 values for Q8_0, Q4_0, Q4_1, Q5_0 and",
        f"Q5_1, {QUANT_BLOCK} for the K-quants Q2_K .. Q6_K). The head size, {config['head_dim']}, is a common one. The",
        f"float32 safetensors and GGUF are about {sizes['model.safetensors'] / 1e6:.1f} MB each.",
        "",
        "The script computes the forward pass the way Hugging Face's `LlamaForCausalLM` does (rotate_half",
        "rotary convention, `repeat_kv` for the shared key/value heads, softmax in float32), with its parameter",
        "names (`model.embed_tokens.weight`, `model.layers.N.self_attn.q_proj.weight`, ...).",
        "",
        f"Training: {steps} steps of {BATCH} random windows of {config['max_position_embeddings'] + 1} tokens, AdamW",
        f"(betas 0.9/0.95, weight decay {WEIGHT_DECAY} on matrices), learning rate {LR} with {WARMUP} warm-up steps and a",
        f"cosine decay to 10 %, gradients clipped at 1; {train_seconds / 60:.1f} minutes on 2 CPU threads",
        f"({total_seconds / 60:.1f} minutes in all). Training loss (mean since the previous line):",
        "",
        "| step | loss | seconds |",
        "|---|---|---|",
    ] + [f"| {s} | {l:.3f} | {t} |" for s, l, t in curve] + [
        "",
        "## Reference figures (`reference.json`)",
        "",
        f"Held-out perplexity, computed as llama.cpp's `perplexity` does (windows of n_ctx = {p['n_ctx']} tokens, no BOS",
        f"added, only the second half of each window scored): **{p['ppl']:.3f}** over {p['windows']} windows",
        f"({p['tokens_scored']} tokens scored); a uniform guess over the vocabulary would be {p['uniform_ppl']}.",
        "",
        "`reference.json` also holds, for the first window, the top-5 token ids and logits at positions",
        "0, 1, 128 and 255, the full logits row at position 255, and the ids of the first 64 tokens of",
        "`heldout.txt`, to check a runtime and a tokenizer number by number.",
        "",
        "## GGUF",
        "",
        "`tiny-llama-f32.gguf` is GGUF v3, all tensors F32, alignment 32, with llama.cpp's tensor names",
        "(`token_embd.weight`, `blk.N.attn_norm/attn_q/attn_k/attn_v/attn_output/ffn_norm/ffn_gate/ffn_up/",
        "ffn_down.weight`, `output_norm.weight`; no `output.weight`, the output is tied) and llama.cpp's `llama.*`",
        "and `tokenizer.ggml.*` metadata (`tokenizer.ggml.add_bos_token` = false).",
        "",
        "As llama.cpp's `convert_hf_to_gguf.py` does, the rows of every q and k projection are permuted: Hugging",
        "Face rotates the pairs (i, i + d/2) of each head (`rotate_half`), llama.cpp rotates adjacent pairs",
        "(2i, 2i + 1). Per head, the rows [x0 .. x(d/2-1), y0 .. y(d/2-1)] become [x0, y0, x1, y1, ...]:",
        "`w.reshape(n_head, 2, d/2, in).swapaxes(1, 2).reshape(out, in)`, with n_head the number of key/value",
        "heads for k. The script reads the GGUF back, runs it with adjacent-pair rotary embeddings and checks",
        f"that it gives the same held-out perplexity ({p['ppl_gguf_layout']:.3f}; first window's logits within {gguf_max_diff:.1e}).",
        "",
        "## Files",
        "",
        "| file | bytes |",
        "|---|---|",
    ]
    lines += [f"| `{f}` | {n:,} |" for f, n in sizes.items()] + ["| `README.md` | this file |", ""]
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
