// Activation ops: the pointwise nonlinearities, PRelu, and Softmax/LogSoftmax/Hardmax.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/OpRegistry.h"
#include "runtime/ops/ElementwiseKernels.h"
#include "runtime/ops/OpUtil.h"

namespace leger {

using namespace ops;

namespace {

// ---------------------------------------------------------------------------------------------
// Pointwise functors, on compute-type values (float for the 16-bit floats).

/// Written so that NaN passes through, as in numpy's maximum(x, 0).
struct ReluOp {
    template <class C> C operator()(C x) const { return x < C(0) ? C(0) : x; }
};

// GCC at -O2 vectorizes a select only when it is a min/max or picks a constant, so the
// conditional product is written as max(x, 0) + min(x, 0) * alpha. Exact for finite alpha (up
// to the sign of a zero result).
struct LeakyReluOp {
    float alpha;
    template <class C> C operator()(C x) const
    {
        const C pos = x < C(0) ? C(0) : x;
        const C neg = x < C(0) ? x : C(0);
        return pos + neg * C(alpha);
    }
};

// The exponential ops below take Eigen's vectorized exp/expm1 for float; NaN passes through
// the select untouched.

struct EluOp {
    float alpha;
    template <class C> C operator()(C x) const { return x < C(0) ? C(alpha) * std::expm1(x) : x; }
    void bulk(const float* x, float* y, std::int64_t n) const
    {
        const eigen::ConstArray xs(x, n);
        eigen::Array(y, n) = (xs < 0.0f).select(alpha * xs.expm1(), xs);
    }
};

struct SeluOp {
    float alpha, gamma;
    template <class C> C operator()(C x) const
    {
        return x <= C(0) ? C(gamma) * (C(alpha) * std::exp(x) - C(alpha)) : C(gamma) * x;
    }
    void bulk(const float* x, float* y, std::int64_t n) const
    {
        const eigen::ConstArray xs(x, n);
        eigen::Array(y, n) = gamma * (xs <= 0.0f).select(alpha * xs.exp() - alpha, xs);
    }
};

struct CeluOp {
    float alpha;
    template <class C> C operator()(C x) const { return x < C(0) ? C(alpha) * std::expm1(x / C(alpha)) : x; }
    void bulk(const float* x, float* y, std::int64_t n) const
    {
        const eigen::ConstArray xs(x, n);
        eigen::Array(y, n) = (xs < 0.0f).select(alpha * (xs / alpha).expm1(), xs);
    }
};

struct SigmoidOp {
    template <class C> C operator()(C x) const
    {
        // Either branch keeps exp's argument <= 0, so neither overflows.
        if (x >= C(0))
            return C(1) / (C(1) + std::exp(-x));
        const C e = std::exp(x);
        return e / (C(1) + e);
    }
    void bulk(const float* x, float* y, std::int64_t n) const { sigmoidFloat(x, y, n); }
};

struct TanhOp {
    template <class C> C operator()(C x) const { return std::tanh(x); }
    void bulk(const float* x, float* y, std::int64_t n) const { tanhFloat(x, y, n); }
};

/// max(0, min(1, alpha * x + beta)), NaN passing through.
struct HardSigmoidOp {
    float alpha, beta;
    template <class C> C operator()(C x) const
    {
        const C v = C(alpha) * x + C(beta);
        const C lo = v < C(0) ? C(0) : v;
        return lo > C(1) ? C(1) : lo;
    }
};

struct HardSwishOp {
    template <class C> C operator()(C x) const { return x * HardSigmoidOp{1.0f / 6.0f, 0.5f}(x); }
    void bulk(const float* x, float* y, std::int64_t n) const
    {
        // Not vectorized by GCC as a scalar loop (a product of a select).
        const eigen::ConstArray xs(x, n);
        eigen::Array(y, n) = xs * (xs * (1.0f / 6.0f) + 0.5f).max(0.0f).min(1.0f);
    }
};

/// log(1 + exp(x)) without overflow for large x.
template <class C> C softplus(C x)
{
    return x > C(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

/// Float softplus as max(x, 0) + log1p(exp(-|x|)), the same stable form, vectorized.
inline void softplusFloat(const float* x, float* y, std::int64_t n)
{
    eigen::Array ys(y, n);
    ys = -eigen::ConstArray(x, n).abs();
    expFloat(y, y, n);
    ys = eigen::ConstArray(x, n).max(0.0f) + ys.log1p();
}

struct SoftplusOp {
    template <class C> C operator()(C x) const { return softplus(x); }
    void bulk(const float* x, float* y, std::int64_t n) const { softplusFloat(x, y, n); }
};

struct SoftsignOp {
    template <class C> C operator()(C x) const { return x / (C(1) + std::abs(x)); }
};

struct ThresholdedReluOp {
    float alpha;
    template <class C> C operator()(C x) const { return x > C(alpha) ? x : C(0); }
};

/// Shrink also takes integer types; the comparisons happen in float like the reference.
struct ShrinkOp {
    float bias, lambd;
    template <class C> C operator()(C x) const
    {
        const auto v = static_cast<double>(x);
        if (v < -lambd)
            return static_cast<C>(v + bias);
        if (v > lambd)
            return static_cast<C>(v - bias);
        return C(0);
    }
};

struct MishOp {
    template <class C> C operator()(C x) const { return x * std::tanh(softplus(x)); }
    void bulk(const float* x, float* y, std::int64_t n) const
    {
        softplusFloat(x, y, n);
        eigen::Array(y, n) = eigen::ConstArray(x, n) * eigen::Array(y, n).tanh();
    }
};

struct GeluOp {
    template <class C> C operator()(C x) const
    {
        return C(0.5) * x * (C(1) + std::erf(x * C(0.70710678118654752440)));
    }
    void bulk(const float* x, float* y, std::int64_t n) const
    {
        const eigen::ConstArray xs(x, n);
        eigen::Array ys(y, n);
        ys = 0.5f * xs * (1.0f + (xs * 0.70710678118654752440f).erf());
    }
};

struct GeluTanhOp {
    template <class C> C operator()(C x) const
    {
        const C k = C(0.79788456080286535588); // sqrt(2 / pi)
        return C(0.5) * x * (C(1) + std::tanh(k * (x + C(0.044715) * x * x * x)));
    }
    void bulk(const float* x, float* y, std::int64_t n) const
    {
        const eigen::ConstArray xs(x, n);
        eigen::Array ys(y, n);
        ys = 0.5f * xs * (1.0f + (0.79788456080286535588f * (xs + 0.044715f * xs.cube())).tanh());
    }
};

template <class Types, class Op> Kernel pointwise(Op op)
{
    return unaryKernel<Types, false>(op);
}

// ---------------------------------------------------------------------------------------------
// PRelu: y = x < 0 ? slope * x : x, slope broadcast to x.

/// Exact for every slope.
struct PReluOp {
    template <class C> C operator()(C x, C slope) const
    {
        if constexpr (std::is_unsigned_v<C>)
            return x;
        else if constexpr (std::is_integral_v<C>)
            return x < 0 ? wrapMul(x, slope) : x;
        else
            return x < C(0) ? x * slope : x;
    }
};

/// max(x, 0) + min(x, 0) * slope, which GCC vectorizes; exact for finite slopes (an infinite
/// or NaN slope would turn 0 * slope into NaN for x >= 0).
struct PReluFiniteOp {
    template <class C> C operator()(C x, C slope) const
    {
        const C pos = x < C(0) ? C(0) : x;
        const C neg = x < C(0) ? x : C(0);
        return pos + neg * slope;
    }
};

Kernel makePRelu(const KernelContext& ctx)
{
    // Before opset 7 a 1-D slope with one value per channel applies along axis 1 (as Caffe and
    // PyTorch's exporters meant it), not numpy-aligned to the last axis.
    const bool channelSlope = ctx.opset < 7;
    return [channelSlope](KernelArgs& args) {
        const Node& node = args.node();
        const Tensor& x = args.input(0);
        const Tensor& slope = args.input(1);
        if (x.dtype() != slope.dtype())
            throw Error(node.describe() + ": slope type " + std::string(dtypeName(slope.dtype())) +
                        " differs from the input's " + std::string(dtypeName(x.dtype())));
        Shape slopeShape = slope.shape();
        if (channelSlope && slope.rank() == 1 && x.rank() > 2 && slope.size() > 1 && slope.size() == x.dim(1))
            slopeShape.resize(static_cast<std::size_t>(x.rank() - 1), 1);
        const Shape out = broadcastShapes(x.shape(), slopeShape, node);
        if (out != x.shape())
            throw Error(node.describe() + ": slope of shape " + shapeToString(slope.shape()) +
                        " cannot be broadcast to the input's " + shapeToString(x.shape()));
        Tensor& y = args.output(0);
        ArithmeticTypes{}(
            x.dtype(),
            [&](auto tag) {
                using T = decltype(tag);
                y.resize(x.dtype(), out);
                const T* ps = slope.data<T>();
                if constexpr (std::is_floating_point_v<T>) {
                    bool finite = true;
                    for (std::int64_t i = 0; i < slope.size() && finite; ++i)
                        finite = std::isfinite(ps[i]);
                    if (finite) {
                        binaryBroadcast(x.data<T>(), x.shape(), ps, slopeShape, y.data<T>(), out, PReluFiniteOp{});
                        return;
                    }
                }
                binaryBroadcast(x.data<T>(), x.shape(), ps, slopeShape, y.data<T>(), out, PReluOp{});
            },
            node);
    };
}

// ---------------------------------------------------------------------------------------------
// Softmax, LogSoftmax, Hardmax over [outer, len, inner] blocks: before opset 13 the input is
// coerced to 2-D at the axis (len = product of the trailing axes, inner = 1); from 13 on they
// work along the single axis.

enum class SoftmaxKind { Softmax, LogSoftmax, Hardmax };

inline void expInPlace(float* y, std::int64_t n) { expFloat(y, y, n); }
inline void expInPlace(double* y, std::int64_t n)
{
    for (std::int64_t i = 0; i < n; ++i)
        y[i] = std::exp(y[i]);
}

/// Softmax or LogSoftmax of contiguous C (float or double) data; m and s are scratch of size
/// inner. Every pass is an Eigen array expression: GCC at -O2 vectorizes neither the max/sum
/// reductions nor loops of unknown trip count.
template <class C>
void softmaxBlocks(const C* x, C* y, std::int64_t outer, std::int64_t len, std::int64_t inner, bool logOut,
                   std::vector<C>& m, std::vector<C>& s)
{
    using Array = Eigen::Map<Eigen::Array<C, Eigen::Dynamic, 1>>;
    using ConstArray = Eigen::Map<const Eigen::Array<C, Eigen::Dynamic, 1>>;
    const std::int64_t block = len * inner;
    if (inner == 1) {
        for (std::int64_t o = 0; o < outer; ++o) {
            const ConstArray xr(x + o * block, len);
            Array yr(y + o * block, len);
            const C mx = xr.maxCoeff(); // subtracting the maximum keeps exp from overflowing
            yr = xr - mx;
            expInPlace(yr.data(), len);
            const C sum = yr.sum();
            if (logOut)
                yr = xr - (mx + std::log(sum));
            else
                yr *= C(1) / sum;
        }
        return;
    }
    m.resize(static_cast<std::size_t>(inner));
    s.resize(static_cast<std::size_t>(inner));
    Array ms(m.data(), inner), ss(s.data(), inner);
    for (std::int64_t o = 0; o < outer; ++o) {
        const C* xb = x + o * block;
        C* yb = y + o * block;
        ms = ConstArray(xb, inner);
        for (std::int64_t k = 1; k < len; ++k)
            ms = ms.max(ConstArray(xb + k * inner, inner));
        for (std::int64_t k = 0; k < len; ++k)
            Array(yb + k * inner, inner) = ConstArray(xb + k * inner, inner) - ms;
        expInPlace(yb, block);
        ss.setZero();
        for (std::int64_t k = 0; k < len; ++k)
            ss += Array(yb + k * inner, inner);
        if (logOut) {
            ss = ms + ss.log();
            for (std::int64_t k = 0; k < len; ++k)
                Array(yb + k * inner, inner) = ConstArray(xb + k * inner, inner) - ss;
        } else {
            ss = ss.inverse();
            for (std::int64_t k = 0; k < len; ++k)
                Array(yb + k * inner, inner) *= ss;
        }
    }
}

/// 1 at the first maximum of each row along the axis, 0 elsewhere.
template <class T> void hardmaxBlocks(const T* x, T* y, std::int64_t outer, std::int64_t len, std::int64_t inner)
{
    const T zero = store<T>(Compute<T>(0)), one = store<T>(Compute<T>(1));
    std::fill(y, y + outer * len * inner, zero);
    for (std::int64_t o = 0; o < outer; ++o)
        for (std::int64_t j = 0; j < inner; ++j) {
            const T* xb = x + o * len * inner + j;
            std::int64_t best = 0;
            Compute<T> bestValue = load(xb[0]);
            for (std::int64_t k = 1; k < len; ++k) {
                const Compute<T> v = load(xb[k * inner]);
                if (v > bestValue) {
                    bestValue = v;
                    best = k;
                }
            }
            if (len > 0)
                y[o * len * inner + best * inner + j] = one;
        }
}

Kernel makeSoftmax(const KernelContext& ctx, SoftmaxKind kind)
{
    const bool coerce2d = ctx.opset < 13;
    const std::int64_t axisAttr = ctx.node.attrInt("axis", coerce2d ? 1 : -1);
    // Scratch reused from run to run (one Executor runs on one thread).
    struct Scratch {
        std::vector<float> mf, sf, xf, yf;
        std::vector<double> md, sd;
    };
    auto scratch = std::make_shared<Scratch>();
    return [coerce2d, axisAttr, kind, scratch](KernelArgs& args) {
        const Node& node = args.node();
        const Tensor& x = args.input(0);
        const Shape& shape = x.shape();
        std::int64_t outer = 1, len = 1, inner = 1;
        if (!shape.empty()) {
            const int rank = x.rank();
            const int axis = normalizeAxis(axisAttr, rank, node);
            for (int d = 0; d < axis; ++d)
                outer *= shape[static_cast<std::size_t>(d)];
            if (coerce2d) {
                for (int d = axis; d < rank; ++d)
                    len *= shape[static_cast<std::size_t>(d)];
            } else {
                len = shape[static_cast<std::size_t>(axis)];
                for (int d = axis + 1; d < rank; ++d)
                    inner *= shape[static_cast<std::size_t>(d)];
            }
        }
        Tensor& y = args.output(0);
        Scratch& sc = *scratch;
        FloatingTypes{}(
            x.dtype(),
            [&](auto tag) {
                using T = decltype(tag);
                y.resize(x.dtype(), shape);
                if (x.size() == 0)
                    return;
                if (kind == SoftmaxKind::Hardmax) {
                    hardmaxBlocks(x.data<T>(), y.data<T>(), outer, len, inner);
                    return;
                }
                const bool logOut = kind == SoftmaxKind::LogSoftmax;
                if constexpr (std::is_same_v<T, float>) {
                    softmaxBlocks(x.data<float>(), y.data<float>(), outer, len, inner, logOut, sc.mf, sc.sf);
                } else if constexpr (std::is_same_v<T, double>) {
                    softmaxBlocks(x.data<double>(), y.data<double>(), outer, len, inner, logOut, sc.md, sc.sd);
                } else {
                    // 16-bit floats: compute in float, round once at the end.
                    const auto n = static_cast<std::size_t>(x.size());
                    sc.xf.resize(n);
                    sc.yf.resize(n);
                    for (std::size_t i = 0; i < n; ++i)
                        sc.xf[i] = load(x.data<T>()[i]);
                    softmaxBlocks(sc.xf.data(), sc.yf.data(), outer, len, inner, logOut, sc.mf, sc.sf);
                    for (std::size_t i = 0; i < n; ++i)
                        y.data<T>()[i] = store<T>(sc.yf[i]);
                }
            },
            node);
    };
}

} // namespace

void registerActivationOps(OpRegistry& r)
{
    r.add("Relu", 1, [](const KernelContext&) { return pointwise<SignedTypes>(ReluOp{}); });
    r.add("LeakyRelu", 1, [](const KernelContext& ctx) {
        return pointwise<FloatingTypes>(LeakyReluOp{ctx.node.attrFloat("alpha", 0.01f)});
    });
    r.add("Elu", 1, [](const KernelContext& ctx) {
        return pointwise<FloatingTypes>(EluOp{ctx.node.attrFloat("alpha", 1.0f)});
    });
    r.add("Selu", 1, [](const KernelContext& ctx) {
        return pointwise<FloatingTypes>(SeluOp{ctx.node.attrFloat("alpha", 1.67326319217681884765625f),
                                               ctx.node.attrFloat("gamma", 1.05070102214813232421875f)});
    });
    r.add("Celu", 12, [](const KernelContext& ctx) {
        return pointwise<FloatingTypes>(CeluOp{ctx.node.attrFloat("alpha", 1.0f)});
    });
    r.add("Sigmoid", 1, [](const KernelContext&) { return pointwise<FloatingTypes>(SigmoidOp{}); });
    r.add("Tanh", 1, [](const KernelContext&) { return pointwise<FloatingTypes>(TanhOp{}); });
    r.add("HardSigmoid", 1, [](const KernelContext& ctx) {
        return pointwise<FloatingTypes>(
            HardSigmoidOp{ctx.node.attrFloat("alpha", 0.2f), ctx.node.attrFloat("beta", 0.5f)});
    });
    r.add("HardSwish", 14, [](const KernelContext&) { return pointwise<FloatingTypes>(HardSwishOp{}); });
    r.add("Softplus", 1, [](const KernelContext&) { return pointwise<FloatingTypes>(SoftplusOp{}); });
    r.add("Softsign", 1, [](const KernelContext&) { return pointwise<FloatingTypes>(SoftsignOp{}); });
    r.add("ThresholdedRelu", 10, [](const KernelContext& ctx) {
        return pointwise<FloatingTypes>(ThresholdedReluOp{ctx.node.attrFloat("alpha", 1.0f)});
    });
    r.add("Shrink", 9, [](const KernelContext& ctx) {
        return pointwise<ArithmeticTypes>(
            ShrinkOp{ctx.node.attrFloat("bias", 0.0f), ctx.node.attrFloat("lambd", 0.5f)});
    });
    r.add("Mish", 18, [](const KernelContext&) { return pointwise<FloatingTypes>(MishOp{}); });
    r.add("Gelu", 20, [](const KernelContext& ctx) {
        const std::string approx = ctx.node.attrString("approximate", "none");
        if (approx == "none")
            return pointwise<FloatingTypes>(GeluOp{});
        if (approx == "tanh")
            return pointwise<FloatingTypes>(GeluTanhOp{});
        ctx.invalid("approximate must be 'none' or 'tanh', not '" + approx + "'");
    });
    r.add("PRelu", 1, makePRelu);

    r.add("Softmax", 1, [](const KernelContext& ctx) { return makeSoftmax(ctx, SoftmaxKind::Softmax); });
    r.add("LogSoftmax", 1, [](const KernelContext& ctx) { return makeSoftmax(ctx, SoftmaxKind::LogSoftmax); });
    r.add("Hardmax", 1, [](const KernelContext& ctx) { return makeSoftmax(ctx, SoftmaxKind::Hardmax); });
}

} // namespace leger
