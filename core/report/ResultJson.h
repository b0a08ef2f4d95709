#pragma once
// Machine-readable results, one JSON document each, as `leger-cli ... --json` prints them and
// reports embed them. Non-finite numbers (an SQNR of identical weights) are written as null.

#include <string>
#include <vector>

#include "compress/SizeReport.h"
#include "eval/Evaluator.h"
#include "model/Layer.h"
#include "search/Search.h"

namespace leger {

struct ReportData;

/// size_bytes, bits_per_weight, ratios, size_breakdown, samples, metrics {name: {value, low,
/// high, n}}, per_class, confusion (with class names when given), and layers [{name, setting,
/// bytes, bytes_detail {codes, sparsity, scales, zero_points, header}, kept_weights,
/// weight_sqnr_db, non_finite}].
std::string evaluationJson(const Evaluation& e, const SizeReport& size, const std::vector<Layer>& layers,
                           const std::vector<std::string>& classNames = {});
/// metric, baseline, settings, and layers [{name, parameters, drop: [...]}].
std::string sensitivityJson(const SensitivityTable& t, const std::vector<Layer>& layers);
/// points [{size_bytes, quality, pareto, metrics, plan: {layer: spec}}].
std::string frontierJson(const std::vector<FrontierPoint>& points, const std::vector<Layer>& layers,
                         const std::string& metric);
/// Everything a report shows, for tools: model, data, metric, limits, ready and the checklist,
/// baseline and plan (as evaluationJson), the export check, presets, frontier, sensitivity and
/// other models, every point with its size, metrics and plan.
std::string reportJson(const ReportData& report);
/// found, message, best (a point as above) and tried.
std::string budgetJson(const BudgetResult& r, const std::vector<Layer>& layers, const std::string& metric);

} // namespace leger
