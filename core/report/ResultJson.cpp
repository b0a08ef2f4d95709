#include "report/ResultJson.h"

#include "report/Report.h"

#include <cmath>

#include <nlohmann/json.hpp>

namespace leger {

namespace {

using nlohmann::ordered_json;

ordered_json number(double v) { return std::isfinite(v) ? ordered_json(v) : ordered_json(nullptr); }

ordered_json interval(const Interval& i)
{
    return {{"value", number(i.value)}, {"low", number(i.low)}, {"high", number(i.high)}, {"n", i.n}};
}

ordered_json metricsJson(const Metrics& m)
{
    ordered_json out = ordered_json::object();
    for (const auto& [name, v] : m.values)
        out[name] = interval(v);
    return out;
}

ordered_json planJson(const std::vector<LayerSetting>& plan, const std::vector<Layer>& layers)
{
    ordered_json out = ordered_json::object();
    for (std::size_t i = 0; i < plan.size() && i < layers.size(); ++i)
        out[layers[i].name] = settingSpec(plan[i]);
    return out;
}

ordered_json pointJson(const FrontierPoint& p, const std::vector<Layer>& layers, const std::string& metric)
{
    return {{"size_bytes", p.sizeBytes},
            {metric, number(p.quality)},
            {"pareto", p.pareto},
            {"samples", p.evaluation.samples},
            {"metrics", metricsJson(p.evaluation.metrics)},
            {"plan", planJson(p.plan, layers)}};
}

} // namespace

ordered_json evaluationObject(const Evaluation& e, const SizeReport& size, const std::vector<Layer>& layers,
                              const std::vector<std::string>& classNames)
{
    ordered_json j;
    j["size_bytes"] = size.total;
    j["bits_per_weight"] = number(size.bitsPerWeight);
    j["original_bytes"] = size.originalBytes;
    j["float32_bytes"] = size.float32Bytes;
    j["ratio_to_original"] = number(size.ratioToOriginal);
    j["ratio_to_float32"] = number(size.ratioToFloat32);
    j["size_breakdown"] = {{"layers", size.total - size.untouchedTensors - size.tensorHeaders - size.containerHeader -
                                          size.graphBytes},
                           {"untouched_tensors", size.untouchedTensors + size.tensorHeaders},
                           {"graph", size.graphBytes},
                           {"container_header", size.containerHeader}};
    j["samples"] = e.samples;
    j["non_finite_outputs"] = e.metrics.nonFinite;
    j["seconds"] = e.seconds;
    j["metrics"] = metricsJson(e.metrics);
    if (!e.metrics.perClass.empty()) {
        ordered_json pc = ordered_json::array();
        for (std::size_t c = 0; c < e.metrics.perClass.size(); ++c) {
            ordered_json x = interval(e.metrics.perClass[c]);
            if (c < classNames.size())
                x["class"] = classNames[c];
            pc.push_back(x);
        }
        j["per_class"] = pc;
        j["confusion"] = e.metrics.confusion;
        j["flips"] = {{"lost", e.metrics.lost}, {"gained", e.metrics.gained}};
    }
    ordered_json ls = ordered_json::array();
    for (std::size_t i = 0; i < layers.size(); ++i) {
        ordered_json l = {{"name", layers[i].name}, {"op", layers[i].opType}, {"parameters", layers[i].parameters}};
        if (i < e.settings.size())
            l["setting"] = settingSpec(e.settings[i]);
        if (i < size.layers.size()) {
            const LayerBytes& b = size.layers[i];
            l["bytes"] = b.total();
            l["bytes_detail"] = {{"codes", b.codes},     {"sparsity", b.sparsity}, {"scales", b.scales},
                                 {"zero_points", b.zeroPoints}, {"header", b.header}};
            l["kept_weights"] = b.stored;
        }
        if (i < e.layers.size()) {
            l["weight_sqnr_db"] = number(e.layers[i].weightSqnrDb);
            l["non_finite"] = e.layers[i].nonFinite;
        }
        ls.push_back(l);
    }
    j["layers"] = ls;
    return j;
}

std::string evaluationJson(const Evaluation& e, const SizeReport& size, const std::vector<Layer>& layers,
                           const std::vector<std::string>& classNames)
{
    return evaluationObject(e, size, layers, classNames).dump(2);
}

ordered_json sensitivityObject(const SensitivityTable& t, const std::vector<Layer>& layers)
{
    ordered_json j;
    j["metric"] = t.metric;
    j["baseline"] = number(t.baseline);
    ordered_json settings = ordered_json::array();
    for (const auto& s : t.settings)
        settings.push_back(settingSpec(s));
    j["settings"] = settings;
    ordered_json ls = ordered_json::array();
    for (std::size_t i = 0; i < t.drop.size() && i < layers.size(); ++i) {
        ordered_json drops = ordered_json::array();
        for (double d : t.drop[i])
            drops.push_back(number(d));
        ls.push_back({{"name", layers[i].name}, {"parameters", layers[i].parameters}, {"drop", drops}});
    }
    j["layers"] = ls;
    return j;
}

std::string sensitivityJson(const SensitivityTable& t, const std::vector<Layer>& layers)
{
    return sensitivityObject(t, layers).dump(2);
}

std::string frontierJson(const std::vector<FrontierPoint>& points, const std::vector<Layer>& layers,
                         const std::string& metric)
{
    ordered_json j;
    j["metric"] = metric;
    ordered_json ps = ordered_json::array();
    for (const auto& p : points)
        ps.push_back(pointJson(p, layers, metric));
    j["points"] = ps;
    return j.dump(2);
}

std::string budgetJson(const BudgetResult& r, const std::vector<Layer>& layers, const std::string& metric)
{
    ordered_json j;
    j["metric"] = metric;
    j["found"] = r.found;
    j["message"] = r.message;
    if (r.found)
        j["best"] = pointJson(r.best, layers, metric);
    ordered_json tried = ordered_json::array();
    for (const auto& p : r.tried)
        tried.push_back(pointJson(p, layers, metric));
    j["tried"] = tried;
    return j.dump(2);
}

std::string reportJson(const ReportData& r)
{
    auto measured = [&](const MeasuredPlan& p, const std::vector<Layer>& layers) {
        return ordered_json{{"label", p.label},
                            {"size_bytes", p.size.total},
                            {"bits_per_weight", number(p.size.bitsPerWeight)},
                            {"pareto", p.pareto},
                            {"samples", p.evaluation.samples},
                            {"metrics", metricsJson(p.evaluation.metrics)},
                            {"plan", planJson(p.settings, layers)}};
    };
    ordered_json j;
    j["title"] = r.title;
    j["created"] = r.created;
    j["leger_version"] = r.legerVersion;
    j["model"] = {{"path", r.modelPath},
                  {"file_bytes", r.modelFileBytes},
                  {"parameters", r.parameters},
                  {"layer_parameters", r.layerParameters}};
    j["data"] = {{"source", r.dataSource},        {"samples", r.samples}, {"labelled", r.labelled},
                 {"synthetic", r.synthetic},      {"classes", r.classes}, {"class_names", r.classNames},
                 {"preprocessing", r.preprocessing}};
    if (r.languageModel) {
        j["model"]["kind"] = r.producer;
        j["data"]["window_tokens"] = r.windowTokens;
        j["data"]["scored_tokens"] = r.scoredTokens;
    }
    j["metric"] = r.metric;
    j["max_drop"] = r.maxDrop ? number(*r.maxDrop) : ordered_json(nullptr);
    j["budget_bytes"] = r.budgetBytes ? ordered_json(*r.budgetBytes) : ordered_json(nullptr);
    j["ready"] = r.ready();
    ordered_json checks = ordered_json::array();
    for (const CheckItem& c : r.checklist)
        checks.push_back({{"title", c.title}, {"status", toString(c.status)}, {"evidence", c.evidence}});
    j["checklist"] = checks;
    j["baseline"] = evaluationObject(r.baseline.evaluation, r.baseline.size, r.layers, r.classNames);
    j["plan"] = evaluationObject(r.plan.evaluation, r.plan.size, r.layers, r.classNames);
    j["plan"]["label"] = r.plan.label;
    j["export_check"] = {{"format", r.exportFormat},
                         {"bytes", r.exportBytes},
                         {"path", r.exportPath.empty() ? ordered_json(nullptr) : ordered_json(r.exportPath)},
                         {"metrics", r.reloaded ? metricsJson(r.reloaded->metrics) : ordered_json(nullptr)}};
    ordered_json presets = ordered_json::array(), frontier = ordered_json::array(), others = ordered_json::array();
    for (const MeasuredPlan& p : r.presets)
        presets.push_back(measured(p, r.layers));
    for (const MeasuredPlan& p : r.frontier)
        frontier.push_back(measured(p, r.layers));
    for (const ComparedModel& c : r.comparisons) {
        ordered_json points = ordered_json::array();
        for (const MeasuredPlan& p : c.points)
            points.push_back(measured(p, c.layers));
        others.push_back({{"path", c.path}, {"name", c.name}, {"parameters", c.parameters}, {"points", points}});
    }
    j["presets"] = presets;
    j["frontier"] = frontier;
    j["sensitivity"] = r.sensitivity ? sensitivityObject(*r.sensitivity, r.layers) : ordered_json(nullptr);
    j["comparisons"] = others;
    return j.dump(2);
}

} // namespace leger
