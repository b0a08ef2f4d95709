// QuantizeLinear, DequantizeLinear (per tensor, per axis, blocked), DynamicQuantizeLinear,
// QLinearMatMul and QLinearConv. Rounding is half to even (std::nearbyint in the default
// rounding mode), and quantized values saturate to the range of the integer type.

#include <array>
#include <cmath>
#include <memory>
#include <limits>
#include <type_traits>

#include "runtime/OpRegistry.h"
#include "runtime/ops/Blas.h"
#include "runtime/ops/MatMulPlan.h"
#include "runtime/ops/OpUtil.h"

namespace leger {

namespace {

bool isQuantType(DType t)
{
    return t == DType::UInt8 || t == DType::Int8 || t == DType::UInt16 || t == DType::Int16;
}

/// Calls f(T{}) for the integer types a quantized tensor may have.
template <class F> void dispatchQuant(DType t, F&& f, const Node& node)
{
    switch (t) {
    case DType::UInt8: f(std::uint8_t{}); break;
    case DType::Int8: f(std::int8_t{}); break;
    case DType::UInt16: f(std::uint16_t{}); break;
    case DType::Int16: f(std::int16_t{}); break;
    default:
        throw UnsupportedError(node.describe() + ": quantized type " + std::string(dtypeName(t)) +
                               " is not supported (uint8, int8, uint16 and int16 are)");
    }
}

/// Saturates an integral float to Q (NaN saturates to the lowest value, without UB).
template <class Q> Q saturate(float v)
{
    constexpr float lo = static_cast<float>(std::numeric_limits<Q>::lowest());
    constexpr float hi = static_cast<float>(std::numeric_limits<Q>::max());
    return static_cast<Q>(v > lo ? (v < hi ? v : hi) : lo);
}

/// Round half to even, then saturate to Q.
template <class Q> Q saturateRound(float v) { return saturate<Q>(std::nearbyint(v)); }

/// Element i of a float32/float16/bfloat16 or integer tensor as float.
void toFloats(const Tensor& t, std::vector<float>& out, const Node& node)
{
    out.resize(static_cast<std::size_t>(t.size()));
    switch (t.dtype()) {
    case DType::Float32:
        for (std::int64_t i = 0; i < t.size(); ++i)
            out[static_cast<std::size_t>(i)] = t.data<float>()[i];
        break;
    case DType::Float16:
        for (std::int64_t i = 0; i < t.size(); ++i)
            out[static_cast<std::size_t>(i)] = t.data<Half>()[i].toFloat();
        break;
    case DType::BFloat16:
        for (std::int64_t i = 0; i < t.size(); ++i)
            out[static_cast<std::size_t>(i)] = t.data<BFloat16>()[i].toFloat();
        break;
    case DType::Int32:
        for (std::int64_t i = 0; i < t.size(); ++i)
            out[static_cast<std::size_t>(i)] = static_cast<float>(t.data<std::int32_t>()[i]);
        break;
    default:
        throw UnsupportedError(node.describe() + ": element type " + std::string(dtypeName(t.dtype())) +
                               " is not supported");
    }
}

/// How scale/zero-point elements map onto x, viewed as (outer, axisDim, inner): per tensor (one
/// value), per axis (value a), or blocked (value (o, a / block, i) of an (outer, blocks, inner)
/// tensor).
struct QuantLayout {
    enum class Mode { Tensor, Axis, Blocked } mode = Mode::Tensor;
    std::int64_t outer = 1, axisDim = 1, inner = 1, block = 0, blocks = 1;

