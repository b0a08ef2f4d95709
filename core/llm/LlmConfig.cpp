#include "llm/LlmConfig.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "io/GgufFile.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

namespace leger {

namespace {

using Json = nlohmann::json;

[[noreturn]] void fail(const std::string& source, const std::string& key, const std::string& what)
{
    throw Error(source + ": " + key + ": " + what);
}

/// A positive integer under `key` (or the first of several names that is present).
std::int64_t positive(const Json& j, const std::string& source, std::initializer_list<const char*> keys, bool required = true,
                      std::int64_t fallback = 0)
{
    for (const char* key : keys) {
        if (!j.contains(key) || j[key].is_null())
            continue;
        const Json& v = j[key];
        if (!v.is_number_integer() || v.get<std::int64_t>() <= 0 || v.get<std::int64_t>() > (std::int64_t{1} << 40))
            fail(source, key, "expected a positive integer, got " + v.dump());
        return v.get<std::int64_t>();
    }
    if (required)
        fail(source, *keys.begin(), "missing");
    return fallback;
}

double number(const Json& j, const std::string& source, const char* key, double fallback)
{
    if (!j.contains(key) || j[key].is_null())
        return fallback;
    if (!j[key].is_number() || !(j[key].get<double>() > 0))
        fail(source, key, "expected a positive number, got " + j[key].dump());
    return j[key].get<double>();
}

std::optional<std::int64_t> tokenId(const Json& j, const std::string& source, const char* key)
{
    if (!j.contains(key) || j[key].is_null())
        return std::nullopt;
    const Json& v = j[key].is_array() && !j[key].empty() ? j[key][0] : j[key]; // some configs list several eos ids
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0)
        fail(source, key, "expected a token id, got " + j[key].dump());
    return v.get<std::int64_t>();
}

} // namespace

LlmConfig LlmConfig::fromHuggingFace(const std::string& path) { return fromHuggingFaceJson(readFile(path), path); }

LlmConfig LlmConfig::fromHuggingFaceJson(const std::string& text, const std::string& source)
{
    Json j;
    try {
        j = Json::parse(text);
    } catch (const Json::exception& e) {
        fail(source, "config", std::string("not valid JSON (") + e.what() + ")");
    }
    if (!j.is_object())
        fail(source, "config", "expected a JSON object");
    if (!j.contains("model_type") || !j["model_type"].is_string())
        fail(source, "model_type", "missing (expected llama, mistral, qwen2 or gpt2)");
    const std::string type = j["model_type"].get<std::string>();
    LlmConfig c;
    if (type == "gpt2") {
        c.architecture = "gpt2";
        c.vocabSize = positive(j, source, {"vocab_size"});
        c.hidden = positive(j, source, {"n_embd"});
        c.layers = positive(j, source, {"n_layer"});
        c.heads = positive(j, source, {"n_head"});
        c.kvHeads = c.heads;
        c.intermediate = positive(j, source, {"n_inner"}, false, 4 * c.hidden);
        c.context = positive(j, source, {"n_positions", "n_ctx"});
        c.normEps = number(j, source, "layer_norm_epsilon", 1e-5);
        c.tieEmbeddings = true; // GPT-2's output projection is its token embedding
        // What GPT2LMHeadModel computes beside the defaults, refused rather than computed wrongly.
        if (j.contains("activation_function") && j["activation_function"] != "gelu_new" &&
            j["activation_function"] != "gelu_pytorch_tanh" && j["activation_function"] != "gelu_fast")
            throw UnsupportedError(source + ": activation_function: " + j["activation_function"].dump() +
                                   " (Leger runs GPT-2's tanh-approximated GELU, gelu_new)");
        for (const char* key : {"scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"})
            if (j.contains(key) && j[key] == true)
                throw UnsupportedError(source + ": " + key + ": true is not implemented");
        if (j.contains("scale_attn_weights") && j["scale_attn_weights"] == false)
            throw UnsupportedError(source + ": scale_attn_weights: false is not implemented");
    } else if (type == "llama" || type == "mistral" || type == "qwen2") {
        c.architecture = type == "qwen2" ? "qwen2" : "llama";
        c.vocabSize = positive(j, source, {"vocab_size"});
        c.hidden = positive(j, source, {"hidden_size"});
        c.intermediate = positive(j, source, {"intermediate_size"});
        c.layers = positive(j, source, {"num_hidden_layers"});
        c.heads = positive(j, source, {"num_attention_heads"});
        c.kvHeads = positive(j, source, {"num_key_value_heads"}, false, c.heads);
        c.context = positive(j, source, {"max_position_embeddings"});
        c.normEps = number(j, source, "rms_norm_eps", 1e-6);
        c.ropeTheta = number(j, source, "rope_theta", 10000.0);
        const bool sliding = type == "mistral" || (j.contains("use_sliding_window") && j["use_sliding_window"] == true);
        if (sliding && j.contains("sliding_window") && !j["sliding_window"].is_null())
            c.slidingWindow = positive(j, source, {"sliding_window"});
        if (j.contains("hidden_act") && j["hidden_act"] != "silu")
            throw UnsupportedError(source + ": hidden_act: " + j["hidden_act"].dump() + " (Leger runs SwiGLU with silu)");
        if (j.contains("tie_word_embeddings")) {
            if (!j["tie_word_embeddings"].is_boolean())
                fail(source, "tie_word_embeddings", "expected true or false");
            c.tieEmbeddings = j["tie_word_embeddings"].get<bool>();
        }
        if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
            const Json& r = j["rope_scaling"];
            if (!r.is_object())
                fail(source, "rope_scaling", "expected an object");
            RopeScaling s;
            const char* typeKey = r.contains("rope_type") ? "rope_type" : "type";
            if (!r.contains(typeKey) || !r[typeKey].is_string())
                fail(source, "rope_scaling.type", "missing");
            s.type = r[typeKey].get<std::string>();
            if (s.type != "linear" && s.type != "dynamic" && s.type != "llama3" && s.type != "yarn" && s.type != "default")
                throw UnsupportedError(source + ": rope_scaling.type: '" + s.type + "' is not supported");
            s.factor = number(r, source + ": rope_scaling", "factor", 1.0);
            if (s.type == "llama3") {
                s.lowFreqFactor = number(r, source + ": rope_scaling", "low_freq_factor", 1.0);
                s.highFreqFactor = number(r, source + ": rope_scaling", "high_freq_factor", 4.0);
                s.originalContext = positive(r, source + ": rope_scaling", {"original_max_position_embeddings"});
                if (!(s.highFreqFactor > s.lowFreqFactor))
                    fail(source, "rope_scaling", "expected low_freq_factor < high_freq_factor");
            }
            if (s.type != "default")
                c.ropeScaling = s;
        }
    } else {
        throw UnsupportedError(source + ": model_type: '" + type + "' (Leger reads llama, mistral, qwen2 and gpt2)");
    }
    c.headDim = positive(j, source, {"head_dim"}, false, c.heads > 0 ? c.hidden / c.heads : 0);
    c.bos = tokenId(j, source, "bos_token_id");
    c.eos = tokenId(j, source, "eos_token_id");
    c.validate(source);
    return c;
}

