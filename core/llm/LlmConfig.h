#pragma once
// A decoder-only language model's hyperparameters, from a Hugging Face `config.json` (Llama,
// Mistral, Qwen2, GPT-2) or from a GGUF file's metadata, in one form the runtime reads. Values
// are checked (positive sizes, heads that divide the width, known rope scaling), and errors name
// the file and the key.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

namespace leger {

class GgufFile;

struct RopeScaling {
    std::string type;        // "linear", "dynamic", "llama3", "yarn"
    double factor = 1.0;
    // llama3: low/high frequency factors and the original context length.
    double lowFreqFactor = 1.0, highFreqFactor = 4.0;
    std::int64_t originalContext = 0;
};

struct LlmConfig {
    /// "llama" (also Mistral's layout), "qwen2" (biases on q/k/v) or "gpt2".
    std::string architecture;
    std::int64_t vocabSize = 0;
    std::int64_t hidden = 0;        // model width
    std::int64_t intermediate = 0;  // feed-forward width
    std::int64_t layers = 0;
    std::int64_t heads = 0;
    std::int64_t kvHeads = 0;       // grouped-query attention: heads sharing one key/value head
    std::int64_t headDim = 0;
    std::int64_t context = 0;       // max positions
    // Mistral's (and Qwen2's when use_sliding_window) attention over the last N tokens only.
    std::optional<std::int64_t> slidingWindow;
    double normEps = 1e-5;          // RMSNorm (llama, qwen2) or LayerNorm (gpt2) epsilon
    double ropeTheta = 10000.0;     // rotary base (llama, qwen2)
    std::optional<RopeScaling> ropeScaling;
    bool tieEmbeddings = false;     // the output projection is the token embedding
    std::optional<std::int64_t> bos, eos;

    /// Reads a Hugging Face config.json; throws Error "<path>: <key>: ...".
    static LlmConfig fromHuggingFace(const std::string& path);
    static LlmConfig fromHuggingFaceJson(const std::string& json, const std::string& source);
    /// From GGUF metadata (`general.architecture` and its `<arch>.*` keys).
    static LlmConfig fromGguf(const GgufFile& file, const std::string& source);

    /// Throws Error "<source>: <what>" when the sizes do not make a model.
    void validate(const std::string& source) const;
    /// The longest window Leger runs: the context, or the sliding attention window when shorter
    /// (within it, sliding attention is plain causal attention; beyond it is not implemented).
    std::int64_t longestWindow() const { return slidingWindow ? std::min(context, *slidingWindow) : context; }
    /// Parameters of the weights (embedding, blocks, final norm, output unless tied).
    std::int64_t parameterCount() const;
};

} // namespace leger
