#include "llm/Decoder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <span>

#include <cblas.h>

#include "io/GgufFile.h"
#include "io/SafetensorsFile.h"
#include "util/Error.h"
#include "util/Memory.h"

namespace leger {

namespace {

/// Y[T, out] = X[T, in] · W[out, in]^T (+ bias): W a row-major [out, in] block (bias may be null).
void linearRows(const float* x, std::int64_t T, std::int64_t in, const float* w, std::int64_t out, const float* bias, float* y)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(T), static_cast<blasint>(out),
                static_cast<blasint>(in), 1.0f, x, static_cast<blasint>(in), w, static_cast<blasint>(in), 0.0f, y,
                static_cast<blasint>(out));
    if (bias)
        for (std::int64_t t = 0; t < T; ++t)
            for (std::int64_t j = 0; j < out; ++j)
                y[t * out + j] += bias[j];
}

void linear(const float* x, std::int64_t T, std::int64_t in, const Tensor& w, const Tensor& bias, float* y)
{
    linearRows(x, T, in, w.data<float>(), w.dim(0), bias.empty() ? nullptr : bias.data<float>(), y);
}

void rmsNorm(const float* x, std::int64_t T, std::int64_t D, const Tensor& w, double eps, float* y)
{
    const float* g = w.data<float>();
    for (std::int64_t t = 0; t < T; ++t) {
        const float* row = x + t * D;
        double sum = 0;
        for (std::int64_t i = 0; i < D; ++i)
            sum += static_cast<double>(row[i]) * row[i];
        // In float32 as torch computes it: x * rsqrt(mean(x^2) + eps), then the weight.
        const float scale = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(D)) + static_cast<float>(eps));
        for (std::int64_t i = 0; i < D; ++i)
            y[t * D + i] = g[i] * (row[i] * scale);
    }
}

/// Rotary embedding in Hugging Face's rotate-half layout: dimension i pairs with i + d/2.
void rope(float* x, std::int64_t T, std::int64_t heads, std::int64_t d, const std::vector<float>& invFreq, double posScale)
{
    const std::int64_t half = d / 2;
    for (std::int64_t t = 0; t < T; ++t)
        for (std::int64_t i = 0; i < half; ++i) {
            const float angle = static_cast<float>(static_cast<double>(t) / posScale) * invFreq[static_cast<std::size_t>(i)];
            const float c = std::cos(angle), s = std::sin(angle);
            for (std::int64_t h = 0; h < heads; ++h) {
                float* v = x + (t * heads + h) * d;
                const float a = v[i], b = v[i + half];
                v[i] = a * c - b * s;
                v[i + half] = b * c + a * s;
            }
        }
}

void checkShape(const Tensor& t, const Shape& want, const std::string& source, const std::string& name)
{
    if (t.shape() != want)
        throw Error(source + ": " + name + " has shape " + shapeToString(t.shape()) + ", the configuration needs " +
                    shapeToString(want));
}

void layerNorm(const float* x, std::int64_t T, std::int64_t D, const Tensor& w, const Tensor& bias, double eps, float* y)
{
    const float* g = w.data<float>();
    const float* b = bias.data<float>();
    for (std::int64_t t = 0; t < T; ++t) {
        const float* row = x + t * D;
        double mean = 0, var = 0;
        for (std::int64_t i = 0; i < D; ++i)
            mean += row[i];
        mean /= static_cast<double>(D);
        for (std::int64_t i = 0; i < D; ++i)
            var += (row[i] - mean) * (row[i] - mean);
        // torch.nn.LayerNorm: (x - mean) / sqrt(var + eps) with the biased variance, then w and b.
        const float m = static_cast<float>(mean);
        const float rstd = 1.0f / std::sqrt(static_cast<float>(var / static_cast<double>(D)) + static_cast<float>(eps));
        for (std::int64_t i = 0; i < D; ++i)
            y[t * D + i] = (row[i] - m) * rstd * g[i] + b[i];
    }
}

/// GPT-2's "gelu_new": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
inline float geluTanh(float x)
{
    constexpr float kSqrt2OverPi = 0.7978845608028654f;
    return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}

