#include "report/ResultJson.h"

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

std::string evaluationJson(const Evaluation& e, const SizeReport& size, const std::vector<Layer>& layers,
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
    return j.dump(2);
}

std::string sensitivityJson(const SensitivityTable& t, const std::vector<Layer>& layers)
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
    return j.dump(2);
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

} // namespace leger
