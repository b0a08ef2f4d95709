#pragma once
// A causal decoder's forward pass over a window of tokens (DESIGN.md "Data flow", language
// models): the Llama family as Hugging Face's LlamaForCausalLM computes it — RMSNorm, rotary
// position embeddings (rotate-half convention, theta; linear and Llama 3 scaling), grouped-query attention,
// SwiGLU — with Qwen2's q/k/v biases; and GPT-2 as Hugging Face's GPT2LMHeadModel computes it —
// learned position embeddings, LayerNorm with biases, one fused q/k/v projection, biased
// projections, a tanh-approximated GELU MLP. Weights are float32 matrices [out, in] (GPT-2's
// Conv1D weights, stored [in, out], are transposed when read); every product is one OpenBLAS
// SGEMM over the whole window, and the buffers are sized once per window length, so running
// window after window allocates nothing.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "llm/LlmConfig.h"
#include "model/Tensor.h"
#include "util/CancelToken.h"

namespace leger {

struct DecoderWeights {
    struct Block {
        Tensor attnNorm, q, k, v, o;  // norms [D]; projections [out, in] (llama, qwen2)
        Tensor qBias, kBias, vBias;   // Qwen2 only (empty otherwise)
        Tensor mlpNorm, gate, up, down;
        // GPT-2: q, k and v as one projection [3D, D] (rows: q, then k, then v) and the biases of
        // its norms and projections; o, up and down as above, gate and q/k/v empty.
        Tensor qkv, qkvBias, attnNormBias, oBias, mlpNormBias, upBias, downBias;
    };
    Tensor embed;                     // [vocab, D]
    Tensor positions;                 // GPT-2's learned position embeddings [context, D]
    std::vector<Block> blocks;
    Tensor finalNorm, finalNormBias;  // [D] (the bias: GPT-2)
    Tensor output;                    // [vocab, D]; empty when tied to embed
    // Llama 3's rotary scaling as llama.cpp stores it: one factor per frequency [headDim/2], each
    // rotary frequency divided by its factor. Read from a GGUF file's rope_freqs.weight, or made
    // from config.json's rope_scaling (type llama3); empty without that scaling.
    Tensor ropeFreqs;
};

/// The factors of Llama 3's rotary scaling (Hugging Face's `_compute_llama3_parameters`, as
/// llama.cpp's converter stores them): 1 for wavelengths under original context / high_freq_factor,
/// `factor` above original context / low_freq_factor, a smooth blend between; [headDim/2].
Tensor llama3RopeFactors(const LlmConfig& config);

class Decoder {
public:
    /// Checks every weight's shape against the configuration (Error naming `source` and the weight).
    Decoder(LlmConfig config, DecoderWeights weights, const std::string& source);

    /// A Hugging Face model folder (config.json and model.safetensors or its index), or the
    /// config.json itself: weights by their Hugging Face names, converted to float32. GPT-2's
    /// names are read with or without the "transformer." prefix (both are in use).
    static Decoder fromHuggingFace(const std::string& path);

    /// A GGUF file (llama.cpp's tensor names; any type GgufFile decodes). llama.cpp's converter
    /// permutes the rows of a Llama's attn_q and attn_k for its rotary layout (pairs of adjacent
    /// dimensions); they are put back into Hugging Face's rotate-half order here. Qwen2 and GPT-2
    /// files keep Hugging Face's order.
    static Decoder fromGguf(const std::string& path);

    const LlmConfig& config() const { return config_; }
    const DecoderWeights& weights() const { return weights_; }
    /// Every weight the decoder holds, with its Hugging Face and llama.cpp (GGUF) names, in the
    /// order llama.cpp's files list them: embeddings, each block, final norm, output (untied).
    struct NamedWeight {
        std::string hf, gguf;
        Tensor* tensor;
        bool matrix;        // a projection or the token embedding (norms, biases and GPT-2's
                            // position embedding are not: llama.cpp keeps them as they are too)
        std::int64_t ropeHeads; // q/k projections: their heads (GGUF permutes their rows); else 0
    };
    std::vector<NamedWeight> namedWeights();

    /// One weight by its Hugging Face name (e.g. model.layers.0.mlp.up_proj.weight), or null.
    Tensor* weight(const std::string& hfName);

    /// Weights to run in place of the decoder's own, each {the decoder's tensor, its stand-in of
    /// the same shape}: how compressed weights are evaluated without touching the originals (so
    /// that other threads may read them meanwhile, and no copy of them is needed).
    using Substitutes = std::vector<std::pair<const Tensor*, const Tensor*>>;

    /// The logits of every position of one window (positions 0..T-1, causal): [T, vocab] into
    /// `logits`, with `substitutes` (if any) in place of their weights. T must be at most the
    /// configuration's longestWindow(). Throws CancelledError between layers when cancelled.
    void forward(std::span<const std::int32_t> tokens, std::vector<float>& logits, const CancelToken* cancel = nullptr,
                 const Substitutes* substitutes = nullptr);

private:
    void ensureBuffers(std::int64_t T);
    void llamaBlock(const DecoderWeights::Block& b, std::int64_t T);
    void gpt2Block(const DecoderWeights::Block& b, std::int64_t T);
    void attention(std::int64_t T);
    /// The weight a forward pass runs for t: its substitute, or t.
    const Tensor& w(const Tensor& t) const;

    LlmConfig config_;
    DecoderWeights weights_;
    std::string hfPrefix_; // GPT-2: "transformer." or "" (how the source file names its weights)
    std::vector<float> invFreq_;
    // Work buffers, grown to the longest window seen.
    std::int64_t capacity_ = 0;
    std::vector<float> x_, h_, q_, k_, v_, att_, scores_, gate_, up_;
    const Substitutes* substitutes_ = nullptr; // during forward()
};

/// Perplexity over a token stream the way llama.cpp's perplexity tool measures it: consecutive
/// windows of nCtx tokens, each evaluated from scratch, scoring only the second half of each
/// window (every token predicted with at least nCtx/2 tokens of context). With `bos`, each
/// window's first token is replaced by it, as llama.cpp does when the vocabulary adds one.
struct PerplexityResult {
    double perplexity = 0;  // exp(mean negative log-likelihood)
    double meanNll = 0, stdErr = 0; // nats per token, and its standard error
    std::int64_t windows = 0, scored = 0;
};
PerplexityResult perplexity(Decoder& model, std::span<const std::int32_t> tokens, std::int64_t nCtx,
                            std::optional<std::int32_t> bos = std::nullopt, const CancelToken* cancel = nullptr);

} // namespace leger
