#!/usr/bin/python3
"""Trains Leger's small GPT-2-architecture test model on the King James Bible.

Dev-only. Regenerates everything in resources/llm/gpt2/ but this script:

  vocab.json, merges.txt, tokenizer.json   copies of ../ (the tokenizer is not retrained)
  tokenizer_config.json    GPT2Tokenizer, model_max_length 128
  config.json              Hugging Face GPT2Config
  model.safetensors        float16 weights, the names GPT2LMHeadModel.save_pretrained writes
                           (Conv1D layout [in, out]; the tied lm_head is not stored)
  reference.json           held-out perplexity (llama.cpp's method) at n_ctx 128 and 64, logits,
                           token ids, training curve
  README.md                how it was made and its measured figures

It reuses ../train_tiny_llama.py (the text, the tokenizer, the perplexity) and the same text split:
Genesis .. Philemon for training, ../heldout.txt (Hebrews .. Revelation) held out. The tokenizer is
built from ../merges.txt and checked against ../vocab.json. Install first (read_kjv runs `bible`):

  apt-get install -y bible-kjv-text python3-regex
  nice -n 10 /usr/bin/python3 resources/llm/gpt2/train_tiny_gpt2.py

Uses Debian's python3-torch (1.13) and numpy; installs nothing (no transformers or safetensors:
the model below computes what Hugging Face's GPT2LMHeadModel computes, the safetensors file is
written by hand). Deterministic: fixed seeds, a fixed number of threads (2) and of steps.

After training every parameter is rounded to float16; all reference figures are computed, in
float32, from those rounded weights, i.e. from exactly what model.safetensors holds.
"""

import argparse
import json
import math
import os
import random
import shutil
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
LLM = os.path.dirname(HERE)
sys.dont_write_bytecode = True   # no __pycache__ beside ../train_tiny_llama.py
sys.path.insert(0, LLM)
import train_tiny_llama as llama  # noqa: E402

SEED = llama.SEED
THREADS = llama.THREADS
VOCAB = llama.VOCAB

CONFIG = dict(
    n_embd=256,
    n_layer=2,
    n_head=4,
    n_positions=128,
    n_ctx=128,
    n_inner=None,                 # 4 * n_embd
    activation_function="gelu_new",
    layer_norm_epsilon=1e-5,
)

STEPS = 1000
BATCH = 4
LR = 3e-3
WARMUP = 20
LOG_EVERY = 100
WEIGHT_DECAY = 0.1
INIT_STD = 0.02

TOKENIZER_FILES = ["vocab.json", "merges.txt", "tokenizer.json"]

# --------------------------------------------------------------------------- tokenizer


