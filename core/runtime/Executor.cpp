#include "runtime/Executor.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include "model/Model.h"
#include "runtime/GraphOptimizer.h"
#include "runtime/OpRegistry.h"

namespace leger {

struct Executor::Step {
    const Node* node = nullptr;
    Kernel kernel;
    std::vector<int> in;    // slot per input (-1: omitted), then implicit inputs
    std::vector<int> out;   // slot per output
    std::vector<int> buf;   // buffer index per output
    std::vector<const Tensor*> inPtr;
    std::vector<Tensor*> outPtr;
};

namespace {


bool isNondeterministic(const std::string& op)
{
    return op.rfind("Random", 0) == 0 || op == "Bernoulli" || op == "Multinomial";
}

} // namespace

Executor::Executor(const Model& model) : Executor(model, Options{}) {}

Executor::Executor(const Model& model, Options options)
    : Executor(model.graph, model.opsets, {}, options, OpRegistry::builtin())
{
}

Executor::Executor(const Graph& graph, const std::map<std::string, int, std::less<>>& opsets,
                   const std::vector<std::string>& outerNames, Options options, const OpRegistry& registry)
    : graph_(&graph), opsets_(opsets), outerNames_(outerNames), registry_(&registry), options_(options)
{
    compile(options_.optimize && options_.reuseBuffers);
}

Executor::~Executor() = default;

int Executor::slotFor(const std::string& name) const
{
    auto it = slotOf_.find(name);
    return it == slotOf_.end() ? -1 : it->second;
}

void Executor::compile(bool optimize)
{
    const Graph& graph = *graph_;
    const auto& opsets = opsets_;
    const auto& outerNames = outerNames_;
    const OpRegistry& registry = *registry_;
    inputNames_.clear();
    outputNames_.clear();
    inputInfo_.clear();
    slotOf_.clear();
    slots_.clear();
    inputSlots_.clear();
    outputSlots_.clear();
    buffers_.clear();
    folded_.clear();
    steps_.clear();
    restoreSlots_.clear();
    slicePlanned_ = false;
    sliceKey_.clear();
    firstUse_.clear();
    OptimizedNodes nodes;
    if (optimize) {
        nodes = fuseConvEpilogues(graph, opsets);
    } else {
        for (const Node& node : graph.nodes)
            nodes.order.push_back(&node);
    }
    optimized_ = optimize;
    fusedNodes_ = nodes.removed;
    splittable_ = optimize && outerNames.empty() && ::leger::batchSplittable(graph, nodes.order, opsets);
    auto newSlot = [&](const std::string& name, const Tensor* value) {
        const int s = static_cast<int>(slots_.size());
        slots_.push_back(value);
        slotOf_[name] = s;
        return s;
    };
    for (const auto& [name, t] : graph.initializers) {
        const auto w = options_.weights.find(name);
        newSlot(name, w == options_.weights.end() ? &t : w->second);
    }
    for (const auto& in : graph.inputs) {
        inputNames_.push_back(in.name);
        inputInfo_.push_back(&in);
        inputSlots_.push_back(newSlot(in.name, nullptr));
    }
    for (const auto& name : outerNames) {
        inputNames_.push_back(name);
        inputInfo_.push_back(nullptr);
        inputSlots_.push_back(newSlot(name, nullptr));
    }
    std::vector<bool> isConstant(slots_.size(), false);
    for (const auto& [name, t] : graph.initializers)
        isConstant[static_cast<std::size_t>(slotOf_[name])] = true;

    // Prepare every kernel, collecting all unsupported ops before failing.
    std::vector<std::string> unsupported;
    std::set<std::string> unsupportedSeen;
    std::vector<Step> steps;
    for (const Node* nodePtr : nodes.order) {
        const Node& node = *nodePtr;
        auto opsetIt = opsets.find(node.domain);
        const int opset = opsetIt == opsets.end() ? (node.domain.empty() ? 1 : 0) : opsetIt->second;
        Step step;
        step.node = &node;
        for (const auto& in : node.inputs) {
            if (in.empty()) {
                step.in.push_back(-1);
                continue;
            }
            const int s = slotFor(in);
            if (s < 0)
                throw Error(node.describe() + " reads '" + in + "', which nothing defines");
            step.in.push_back(s);
        }
        std::set<std::string> implicitSet;
        for (const auto& [key, attr] : node.attributes) {
            if (attr.g)
                implicitSet.merge(attr.g->outerNames());
            for (const auto& sub : attr.graphs)
                implicitSet.merge(sub->outerNames());
        }
        KernelContext ctx{node, opset, {}, {}};
        for (const auto& name : implicitSet) {
            const int s = slotFor(name);
            if (s < 0)
                throw Error(node.describe() + ": its subgraph reads '" + name + "', which nothing defines");
            step.in.push_back(s);
            ctx.implicitInputs.push_back(name);
        }
        ctx.compileSubgraph = [this](const Graph& g, const std::vector<std::string>& outer) {
            Options sub = options_;
            sub.weights.clear(); // the main graph's weights reach subgraphs as outer values
            return std::make_shared<Executor>(g, opsets_, outer, sub, *registry_);
        };
        const KernelFactory* factory = nullptr;
        if (!node.domain.empty() && node.domain != "ai.onnx.ml")
            ; // custom domains are unsupported
        else if (node.domain.empty() && opset > OpRegistry::kMaxOpset)
            ;
        else
            factory = registry.find(node.domain, node.opType, opset);
        if (!factory) {
            const std::string key = (node.domain.empty() ? "" : node.domain + ".") + node.opType + " (opset " +
                                    std::to_string(opset) + ")";
            if (unsupportedSeen.insert(key).second)
                unsupported.push_back(key + ", first at " + node.describe());
        } else if (unsupported.empty()) {
            try {
                step.kernel = (*factory)(ctx);
            } catch (const UnsupportedError& e) {
                if (unsupportedSeen.insert(e.what()).second)
                    unsupported.push_back(e.what());
            }
        }
        for (const auto& out : node.outputs) {
            if (!out.empty() && slotFor(out) >= 0)
                throw Error(node.describe() + ": value '" + out + "' is defined twice");
            step.out.push_back(newSlot(out.empty() ? "" : out, nullptr));
            isConstant.push_back(false);
        }
        slotOf_.erase("");
        steps.push_back(std::move(step));
    }
    if (!unsupported.empty()) {
        std::string msg = "unsupported: ";
        for (std::size_t i = 0; i < unsupported.size(); ++i)
            msg += (i ? "; " : "") + unsupported[i];
        throw UnsupportedError(msg);
    }

    for (const auto& o : graph.outputs) {
        const int s = slotFor(o.name);
        if (s < 0)
            throw Error("graph output '" + o.name + "' is never computed");
        outputNames_.push_back(o.name);
        outputSlots_.push_back(s);
    }

    // Fold constant nodes once, now, remembering which initializers each folded value comes from.
    std::vector<std::vector<int>> sources(slots_.size());
    std::vector<std::string> initializerName(slots_.size());
    for (const auto& [name, t] : graph.initializers) {
        sources[static_cast<std::size_t>(slotOf_[name])] = {slotOf_[name]};
        initializerName[static_cast<std::size_t>(slotOf_[name])] = name;
    }
    std::vector<Step> live;
    for (auto& step : steps) {
        bool allConst = options_.foldConstants && !isNondeterministic(step.node->opType);
        for (int s : step.in)
            allConst = allConst && (s < 0 || isConstant[static_cast<std::size_t>(s)]);
        if (allConst) {
            std::vector<const Tensor*> in;
            for (int s : step.in)
                in.push_back(s < 0 ? nullptr : slots_[static_cast<std::size_t>(s)]);
            std::vector<Tensor*> out;
            for (std::size_t i = 0; i < step.out.size(); ++i) {
                folded_.push_back(std::make_unique<Tensor>());
                out.push_back(folded_.back().get());
            }
            KernelArgs args(*step.node, in, out);
            try {
                step.kernel(args);
            } catch (const Error& e) {
                const std::string what = e.what();
                const std::string msg = what.find(step.node->describe()) == std::string::npos
                                            ? step.node->describe() + ": " + what
                                            : what;
                if (dynamic_cast<const UnsupportedError*>(&e))
                    throw UnsupportedError(msg);
                throw Error(msg);
            }
            std::vector<int> from;
            for (int s : step.in)
                if (s >= 0)
                    from.insert(from.end(), sources[static_cast<std::size_t>(s)].begin(),
                                sources[static_cast<std::size_t>(s)].end());
            std::sort(from.begin(), from.end());
            from.erase(std::unique(from.begin(), from.end()), from.end());
            for (std::size_t i = 0; i < step.out.size(); ++i) {
                slots_[static_cast<std::size_t>(step.out[i])] = out[i];
                isConstant[static_cast<std::size_t>(step.out[i])] = true;
                sources[static_cast<std::size_t>(step.out[i])] = from;
            }
            continue;
        }
        live.push_back(std::move(step));
    }
    steps_ = std::move(live);

    // Assign buffers by liveness: a buffer is free again after the last step that reads it.
    std::vector<int> lastUse(slots_.size(), -1);
    for (std::size_t i = 0; i < steps_.size(); ++i)
        for (int s : steps_[i].in)
            if (s >= 0)
                lastUse[static_cast<std::size_t>(s)] = static_cast<int>(i);
    for (int s : outputSlots_)
        lastUse[static_cast<std::size_t>(s)] = static_cast<int>(steps_.size());
    std::vector<int> bufferOfSlot(slots_.size(), -1);
    std::vector<int> freeBuffers;
    for (std::size_t i = 0; i < steps_.size(); ++i) {
        Step& step = steps_[i];
        for (int s : step.out) {
            int b;
            if (options_.reuseBuffers && !freeBuffers.empty()) {
                b = freeBuffers.back();
                freeBuffers.pop_back();
            } else {
                b = static_cast<int>(buffers_.size());
                buffers_.push_back(std::make_unique<Tensor>());
            }
            bufferOfSlot[static_cast<std::size_t>(s)] = b;
            step.buf.push_back(b);
            slots_[static_cast<std::size_t>(s)] = buffers_[static_cast<std::size_t>(b)].get();
            // An output nobody reads is free right after the step.
            if (lastUse[static_cast<std::size_t>(s)] < 0)
                lastUse[static_cast<std::size_t>(s)] = static_cast<int>(i);
        }
        std::set<int> released;
        for (int s : step.in)
            if (s >= 0 && lastUse[static_cast<std::size_t>(s)] == static_cast<int>(i) && bufferOfSlot[static_cast<std::size_t>(s)] >= 0)
                released.insert(s);
        for (int s : step.out)
            if (lastUse[static_cast<std::size_t>(s)] == static_cast<int>(i))
                released.insert(s);
        for (int s : released)
            freeBuffers.push_back(bufferOfSlot[static_cast<std::size_t>(s)]);
        step.outPtr.resize(step.out.size());
        for (std::size_t k = 0; k < step.out.size(); ++k)
            step.outPtr[k] = buffers_[static_cast<std::size_t>(step.buf[k])].get();
        step.inPtr.resize(step.in.size());
    }
    lastRead_ = lastUse;
    for (std::size_t i = 0; i < steps_.size(); ++i)
        for (int s : steps_[i].in)
            if (s >= 0)
                for (int src : sources[static_cast<std::size_t>(s)])
                    firstUse_.try_emplace(initializerName[static_cast<std::size_t>(src)], i);
    ownedNodes_ = std::move(nodes.owned);
    producer_.assign(slots_.size(), -1);
    for (std::size_t i = 0; i < steps_.size(); ++i)
        for (int o : steps_[i].out)
            producer_[static_cast<std::size_t>(o)] = static_cast<int>(i);
}

void Executor::setObserver(StepObserver observer)
{
    observer_ = std::move(observer);
    // Observers see every node of the model: no fused nodes.
    const bool optimize = options_.optimize && options_.reuseBuffers && !observer_;
    if (optimize && !optimized_)
        compile(true);
    else if (!optimize && optimized_ && fusedNodes_ > 0)
        compile(false);
}

void Executor::run(std::span<const Tensor* const> inputs, const CancelToken* cancel)
{
    for (const auto& [slot, value] : restoreSlots_)
        slots_[static_cast<std::size_t>(slot)] = value;
    restoreSlots_.clear();
    bindInputs(inputs);
    if (splittable_ && !observer_) {
        std::int64_t batch = -1;
        bool sameBatch = true;
        for (const Tensor* t : inputs) {
            if (t->rank() < 1 || t->dtype() == DType::String) {
                sameBatch = false;
                break;
            }
            if (batch < 0)
                batch = t->dim(0);
            sameBatch = sameBatch && t->dim(0) == batch;
        }
        if (sameBatch && batch > 1) {
            runSliced(inputs, batch, cancel);
            return;
        }
    }
    runSteps(0, steps_.size(), cancel);
}

void Executor::bindInputs(std::span<const Tensor* const> inputs)
{
    if (inputs.size() != inputSlots_.size())
        throw Error("expected " + std::to_string(inputSlots_.size()) + " inputs, got " + std::to_string(inputs.size()));
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const Tensor* t = inputs[i];
        if (!t)
            throw Error("input '" + inputNames_[i] + "' is missing");
        if (const ValueInfo* info = inputInfo_[i]) {
            if (info->dtype != DType::Undefined && t->dtype() != info->dtype)
                throw Error("input '" + info->name + "' expects " + std::string(dtypeName(info->dtype)) + ", got " +
                            std::string(dtypeName(t->dtype())));
            if (info->hasShape && options_.checkInputShapes) {
                bool ok = static_cast<std::size_t>(t->rank()) == info->dims.size();
                for (std::size_t d = 0; ok && d < info->dims.size(); ++d)
                    ok = info->dims[d] < 0 || info->dims[d] == t->shape()[d];
                if (!ok)
                    throw Error("input '" + info->name + "' expects shape " + info->shapeString() + ", got " +
                                shapeToString(t->shape()));
            }
        }
        slots_[static_cast<std::size_t>(inputSlots_[i])] = t;
    }
}

