// Normalizations: BatchNormalization, InstanceNormalization, LayerNormalization,
// GroupNormalization, LRN, MeanVarianceNormalization.
//
// Statistics are accumulated in double (two passes: mean, then squared deviations), which
// keeps large reductions accurate; the per-element normalisation is one fused multiply-add
// per element with per-channel (or per-row) coefficients computed once.

#include <cmath>
#include <memory>

#include "runtime/OpRegistry.h"
#include "runtime/ops/Multiversion.h"
#include "runtime/ops/OpUtil.h"
#include "runtime/ops/Widen.h"

namespace leger {

namespace {

/// Runs fn(T{}, X, Y) for float and double, widening float16/bfloat16 to float32.
template <class Fn> void withFloat(const KernelArgs& a, const Tensor& X, Tensor& Y, Fn&& fn)
{
    if (ops::isHalfFloat(X.dtype())) {
        const Tensor xf = ops::widenToFloat(X);
        Tensor yf;
        fn(float{}, xf, yf);
        ops::narrowFromFloat(yf, X.dtype(), Y);
        return;
    }
    ops::dispatchFloat(X.dtype(), [&](auto t) { fn(t, X, Y); }, a.node());
}

/// A 1-D parameter (scale, bias, mean, var) of any float type, as doubles; checks its size.
std::vector<double> paramValues(const Node& node, const Tensor& t, std::int64_t expected, const char* name)
{
    if (t.size() != expected)
        throw Error(node.describe() + ": " + name + " has shape " + shapeToString(t.shape()) + ", expected " +
                    std::to_string(expected) + " values");
    std::vector<double> v(static_cast<std::size_t>(expected));
    for (std::int64_t i = 0; i < expected; ++i)
        v[static_cast<std::size_t>(i)] = t.at(i);
    return v;
}

LEGER_MULTIVERSION double sumF(const float* x, std::int64_t n)
{
    // Independent partial sums so the loop vectorizes without reassociating one sum.
    float part[16] = {};
    std::int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; ++j)
            part[j] += x[i + j];
    double s = 0;
    for (float v : part)
        s += v;
    for (; i < n; ++i)
        s += x[i];
    return s;
}

LEGER_MULTIVERSION double sumSquaredDevF(const float* x, std::int64_t n, float mean)
{
    float part[16] = {};
    std::int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; ++j) {
            const float d = x[i + j] - mean;
            part[j] += d * d;
        }
    double s = 0;
    for (float v : part)
        s += v;
    for (; i < n; ++i)
        s += double(x[i] - mean) * double(x[i] - mean);
    return s;
}

/// Mean and (population) variance of n values.
template <class T> void meanVar(const T* x, std::int64_t n, double& mean, double& var)
{
    if (n == 0) {
        mean = 0;
        var = 0;
        return;
    }
    if constexpr (std::is_same_v<T, float>) {
        mean = sumF(x, n) / double(n);
        // Blocks keep the float partial sums short; the total is double.
        var = sumSquaredDevF(x, n, static_cast<float>(mean)) / double(n);
    } else {
        double s = 0;
        for (std::int64_t i = 0; i < n; ++i)
            s += double(x[i]);
        mean = s / double(n);
        double q = 0;
        for (std::int64_t i = 0; i < n; ++i)
            q += (double(x[i]) - mean) * (double(x[i]) - mean);
        var = q / double(n);
    }
}

/// y = x * a + b over n values.
LEGER_MULTIVERSION void affineF(const float* x, float* y, std::int64_t n, float a, float b)
{
    for (std::int64_t i = 0; i < n; ++i)
        y[i] = x[i] * a + b;
}
template <class T> void affine(const T* x, T* y, std::int64_t n, double a, double b)
{
    if constexpr (std::is_same_v<T, float>)
        affineF(x, y, n, static_cast<float>(a), static_cast<float>(b));
    else
        for (std::int64_t i = 0; i < n; ++i)
            y[i] = static_cast<T>(x[i] * a + b);
}

