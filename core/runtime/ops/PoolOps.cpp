// Pooling: MaxPool (with Indices), AveragePool, LpPool, their Global forms, and MaxUnpool.
//
// Windowed pools work plane by plane on 1 to 3 spatial axes (see Window.h). Each output row
// is built tap by tap: for a fixed kernel offset, the valid output columns form one range,
// so the inner loop runs over contiguous outputs without bounds checks and vectorizes.

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "runtime/OpRegistry.h"
#include "runtime/ops/Multiversion.h"
#include "runtime/ops/OpUtil.h"
#include "runtime/ops/Widen.h"
#include "runtime/ops/Window.h"

namespace leger {

namespace {

using ops::IndexRange;
using ops::validRange;
using ops::Window;
using ops::WindowAttrs;

enum class PoolKind { Max, Average, Lp };

struct MaxOp {
    template <class T> static T apply(T acc, T v) { return acc < v ? v : acc; }
};
struct SumOp {
    template <class T> static T apply(T acc, T v) { return acc + v; }
};
struct SumAbsOp {
    template <class T> static T apply(T acc, T v) { return acc + (v < T(0) ? -v : v); }
};
struct SumSquareOp {
    template <class T> static T apply(T acc, T v) { return acc + v * v; }
};

/// y (out0, out1, out2) = op-reduction of x (in0, in1, in2) over each window, starting from init.
/// Taps in the padding are skipped.
template <class T, class Op>
[[gnu::always_inline]] inline void poolPlaneRows(const T* __restrict x, T* __restrict y, const Window& w, T init)
{
    const std::int64_t D = w.in[0], H = w.in[1], W = w.in[2];
    const std::int64_t OD = w.out[0], OH = w.out[1], OW = w.out[2];
    const std::int64_t sx = w.s[2];
    for (std::int64_t oz = 0; oz < OD; ++oz)
        for (std::int64_t oy = 0; oy < OH; ++oy) {
            T* __restrict yr = y + (oz * OH + oy) * OW;
            for (std::int64_t ox = 0; ox < OW; ++ox)
                yr[ox] = init;
            for (std::int64_t kz = 0; kz < w.k[0]; ++kz) {
                const std::int64_t iz = oz * w.s[0] - w.pb[0] + kz * w.d[0];
                if (iz < 0 || iz >= D)
                    continue;
                for (std::int64_t ky = 0; ky < w.k[1]; ++ky) {
                    const std::int64_t iy = oy * w.s[1] - w.pb[1] + ky * w.d[1];
                    if (iy < 0 || iy >= H)
                        continue;
                    const T* __restrict xr = x + (iz * H + iy) * W;
                    for (std::int64_t kx = 0; kx < w.k[2]; ++kx) {
                        const std::int64_t off = kx * w.d[2] - w.pb[2];
                        const IndexRange r = validRange(off, sx, W, OW);
                        if (sx == 1)
                            for (std::int64_t ox = r.lo; ox < r.hi; ++ox)
                                yr[ox] = Op::apply(yr[ox], xr[ox + off]);
                        else if (sx == 2)
                            for (std::int64_t ox = r.lo; ox < r.hi; ++ox)
                                yr[ox] = Op::apply(yr[ox], xr[2 * ox + off]);
                        else
                            for (std::int64_t ox = r.lo; ox < r.hi; ++ox)
                                yr[ox] = Op::apply(yr[ox], xr[ox * sx + off]);
                    }
                }
            }
        }
}

template <class T> T lowestOf()
{
    if constexpr (std::numeric_limits<T>::has_infinity)
        return -std::numeric_limits<T>::infinity();
    else
        return std::numeric_limits<T>::lowest();
}

template <class T> void maxPlane(const T* x, T* y, const Window& w)
{
    poolPlaneRows<T, MaxOp>(x, y, w, lowestOf<T>());
}

// ---- Fast float path for 1-D and 2-D windows -----------------------------------------------
//
// Like the direct convolution: each plane is copied into a buffer padded with the
// reduction's identity (-inf for max, 0 for sums) and cropped to the extent the windows
// read, then reduced without bounds checks: one flat run per plane at stride 1 (the columns
// past OW are discarded), row by row otherwise. Runs are rounded up to whole vectors.

enum class FastOp { Max, Sum, SumSquares };

struct FMax {
    static float first(float v) { return v; }
    static float apply(float a, float v) { return a < v ? v : a; }
};
struct FSum {
    static float first(float v) { return v; }
    static float apply(float a, float v) { return a + v; }
};
struct FSumSquares {
    static float first(float v) { return v * v; }
    static float apply(float a, float v) { return a + v * v; }
};

constexpr std::int64_t kPoolRound = 16;

struct PoolPlan {
    std::int64_t H, W, OH, OW, pt, pl;
    std::int64_t Hp, Wp; // padded extent read
    std::int64_t KH, KW, sh, sw, dh, dw;
    std::int64_t rows, n, ldy; // runs: rows of n outputs, ldy apart (flat: one run)
    std::int64_t pitch;        // distance between output rows in the run buffer
    std::int64_t xpSize, accSize;
};

/// KHxKW window, stride S, unit column dilation: the taps of a kernel row are fixed offsets.
template <class Op, int KH, int KW, int S>
[[gnu::always_inline]] inline void poolFixed(const float* __restrict x, float* __restrict y, const PoolPlan& p)
{
    for (std::int64_t r = 0; r < p.rows; ++r) {
        const float* xs[KH];
        for (int ky = 0; ky < KH; ++ky)
            xs[ky] = x + (r * p.sh + ky * p.dh) * p.Wp;
        float* __restrict yr = y + r * p.ldy;
        for (std::int64_t i = 0; i < p.n; ++i) {
            float acc = Op::first(xs[0][i * S]);
#pragma GCC unroll 9
            for (int t = 1; t < KH * KW; ++t)
                acc = Op::apply(acc, xs[t / KW][i * S + t % KW]);
            yr[i] = acc;
        }
    }
}

/// Any window: tap by tap over contiguous outputs.
template <class Op>
[[gnu::always_inline]] inline void poolAny(const float* __restrict x, float* __restrict y, const PoolPlan& p)
{
    for (std::int64_t r = 0; r < p.rows; ++r) {
        float* __restrict yr = y + r * p.ldy;
        for (std::int64_t ky = 0; ky < p.KH; ++ky)
            for (std::int64_t kx = 0; kx < p.KW; ++kx) {
                const float* __restrict xs = x + (r * p.sh + ky * p.dh) * p.Wp + kx * p.dw;
                if (ky == 0 && kx == 0)
                    for (std::int64_t i = 0; i < p.n; ++i)
                        yr[i] = Op::first(xs[i * p.sw]);
                else if (p.sw == 1)
                    for (std::int64_t i = 0; i < p.n; ++i)
                        yr[i] = Op::apply(yr[i], xs[i]);
                else
                    for (std::int64_t i = 0; i < p.n; ++i)
                        yr[i] = Op::apply(yr[i], xs[i * p.sw]);
            }
    }
}

template <class Op> [[gnu::always_inline]] inline void poolRuns(const float* x, float* y, const PoolPlan& p)
{
    if (p.dw == 1 && p.KH == 3 && p.KW == 3 && p.sw == 1)
        poolFixed<Op, 3, 3, 1>(x, y, p);
    else if (p.dw == 1 && p.KH == 3 && p.KW == 3 && p.sw == 2)
        poolFixed<Op, 3, 3, 2>(x, y, p);
    else if (p.dw == 1 && p.KH == 2 && p.KW == 2 && p.sw == 2)
        poolFixed<Op, 2, 2, 2>(x, y, p);
    else
        poolAny<Op>(x, y, p);
}

/// Pools `planes` planes x (H, W) -> y (OH, OW). scale: per-output multiplier (average) or
/// null; root: take the square root (LpPool, p = 2). xp, acc: scratch of the plan's sizes.
LEGER_MULTIVERSION
void poolPlanes2D(const float* x, float* y, std::int64_t planes, const PoolPlan& p, FastOp op, const float* scale,
                  bool root, float* xp, float* acc)
{
    const float pad = op == FastOp::Max ? -std::numeric_limits<float>::infinity() : 0.0f;
    for (std::int64_t i = 0; i < p.xpSize; ++i)
        xp[i] = pad; // the padding stays as is; every plane then writes the same interior
    const std::int64_t c0 = std::clamp<std::int64_t>(p.pl, 0, p.Wp), c1 = std::clamp<std::int64_t>(p.pl + p.W, c0, p.Wp);
    const std::int64_t r0 = std::clamp<std::int64_t>(p.pt, 0, p.Hp), r1 = std::clamp<std::int64_t>(p.pt + p.H, r0, p.Hp);
    for (std::int64_t q = 0; q < planes; ++q) {
        const float* xq = x + q * p.H * p.W;
        for (std::int64_t r = r0; r < r1; ++r) {
            float* __restrict dst = xp + r * p.Wp;
            const float* __restrict row = xq + (r - p.pt) * p.W;
            for (std::int64_t i = c0; i < c1; ++i)
                dst[i] = row[i - p.pl];
        }
        switch (op) {
        case FastOp::Max: poolRuns<FMax>(xp, acc, p); break;
        case FastOp::Sum: poolRuns<FSum>(xp, acc, p); break;
        case FastOp::SumSquares: poolRuns<FSumSquares>(xp, acc, p); break;
        }
        float* yq = y + q * p.OH * p.OW;
        for (std::int64_t r = 0; r < p.OH; ++r) {
            float* __restrict yr = yq + r * p.OW;
            const float* __restrict ar = acc + r * p.pitch;
            if (scale) {
                const float* __restrict sr = scale + r * p.OW;
                for (std::int64_t i = 0; i < p.OW; ++i)
                    yr[i] = ar[i] * sr[i];
            } else if (root) {
                for (std::int64_t i = 0; i < p.OW; ++i)
                    yr[i] = std::sqrt(ar[i]);
            } else {
                for (std::int64_t i = 0; i < p.OW; ++i)
                    yr[i] = ar[i];
            }
        }
    }
}

PoolPlan poolPlan(const Window& w)
{
    PoolPlan p;
    p.H = w.in[1];
    p.W = w.in[2];
    p.OH = w.out[1];
    p.OW = w.out[2];
    p.pt = w.pb[1];
    p.pl = w.pb[2];
    p.KH = w.k[1];
    p.KW = w.k[2];
    p.sh = w.s[1];
    p.sw = w.s[2];
    p.dh = w.d[1];
    p.dw = w.d[2];
    p.Hp = (p.OH - 1) * p.sh + (p.KH - 1) * p.dh + 1;
    p.Wp = (p.OW - 1) * p.sw + (p.KW - 1) * p.dw + 1;
    auto roundUp = [](std::int64_t v) { return (v + kPoolRound - 1) / kPoolRound * kPoolRound; };
    std::int64_t lastRead;
    if (p.sh == 1 && p.sw == 1) {
        p.rows = 1;
        p.n = roundUp((p.OH - 1) * p.Wp + p.OW);
        p.ldy = 0;
        p.pitch = p.Wp;
        p.accSize = p.n;
        lastRead = (p.n - 1) + (p.KH - 1) * p.dh * p.Wp + (p.KW - 1) * p.dw;
    } else {
        p.rows = p.OH;
        p.n = roundUp(p.OW);
        p.ldy = p.n;
        p.pitch = p.n;
        p.accSize = p.OH * p.n;
        lastRead = (p.OH - 1) * p.sh * p.Wp + (p.n - 1) * p.sw + (p.KH - 1) * p.dh * p.Wp + (p.KW - 1) * p.dw;
    }
    p.xpSize = std::max(p.Hp * p.Wp, lastRead + 1);
    return p;
}

/// MaxPool with the Indices output: flat indices into X, counting from the plane's offset,
/// in row-major order or (storage_order 1) column-major order of the spatial axes.
template <class T>
void maxPlaneWithIndices(const T* x, T* y, std::int64_t* ind, const Window& w, std::int64_t base, bool colMajor)
{
    const std::int64_t D = w.in[0], H = w.in[1], W = w.in[2];
    for (std::int64_t oz = 0; oz < w.out[0]; ++oz)
        for (std::int64_t oy = 0; oy < w.out[1]; ++oy)
            for (std::int64_t ox = 0; ox < w.out[2]; ++ox) {
                T best = lowestOf<T>();
                std::int64_t bz = -1, by = -1, bx = -1;
                for (std::int64_t kz = 0; kz < w.k[0]; ++kz) {
                    const std::int64_t iz = oz * w.s[0] - w.pb[0] + kz * w.d[0];
                    if (iz < 0 || iz >= D)
                        continue;
                    for (std::int64_t ky = 0; ky < w.k[1]; ++ky) {
                        const std::int64_t iy = oy * w.s[1] - w.pb[1] + ky * w.d[1];
                        if (iy < 0 || iy >= H)
                            continue;
                        for (std::int64_t kx = 0; kx < w.k[2]; ++kx) {
                            const std::int64_t ix = ox * w.s[2] - w.pb[2] + kx * w.d[2];
                            if (ix < 0 || ix >= W)
                                continue;
                            const T v = x[(iz * H + iy) * W + ix];
                            if (bz < 0 || v > best) {
                                best = v;
                                bz = iz;
                                by = iy;
                                bx = ix;
                            }
                        }
                    }
                }
                const std::int64_t o = (oz * w.out[1] + oy) * w.out[2] + ox;
                y[o] = best;
                if (bz < 0)
                    ind[o] = -1; // the window lies entirely in the padding
                else
                    ind[o] = base + (colMajor ? (bx * H + by) * D + bz : (bz * H + by) * W + bx);
            }
}

/// Per output position along one axis: how many taps fall inside the input, and how many
/// inside the padded input (what count_include_pad divides by).
struct TapCounts {
    std::vector<std::int64_t> inside, padded;
};
TapCounts tapCounts(const Window& w, std::size_t axis)
{
    TapCounts c;
    const std::int64_t n = w.out[axis];
    c.inside.assign(static_cast<std::size_t>(n), 0);
    c.padded.assign(static_cast<std::size_t>(n), 0);
    for (std::int64_t o = 0; o < n; ++o)
        for (std::int64_t k = 0; k < w.k[axis]; ++k) {
            const std::int64_t i = o * w.s[axis] - w.pb[axis] + k * w.d[axis];
            c.inside[static_cast<std::size_t>(o)] += (i >= 0 && i < w.in[axis]);
            c.padded[static_cast<std::size_t>(o)] += (i >= -w.pb[axis] && i < w.in[axis] + w.pe[axis]);
        }
    return c;
}

/// Per output position: 1 / the number of taps an average divides by.
template <class T> std::vector<T> averageScale(const Window& w, bool countIncludePad)
{
    const TapCounts cz = tapCounts(w, 0), cy = tapCounts(w, 1), cx = tapCounts(w, 2);
    const auto& vz = countIncludePad ? cz.padded : cz.inside;
    const auto& vy = countIncludePad ? cy.padded : cy.inside;
    const auto& vx = countIncludePad ? cx.padded : cx.inside;
    std::vector<T> inv;
    inv.reserve(static_cast<std::size_t>(w.outSize()));
    for (std::int64_t z : vz)
        for (std::int64_t yy : vy)
            for (std::int64_t xx : vx)
                inv.push_back(T(1) / static_cast<T>(z * yy * xx));
    return inv;
}

struct PoolConfig {
    PoolKind kind = PoolKind::Max;
    WindowAttrs win;
    bool countIncludePad = false;
    bool colMajor = false; // MaxPool storage_order
    double p = 2;          // LpPool
};

template <class T>
void pool(const Node& node, const PoolConfig& cfg, const Tensor& X, Tensor& Y, Tensor* indices)
{
    if (X.rank() < 3)
        throw Error(node.describe() + ": input needs shape (N, C, spatial...), got " + shapeToString(X.shape()));
    const std::vector<std::int64_t> inDims(X.shape().begin() + 2, X.shape().end());
    if (cfg.win.kernel.empty())
        throw Error(node.describe() + ": kernel_shape is required");
    const Window w = ops::convWindow(node, cfg.win, inDims, cfg.win.kernel);
    const std::int64_t planes = X.dim(0) * X.dim(1);
    Shape yShape{X.dim(0), X.dim(1)};
    for (std::int64_t d : w.outDims())
        yShape.push_back(d);
    Y.resize(X.dtype(), yShape);
    const std::int64_t inSize = w.inSize(), outSize = w.outSize();
    const T* x = X.data<T>();
    T* y = Y.data<T>();
    if (indices) {
        indices->resize(DType::Int64, yShape);
        for (std::int64_t p = 0; p < planes; ++p)
            maxPlaneWithIndices(x + p * inSize, y + p * outSize, indices->data<std::int64_t>() + p * outSize, w,
                                p * inSize, cfg.colMajor);
        return;
    }
    if constexpr (std::is_same_v<T, float>) {
        if (w.rank <= 2 && (cfg.kind != PoolKind::Lp || cfg.p == 2)) {
            const PoolPlan plan = poolPlan(w);
            std::vector<float> xp(static_cast<std::size_t>(plan.xpSize)), acc(static_cast<std::size_t>(plan.accSize));
            std::vector<float> scale;
            if (cfg.kind == PoolKind::Average)
                scale = averageScale<float>(w, cfg.countIncludePad);
            const FastOp op = cfg.kind == PoolKind::Max       ? FastOp::Max
                              : cfg.kind == PoolKind::Average ? FastOp::Sum
                                                              : FastOp::SumSquares;
            poolPlanes2D(x, y, planes, plan, op, scale.empty() ? nullptr : scale.data(), cfg.kind == PoolKind::Lp,
                         xp.data(), acc.data());
            return;
        }
    }
    if (cfg.kind == PoolKind::Max) {
        for (std::int64_t p = 0; p < planes; ++p)
            maxPlane(x + p * inSize, y + p * outSize, w);
        return;
    }
    if constexpr (std::is_floating_point_v<T>) {
        for (std::int64_t p = 0; p < planes; ++p) {
            T* yp = y + p * outSize;
            const T* xp = x + p * inSize;
            if (cfg.kind == PoolKind::Average) {
                poolPlaneRows<T, SumOp>(xp, yp, w, T(0));
            } else if (cfg.p == 2) {
                poolPlaneRows<T, SumSquareOp>(xp, yp, w, T(0));
            } else if (cfg.p == 1) {
                poolPlaneRows<T, SumAbsOp>(xp, yp, w, T(0));
            }
        }
        if (cfg.kind == PoolKind::Lp && cfg.p != 1 && cfg.p != 2) {
            // General p: sum |x|^p per window (rare, so the plain loop).
            for (std::int64_t p = 0; p < planes; ++p)
                for (std::int64_t o = 0; o < outSize; ++o) {
                    const std::int64_t oz = o / (w.out[1] * w.out[2]), oy = o / w.out[2] % w.out[1],
                                       ox = o % w.out[2];
                    double acc = 0;
                    for (std::int64_t kz = 0; kz < w.k[0]; ++kz)
                        for (std::int64_t ky = 0; ky < w.k[1]; ++ky)
                            for (std::int64_t kx = 0; kx < w.k[2]; ++kx) {
                                const std::int64_t iz = oz * w.s[0] - w.pb[0] + kz * w.d[0];
                                const std::int64_t iy = oy * w.s[1] - w.pb[1] + ky * w.d[1];
                                const std::int64_t ix = ox * w.s[2] - w.pb[2] + kx * w.d[2];
                                if (iz < 0 || iz >= w.in[0] || iy < 0 || iy >= w.in[1] || ix < 0 || ix >= w.in[2])
                                    continue;
                                acc += std::pow(std::abs(double(x[p * inSize + (iz * w.in[1] + iy) * w.in[2] + ix])),
                                                cfg.p);
                            }
                    y[p * outSize + o] = static_cast<T>(acc);
                }
        }
        if (cfg.kind == PoolKind::Lp) {
            const double inv = 1.0 / cfg.p;
            for (std::int64_t i = 0; i < Y.size(); ++i)
                y[i] = cfg.p == 2 ? std::sqrt(y[i]) : cfg.p == 1 ? y[i] : static_cast<T>(std::pow(double(y[i]), inv));
            return;
        }
        // Average: divide by the number of taps inside the (padded, with count_include_pad) input.
        const std::vector<T> inv = averageScale<T>(w, cfg.countIncludePad);
        for (std::int64_t p = 0; p < planes; ++p) {
            T* yp = y + p * outSize;
            for (std::int64_t i = 0; i < outSize; ++i)
                yp[i] *= inv[static_cast<std::size_t>(i)];
        }
    }
}

void runPool(const KernelArgs& a, const PoolConfig& cfg)
{
    const Tensor& X = a.input(0);
    Tensor& Y = a.output(0);
    Tensor* indices = cfg.kind == PoolKind::Max && a.wantsOutput(1) ? &a.output(1) : nullptr;
    if (ops::isHalfFloat(X.dtype())) {
        const Tensor xf = ops::widenToFloat(X);
        Tensor yf;
        pool<float>(a.node(), cfg, xf, yf, indices);
        ops::narrowFromFloat(yf, X.dtype(), Y);
        return;
    }
    if (cfg.kind == PoolKind::Max) {
        switch (X.dtype()) {
        case DType::Float32: return pool<float>(a.node(), cfg, X, Y, indices);
        case DType::Float64: return pool<double>(a.node(), cfg, X, Y, indices);
        case DType::Int8: return pool<std::int8_t>(a.node(), cfg, X, Y, indices);
        case DType::UInt8: return pool<std::uint8_t>(a.node(), cfg, X, Y, indices);
        default:
            throw UnsupportedError(a.node().describe() + ": element type " + std::string(dtypeName(X.dtype())) +
                                   " is not supported");
        }
    }
    ops::dispatchFloat(X.dtype(), [&](auto t) { pool<decltype(t)>(a.node(), cfg, X, Y, nullptr); }, a.node());
}

/// LpPool's p: a float attribute at opset 1, an int afterwards.
double lpNorm(const KernelContext& ctx)
{
    const Attribute* p = ctx.node.find("p");
    double v = 2;
    if (p)
        v = p->kind == Attribute::Kind::Float ? double(p->f) : double(ctx.node.attrInt("p", 2));
    if (!(v > 0) || !std::isfinite(v))
        ctx.invalid("p must be positive");
    return v;
}

KernelFactory poolFactory(PoolKind kind)
{
    return [kind](const KernelContext& ctx) -> Kernel {
        PoolConfig cfg;
        cfg.kind = kind;
        // Dilations exist on MaxPool from opset 10, AveragePool from 19, LpPool from 18.
        const bool dilations = kind == PoolKind::Max || (kind == PoolKind::Average && ctx.opset >= 19) ||
                               (kind == PoolKind::Lp && ctx.opset >= 18);
        cfg.win = WindowAttrs::parse(ctx, true, dilations);
        if (cfg.win.kernel.empty())
            ctx.invalid("kernel_shape is required");
        cfg.countIncludePad = ctx.node.attrInt("count_include_pad", 0) != 0;
        cfg.colMajor = ctx.node.attrInt("storage_order", 0) != 0;
        if (kind == PoolKind::Lp)
            cfg.p = lpNorm(ctx);
        return [cfg](KernelArgs& a) { runPool(a, cfg); };
    };
}

// ---- Global pools -------------------------------------------------------------------------

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

template <class T> void globalPool(const Node& node, PoolKind kind, double p, const Tensor& X, Tensor& Y)
{
    if (X.rank() < 2)
        throw Error(node.describe() + ": input needs shape (N, C, spatial...), got " + shapeToString(X.shape()));
    Shape yShape = X.shape();
    for (std::size_t i = 2; i < yShape.size(); ++i)
        yShape[i] = 1;
    Y.resize(X.dtype(), yShape);
    const std::int64_t planes = X.dim(0) * X.dim(1);
    const std::int64_t n = planes ? X.size() / planes : 0;
    const T* x = X.data<T>();
    T* y = Y.data<T>();
    for (std::int64_t q = 0; q < planes; ++q) {
        const T* xp = x + q * n;
        if (kind == PoolKind::Max) {
            T m = lowestOf<T>();
            for (std::int64_t i = 0; i < n; ++i)
                m = xp[i] > m ? xp[i] : m;
            y[q] = m;
        } else if (kind == PoolKind::Average) {
            double s = 0;
            if constexpr (std::is_same_v<T, float>)
                s = sumF(xp, n);
            else
                for (std::int64_t i = 0; i < n; ++i)
                    s += double(xp[i]);
            y[q] = static_cast<T>(s / double(n));
        } else {
            double s = 0;
            for (std::int64_t i = 0; i < n; ++i)
                s += p == 2 ? double(xp[i]) * double(xp[i]) : std::pow(std::abs(double(xp[i])), p);
            y[q] = static_cast<T>(p == 2 ? std::sqrt(s) : std::pow(s, 1.0 / p));
        }
    }
}

KernelFactory globalPoolFactory(PoolKind kind)
{
    return [kind](const KernelContext& ctx) -> Kernel {
        const double p = kind == PoolKind::Lp ? lpNorm(ctx) : 2.0;
        return [kind, p](KernelArgs& a) {
            const Tensor& X = a.input(0);
            Tensor& Y = a.output(0);
            if (ops::isHalfFloat(X.dtype())) {
                const Tensor xf = ops::widenToFloat(X);
                Tensor yf;
                globalPool<float>(a.node(), kind, p, xf, yf);
                ops::narrowFromFloat(yf, X.dtype(), Y);
                return;
            }
            if (kind == PoolKind::Max && (X.dtype() == DType::Int8 || X.dtype() == DType::UInt8)) {
                if (X.dtype() == DType::Int8)
                    globalPool<std::int8_t>(a.node(), kind, p, X, Y);
                else
                    globalPool<std::uint8_t>(a.node(), kind, p, X, Y);
                return;
            }
            ops::dispatchFloat(X.dtype(), [&](auto t) { globalPool<decltype(t)>(a.node(), kind, p, X, Y); },
                               a.node());
        };
    };
}

// ---- MaxUnpool ----------------------------------------------------------------------------

Kernel makeMaxUnpool(const KernelContext& ctx)
{
    WindowAttrs win = WindowAttrs::parse(ctx, false, false);
    if (win.kernel.empty())
        ctx.invalid("kernel_shape is required");
    if (win.autoPad != ops::AutoPad::NotSet)
        ctx.unsupported("auto_pad");
    return [win](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& X = a.input(0);
        const Tensor& I = a.input(1);
        const Tensor* outShapeT = a.optionalInput(2);
        if (X.rank() < 3 || I.shape() != X.shape() || I.dtype() != DType::Int64)
            throw Error(node.describe() + ": X " + shapeToString(X.shape()) + " and int64 indices " +
                        shapeToString(I.shape()) + " must have the same shape (N, C, spatial...)");
        const std::size_t r = static_cast<std::size_t>(X.rank() - 2);
        if (win.kernel.size() != r || (!win.strides.empty() && win.strides.size() != r) ||
            (!win.pads.empty() && win.pads.size() != 2 * r))
            throw Error(node.describe() + ": the window attributes do not match the input's spatial axes");
        // The shape MaxPool's input had: indices are flat positions in it.
        Shape inferred{X.dim(0), X.dim(1)};
        for (std::size_t i = 0; i < r; ++i) {
            const std::int64_t s = win.strides.empty() ? 1 : win.strides[i];
            const std::int64_t pads = win.pads.empty() ? 0 : win.pads[i] + win.pads[i + r];
            inferred.push_back((X.shape()[i + 2] - 1) * s - pads + win.kernel[i]);
            if (inferred.back() < 1)
                throw Error(node.describe() + ": inferred output size is not positive");
        }
        Shape outShape = inferred;
        if (outShapeT) {
            outShape = outShapeT->toInt64Vector();
            if (outShape.size() != inferred.size() || outShape[0] != inferred[0] || outShape[1] != inferred[1])
                throw Error(node.describe() + ": output_shape " + shapeToString(outShape) + " does not fit input " +
                            shapeToString(X.shape()));
            for (std::size_t i = 2; i < outShape.size(); ++i)
                if (outShape[i] < inferred[i])
                    throw Error(node.describe() + ": output_shape " + shapeToString(outShape) +
                                " is smaller than the unpooled shape " + shapeToString(inferred));
        }
        Tensor& Y = a.output(0);
        Y.resize(X.dtype(), outShape);
        Y.zero();
        const std::size_t es = dtypeSize(X.dtype());
        const std::int64_t total = elementCount(inferred);
        const auto inferredStrides = ops::stridesOf(inferred);
        const auto outStrides = ops::stridesOf(outShape);
        const std::int64_t* ind = I.data<std::int64_t>();
        for (std::int64_t i = 0; i < X.size(); ++i) {
            std::int64_t idx = ind[i];
            if (idx < 0 || idx >= total)
                throw Error(node.describe() + ": index " + std::to_string(idx) + " is out of range");
            // Re-ravel the position from the unpooled shape into a (possibly larger) output_shape.
            std::int64_t o = 0;
            for (std::size_t d = 0; d < inferred.size(); ++d) {
                o += idx / inferredStrides[d] * outStrides[d];
                idx %= inferredStrides[d];
            }
            std::memcpy(Y.raw() + static_cast<std::size_t>(o) * es, X.raw() + static_cast<std::size_t>(i) * es, es);
        }
    };
}

} // namespace

void registerPoolOps(OpRegistry& r)
{
    r.add("MaxPool", 1, poolFactory(PoolKind::Max));
    r.add("AveragePool", 1, poolFactory(PoolKind::Average));
    r.add("LpPool", 1, poolFactory(PoolKind::Lp));
    r.add("GlobalMaxPool", 1, globalPoolFactory(PoolKind::Max));
    r.add("GlobalAveragePool", 1, globalPoolFactory(PoolKind::Average));
    r.add("GlobalLpPool", 1, globalPoolFactory(PoolKind::Lp));
    r.add("MaxUnpool", 9, makeMaxUnpool);
}

} // namespace leger
