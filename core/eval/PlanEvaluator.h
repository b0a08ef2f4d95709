#pragma once
// What the searches, the report and the GUI's engine need of an evaluator, whatever the model:
// its compressible layers, and the measured quality of a plan, refined step by step (chunks of
// samples for ONNX models, eval/Evaluator.h; windows of text for language models,
// llm/LlmEvaluator.h).

#include <cstdint>
#include <functional>
#include <vector>

#include "compress/LayerSetting.h"
#include "eval/Metrics.h"
#include "model/Layer.h"
#include "util/CancelToken.h"

namespace leger {

/// Per-layer result of applying a setting.
struct LayerStats {
    double weightSqnrDb = 0.0; // +inf when the weight is unchanged
    std::int64_t nonFinite = 0; // NaN/Inf weights in the original
};

/// The result for one plan (complete, or partial while it refines).
struct Evaluation {
    std::vector<LayerSetting> settings;
    Metrics metrics;
    std::vector<LayerStats> layers;
    std::int64_t samples = 0, total = 0; // evaluated so far, of
    bool complete() const { return samples == total; }
    double seconds = 0.0;                // wall time so far
    std::int64_t stepsRun = 0;           // nodes run, over all chunks (how much the cache saved)
};

class PlanEvaluator {
public:
    virtual ~PlanEvaluator() = default;

    virtual const std::vector<Layer>& layers() const = 0;
    /// Samples (ONNX: inputs; language models: windows) a complete evaluation covers.
    virtual std::int64_t sampleCount() const = 0;
    /// Samples per step, after each of which a partial result is reported.
    virtual std::int64_t chunkSize() const = 0;
    /// Called after each step with the partial result (in the calling thread).
    using Progress = std::function<void(const Evaluation&)>;
    /// Evaluates a plan (one setting per layer, in layers() order). Throws CancelledError when
    /// cancelled.
    virtual Evaluation evaluate(const std::vector<LayerSetting>& plan, const CancelToken* cancel = nullptr,
                                const Progress& progress = {}) = 0;
};

} // namespace leger