void addInPlace(std::vector<float>& x, const std::vector<float>& y, std::size_t n)
{
    for (std::size_t i = 0; i < n; ++i)
        x[i] += y[i];
}

using Block = DecoderWeights::Block;

/// One weight of a model: where the decoder keeps it and its names in each format.
struct WeightSlot {
    std::string hf, gguf;
    Tensor* tensor;
    bool required;  // a file without it is refused (the output projection is checked by the constructor)
    bool conv1d;    // GPT-2's Conv1D: stored [in, out] by Hugging Face, [out, in] by GGUF
    bool matrix;    // a compressible layer
    std::int64_t ropeHeads;
};

/// A block's weights, Hugging Face names after "model.layers.N." (llama, qwen2) or "h.N." (gpt2),
/// GGUF names after "blk.N.".
struct BlockField {
    Tensor Block::*member;
    const char* hf;
    const char* gguf;
    bool required, conv1d, matrix;
};
constexpr BlockField kLlamaFields[] = {
    {&Block::attnNorm, "input_layernorm.weight", "attn_norm.weight", true, false, false},
    {&Block::q, "self_attn.q_proj.weight", "attn_q.weight", true, false, true},
    {&Block::k, "self_attn.k_proj.weight", "attn_k.weight", true, false, true},
    {&Block::v, "self_attn.v_proj.weight", "attn_v.weight", true, false, true},
    {&Block::o, "self_attn.o_proj.weight", "attn_output.weight", true, false, true},
    {&Block::qBias, "self_attn.q_proj.bias", "attn_q.bias", false, false, false},
    {&Block::kBias, "self_attn.k_proj.bias", "attn_k.bias", false, false, false},
    {&Block::vBias, "self_attn.v_proj.bias", "attn_v.bias", false, false, false},
    {&Block::mlpNorm, "post_attention_layernorm.weight", "ffn_norm.weight", true, false, false},
    {&Block::gate, "mlp.gate_proj.weight", "ffn_gate.weight", true, false, true},
    {&Block::up, "mlp.up_proj.weight", "ffn_up.weight", true, false, true},
    {&Block::down, "mlp.down_proj.weight", "ffn_down.weight", true, false, true},
};
constexpr BlockField kGpt2Fields[] = {
    {&Block::attnNorm, "ln_1.weight", "attn_norm.weight", true, false, false},
    {&Block::attnNormBias, "ln_1.bias", "attn_norm.bias", true, false, false},
    {&Block::qkv, "attn.c_attn.weight", "attn_qkv.weight", true, true, true},
    {&Block::qkvBias, "attn.c_attn.bias", "attn_qkv.bias", true, false, false},
    {&Block::o, "attn.c_proj.weight", "attn_output.weight", true, true, true},
    {&Block::oBias, "attn.c_proj.bias", "attn_output.bias", true, false, false},
    {&Block::mlpNorm, "ln_2.weight", "ffn_norm.weight", true, false, false},
    {&Block::mlpNormBias, "ln_2.bias", "ffn_norm.bias", true, false, false},
    {&Block::up, "mlp.c_fc.weight", "ffn_up.weight", true, true, true},
    {&Block::upBias, "mlp.c_fc.bias", "ffn_up.bias", true, false, false},
    {&Block::down, "mlp.c_proj.weight", "ffn_down.weight", true, true, true},
    {&Block::downBias, "mlp.c_proj.bias", "ffn_down.bias", true, false, false},
};