// ---- BatchNormalization ----------------------------------------------------------------------

Kernel makeBatchNormalization(const KernelContext& ctx)
{
    const Node& node = ctx.node;
    const double eps = node.attrFloat("epsilon", 1e-5f);
    const double momentum = node.attrFloat("momentum", 0.9f);
    const bool spatial = ctx.opset >= 9 || node.attrInt("spatial", 1) != 0;
    bool training = false;
    if (ctx.opset >= 14) {
        training = node.attrInt("training_mode", 0) != 0;
    } else {
        // Before 14 training is implied by the extra outputs (and is_test=0 before 7).
        for (std::size_t i = 1; i < node.outputs.size(); ++i)
            if (!node.outputs[i].empty())
                ctx.unsupported("training-mode BatchNormalization (extra outputs before opset 14)");
    }
    if (training && !spatial)
        ctx.unsupported("training mode with spatial=0");
    return [eps, momentum, spatial, training](KernelArgs& a) {
        const Node& n = a.node();
        const Tensor& X = a.input(0);
        if (X.rank() < 2)
            throw Error(n.describe() + ": input needs shape (N, C, ...), got " + shapeToString(X.shape()));
        const std::int64_t N = X.dim(0), C = X.dim(1);
        const std::int64_t inner = N * C != 0 ? X.size() / (N * C) : 0;
        // Per-activation parameters (spatial=0) have one value per (channel, position).
        const std::int64_t params = spatial ? C : C * inner;
        const auto scale = paramValues(n, a.input(1), params, "scale");
        const auto bias = paramValues(n, a.input(2), params, "B");
        auto mean = paramValues(n, a.input(3), params, "mean");
        auto var = paramValues(n, a.input(4), params, "var");
        if (training) {
            // Batch statistics over N and the spatial axes; running stats blend in the batch ones.
            std::vector<double> bm(static_cast<std::size_t>(C)), bv(static_cast<std::size_t>(C));
            const std::int64_t count = N * inner;
            for (std::int64_t c = 0; c < C; ++c) {
                double s = 0, q = 0;
                for (std::int64_t i = 0; i < N; ++i)
                    for (std::int64_t j = 0; j < inner; ++j)
                        s += X.at((i * C + c) * inner + j);
                const double m = count ? s / double(count) : 0;
                for (std::int64_t i = 0; i < N; ++i)
                    for (std::int64_t j = 0; j < inner; ++j) {
                        const double d = X.at((i * C + c) * inner + j) - m;
                        q += d * d;
                    }
                bm[static_cast<std::size_t>(c)] = m;
                bv[static_cast<std::size_t>(c)] = count ? q / double(count) : 0;
            }
            for (std::size_t k = 1; k <= 2; ++k) {
                if (!a.wantsOutput(k))
                    continue;
                const auto& running = k == 1 ? mean : var;
                const auto& batch = k == 1 ? bm : bv;
                const Tensor& like = a.input(k + 2);
                Tensor& out = a.output(k);
                out.resize(like.dtype() == DType::Float64 ? DType::Float64 : DType::Float32, {C});
                for (std::int64_t c = 0; c < C; ++c) {
                    const auto cu = static_cast<std::size_t>(c);
                    const double v = running[cu] * momentum + batch[cu] * (1 - momentum);
                    if (out.dtype() == DType::Float64)
                        out.data<double>()[c] = v;
                    else
                        out.data<float>()[c] = static_cast<float>(v);
                }
                if (ops::isHalfFloat(like.dtype())) {
                    const Tensor f = out;
                    ops::narrowFromFloat(f, like.dtype(), out);
                }
            }
            mean = bm;
            var = bv;
        }
        withFloat(a, X, a.output(0), [&](auto t, const Tensor& x, Tensor& y) {
            using T = decltype(t);
            y.resize(x.dtype(), x.shape());
            const T* xp = x.data<T>();
            T* yp = y.data<T>();
            // y = x * k + (B - mean * k) with k = scale / sqrt(var + eps)
            for (std::int64_t i = 0; i < N; ++i)
                for (std::int64_t c = 0; c < C; ++c) {
                    const std::int64_t off = (i * C + c) * inner;
                    if (spatial) {
                        const auto cu = static_cast<std::size_t>(c);
                        const double k = scale[cu] / std::sqrt(var[cu] + eps);
                        affine(xp + off, yp + off, inner, k, bias[cu] - mean[cu] * k);
                    } else {
                        for (std::int64_t j = 0; j < inner; ++j) {
                            const auto p = static_cast<std::size_t>(c * inner + j);
                            const double k = scale[p] / std::sqrt(var[p] + eps);
                            yp[off + j] = static_cast<T>(xp[off + j] * k + (bias[p] - mean[p] * k));
                        }
                    }
                }
        });
    };
}

