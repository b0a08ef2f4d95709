#include "llm/Decoder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

#include <cblas.h>

#include "io/GgufFile.h"
#include "io/SafetensorsFile.h"
#include "util/Error.h"
#include "util/Memory.h"

namespace leger {

namespace {

/// Y[T, out] = X[T, in] · W[out, in]^T (+ bias).
void linear(const float* x, std::int64_t T, std::int64_t in, const Tensor& w, const Tensor& bias, float* y)
{
    const std::int64_t out = w.dim(0);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(T), static_cast<blasint>(out),
                static_cast<blasint>(in), 1.0f, x, static_cast<blasint>(in), w.data<float>(), static_cast<blasint>(in), 0.0f,
                y, static_cast<blasint>(out));
    if (!bias.empty()) {
        const float* b = bias.data<float>();
        for (std::int64_t t = 0; t < T; ++t)
            for (std::int64_t j = 0; j < out; ++j)
                y[t * out + j] += b[j];
    }
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

} // namespace

Decoder::Decoder(LlmConfig config, DecoderWeights weights, const std::string& source)
    : config_(std::move(config)), weights_(std::move(weights))
{
    config_.validate(source);
    if (config_.architecture != "llama" && config_.architecture != "qwen2")
        throw UnsupportedError(source + ": the " + config_.architecture + " architecture is not implemented yet");
    if (config_.ropeScaling && config_.ropeScaling->type != "linear")
        throw UnsupportedError(source + ": rope scaling '" + config_.ropeScaling->type + "' is not implemented yet");
    const std::int64_t D = config_.hidden, V = config_.vocabSize, H = config_.heads, KV = config_.kvHeads,
                       hd = config_.headDim, F = config_.intermediate;
    checkShape(weights_.embed, {V, D}, source, "the token embedding");
    if (static_cast<std::int64_t>(weights_.blocks.size()) != config_.layers)
        throw Error(source + ": " + std::to_string(weights_.blocks.size()) + " blocks, the configuration has " +
                    std::to_string(config_.layers));
    for (std::size_t l = 0; l < weights_.blocks.size(); ++l) {
        const auto& b = weights_.blocks[l];
        const std::string n = "layer " + std::to_string(l) + " ";
        checkShape(b.attnNorm, {D}, source, n + "input norm");
        checkShape(b.q, {H * hd, D}, source, n + "q_proj");
        checkShape(b.k, {KV * hd, D}, source, n + "k_proj");
        checkShape(b.v, {KV * hd, D}, source, n + "v_proj");
        checkShape(b.o, {D, H * hd}, source, n + "o_proj");
        if (!b.qBias.empty() || !b.kBias.empty() || !b.vBias.empty()) {
            checkShape(b.qBias, {H * hd}, source, n + "q_proj bias");
            checkShape(b.kBias, {KV * hd}, source, n + "k_proj bias");
            checkShape(b.vBias, {KV * hd}, source, n + "v_proj bias");
        }
        checkShape(b.mlpNorm, {D}, source, n + "post-attention norm");
        checkShape(b.gate, {F, D}, source, n + "gate_proj");
        checkShape(b.up, {F, D}, source, n + "up_proj");
        checkShape(b.down, {D, F}, source, n + "down_proj");
    }
    checkShape(weights_.finalNorm, {D}, source, "the final norm");
    if (weights_.output.empty() && !config_.tieEmbeddings)
        throw Error(source + ": no output projection (lm_head) and the embeddings are not tied");
    if (!weights_.output.empty())
        checkShape(weights_.output, {V, D}, source, "the output projection");
    invFreq_.resize(static_cast<std::size_t>(hd / 2));
    for (std::int64_t i = 0; i < hd / 2; ++i)
        invFreq_[static_cast<std::size_t>(i)] =
            static_cast<float>(1.0 / std::pow(config_.ropeTheta, static_cast<double>(2 * i) / static_cast<double>(hd)));
}

namespace {

/// A block's weights by their names in each format (Hugging Face after "model.layers.N.", GGUF after
/// "blk.N."); biases are optional (Qwen2).
struct BlockField {
    Tensor DecoderWeights::Block::*member;
    const char* hf;
    const char* gguf;
    bool required;
};
using Block = DecoderWeights::Block;
constexpr BlockField kBlockFields[] = {
    {&Block::attnNorm, "input_layernorm.weight", "attn_norm.weight", true},
    {&Block::q, "self_attn.q_proj.weight", "attn_q.weight", true},
    {&Block::k, "self_attn.k_proj.weight", "attn_k.weight", true},
    {&Block::v, "self_attn.v_proj.weight", "attn_v.weight", true},
    {&Block::o, "self_attn.o_proj.weight", "attn_output.weight", true},
    {&Block::qBias, "self_attn.q_proj.bias", "attn_q.bias", false},
    {&Block::kBias, "self_attn.k_proj.bias", "attn_k.bias", false},
    {&Block::vBias, "self_attn.v_proj.bias", "attn_v.bias", false},
    {&Block::mlpNorm, "post_attention_layernorm.weight", "ffn_norm.weight", true},
    {&Block::gate, "mlp.gate_proj.weight", "ffn_gate.weight", true},
    {&Block::up, "mlp.up_proj.weight", "ffn_up.weight", true},
    {&Block::down, "mlp.down_proj.weight", "ffn_down.weight", true},
};

/// The blocks, read through get(name, required) with each format's names.
using WeightGetter = std::function<Tensor(const std::string& name, bool required)>;
std::vector<Block> readBlocks(const LlmConfig& config, bool gguf, const WeightGetter& get)
{
    std::vector<Block> blocks;
    for (std::int64_t l = 0; l < config.layers; ++l) {
        const std::string prefix = (gguf ? "blk." : "model.layers.") + std::to_string(l) + ".";
        Block b;
        for (const BlockField& f : kBlockFields)
            b.*f.member = get(prefix + (gguf ? f.gguf : f.hf), f.required);
        blocks.push_back(std::move(b));
    }
    return blocks;
}

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
    const WeightGetter get = [&](const std::string& name, bool required) -> Tensor {
        const SafetensorsTensor* t = st.tensor(name);
        if (!t) {
            if (required)
                throw Error(file + ": no tensor '" + name + "'");
            return {};
        }
        return SafetensorsFile::toFloat(*t);
    };
    DecoderWeights w;
    w.embed = get("model.embed_tokens.weight", true);
    w.blocks = readBlocks(config, false, get);
    w.finalNorm = get("model.norm.weight", true);
    w.output = get("lm_head.weight", !config.tieEmbeddings);
    return Decoder(config, std::move(w), file);
}

Decoder Decoder::fromGguf(const std::string& path)
{
    const GgufFile g = GgufFile::open(path);
    LlmConfig config = LlmConfig::fromGguf(g, path);
    requireFloat32Memory(config, path);
    if (config.architecture != "llama")
        throw UnsupportedError(path + ": the GGUF " + config.architecture + " architecture is not implemented yet");
    const WeightGetter get = [&](const std::string& name, bool required) -> Tensor {
        const GgufTensorInfo* t = g.tensor(name);
        if (!t) {
            if (required)
                throw Error(path + ": no tensor '" + name + "'");
            return {};
        }
        Tensor f = g.toFloat(*t);
        if (f.rank() == 2 || f.rank() == 1)
            return f;
        throw Error(path + ": tensor '" + name + "' has " + std::to_string(f.rank()) + " dimensions");
    };
    DecoderWeights w;
    w.embed = get("token_embd.weight", true);
    w.blocks = readBlocks(config, true, get);
    for (std::size_t l = 0; l < w.blocks.size(); ++l) {
        Block& b = w.blocks[l];
        if (b.q.rank() != 2 || b.k.rank() != 2 || b.q.dim(0) != config.heads * config.headDim ||
            b.k.dim(0) != config.kvHeads * config.headDim)
            throw Error(path + ": blk." + std::to_string(l) + ".attn_q/attn_k do not have the shapes the metadata gives");
        b.q = unpermuteRows(b.q, config.heads);
        b.k = unpermuteRows(b.k, config.kvHeads);
    }
    w.finalNorm = get("output_norm.weight", true);
    w.output = get("output.weight", false);
    if (w.output.empty())
        config.tieEmbeddings = true; // llama.cpp uses the embedding when a file has no output tensor
    return Decoder(config, std::move(w), path);
}

Tensor* Decoder::weight(const std::string& name)
{
    if (name == "model.embed_tokens.weight")
        return &weights_.embed;
    if (name == "lm_head.weight")
        return weights_.output.empty() ? nullptr : &weights_.output;
    const std::string prefix = "model.layers.";
    if (name.rfind(prefix, 0) != 0)
        return nullptr;
    std::size_t used = 0;
    const std::string rest = name.substr(prefix.size());
    std::int64_t l = -1;
    try {
        l = std::stoll(rest, &used);
    } catch (...) {
        return nullptr;
    }
    if (l < 0 || l >= static_cast<std::int64_t>(weights_.blocks.size()) || used >= rest.size() || rest[used] != '.')
        return nullptr;
    Block& b = weights_.blocks[static_cast<std::size_t>(l)];
    for (const BlockField& f : kBlockFields)
        if (rest.compare(used + 1, std::string::npos, f.hf) == 0)
            return (b.*f.member).empty() ? nullptr : &(b.*f.member);
    return nullptr;
}

std::vector<Decoder::NamedWeight> Decoder::namedWeights()
{
    std::vector<NamedWeight> out;
    out.push_back({"model.embed_tokens.weight", "token_embd.weight", &weights_.embed, true, 0});
    for (std::size_t l = 0; l < weights_.blocks.size(); ++l) {
        Block& b = weights_.blocks[l];
        const std::string hf = "model.layers." + std::to_string(l) + ".", gguf = "blk." + std::to_string(l) + ".";
        for (const BlockField& f : kBlockFields) {
            Tensor& t = b.*f.member;
            if (t.empty())
                continue;
            const bool q = f.member == &Block::q, k = f.member == &Block::k;
            out.push_back({hf + f.hf, gguf + f.gguf, &t, t.rank() == 2,
                           q ? config_.heads : k ? config_.kvHeads : 0});
        }
    }
    out.push_back({"model.norm.weight", "output_norm.weight", &weights_.finalNorm, false, 0});
    if (!weights_.output.empty())
        out.push_back({"lm_head.weight", "output.weight", &weights_.output, true, 0});
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
    gate_.resize(n(T, config_.intermediate));
    up_.resize(n(T, config_.intermediate));
    capacity_ = T;
}

void Decoder::forward(std::span<const std::int32_t> tokens, std::vector<float>& logits, const CancelToken* cancel)
{
    const std::int64_t T = static_cast<std::int64_t>(tokens.size());
    if (T == 0)
        throw Error("forward: an empty window");
    if (T > config_.context)
        throw Error("forward: a window of " + std::to_string(T) + " tokens is longer than the context of " +
                    std::to_string(config_.context));
    ensureBuffers(T);
    const std::int64_t D = config_.hidden, V = config_.vocabSize, H = config_.heads, KV = config_.kvHeads,
                       hd = config_.headDim, F = config_.intermediate;
    const double posScale = config_.ropeScaling ? config_.ropeScaling->factor : 1.0;
    // Embedding.
    const float* E = weights_.embed.data<float>();
    for (std::int64_t t = 0; t < T; ++t) {
        const std::int32_t id = tokens[static_cast<std::size_t>(t)];
        if (id < 0 || id >= V)
            throw Error("forward: token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(V));
        std::copy(E + id * D, E + (id + 1) * D, x_.data() + t * D);
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    const std::int64_t group = H / KV;
    for (const auto& b : weights_.blocks) {
        if (cancel && cancel->isCancelled())
            throw CancelledError();
        // Attention.
        rmsNorm(x_.data(), T, D, b.attnNorm, config_.normEps, h_.data());
        linear(h_.data(), T, D, b.q, b.qBias, q_.data());
        linear(h_.data(), T, D, b.k, b.kBias, k_.data());
        linear(h_.data(), T, D, b.v, b.vBias, v_.data());
        rope(q_.data(), T, H, hd, invFreq_, posScale);
        rope(k_.data(), T, KV, hd, invFreq_, posScale);
        for (std::int64_t h = 0; h < H; ++h) {
            const std::int64_t kvh = h / group;
            // scores[T, T] = Q_h · K_kvh^T, scaled; causal mask; softmax per row.
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(T), static_cast<blasint>(T),
                        static_cast<blasint>(hd), scale, q_.data() + h * hd, static_cast<blasint>(H * hd),
                        k_.data() + kvh * hd, static_cast<blasint>(KV * hd), 0.0f, scores_.data(), static_cast<blasint>(T));
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
        linear(att_.data(), T, H * hd, b.o, {}, h_.data());
        for (std::size_t i = 0; i < static_cast<std::size_t>(T * D); ++i)
            x_[i] += h_[i];
        // SwiGLU feed-forward.
        rmsNorm(x_.data(), T, D, b.mlpNorm, config_.normEps, h_.data());
        linear(h_.data(), T, D, b.gate, {}, gate_.data());
        linear(h_.data(), T, D, b.up, {}, up_.data());
        for (std::size_t i = 0; i < static_cast<std::size_t>(T * F); ++i) {
            const float g = gate_[i];
            gate_[i] = g / (1.0f + std::exp(-g)) * up_[i];
        }
        linear(gate_.data(), T, F, b.down, {}, h_.data());
        for (std::size_t i = 0; i < static_cast<std::size_t>(T * D); ++i)
            x_[i] += h_[i];
    }
    rmsNorm(x_.data(), T, D, weights_.finalNorm, config_.normEps, h_.data());
    logits.resize(static_cast<std::size_t>(T * V));
    linear(h_.data(), T, D, weights_.output.empty() ? weights_.embed : weights_.output, {}, logits.data());
}

PerplexityResult perplexity(Decoder& model, std::span<const std::int32_t> tokens, std::int64_t nCtx,
                            std::optional<std::int32_t> bos, const CancelToken* cancel)
{
    if (nCtx < 2 || nCtx > model.config().context)
        throw Error("perplexity: a window of " + std::to_string(nCtx) + " tokens (2.." +
                    std::to_string(model.config().context) + ")");
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