/// Every weight slot of a model of this configuration, in llama.cpp's order (w.blocks must have
/// config.layers blocks). The one table that loading, lookup by name and export read.
std::vector<WeightSlot> weightSlots(const LlmConfig& c, DecoderWeights& w, const std::string& hfPrefix)
{
    std::vector<WeightSlot> s;
    const bool gpt2 = c.architecture == "gpt2";
    const std::string& p = hfPrefix;
    // Not in a Hugging Face file (made from config.json); llama.cpp's converter writes it first.
    if (!gpt2)
        s.push_back({"", "rope_freqs.weight", &w.ropeFreqs, false, false, false, 0});
    s.push_back({gpt2 ? p + "wte.weight" : "model.embed_tokens.weight", "token_embd.weight", &w.embed, true, false, true, 0});
    if (gpt2)
        s.push_back({p + "wpe.weight", "position_embd.weight", &w.positions, true, false, false, 0});
    for (std::size_t l = 0; l < w.blocks.size(); ++l) {
        Block& b = w.blocks[l];
        const std::string hf = (gpt2 ? p + "h." : std::string("model.layers.")) + std::to_string(l) + ".",
                          gguf = "blk." + std::to_string(l) + ".";
        const std::span<const BlockField> fields = gpt2 ? std::span<const BlockField>(kGpt2Fields)
                                                        : std::span<const BlockField>(kLlamaFields);
        for (const BlockField& f : fields) {
            const std::int64_t rope = f.member == &Block::q ? c.heads : f.member == &Block::k ? c.kvHeads : 0;
            s.push_back({hf + f.hf, gguf + f.gguf, &(b.*f.member), f.required, f.conv1d, f.matrix, rope});
        }
    }
    s.push_back({gpt2 ? p + "ln_f.weight" : "model.norm.weight", "output_norm.weight", &w.finalNorm, true, false, false, 0});
    if (gpt2)
        s.push_back({p + "ln_f.bias", "output_norm.bias", &w.finalNormBias, true, false, false, 0});
    s.push_back({"lm_head.weight", "output.weight", &w.output, false, false, true, 0});
    return s;
}

} // namespace