// ---- InstanceNormalization -------------------------------------------------------------------

Kernel makeInstanceNormalization(const KernelContext& ctx)
{
    const double eps = ctx.node.attrFloat("epsilon", 1e-5f);
    return [eps](KernelArgs& a) {
        const Node& n = a.node();
        const Tensor& X = a.input(0);
        if (X.rank() < 3)
            throw Error(n.describe() + ": input needs shape (N, C, spatial...), got " + shapeToString(X.shape()));
        const std::int64_t N = X.dim(0), C = X.dim(1);
        const std::int64_t inner = N * C != 0 ? X.size() / (N * C) : 0;
        const auto scale = paramValues(n, a.input(1), C, "scale");
        const auto bias = paramValues(n, a.input(2), C, "B");
        withFloat(a, X, a.output(0), [&](auto t, const Tensor& x, Tensor& y) {
            using T = decltype(t);
            y.resize(x.dtype(), x.shape());
            for (std::int64_t p = 0; p < N * C; ++p) {
                const T* xp = x.data<T>() + p * inner;
                double mean, var;
                meanVar(xp, inner, mean, var);
                const auto c = static_cast<std::size_t>(p % C);
                const double k = scale[c] / std::sqrt(var + eps);
                affine(xp, y.data<T>() + p * inner, inner, k, bias[c] - mean * k);
            }
        });
    };
}

// ---- LayerNormalization ----------------------------------------------------------------------

/// y = (x - mean) * invStd * scale + bias over one row.
LEGER_MULTIVERSION void layerNormRowF(const float* x, float* y, std::int64_t n, float mean, float invStd,
                                      const float* scale, const float* bias)
{
    if (bias)
        for (std::int64_t i = 0; i < n; ++i)
            y[i] = (x[i] - mean) * invStd * scale[i] + bias[i];
    else
        for (std::int64_t i = 0; i < n; ++i)
            y[i] = (x[i] - mean) * invStd * scale[i];
}

/// A Scale or B input broadcast (numpy-style, unidirectionally) to the normalised shape.
template <class T>
std::vector<T> expandParam(const Node& node, const Tensor& p, const Shape& target, const char* name)
{
    const std::int64_t n = elementCount(target);
    std::vector<T> out(static_cast<std::size_t>(n));
    if (p.rank() > static_cast<int>(target.size()))
        throw Error(node.describe() + ": " + name + " shape " + shapeToString(p.shape()) +
                    " does not broadcast to " + shapeToString(target));
    const std::size_t off = target.size() - static_cast<std::size_t>(p.rank());
    for (std::size_t i = 0; i < p.shape().size(); ++i)
        if (p.shape()[i] != 1 && p.shape()[i] != target[off + i])
            throw Error(node.describe() + ": " + name + " shape " + shapeToString(p.shape()) +
                        " does not broadcast to " + shapeToString(target));
    const auto strides = ops::broadcastStrides(p.shape(), target);
    std::vector<std::int64_t> idx(target.size(), 0);
    for (std::int64_t i = 0; i < n; ++i) {
        std::int64_t src = 0;
        for (std::size_t d = 0; d < target.size(); ++d)
            src += idx[d] * strides[d];
        out[static_cast<std::size_t>(i)] = static_cast<T>(p.at(src));
        for (int d = static_cast<int>(target.size()) - 1; d >= 0; --d) {
            const auto du = static_cast<std::size_t>(d);
            if (++idx[du] < target[du])
                break;
            idx[du] = 0;
        }
    }
    return out;
}