def load_tokenizer():
    """The tokenizer of ../merges.txt, checked against ../vocab.json."""
    merges = []
    with open(os.path.join(LLM, "merges.txt"), encoding="utf-8") as f:
        for line in f.read().split("\n"):
            if not line or line.startswith("#version"):
                continue
            a, b = line.split(" ")
            merges.append((a, b))
    tok = llama.Tokenizer(merges)
    with open(os.path.join(LLM, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    assert len(tok.tokens) == VOCAB == len(vocab)
    assert vocab == {t: i for i, t in enumerate(tok.tokens)}, "merges.txt does not give vocab.json"
    assert tok.eot == VOCAB - 1 == vocab[llama.EOT]
    return tok


# --------------------------------------------------------------------------- model


def param_shapes(cfg, vocab):
    """GPT2LMHeadModel's state-dict names and shapes (Conv1D weights are [in, out])."""
    e, inner = cfg["n_embd"], cfg["n_inner"] or 4 * cfg["n_embd"]
    s = {"transformer.wte.weight": (vocab, e), "transformer.wpe.weight": (cfg["n_positions"], e)}
    for n in range(cfg["n_layer"]):
        pre = f"transformer.h.{n}."
        s[pre + "ln_1.weight"] = (e,)
        s[pre + "ln_1.bias"] = (e,)
        s[pre + "attn.c_attn.weight"] = (e, 3 * e)
        s[pre + "attn.c_attn.bias"] = (3 * e,)
        s[pre + "attn.c_proj.weight"] = (e, e)
        s[pre + "attn.c_proj.bias"] = (e,)
        s[pre + "ln_2.weight"] = (e,)
        s[pre + "ln_2.bias"] = (e,)
        s[pre + "mlp.c_fc.weight"] = (e, inner)
        s[pre + "mlp.c_fc.bias"] = (inner,)
        s[pre + "mlp.c_proj.weight"] = (inner, e)
        s[pre + "mlp.c_proj.bias"] = (e,)
    s["transformer.ln_f.weight"] = (e,)
    s["transformer.ln_f.bias"] = (e,)
    return s


def init_params(cfg, vocab, gen):
    """GPT-2's initialisation: weights normal(0, 0.02), the c_proj weights (the projections into
    the residual stream) normal(0, 0.02 / sqrt(2 n_layer)); LayerNorm weights 1; biases 0."""
    p = {}
    for name, shape in param_shapes(cfg, vocab).items():
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith("ln_f.weight"):
            t = torch.ones(shape)
        elif name.endswith(".bias"):
            t = torch.zeros(shape)
        elif name.endswith("c_proj.weight"):
            t = torch.randn(*shape, generator=gen) * (INIT_STD / math.sqrt(2 * cfg["n_layer"]))
        else:
            t = torch.randn(*shape, generator=gen) * INIT_STD
        p[name] = torch.nn.Parameter(t)
    return p


def gelu_new(x):
    return F.gelu(x, approximate="tanh")


def forward(p, cfg, ids):
    """Logits [batch, seq, vocab] as GPT2LMHeadModel computes them (no dropout, tied lm_head)."""
    b, t = ids.shape
    e, nh, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    hd = e // nh
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    # F.embedding: indexing would accumulate the gradient in a nondeterministic order.
    x = F.embedding(ids, p["transformer.wte.weight"]) + p["transformer.wpe.weight"][:t]

    def heads(z):
        return z.view(b, t, nh, hd).transpose(1, 2)

    for n in range(cfg["n_layer"]):
        pre = f"transformer.h.{n}."
        a = F.layer_norm(x, (e,), p[pre + "ln_1.weight"], p[pre + "ln_1.bias"], eps)
        qkv = a @ p[pre + "attn.c_attn.weight"] + p[pre + "attn.c_attn.bias"]
        q, k, v = (heads(z) for z in qkv.split(e, dim=2))
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)          # scale_attn_weights
        s = torch.where(causal, s, torch.tensor(torch.finfo(s.dtype).min, dtype=s.dtype))
        o = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(b, t, e)
        x = x + o @ p[pre + "attn.c_proj.weight"] + p[pre + "attn.c_proj.bias"]
        m = F.layer_norm(x, (e,), p[pre + "ln_2.weight"], p[pre + "ln_2.bias"], eps)
        f = gelu_new(m @ p[pre + "mlp.c_fc.weight"] + p[pre + "mlp.c_fc.bias"])
        x = x + f @ p[pre + "mlp.c_proj.weight"] + p[pre + "mlp.c_proj.bias"]
    x = F.layer_norm(x, (e,), p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], eps)
    return x @ p["transformer.wte.weight"].T