Decoder::Decoder(LlmConfig config, DecoderWeights weights, const std::string& source)
    : config_(std::move(config)), weights_(std::move(weights))
{
    config_.validate(source);
    const bool gpt2 = config_.architecture == "gpt2";
    if (config_.architecture != "llama" && config_.architecture != "qwen2" && !gpt2)
        throw UnsupportedError(source + ": the " + config_.architecture + " architecture is not implemented");
    // Dynamic NTK scaling changes the rotary base only beyond max_position_embeddings, which no
    // window reaches (forward() refuses longer ones): within it, it is no scaling at all.
    const std::string scaling = config_.ropeScaling ? config_.ropeScaling->type : "";
    if (!scaling.empty() && scaling != "linear" && scaling != "llama3" && scaling != "dynamic")
        throw UnsupportedError(source + ": rope scaling '" + scaling + "' is not implemented yet");
    const std::int64_t D = config_.hidden, V = config_.vocabSize, H = config_.heads, KV = config_.kvHeads,
                       hd = config_.headDim, F = config_.intermediate;
    checkShape(weights_.embed, {V, D}, source, "the token embedding");
    if (gpt2)
        checkShape(weights_.positions, {config_.context, D}, source, "the position embedding");
    if (static_cast<std::int64_t>(weights_.blocks.size()) != config_.layers)
        throw Error(source + ": " + std::to_string(weights_.blocks.size()) + " blocks, the configuration has " +
                    std::to_string(config_.layers));
    for (std::size_t l = 0; l < weights_.blocks.size(); ++l) {
        const auto& b = weights_.blocks[l];
        const std::string n = "layer " + std::to_string(l) + " ";
        checkShape(b.attnNorm, {D}, source, n + "input norm");
        checkShape(b.mlpNorm, {D}, source, n + "post-attention norm");
        checkShape(b.up, {F, D}, source, n + (gpt2 ? "c_fc" : "up_proj"));
        checkShape(b.down, {D, F}, source, n + (gpt2 ? "mlp c_proj" : "down_proj"));
        if (gpt2) {
            checkShape(b.attnNormBias, {D}, source, n + "ln_1 bias");
            checkShape(b.qkv, {3 * D, D}, source, n + "c_attn");
            checkShape(b.qkvBias, {3 * D}, source, n + "c_attn bias");
            checkShape(b.o, {D, D}, source, n + "attention c_proj");
            checkShape(b.oBias, {D}, source, n + "attention c_proj bias");
            checkShape(b.mlpNormBias, {D}, source, n + "ln_2 bias");
            checkShape(b.upBias, {F}, source, n + "c_fc bias");
            checkShape(b.downBias, {D}, source, n + "mlp c_proj bias");
            continue;
        }
        checkShape(b.q, {H * hd, D}, source, n + "q_proj");
        checkShape(b.k, {KV * hd, D}, source, n + "k_proj");
        checkShape(b.v, {KV * hd, D}, source, n + "v_proj");
        checkShape(b.o, {D, H * hd}, source, n + "o_proj");
        if (!b.qBias.empty() || !b.kBias.empty() || !b.vBias.empty()) {
            checkShape(b.qBias, {H * hd}, source, n + "q_proj bias");
            checkShape(b.kBias, {KV * hd}, source, n + "k_proj bias");
            checkShape(b.vBias, {KV * hd}, source, n + "v_proj bias");
        }
        checkShape(b.gate, {F, D}, source, n + "gate_proj");
    }
    checkShape(weights_.finalNorm, {D}, source, "the final norm");
    if (gpt2)
        checkShape(weights_.finalNormBias, {D}, source, "the final norm's bias");
    if (weights_.output.empty() && !config_.tieEmbeddings)
        throw Error(source + ": no output projection (lm_head) and the embeddings are not tied");
    if (!weights_.output.empty())
        checkShape(weights_.output, {V, D}, source, "the output projection");
    if (gpt2) {
        if (!weights_.ropeFreqs.empty())
            throw Error(source + ": rotary frequency factors (rope_freqs) for a model without rotary embeddings");
        return;
    }
    if (scaling == "llama3" && weights_.ropeFreqs.empty())
        weights_.ropeFreqs = llama3RopeFactors(config_);
    if (!weights_.ropeFreqs.empty()) {
        checkShape(weights_.ropeFreqs, {hd / 2}, source, "the rotary frequency factor tensor rope_freqs");
        for (float f : weights_.ropeFreqs.span<float>())
            if (!(f > 0.0f) || !std::isfinite(f))
                throw Error(source + ": the rotary frequency factors (rope_freqs) hold " + std::to_string(f) +
                            ", expected positive numbers");
    }
    invFreq_.resize(static_cast<std::size_t>(hd / 2));
    for (std::int64_t i = 0; i < hd / 2; ++i) {
        double f = 1.0 / std::pow(config_.ropeTheta, static_cast<double>(2 * i) / static_cast<double>(hd));
        if (!weights_.ropeFreqs.empty()) // one float32 factor, as stored in GGUF: both sources compute alike
            f /= static_cast<double>(weights_.ropeFreqs.data<float>()[i]);
        invFreq_[static_cast<std::size_t>(i)] = static_cast<float>(f);
    }
}

Tensor llama3RopeFactors(const LlmConfig& c)
{
    if (!c.ropeScaling || c.ropeScaling->type != "llama3")
        throw Error("llama3RopeFactors: the configuration has no Llama 3 rope scaling");
    const RopeScaling& r = *c.ropeScaling;
    const std::int64_t hd = c.headDim;
    const double pi = 3.14159265358979323846, old = static_cast<double>(r.originalContext),
                 lowWavelen = old / r.lowFreqFactor, highWavelen = old / r.highFreqFactor;
    Tensor t(DType::Float32, {hd / 2});
    for (std::int64_t i = 0; i < hd / 2; ++i) {
        const double invFreq = 1.0 / std::pow(c.ropeTheta, static_cast<double>(2 * i) / static_cast<double>(hd)),
                     wavelen = 2 * pi / invFreq;
        double factor = 1.0;
        if (wavelen > lowWavelen) {
            factor = r.factor;
        } else if (wavelen >= highWavelen) {
            const double smooth = (old / wavelen - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor);
            factor = 1.0 / ((1 - smooth) / r.factor + smooth);
        }
        t.data<float>()[i] = static_cast<float>(factor);
    }
    return t;
}

