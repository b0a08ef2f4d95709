#include "search/Search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "util/Error.h"

namespace leger {

double quality(const Evaluation& e, const std::string& metric)
{
    const Interval* v = e.metrics.find(metric);
    if (!v)
        throw Error("metric '" + metric + "' is not available for this model and data");
    if (metric == "kl" || metric == "perplexity" || metric == "nll") // lower is better
        return -v->value;
    if (metric == "sqnr_db")
        return std::isnan(v->value) ? -100.0 : std::clamp(v->value, -100.0, 100.0);
    return v->value;
}

std::string defaultMetric(const Evaluation& baseline)
{
    for (const char* m : {"perplexity", "top1", "agreement", "sqnr_db"})
        if (baseline.metrics.find(m))
            return m;
    throw Error("the model's output gives no metric to search on");
}

SensitivityTable sensitivityScan(PlanEvaluator& evaluator, const std::vector<LayerSetting>& settings,
                                 const std::string& metric, const CancelToken* cancel, const SearchProgress& progress)
{
    const std::size_t L = evaluator.layers().size();
    const std::vector<LayerSetting> none(L);
    const Evaluation base = evaluator.evaluate(none, cancel);
    SensitivityTable t;
    t.metric = metric.empty() ? defaultMetric(base) : metric;
    t.baseline = quality(base, t.metric);
    t.settings = settings;
    t.drop.assign(L, std::vector<double>(settings.size(), 0.0));
    t.evaluations.assign(L, std::vector<Evaluation>(settings.size()));
    const auto total = static_cast<std::int64_t>(L * settings.size());
    std::int64_t done = 0;
    // Later layers first: their runs restore the most from the cache of the baseline.
    for (std::size_t i = L; i-- > 0;) {
        for (std::size_t s = 0; s < settings.size(); ++s) {
            if (progress)
                progress(done, total, evaluator.layers()[i].name + " at " + settings[s].label());
            std::vector<LayerSetting> plan = none;
            plan[i] = settings[s];
            t.evaluations[i][s] = evaluator.evaluate(plan, cancel);
            t.drop[i][s] = t.baseline - quality(t.evaluations[i][s], t.metric);
            ++done;
        }
    }
    if (progress)
        progress(done, total, "done");
    return t;
}

namespace {

/// The greedy path: plans from uncompressed to every layer at the last setting, and each one's
/// size and predicted drop.
struct Path {
    std::vector<std::vector<int>> levels; // per plan, per layer: -1 uncompressed, else a column
    std::vector<std::int64_t> sizes;
    std::vector<double> predicted;
};

std::vector<LayerSetting> planOf(const SensitivityTable& t, const std::vector<int>& levels)
{
    std::vector<LayerSetting> plan(levels.size());
    for (std::size_t i = 0; i < levels.size(); ++i)
        if (levels[i] >= 0)
            plan[i] = t.settings[static_cast<std::size_t>(levels[i])];
    return plan;
}

Path greedyPath(const SensitivityTable& t, const SizeFunction& size)
{
    const std::size_t L = t.drop.size(), S = t.settings.size();
    if (S == 0)
        throw Error("the search needs at least one setting");
    // Sizes add up per layer: measure each layer's size at each level once.
    const std::vector<LayerSetting> none(L);
    const std::int64_t base = size(none);
    std::vector<std::vector<std::int64_t>> layerSize(L, std::vector<std::int64_t>(S + 1, 0)); // [0]: uncompressed
    for (std::size_t i = 0; i < L; ++i)
        for (std::size_t s = 0; s < S; ++s) {
            std::vector<LayerSetting> plan = none;
            plan[i] = t.settings[s];
            layerSize[i][s + 1] = size(plan) - base;
        }
    Path p;
    std::vector<int> levels(L, -1);
    std::int64_t current = base;
    double predicted = 0;
    p.levels.push_back(levels);
    p.sizes.push_back(current);
    p.predicted.push_back(0);
    while (true) {
        double bestScore = -std::numeric_limits<double>::infinity();
        std::size_t best = L;
        for (std::size_t i = 0; i < L; ++i) {
            if (levels[i] + 1 >= static_cast<int>(S))
                continue;
            const int next = levels[i] + 1;
            const double saved = static_cast<double>(layerSize[i][static_cast<std::size_t>(levels[i] + 1)] -
                                                     layerSize[i][static_cast<std::size_t>(next + 1)]);
            const double before = levels[i] < 0 ? 0.0 : t.drop[i][static_cast<std::size_t>(levels[i])];
            const double cost = std::max(t.drop[i][static_cast<std::size_t>(next)] - before, 0.0);
            // Bytes saved per point of predicted drop; free moves first, largest saving first.
            const double score = cost <= 1e-12 ? 1e30 + saved : saved / cost;
            if (score > bestScore) {
                bestScore = score;
                best = i;
            }
        }
        if (best == L)
            break;
        const int next = levels[best] + 1;
        predicted += t.drop[best][static_cast<std::size_t>(next)] -
                     (levels[best] < 0 ? 0.0 : t.drop[best][static_cast<std::size_t>(levels[best])]);
        current += layerSize[best][static_cast<std::size_t>(next + 1)] -
                   layerSize[best][static_cast<std::size_t>(levels[best] + 1)];
        levels[best] = next;
        p.levels.push_back(levels);
        p.sizes.push_back(current);
        p.predicted.push_back(predicted);
    }
    return p;
}

FrontierPoint measure(PlanEvaluator& ev, const SensitivityTable& t, const Path& p, std::size_t idx, const SizeFunction& size,
                      const CancelToken* cancel)
{
    FrontierPoint f;
    f.plan = planOf(t, p.levels[idx]);
    f.sizeBytes = size(f.plan);
    f.evaluation = ev.evaluate(f.plan, cancel);
    f.quality = quality(f.evaluation, t.metric);
    return f;
}

void markPareto(std::vector<FrontierPoint>& pts)
{
    for (auto& a : pts) {
        a.pareto = true;
        for (const auto& b : pts)
            if (&a != &b && b.sizeBytes <= a.sizeBytes && b.quality >= a.quality &&
                (b.sizeBytes < a.sizeBytes || b.quality > a.quality))
                a.pareto = false;
    }
}

} // namespace

std::vector<FrontierPoint> frontierSweep(PlanEvaluator& evaluator, const SensitivityTable& table, const SizeFunction& size,
                                         int points, const CancelToken* cancel, const SearchProgress& progress)
{
    const Path path = greedyPath(table, size);
    // Plans at evenly spaced sizes along the path (and both ends).
    std::vector<std::size_t> picks;
    const std::int64_t s0 = path.sizes.front(), s1 = path.sizes.back();
    points = std::max(points, 2);
    for (int j = 0; j < points; ++j) {
        const double target = static_cast<double>(s0) + static_cast<double>(s1 - s0) * j / (points - 1);
        std::size_t idx = 0;
        while (idx + 1 < path.sizes.size() && static_cast<double>(path.sizes[idx]) > target)
            ++idx;
        if (picks.empty() || picks.back() != idx)
            picks.push_back(idx);
    }
    if (picks.back() != path.sizes.size() - 1)
        picks.push_back(path.sizes.size() - 1);
    // Sizes along the path jump (one large layer moving): fill up to `points` by index.
    for (std::size_t j = 1; picks.size() < static_cast<std::size_t>(points) && picks.size() < path.sizes.size(); ++j) {
        std::vector<std::size_t> more;
        for (std::size_t k = 0; k + 1 < picks.size() && picks.size() + more.size() < static_cast<std::size_t>(points); ++k)
            if (picks[k + 1] - picks[k] > 1)
                more.push_back((picks[k] + picks[k + 1]) / 2);
        if (more.empty())
            break;
        picks.insert(picks.end(), more.begin(), more.end());
        std::sort(picks.begin(), picks.end());
    }
    std::vector<FrontierPoint> out;
    for (std::size_t j = 0; j < picks.size(); ++j) {
        if (progress)
            progress(static_cast<std::int64_t>(j), static_cast<std::int64_t>(picks.size()),
                     "plan " + std::to_string(j + 1) + " of " + std::to_string(picks.size()));
        out.push_back(measure(evaluator, table, path, picks[j], size, cancel));
    }
    markPareto(out);
    if (progress)
        progress(static_cast<std::int64_t>(picks.size()), static_cast<std::int64_t>(picks.size()), "done");
    return out;
}

BudgetResult fitMaxDrop(PlanEvaluator& evaluator, const SensitivityTable& table, const SizeFunction& size, double maxDrop,
                        const CancelToken* cancel, const SearchProgress& progress)
{
    const Path path = greedyPath(table, size);
    BudgetResult r;
    // The path's plans get smaller as they go; find the last whose measured drop fits, by
    // bisection seeded with the table's prediction (plan 0, uncompressed, always fits).
    std::size_t lo = 0, hi = path.sizes.size(); // lo fits; hi and beyond are unknown or fail
    std::size_t probe = 0;
    for (std::size_t i = 0; i < path.predicted.size(); ++i)
        if (path.predicted[i] <= maxDrop)
            probe = i;
    auto test = [&](std::size_t idx) {
        if (progress)
            progress(static_cast<std::int64_t>(r.tried.size()), -1, "checking plan " + std::to_string(idx) + " of the path");
        FrontierPoint f = measure(evaluator, table, path, idx, size, cancel);
        const bool ok = table.baseline - f.quality <= maxDrop;
        r.tried.push_back(f);
        if (ok && (!r.found || f.sizeBytes < r.best.sizeBytes)) {
            r.found = true;
            r.best = f;
        }
        return ok;
    };
    if (probe > 0) {
        if (test(probe))
            lo = probe;
        else
            hi = probe;
    }
    while (hi - lo > 1) {
        const std::size_t mid = lo + (hi - lo) / 2;
        if (test(mid))
            lo = mid;
        else
            hi = mid;
    }
    if (!r.found) {
        FrontierPoint f = measure(evaluator, table, path, 0, size, cancel);
        r.tried.push_back(f);
        r.found = true;
        r.best = f;
        r.message = "no compressed plan on the path keeps the drop within the limit; the uncompressed model is returned";
    } else {
        r.message = "predicted plan " + std::to_string(probe) + ", measured best plan " + std::to_string(lo) + " of " +
                    std::to_string(path.sizes.size() - 1) + " on the path";
    }
    markPareto(r.tried);
    return r;
}

BudgetResult fitBudget(PlanEvaluator& evaluator, const SensitivityTable& table, const SizeFunction& size,
                       std::int64_t budgetBytes, const CancelToken* cancel, const SearchProgress& progress)
{
    const Path path = greedyPath(table, size);
    BudgetResult r;
    std::size_t idx = 0;
    while (idx < path.sizes.size() && path.sizes[idx] > budgetBytes)
        ++idx;
    if (idx == path.sizes.size()) {
        r.message = "even the smallest plan (" + std::to_string(path.sizes.back()) + " bytes) exceeds the budget";
        return r;
    }
    r.best = measure(evaluator, table, path, idx, size, cancel);
    r.tried.push_back(r.best);
    r.found = true;
    // Repair: try each layer one setting milder (most sensitive first) while the plan fits.
    std::vector<int> levels = path.levels[idx];
    std::vector<std::size_t> order(levels.size());
    std::iota(order.begin(), order.end(), 0);
    auto sensitivity = [&](std::size_t i) { return levels[i] < 0 ? 0.0 : table.drop[i][static_cast<std::size_t>(levels[i])]; };
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return sensitivity(a) > sensitivity(b); });
    int tries = 0;
    for (std::size_t i : order) {
        if (levels[i] < 0 || tries >= 16)
            continue;
        std::vector<int> milder = levels;
        --milder[i];
        std::vector<LayerSetting> plan = planOf(table, milder);
        const std::int64_t bytes = size(plan);
        if (bytes > budgetBytes)
            continue;
        ++tries;
        if (progress)
            progress(tries, 16, "trying " + evaluator.layers()[i].name + " milder");
        FrontierPoint f;
        f.plan = plan;
        f.sizeBytes = bytes;
        f.evaluation = evaluator.evaluate(plan, cancel);
        f.quality = quality(f.evaluation, table.metric);
        r.tried.push_back(f);
        if (f.quality > r.best.quality) {
            r.best = f;
            levels = milder;
        }
    }
    r.message = "plan " + std::to_string(idx) + " of the path, then " + std::to_string(tries) + " repairs tried";
    markPareto(r.tried);
    return r;
}

} // namespace leger