    /// Calls f(start, count, paramStart, paramStride) for runs of x's elements that read
    /// consecutive parameters p = paramStart + k * paramStride.
    template <class F> void forEachRun(F&& f) const
    {
        for (std::int64_t o = 0; o < outer; ++o)
            for (std::int64_t a = 0; a < axisDim; ++a) {
                const std::int64_t start = (o * axisDim + a) * inner;
                switch (mode) {
                case Mode::Tensor: f(start, inner, std::int64_t{0}, std::int64_t{0}); break;
                case Mode::Axis: f(start, inner, a, std::int64_t{0}); break;
                case Mode::Blocked: f(start, inner, (o * blocks + a / block) * inner, std::int64_t{1}); break;
                }
            }
    }
};

/// Works out the layout of scale (and zero point, which must have its shape) for x.
QuantLayout quantLayout(const Tensor& x, const Tensor& scale, const Tensor* zp, std::int64_t axisAttr,
                        std::int64_t blockSize, int opset, const Node& node)
{
    if (zp && zp->shape() != scale.shape())
        throw Error(node.describe() + ": zero point shape " + shapeToString(zp->shape()) +
                    " differs from scale shape " + shapeToString(scale.shape()));
    QuantLayout q;
    if (blockSize <= 0 && scale.size() == 1 && scale.rank() <= 1) {
        q.inner = x.size();
        return q;
    }
    if (opset < 13 || x.rank() == 0)
        throw Error(node.describe() + ": scale of shape " + shapeToString(scale.shape()) +
                    " must be a scalar at opset " + std::to_string(opset));
    const int axis = ops::normalizeAxis(axisAttr, x.rank(), node);
    for (int d = 0; d < axis; ++d)
        q.outer *= x.dim(d);
    q.axisDim = x.dim(axis);
    for (int d = axis + 1; d < x.rank(); ++d)
        q.inner *= x.dim(d);
    if (blockSize > 0) {
        q.mode = QuantLayout::Mode::Blocked;
        q.block = blockSize;
        q.blocks = (q.axisDim + blockSize - 1) / blockSize;
        Shape want = x.shape();
        want[static_cast<std::size_t>(axis)] = q.blocks;
        if (scale.shape() != want)
            throw Error(node.describe() + ": blocked scale has shape " + shapeToString(scale.shape()) + ", expected " +
                        shapeToString(want));
        return q;
    }
    if (scale.rank() != 1 || scale.dim(0) != q.axisDim)
        throw Error(node.describe() + ": per-axis scale has shape " + shapeToString(scale.shape()) +
                    ", expected [" + std::to_string(q.axisDim) + "] (axis " + std::to_string(axis) + ")");
    q.mode = QuantLayout::Mode::Axis;
    return q;
}

struct QuantAttrs {
    std::int64_t axis = 1;
    std::int64_t blockSize = 0;
    int opset = 0;
};

QuantAttrs parseQuantAttrs(const KernelContext& ctx)
{
    QuantAttrs a;
    a.axis = ctx.node.attrInt("axis", 1);
    a.blockSize = ctx.node.attrInt("block_size", 0);
    a.opset = ctx.opset;
    if (a.blockSize < 0)
        ctx.invalid("block_size must not be negative");
    return a;
}

// y = saturate(round(x / scale) + zero_point)
Kernel makeQuantizeLinear(const KernelContext& ctx)
{
    const QuantAttrs at = parseQuantAttrs(ctx);
    DType outType = DType::UInt8; // without a zero point
    if (ctx.node.has("output_dtype") && ctx.node.attrInt("output_dtype", 0) != 0) {
        outType = dtypeFromOnnx(static_cast<int>(ctx.node.attrInt("output_dtype", 0)));
        if (!isQuantType(outType))
            ctx.unsupported("output_dtype " + std::to_string(ctx.node.attrInt("output_dtype", 0)));
    }
    return [at, outType, xf = std::vector<float>(), sf = std::vector<float>(),
            zf = std::vector<float>()](KernelArgs& args) mutable {
        const Node& node = args.node();
        const Tensor& x = args.input(0);
        const Tensor& scale = args.input(1);
        const Tensor* zp = args.optionalInput(2);
        const DType qt = zp ? zp->dtype() : outType;
        const QuantLayout q = quantLayout(x, scale, zp, at.axis, at.blockSize, at.opset, node);
        toFloats(scale, sf, node);
        const float* xp = x.dtype() == DType::Float32 ? x.data<float>() : nullptr;
        if (!xp) {
            toFloats(x, xf, node);
            xp = xf.data();
        }
        zf.assign(sf.size(), 0.0f);
        Tensor& y = args.output(0);
        y.resize(qt, x.shape());
        dispatchQuant(
            qt,
            [&](auto t) {
                using Q = decltype(t);
                if (zp)
                    for (std::size_t i = 0; i < zf.size(); ++i)
                        zf[i] = static_cast<float>(zp->data<Q>()[i]);
                Q* out = y.data<Q>();
                q.forEachRun([&](std::int64_t start, std::int64_t n, std::int64_t p, std::int64_t ps) {
                    for (std::int64_t i = 0; i < n; ++i) {
                        const auto k = static_cast<std::size_t>(p + i * ps);
                        // round(x / s) + zp, rounded before the zero point is added (as ONNX specifies).
                        out[start + i] = saturate<Q>(std::nearbyint(xp[start + i] / sf[k]) + zf[k]);
                    }
                });
            },
            node);
    };
}

// y = (x - zero_point) * scale, in the scale's float type.
Kernel makeDequantizeLinear(const KernelContext& ctx)
{
    const QuantAttrs at = parseQuantAttrs(ctx);
    return [at, sf = std::vector<float>(), yf = std::vector<float>()](KernelArgs& args) mutable {
        const Node& node = args.node();
        const Tensor& x = args.input(0);
        const Tensor& scale = args.input(1);
        const Tensor* zp = args.optionalInput(2);
        if (zp && zp->dtype() != x.dtype())
            throw Error(node.describe() + ": zero point type " + std::string(dtypeName(zp->dtype())) +
                        " differs from the input's " + std::string(dtypeName(x.dtype())));
        const DType outType = scale.dtype();
        if (outType != DType::Float32 && outType != DType::Float16 && outType != DType::BFloat16)
            throw UnsupportedError(node.describe() + ": scale type " + std::string(dtypeName(outType)) +
                                   " is not supported");
        const QuantLayout q = quantLayout(x, scale, zp, at.axis, at.blockSize, at.opset, node);
        toFloats(scale, sf, node);
        Tensor& y = args.output(0);
        y.resize(outType, x.shape());
        float* out = outType == DType::Float32 ? y.data<float>() : nullptr;
        if (!out) {
            yf.resize(static_cast<std::size_t>(x.size()));
            out = yf.data();
        }
        auto run = [&](auto t) {
            using Q = decltype(t);
            const Q* in = x.data<Q>();
            const Q* z = zp ? zp->data<Q>() : nullptr;
            q.forEachRun([&](std::int64_t start, std::int64_t n, std::int64_t p, std::int64_t ps) {
                for (std::int64_t i = 0; i < n; ++i) {
                    const std::int64_t k = p + i * ps;
                    const std::int64_t zk = z ? static_cast<std::int64_t>(z[k]) : 0;
                    out[start + i] = static_cast<float>(static_cast<std::int64_t>(in[start + i]) - zk) *
                                     sf[static_cast<std::size_t>(k)];
                }
            });
        };
        if (x.dtype() == DType::Int32)
            run(std::int32_t{});
        else
            dispatchQuant(x.dtype(), run, node);
        if (outType == DType::Float16)
            for (std::int64_t i = 0; i < x.size(); ++i)
                y.data<Half>()[i] = Half::fromFloat(out[i]);
        else if (outType == DType::BFloat16)
            for (std::int64_t i = 0; i < x.size(); ++i)
                y.data<BFloat16>()[i] = BFloat16::fromFloat(out[i]);
    };
}

// uint8 y, scale and zero point chosen from x's range (extended to include 0).
Kernel makeDynamicQuantizeLinear(const KernelContext&)
{
    return [](KernelArgs& args) {
        const Node& node = args.node();
        const Tensor& x = args.input(0);
        if (x.dtype() != DType::Float32)
            throw UnsupportedError(node.describe() + ": element type " + std::string(dtypeName(x.dtype())) +
                                   " is not supported");
        const float* in = x.data<float>();
        float lo = 0, hi = 0;
        for (std::int64_t i = 0; i < x.size(); ++i) {
            lo = std::min(lo, in[i]);
            hi = std::max(hi, in[i]);
        }
        const float scale = (hi - lo) / 255.0f;
        // All zeros: any scale works; 0 with zero point 0 maps everything to 0 without dividing by 0.
        const std::uint8_t zp = scale > 0 ? saturateRound<std::uint8_t>((0.0f - lo) / scale) : 0;
        Tensor& y = args.output(0);
        y.resize(DType::UInt8, x.shape());
        std::uint8_t* out = y.data<std::uint8_t>();
        for (std::int64_t i = 0; i < x.size(); ++i)
            out[i] = scale > 0 ? saturate<std::uint8_t>(std::nearbyint(in[i] / scale) + zp) : 0;
        if (args.wantsOutput(1)) {
            args.output(1).resize(DType::Float32, {});
            args.output(1).data<float>()[0] = scale;
        }
        if (args.wantsOutput(2)) {
            args.output(2).resize(DType::UInt8, {});
            args.output(2).data<std::uint8_t>()[0] = zp;
        }
    };
}

// QLinearMatMul: y = saturate(round((a - a_zp) x (b - b_zp) * a_scale * b_scale / y_scale) + y_zp).
Kernel makeQLinearMatMul(const KernelContext&)
{
    return [plan = ops::MatMulPlan(), a32 = Tensor(), b32 = Tensor(), acc = Tensor(), as = std::vector<float>(),
            bs = std::vector<float>(), ys = std::vector<float>()](KernelArgs& args) mutable {
        const Node& node = args.node();
        const Tensor& A = args.input(0);
        const Tensor& B = args.input(3);
        const Tensor& yZp = args.input(7);
        ops::planMatMul(A.shape(), B.shape(), node, plan);
        ops::subtractZeroPoint(A, &args.input(2), true, a32, node);
        ops::subtractZeroPoint(B, &args.input(5), false, b32, node);
        toFloats(args.input(1), as, node);
        toFloats(args.input(4), bs, node);
        toFloats(args.input(6), ys, node);
        // Scales: A's per tensor or per row (M), B's per tensor or per column (N), y's per tensor.
        const std::int64_t M = plan.M, N = plan.N;
        if (!(as.size() == 1 || static_cast<std::int64_t>(as.size()) == M) ||
            !(bs.size() == 1 || static_cast<std::int64_t>(bs.size()) == N) || ys.size() != 1 ||
            yZp.size() != 1)
            throw UnsupportedError(node.describe() + ": scales of shapes " + shapeToString(args.input(1).shape()) +
                                   ", " + shapeToString(args.input(4).shape()) + ", " +
                                   shapeToString(args.input(6).shape()) +
                                   " are not supported (per tensor, per row of A and per column of B are)");
        // (rows, K) x (K, N) products -> int32 accumulators, laid out like the output.
        acc.resize(DType::Int32, plan.out);
        const std::int32_t* a = a32.data<std::int32_t>();
        const std::int32_t* b = b32.data<std::int32_t>();
        std::int32_t* c = acc.data<std::int32_t>();
        for (std::int64_t i = 0; i < plan.count; ++i)
            ops::matmulRows<std::int32_t>(plan.rows, N, plan.K, a + plan.aOff[static_cast<std::size_t>(i)], plan.K,
                                          b + plan.bOff[static_cast<std::size_t>(i)], N, c + i * plan.rows * N, N);
        Tensor& y = args.output(0);
        y.resize(yZp.dtype(), plan.out);
        dispatchQuant(
            yZp.dtype(),
            [&](auto t) {
                using Q = decltype(t);
                const float zp = static_cast<float>(yZp.data<Q>()[0]);
                Q* out = y.data<Q>();
                const std::int64_t rows = M == 0 || N == 0 ? 0 : acc.size() / N;
                for (std::int64_t r = 0; r < rows; ++r) {
                    const float sa = as[as.size() == 1 ? 0 : static_cast<std::size_t>(r % M)];
                    for (std::int64_t j = 0; j < N; ++j) {
                        const float mult = sa * bs[bs.size() == 1 ? 0 : static_cast<std::size_t>(j)] / ys[0];
                        out[r * N + j] = saturate<Q>(std::nearbyint(static_cast<float>(c[r * N + j]) * mult) + zp);
                    }
                }
            },
            node);
    };
}

// QLinearConv: y = saturate(round((conv(x - x_zp, w - w_zp) + B) * x_scale * w_scale / y_scale) + y_zp),
// w_scale/w_zp per tensor or per output channel. The integer convolution is ConvInteger's
// kernel (ConvOps.cpp), prepared from a copy of this node; only the requantization is here.
Kernel makeQLinearConv(const KernelContext& ctx)
{
    const KernelFactory* convInteger = OpRegistry::builtin().find("", "ConvInteger", 10);
    if (!convInteger)
        ctx.unsupported("QLinearConv without ConvInteger");
    // The inner node must outlive the kernel: it is shared by the lambda's copies.
    auto inner = std::make_shared<Node>(ctx.node);
    inner->opType = "ConvInteger";
    inner->inputs = {"x", "w", "x_zero_point", "w_zero_point"};
    inner->outputs = {"y"};
    const Kernel conv = (*convInteger)(KernelContext{*inner, 10, ctx.compileSubgraph, {}});
    return [inner, conv, acc = Tensor(), xs = std::vector<float>(), ws = std::vector<float>(),
            ys = std::vector<float>()](KernelArgs& args) mutable {
        const Node& node = args.node();
        const Tensor& yZp = args.input(7);
        const Tensor* bias = args.optionalInput(8);
        const std::array<const Tensor*, 4> convIn{&args.input(0), &args.input(3), &args.input(2), &args.input(5)};
        const std::array<Tensor*, 1> convOut{&acc};
        KernelArgs convArgs(*inner, convIn, convOut);
        conv(convArgs);
        // acc: (N, M, spatial...) int32
        toFloats(args.input(1), xs, node);
        toFloats(args.input(4), ws, node);
        toFloats(args.input(6), ys, node);
        const std::int64_t N = acc.dim(0), M = acc.dim(1);
        const std::int64_t spatial = M == 0 || N == 0 ? 0 : acc.size() / (N * M);
        if (xs.size() != 1 || ys.size() != 1 || yZp.size() != 1 ||
            !(ws.size() == 1 || static_cast<std::int64_t>(ws.size()) == M))
            throw Error(node.describe() + ": x_scale, y_scale and y_zero_point must be scalars and w_scale have 1 or " +
                        std::to_string(M) + " values");
        if (bias && (bias->dtype() != DType::Int32 || bias->size() != M))
            throw Error(node.describe() + ": B must be an int32 vector of " + std::to_string(M) + " values");
        Tensor& y = args.output(0);
        y.resize(yZp.dtype(), acc.shape());
        dispatchQuant(
            yZp.dtype(),
            [&](auto t) {
                using Q = decltype(t);
                const float zp = static_cast<float>(yZp.data<Q>()[0]);
                const std::int32_t* a = acc.data<std::int32_t>();
                Q* out = y.data<Q>();
                for (std::int64_t n = 0; n < N; ++n)
                    for (std::int64_t m = 0; m < M; ++m) {
                        const float mult = xs[0] * ws[ws.size() == 1 ? 0 : static_cast<std::size_t>(m)] / ys[0];
                        const std::int32_t b = bias ? bias->data<std::int32_t>()[m] : 0;
                        const std::int64_t base = (n * M + m) * spatial;
                        for (std::int64_t i = 0; i < spatial; ++i)
                            out[base + i] =
                                saturate<Q>(std::nearbyint(static_cast<float>(a[base + i] + b) * mult) + zp);
                    }
            },
            node);
    };
}

} // namespace

void registerQuantizeOps(OpRegistry& r)
{
    r.add("QuantizeLinear", 10, makeQuantizeLinear);
    r.add("DequantizeLinear", 10, makeDequantizeLinear);
    r.add("DynamicQuantizeLinear", 11, makeDynamicQuantizeLinear);
    r.add("QLinearMatMul", 10, makeQLinearMatMul);
    r.add("QLinearConv", 10, makeQLinearConv);
}

} // namespace leger