namespace {

/// The model's memory as float32 is checked before any weight is read.
void requireFloat32Memory(const LlmConfig& config, const std::string& source)
{
    requireMemory(static_cast<std::uint64_t>(config.parameterCount()) * 4, source + ": the model as float32");
}

/// Undoes llama.cpp's convert permutation of a q or k projection [heads * d, in]: within each
/// head, GGUF row 2j + r holds Hugging Face row r * d/2 + j (r = 0, 1; j < d/2).
Tensor unpermuteRows(const Tensor& w, std::int64_t heads)
{
    const std::int64_t rows = w.dim(0), cols = w.dim(1), d = rows / heads, half = d / 2;
    Tensor out(DType::Float32, w.shape());
    const float* src = w.data<float>();
    float* dst = out.data<float>();
    for (std::int64_t h = 0; h < heads; ++h)
        for (std::int64_t j = 0; j < half; ++j)
            for (std::int64_t r = 0; r < 2; ++r)
                std::copy_n(src + (h * d + 2 * j + r) * cols, cols, dst + (h * d + r * half + j) * cols);
    return out;
}

/// A Conv1D weight [in, out] as [out, in].
Tensor transposed(const Tensor& w)
{
    const std::int64_t rows = w.dim(0), cols = w.dim(1);
    Tensor out(DType::Float32, {cols, rows});
    const float* src = w.data<float>();
    float* dst = out.data<float>();
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c)
            dst[c * rows + r] = src[r * cols + c];
    return out;
}

} // namespace

Decoder Decoder::fromHuggingFace(const std::string& path)
{
    namespace fs = std::filesystem;
    const fs::path dir = fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
    const LlmConfig config = LlmConfig::fromHuggingFace((dir / "config.json").string());
    requireFloat32Memory(config, dir.string());
    const fs::path single = dir / "model.safetensors", index = dir / "model.safetensors.index.json";
    const std::string file = fs::exists(single) ? single.string() : index.string();
    const SafetensorsFile st = SafetensorsFile::open(file);
    // GPT-2's own checkpoint names its weights "wte.weight", "h.0. ..."; GPT2LMHeadModel writes
    // "transformer.wte.weight".
    const std::string prefix = config.architecture == "gpt2" && st.tensor("transformer.wte.weight") ? "transformer." : "";
    DecoderWeights w;
    w.blocks.resize(static_cast<std::size_t>(config.layers));
    for (const WeightSlot& s : weightSlots(config, w, prefix)) {
        if (s.hf.empty() || (s.tensor == &w.output && config.tieEmbeddings))
            continue; // a tied lm_head may be in the file as a copy; the embedding is used
        const SafetensorsTensor* t = st.tensor(s.hf);
        if (!t) {
            if (s.required)
                throw Error(file + ": no tensor '" + s.hf + "'");
            continue;
        }
        *s.tensor = SafetensorsFile::toFloat(*t);
        if (s.conv1d) {
            if (s.tensor->rank() != 2)
                throw Error(file + ": tensor '" + s.hf + "' has " + std::to_string(s.tensor->rank()) + " dimensions, expected 2");
            *s.tensor = transposed(*s.tensor);
        }
    }
    Decoder d(config, std::move(w), file);
    d.hfPrefix_ = prefix;
    return d;
}