std::size_t Executor::firstStepUsing(std::string_view name) const
{
    const auto it = firstUse_.find(name);
    return it == firstUse_.end() ? steps_.size() : it->second;
}

std::vector<int> Executor::liveAt(std::size_t step) const
{
    std::vector<int> live;
    for (std::size_t s = 0; s < slots_.size(); ++s)
        if (producer_[s] >= 0 && static_cast<std::size_t>(producer_[s]) < step && lastRead_[s] >= 0 &&
            static_cast<std::size_t>(lastRead_[s]) >= step)
            live.push_back(static_cast<int>(s));
    return live;
}

void Executor::runRange(std::span<const Tensor* const> inputs, std::size_t from, std::size_t to,
                        std::span<const Tensor* const> restored, const CancelToken* cancel)
{
    for (const auto& [slot, value] : restoreSlots_)
        slots_[static_cast<std::size_t>(slot)] = value;
    restoreSlots_.clear();
    bindInputs(inputs);
    if (from > 0) {
        const std::vector<int> live = liveAt(from);
        if (live.size() != restored.size())
            throw Error("runRange: expected " + std::to_string(live.size()) + " restored values, got " +
                        std::to_string(restored.size()));
        for (std::size_t i = 0; i < live.size(); ++i) {
            const auto slot = static_cast<std::size_t>(live[i]);
            restoreSlots_.emplace_back(live[i], slots_[slot]);
            slots_[slot] = restored[i];
        }
    }
    runSteps(from, std::min(to, steps_.size()), cancel);
}

