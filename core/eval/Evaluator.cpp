#include "eval/Evaluator.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <list>
#include <map>

#include "compress/Compressor.h"
#include "data/Dataset.h"
#include "model/Model.h"
#include "runtime/Executor.h"
#include "util/Error.h"

namespace leger {

namespace {

/// Everything that makes two settings compress differently (LayerSetting::operator== ignores
/// fields that do not apply; so does this).
std::string settingKey(const LayerSetting& s)
{
    char buf[128];
    const bool isInt = s.format == WeightFormat::Int;
    std::snprintf(buf, sizeof buf, "%d/%d/%d/%d/%d/%d/%d/%a", static_cast<int>(s.format), isInt ? s.bits : 0,
                  isInt ? static_cast<int>(s.granularity) : 0,
                  isInt && s.granularity == Granularity::Group ? s.groupSize : 0, isInt ? s.symmetric : 0,
                  isInt ? static_cast<int>(s.clip) : 0, static_cast<int>(s.pattern),
                  s.pattern == SparsityPattern::N2M4 || s.pattern == SparsityPattern::N4M8 ? 0.0 : s.sparsity);
    return buf;
}

using Clock = std::chrono::steady_clock;

} // namespace

struct Evaluator::Impl {
    const Model& model;
    const Dataset& data;
    Preprocessing pre;
    Options opt;
    std::size_t inputIndex = 0;
    std::size_t outputIndex = 0; // the output measured
    Shape sampleShape;
    std::vector<std::pair<std::int64_t, std::int64_t>> chunks; // (start, count)
    std::int64_t perSample = 0, classes = 0;

    // Preprocessed inputs per chunk (empty when over the budget: rebuilt on use).
    std::vector<Tensor> inputs;
    std::size_t inputBytes = 0;

    // The uncompressed model's first output per chunk, and its executor.
    std::unique_ptr<Executor> base;
    std::vector<std::vector<float>> baseOut;

    // Steps: the first step using each layer's weight; the cut points whose live values are cached.
    std::vector<std::size_t> layerFirst;
    std::vector<std::size_t> cuts;
    std::size_t stepCount = 0;

    // Dequantized weights per (layer, setting), least recently used evicted past the budget.
    struct WeightEntry {
        std::shared_ptr<const Tensor> tensor;
        LayerStats stats;
        std::uint64_t tick = 0;
    };
    std::map<std::pair<std::size_t, std::string>, WeightEntry> weights;
    std::size_t weightBytes = 0;

    // Live values at a cut, per chunk, for runs whose layers before the cut had `prefix`.
    struct CutEntry {
        std::size_t cut = 0;
        std::vector<LayerSetting> prefix; // settings of the layers used before the cut
        std::vector<std::vector<Tensor>> chunks;
        std::size_t bytes = 0;
        std::uint64_t tick = 0;
        bool baseline = false;
    };
    std::list<CutEntry> activations;
    std::size_t activationBytes = 0;
    std::uint64_t tick = 0;

    Impl(const Model& m, const Dataset& d, Preprocessing p, Options o)
        : model(m), data(d), pre(std::move(p)), opt(o)
    {
    }

    std::vector<LayerSetting> prefixFor(const std::vector<LayerSetting>& plan, std::size_t cut) const
    {
        std::vector<LayerSetting> prefix;
        for (std::size_t i = 0; i < plan.size(); ++i)
            if (layerFirst[i] < cut)
                prefix.push_back(plan[i]);
        return prefix;
    }

    const Tensor& input(std::size_t k)
    {
        if (!inputs[k].empty())
            return inputs[k];
        Tensor t = pre.apply(data, chunks[k].first, chunks[k].second, sampleShape);
        if (inputBytes + t.byteSize() <= opt.inputBudget) {
            inputBytes += t.byteSize();
            inputs[k] = std::move(t);
            return inputs[k];
        }
        scratchInput = std::move(t);
        return scratchInput;
    }
    Tensor scratchInput;

    void evictActivations()
    {
        while (activationBytes > opt.activationBudget && !activations.empty()) {
            // Evict the least recently used entry, non-baseline ones first.
            auto victim = activations.end();
            for (auto it = activations.begin(); it != activations.end(); ++it)
                if (victim == activations.end() || std::pair(it->baseline, it->tick) < std::pair(victim->baseline, victim->tick))
                    victim = it;
            activationBytes -= victim->bytes;
            activations.erase(victim);
        }
    }