Decoder Decoder::fromGguf(const std::string& path)
{
    const GgufFile g = GgufFile::open(path);
    LlmConfig config = LlmConfig::fromGguf(g, path);
    requireFloat32Memory(config, path);
    DecoderWeights w;
    w.blocks.resize(static_cast<std::size_t>(config.layers));
    const std::vector<WeightSlot> slots = weightSlots(config, w, "");
    // A tensor the decoder would not run is refused rather than left out (llama.cpp refuses such a
    // file too): leaving out, say, Llama 3's rope_freqs would measure another model.
    for (const GgufTensorInfo& t : g.tensors())
        if (std::none_of(slots.begin(), slots.end(), [&](const WeightSlot& s) { return s.gguf == t.name; }))
            throw UnsupportedError(path + ": tensor '" + t.name + "' is not a weight of a " + config.architecture +
                                   " model as Leger runs it");
    for (const WeightSlot& s : slots) {
        const GgufTensorInfo* t = g.tensor(s.gguf);
        if (!t) {
            if (s.required)
                throw Error(path + ": no tensor '" + s.gguf + "'");
            continue;
        }
        *s.tensor = g.toFloat(*t);
        if (s.tensor->rank() != 1 && s.tensor->rank() != 2)
            throw Error(path + ": tensor '" + s.gguf + "' has " + std::to_string(s.tensor->rank()) + " dimensions");
        if (config.architecture == "llama" && s.ropeHeads > 0) {
            if (s.tensor->rank() != 2 || s.tensor->dim(0) != s.ropeHeads * config.headDim)
                throw Error(path + ": " + s.gguf + " does not have the shape the metadata gives");
            *s.tensor = unpermuteRows(*s.tensor, s.ropeHeads);
        }
    }
    if (w.output.empty())
        config.tieEmbeddings = true; // llama.cpp uses the embedding when a file has no output tensor
    else
        config.tieEmbeddings = false; // (GPT-2's converter writes a copy of the embedding)
    return Decoder(config, std::move(w), path);
}

Tensor* Decoder::weight(const std::string& name)
{
    if (name.empty())
        return nullptr;
    for (const WeightSlot& s : weightSlots(config_, weights_, hfPrefix_))
        if (s.hf == name)
            return s.tensor->empty() ? nullptr : s.tensor;
    return nullptr;
}

std::vector<Decoder::NamedWeight> Decoder::namedWeights()
{
    std::vector<NamedWeight> out;
    for (const WeightSlot& s : weightSlots(config_, weights_, hfPrefix_))
        if (!s.tensor->empty())
            out.push_back({s.hf, s.gguf, s.tensor, s.matrix, s.ropeHeads});
    return out;
}

void Decoder::ensureBuffers(std::int64_t T)
{
    if (T <= capacity_)
        return;
    const auto n = [](std::int64_t a, std::int64_t b) { return static_cast<std::size_t>(a * b); };
    const std::int64_t D = config_.hidden, hd = config_.headDim;
    x_.resize(n(T, D));
    h_.resize(n(T, D));
    q_.resize(n(T, config_.heads * hd));
    k_.resize(n(T, config_.kvHeads * hd));
    v_.resize(n(T, config_.kvHeads * hd));
    att_.resize(n(T, config_.heads * hd));
    scores_.resize(n(T, T));
    if (config_.architecture != "gpt2")
        gate_.resize(n(T, config_.intermediate));
    up_.resize(n(T, config_.intermediate));
    capacity_ = T;
}

void Decoder::attention(std::int64_t T)
{
    const std::int64_t H = config_.heads, KV = config_.kvHeads, hd = config_.headDim, group = H / KV;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    for (std::int64_t h = 0; h < H; ++h) {
        const std::int64_t kvh = h / group;
        // scores[T, T] = Q_h · K_kvh^T, scaled; causal mask; softmax per row.
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(T), static_cast<blasint>(T),
                    static_cast<blasint>(hd), scale, q_.data() + h * hd, static_cast<blasint>(H * hd), k_.data() + kvh * hd,
                    static_cast<blasint>(KV * hd), 0.0f, scores_.data(), static_cast<blasint>(T));
        for (std::int64_t i = 0; i < T; ++i) {
            float* row = scores_.data() + i * T;
            float mx = -std::numeric_limits<float>::infinity();
            for (std::int64_t j = 0; j <= i; ++j)
                mx = std::max(mx, row[j]);
            float sum = 0;
            for (std::int64_t j = 0; j <= i; ++j) {
                row[j] = std::exp(row[j] - mx);
                sum += row[j];
            }
            const float inv = 1.0f / sum;
            for (std::int64_t j = 0; j <= i; ++j)
                row[j] *= inv;
            std::fill(row + i + 1, row + T, 0.0f);
        }
        // att_h[T, hd] = P · V_kvh.
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(T), static_cast<blasint>(hd),
                    static_cast<blasint>(T), 1.0f, scores_.data(), static_cast<blasint>(T), v_.data() + kvh * hd,
                    static_cast<blasint>(KV * hd), 0.0f, att_.data() + h * hd, static_cast<blasint>(H * hd));
    }
}

