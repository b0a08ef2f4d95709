// Times SizeModel::total() and SizeModel::report() for a plan of 1,000 synthetic layers (the
// GUI recomputes the size on every slider move; the goal is under 1 ms per call).
//   build/tests/bench/bench_size [layers]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "compress/Plan.h"
#include "compress/SizeReport.h"
#include "model/Layer.h"
#include "model/Model.h"

using namespace leger;

int main(int argc, char** argv)
{
    const int count = argc > 1 ? std::max(1, std::atoi(argv[1])) : 1000;
    Model model;
    std::vector<Layer> layers;
    for (int i = 0; i < count; ++i) {
        Layer l;
        l.name = "model.layers." + std::to_string(i) + ".mlp.weight";
        l.rows = 64 << (i % 5);
        l.cols = 576 + 64 * (i % 7);
        l.shape = {l.rows, l.cols};
        l.parameters = l.rows * l.cols;
        layers.push_back(l);
        model.graph.initializers.emplace(l.name, Tensor(DType::Float32, {1, 1})); // shape unused by SizeModel
        model.graph.initializers.emplace("model.layers." + std::to_string(i) + ".norm", Tensor(DType::Float32, {l.rows}));
    }
    const auto t0 = std::chrono::steady_clock::now();
    const SizeModel sizes(model, layers, 100000);
    const double buildUs = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();

    // Mixed settings: every format, pattern and granularity.
    std::mt19937 rng(1);
    std::vector<LayerSetting> settings(layers.size());
    for (LayerSetting& s : settings) {
        s.format = WeightFormat(rng() % 4);
        s.bits = 2 + static_cast<int>(rng() % 7);
        s.granularity = Granularity(rng() % 3);
        s.groupSize = 32 << (rng() % 3);
        s.symmetric = rng() % 2;
        s.pattern = SparsityPattern(rng() % 4);
        s.sparsity = double(rng() % 900) / 1000.0;
    }
    const auto time = [&](auto&& f) {
        double best = 1e30;
        for (int rep = 0; rep < 5; ++rep) {
            const int iters = 200;
            const auto a = std::chrono::steady_clock::now();
            for (int i = 0; i < iters; ++i)
                f();
            best = std::min(best, std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - a).count() / iters);
        }
        return best;
    };
    volatile std::int64_t sink = 0;
    const double totalUs = time([&] { sink = sink + sizes.total(settings); });
    const double reportUs = time([&] { sink = sink + sizes.report(settings).total; });
    const SizeReport r = sizes.report(settings);
    std::printf("layers %d  build %.1f us  total() %.2f us  report() %.2f us  (size %lld bytes, %.3f bits/weight)\n",
                count, buildUs, totalUs, reportUs, static_cast<long long>(r.total), r.bitsPerWeight);

    // Plan::resolve as a GUI session uses it: one exact entry per layer plus a few patterns.
    Plan plan;
    plan.setEntry("model.layers.1*", LayerOverride{.bits = 4});
    plan.setEntry("*.mlp.weight", LayerOverride{.format = WeightFormat::Int});
    for (std::size_t i = 0; i < layers.size(); ++i)
        plan.setLayer(layers[i].name, settings[i]);
    const double resolveUs = time([&] { sink = sink + static_cast<std::int64_t>(plan.resolve(layers).size()); });
    std::printf("Plan::resolve with %zu entries: %.1f us\n", plan.entries().size(), resolveUs);
    return 0;
}
