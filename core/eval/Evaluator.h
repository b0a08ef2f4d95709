#pragma once
// Runs a model under compression plans on evaluation data (DESIGN.md "Data flow"): each plan's
// dequantized weights replace the originals, the data runs chunk by chunk with partial results
// after each chunk, a cancel token stops it at the next chunk or node boundary, and only the
// nodes downstream of what changed since a cached run are re-run.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compress/LayerSetting.h"
#include "data/Preprocessing.h"
#include "eval/Metrics.h"
#include "eval/PlanEvaluator.h"
#include "model/Layer.h"
#include "util/CancelToken.h"

namespace leger {

class Dataset;
class Model;

class Evaluator : public PlanEvaluator {
public:
    struct Options {
        std::int64_t limit = -1;                         // evaluate the first N samples (all: -1)
        std::size_t activationBudget = std::size_t{512} << 20; // bytes of cached activations
        std::size_t weightBudget = std::size_t{512} << 20;     // bytes of cached dequantized weights
        std::size_t inputBudget = std::size_t{1} << 30;        // preprocessed inputs kept beyond this are rebuilt
        std::size_t outputBudget = std::size_t{1} << 30;       // uncompressed outputs kept beyond this are recomputed
        bool incremental = true;                         // reuse cached activations
    };

    /// The model, data and preprocessing must outlive the Evaluator. Throws Error when the data
    /// does not fit the model (names the file) and UnsupportedError for unsupported ops.
    Evaluator(const Model& model, const Dataset& data, Preprocessing pre, Options options);
    Evaluator(const Model& model, const Dataset& data, Preprocessing pre);
    ~Evaluator();
    Evaluator(const Evaluator&) = delete;
    Evaluator& operator=(const Evaluator&) = delete;

    const std::vector<Layer>& layers() const override { return layers_; }
    std::int64_t sampleCount() const override { return total_; }
    /// Samples per chunk (fixed for the Evaluator's life, so every run splits the data alike).
    std::int64_t chunkSize() const override { return chunk_; }

    /// Evaluates a plan (one setting per layer, in layers() order) on the model's first float32
    /// output that carries the batch. Throws CancelledError when
    /// cancelled. The uncompressed model's outputs (for agreement, flips, KL) are computed on
    /// the first call and kept.
    Evaluation evaluate(const std::vector<LayerSetting>& plan, const CancelToken* cancel = nullptr,
                        const Progress& progress = {}) override;

    /// Another model with the same input and output (the export of a plan, read back) run on
    /// the same samples, compared with this model's uncompressed outputs and the labels: its
    /// Evaluation equals that of the plan it was exported from when the file holds exactly the
    /// weights evaluated. Throws Error naming other.path when it does not fit.
    Evaluation evaluateModel(const Model& other, const CancelToken* cancel = nullptr);

    /// The dequantized weight of layer i under a setting (cached), as evaluation uses it.
    std::shared_ptr<const Tensor> weight(std::size_t layer, const LayerSetting& setting);
    /// Bytes held by the caches, for benchmarks and the UI.
    std::size_t cachedActivationBytes() const;
    void clearActivationCache();

private:
    struct Impl;
    std::unique_ptr<Impl> d_;
    std::vector<Layer> layers_;
    std::int64_t total_ = 0;
    std::int64_t chunk_ = 0;
};

} // namespace leger