void Decoder::llamaBlock(const DecoderWeights::Block& b, std::int64_t T)
{
    const std::int64_t D = config_.hidden, H = config_.heads, KV = config_.kvHeads, hd = config_.headDim,
                       F = config_.intermediate;
    const double posScale = config_.ropeScaling && config_.ropeScaling->type == "linear" ? config_.ropeScaling->factor : 1.0;
    rmsNorm(x_.data(), T, D, w(b.attnNorm), config_.normEps, h_.data());
    linear(h_.data(), T, D, w(b.q), w(b.qBias), q_.data());
    linear(h_.data(), T, D, w(b.k), w(b.kBias), k_.data());
    linear(h_.data(), T, D, w(b.v), w(b.vBias), v_.data());
    rope(q_.data(), T, H, hd, invFreq_, posScale);
    rope(k_.data(), T, KV, hd, invFreq_, posScale);
    attention(T);
    linear(att_.data(), T, H * hd, w(b.o), {}, h_.data());
    addInPlace(x_, h_, static_cast<std::size_t>(T * D));
    // SwiGLU feed-forward.
    rmsNorm(x_.data(), T, D, w(b.mlpNorm), config_.normEps, h_.data());
    linear(h_.data(), T, D, w(b.gate), {}, gate_.data());
    linear(h_.data(), T, D, w(b.up), {}, up_.data());
    for (std::size_t i = 0; i < static_cast<std::size_t>(T * F); ++i) {
        const float g = gate_[i];
        gate_[i] = g / (1.0f + std::exp(-g)) * up_[i];
    }
    linear(gate_.data(), T, F, w(b.down), {}, h_.data());
    addInPlace(x_, h_, static_cast<std::size_t>(T * D));
}

void Decoder::gpt2Block(const DecoderWeights::Block& b, std::int64_t T)
{
    const std::int64_t D = config_.hidden, F = config_.intermediate;
    layerNorm(x_.data(), T, D, w(b.attnNorm), w(b.attnNormBias), config_.normEps, h_.data());
    // q, k and v: the three row blocks of c_attn, each one product straight into its buffer.
    const float* qkv = w(b.qkv).data<float>();
    const float* bias = w(b.qkvBias).data<float>();
    float* outs[3] = {q_.data(), k_.data(), v_.data()};
    for (int part = 0; part < 3; ++part)
        linearRows(h_.data(), T, D, qkv + part * D * D, D, bias + part * D, outs[part]);
    attention(T);
    linear(att_.data(), T, D, w(b.o), w(b.oBias), h_.data());
    addInPlace(x_, h_, static_cast<std::size_t>(T * D));
    layerNorm(x_.data(), T, D, w(b.mlpNorm), w(b.mlpNormBias), config_.normEps, h_.data());
    linear(h_.data(), T, D, w(b.up), w(b.upBias), up_.data());
    for (std::size_t i = 0; i < static_cast<std::size_t>(T * F); ++i)
        up_[i] = geluTanh(up_[i]);
    linear(up_.data(), T, F, w(b.down), w(b.downBias), h_.data());
    addInPlace(x_, h_, static_cast<std::size_t>(T * D));
}

const Tensor& Decoder::w(const Tensor& t) const
{
    if (substitutes_)
        for (const auto& [from, to] : *substitutes_)
            if (from == &t)
                return *to;
    return t;
}

