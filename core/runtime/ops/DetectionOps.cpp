// Detection and geometry: NonMaxSuppression (opsets 10, 11), RoiAlign (10, 16), GridSample
// (16, 20; 2-D) and Det (11).
//
// NonMaxSuppression and RoiAlign follow the ONNX reference (and ONNX Runtime) step by step,
// in the input's precision, because their results hinge on comparisons (IoU against the
// threshold, samples against the feature map's edges) that rounding could flip.

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>

#include "runtime/OpRegistry.h"
#include "runtime/ops/OpUtil.h"
#include "runtime/ops/Widen.h"

namespace leger {

namespace {

using I64 = std::int64_t;

[[noreturn]] void fail(const Node& node, const std::string& what) { throw Error(node.describe() + ": " + what); }

/// Runs fn(T{}, X, Y) for float and double, widening float16/bfloat16 to float32.
template <class Fn> void withFloat(const Node& node, const Tensor& X, Tensor& Y, Fn&& fn)
{
    if (ops::isHalfFloat(X.dtype())) {
        const Tensor xf = ops::widenToFloat(X);
        Tensor yf;
        fn(float{}, xf, yf);
        ops::narrowFromFloat(yf, X.dtype(), Y);
        return;
    }
    ops::dispatchFloat(X.dtype(), [&](auto t) { fn(t, X, Y); }, node);
}

// ---- NonMaxSuppression -----------------------------------------------------------------------

/// A box as its extents and area, in the input's precision.
template <class T> struct Box {
    T xMin, xMax, yMin, yMax, area;
};

template <class T> Box<T> makeBox(const T* b, bool centerPoint)
{
    Box<T> r;
    if (centerPoint) {
        // [x_center, y_center, width, height]
        const T hw = b[2] / T(2), hh = b[3] / T(2);
        r.xMin = b[0] - hw;
        r.xMax = b[0] + hw;
        r.yMin = b[1] - hh;
        r.yMax = b[1] + hh;
    } else {
        // [y1, x1, y2, x2], either diagonal
        r.xMin = std::min(b[1], b[3]);
        r.xMax = std::max(b[1], b[3]);
        r.yMin = std::min(b[0], b[2]);
        r.yMax = std::max(b[0], b[2]);
    }
    r.area = (r.xMax - r.xMin) * (r.yMax - r.yMin);
    return r;
}

/// Whether b suppresses a: IoU strictly above the threshold (degenerate boxes never do).
template <class T> bool suppresses(const Box<T>& a, const Box<T>& b, T iouThreshold)
{
    const T ix0 = std::max(a.xMin, b.xMin), ix1 = std::min(a.xMax, b.xMax);
    if (ix1 <= ix0)
        return false;
    const T iy0 = std::max(a.yMin, b.yMin), iy1 = std::min(a.yMax, b.yMax);
    if (iy1 <= iy0)
        return false;
    const T inter = (ix1 - ix0) * (iy1 - iy0);
    if (inter <= 0)
        return false;
    const T uni = a.area + b.area - inter;
    if (a.area <= 0 || b.area <= 0 || uni <= 0)
        return false;
    return inter / uni > iouThreshold;
}

Kernel makeNonMaxSuppression(const KernelContext& ctx)
{
    const I64 cpb = ctx.node.attrInt("center_point_box", 0);
    if (cpb != 0 && cpb != 1)
        ctx.invalid("center_point_box must be 0 or 1, got " + std::to_string(cpb));
    const bool centerPoint = cpb == 1;
    return [centerPoint](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& boxes = a.input(0);
        const Tensor& scores = a.input(1);
        if (boxes.rank() != 3 || boxes.dim(2) != 4)
            fail(node, "boxes must be [batches, boxes, 4], got " + shapeToString(boxes.shape()));
        if (scores.rank() != 3 || scores.dim(0) != boxes.dim(0) || scores.dim(2) != boxes.dim(1))
            fail(node, "scores " + shapeToString(scores.shape()) + " do not match boxes " +
                           shapeToString(boxes.shape()) + " (expected [batches, classes, boxes])");
        if (scores.dtype() != boxes.dtype())
            fail(node, "boxes and scores have different element types");
        // Omitted (or empty) optional inputs: no output boxes, IoU threshold 0, no score threshold.
        auto given = [&](std::size_t i) { return a.hasInput(i) && a.input(i).size() > 0; };
        I64 maxOut = 0;
        if (given(2)) {
            if (!isInteger(a.input(2).dtype()))
                fail(node, "max_output_boxes_per_class must be an integer");
            maxOut = std::max<I64>(a.input(2).toInt64Vector()[0], 0);
        }
        const double iouThreshold = given(3) ? a.input(3).at(0) : 0.0;
        const bool hasScoreThreshold = given(4);
        const double scoreThreshold = hasScoreThreshold ? a.input(4).at(0) : 0.0;
        const I64 batches = boxes.dim(0), classes = scores.dim(1), count = boxes.dim(1);

        std::vector<std::array<I64, 3>> selected; // (batch, class, box)
        ops::dispatchFloat(
            boxes.dtype(),
            [&](auto t) {
                using T = decltype(t);
                const T iouT = static_cast<T>(iouThreshold), scoreT = static_cast<T>(scoreThreshold);
                std::vector<Box<T>> bx(static_cast<std::size_t>(count)); // [count] of the batch
                std::vector<I64> order;                                  // candidates, best first
                std::vector<I64> kept;                                   // selected in this class
                for (I64 b = 0; b < batches; ++b) {
                    for (I64 i = 0; i < count; ++i)
                        bx[static_cast<std::size_t>(i)] = makeBox(boxes.data<T>() + (b * count + i) * 4, centerPoint);
                    for (I64 c = 0; c < classes; ++c) {
                        const T* s = scores.data<T>() + (b * classes + c) * count;
                        order.clear();
                        for (I64 i = 0; i < count; ++i)
                            if (!hasScoreThreshold || s[i] > scoreT)
                                order.push_back(i);
                        // Highest score first, ties by lower index; NaN scores sort last.
                        std::stable_sort(order.begin(), order.end(), [s](I64 x, I64 y) {
                            const bool xn = std::isnan(s[x]), yn = std::isnan(s[y]);
                            if (xn || yn)
                                return !xn && yn;
                            return s[x] > s[y];
                        });
                        kept.clear();
                        for (I64 i : order) {
                            if (static_cast<I64>(kept.size()) >= maxOut)
                                break;
                            const Box<T>& cand = bx[static_cast<std::size_t>(i)];
                            bool keep = true;
                            for (I64 k : kept)
                                if (suppresses(cand, bx[static_cast<std::size_t>(k)], iouT)) {
                                    keep = false;
                                    break;
                                }
                            if (keep) {
                                kept.push_back(i);
                                selected.push_back({b, c, i});
                            }
                        }
                    }
                }
            },
            node);
        Tensor& out = a.output(0);
        out.resize(DType::Int64, {static_cast<I64>(selected.size()), 3});
        I64* o = out.data<I64>(); // [selected, 3]
        for (std::size_t i = 0; i < selected.size(); ++i)
            for (std::size_t j = 0; j < 3; ++j)
                o[i * 3 + j] = selected[i][j];
    };
}

// ---- RoiAlign --------------------------------------------------------------------------------

// Limits on samples per RoiAlign bin, which data (roi sizes) decide: beyond them a roi is
// rejected rather than sampled for hours.
constexpr I64 kMaxGrid = I64{1} << 16;    // per axis
constexpr I64 kMaxSamples = I64{1} << 22; // per bin

struct RoiAlignConfig {
    bool maxMode = false;
    I64 outH = 1, outW = 1;
    I64 samplingRatio = 0;
    double spatialScale = 1;
    bool halfPixel = false; // opset 16's default; opset 10 has only output_half_pixel
};

/// Four bilinear taps of one sample point (weights zero outside the feature map).
template <class T> struct Taps4 {
    std::array<I64, 4> pos{};
    std::array<T, 4> w{};
};

/// The ONNX reference's pre_calc_for_bilinear_interpolate for one sample point.
template <class T> Taps4<T> bilinearTaps(T y, T x, I64 H, I64 W)
{
    Taps4<T> p;
    if (H == 0 || W == 0 || y < T(-1) || y > static_cast<T>(H) || x < T(-1) || x > static_cast<T>(W) ||
        std::isnan(y) || std::isnan(x))
        return p;
    y = std::max(y, T(0));
    x = std::max(x, T(0));
    I64 yLow = static_cast<I64>(y), xLow = static_cast<I64>(x), yHigh, xHigh;
    if (yLow >= H - 1) {
        yHigh = yLow = H - 1;
        y = static_cast<T>(yLow);
    } else {
        yHigh = yLow + 1;
    }
    if (xLow >= W - 1) {
        xHigh = xLow = W - 1;
        x = static_cast<T>(xLow);
    } else {
        xHigh = xLow + 1;
    }
    const T ly = y - static_cast<T>(yLow), lx = x - static_cast<T>(xLow);
    const T hy = T(1) - ly, hx = T(1) - lx;
    p.pos = {yLow * W + xLow, yLow * W + xHigh, yHigh * W + xLow, yHigh * W + xHigh};
    p.w = {hy * hx, hy * lx, ly * hx, ly * lx};
    return p;
}

Kernel makeRoiAlign(const KernelContext& ctx)
{
    RoiAlignConfig cfg;
    const std::string mode = ctx.node.attrString("mode", "avg");
    if (mode == "max")
        cfg.maxMode = true;
    else if (mode != "avg")
        ctx.invalid("mode '" + mode + "' is not avg or max");
    cfg.outH = ctx.node.attrInt("output_height", 1);
    cfg.outW = ctx.node.attrInt("output_width", 1);
    cfg.samplingRatio = ctx.node.attrInt("sampling_ratio", 0);
    cfg.spatialScale = ctx.node.attrFloat("spatial_scale", 1.0f);
    if (cfg.outH < 1 || cfg.outW < 1 || cfg.samplingRatio < 0 || cfg.samplingRatio > kMaxGrid)
        ctx.invalid("output_height and output_width must be >= 1 and sampling_ratio in [0, " +
                    std::to_string(kMaxGrid) + "]");
    if (ctx.opset >= 16) {
        const std::string ct = ctx.node.attrString("coordinate_transformation_mode", "half_pixel");
        if (ct == "half_pixel")
            cfg.halfPixel = true;
        else if (ct != "output_half_pixel")
            ctx.invalid("coordinate_transformation_mode '" + ct + "' is not half_pixel or output_half_pixel");
    }
    return [cfg](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& X = a.input(0);
        const Tensor& rois = a.input(1);
        const Tensor& batchIdx = a.input(2);
        if (X.rank() != 4)
            fail(node, "X must be [N, C, H, W], got " + shapeToString(X.shape()));
        if (rois.rank() != 2 || rois.dim(1) != 4)
            fail(node, "rois must be [num_rois, 4], got " + shapeToString(rois.shape()));
        if (batchIdx.rank() != 1 || batchIdx.dim(0) != rois.dim(0) || !isInteger(batchIdx.dtype()))
            fail(node, "batch_indices must be [num_rois] integers, got " + shapeToString(batchIdx.shape()));
        const I64 N = X.dim(0), C = X.dim(1), H = X.dim(2), W = X.dim(3), R = rois.dim(0);
        const std::vector<I64> bi = batchIdx.toInt64Vector();
        for (I64 r = 0; r < R; ++r)
            if (bi[static_cast<std::size_t>(r)] < 0 || bi[static_cast<std::size_t>(r)] >= N)
                fail(node, "batch index " + std::to_string(bi[static_cast<std::size_t>(r)]) + " of roi " +
                               std::to_string(r) + " is outside [0, " + std::to_string(N) + ")");
        withFloat(node, X, a.output(0), [&](auto t, const Tensor& x, Tensor& y) {
            using T = decltype(t);
            y.resize(dtypeOf<T>(), {R, C, cfg.outH, cfg.outW});
            const T* xp = x.data<T>(); // [N, C, H, W]
            T* yp = y.data<T>();       // [R, C, outH, outW]
            const T scale = static_cast<T>(cfg.spatialScale);
            const T offset = cfg.halfPixel ? T(0.5) : T(0);
            if (H == 0 || W == 0) {
                // No pixels: every sample is outside the map and weighs nothing.
                std::fill(yp, yp + y.size(), T(0));
                return;
            }
            std::vector<Taps4<T>> taps; // [gridH, gridW] of one bin, shared by every channel
            for (I64 r = 0; r < R; ++r) {
                const T x0 = static_cast<T>(rois.at(r * 4)) * scale - offset;
                const T y0 = static_cast<T>(rois.at(r * 4 + 1)) * scale - offset;
                const T x1 = static_cast<T>(rois.at(r * 4 + 2)) * scale - offset;
                const T y1 = static_cast<T>(rois.at(r * 4 + 3)) * scale - offset;
                T roiW = x1 - x0, roiH = y1 - y0;
                if (!cfg.halfPixel) {
                    // Malformed rois become 1x1, as in the reference.
                    roiW = std::max(roiW, T(1));
                    roiH = std::max(roiH, T(1));
                }
                const T binH = roiH / static_cast<T>(cfg.outH), binW = roiW / static_cast<T>(cfg.outW);
                // Samples per bin: sampling_ratio, else ceil(bin size) (none for an empty roi).
                auto gridOf = [&](T bin) -> I64 {
                    if (cfg.samplingRatio > 0)
                        return cfg.samplingRatio;
                    const T g = std::ceil(bin);
                    if (!(g <= T(kMaxGrid)))
                        fail(node, "roi " + std::to_string(r) + " is too large (or not finite) to sample");
                    return std::max<I64>(static_cast<I64>(g), 0);
                };
                const I64 gh = gridOf(binH), gw = gridOf(binW);
                const I64 samples = gh * gw;
                if (samples > kMaxSamples)
                    fail(node, "roi " + std::to_string(r) + " needs " + std::to_string(samples) +
                                   " samples per bin, more than " + std::to_string(kMaxSamples));
                const T count = static_cast<T>(std::max<I64>(samples, 1));
                taps.resize(static_cast<std::size_t>(samples));
                const I64 b = bi[static_cast<std::size_t>(r)];
                for (I64 ph = 0; ph < cfg.outH; ++ph)
                    for (I64 pw = 0; pw < cfg.outW; ++pw) {
                        std::size_t k = 0;
                        for (I64 iy = 0; iy < gh; ++iy) {
                            const T yy = y0 + static_cast<T>(ph) * binH +
                                         static_cast<T>(static_cast<double>(iy) + 0.5) * binH / static_cast<T>(gh);
                            for (I64 ix = 0; ix < gw; ++ix) {
                                const T xx = x0 + static_cast<T>(pw) * binW +
                                             static_cast<T>(static_cast<double>(ix) + 0.5) * binW / static_cast<T>(gw);
                                taps[k++] = bilinearTaps(yy, xx, H, W);
                            }
                        }
                        const I64 p = ph * cfg.outW + pw;
                        for (I64 c = 0; c < C; ++c) {
                            const T* plane = xp + (b * C + c) * H * W;
                            T acc = 0;
                            for (I64 s = 0; s < samples; ++s) {
                                const Taps4<T>& q = taps[static_cast<std::size_t>(s)];
                                if (cfg.maxMode) {
                                    // The reference's max pools the weighted taps, not the interpolated value.
                                    T v = q.w[0] * plane[q.pos[0]];
                                    for (std::size_t j = 1; j < 4; ++j)
                                        v = std::max(v, q.w[j] * plane[q.pos[j]]);
                                    acc = s == 0 ? v : std::max(acc, v);
                                } else {
                                    acc += q.w[0] * plane[q.pos[0]] + q.w[1] * plane[q.pos[1]] +
                                           q.w[2] * plane[q.pos[2]] + q.w[3] * plane[q.pos[3]];
                                }
                            }
                            yp[(r * C + c) * cfg.outH * cfg.outW + p] = cfg.maxMode ? acc : acc / count;
                        }
                    }
            }
        });
    };
}

// ---- GridSample ------------------------------------------------------------------------------

enum class GsMode { Linear, Nearest, Cubic };
enum class GsPad { Zeros, Border, Reflection };

struct GridSampleConfig {
    GsMode mode = GsMode::Linear;
    GsPad pad = GsPad::Zeros;
    bool alignCorners = false;
};

/// Reflects x into [lo, hi] by bouncing off the nearer edge (the reference's _gs_reflect).
double gsReflect(double x, double lo, double hi)
{
    const double range = hi - lo;
    if (range <= 0)
        return lo;
    if (x < lo) {
        const double dx = lo - x;
        const double n = std::floor(dx / range), r = dx - n * range;
        return std::fmod(n, 2.0) == 0 ? lo + r : hi - r;
    }
    if (x > hi) {
        const double dx = x - hi;
        const double n = std::floor(dx / range), r = dx - n * range;
        return std::fmod(n, 2.0) == 0 ? hi - r : lo + r;
    }
    return x;
}

/// Up to four taps along one axis: source indices (-1: a zero from zeros padding) and weights.
struct AxisTaps {
    int n = 0;
    std::array<I64, 4> idx{};
    std::array<double, 4> w{};
};

/// Taps along one axis of length d for the normalised grid coordinate g; false if g is NaN
/// (or reflection meets infinity), whose output is NaN.
bool gsAxisTaps(const GridSampleConfig& c, double g, I64 d, AxisTaps& t)
{
    const double len = static_cast<double>(d);
    double x = c.alignCorners ? (g + 1) / 2 * (len - 1) : ((g + 1) * len - 1) / 2;
    const double lo = c.alignCorners ? 0.0 : -0.5, hi = c.alignCorners ? len - 1 : len - 0.5;
    if (std::isnan(x))
        return false;
    if (c.mode == GsMode::Nearest)
        x = std::nearbyint(x); // round half to even, as PyTorch's 2-D nearest does
    if (x < lo || x > hi) {
        if (c.pad == GsPad::Border)
            x = std::clamp(x, 0.0, len - 1);
        else if (c.pad == GsPad::Reflection) {
            if (std::isinf(x))
                return false;
            x = gsReflect(x, lo, hi);
        } else {
            // Zeros: beyond the edge by more than the kernel's reach every tap reads zero;
            // clamping keeps the index arithmetic in range.
            x = std::clamp(x, -len - 8, len + 8);
        }
    }
    // An integer tap index to a source index under the padding mode.
    auto source = [&](I64 i) -> I64 {
        switch (c.pad) {
        case GsPad::Zeros: return i >= 0 && i < d ? i : -1;
        case GsPad::Border: return std::clamp<I64>(i, 0, d - 1);
        case GsPad::Reflection:
            return std::clamp<I64>(static_cast<I64>(gsReflect(static_cast<double>(i), lo, hi)), 0, d - 1);
        }
        return -1;
    };
    if (c.mode == GsMode::Nearest) {
        t.n = 1;
        t.idx[0] = source(static_cast<I64>(x));
        t.w[0] = 1;
        return true;
    }
    const double fl = std::floor(x);
    const I64 x0 = static_cast<I64>(fl);
    const double f = x - fl;
    if (c.mode == GsMode::Linear) {
        t.n = 2;
        t.idx = {source(x0), source(x0 + 1), -1, -1};
        t.w = {1 - f, f, 0, 0};
        return true;
    }
    // Keys' cubic convolution with A = -0.75 (PyTorch's and the reference's bicubic).
    constexpr double A = -0.75;
    auto far = [&](double s) { return ((A * s - 5 * A) * s + 8 * A) * s - 4 * A; }; // 1 < s < 2
    auto near = [&](double s) { return ((A + 2) * s - (A + 3)) * s * s + 1; };      // s <= 1
    t.n = 4;
    t.idx = {source(x0 - 1), source(x0), source(x0 + 1), source(x0 + 2)};
    t.w = {far(f + 1), near(f), near(1 - f), far(2 - f)};
    return true;
}

Kernel makeGridSample(const KernelContext& ctx)
{
    GridSampleConfig cfg;
    const bool v20 = ctx.opset >= 20;
    const std::string mode = ctx.node.attrString("mode", v20 ? "linear" : "bilinear");
    if (mode == (v20 ? "linear" : "bilinear"))
        cfg.mode = GsMode::Linear;
    else if (mode == "nearest")
        cfg.mode = GsMode::Nearest;
    else if (mode == (v20 ? "cubic" : "bicubic"))
        cfg.mode = GsMode::Cubic;
    else
        ctx.invalid("mode '" + mode + "' is not valid at opset " + std::to_string(ctx.opset));
    const std::string pad = ctx.node.attrString("padding_mode", "zeros");
    if (pad == "zeros")
        cfg.pad = GsPad::Zeros;
    else if (pad == "border")
        cfg.pad = GsPad::Border;
    else if (pad == "reflection")
        cfg.pad = GsPad::Reflection;
    else
        ctx.invalid("padding_mode '" + pad + "' is not zeros, border or reflection");
    cfg.alignCorners = ctx.node.attrInt("align_corners", 0) != 0;
    return [cfg, v20](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& X = a.input(0);
        const Tensor& grid = a.input(1);
        if (v20 && X.rank() != 4 && X.rank() == grid.rank() && X.rank() >= 3)
            throw UnsupportedError(node.describe() + " (opset 20): GridSample over " + std::to_string(X.rank() - 2) +
                                   " spatial dimensions is not supported (only 2)");
        if (X.rank() != 4 || grid.rank() != 4 || grid.dim(0) != X.dim(0) || grid.dim(3) != 2)
            fail(node, "expected X [N, C, H, W] and grid [N, H_out, W_out, 2], got " + shapeToString(X.shape()) +
                           " and " + shapeToString(grid.shape()));
        if (!isFloating(grid.dtype()))
            fail(node, "grid must be floating-point");
        const I64 N = X.dim(0), C = X.dim(1), H = X.dim(2), W = X.dim(3);
        const I64 Ho = grid.dim(1), Wo = grid.dim(2);
        if ((H == 0 || W == 0) && N * C * Ho * Wo > 0)
            fail(node, "X " + shapeToString(X.shape()) + " has no pixels to sample");
        withFloat(node, X, a.output(0), [&](auto t, const Tensor& x, Tensor& y) {
            using T = decltype(t);
            y.resize(dtypeOf<T>(), {N, C, Ho, Wo});
            const T* xp = x.data<T>(); // [N, C, H, W]
            T* yp = y.data<T>();       // [N, C, Ho, Wo]
            AxisTaps tx, ty;
            for (I64 n = 0; n < N; ++n)
                for (I64 p = 0; p < Ho * Wo; ++p) {
                    const I64 g = (n * Ho * Wo + p) * 2; // grid holds (x, y): width first
                    const bool ok = gsAxisTaps(cfg, grid.at(g), W, tx) && gsAxisTaps(cfg, grid.at(g + 1), H, ty);
                    for (I64 c = 0; c < C; ++c) {
                        const T* plane = xp + (n * C + c) * H * W;
                        double v = 0;
                        if (!ok) {
                            v = std::numeric_limits<double>::quiet_NaN();
                        } else {
                            for (int j = 0; j < ty.n; ++j) {
                                const I64 row = ty.idx[static_cast<std::size_t>(j)];
                                if (row < 0)
                                    continue;
                                double s = 0;
                                for (int i = 0; i < tx.n; ++i) {
                                    const I64 col = tx.idx[static_cast<std::size_t>(i)];
                                    if (col >= 0)
                                        s += tx.w[static_cast<std::size_t>(i)] * static_cast<double>(plane[row * W + col]);
                                }
                                v += ty.w[static_cast<std::size_t>(j)] * s;
                            }
                        }
                        yp[(n * C + c) * Ho * Wo + p] = static_cast<T>(v);
                    }
                }
        });
    };
}

// ---- Det -------------------------------------------------------------------------------------

Kernel makeDet(const KernelContext&)
{
    return [](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& X = a.input(0);
        if (X.rank() < 2 || X.dim(-1) != X.dim(-2))
            fail(node, "input must be [..., M, M], got " + shapeToString(X.shape()));
        const I64 M = X.dim(-1);
        const Shape outShape(X.shape().begin(), X.shape().end() - 2);
        const I64 batch = elementCount(outShape);
        std::vector<double> lu(static_cast<std::size_t>(M * M)); // [M, M], one matrix factored in place
        withFloat(node, X, a.output(0), [&](auto t, const Tensor& x, Tensor& y) {
            using T = decltype(t);
            y.resize(dtypeOf<T>(), outShape);
            const T* xp = x.data<T>(); // [batch, M, M]
            T* yp = y.data<T>();       // [batch]
            for (I64 b = 0; b < batch; ++b) {
                for (I64 i = 0; i < M * M; ++i)
                    lu[static_cast<std::size_t>(i)] = static_cast<double>(xp[b * M * M + i]);
                // Gaussian elimination with partial pivoting: det = sign * prod(diagonal of U).
                double det = 1;
                for (I64 k = 0; k < M && det != 0; ++k) {
                    I64 piv = k;
                    for (I64 i = k + 1; i < M; ++i)
                        if (std::abs(lu[static_cast<std::size_t>(i * M + k)]) >
                            std::abs(lu[static_cast<std::size_t>(piv * M + k)]))
                            piv = i;
                    const double pv = lu[static_cast<std::size_t>(piv * M + k)];
                    if (pv == 0) {
                        det = 0;
                        break;
                    }
                    if (piv != k) {
                        for (I64 j = 0; j < M; ++j)
                            std::swap(lu[static_cast<std::size_t>(k * M + j)], lu[static_cast<std::size_t>(piv * M + j)]);
                        det = -det;
                    }
                    det *= pv;
                    for (I64 i = k + 1; i < M; ++i) {
                        const double f = lu[static_cast<std::size_t>(i * M + k)] / pv;
                        if (f == 0)
                            continue;
                        for (I64 j = k + 1; j < M; ++j)
                            lu[static_cast<std::size_t>(i * M + j)] -= f * lu[static_cast<std::size_t>(k * M + j)];
                    }
                }
                yp[b] = static_cast<T>(det);
            }
        });
    };
}

} // namespace

void registerDetectionOps(OpRegistry& r)
{
    r.add("NonMaxSuppression", 10, makeNonMaxSuppression);
    r.add("RoiAlign", 10, makeRoiAlign);
    r.add("GridSample", 16, makeGridSample);
    r.add("Det", 11, makeDet);
}

} // namespace leger