LlmConfig LlmConfig::fromGguf(const GgufFile& f, const std::string& source)
{
    const GgufValue* archValue = f.find("general.architecture");
    if (!archValue)
        fail(source, "general.architecture", "missing");
    const std::string arch = archValue->toString(source + ": general.architecture");
    if (arch != "llama" && arch != "qwen2" && arch != "gpt2")
        throw UnsupportedError(source + ": general.architecture: '" + arch + "' (Leger reads llama, qwen2 and gpt2)");
    const auto get = [&](const std::string& key, bool required, std::int64_t fallback) -> std::int64_t {
        const GgufValue* v = f.find(arch + "." + key);
        if (!v) {
            if (required)
                fail(source, arch + "." + key, "missing");
            return fallback;
        }
        const std::uint64_t n = v->toUInt(source + ": " + arch + "." + key);
        if (n == 0 || n > (std::uint64_t{1} << 40))
            fail(source, arch + "." + key, "expected a positive size, got " + std::to_string(n));
        return static_cast<std::int64_t>(n);
    };
    const auto real = [&](const std::string& key, double fallback) {
        const GgufValue* v = f.find(arch + "." + key);
        if (!v)
            return fallback;
        if (const auto* d = std::get_if<double>(&v->value); d && *d > 0)
            return *d;
        fail(source, arch + "." + key, "expected a positive number");
    };
    LlmConfig c;
    c.architecture = arch;
    c.hidden = get("embedding_length", true, 0);
    c.layers = get("block_count", true, 0);
    c.intermediate = get("feed_forward_length", arch != "gpt2", 4 * c.hidden);
    c.heads = get("attention.head_count", true, 0);
    c.kvHeads = get("attention.head_count_kv", false, c.heads);
    c.context = get("context_length", true, 0);
    c.headDim = get("attention.key_length", false, c.hidden / c.heads);
    c.normEps = arch == "gpt2" ? real("attention.layer_norm_epsilon", 1e-5) : real("attention.layer_norm_rms_epsilon", 1e-6);
    c.ropeTheta = real("rope.freq_base", 10000.0);
    if (arch != "gpt2") {
        // As llama.cpp reads them: a factor without a type scales linearly, type "none" never scales.
        // Llama 3's scaling is not in the metadata but in the tensor rope_freqs.weight (Decoder).
        if (const std::int64_t rotated = get("rope.dimension_count", false, c.headDim); rotated != c.headDim)
            throw UnsupportedError(source + ": " + arch + ".rope.dimension_count: rotary embeddings over part of a head (" +
                                   std::to_string(rotated) + " of " + std::to_string(c.headDim) + " dimensions) are not implemented");
        const GgufValue* typeValue = f.find(arch + ".rope.scaling.type");
        const std::string type = typeValue ? typeValue->toString(source + ": " + arch + ".rope.scaling.type") : "linear";
        double factor = 1.0;
        for (const char* key : {"rope.scaling.factor", "rope.scale_linear"})
            if (const GgufValue* v = f.find(arch + "." + key)) {
                const auto* d = std::get_if<double>(&v->value);
                if (!d || !(*d >= 0) || !std::isfinite(*d))
                    fail(source, arch + "." + key, "expected a number >= 0");
                factor = *d == 0 ? 1.0 : *d; // llama.cpp reads 0 as no scaling
                break;
            }
        if (type != "none" && type != "linear")
            throw UnsupportedError(source + ": " + arch + ".rope.scaling.type: '" + type + "' is not implemented");
        if (type == "linear" && factor != 1.0)
            c.ropeScaling = RopeScaling{.type = "linear", .factor = factor};
    }
    if (const GgufValue* t = f.find("tokenizer.ggml.tokens")) {
        if (const auto* list = std::get_if<std::vector<GgufValue>>(&t->value))
            c.vocabSize = static_cast<std::int64_t>(list->size());
    }
    c.vocabSize = get("vocab_size", c.vocabSize == 0, c.vocabSize);
    c.tieEmbeddings = f.tensor("output.weight") == nullptr;
    if (const GgufValue* v = f.find("tokenizer.ggml.bos_token_id"))
        c.bos = static_cast<std::int64_t>(v->toUInt(source + ": tokenizer.ggml.bos_token_id"));
    if (const GgufValue* v = f.find("tokenizer.ggml.eos_token_id"))
        c.eos = static_cast<std::int64_t>(v->toUInt(source + ": tokenizer.ggml.eos_token_id"));
    c.validate(source);
    return c;
}