void Decoder::forward(std::span<const std::int32_t> tokens, std::vector<float>& logits, const CancelToken* cancel,
                      const Substitutes* substitutes)
{
    // The substitutes for this pass only, also when it throws.
    struct Scope {
        const Substitutes*& slot;
        ~Scope() { slot = nullptr; }
    } scope{substitutes_};
    if (substitutes)
        for (const auto& [from, to] : *substitutes)
            if (!from || !to || from->shape() != to->shape() || to->dtype() != DType::Float32)
                throw Error("forward: a substitute weight does not have its weight's shape");
    substitutes_ = substitutes;
    const std::int64_t T = static_cast<std::int64_t>(tokens.size());
    if (T == 0)
        throw Error("forward: an empty window");
    if (T > config_.longestWindow())
        throw Error("forward: a window of " + std::to_string(T) + " tokens is longer than the " +
                    std::to_string(config_.longestWindow()) + " tokens the model attends over");
    ensureBuffers(T);
    const std::int64_t D = config_.hidden, V = config_.vocabSize;
    const bool gpt2 = config_.architecture == "gpt2";
    // Embedding (GPT-2: plus the position's).
    const Tensor& embed = w(weights_.embed);
    const float* E = embed.data<float>();
    for (std::int64_t t = 0; t < T; ++t) {
        const std::int32_t id = tokens[static_cast<std::size_t>(t)];
        if (id < 0 || id >= V)
            throw Error("forward: token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(V));
        float* x = x_.data() + t * D;
        std::copy(E + id * D, E + (id + 1) * D, x);
        if (gpt2) {
            const float* p = weights_.positions.data<float>() + t * D;
            for (std::int64_t i = 0; i < D; ++i)
                x[i] += p[i];
        }
    }
    for (const auto& b : weights_.blocks) {
        if (cancel && cancel->isCancelled())
            throw CancelledError();
        if (gpt2)
            gpt2Block(b, T);
        else
            llamaBlock(b, T);
    }
    if (gpt2)
        layerNorm(x_.data(), T, D, w(weights_.finalNorm), w(weights_.finalNormBias), config_.normEps, h_.data());
    else
        rmsNorm(x_.data(), T, D, w(weights_.finalNorm), config_.normEps, h_.data());
    logits.resize(static_cast<std::size_t>(T * V));
    linear(h_.data(), T, D, weights_.output.empty() ? embed : w(weights_.output), {}, logits.data());
}

PerplexityResult perplexity(Decoder& model, std::span<const std::int32_t> tokens, std::int64_t nCtx,
                            std::optional<std::int32_t> bos, const CancelToken* cancel)
{
    if (nCtx < 2 || nCtx > model.config().longestWindow())
        throw Error("perplexity: a window of " + std::to_string(nCtx) + " tokens (2.." +
                    std::to_string(model.config().longestWindow()) + ")");
    const std::int64_t n = static_cast<std::int64_t>(tokens.size());
    if (n < nCtx)
        throw Error("perplexity: " + std::to_string(n) + " tokens are fewer than one window of " + std::to_string(nCtx));
    const std::int64_t V = model.config().vocabSize;
    std::vector<float> logits;
    std::vector<std::int32_t> window(static_cast<std::size_t>(nCtx));
    PerplexityResult r;
    double sum = 0, sumSq = 0;
    const std::int64_t first = nCtx / 2;
    for (std::int64_t start = 0; start + nCtx <= n; start += nCtx) {
        std::copy_n(tokens.begin() + start, nCtx, window.begin());
        if (bos)
            window[0] = *bos;
        model.forward(window, logits, cancel);
        // Position i predicts token i + 1: score positions first .. nCtx-2.
        for (std::int64_t i = first; i + 1 < nCtx; ++i) {
            const float* row = logits.data() + i * V;
            const float mx = *std::max_element(row, row + V);
            double z = 0;
            for (std::int64_t j = 0; j < V; ++j)
                z += std::exp(static_cast<double>(row[j] - mx));
            const std::int32_t next = tokens[static_cast<std::size_t>(start + i + 1)];
            const double nll = std::log(z) + mx - row[next];
            sum += nll;
            sumSq += nll * nll;
            ++r.scored;
        }
        ++r.windows;
    }
    r.meanNll = sum / static_cast<double>(r.scored);
    const double var = std::max(0.0, sumSq / static_cast<double>(r.scored) - r.meanNll * r.meanNll);
    r.stdErr = std::sqrt(var / static_cast<double>(r.scored));
    r.perplexity = std::exp(r.meanNll);
    return r;
}

} // namespace leger