def slow_forward(p, cfg, ids):
    """An independent formulation, to check forward(): float64, one position at a time with a
    key/value cache (as an incremental runtime does), hand-written LayerNorm, softmax and gelu_new,
    per-head loops. ids: a list. Returns logits [seq, vocab] (float64)."""
    e, nh, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    hd = e // nh
    d = {k: v.detach().double() for k, v in p.items()}

    def ln(v, w, b):
        mu = v.sum() / v.numel()
        var = ((v - mu) ** 2).sum() / v.numel()
        return (v - mu) / math.sqrt(var.item() + eps) * w + b

    def gelu(v):
        return 0.5 * v * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (v + 0.044715 * v * v * v)))

    keys = [[] for _ in range(cfg["n_layer"])]
    values = [[] for _ in range(cfg["n_layer"])]
    out = []
    for pos, tid in enumerate(ids):
        x = d["transformer.wte.weight"][tid] + d["transformer.wpe.weight"][pos]
        for n in range(cfg["n_layer"]):
            pre = f"transformer.h.{n}."
            a = ln(x, d[pre + "ln_1.weight"], d[pre + "ln_1.bias"])
            w, bias = d[pre + "attn.c_attn.weight"], d[pre + "attn.c_attn.bias"]
            qkv = torch.stack([(a * w[:, j]).sum() for j in range(3 * e)]) + bias
            q, k, v = qkv[:e], qkv[e:2 * e], qkv[2 * e:]
            keys[n].append(k)
            values[n].append(v)
            merged = []
            for h in range(nh):
                sl = slice(h * hd, (h + 1) * hd)
                scores = [(q[sl] * kk[sl]).sum().item() / math.sqrt(hd) for kk in keys[n]]
                top = max(scores)
                ex = [math.exp(s - top) for s in scores]
                tot = sum(ex)
                o = sum((c / tot) * vv[sl] for c, vv in zip(ex, values[n]))
                merged.append(o)
            merged = torch.cat(merged)
            x = x + d[pre + "attn.c_proj.weight"].T @ merged + d[pre + "attn.c_proj.bias"]
            m = ln(x, d[pre + "ln_2.weight"], d[pre + "ln_2.bias"])
            f = gelu(d[pre + "mlp.c_fc.weight"].T @ m + d[pre + "mlp.c_fc.bias"])
            x = x + d[pre + "mlp.c_proj.weight"].T @ f + d[pre + "mlp.c_proj.bias"]
        hfin = ln(x, d["transformer.ln_f.weight"], d["transformer.ln_f.bias"])
        out.append(d["transformer.wte.weight"] @ hfin)
    return torch.stack(out)


def check_forward(p, cfg, ids, what):
    with torch.no_grad():
        fast = forward(p, cfg, torch.tensor([ids]))[0].double()
    slow = slow_forward(p, cfg, ids)
    diff = (fast - slow).abs().max().item()
    print(f"forward check ({what}, {len(ids)} tokens): batched float32 vs per-position float64 "
          f"max |diff| {diff:.2e}", flush=True)
    assert diff < 1e-4, diff
    return diff


# --------------------------------------------------------------------------- files


