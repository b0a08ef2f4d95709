#pragma once
// Measures a language model under compression plans on a text (DESIGN.md "Definitions", language
// models), window by window with a partial result after each window, as the ONNX Evaluator does
// chunk by chunk, so the GUI's live loop and the searches run on language models too.
//
// Windows are llama.cpp's perplexity windows (llm/Decoder.h perplexity): consecutive runs of nCtx
// tokens, each evaluated from scratch, the second half of each scored; when the vocabulary adds a
// BOS token, the text starts with one and each window's first token is replaced by it. For every scored token:
//   perplexity  exp(mean negative log-likelihood of the next token); interval exp(mean ± 1.96 SE)
//   kl          KL(P_uncompressed || P_plan) of the next-token distributions, nats, mean ± 1.96 SE
//   agreement   whether the plan's most likely next token is the uncompressed model's (Wilson)
//   nll         the mean negative log-likelihood itself (nats), mean ± 1.96 SE
// The uncompressed model's log-probabilities are computed once per window, on first need, and
// kept for every later plan (Options::logitBudget bounds them).

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "compress/LayerSetting.h"
#include "eval/PlanEvaluator.h"
#include "model/Layer.h"
#include "util/CancelToken.h"

namespace leger {

class Decoder;
class LanguageModel;

class LlmEvaluator : public PlanEvaluator {
public:
    struct Options {
        std::int64_t nCtx = 0;     // window length (0: the model's context, at most 512)
        std::int64_t limit = -1;   // evaluate the first N windows (all: -1)
        std::size_t logitBudget = std::size_t{2} << 30; // bytes of kept uncompressed log-probabilities
        std::size_t weightBudget = std::size_t{512} << 20; // bytes of dequantized weights kept for reuse
    };

    /// model must outlive the evaluator; a plan's weights run in place of the decoder's (which
    /// stay as they are) as Decoder::forward's substitutes. Throws Error when the text is shorter than one window or the
    /// kept log-probabilities would exceed the budget (saying how many windows fit).
    LlmEvaluator(LanguageModel& model, std::vector<std::int32_t> tokens, Options options);
    LlmEvaluator(LanguageModel& model, std::vector<std::int32_t> tokens);
    /// Keeps the model alive as long as the evaluator (the GUI's engine worker owns it so).
    LlmEvaluator(std::shared_ptr<LanguageModel> model, std::vector<std::int32_t> tokens, Options options);

    const std::vector<Layer>& layers() const override;
    /// Windows evaluated per plan, and tokens scored in each.
    std::int64_t sampleCount() const override { return windows_; }
    /// Windows between two partial results (about 16 per evaluation; the first comes after one).
    std::int64_t chunkSize() const override { return std::max<std::int64_t>(1, windows_ / 16); }
    std::int64_t windowLength() const { return nCtx_; }
    std::int64_t scoredPerWindow() const { return nCtx_ - nCtx_ / 2 - 1; }

    /// Evaluates a plan (one setting per layer; LanguageModel::checkSettings' rules). Throws
    /// CancelledError when cancelled (between layers of a window).
    Evaluation evaluate(const std::vector<LayerSetting>& plan, const CancelToken* cancel = nullptr,
                        const Progress& progress = {}) override;
    /// Another model of the same vocabulary (the plan's export read back) measured on the same
    /// windows against this evaluator's uncompressed log-probabilities: the numbers the export
    /// gives, comparable with evaluate()'s. settings: recorded in the result.
    Evaluation evaluateModel(Decoder& other, const std::vector<LayerSetting>& settings, const CancelToken* cancel = nullptr);

private:
    Evaluation run(const std::vector<LayerSetting>& plan, Decoder* other, const CancelToken* cancel, const Progress& progress);
    void applyPlan(const std::vector<LayerSetting>& plan, std::vector<LayerStats>& stats);
    void baseline(std::int64_t w, const CancelToken* cancel);
    void windowTokens(std::int64_t w);

    std::shared_ptr<LanguageModel> owner_;
    LanguageModel& model_;
    std::vector<std::int32_t> tokens_;
    std::int64_t nCtx_ = 0, windows_ = 0, vocab_ = 0;
    // Dequantized weights by layer and setting, so that a slider moved back and forth does not
    // quantize again (the least recently used beyond weightBudget are dropped, never the current
    // plan's). The current plan's are the substitutes of each window's forward pass.
    struct CachedWeight {
        std::size_t layer;
        LayerSetting setting;
        Tensor weight;
        LayerStats stats;
        std::uint64_t used;
    };
    std::vector<std::unique_ptr<CachedWeight>> cache_;
    std::vector<Tensor*> planned_; // into cache_; null where the layer is uncompressed
    std::vector<std::pair<const Tensor*, const Tensor*>> substitutes_; // the planned weights for Decoder::forward
    std::vector<LayerStats> stats_;
    std::vector<std::int64_t> originalNonFinite_; // per layer
    std::size_t cacheBytes_ = 0, weightBudget_ = 0;
    std::uint64_t useClock_ = 0;
    // Per window: the uncompressed log-probabilities of its scored positions, their top token.
    std::vector<bool> baseDone_;
    std::vector<float> baseLogp_;
    std::vector<std::int32_t> baseTop_;
    std::vector<std::int32_t> window_;
    std::vector<float> logits_;
};

} // namespace leger
