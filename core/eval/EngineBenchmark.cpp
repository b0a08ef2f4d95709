#include "eval/EngineBenchmark.h"

#include <chrono>
#include <random>

#include <nlohmann/json.hpp>

#include "compress/Compressor.h"
#include "compress/Quantizer.h"
#include "compress/SizeReport.h"
#include "data/Dataset.h"
#include "eval/Evaluator.h"
#include "model/Model.h"
#include "util/Error.h"

namespace leger {

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

LayerSetting int8Channel()
{
    LayerSetting s;
    s.format = WeightFormat::Int;
    s.bits = 8;
    return s;
}

/// GB/s of float32 input through the quantizer's fast path (int8 per channel, output buffers
/// reused as the engine reuses them), over the layers' matrices, for at least `seconds`.
double quantizeGbps(const std::vector<Layer>& layers, const std::vector<const Tensor*>& weights, double seconds)
{
    std::vector<std::vector<float>> matrices;
    for (std::size_t i = 0; i < layers.size(); ++i)
        matrices.push_back(layerMatrix(layers[i], *weights[i]));
    std::vector<CompressedWeight> out(layers.size());
    std::int64_t bytes = 0;
    const auto start = Clock::now();
    do {
        for (std::size_t i = 0; i < layers.size(); ++i) {
            Quantizer::quantizeInto(matrices[i].data(), layers[i].rows, layers[i].cols, {}, int8Channel(), out[i]);
            bytes += layers[i].parameters * 4;
        }
    } while (msSince(start) < seconds * 1e3);
    for (std::size_t i = 0; i < layers.size(); ++i)
        if (static_cast<std::int64_t>(out[i].codes.size()) != layers[i].parameters)
            throw Error("internal: int8 quantization produced " + std::to_string(out[i].codes.size()) + " codes for " +
                        layers[i].name);
    return static_cast<double>(bytes) / (msSince(start) * 1e-3) / 1e9;
}

} // namespace

std::string engineBenchmarkJson(const Model& model, const Dataset& data, const Preprocessing& pre)
{
    nlohmann::ordered_json j;
    const std::vector<Layer> layers = Layer::find(model);
    if (layers.empty())
        throw Error(model.path + ": the model has no compressible layers to benchmark");
    const std::vector<LayerSetting> none(layers.size());
    const std::vector<LayerSetting> plan(layers.size(), int8Channel());

    // First partial result: from a fresh Evaluator (as after opening a model) to the first chunk.
    double firstPartial = -1;
    {
        const auto t0 = Clock::now();
        Evaluator ev(model, data, pre);
        CancelToken stop;
        try {
            ev.evaluate(plan, &stop, [&](const Evaluation&) {
                if (firstPartial < 0)
                    firstPartial = msSince(t0);
                stop.cancel();
            });
        } catch (const CancelledError&) {
        }
    }
    // Full evaluation of a new plan (uncompressed outputs already known, nothing cached).
    Evaluator::Options off;
    off.incremental = false;
    Evaluator full(model, data, pre, off);
    full.evaluate(none);
    auto t0 = Clock::now();
    const Evaluation fullEval = full.evaluate(plan);
    const double fullMs = msSince(t0);

    // Incremental: after the plan, the layer used last in the graph changes.
    Evaluator inc(model, data, pre);
    inc.evaluate(plan);
    std::vector<LayerSetting> changed = plan;
    changed.back().bits = 4; // Layer::find lists layers in graph order: the last is used last
    t0 = Clock::now();
    const Evaluation incEval = inc.evaluate(changed);
    const double incMs = msSince(t0);
    const Evaluation fullChanged = full.evaluate(changed);
    bool identical = incEval.samples == fullChanged.samples;
    for (const auto& [name, v] : fullChanged.metrics.values) {
        const Interval* w = incEval.metrics.find(name);
        identical = identical && w && (w->value == v.value || (v.value != v.value && w->value != w->value));
    }

    std::vector<const Tensor*> weights;
    for (const Layer& l : layers)
        weights.push_back(model.graph.initializer(l.name));
    const double gbps = quantizeGbps(layers, weights, 0.3);
    Layer big;
    big.name = "synthetic";
    big.opType = "Gemm";
    big.shape = {4096, 4096};
    big.parameters = 4096 * 4096;
    big.rows = big.cols = 4096;
    Tensor matrix(DType::Float32, big.shape);
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.05f);
    for (float& v : matrix.span<float>())
        v = normal(rng);
    const double gbpsBig = quantizeGbps({big}, {&matrix}, 0.5);

    const SizeModel sizes(model, layers);
    std::int64_t sink = 0;
    int reps = 0;
    t0 = Clock::now();
    do {
        sink += sizes.total(reps % 2 ? plan : changed);
        ++reps;
    } while (msSince(t0) < 100);
    const double sizeUs = msSince(t0) * 1e3 / reps;

    j["model"] = model.path;
    j["samples"] = fullEval.samples;
    j["chunk"] = full.chunkSize();
    j["layers"] = layers.size();
    j["full_eval_ms"] = fullMs;
    j["first_partial_ms"] = firstPartial;
    j["incremental_last_layer_ms"] = incMs;
    j["incremental_speedup"] = incMs > 0 ? fullMs / incMs : 0.0;
    j["incremental_identical"] = identical;
    j["quantize_gbps"] = gbps;
    j["quantize_gbps_16m"] = gbpsBig;
    j["size_us"] = sizeUs;
    j["size_bytes"] = sink > 0 ? sizes.total(plan) : 0;
    return j.dump(2);
}

} // namespace leger