std::size_t Executor::largestValueBytes(std::span<const Tensor* const> inputs, const CancelToken* cancel)
{
    for (const auto& [slot, value] : restoreSlots_)
        slots_[static_cast<std::size_t>(slot)] = value;
    restoreSlots_.clear();
    bindInputs(inputs);
    stepBytes_.assign(steps_.size(), 0);
    runSteps(0, steps_.size(), cancel, true);
    return stepBytes_.empty() ? 0 : *std::max_element(stepBytes_.begin(), stepBytes_.end());
}

/// Slices of inputs [b0, b0 + count) along axis 0 into sliceInputs_, which the input slots read.
static void sliceRows(std::span<const Tensor* const> inputs, std::int64_t batch, std::int64_t b0, std::int64_t count,
                      std::vector<Tensor>& slices)
{
    slices.resize(inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const Tensor& in = *inputs[i];
        Shape shape = in.shape();
        shape[0] = count;
        slices[i].resize(in.dtype(), shape);
        const std::size_t row = in.byteSize() / static_cast<std::size_t>(batch);
        std::memcpy(slices[i].raw(), in.raw() + row * static_cast<std::size_t>(b0), row * static_cast<std::size_t>(count));
    }
}

void Executor::planSlices(std::span<const Tensor* const> inputs, std::int64_t batch, const CancelToken* cancel)
{
    // One sample through every step, measuring what each step produces.
    sliceRows(inputs, batch, 0, 1, sliceInputs_);
    for (std::size_t i = 0; i < inputs.size(); ++i)
        slots_[static_cast<std::size_t>(inputSlots_[i])] = &sliceInputs_[i];
    stepBytes_.assign(steps_.size(), 0);
    runSteps(0, steps_.size(), cancel, true);
    for (std::size_t i = 0; i < inputs.size(); ++i)
        slots_[static_cast<std::size_t>(inputSlots_[i])] = inputs[i];
    // The whole-batch tail: the longest run of final steps whose values are all small.
    sliceCut_ = steps_.size();
    if (options_.sliceTailBytes > 0)
        while (sliceCut_ > 0 && stepBytes_[sliceCut_ - 1] <= options_.sliceTailBytes)
            --sliceCut_;
    headPeakBytes_ = 1;
    for (std::size_t i = 0; i < sliceCut_; ++i)
        headPeakBytes_ = std::max(headPeakBytes_, stepBytes_[i]);
    // Values computed before the cut that the tail or the caller reads.
    std::set<int> cross;
    for (std::size_t i = sliceCut_; i < steps_.size(); ++i)
        for (int in : steps_[i].in)
            if (in >= 0 && producer_[static_cast<std::size_t>(in)] >= 0 &&
                static_cast<std::size_t>(producer_[static_cast<std::size_t>(in)]) < sliceCut_)
                cross.insert(in);
    for (int o : outputSlots_)
        if (producer_[static_cast<std::size_t>(o)] >= 0 &&
            static_cast<std::size_t>(producer_[static_cast<std::size_t>(o)]) < sliceCut_)
            cross.insert(o);
    crossSlots_.assign(cross.begin(), cross.end());
    crossValues_.resize(crossSlots_.size());
    slicePlanned_ = true;
}