    CutEntry* findEntry(std::size_t cut, const std::vector<LayerSetting>& prefix)
    {
        for (auto& e : activations)
            if (e.cut == cut && e.prefix == prefix)
                return &e;
        return nullptr;
    }

    /// Runs chunk k of `plan` on exec, from the latest usable cached cut, saving live values at
    /// later cuts. Returns the steps run. Nothing is evicted here: the executor's values may
    /// point into cached entries until its outputs have been read (evictActivations after).
    std::int64_t runChunk(Executor& exec, const std::vector<LayerSetting>& plan, std::size_t k, const CancelToken* cancel)
    {
        const Tensor& x = input(k);
        std::vector<const Tensor*> in(exec.inputNames().size(), nullptr);
        in[inputIndex] = &x;
        if (!opt.incremental || cuts.empty()) {
            exec.runRange(in, 0, stepCount, {}, cancel);
            return static_cast<std::int64_t>(stepCount);
        }
        // The latest cut with this chunk's live values for this plan's prefix.
        std::size_t from = 0;
        std::vector<const Tensor*> restored;
        std::vector<std::vector<LayerSetting>> prefixes(cuts.size());
        for (std::size_t c = 0; c < cuts.size(); ++c)
            prefixes[c] = prefixFor(plan, cuts[c]);
        for (std::size_t c = cuts.size(); c-- > 0;) {
            CutEntry* e = findEntry(cuts[c], prefixes[c]);
            if (e && !e->chunks[k].empty()) {
                from = cuts[c];
                e->tick = ++tick;
                for (const Tensor& t : e->chunks[k])
                    restored.push_back(&t);
                break;
            }
        }
        std::int64_t ran = 0;
        for (std::size_t c = 0; c < cuts.size(); ++c) {
            if (cuts[c] <= from)
                continue;
            exec.runRange(in, from, cuts[c], restored, cancel);
            ran += static_cast<std::int64_t>(cuts[c] - from);
            // Save the live values at this cut.
            CutEntry* e = findEntry(cuts[c], prefixes[c]);
            if (!e) {
                // Entries of the uncompressed prefix serve every plan that changes a later layer:
                // they are evicted last.
                const bool baseline = std::all_of(prefixes[c].begin(), prefixes[c].end(),
                                                  [](const LayerSetting& setting) { return setting.isNone(); });
                activations.push_back({cuts[c], prefixes[c], std::vector<std::vector<Tensor>>(chunks.size()), 0, 0,
                                       baseline});
                e = &activations.back();
            }
            e->tick = ++tick;
            if (e->chunks[k].empty()) {
                std::vector<Tensor> saved;
                for (int slot : exec.liveAt(cuts[c]))
                    saved.push_back(exec.slotValue(slot));
                for (const Tensor& t : saved) {
                    e->bytes += t.byteSize();
                    activationBytes += t.byteSize();
                }
                e->chunks[k] = std::move(saved);
            }
            restored.clear();
            for (const Tensor& t : e->chunks[k])
                restored.push_back(&t);
            from = cuts[c];
        }
        exec.runRange(in, from, stepCount, restored, cancel);
        ran += static_cast<std::int64_t>(stepCount - from);
        return ran;
    }
    /// The uncompressed model's output for chunk k: kept while they fit the output budget, else
    /// computed again (into scratchOut) each time it is needed.
    const std::vector<float>& baselineChunk(std::size_t k, const CancelToken* cancel)
    {
        if (!baseOut[k].empty())
            return baseOut[k];
        const std::vector<LayerSetting> none(layerFirst.size());
        runChunk(*base, none, k, cancel);
        const Tensor& y = base->output(outputIndex);
        const std::size_t bytes = y.byteSize();
        std::vector<float>& dst = baseOutBytes + bytes <= opt.outputBudget ? baseOut[k] : scratchOut;
        if (&dst == &baseOut[k])
            baseOutBytes += bytes;
        dst.assign(y.data<float>(), y.data<float>() + y.size());
        evictActivations();
        return dst;
    }
    std::vector<float> scratchOut;
    std::size_t baseOutBytes = 0;
};

Evaluator::Evaluator(const Model& model, const Dataset& data, Preprocessing pre)
    : Evaluator(model, data, std::move(pre), Options{})
{
}

Evaluator::Evaluator(const Model& model, const Dataset& data, Preprocessing pre, Options options)
    : d_(std::make_unique<Impl>(model, data, std::move(pre), options)), layers_(Layer::find(model))
{
    Impl& d = *d_;
    const Graph& g = model.graph;
    // The graph input fed with the data; every other input would need values we do not have.
    std::vector<const ValueInfo*> free;
    for (const auto& in : g.inputs)
        if (!g.initializer(in.name))
            free.push_back(&in);
    if (free.empty())
        throw Error(model.path + ": the model has no input");
    const ValueInfo* input = free.front();
    if (!d.pre.input.empty()) {
        auto it = std::find_if(free.begin(), free.end(), [&](const ValueInfo* v) { return v->name == d.pre.input; });
        if (it == free.end())
            throw Error(model.path + ": preprocessing names input '" + d.pre.input + "', which the model does not have");
        input = *it;
    }
    if (free.size() > 1)
        throw UnsupportedError(model.path + ": models with several inputs cannot be evaluated on a dataset yet (inputs: " +
                               free[0]->name + ", " + free[1]->name + ", ...)");
    if (input->dtype != DType::Float32 && input->dtype != DType::Undefined)
        throw UnsupportedError(model.path + ": input '" + input->name + "' is " + std::string(dtypeName(input->dtype)) +
                               "; evaluation feeds float32");
    if (!input->hasShape || input->dims.empty())
        throw Error(model.path + ": input '" + input->name + "' has no declared shape to fit the data to");
    d.sampleShape = d.pre.resolveSampleShape(Shape(input->dims.begin() + 1, input->dims.end()), data);
    for (std::size_t i = 0; i < g.inputs.size(); ++i)
        if (&g.inputs[i] == input)
            d.inputIndex = i;
    total_ = data.count();
    if (options.limit > 0)
        total_ = std::min(total_, options.limit);
    if (total_ <= 0)
        throw Error(data.source + ": no samples to evaluate");

    Executor::Options eo;
    d.base = std::make_unique<Executor>(model, eo);
    // Not every graph input may be in Executor's inputs in the same positions as the graph's:
    // find ours by name.
    const auto& names = d.base->inputNames();
    d.inputIndex = static_cast<std::size_t>(std::find(names.begin(), names.end(), input->name) - names.begin());
    d.stepCount = d.base->nodeCount();
    for (const Layer& l : layers_)
        d.layerFirst.push_back(d.base->firstStepUsing(l.name));

    // One sample through: output shape, per-sample live bytes at each candidate cut, and the
    // peak value size (for the chunk size).
    Tensor one = d.pre.apply(data, 0, 1, d.sampleShape);
    std::vector<const Tensor*> in(names.size(), nullptr);
    in[d.inputIndex] = &one;
    std::vector<std::size_t> candidates;
    for (std::size_t f : d.layerFirst)
        if (f > 0 && f < d.stepCount)
            candidates.push_back(f);
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    std::vector<std::size_t> liveBytes;
    std::size_t from = 0;
    std::vector<Tensor> held;
    std::vector<const Tensor*> restored;
    for (std::size_t c : candidates) {
        d.base->runRange(in, from, c, restored, nullptr);
        std::vector<Tensor> next;
        std::size_t bytes = 0;
        for (int s : d.base->liveAt(c)) {
            next.push_back(d.base->slotValue(s));
            bytes += next.back().byteSize();
        }
        liveBytes.push_back(bytes);
        held = std::move(next);
        restored.clear();
        for (const Tensor& t : held)
            restored.push_back(&t);
        from = c;
    }
    d.base->runRange(in, from, d.stepCount, restored, nullptr);
    // The output measured: the first float32 one that carries the batch (a model may put an
    // argmax or a label first).
    const auto& outs = d.base->outputNames();
    for (d.outputIndex = 0; d.outputIndex < outs.size(); ++d.outputIndex) {
        const Tensor& t = d.base->output(d.outputIndex);
        if (t.dtype() == DType::Float32 && t.rank() >= 1 && t.dim(0) == 1)
            break;
    }
    if (d.outputIndex == outs.size())
        throw UnsupportedError(model.path + ": no output is a float32 batch of samples; nothing to measure");
    const Tensor& y = d.base->output(d.outputIndex);
    d.perSample = y.size();
    // Class scores: one axis of at least 2 beside the batch, any others of size 1 ((N, C),
    // (N, C, 1, 1), (N, 1, C)).
    std::int64_t wide = 0;
    for (int i = 1; i < y.rank(); ++i)
        wide += y.dim(i) > 1;
    d.classes = wide == 1 && d.perSample >= 2 ? d.perSample : 0;
    // (Labels without a classifier output: only the output SQNR is measured.)

    // Peak bytes per sample of any value the steps produce, for the chunk size.
    const std::size_t peak = std::max<std::size_t>(1, d.base->largestValueBytes(in));
    chunk_ = std::clamp<std::int64_t>(static_cast<std::int64_t>((std::size_t{4} << 20) / peak), 8, 512);
    // A model exported with a fixed batch of one (e.g. [1, 320, 320, 4]) takes one sample at a time.
    if (input->dims[0] == 1)
        chunk_ = 1;
    for (std::int64_t s = 0; s < total_; s += chunk_)
        d.chunks.emplace_back(s, std::min(chunk_, total_ - s));
    d.inputs.resize(d.chunks.size());
    d.baseOut.resize(d.chunks.size());
    // Cache a cut when its live values for all the data take at most a quarter of the budget.
    for (std::size_t i = 0; i < candidates.size(); ++i)
        if (liveBytes[i] * static_cast<std::size_t>(total_) <= options.activationBudget / 4)
            d.cuts.push_back(candidates[i]);
}

Evaluator::~Evaluator() = default;

std::shared_ptr<const Tensor> Evaluator::weight(std::size_t layer, const LayerSetting& setting)
{
    Impl& d = *d_;
    const auto key = std::pair(layer, settingKey(setting));
    auto it = d.weights.find(key);
    if (it == d.weights.end()) {
        const Layer& l = layers_.at(layer);
        const Tensor* original = d.model.graph.initializer(l.name);
        CompressedWeight c;
        auto t = std::make_shared<Tensor>(evaluatedWeight(l, *original, setting, &c));
        Impl::WeightEntry e;
        e.stats.weightSqnrDb = weightSqnrDb(*original, *t);
        e.stats.nonFinite = c.nonFinite;
        e.tensor = std::move(t);
        d.weightBytes += e.tensor->byteSize();
        it = d.weights.emplace(key, std::move(e)).first;
        // Evict least recently used entries nobody holds.
        while (d.weightBytes > d.opt.weightBudget) {
            auto victim = d.weights.end();
            for (auto j = d.weights.begin(); j != d.weights.end(); ++j)
                if (j != it && j->second.tensor.use_count() == 1 &&
                    (victim == d.weights.end() || j->second.tick < victim->second.tick))
                    victim = j;
            if (victim == d.weights.end())
                break;
            d.weightBytes -= victim->second.tensor->byteSize();
            d.weights.erase(victim);
        }
    }
    it->second.tick = ++d.tick;
    return it->second.tensor;
}

Evaluation Evaluator::evaluate(const std::vector<LayerSetting>& plan, const CancelToken* cancel, const Progress& progress)
{
    Impl& d = *d_;
    if (plan.size() != layers_.size())
        throw Error("plan has " + std::to_string(plan.size()) + " settings for " + std::to_string(layers_.size()) +
                    " layers");
    const auto start = Clock::now();
    Evaluation ev;
    ev.settings = plan;
    ev.total = total_;
    ev.layers.resize(layers_.size());
    bool none = true;
    std::vector<std::shared_ptr<const Tensor>> held;
    Executor::Options eo;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
        if (plan[i].isNone()) {
            ev.layers[i].weightSqnrDb = std::numeric_limits<double>::infinity();
            continue;
        }
        none = false;
        held.push_back(weight(i, plan[i]));
        const auto& entry = d.weights.at(std::pair(i, settingKey(plan[i])));
        ev.layers[i] = entry.stats;
        eo.weights[layers_[i].name] = held.back().get();
    }
    std::unique_ptr<Executor> own;
    Executor* exec = d.base.get();
    if (!none) {
        own = std::make_unique<Executor>(d.model, eo);
        if (own->nodeCount() != d.stepCount)
            throw Error("internal: the compressed model compiled to a different plan of steps");
        exec = own.get();
    }
    MetricsAccumulator acc(d.classes);
    const std::int64_t* labels = d.data.hasLabels() ? d.data.labels.data<std::int64_t>() : nullptr;
    for (std::size_t k = 0; k < d.chunks.size(); ++k) {
        if (cancel && cancel->isCancelled())
            throw CancelledError();
        const auto [s0, count] = d.chunks[k];
        const std::vector<float>& baseY = d.baselineChunk(k, cancel);
        const float* y = baseY.data();
        if (!none) {
            ev.stepsRun += d.runChunk(*exec, plan, k, cancel);
            const Tensor& out = exec->output(d.outputIndex);
            if (out.size() != static_cast<std::int64_t>(baseY.size()))
                throw Error("the output's size changed between the uncompressed and the compressed model");
            y = out.data<float>();
        }
        acc.add(y, baseY.data(), labels ? labels + s0 : nullptr, count, d.perSample);
        d.evictActivations(); // the outputs are read: cached values may go
        ev.samples += count;
        if (progress || k + 1 == d.chunks.size()) {
            ev.metrics = acc.result();
            ev.seconds = std::chrono::duration<double>(Clock::now() - start).count();
            if (progress)
                progress(ev);
        }
    }
    return ev;
}

