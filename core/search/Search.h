#pragma once
// Searches over plans, all run through the same Evaluator (so every reported point is
// measured): per-layer sensitivity, the size/quality frontier, and plans that fit a budget.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "compress/LayerSetting.h"
#include "eval/PlanEvaluator.h"

namespace leger {

/// Quality of an evaluation on one scale where higher is better: the named metric's value
/// ("top1", "agreement", "sqnr_db" (capped at 100 dB)), or its negation for the metrics where
/// lower is better ("kl", and for language models "perplexity" and "nll"): a drop in
/// perplexity is its increase.
double quality(const Evaluation& e, const std::string& metric);
/// The metric a search optimises by default: perplexity for language models, top1 with
/// labels, else agreement for classifiers, else sqnr_db.
std::string defaultMetric(const Evaluation& baseline);

/// Exact size in bytes of a plan (from SizeReport), given to the searches.
using SizeFunction = std::function<std::int64_t(const std::vector<LayerSetting>&)>;
/// Progress of a search: points done and to do, and a description of the current one.
using SearchProgress = std::function<void(std::int64_t done, std::int64_t total, const std::string& what)>;

struct SensitivityTable {
    std::string metric;
    double baseline = 0.0;                  // quality of the uncompressed model
    std::vector<LayerSetting> settings;     // the columns
    /// drop[layer][setting]: baseline quality minus the quality with that layer alone at
    /// that setting (everything else uncompressed). Positive is worse.
    std::vector<std::vector<double>> drop;
    std::vector<std::vector<Evaluation>> evaluations;
};

/// Each layer alone at each setting (layers × settings evaluations, reusing the activation
/// cache so that each re-runs only the nodes from its layer on).
SensitivityTable sensitivityScan(PlanEvaluator& evaluator, const std::vector<LayerSetting>& settings,
                                 const std::string& metric = {}, const CancelToken* cancel = nullptr,
                                 const SearchProgress& progress = {});

struct FrontierPoint {
    std::vector<LayerSetting> plan;
    std::int64_t sizeBytes = 0;
    Evaluation evaluation;
    double quality = 0.0;
    bool pareto = false; // no other point is both smaller (or equal) and better (or equal)
};

/// A path of plans from uncompressed to every layer at the last (most aggressive) setting:
/// from the current plan, each step moves the one layer whose next setting saves the most
/// bytes per unit of predicted quality drop (from the table), and every `every`-th plan (and
/// the last) is evaluated for real. Returns the evaluated points, Pareto-optimal ones marked.
/// `table.settings` must be ordered from mildest to most aggressive.
std::vector<FrontierPoint> frontierSweep(PlanEvaluator& evaluator, const SensitivityTable& table, const SizeFunction& size,
                                         int points = 12, const CancelToken* cancel = nullptr,
                                         const SearchProgress& progress = {});

struct BudgetResult {
    bool found = false;
    FrontierPoint best;                 // measured
    std::vector<FrontierPoint> tried;   // every plan evaluated on the way
    std::string message;                // why nothing was found, or how it was repaired
};

/// The smallest plan whose measured quality drop is at most maxDrop: chosen on the table's
/// predictions along the greedy path, then verified by evaluation and repaired (stepping back
/// along the path until the measured drop fits, or forward while it still does).
BudgetResult fitMaxDrop(PlanEvaluator& evaluator, const SensitivityTable& table, const SizeFunction& size, double maxDrop,
                        const CancelToken* cancel = nullptr, const SearchProgress& progress = {});
/// The most accurate plan of at most budgetBytes: the first plan on the greedy path under the
/// budget, verified; then each layer is tried one setting milder while the plan stays under the
/// budget, keeping measured improvements.
BudgetResult fitBudget(PlanEvaluator& evaluator, const SensitivityTable& table, const SizeFunction& size,
                       std::int64_t budgetBytes, const CancelToken* cancel = nullptr,
                       const SearchProgress& progress = {});

} // namespace leger
