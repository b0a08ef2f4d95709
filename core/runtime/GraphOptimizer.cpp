#include "runtime/GraphOptimizer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include "model/Half.h"

namespace leger {

namespace {

using Opsets = std::map<std::string, int, std::less<>>;

int defaultOpset(const Opsets& opsets)
{
    auto it = opsets.find("");
    return it == opsets.end() ? 1 : it->second;
}

/// Values defined by constants: initializers and `Constant` nodes the reader did not fold.
class Constants {
public:
    explicit Constants(const Graph& graph) : graph_(graph)
    {
        for (const Node& n : graph.nodes)
            if (n.opType == "Constant" && n.domain.empty() && n.outputs.size() == 1)
                constantNodes_[n.outputs[0]] = &n;
    }
    bool isConstant(const std::string& name) const
    {
        return graph_.initializer(name) != nullptr || constantNodes_.count(name) != 0;
    }
    /// The tensor, when it is known without running anything.
    const Tensor* tensor(const std::string& name) const
    {
        if (const Tensor* t = graph_.initializer(name))
            return t;
        auto it = constantNodes_.find(name);
        if (it == constantNodes_.end())
            return nullptr;
        const Attribute* a = it->second->find("value");
        return a && a->kind == Attribute::Kind::Tensor && a->t ? a->t.get() : nullptr;
    }
    /// A float32 or float16 scalar (exactly representable in float).
    std::optional<float> floatScalar(const std::string& name) const
    {
        const Tensor* t = tensor(name);
        if (!t || t->size() != 1)
            return std::nullopt;
        if (t->dtype() == DType::Float32)
            return t->data<float>()[0];
        if (t->dtype() == DType::Float16)
            return t->data<Half>()[0].toFloat();
        return std::nullopt;
    }

private:
    const Graph& graph_;
    std::map<std::string, const Node*, std::less<>> constantNodes_;
};

struct FusedAct {
    std::string op;
    float alpha = 0.0f, beta = 0.0f;
};

/// The activation `n` applies to `input`, if it is one the conv kernels fuse.
std::optional<FusedAct> fusableActivation(const Node& n, const std::string& input, int opset, const Constants& consts)
{
    if (!n.domain.empty() || n.inputs.empty() || n.inputs[0] != input || n.outputs.size() != 1 || n.outputs[0].empty())
        return std::nullopt;
    FusedAct a;
    a.op = n.opType;
    if (n.opType == "Relu" || n.opType == "HardSwish") {
        if (n.inputs.size() != 1)
            return std::nullopt;
        return a;
    }
    if (n.opType == "LeakyRelu") {
        a.alpha = n.attrFloat("alpha", 0.01f);
        return n.inputs.size() == 1 ? std::optional(a) : std::nullopt;
    }
    if (n.opType == "HardSigmoid") {
        a.alpha = n.attrFloat("alpha", 0.2f);
        a.beta = n.attrFloat("beta", 0.5f);
        return n.inputs.size() == 1 ? std::optional(a) : std::nullopt;
    }
    if (n.opType == "Clip") {
        if (opset < 11) {
            a.alpha = n.attrFloat("min", std::numeric_limits<float>::lowest());
            a.beta = n.attrFloat("max", std::numeric_limits<float>::max());
            return n.inputs.size() == 1 ? std::optional(a) : std::nullopt;
        }
        if (n.inputs.size() > 3)
            return std::nullopt;
        a.alpha = -std::numeric_limits<float>::infinity();
        a.beta = std::numeric_limits<float>::infinity();
        if (n.hasInput(1)) {
            const auto v = consts.floatScalar(n.inputs[1]);
            if (!v)
                return std::nullopt;
            a.alpha = *v;
        }
        if (n.hasInput(2)) {
            const auto v = consts.floatScalar(n.inputs[2]);
            if (!v)
                return std::nullopt;
            a.beta = *v;
        }
        return a;
    }
    return std::nullopt;
}

/// The other operand of an Add of `input` and a computed value.
std::optional<std::string> residualOperand(const Node& n, const std::string& input, int opset, const Constants& consts)
{
    if (n.opType != "Add" || !n.domain.empty() || opset < 7 || n.inputs.size() != 2 || n.outputs.size() != 1 ||
        n.outputs[0].empty())
        return std::nullopt;
    const int self = n.inputs[0] == input ? 0 : n.inputs[1] == input ? 1 : -1;
    if (self < 0)
        return std::nullopt;
    const std::string& other = n.inputs[static_cast<std::size_t>(1 - self)];
    if (other.empty() || other == input || consts.isConstant(other))
        return std::nullopt;
    return other;
}

} // namespace

OptimizedNodes fuseConvEpilogues(const Graph& graph, const Opsets& opsets)
{
    const int opset = defaultOpset(opsets);
    const Constants consts(graph);
    const std::size_t n = graph.nodes.size();
    // How often each value is read, and by which node (meaningful when read once). Reads from
    // subgraphs and graph outputs count double so such values are never fused away.
    std::map<std::string, int, std::less<>> uses;
    std::map<std::string, std::size_t, std::less<>> reader;
    for (std::size_t i = 0; i < n; ++i) {
        const Node& node = graph.nodes[i];
        for (const auto& in : node.inputs)
            if (!in.empty()) {
                ++uses[in];
                reader[in] = i;
            }
        for (const auto& [key, attr] : node.attributes) {
            std::set<std::string> outer;
            if (attr.g)
                outer.merge(attr.g->outerNames());
            for (const auto& sub : attr.graphs)
                outer.merge(sub->outerNames());
            for (const auto& name : outer)
                uses[name] += 2;
        }
    }
    for (const auto& out : graph.outputs)
        uses[out.name] += 2;
    auto soleReader = [&](const std::string& value) -> std::optional<std::size_t> {
        auto it = uses.find(value);
        if (it == uses.end() || it->second != 1)
            return std::nullopt;
        return reader.at(value);
    };

    OptimizedNodes result;
    std::vector<bool> absorbed(n, false);
    std::vector<std::unique_ptr<Node>> fusedAt(n); // the fused node to run at position i
    for (std::size_t i = 0; i < n; ++i) {
        const Node& conv = graph.nodes[i];
        if (absorbed[i] || conv.opType != "Conv" || !conv.domain.empty() || conv.inputs.size() < 2 ||
            conv.inputs.size() > 3 || conv.outputs.size() != 1 || conv.outputs[0].empty())
            continue;
        bool tagged = false;
        for (const auto& [key, attr] : conv.attributes)
            tagged = tagged || key.rfind("leger.", 0) == 0;
        if (tagged)
            continue;
        std::string value = conv.outputs[0];
        std::optional<FusedAct> act;
        std::optional<std::string> residual;
        int residualMode = 0;
        std::vector<std::size_t> taken;
        // Absorbs the sole reader of `value` if `match` accepts it.
        auto next = [&](auto&& match) {
            const auto j = soleReader(value);
            if (!j || *j <= i || absorbed[*j] || fusedAt[*j])
                return false;
            if (!match(graph.nodes[*j]))
                return false;
            taken.push_back(*j);
            value = graph.nodes[*j].outputs[0];
            return true;
        };
        auto matchAct = [&](const Node& node) {
            act = fusableActivation(node, value, opset, consts);
            return act.has_value();
        };
        auto matchAdd = [&](const Node& node) {
            residual = residualOperand(node, value, opset, consts);
            return residual.has_value();
        };
        if (next(matchAct)) {
            if (next(matchAdd))
                residualMode = 2;
        } else if (next(matchAdd)) {
            residualMode = 1;
            next(matchAct);
        }
        if (taken.empty())
            continue;
        auto fused = std::make_unique<Node>(conv);
        fused->inputs.resize(3);
        if (residualMode) {
            fused->inputs.push_back(*residual);
            Attribute r;
            r.kind = Attribute::Kind::Int;
            r.i = residualMode;
            fused->attributes["leger.residual"] = r;
        }
        if (act) {
            Attribute op;
            op.kind = Attribute::Kind::String;
            op.s = act->op;
            fused->attributes["leger.activation"] = op;
            Attribute alpha, beta;
            alpha.kind = beta.kind = Attribute::Kind::Float;
            alpha.f = act->alpha;
            beta.f = act->beta;
            fused->attributes["leger.activation_alpha"] = alpha;
            fused->attributes["leger.activation_beta"] = beta;
        }
        fused->outputs = {value};
        absorbed[i] = true;
        for (std::size_t j : taken)
            absorbed[j] = true;
        fusedAt[taken.back()] = std::move(fused);
        result.removed += taken.size();
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (fusedAt[i]) {
            result.order.push_back(fusedAt[i].get());
            result.owned.push_back(std::move(fusedAt[i]));
        } else if (!absorbed[i]) {
            result.order.push_back(&graph.nodes[i]);
        }
    }
    return result;
}

// ---- Batch splitting ------------------------------------------------------------------------------

namespace {

/// What the analysis knows of a value: a constant (shape known or not), or a tensor whose
/// axis 0 runs over the batch (rank known or not).
struct ValueState {
    bool batched = false;
    int rank = -1;
    const Tensor* constant = nullptr; // known constant value
};

bool isNondeterministic(const std::string& op)
{
    return op.rfind("Random", 0) == 0 || op == "Bernoulli" || op == "Multinomial";
}

/// Ops that map each element independently (or, for the normalizations, each sample on its
/// own), whose non-data inputs must be constants.
const std::set<std::string, std::less<>>& unaryOps()
{
    static const std::set<std::string, std::less<>> ops{
        "Relu",        "LeakyRelu",  "Sigmoid",      "Tanh",     "HardSigmoid", "HardSwish", "Elu",
        "Selu",        "Celu",       "Softplus",     "Softsign", "Exp",         "Log",       "Abs",
        "Neg",         "Sqrt",       "Reciprocal",   "Floor",    "Ceil",        "Erf",       "Identity",
        "Cast",        "Gelu",       "Mish",         "ThresholdedRelu", "Round", "Sign",     "Not",
        "IsNaN",       "IsInf",      "Sin",          "Cos",      "Clip",        "LRN",       "Shrink",
        "BatchNormalization", "InstanceNormalization", "Conv", "ConvTranspose", "AveragePool", "LpPool",
        "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "DepthToSpace", "SpaceToDepth", "Dropout",
        "MaxPool"};
    return ops;
}

const std::set<std::string, std::less<>>& elementwiseOps()
{
    static const std::set<std::string, std::less<>> ops{"Add",  "Sub",    "Mul",  "Div",     "Pow",          "Max",
                                                         "Min", "Sum",    "Mean", "Equal",   "Less",         "Greater",
                                                         "And", "Or",     "Xor",  "Where",   "LessOrEqual",  "Mod",
                                                         "PRelu", "GreaterOrEqual", "BitShift"};
    return ops;
}

const std::set<std::string, std::less<>>& reduceOps()
{
    static const std::set<std::string, std::less<>> ops{"ReduceMean", "ReduceSum",  "ReduceMax",       "ReduceMin",
                                                        "ReduceProd", "ReduceL1",   "ReduceL2",        "ReduceLogSum",
                                                        "ReduceLogSumExp", "ReduceSumSquare"};
    return ops;
}

/// Normalizes axis for rank; nullopt if out of range or the rank is unknown.
std::optional<int> normAxis(std::int64_t axis, int rank)
{
    if (rank < 0 || axis < -rank || axis >= rank)
        return std::nullopt;
    return static_cast<int>(axis < 0 ? axis + rank : axis);
}

} // namespace

bool batchSplittable(const Graph& graph, std::span<const Node* const> order, const Opsets& opsets)
{
    const int opset = defaultOpset(opsets);
    std::map<std::string, ValueState, std::less<>> state;
    for (const auto& [name, t] : graph.initializers)
        state[name] = ValueState{false, t.rank(), &t};
    if (graph.inputs.empty())
        return false;
    for (const auto& in : graph.inputs) {
        // The batch must be a free first dimension of every input.
        if (!in.isTensor || !in.hasShape || in.dims.empty() || in.dims[0] >= 0)
            return false;
        state[in.name] = ValueState{true, static_cast<int>(in.dims.size()), nullptr};
    }
    auto get = [&](const std::string& name) -> const ValueState* {
        auto it = state.find(name);
        return it == state.end() ? nullptr : &it->second;
    };
    // The values of a constant integer input (axes, pads, shapes), if known.
    auto constInts = [&](const Node& n, std::size_t i) -> std::optional<std::vector<std::int64_t>> {
        if (!n.hasInput(i))
            return std::nullopt;
        const ValueState* s = get(n.inputs[i]);
        if (!s || s->batched || !s->constant)
            return std::nullopt;
        const DType d = s->constant->dtype();
        if (d != DType::Int64 && d != DType::Int32)
            return std::nullopt;
        return s->constant->toInt64Vector();
    };
    for (const Node* np : order) {
        const Node& n = *np;
        if (!n.domain.empty() || isNondeterministic(n.opType))
            return false;
        for (const auto& [key, attr] : n.attributes)
            if (attr.g || !attr.graphs.empty())
                return false;
        bool anyBatched = false;
        for (const auto& in : n.inputs) {
            if (in.empty())
                continue;
            const ValueState* s = get(in);
            if (!s)
                return false;
            anyBatched = anyBatched || s->batched;
        }
        if (!anyBatched) {
            // Folded at compile time (or a constant source): the same for every slice.
            if (n.opType == "Constant" && n.outputs.size() == 1) {
                const Attribute* a = n.find("value");
                const Tensor* t = a && a->kind == Attribute::Kind::Tensor && a->t ? a->t.get() : nullptr;
                state[n.outputs[0]] = ValueState{false, t ? t->rank() : -1, t};
                continue;
            }
            for (const auto& out : n.outputs)
                if (!out.empty())
                    state[out] = ValueState{false, -1, nullptr};
            continue;
        }
        const std::string& op = n.opType;
        int outRank = -1;
        std::size_t batchedOutputs = 1; // outputs that carry the batch (others must be unused)
        // Inputs from `from` on are all constants.
        auto restConstant = [&](std::size_t from) {
            for (std::size_t i = from; i < n.inputs.size(); ++i)
                if (!n.inputs[i].empty() && get(n.inputs[i])->batched)
                    return false;
            return true;
        };
        const ValueState* in0 = n.hasInput(0) ? get(n.inputs[0]) : nullptr;
        if (!in0 || !in0->batched) {
            // Only the element-wise ops take the batch from another operand.
            if (!elementwiseOps().count(op) || op == "PRelu")
                return false;
        }
        if (unaryOps().count(op)) {
            for (std::size_t i = 1; i < n.inputs.size(); ++i) {
                if (n.inputs[i].empty())
                    continue;
                const ValueState* s = get(n.inputs[i]);
                if (op == "Conv" && i == 3) {
                    // The residual of a fused Add: the output's own shape.
                    if (!s->batched || s->rank != in0->rank)
                        return false;
                } else if (s->batched) {
                    return false;
                }
            }
            outRank = in0->rank;
            if (op == "MaxPool" && n.outputs.size() > 1 && !n.outputs[1].empty())
                return false; // Indices are flat offsets that include the batch
            if (op == "BatchNormalization" && n.attrInt("training_mode", 0) != 0)
                return false;
            if (op == "BatchNormalization" || op == "Dropout")
                for (std::size_t i = 1; i < n.outputs.size(); ++i)
                    if (!n.outputs[i].empty())
                        return false;
        } else if (elementwiseOps().count(op)) {
            // Batched operands must all have the output's rank; constants must not reach axis 0.
            int rank = -1;
            for (const auto& in : n.inputs)
                if (!in.empty() && get(in)->batched) {
                    const int r = get(in)->rank;
                    if (r < 1 || (rank >= 0 && r != rank))
                        return false;
                    rank = r;
                }
            for (const auto& in : n.inputs) {
                if (in.empty() || get(in)->batched)
                    continue;
                const Tensor* c = get(in)->constant;
                if (!c || c->rank() > rank || (c->rank() == rank && c->dim(0) != 1))
                    return false;
            }
            outRank = rank;
        } else if (op == "Flatten") {
            if (!restConstant(1))
                return false;
            const auto axis = normAxis(n.attrInt("axis", 1), in0->rank);
            // Flatten also accepts axis == rank.
            const bool atEnd = in0->rank >= 0 && n.attrInt("axis", 1) == in0->rank;
            if (!atEnd && (!axis || *axis < 1))
                return false;
            outRank = 2;
        } else if (op == "Gemm") {
            if (!in0 || !in0->batched || in0->rank != 2 || n.attrInt("transA", 0) != 0 || !restConstant(1))
                return false;
            if (n.hasInput(2)) {
                const Tensor* c = get(n.inputs[2])->constant;
                if (!c || c->rank() > 2 || (c->rank() == 2 && c->dim(0) != 1))
                    return false;
            }
            outRank = 2;
        } else if (op == "MatMul") {
            if (!in0 || !in0->batched || in0->rank < 2 || !restConstant(1))
                return false;
            const Tensor* b = get(n.inputs.at(1))->constant;
            if (!b || b->rank() > 2)
                return false;
            outRank = in0->rank;
        } else if (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") {
            const auto axis = normAxis(n.attrInt("axis", opset >= 13 ? -1 : 1), in0->rank);
            if (!in0->batched || !axis || *axis < 1)
                return false;
            outRank = in0->rank;
        } else if (reduceOps().count(op) || op == "ArgMax" || op == "ArgMin") {
            if (!in0->batched || in0->rank < 0)
                return false;
            std::vector<std::int64_t> axes;
            if (op == "ArgMax" || op == "ArgMin") {
                axes = {n.attrInt("axis", 0)};
            } else if (n.inputs.size() >= 2 && n.hasInput(1)) {
                const auto v = constInts(n, 1);
                if (!v)
                    return false;
                axes = *v;
            } else {
                axes = n.attrInts("axes");
            }
            if (axes.empty())
                return false; // all axes (or a no-op we do not bother with)
            std::set<int> seen;
            for (std::int64_t a : axes) {
                const auto ax = normAxis(a, in0->rank);
                if (!ax || *ax == 0)
                    return false;
                seen.insert(*ax);
            }
            outRank = n.attrInt("keepdims", 1) ? in0->rank : in0->rank - static_cast<int>(seen.size());
            if (outRank < 1)
                return false;
        } else if (op == "Concat") {
            for (const auto& in : n.inputs)
                if (in.empty() || !get(in)->batched || get(in)->rank != in0->rank)
                    return false;
            const auto axis = normAxis(n.attrInt("axis", 0), in0->rank);
            if (!axis || *axis < 1)
                return false;
            outRank = in0->rank;
        } else if (op == "Split") {
            const auto axis = normAxis(n.attrInt("axis", 0), in0->rank);
            if (!in0->batched || !axis || *axis < 1 || !restConstant(1))
                return false;
            outRank = in0->rank;
            batchedOutputs = n.outputs.size();
        } else if (op == "Transpose") {
            const auto perm = n.attrInts("perm");
            if (!in0->batched || perm.empty() || perm[0] != 0)
                return false;
            outRank = in0->rank;
        } else if (op == "Reshape") {
            const auto shape = constInts(n, 1);
            if (!in0->batched || !shape || shape->empty() || n.attrInt("allowzero", 0) != 0)
                return false;
            // Axis 0 copied (0), or inferred (-1) from fixed trailing dimensions: slices stay
            // contiguous blocks of rows in order.
            if ((*shape)[0] != 0 && (*shape)[0] != -1)
                return false;
            if ((*shape)[0] == -1)
                for (std::size_t i = 1; i < shape->size(); ++i)
                    if ((*shape)[i] <= 0)
                        return false;
            outRank = static_cast<int>(shape->size());
        } else if (op == "Squeeze" || op == "Unsqueeze") {
            std::optional<std::vector<std::int64_t>> axes;
            if (opset >= 13)
                axes = constInts(n, 1);
            else if (n.has("axes"))
                axes = n.attrInts("axes");
            if (!in0->batched || in0->rank < 0 || !axes || axes->empty())
                return false;
            const int r = op == "Squeeze" ? in0->rank : in0->rank + static_cast<int>(axes->size());
            for (std::int64_t a : *axes) {
                const auto ax = normAxis(a, op == "Squeeze" ? in0->rank : r);
                if (!ax || *ax == 0)
                    return false;
            }
            outRank = op == "Squeeze" ? in0->rank - static_cast<int>(axes->size()) : r;
        } else if (op == "Gather") {
            const auto axis = normAxis(n.attrInt("axis", 0), in0->rank);
            const ValueState* idx = get(n.inputs.at(1));
            if (!in0->batched || !axis || *axis < 1 || idx->batched || !idx->constant)
                return false;
            outRank = in0->rank - 1 + idx->constant->rank();
        } else if (op == "Slice" && opset >= 10) {
            const auto axes = constInts(n, 3);
            if (!in0->batched || !axes || !constInts(n, 1) || !constInts(n, 2) ||
                (n.hasInput(4) && !constInts(n, 4)))
                return false;
            for (std::int64_t a : *axes) {
                const auto ax = normAxis(a, in0->rank);
                if (!ax || *ax == 0)
                    return false;
            }
            outRank = in0->rank;
        } else if (op == "Pad" && opset >= 11) {
            const auto pads = constInts(n, 1);
            if (!in0->batched || in0->rank < 1 || !pads || n.hasInput(3) || !restConstant(1) ||
                pads->size() != 2 * static_cast<std::size_t>(in0->rank) || (*pads)[0] != 0 ||
                (*pads)[static_cast<std::size_t>(in0->rank)] != 0)
                return false;
            outRank = in0->rank;
        } else if ((op == "Resize" && opset >= 11) || (op == "Upsample" && opset >= 9)) {
            // Scales only (no sizes: they fix the batch), with scale 1 on axis 0.
            const std::size_t scalesAt = op == "Resize" ? 2 : 1;
            if (!restConstant(1) || (op == "Resize" && (n.hasInput(3) || n.has("axes"))))
                return false;
            const ValueState* sc = n.hasInput(scalesAt) ? get(n.inputs[scalesAt]) : nullptr;
            if (!sc || !sc->constant || sc->constant->dtype() != DType::Float32 || sc->constant->size() < 1 ||
                sc->constant->data<float>()[0] != 1.0f)
                return false;
            outRank = in0->rank;
        } else {
            return false;
        }
        if (batchedOutputs > n.outputs.size())
            return false;
        for (std::size_t i = 0; i < n.outputs.size(); ++i)
            if (!n.outputs[i].empty())
                state[n.outputs[i]] = ValueState{i < batchedOutputs, outRank, nullptr};
    }
    for (const auto& out : graph.outputs) {
        const ValueState* s = get(out.name);
        if (!s || !s->batched || s->rank < 1)
            return false;
    }
    return true;
}

} // namespace leger