void Executor::runSliced(std::span<const Tensor* const> inputs, std::int64_t batch, const CancelToken* cancel)
{
    // A plan holds for inputs of the same shape but for axis 0.
    std::vector<Shape> key;
    for (const Tensor* t : inputs)
        key.emplace_back(t->shape().begin() + 1, t->shape().end());
    if (key != sliceKey_ || !slicePlanned_) {
        sliceKey_ = key;
        planSlices(inputs, batch, cancel);
    }
    const std::int64_t slice =
        std::max<std::int64_t>(1, static_cast<std::int64_t>(options_.sliceBytes / headPeakBytes_));
    if (sliceCut_ == 0 || slice >= batch) {
        runSteps(0, steps_.size(), cancel);
        return;
    }
    std::vector<std::int64_t> rowsPerSample(crossSlots_.size(), 0);
    for (std::int64_t b0 = 0; b0 < batch; b0 += slice) {
        const std::int64_t count = std::min(slice, batch - b0);
        sliceRows(inputs, batch, b0, count, sliceInputs_);
        for (std::size_t i = 0; i < inputs.size(); ++i)
            slots_[static_cast<std::size_t>(inputSlots_[i])] = &sliceInputs_[i];
        runSteps(0, sliceCut_, cancel);
        for (std::size_t c = 0; c < crossSlots_.size(); ++c) {
            const Tensor& t = *slots_[static_cast<std::size_t>(crossSlots_[c])];
            Tensor& all = crossValues_[c];
            bool ok = t.rank() >= 1 && t.dtype() != DType::String && t.dim(0) % count == 0;
            if (ok && b0 == 0) {
                rowsPerSample[c] = t.dim(0) / count;
                Shape shape = t.shape();
                shape[0] = rowsPerSample[c] * batch;
                all.resize(t.dtype(), shape);
            }
            ok = ok && t.dim(0) == rowsPerSample[c] * count && t.dtype() == all.dtype() &&
                 std::equal(t.shape().begin() + 1, t.shape().end(), all.shape().begin() + 1, all.shape().end());
            if (!ok) {
                // Not what the analysis promised: run whole batches from now on.
                splittable_ = false;
                for (std::size_t i = 0; i < inputs.size(); ++i)
                    slots_[static_cast<std::size_t>(inputSlots_[i])] = inputs[i];
                runSteps(0, steps_.size(), cancel);
                return;
            }
            const std::size_t row = t.byteSize() / static_cast<std::size_t>(count);
            std::memcpy(all.raw() + row * static_cast<std::size_t>(b0), t.raw(), t.byteSize());
        }
    }
    for (std::size_t i = 0; i < inputs.size(); ++i)
        slots_[static_cast<std::size_t>(inputSlots_[i])] = inputs[i];
    // The tail and the caller read the gathered values until the next run restores the slots.
    for (std::size_t c = 0; c < crossSlots_.size(); ++c) {
        const auto slot = static_cast<std::size_t>(crossSlots_[c]);
        restoreSlots_.emplace_back(crossSlots_[c], slots_[slot]);
        slots_[slot] = &crossValues_[c];
    }
    runSteps(sliceCut_, steps_.size(), cancel);
}

