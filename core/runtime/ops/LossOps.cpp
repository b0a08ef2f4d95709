// Training losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opset 12+).
//
// Both gather one value per (n, d1, ..., dk) position of an input [N, C, d1, ..., dk] at the
// class named by target [N, d1, ..., dk], weight it by weight[class] (1 without weights, 0
// where target == ignore_index), and reduce: none keeps the per-position losses, sum adds
// them, mean divides the sum by the sum of the weights (so ignored positions do not count).
// Sums are accumulated in double; float16/bfloat16 inputs are computed in float32.

#include <cmath>
#include <limits>
#include <optional>

#include "runtime/OpRegistry.h"
#include "runtime/ops/OpUtil.h"
#include "runtime/ops/Widen.h"

namespace leger {

namespace {

using I64 = std::int64_t;

enum class Reduction { None, Sum, Mean };

struct LossConfig {
    Reduction reduction = Reduction::Mean;
    std::optional<I64> ignoreIndex;
    bool softmax = false; // SoftmaxCrossEntropyLoss: log_softmax over C first
};

LossConfig parseLoss(const KernelContext& ctx, bool softmax)
{
    LossConfig c;
    c.softmax = softmax;
    const std::string r = ctx.node.attrString("reduction", "mean");
    if (r == "none")
        c.reduction = Reduction::None;
    else if (r == "sum")
        c.reduction = Reduction::Sum;
    else if (r == "mean")
        c.reduction = Reduction::Mean;
    else
        ctx.invalid("reduction '" + r + "' is not one of none, sum, mean");
    if (ctx.node.has("ignore_index"))
        c.ignoreIndex = ctx.node.attrInt("ignore_index", 0);
    return c;
}

/// The input viewed as [N, C, D] (D: product of the trailing dims), checked against target.
struct LossShape {
    I64 N = 0, C = 0, D = 1;
};

LossShape checkShapes(const Node& node, const Tensor& x, const Tensor& target, const Tensor* weight)
{
    if (x.rank() < 2)
        throw Error(node.describe() + ": input must have rank 2 or more, got " + shapeToString(x.shape()));
    LossShape s;
    s.N = x.dim(0);
    s.C = x.dim(1);
    Shape want{s.N};
    for (int d = 2; d < x.rank(); ++d) {
        want.push_back(x.dim(d));
        s.D *= x.dim(d);
    }
    if (target.shape() != want)
        throw Error(node.describe() + ": target has shape " + shapeToString(target.shape()) + ", expected " +
                    shapeToString(want) + " for input " + shapeToString(x.shape()));
    if (!isInteger(target.dtype()))
        throw Error(node.describe() + ": target must be an integer tensor, got " + std::string(dtypeName(target.dtype())));
    if (weight && weight->shape() != Shape{s.C})
        throw Error(node.describe() + ": weight has shape " + shapeToString(weight->shape()) + ", expected [" +
                    std::to_string(s.C) + "]");
    return s;
}

/// Computes the loss (and log_prob when logProb is non-null) for float or double T.
/// x: [N, C, D], targets: [N, D], weight: [C] or null.
template <class T>
void computeLoss(const LossConfig& cfg, const Node& node, const Tensor& x, const std::vector<I64>& targets,
                 const Tensor* weight, const LossShape& s, Tensor& loss, Tensor* logProb)
{
    const T* xp = x.data<T>();
    const T* wp = weight ? weight->data<T>() : nullptr;
    const I64 C = s.C, D = s.D;

    // SoftmaxCrossEntropyLoss: the gathered values come from log_softmax(x) over C.
    const T* src = xp;
    Tensor lp;
    if (cfg.softmax) {
        Tensor& dst = logProb ? *logProb : lp;
        dst.resize(dtypeOf<T>(), x.shape());
        T* o = dst.data<T>();
        for (I64 n = 0; n < s.N; ++n)
            for (I64 d = 0; d < D; ++d) {
                const T* col = xp + n * C * D + d; // stride D between classes
                double mx = -std::numeric_limits<double>::infinity();
                for (I64 c = 0; c < C; ++c)
                    mx = std::max(mx, static_cast<double>(col[c * D]));
                double sum = 0;
                for (I64 c = 0; c < C; ++c)
                    sum += std::exp(static_cast<double>(col[c * D]) - mx);
                const double lse = mx + std::log(sum);
                for (I64 c = 0; c < C; ++c)
                    o[n * C * D + c * D + d] = static_cast<T>(static_cast<double>(col[c * D]) - lse);
            }
        src = o;
    }

    Shape outShape;
    if (cfg.reduction == Reduction::None) {
        outShape.push_back(s.N);
        for (int d = 2; d < x.rank(); ++d)
            outShape.push_back(x.dim(d));
    }
    loss.resize(dtypeOf<T>(), outShape);
    T* out = loss.data<T>();
    double total = 0, weightSum = 0;
    for (I64 n = 0; n < s.N; ++n)
        for (I64 d = 0; d < D; ++d) {
            const I64 i = n * D + d;
            const I64 t = targets[static_cast<std::size_t>(i)];
            double l = 0, w = 0;
            if (!(cfg.ignoreIndex && t == *cfg.ignoreIndex)) {
                if (t < 0 || t >= C)
                    throw Error(node.describe() + ": target value " + std::to_string(t) + " at position " +
                                std::to_string(i) + " is outside [0, " + std::to_string(C) + ")");
                w = wp ? static_cast<double>(wp[t]) : 1.0;
                l = -w * static_cast<double>(src[n * C * D + t * D + d]);
            }
            if (cfg.reduction == Reduction::None)
                out[i] = static_cast<T>(l);
            total += l;
            weightSum += w;
        }
    // Mean divides by the total weight; when every position is ignored that is 0 / 0 = NaN,
    // as in the ONNX reference.
    if (cfg.reduction == Reduction::Sum)
        out[0] = static_cast<T>(total);
    else if (cfg.reduction == Reduction::Mean)
        out[0] = static_cast<T>(total / weightSum);
}

Kernel makeLoss(const KernelContext& ctx, bool softmax)
{
    const LossConfig cfg = parseLoss(ctx, softmax);
    return [cfg](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& x = a.input(0);
        const Tensor& target = a.input(1);
        const Tensor* weight = a.optionalInput(2);
        const LossShape s = checkShapes(node, x, target, weight);
        if (weight && weight->dtype() != x.dtype())
            throw Error(node.describe() + ": weight type " + std::string(dtypeName(weight->dtype())) +
                        " differs from input type " + std::string(dtypeName(x.dtype())));
        const std::vector<I64> targets = target.toInt64Vector();
        // log_prob is the optional second output of SoftmaxCrossEntropyLoss.
        Tensor* logProb = cfg.softmax && a.outputCount() > 1 ? &a.output(1) : nullptr;
        if (ops::isHalfFloat(x.dtype())) {
            const Tensor xf = ops::widenToFloat(x);
            std::optional<Tensor> wf;
            if (weight)
                wf = ops::widenToFloat(*weight);
            Tensor lossF, lpF;
            computeLoss<float>(cfg, node, xf, targets, wf ? &*wf : nullptr, s, lossF, logProb ? &lpF : nullptr);
            ops::narrowFromFloat(lossF, x.dtype(), a.output(0));
            if (logProb)
                ops::narrowFromFloat(lpF, x.dtype(), *logProb);
            return;
        }
        ops::dispatchFloat(
            x.dtype(),
            [&](auto t) {
                using T = decltype(t);
                computeLoss<T>(cfg, node, x, targets, weight, s, a.output(0), logProb);
            },
            node);
    };
}

} // namespace

void registerLossOps(OpRegistry& r)
{
    r.add("NegativeLogLikelihoodLoss", 12, [](const KernelContext& ctx) { return makeLoss(ctx, false); });
    r.add("SoftmaxCrossEntropyLoss", 12, [](const KernelContext& ctx) { return makeLoss(ctx, true); });
}

} // namespace leger
