#pragma once
// A language model opened for compression (DESIGN.md "Data flow", language models): the decoder,
// its tokenizer, and its compressible layers — the token embedding, every block's attention and
// feed-forward projections and the output projection (when not tied) — as Leger layers, so that
// plans, sizes and searches treat them as they treat an ONNX model's. Norms and biases stay
// float32. The size of a plan is the size of the GGUF file exportGguf writes for it, exactly.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compress/LayerSetting.h"
#include "compress/SizeReport.h"
#include "llm/Decoder.h"
#include "llm/Tokenizer.h"
#include "model/Layer.h"
#include "util/CancelToken.h"

namespace leger {

class GgufWriter;

class LanguageModel {
public:
    /// A GGUF file, or a Hugging Face model (its folder, config.json or model.safetensors, with
    /// tokenizer.json or vocab.json + merges.txt beside it). Throws Error naming the file.
    static LanguageModel open(const std::string& path);
    /// Whether path names something open() reads (a .gguf or .safetensors file, a config.json,
    /// or a folder holding a config.json), by its name alone.
    static bool isLanguageModelPath(const std::string& path);

    LanguageModel(LanguageModel&&) noexcept;
    LanguageModel& operator=(LanguageModel&&) noexcept;
    ~LanguageModel();

    const std::string& path() const;
    /// "GGUF" or "safetensors".
    const char* sourceFormat() const;
    /// Bytes of the source file(s).
    std::int64_t sourceBytes() const;

    Decoder& decoder();
    const Decoder& decoder() const;
    const Tokenizer& tokenizer() const;
    /// The first token of each perplexity window when the vocabulary asks for a BOS token
    /// (GGUF tokenizer.ggml.add_bos_token, tokenizer_config.json add_bos_token).
    std::optional<std::int32_t> windowBos() const;

    /// The compressible layers, named as the source file names them (op Embedding or Linear;
    /// rows = output features, cols = input features).
    const std::vector<Layer>& layers() const;
    /// A layer's original weight (float32, [rows, cols]): the decoder's own, never changed by an
    /// evaluation (compressed weights run as Decoder::forward's substitutes), so it may be read
    /// from any thread while one evaluates.
    const Tensor& original(std::size_t layer) const;
    /// A layer's name in llama.cpp's GGUF naming.
    const std::string& ggufName(std::size_t layer) const;

    /// Why setting s cannot be used for a layer (a GGUF has no type for it, or its rows do not
    /// split into the format's blocks), or empty when it can.
    std::string whyNot(std::size_t layer, const LayerSetting& s) const;
    /// Throws Error naming the first layer whose setting cannot be used (after fitted()).
    void checkSettings(const std::vector<LayerSetting>& settings) const;
    /// The setting a layer gets for s: s itself, or for a block format whose block does not
    /// divide the layer's rows, llama.cpp's fallback (q2_K, q3_K -> q4_0; q4_K -> q5_0; q5_K ->
    /// q5_1; q6_K -> q8_0; llama.cpp takes iq4_nl where Leger takes q4_0), and float16 when that
    /// does not divide them either. Sizes, evaluations and exports all apply it, so they agree.
    LayerSetting fitted(std::size_t layer, const LayerSetting& s) const;
    std::vector<LayerSetting> fitted(const std::vector<LayerSetting>& settings) const;

    /// The exact size of exportGguf's file for these settings (one per layer); microseconds.
    std::int64_t ggufBytes(const std::vector<LayerSetting>& settings) const;
    /// The same size broken down as for ONNX models: per layer its tensor's bytes (codes) and
    /// alignment padding (header); untouchedTensors = norms and biases with their padding;
    /// containerHeader = the GGUF header, metadata and tensor table; graphBytes 0.
    SizeReport sizeReport(const std::vector<LayerSetting>& settings) const;
    /// Writes the model as GGUF with each layer in its setting's type (float32, float16,
    /// bfloat16 or a block format), quantized from the original weights; the rest float32.
    /// Metadata: a GGUF source's own (without general.file_type); for Hugging Face sources the
    /// architecture's keys and the vocabulary, as llama.cpp's converter writes them. Atomic.
    void exportGguf(const std::vector<LayerSetting>& settings, const std::string& outPath,
                    const CancelToken* cancel = nullptr) const;

private:
    struct Impl;
    explicit LanguageModel(std::unique_ptr<Impl> d);
    GgufWriter layout(const std::vector<LayerSetting>& settings) const;
    std::unique_ptr<Impl> d_;
};

} // namespace leger