Kernel makeLayerNormalization(const KernelContext& ctx)
{
    const std::int64_t axisAttr = ctx.node.attrInt("axis", -1);
    const double eps = ctx.node.attrFloat("epsilon", 1e-5f);
    const std::int64_t stash = ctx.node.attrInt("stash_type", 1);
    if (stash != 1)
        ctx.unsupported("stash_type " + std::to_string(stash));
    return [axisAttr, eps](KernelArgs& a) {
        const Node& n = a.node();
        const Tensor& X = a.input(0);
        const int axis = ops::normalizeAxis(axisAttr, X.rank(), n);
        const Shape normShape(X.shape().begin() + axis, X.shape().end());
        const std::int64_t inner = elementCount(normShape);
        const std::int64_t rows = inner ? X.size() / inner : 0;
        Shape statShape(X.shape().begin(), X.shape().begin() + axis);
        statShape.resize(X.shape().size(), 1);
        Tensor* meanOut = a.wantsOutput(1) ? &a.output(1) : nullptr;
        Tensor* invOut = a.wantsOutput(2) ? &a.output(2) : nullptr;
        if (meanOut)
            meanOut->resize(DType::Float32, statShape);
        if (invOut)
            invOut->resize(DType::Float32, statShape);
        withFloat(a, X, a.output(0), [&](auto t, const Tensor& x, Tensor& y) {
            using T = decltype(t);
            y.resize(x.dtype(), x.shape());
            const std::vector<T> scale = expandParam<T>(n, a.input(1), normShape, "Scale");
            std::vector<T> bias;
            if (a.hasInput(2))
                bias = expandParam<T>(n, a.input(2), normShape, "B");
            for (std::int64_t r = 0; r < rows; ++r) {
                const T* xr = x.data<T>() + r * inner;
                T* yr = y.data<T>() + r * inner;
                double mean, var;
                meanVar(xr, inner, mean, var);
                const double invStd = 1.0 / std::sqrt(var + eps);
                if (meanOut)
                    meanOut->data<float>()[r] = static_cast<float>(mean);
                if (invOut)
                    invOut->data<float>()[r] = static_cast<float>(invStd);
                if constexpr (std::is_same_v<T, float>) {
                    layerNormRowF(xr, yr, inner, static_cast<float>(mean), static_cast<float>(invStd), scale.data(),
                                  bias.empty() ? nullptr : bias.data());
                } else {
                    for (std::int64_t i = 0; i < inner; ++i) {
                        const auto iu = static_cast<std::size_t>(i);
                        yr[i] = static_cast<T>((xr[i] - mean) * invStd * scale[iu] + (bias.empty() ? T(0) : bias[iu]));
                    }
                }
            }
        });
    };
}

// ---- GroupNormalization ----------------------------------------------------------------------