void LlmConfig::validate(const std::string& source) const
{
    if (heads <= 0 || hidden <= 0 || layers <= 0 || vocabSize <= 0 || intermediate <= 0 || context <= 0 || headDim <= 0)
        throw Error(source + ": sizes must be positive");
    if (kvHeads <= 0 || heads % kvHeads != 0)
        throw Error(source + ": " + std::to_string(heads) + " attention heads cannot share " + std::to_string(kvHeads) +
                    " key/value heads evenly");
    if (architecture == "gpt2" && hidden % heads != 0)
        throw Error(source + ": a width of " + std::to_string(hidden) + " does not split into " + std::to_string(heads) + " heads");
    if (architecture != "gpt2" && headDim % 2 != 0)
        throw Error(source + ": rotary embeddings need an even head size, got " + std::to_string(headDim));
    for (const auto& id : {bos, eos})
        if (id && *id >= vocabSize)
            throw Error(source + ": token id " + std::to_string(*id) + " is outside the vocabulary of " + std::to_string(vocabSize));
}

std::int64_t LlmConfig::parameterCount() const
{
    const std::int64_t embed = vocabSize * hidden;
    std::int64_t block = 0;
    if (architecture == "gpt2") {
        // ln1, attention (qkv + out, with biases), ln2, MLP (in + out, with biases).
        block = 2 * hidden + (hidden * 3 * hidden + 3 * hidden) + (hidden * hidden + hidden) + 2 * hidden +
                (hidden * intermediate + intermediate) + (intermediate * hidden + hidden);
        return embed + context * hidden + layers * block + 2 * hidden + (tieEmbeddings ? 0 : embed);
    }
    const std::int64_t q = heads * headDim, kv = kvHeads * headDim;
    block = hidden /* attention norm */ + hidden * q + 2 * hidden * kv + q * hidden + hidden /* ffn norm */ +
            3 * hidden * intermediate;
    if (architecture == "qwen2")
        block += q + 2 * kv; // q/k/v biases
    return embed + layers * block + hidden + (tieEmbeddings ? 0 : embed);
}

} // namespace leger