Evaluation Evaluator::evaluateModel(const Model& other, const CancelToken* cancel)
{
    Impl& d = *d_;
    const auto start = Clock::now();
    std::unique_ptr<Executor> exec;
    try {
        exec = std::make_unique<Executor>(other, Executor::Options{});
    } catch (const Error& e) {
        throw Error(other.path + ": " + e.what());
    }
    // The same input and output, found by name.
    const auto& ins = exec->inputNames();
    const auto& outs = exec->outputNames();
    const std::string& inName = d.base->inputNames()[d.inputIndex];
    const std::string& outName = d.base->outputNames()[d.outputIndex];
    const auto in = std::find(ins.begin(), ins.end(), inName);
    const auto out = std::find(outs.begin(), outs.end(), outName);
    if (in == ins.end() || out == outs.end())
        throw Error(other.path + ": the model has no input '" + inName + "' or no output '" + outName + "'");
    const std::size_t outIndex = static_cast<std::size_t>(out - outs.begin());
    Evaluation ev;
    ev.total = total_;
    MetricsAccumulator acc(d.classes);
    const std::int64_t* labels = d.data.hasLabels() ? d.data.labels.data<std::int64_t>() : nullptr;
    std::vector<const Tensor*> inputs(ins.size(), nullptr);
    for (std::size_t k = 0; k < d.chunks.size(); ++k) {
        if (cancel && cancel->isCancelled())
            throw CancelledError();
        const auto [s0, count] = d.chunks[k];
        const std::vector<float>& baseY = d.baselineChunk(k, cancel);
        inputs[static_cast<std::size_t>(in - ins.begin())] = &d.input(k);
        exec->runRange(inputs, 0, exec->nodeCount(), {}, cancel);
        ev.stepsRun += static_cast<std::int64_t>(exec->nodeCount());
        const Tensor& y = exec->output(outIndex);
        if (y.dtype() != DType::Float32 || y.size() != static_cast<std::int64_t>(baseY.size()))
            throw Error(other.path + ": output '" + outName + "' differs in type or size from the evaluated model's");
        acc.add(y.data<float>(), baseY.data(), labels ? labels + s0 : nullptr, count, d.perSample);
        ev.samples += count;
    }
    ev.metrics = acc.result();
    ev.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return ev;
}

std::size_t Evaluator::cachedActivationBytes() const { return d_->activationBytes; }

void Evaluator::clearActivationCache()
{
    d_->activations.clear();
    d_->activationBytes = 0;
}

} // namespace leger