Kernel makeGroupNormalization(const KernelContext& ctx)
{
    const double eps = ctx.node.attrFloat("epsilon", 1e-5f);
    const std::int64_t groups = ctx.node.attrInt("num_groups", 0);
    if (groups < 1)
        ctx.invalid("num_groups must be positive");
    if (ctx.node.attrInt("stash_type", 1) != 1)
        ctx.unsupported("stash_type other than float");
    return [eps, groups](KernelArgs& a) {
        const Node& n = a.node();
        const Tensor& X = a.input(0);
        if (X.rank() < 2)
            throw Error(n.describe() + ": input needs shape (N, C, ...), got " + shapeToString(X.shape()));
        const std::int64_t N = X.dim(0), C = X.dim(1);
        if (C % groups != 0)
            throw Error(n.describe() + ": " + std::to_string(C) + " channels do not split into " +
                        std::to_string(groups) + " groups");
        // Opset 18 has one scale/bias per group, opset 21 one per channel; the size tells which.
        const Tensor& S = a.input(1);
        const std::int64_t params = S.size() == C ? C : groups;
        const auto scale = paramValues(n, S, params, "scale");
        const auto bias = paramValues(n, a.input(2), params, "bias");
        const std::int64_t inner = N * C != 0 ? X.size() / (N * C) : 0;
        const std::int64_t perGroup = C / groups;
        withFloat(a, X, a.output(0), [&](auto t, const Tensor& x, Tensor& y) {
            using T = decltype(t);
            y.resize(x.dtype(), x.shape());
            for (std::int64_t i = 0; i < N; ++i)
                for (std::int64_t g = 0; g < groups; ++g) {
                    const std::int64_t off = (i * C + g * perGroup) * inner;
                    double mean, var;
                    meanVar(x.data<T>() + off, perGroup * inner, mean, var);
                    const double inv = 1.0 / std::sqrt(var + eps);
                    for (std::int64_t c = 0; c < perGroup; ++c) {
                        const auto p = static_cast<std::size_t>(params == C ? g * perGroup + c : g);
                        const double k = scale[p] * inv;
                        affine(x.data<T>() + off + c * inner, y.data<T>() + off + c * inner, inner, k,
                               bias[p] - mean * k);
                    }
                }
        });
    };
}

// ---- LRN -------------------------------------------------------------------------------------

Kernel makeLRN(const KernelContext& ctx)
{
    const double alpha = ctx.node.attrFloat("alpha", 1e-4f);
    const double beta = ctx.node.attrFloat("beta", 0.75f);
    const double bias = ctx.node.attrFloat("bias", 1.0f);
    const std::int64_t size = ctx.node.attrInt("size", 0);
    if (size < 1)
        ctx.invalid("size must be positive");
    return [alpha, beta, bias, size](KernelArgs& a) {
        const Node& n = a.node();
        const Tensor& X = a.input(0);
        if (X.rank() < 2)
            throw Error(n.describe() + ": input needs shape (N, C, ...), got " + shapeToString(X.shape()));
        const std::int64_t N = X.dim(0), C = X.dim(1);
        const std::int64_t inner = N * C != 0 ? X.size() / (N * C) : 0;
        // Channels c - floor((size-1)/2) .. c + ceil((size-1)/2) contribute to channel c.
        const std::int64_t before = (size - 1) / 2, after = size - 1 - before;
        withFloat(a, X, a.output(0), [&](auto t, const Tensor& x, Tensor& y) {
            using T = decltype(t);
            y.resize(x.dtype(), x.shape());
            std::vector<double> sq(static_cast<std::size_t>(inner));
            for (std::int64_t i = 0; i < N; ++i)
                for (std::int64_t c = 0; c < C; ++c) {
                    std::fill(sq.begin(), sq.end(), 0.0);
                    for (std::int64_t cc = std::max<std::int64_t>(0, c - before); cc <= std::min(C - 1, c + after);
                         ++cc) {
                        const T* xp = x.data<T>() + (i * C + cc) * inner;
                        for (std::int64_t j = 0; j < inner; ++j)
                            sq[static_cast<std::size_t>(j)] += double(xp[j]) * double(xp[j]);
                    }
                    const T* xp = x.data<T>() + (i * C + c) * inner;
                    T* yp = y.data<T>() + (i * C + c) * inner;
                    for (std::int64_t j = 0; j < inner; ++j)
                        yp[j] = static_cast<T>(
                            double(xp[j]) / std::pow(bias + alpha / double(size) * sq[static_cast<std::size_t>(j)], beta));
                }
        });
    };
}