void Executor::runSteps(std::size_t from, std::size_t to, const CancelToken* cancel, bool measure)
{
    for (std::size_t si = from; si < to; ++si) {
        Step& step = steps_[si];
        if (cancel && cancel->isCancelled())
            throw CancelledError();
        for (std::size_t k = 0; k < step.in.size(); ++k)
            step.inPtr[k] = step.in[k] < 0 ? nullptr : slots_[static_cast<std::size_t>(step.in[k])];
        KernelArgs args(*step.node, step.inPtr, step.outPtr);
        const auto start = profiling_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
        try {
            step.kernel(args);
        } catch (const CancelledError&) {
            throw;
        } catch (const Error& e) {
            const std::string what = e.what();
            const std::string msg =
                what.find(step.node->describe()) == std::string::npos ? step.node->describe() + ": " + what : what;
            if (dynamic_cast<const UnsupportedError*>(&e))
                throw UnsupportedError(msg);
            throw Error(msg);
        } catch (const std::bad_alloc&) {
            throw Error(step.node->describe() + ": out of memory");
        }
        if (observer_)
            observer_(*step.node, args);
        if (measure)
            for (const Tensor* t : step.outPtr)
                stepBytes_[si] = std::max(stepBytes_[si], t->byteSize());
        if (profiling_)
            profile_[step.node->opType] +=
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
}

const Tensor& Executor::output(std::size_t i) const { return *slots_[static_cast<std::size_t>(outputSlots_.at(i))]; }

const Tensor* Executor::value(const std::string& name) const
{
    const int s = slotFor(name);
    return s < 0 ? nullptr : slots_[static_cast<std::size_t>(s)];
}

std::size_t Executor::nodeCount() const { return steps_.size(); }

void Executor::setProfiling(bool on)
{
    profiling_ = on;
    profile_.clear();
}

} // namespace leger