def write_safetensors_f16(path, params):
    """safetensors: u64 header length, JSON header (padded with spaces so the data starts
    8-aligned), then the tensors' little-endian float16 data in order."""
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, t in params.items():
        a = np.ascontiguousarray(t.detach().numpy(), dtype="<f2")
        header[name] = {"dtype": "F16", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        assert info["dtype"] == "F16"
        lo, hi = info["data_offsets"]
        a = np.frombuffer(data, "<f2", (hi - lo) // 2, 8 + n + lo).reshape(info["shape"])
        out[name] = torch.from_numpy(a.astype(np.float32))
    return out


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
    os.makedirs(args.out, exist_ok=True)

    t0 = time.time()
    tok = load_tokenizer()
    verses = llama.read_kjv()
    cut = next(i for i, (book, _) in enumerate(verses) if book == llama.HELDOUT_FIRST_BOOK)
    train_text = "".join(v + "\n" for _, v in verses[:cut])
    heldout_text = "".join(v + "\n" for _, v in verses[cut:])
    with open(os.path.join(LLM, "heldout.txt"), encoding="utf-8", newline="") as f:
        assert f.read() == heldout_text, "../heldout.txt is not what read_kjv gives"
    train_ids = tok.encode(train_text)
    heldout_ids = tok.encode(heldout_text)
    assert tok.decode(heldout_ids) == heldout_text
    print(f"text and tokens: {len(train_ids)} training tokens, {len(heldout_ids)} held-out tokens "
          f"({time.time() - t0:.0f} s)", flush=True)

    cfg = dict(CONFIG)
    n_ctx = cfg["n_positions"]
    gen = torch.Generator().manual_seed(SEED)
    params = init_params(cfg, VOCAB, gen)
    n_params = sum(p.numel() for p in params.values())
    print(f"model: {n_params} parameters", flush=True)
    check_forward(params, cfg, heldout_ids[:24], "initial weights")

    decay = [p for p in params.values() if p.ndim == 2]
    no_decay = [p for p in params.values() if p.ndim == 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": no_decay, "weight_decay": 0.0}], lr=LR, betas=(0.9, 0.95))
    data = torch.tensor(train_ids, dtype=torch.int64)
    curve, window, first_losses = [], [], []
    t0 = time.time()
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
        if step <= 20:
            first_losses.append(loss.item())
        if step % LOG_EVERY == 0 or step == args.steps or step == 1:
            mean = sum(window) / len(window)
            curve.append((step, round(mean, 4), round(time.time() - t0)))
            print(f"step {step:5d}  loss {mean:.4f}  lr {lr:.2e}  {time.time() - t0:.0f} s", flush=True)
            window = []
    train_seconds = time.time() - t0
    print("first 20 losses: " + " ".join(f"{x:.6f}" for x in first_losses), flush=True)

    # Round to float16: from here on, every figure comes from the weights the file holds.
    params = {k: v.detach().half().float() for k, v in params.items()}
    forward_diff = check_forward(params, cfg, heldout_ids[:n_ctx], "trained float16-rounded weights")

    t0 = time.time()
    fwd = lambda w: forward(params, cfg, w)  # noqa: E731
    ppl, nll, windows, scored, first_logits = llama.perplexity(fwd, heldout_ids, n_ctx)
    ppl64, nll64, windows64, scored64, _ = llama.perplexity(fwd, heldout_ids, 64)
    print(f"held-out perplexity {ppl:.4f} (mean nll {nll:.5f}) over {windows} windows of {n_ctx}, "
          f"{scored} tokens scored; n_ctx 64: {ppl64:.4f} over {windows64} windows ({time.time() - t0:.0f} s)",
          flush=True)

    # Files.
    config = {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": VOCAB, **cfg,
        "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0,
        "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False,
        "initializer_range": INIT_STD, "bos_token_id": tok.eot, "eos_token_id": tok.eot,
        "tie_word_embeddings": True, "torch_dtype": "float16",
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    st_path = os.path.join(args.out, "model.safetensors")
    write_safetensors_f16(st_path, params)
    back = read_safetensors(st_path)
    assert list(back) == list(params) and all(torch.equal(back[k], params[k]) for k in params)
    for name in TOKENIZER_FILES:
        shutil.copyfile(os.path.join(LLM, name), os.path.join(args.out, name))
    with open(os.path.join(LLM, "tokenizer_config.json")) as f:
        tok_cfg = json.load(f)
    tok_cfg["model_max_length"] = n_ctx
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump(tok_cfg, f, indent=1)

    def top5(pos):
        v, i = first_logits[pos].topk(5)
        return {"position": pos, "token": heldout_ids[pos], "top5_ids": i.tolist(),
                "top5_logits": [round(x, 6) for x in v.tolist()]}

    method = ("llama.cpp perplexity: consecutive windows of n_ctx tokens, no BOS added, only the second half "
              "of each window scored (logits at positions n_ctx/2 .. n_ctx-2 predict the next token)")
    reference = {
        "model": "model.safetensors (float16); figures computed in float32 from the float16 weights",
        "text": "../heldout.txt",
        "heldout_tokens": len(heldout_ids),
        "perplexity": {"method": method, "n_ctx": n_ctx, "windows": windows, "tokens_scored": scored,
                       "mean_nll": round(nll, 6), "ppl": round(ppl, 6), "uniform_ppl": VOCAB},
        "perplexity_ctx64": {"method": method, "n_ctx": 64, "windows": windows64, "tokens_scored": scored64,
                             "mean_nll": round(nll64, 6), "ppl": round(ppl64, 6), "uniform_ppl": VOCAB},
        "first_window_logits": [top5(0), top5(1), top5(n_ctx // 2), top5(n_ctx - 1)],
        "logits_row": {"position": n_ctx - 1, "values": [round(x, 6) for x in first_logits[n_ctx - 1].tolist()]},
        "first_64_token_ids": heldout_ids[:64],
        "first_64_tokens_text": tok.decode(heldout_ids[:64]),
        "training_curve": [{"step": s, "loss": l} for s, l, _ in curve],
    }
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)

    total_seconds = time.time() - started
    write_readme(args.out, config, n_params, curve, train_seconds, total_seconds, reference,
                 len(train_text), len(heldout_text), len(train_ids), forward_diff, args.steps)
    print(f"done: training {train_seconds:.0f} s, in all {total_seconds:.0f} s", flush=True)


def write_readme(out, config, n_params, curve, train_seconds, total_seconds, ref, train_bytes, heldout_bytes,
                 train_tokens, forward_diff, steps):
    files = ["train_tiny_gpt2.py", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
             "config.json", "model.safetensors", "reference.json"]
    sizes = {f: os.path.getsize(os.path.join(out, f)) for f in files if os.path.exists(os.path.join(out, f))}
    p, p64 = ref["perplexity"], ref["perplexity_ctx64"]
    e = config["n_embd"]
    inner = config["n_inner"] or 4 * e
    lines = [
        "# A small GPT-2-architecture test model",
        "",
        "A decoder-only language model with GPT-2's architecture (learned position embeddings, LayerNorm with",
        "bias, fused q/k/v projection in Conv1D layout, biased projections, gelu_new MLP, tied output",
        "projection), trained on the King James Bible, stored as a Hugging Face `GPT2LMHeadModel` folder",
        "(config.json + float16 model.safetensors + tokenizer files), with reference figures to check a",
        "runtime against. It shares the text split and the tokenizer of the Llama test model in `..`",
        "(see `../README.md`).",
        "",
        "Made by `train_tiny_gpt2.py` (dev-only; Debian's python3-torch 1.13, numpy, python3-regex; it imports",
        "`../train_tiny_llama.py` for the text, the tokenizer and the perplexity):",
        "",
        "    apt-get install -y bible-kjv-text python3-regex",
        "    nice -n 10 /usr/bin/python3 resources/llm/gpt2/train_tiny_gpt2.py",
        "",
        "It regenerates every file here but itself (fixed seeds, 2 threads, a fixed number of steps); two runs",
        "gave byte-identical files, but for the timings in this README.",
        "",
        "## Text and tokenizer",
        "",
        f"Training text: Genesis .. Philemon ({train_bytes} bytes, {train_tokens} tokens); held out:",
        f"`../heldout.txt`, Hebrews .. Revelation ({heldout_bytes} bytes, {ref['heldout_tokens']} tokens), which the",
        "script checks against the text it reads. The tokenizer is not retrained: it is built from",
        "`../merges.txt` and checked against `../vocab.json`; `vocab.json`, `merges.txt` and `tokenizer.json`",
        f"here are copies. {config['vocab_size']} tokens, `<|endoftext|>` = {config['eos_token_id']} (BOS and EOS);",
        "no BOS is added when encoding. `tokenizer_config.json` is the Llama model's with",
        f"`model_max_length` {config['n_positions']}.",
        "",
        "## Model",
        "",
        "| | |",
        "|---|---|",
        f"| vocabulary | {config['vocab_size']} |",
        f"| n_embd | {e} |",
        f"| layers | {config['n_layer']} |",
        f"| heads | {config['n_head']} (head size {e // config['n_head']}) |",
        f"| MLP width | {inner} (`n_inner`: null, i.e. 4 n_embd), `gelu_new` |",
        f"| context (n_positions = n_ctx) | {config['n_positions']} |",
        f"| layer_norm_epsilon | {config['layer_norm_epsilon']} |",
        "| output projection | tied to `transformer.wte.weight` (`tie_word_embeddings`: true; no `lm_head.weight` stored) |",
        f"| parameters | {n_params:,} |",
        "",
        "The forward pass, as `GPT2LMHeadModel` computes it (dropout 0): x = wte[ids] + wpe[positions]; per block",
        "a = LayerNorm(x; ln_1), qkv = a @ c_attn.weight + c_attn.bias with c_attn.weight in Conv1D layout",
        f"[in, out] = [{e}, {3 * e}] (q the first {e} outputs, then k, then v), heads of {e // config['n_head']}, causal",
        f"softmax(q k^T / sqrt({e // config['n_head']})), x += merged @ attn.c_proj.weight + bias; m = LayerNorm(x; ln_2),",
        "x += gelu_new(m @ mlp.c_fc.weight + bias) @ mlp.c_proj.weight + bias; then ln_f and logits = h @ wte^T.",
        "gelu_new(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). The script checks its batched forward",
        "against an independent per-position formulation (float64, key/value cache, hand-written LayerNorm,",
        f"softmax and gelu) on the first held-out window: max |diff| of the logits {forward_diff:.1e}.",
        "",
        "Tensors (`model.safetensors`, all F16, names as `save_pretrained` writes them): `transformer.wte.weight`",
        f"[{config['vocab_size']}, {e}], `transformer.wpe.weight` [{config['n_positions']}, {e}], `transformer.h.N.ln_1.weight/bias`,",
        f"`transformer.h.N.attn.c_attn.weight` [{e}, {3 * e}] / `.bias`, `transformer.h.N.attn.c_proj.weight` [{e}, {e}] / `.bias`,",
        f"`transformer.h.N.ln_2.weight/bias`, `transformer.h.N.mlp.c_fc.weight` [{e}, {inner}] / `.bias`,",
        f"`transformer.h.N.mlp.c_proj.weight` [{inner}, {e}] / `.bias`, `transformer.ln_f.weight/bias`.",
        "",
        f"Initialisation as GPT-2's: normal(0, {INIT_STD}), the c_proj weights normal(0, {INIT_STD}/sqrt(2 n_layer)),",
        f"LayerNorm weights 1, biases 0. Training: {steps} steps of {BATCH} random windows of {config['n_positions'] + 1}",
        f"tokens, AdamW (betas 0.9/0.95, weight decay {WEIGHT_DECAY} on matrices), learning rate {LR} with {WARMUP} warm-up",
        f"steps and a cosine decay to 10 %, gradients clipped at 1; {train_seconds / 60:.1f} minutes on 2 CPU threads",
        f"({total_seconds / 60:.1f} minutes in all; the 2 cores were shared, an unloaded step takes about 0.2 s).",
        "Training loss (mean since the previous line; ln 2048 = 7.62):",
        "",
        "| step | loss | seconds |",
        "|---|---|---|",
    ] + [f"| {s} | {l:.3f} | {t} |" for s, l, t in curve] + [
        "",
        "**The weights are float16-rounded**: after training every parameter was rounded to float16, and all",
        "the figures below were computed (in float32) from the rounded weights, i.e. from exactly what",
        "`model.safetensors` holds.",
        "",
        "## Reference figures (`reference.json`)",
        "",
        f"Held-out perplexity, computed as llama.cpp's `perplexity` does (consecutive windows of n_ctx tokens of",
        "`../heldout.txt`, no BOS added, only the second half of each window scored):",
        "",
        "| n_ctx | windows | tokens scored | mean nll | perplexity |",
        "|---|---|---|---|---|",
        f"| {p['n_ctx']} | {p['windows']} | {p['tokens_scored']} | {p['mean_nll']:.6f} | **{p['ppl']:.4f}** |",
        f"| {p64['n_ctx']} | {p64['windows']} | {p64['tokens_scored']} | {p64['mean_nll']:.6f} | **{p64['ppl']:.4f}** |",
        "",
        f"(a uniform guess over the vocabulary would be {config['vocab_size']}). `reference.json` also holds, for the",
        f"first window of {p['n_ctx']} tokens, the top-5 token ids and logits at positions 0, 1, {p['n_ctx'] // 2} and",
        f"{p['n_ctx'] - 1}, the full logits row at position {p['n_ctx'] - 1}, the ids of the first 64 tokens of",
        "`../heldout.txt` and the training curve.",
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