// ---- MeanVarianceNormalization ---------------------------------------------------------------

Kernel makeMeanVarianceNormalization(const KernelContext& ctx)
{
    const std::vector<std::int64_t> axesAttr = ctx.node.attrInts("axes", {0, 2, 3});
    return [axesAttr](KernelArgs& a) {
        const Node& n = a.node();
        const Tensor& X = a.input(0);
        const int rank = X.rank();
        std::vector<bool> reduced(static_cast<std::size_t>(rank), false);
        for (std::int64_t ax : axesAttr)
            reduced[static_cast<std::size_t>(ops::normalizeAxis(ax, rank, n))] = true;
        // Each element belongs to the group given by its coordinates on the kept axes.
        Shape kept(static_cast<std::size_t>(rank));
        for (int d = 0; d < rank; ++d)
            kept[static_cast<std::size_t>(d)] = reduced[static_cast<std::size_t>(d)] ? 1 : X.dim(d);
        const auto keptStrides = ops::broadcastStrides(kept, X.shape());
        const std::int64_t groups = elementCount(kept);
        std::vector<std::int64_t> groupOf(static_cast<std::size_t>(X.size()));
        {
            std::vector<std::int64_t> idx(static_cast<std::size_t>(rank), 0);
            for (std::int64_t i = 0; i < X.size(); ++i) {
                std::int64_t g = 0;
                for (std::size_t d = 0; d < idx.size(); ++d)
                    g += idx[d] * keptStrides[d];
                groupOf[static_cast<std::size_t>(i)] = g;
                for (int d = rank - 1; d >= 0; --d) {
                    const auto du = static_cast<std::size_t>(d);
                    if (++idx[du] < X.dim(d))
                        break;
                    idx[du] = 0;
                }
            }
        }
        withFloat(a, X, a.output(0), [&](auto t, const Tensor& x, Tensor& y) {
            using T = decltype(t);
            y.resize(x.dtype(), x.shape());
            const T* xp = x.data<T>();
            T* yp = y.data<T>();
            std::vector<double> sum(static_cast<std::size_t>(groups), 0.0), sq(static_cast<std::size_t>(groups), 0.0);
            std::vector<std::int64_t> count(static_cast<std::size_t>(groups), 0);
            for (std::int64_t i = 0; i < x.size(); ++i) {
                const auto g = static_cast<std::size_t>(groupOf[static_cast<std::size_t>(i)]);
                sum[g] += double(xp[i]);
                ++count[g];
            }
            for (std::size_t g = 0; g < sum.size(); ++g)
                sum[g] = count[g] ? sum[g] / double(count[g]) : 0;
            for (std::int64_t i = 0; i < x.size(); ++i) {
                const auto g = static_cast<std::size_t>(groupOf[static_cast<std::size_t>(i)]);
                const double d = double(xp[i]) - sum[g];
                sq[g] += d * d;
            }
            // ONNX's function body: (x - mean) / (sqrt(var) + 1e-9)
            for (std::int64_t i = 0; i < x.size(); ++i) {
                const auto g = static_cast<std::size_t>(groupOf[static_cast<std::size_t>(i)]);
                const double sd = count[g] ? std::sqrt(sq[g] / double(count[g])) : 0;
                yp[i] = static_cast<T>((double(xp[i]) - sum[g]) / (sd + 1e-9));
            }
        });
    };
}

} // namespace

void registerNormalizationOps(OpRegistry& r)
{
    r.add("BatchNormalization", 1, makeBatchNormalization);
    r.add("InstanceNormalization", 1, makeInstanceNormalization);
    r.add("LayerNormalization", 17, makeLayerNormalization);
    r.add("GroupNormalization", 18, makeGroupNormalization);
    r.add("LRN", 1, makeLRN);
    r.add("MeanVarianceNormalization", 9, makeMeanVarianceNormalization);
}

} // namespace leger
