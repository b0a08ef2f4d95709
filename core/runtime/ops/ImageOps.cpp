// Resize (opsets 10 to 19), Upsample (7, 9) and Pad (1 to 19).
//
// Resize: every axis gets a table of taps (source indices and weights) per output position,
// computed once per run from the coordinate transformation and the interpolation mode,
// following the ONNX reference implementation. Nearest mode gathers all axes in one pass.
// Linear and cubic follow ONNX Runtime's arithmetic bit for bit where its CPU kernels apply
// (bilinear on 2-D and 4-D NCHW/NHWC, trilinear on 3-D/5-D, bicubic on 2-D and 4-D NCHW: see
// "Linear and cubic with ONNX Runtime's arithmetic"); elsewhere (antialias, other layouts)
// they resample one axis at a time in float (double for double inputs), skipping axes whose
// table is the identity.

#include <array>
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

/// The bytes of value converted to dtype (for fill values of any element type).
std::vector<std::byte> valueBytes(DType dtype, double v, const Node& node)
{
    std::vector<std::byte> out(dtypeSize(dtype));
    auto put = [&](auto x) { std::memcpy(out.data(), &x, sizeof(x)); };
    switch (dtype) {
    case DType::Float16: put(Half::fromFloat(static_cast<float>(v))); break;
    case DType::BFloat16: put(BFloat16::fromFloat(static_cast<float>(v))); break;
    case DType::Bool: put(v != 0); break;
    default:
        ops::dispatchNumeric(
            dtype, [&](auto t) { put(static_cast<decltype(t)>(v)); }, node);
    }
    return out;
}

/// Throws (naming the node) if a tensor of this shape would be too large to allocate; checked
/// before building per-axis tables sized by the output.
void checkOutputSize(const Shape& shape, const Node& node)
{
    std::int64_t n = 1;
    for (std::int64_t d : shape) {
        if (d < 0 || (d != 0 && n > (std::int64_t{1} << 40) / d))
            throw Error(node.describe() + ": output shape " + shapeToString(shape) + " is too large");
        n *= d;
    }
}

/// Copies one element of es bytes.
inline void copyElement(std::byte* dst, const std::byte* src, std::size_t es)
{
    switch (es) {
    case 1: *dst = *src; break;
    case 2: std::memcpy(dst, src, 2); break;
    case 4: std::memcpy(dst, src, 4); break;
    case 8: std::memcpy(dst, src, 8); break;
    default: std::memcpy(dst, src, es);
    }
}

// ---- Resize --------------------------------------------------------------------------------

enum class Interp { Nearest, Linear, Cubic };
enum class Coord { HalfPixel, HalfPixelSymmetric, PytorchHalfPixel, AlignCorners, Asymmetric, TfHalfPixelForNN, TfCropAndResize };
enum class NearestMode { RoundPreferFloor, RoundPreferCeil, Floor, Ceil, Legacy };
enum class AspectPolicy { Stretch, NotLarger, NotSmaller };

struct ResizeConfig {
    Interp mode = Interp::Nearest;
    Coord coord = Coord::HalfPixel;
    NearestMode nearest = NearestMode::RoundPreferFloor;
    double cubicA = -0.75;
    bool excludeOutside = false;
    double extrapolation = 0;
    bool antialias = false;
    std::vector<std::int64_t> axes;
    AspectPolicy policy = AspectPolicy::Stretch;
    // Where the inputs are: Upsample-7 has scales as an attribute, Resize-10/Upsample-9 as
    // input 1, Resize-11+ has (roi, scales, sizes) as inputs 1-3.
    std::vector<float> attrScales;
    int roiInput = -1, scalesInput = -1, sizesInput = -1;
};

/// Taps of one axis: for output position o, taps source indices idx[o*n + t] (clamped into
/// the input) with weights w[o*n + t]; outside[o] marks tf_crop_and_resize extrapolation.
struct AxisTaps {
    std::int64_t inLen = 0, outLen = 0;
    int n = 1;
    std::vector<std::int64_t> idx;
    std::vector<double> w;
    std::vector<std::uint8_t> outside;
    bool identity = false;
};

double cubicWeight(double x, double A)
{
    x = std::abs(x);
    if (x <= 1)
        return ((A + 2) * x - (A + 3)) * x * x + 1;
    if (x < 2)
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    return 0;
}

/// Source coordinate of output position x (the ONNX reference's _interpolate_1d_with_x).
/// outWidth is scale * inLen, fractional when derived from a scale.
double sourceCoord(const ResizeConfig& c, double x, double scale, std::int64_t inLen, std::int64_t outLen,
                   double outWidth, double roiStart, double roiEnd, bool& outside)
{
    outside = false;
    const double in = static_cast<double>(inLen);
    switch (c.coord) {
    case Coord::HalfPixel: return (x + 0.5) / scale - 0.5;
    case Coord::HalfPixelSymmetric: {
        const double adjustment = static_cast<double>(outLen) / outWidth;
        const double offset = in / 2 * (1 - adjustment);
        return offset + (x + 0.5) / scale - 0.5;
    }
    case Coord::PytorchHalfPixel: return outLen > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case Coord::AlignCorners: return outWidth == 1 ? 0.0 : x * (in - 1) / (outWidth - 1);
    case Coord::Asymmetric: return x / scale;
    case Coord::TfHalfPixelForNN: return (x + 0.5) / scale;
    case Coord::TfCropAndResize: {
        double v = outWidth == 1 ? (roiEnd - roiStart) * (in - 1) / 2 : x * (roiEnd - roiStart) * (in - 1) / (outWidth - 1);
        v += roiStart * (in - 1);
        outside = v < 0 || v > in - 1;
        return v;
    }
    }
    return 0;
}

AxisTaps axisTaps(const ResizeConfig& c, std::int64_t inLen, std::int64_t outLen, double scale, double roiStart,
                  double roiEnd)
{
    AxisTaps t;
    t.inLen = inLen;
    t.outLen = outLen;
    const double outWidth = scale * static_cast<double>(inLen);
    const bool aa = c.antialias && scale < 1 && c.mode != Interp::Nearest;
    // Taps start at base + first (base = floor of the coordinate), as the reference's
    // nearest-neighbour selection with edge padding does.
    int first = 0;
    if (c.mode == Interp::Nearest) {
        t.n = 1;
    } else if (c.mode == Interp::Linear) {
        first = aa ? static_cast<int>(std::floor(-1 / scale) + 1) : 0;
        t.n = 2 - 2 * first;
    } else {
        first = aa ? static_cast<int>(std::floor(-2 / scale) + 1) : -1;
        t.n = 2 - 2 * first;
    }
    const auto total = static_cast<std::size_t>(outLen * t.n);
    t.idx.assign(total, 0);
    t.w.assign(total, 0.0);
    t.outside.assign(static_cast<std::size_t>(outLen), 0);
    const std::int64_t last = inLen - 1;
    std::vector<double> wk(static_cast<std::size_t>(t.n));
    for (std::int64_t o = 0; o < outLen; ++o) {
        bool outside = false;
        const double xo = sourceCoord(c, static_cast<double>(o), scale, inLen, outLen, outWidth, roiStart, roiEnd, outside);
        t.outside[static_cast<std::size_t>(o)] = outside;
        const std::size_t at = static_cast<std::size_t>(o * t.n);
        if (c.mode == Interp::Nearest) {
            std::int64_t i;
            const double fl = std::floor(xo);
            const double ratio = xo - fl;
            if (c.nearest == NearestMode::Legacy)
                i = scale < 1 ? static_cast<std::int64_t>(std::ceil(xo)) : static_cast<std::int64_t>(xo);
            else if (ratio == 0)
                i = static_cast<std::int64_t>(xo);
            else if (c.nearest == NearestMode::RoundPreferFloor)
                i = static_cast<std::int64_t>(ratio <= 0.5 ? fl : fl + 1);
            else if (c.nearest == NearestMode::RoundPreferCeil)
                i = static_cast<std::int64_t>(ratio < 0.5 ? fl : fl + 1);
            else if (c.nearest == NearestMode::Floor)
                i = static_cast<std::int64_t>(fl);
            else
                i = static_cast<std::int64_t>(fl + 1);
            t.idx[at] = std::clamp<std::int64_t>(i, 0, last);
            t.w[at] = 1;
            continue;
        }
        // The reference takes ratio in (0, 1]: an integral coordinate is base + 1 with ratio 1.
        double base = std::floor(xo);
        double ratio = xo - base;
        if (ratio == 0) {
            base -= 1;
            ratio = 1;
        }
        double sum = 0;
        for (int k = 0; k < t.n; ++k) {
            const double rel = static_cast<double>(first + k) - ratio; // tap position minus coordinate
            double wv;
            if (c.mode == Interp::Linear)
                wv = aa ? std::clamp(1 - std::abs(rel * scale), 0.0, 1.0) : (k == 0 ? 1 - ratio : ratio);
            else
                wv = cubicWeight(aa ? rel * scale : rel, c.cubicA);
            const double src = base + first + k;
            if (c.excludeOutside && (src < 0 || src > static_cast<double>(last)))
                wv = 0;
            wk[static_cast<std::size_t>(k)] = wv;
            sum += wv;
        }
        const bool normalise = aa || c.excludeOutside;
        for (int k = 0; k < t.n; ++k) {
            const double src = base + first + k;
            t.idx[at + static_cast<std::size_t>(k)] =
                std::clamp<std::int64_t>(static_cast<std::int64_t>(src), 0, last);
            t.w[at + static_cast<std::size_t>(k)] =
                normalise && sum != 0 ? wk[static_cast<std::size_t>(k)] / sum : wk[static_cast<std::size_t>(k)];
        }
    }
    // Identity: same length and every output reads only its own index.
    t.identity = inLen == outLen;
    for (std::int64_t o = 0; t.identity && o < outLen; ++o) {
        if (t.outside[static_cast<std::size_t>(o)]) {
            t.identity = false;
            break;
        }
        double own = 0;
        for (int k = 0; k < t.n; ++k) {
            const std::size_t j = static_cast<std::size_t>(o * t.n + k);
            if (t.idx[j] == o)
                own += t.w[j];
            else if (t.w[j] != 0)
                t.identity = false;
        }
        if (own != 1)
            t.identity = false;
    }
    return t;
}

/// Nearest mode: y = x gathered at every axis' tap, in one pass, for elements of type E
/// (an unsigned integer of the element's size). Output rows that read the same source row as
/// the previous one (upsampling) are copied from it.
template <class E>
void gatherNearestTyped(const Tensor& X, Tensor& Y, const std::vector<AxisTaps>& taps, const std::byte* fillBytes)
{
    const int rank = X.rank();
    const E* x = reinterpret_cast<const E*>(X.raw());
    E* y = reinterpret_cast<E*>(Y.raw());
    E fill;
    std::memcpy(&fill, fillBytes, sizeof(E));
    const auto inStrides = ops::stridesOf(X.shape());
    const AxisTaps& lastAxis = taps.back();
    const std::int64_t outW = lastAxis.outLen;
    const std::int64_t rows = Y.size() / outW;
    const std::int64_t* lastIdx = lastAxis.idx.data();
    const std::uint8_t* lastOut = lastAxis.outside.data();
    bool anyOutsideLast = false;
    for (std::uint8_t o : lastAxis.outside)
        anyOutsideLast = anyOutsideLast || o;
    std::vector<std::int64_t> idx(static_cast<std::size_t>(rank), 0);
    std::int64_t prevSrc = -1;
    bool prevOutside = false;
    for (std::int64_t r = 0; r < rows; ++r) {
        std::int64_t src = 0;
        bool outside = false;
        for (int d = 0; d + 1 < rank; ++d) {
            const auto du = static_cast<std::size_t>(d);
            const auto o = static_cast<std::size_t>(idx[du]);
            src += taps[du].idx[o] * inStrides[du];
            outside = outside || taps[du].outside[o];
        }
        E* yr = y + r * outW;
        if (r > 0 && src == prevSrc && outside == prevOutside) {
            std::memcpy(yr, yr - outW, static_cast<std::size_t>(outW) * sizeof(E));
        } else if (outside) {
            std::fill_n(yr, outW, fill);
        } else {
            const E* xr = x + src;
            for (std::int64_t o = 0; o < outW; ++o)
                yr[o] = xr[lastIdx[o]];
            if (anyOutsideLast)
                for (std::int64_t o = 0; o < outW; ++o)
                    if (lastOut[o])
                        yr[o] = fill;
        }
        prevSrc = src;
        prevOutside = outside;
        for (int d = rank - 2; d >= 0; --d) {
            const auto du = static_cast<std::size_t>(d);
            if (++idx[du] < taps[du].outLen)
                break;
            idx[du] = 0;
        }
    }
}

void gatherNearest(const Tensor& X, Tensor& Y, const std::vector<AxisTaps>& taps, const std::vector<std::byte>& fill)
{
    if (Y.size() == 0)
        return;
    if (X.rank() == 0) {
        copyElement(Y.raw(), X.raw(), dtypeSize(X.dtype()));
        return;
    }
    switch (dtypeSize(X.dtype())) {
    case 1: gatherNearestTyped<std::uint8_t>(X, Y, taps, fill.data()); break;
    case 2: gatherNearestTyped<std::uint16_t>(X, Y, taps, fill.data()); break;
    case 4: gatherNearestTyped<std::uint32_t>(X, Y, taps, fill.data()); break;
    case 8: gatherNearestTyped<std::uint64_t>(X, Y, taps, fill.data()); break;
    default: throw Error("Resize: unsupported element size");
    }
}

template <class A, int N>
[[gnu::always_inline]] inline void lastAxisTaps(const A* __restrict src, A* __restrict dst, const AxisTaps& t,
                                                const A* __restrict w, A fill)
{
    const std::int64_t* __restrict idx = t.idx.data();
    const std::uint8_t* __restrict outside = t.outside.data();
    for (std::int64_t o = 0; o < t.outLen; ++o) {
        A acc = 0;
        for (int k = 0; k < N; ++k)
            acc += w[o * N + k] * src[idx[o * N + k]];
        dst[o] = outside[o] ? fill : acc;
    }
}

/// One axis of a separable resample: in (outer, inLen, inner) -> out (outer, outLen, inner),
/// with the taps' weights w converted to A.
template <class A>
[[gnu::always_inline]] inline void resampleAxisImpl(const A* __restrict in, A* __restrict out, std::int64_t outer,
                                                    std::int64_t inner, const AxisTaps& t, const A* __restrict w,
                                                    A fill)
{
    const int n = t.n;
    const std::int64_t* idx = t.idx.data();
    for (std::int64_t p = 0; p < outer; ++p) {
        const A* __restrict src = in + p * t.inLen * inner;
        A* __restrict dst = out + p * t.outLen * inner;
        if (inner == 1) {
            // Along the last axis: a short dot product per output (tap counts of linear and
            // cubic unrolled).
            if (n == 2)
                lastAxisTaps<A, 2>(src, dst, t, w, fill);
            else if (n == 4)
                lastAxisTaps<A, 4>(src, dst, t, w, fill);
            else
                for (std::int64_t o = 0; o < t.outLen; ++o) {
                    const std::int64_t at = o * n;
                    A acc = 0;
                    for (int k = 0; k < n; ++k)
                        acc += w[at + k] * src[idx[at + k]];
                    dst[o] = t.outside[static_cast<std::size_t>(o)] ? fill : acc;
                }
            continue;
        }
        // Along an outer axis: whole contiguous rows of `inner` values are blended.
        for (std::int64_t o = 0; o < t.outLen; ++o) {
            A* __restrict d = dst + o * inner;
            if (t.outside[static_cast<std::size_t>(o)]) {
                for (std::int64_t i = 0; i < inner; ++i)
                    d[i] = fill;
                continue;
            }
            const std::int64_t at = o * n;
            const A w0 = w[at];
            const A* __restrict s0 = src + idx[at] * inner;
            for (std::int64_t i = 0; i < inner; ++i)
                d[i] = w0 * s0[i];
            for (int k = 1; k < n; ++k) {
                const A wk = w[at + k];
                if (wk == 0)
                    continue;
                const A* __restrict sk = src + idx[at + k] * inner;
                for (std::int64_t i = 0; i < inner; ++i)
                    d[i] += wk * sk[i];
            }
        }
    }
}

LEGER_MULTIVERSION void resampleAxisF(const float* in, float* out, std::int64_t outer, std::int64_t inner,
                                      const AxisTaps& t, const float* w, float fill)
{
    resampleAxisImpl(in, out, outer, inner, t, w, fill);
}

template <class A>
void resampleAxis(const A* in, A* out, std::int64_t outer, std::int64_t inner, const AxisTaps& t, A fill)
{
    const std::vector<A> w(t.w.begin(), t.w.end());
    if constexpr (std::is_same_v<A, float>)
        resampleAxisF(in, out, outer, inner, t, w.data(), fill);
    else
        resampleAxisImpl(in, out, outer, inner, t, w.data(), fill);
}

/// Linear/cubic: resamples the axes that change, one after the other, in type A. The result
/// does not depend on the order (the weights are separable), so the order is chosen for
/// speed: shrinking axes first, then growing ones from the last axis (the gather along the
/// contiguous axis is the costly pass, done while the data is smallest).
template <class A>
void resampleSeparable(const A* x, const Shape& inShape, A* y, const std::vector<AxisTaps>& taps, A fill,
                       std::vector<A>& buf0, std::vector<A>& buf1)
{
    std::vector<int> active;
    for (std::size_t d = 0; d < taps.size(); ++d)
        if (!taps[d].identity && taps[d].outLen < taps[d].inLen)
            active.push_back(static_cast<int>(d));
    for (std::size_t d = taps.size(); d-- > 0;)
        if (!taps[d].identity && taps[d].outLen >= taps[d].inLen)
            active.push_back(static_cast<int>(d));
    Shape cur = inShape;
    if (active.empty()) {
        std::copy_n(x, elementCount(inShape), y);
        return;
    }
    const A* src = x;
    for (std::size_t k = 0; k < active.size(); ++k) {
        const auto d = static_cast<std::size_t>(active[k]);
        std::int64_t outer = 1, inner = 1;
        for (std::size_t j = 0; j < d; ++j)
            outer *= cur[j];
        for (std::size_t j = d + 1; j < cur.size(); ++j)
            inner *= cur[j];
        cur[d] = taps[d].outLen;
        A* dst = y;
        if (k + 1 < active.size()) {
            std::vector<A>& b = (k % 2 == 0) ? buf0 : buf1;
            b.resize(static_cast<std::size_t>(elementCount(cur)));
            dst = b.data();
        }
        resampleAxis(src, dst, outer, inner, taps[d], fill);
        src = dst;
    }
}

// ---- Linear and cubic with ONNX Runtime's arithmetic ---------------------------------------
//
// ONNX Runtime's CPU Resize does not resample axis by axis: for the layouts it handles (2-D,
// 4-D NCHW or NHWC with two resized axes; 3-D and 5-D NCDHW for linear) it blends the 4
// (bilinear), 8 (trilinear) or 4x4 (bicubic) neighbours of each output in one float
// expression, from source coordinates computed in float. A separable resample differs from it
// by an ulp or two in about a third of the elements: harmless in a float model, but a
// DynamicQuantizeLinear after the Resize rounds some of those values to the neighbouring
// step, and a dynamically quantized network grows the flips into visible differences. For
// those layouts Leger evaluates the same expressions in the same order (ONNX Runtime 1.30's
// UpsampleBilinear, NhwcUpsampleBilinear, UpsampleTrilinear and ResizeBiCubic), so float32
// results are bit-identical; the separable resample above is kept for the rest (antialias,
// other ranks and layouts, linear with exclude_outside) and for double inputs, which ONNX
// Runtime's CPU Resize does not take and float coordinates and weights would cost precision.
//
// Products and sums must not be contracted into fused multiply-adds, which round differently.
// -std=c++20 turns GCC's contraction off, but the optimize attribute of LEGER_MULTIVERSION
// turns it back on ("fast") in the AVX2/AVX-512 clones: the kernels below use a variant that
// keeps it off.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define LEGER_MULTIVERSION_NO_FMA                                                                                      \
    __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4"),                                     \
                   optimize("O3", "no-tree-loop-distribute-patterns", "fp-contract=off")))
#else
#define LEGER_MULTIVERSION_NO_FMA LEGER_MULTIVERSION
#endif
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/// One resized axis as ONNX Runtime's kernels see it: per output position, the source
/// coordinate's neighbours (clamped into the input) and their float weights.
struct OrtAxis {
    std::int64_t inLen = 0, outLen = 0;
    std::vector<std::uint8_t> outside; // tf_crop_and_resize: coordinate outside [0, inLen - 1]
    bool anyOutside = false;
    // Linear: the coordinate is clamped into [0, inLen - 1]; lo = its integer part, hi = lo + 1
    // (clamped), weighted wLo = |x - hi| and wHi = |x - lo|, or 0.5 each where lo == hi.
    std::vector<std::int64_t> lo, hi;
    std::vector<float> wLo, wHi;
    // Cubic: taps floor(x) - 1 .. floor(x) + 2 (clamped), the Keys coefficients of the
    // fraction (zero for taps outside the input with exclude_outside) and their sum (1
    // without exclude_outside).
    std::vector<std::int64_t> idx;
    std::vector<float> cw;
    std::vector<float> csum;
};

/// Source coordinate of output position x, as ONNX Runtime computes it: in float from the float
/// scale and lengths (the last steps of half_pixel_symmetric and of a one-element crop in double).
float ortSourceCoord(Coord coord, float x, float scale, float lenResized, float lenOriginal, float roiStart,
                     float roiEnd)
{
    switch (coord) {
    case Coord::Asymmetric: return x / scale;
    case Coord::PytorchHalfPixel: return lenResized > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
    case Coord::TfHalfPixelForNN: return (x + 0.5f) / scale;
    case Coord::AlignCorners: return lenResized == 1 ? 0.0f : x * (lenOriginal - 1) / (lenResized - 1);
    case Coord::TfCropAndResize:
        if (lenResized > 1)
            return roiStart * (lenOriginal - 1) + (x * (roiEnd - roiStart) * (lenOriginal - 1)) / (lenResized - 1);
        return static_cast<float>(0.5 * static_cast<double>(roiStart + roiEnd) * static_cast<double>(lenOriginal - 1));
    case Coord::HalfPixelSymmetric: {
        const float outWidth = scale * lenOriginal;
        const float adjustment = lenResized / outWidth;
        const float offset = lenOriginal / 2 * (1 - adjustment);
        return static_cast<float>(static_cast<double>(offset) + (static_cast<double>(x) + 0.5) / scale - 0.5);
    }
    case Coord::HalfPixel: break;
    }
    return (x + 0.5f) / scale - 0.5f;
}

/// Keys cubic coefficients of the taps at distances 1 + s, s, 1 - s and 2 - s, in float.
std::array<float, 4> ortCubicCoeffs(float s, float A)
{
    const float t = std::abs(s);
    std::array<float, 4> c{};
    c[0] = ((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A;
    c[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
    c[2] = ((A + 2) * (1 - t) - (A + 3)) * (1 - t) * (1 - t) + 1;
    c[3] = ((A * (2 - t) - 5 * A) * (2 - t) + 8 * A) * (2 - t) - 4 * A;
    return c;
}

/// The table of one axis: inLen -> outLen at scale. outWidth is the resized length that
/// align_corners and tf_crop_and_resize divide by: ONNX Runtime uses outLen, the ONNX
/// definition scale * inLen; the caller passes outLen unless they differ (scales, or sizes with
/// a keep_aspect_ratio_policy, whose product is fractional), where ONNX Runtime fails the ONNX
/// tests and Leger follows the definition.
OrtAxis ortAxis(const ResizeConfig& c, std::int64_t inLen, std::int64_t outLen, float scale, float outWidth,
                float roiStart, float roiEnd)
{
    OrtAxis t;
    t.inLen = inLen;
    t.outLen = outLen;
    const auto n = static_cast<std::size_t>(outLen);
    const bool cubic = c.mode == Interp::Cubic;
    t.outside.assign(n, 0);
    if (cubic) {
        t.idx.assign(4 * n, 0);
        t.cw.assign(4 * n, 0.0f);
        t.csum.assign(n, 1.0f);
    } else {
        t.lo.assign(n, 0);
        t.hi.assign(n, 0);
        t.wLo.assign(n, 0.0f);
        t.wHi.assign(n, 0.0f);
    }
    const float last = static_cast<float>(inLen - 1);
    // An axis with scale 1 keeps its coordinates (tf_crop_and_resize still crops its roi).
    const bool keep = scale == 1 && c.coord != Coord::TfCropAndResize;
    const auto A = static_cast<float>(c.cubicA);
    const bool corners = c.coord == Coord::AlignCorners || c.coord == Coord::TfCropAndResize;
    const float lenResized = corners ? outWidth : static_cast<float>(outLen);
    for (std::int64_t o = 0; o < outLen; ++o) {
        const auto ou = static_cast<std::size_t>(o);
        const float xo = keep ? static_cast<float>(o)
                              : ortSourceCoord(c.coord, static_cast<float>(o), scale, lenResized,
                                               static_cast<float>(inLen), roiStart, roiEnd);
        const bool out = c.coord == Coord::TfCropAndResize && !(xo >= 0 && xo <= last);
        t.outside[ou] = out;
        t.anyOutside = t.anyOutside || out;
        if (!cubic) {
            const float v = std::max(0.0f, std::min(xo, last));
            const std::int64_t i1 = std::min(static_cast<std::int64_t>(v), inLen - 1);
            const std::int64_t i2 = std::min(i1 + 1, inLen - 1);
            float d1 = std::fabs(v - static_cast<float>(i1));
            float d2 = std::fabs(v - static_cast<float>(i2));
            if (i1 == i2)
                d1 = d2 = 0.5f;
            t.lo[ou] = i1;
            t.hi[ou] = i2;
            t.wLo[ou] = d2;
            t.wHi[ou] = d1;
            continue;
        }
        if (out || !(std::abs(xo) < 1e9f))
            continue; // extrapolated (or unusable): taps 0, weights 0
        const float fl = std::floor(xo);
        const auto base = static_cast<std::int64_t>(fl);
        const std::array<float, 4> k = ortCubicCoeffs(xo - fl, A);
        float sum = 1;
        if (c.excludeOutside) {
            sum = 0;
            for (int j = 0; j < 4; ++j) {
                const std::int64_t pos = base - 1 + j;
                const float w = pos < 0 || pos >= inLen ? 0.0f : k[static_cast<std::size_t>(j)];
                t.cw[4 * ou + static_cast<std::size_t>(j)] = w;
                sum += w;
            }
        } else {
            std::copy(k.begin(), k.end(), t.cw.begin() + static_cast<std::ptrdiff_t>(4 * ou));
        }
        t.csum[ou] = sum;
        for (int j = 0; j < 4; ++j)
            t.idx[4 * ou + static_cast<std::size_t>(j)] = std::clamp<std::int64_t>(base - 1 + j, 0, inLen - 1);
    }
    return t;
}

/// Input rows gathered at the output columns' two neighbours: lo[c] = row[ax.lo[c]] and
/// hi[c] = row[ax.hi[c]], held in a few slots keyed by the row's offset in the input, so that
/// output rows reading the same input row (upsampling) gather it once. Gathering moves values
/// and changes no arithmetic.
struct GatheredRows {
    std::int64_t width;
    std::vector<float> lo, hi;     // slots x width
    std::vector<std::int64_t> key; // offset of the input row each slot holds, -1: none
    GatheredRows(int slots, std::int64_t w)
        : width(w), lo(static_cast<std::size_t>(slots * w)), hi(static_cast<std::size_t>(slots * w)),
          key(static_cast<std::size_t>(slots), -1)
    {
    }
};

/// The slot holding input row `row` (at x + row) gathered, gathering it into a slot that holds
/// none of the need rows (the rows of the current output row) if no slot holds it.
[[gnu::always_inline]] inline std::size_t gatherRow(GatheredRows& g, std::int64_t row, const float* __restrict x,
                                                    const OrtAxis& ax, const std::int64_t* need, int needCount)
{
    std::size_t s = 0;
    for (; s < g.key.size(); ++s)
        if (g.key[s] == row)
            return s;
    for (s = 0; s + 1 < g.key.size(); ++s) {
        bool busy = false;
        for (int j = 0; j < needCount; ++j)
            busy = busy || g.key[s] == need[j];
        if (!busy)
            break;
    }
    g.key[s] = row;
    const float* __restrict src = x + row;
    const std::int64_t* __restrict xlo = ax.lo.data();
    const std::int64_t* __restrict xhi = ax.hi.data();
    float* __restrict l = g.lo.data() + static_cast<std::ptrdiff_t>(s) * g.width;
    float* __restrict h = g.hi.data() + static_cast<std::ptrdiff_t>(s) * g.width;
    for (std::int64_t c = 0; c < g.width; ++c) {
        l[c] = src[xlo[c]];
        h[c] = src[xhi[c]];
    }
    return s;
}

/// Bilinear: planes (outer, H, W, inner) -> (outer, OH, OW, inner), H and W resized per ay and
/// ax (inner 1: NCHW or 2-D; inner > 1: NHWC with inner channels). Each output is
/// (wLoX*wLoY)*X[lo,lo] + (wHiX*wLoY)*X[lo,hi] + (wLoX*wHiY)*X[hi,lo] + (wHiX*wHiY)*X[hi,hi],
/// summed left to right in float.
LEGER_MULTIVERSION_NO_FMA void ortBilinearF(const float* __restrict x, float* __restrict y, std::int64_t outer,
                                            std::int64_t inner, const OrtAxis& ay, const OrtAxis& ax, float fill)
{
    const std::int64_t W = ax.inLen, OH = ay.outLen, OW = ax.outLen;
    const std::int64_t inPlane = ay.inLen * W * inner, outRow = OW * inner;
    const float* __restrict xwl = ax.wLo.data();
    const float* __restrict xwh = ax.wHi.data();
    // NCHW: gather input rows once for the output rows that share them (unless shrinking H,
    // where few do and gathering on the fly is faster).
    const bool gathered = inner == 1 && OH >= ay.inLen;
    GatheredRows g(gathered ? 2 : 0, OW);
    for (std::int64_t p = 0; p < outer; ++p) {
        for (std::int64_t r = 0; r < OH; ++r) {
            const auto ru = static_cast<std::size_t>(r);
            float* __restrict yr = y + (p * OH + r) * outRow;
            if (ay.outside[ru]) {
                for (std::int64_t i = 0; i < outRow; ++i)
                    yr[i] = fill;
                continue;
            }
            const std::int64_t top = p * inPlane + ay.lo[ru] * W * inner;
            const std::int64_t bot = p * inPlane + ay.hi[ru] * W * inner;
            const float yl = ay.wLo[ru], yh = ay.wHi[ru];
            if (gathered) {
                const std::int64_t need[2] = {top, bot};
                const std::size_t st = gatherRow(g, top, x, ax, need, 2);
                const std::size_t sb = gatherRow(g, bot, x, ax, need, 2);
                const float* __restrict tl = g.lo.data() + static_cast<std::ptrdiff_t>(st) * OW;
                const float* __restrict th = g.hi.data() + static_cast<std::ptrdiff_t>(st) * OW;
                const float* __restrict bl = g.lo.data() + static_cast<std::ptrdiff_t>(sb) * OW;
                const float* __restrict bh = g.hi.data() + static_cast<std::ptrdiff_t>(sb) * OW;
                for (std::int64_t c = 0; c < OW; ++c)
                    yr[c] = (xwl[c] * yl) * tl[c] + (xwh[c] * yl) * th[c] +
                            (xwl[c] * yh) * bl[c] + (xwh[c] * yh) * bh[c];
            } else if (inner == 1) {
                const float* __restrict t = x + top;
                const float* __restrict b = x + bot;
                const std::int64_t* __restrict xlo = ax.lo.data();
                const std::int64_t* __restrict xhi = ax.hi.data();
                for (std::int64_t c = 0; c < OW; ++c) {
                    const std::int64_t l = xlo[c], h = xhi[c];
                    yr[c] = (xwl[c] * yl) * t[l] + (xwh[c] * yl) * t[h] +
                            (xwl[c] * yh) * b[l] + (xwh[c] * yh) * b[h];
                }
            } else {
                for (std::int64_t c = 0; c < OW; ++c) {
                    const float c11 = xwl[c] * yl, c21 = xwh[c] * yl;
                    const float c12 = xwl[c] * yh, c22 = xwh[c] * yh;
                    const float* __restrict t0 = x + top + ax.lo[static_cast<std::size_t>(c)] * inner;
                    const float* __restrict t1 = x + top + ax.hi[static_cast<std::size_t>(c)] * inner;
                    const float* __restrict b0 = x + bot + ax.lo[static_cast<std::size_t>(c)] * inner;
                    const float* __restrict b1 = x + bot + ax.hi[static_cast<std::size_t>(c)] * inner;
                    float* __restrict d = yr + c * inner;
                    for (std::int64_t i = 0; i < inner; ++i)
                        d[i] = c11 * t0[i] + c21 * t1[i] + c12 * b0[i] + c22 * b1[i];
                }
            }
            if (ax.anyOutside)
                for (std::int64_t c = 0; c < OW; ++c)
                    if (ax.outside[static_cast<std::size_t>(c)])
                        for (std::int64_t i = 0; i < inner; ++i)
                            yr[c * inner + i] = fill;
        }
    }
}

/// Trilinear: planes (outer, D, H, W) -> (outer, OD, OH, OW). Each output sums the 8
/// neighbours left to right, z-low ones first, each weighted ((wX*wY)*wZ) in float.
LEGER_MULTIVERSION_NO_FMA void ortTrilinearF(const float* __restrict x, float* __restrict y, std::int64_t outer,
                                             const OrtAxis& az, const OrtAxis& ay, const OrtAxis& ax, float fill)
{
    const std::int64_t H = ay.inLen, W = ax.inLen, OD = az.outLen, OH = ay.outLen, OW = ax.outLen;
    const std::int64_t inPlane = az.inLen * H * W;
    const float* __restrict xwl = ax.wLo.data();
    const float* __restrict xwh = ax.wHi.data();
    GatheredRows g(4, OW);
    for (std::int64_t p = 0; p < outer; ++p) {
        for (std::int64_t z = 0; z < OD; ++z) {
            const auto zu = static_cast<std::size_t>(z);
            for (std::int64_t r = 0; r < OH; ++r) {
                const auto ru = static_cast<std::size_t>(r);
                float* __restrict yr = y + ((p * OD + z) * OH + r) * OW;
                if (az.outside[zu] || ay.outside[ru]) {
                    for (std::int64_t c = 0; c < OW; ++c)
                        yr[c] = fill;
                    continue;
                }
                // The input rows (z lo, y lo), (z lo, y hi), (z hi, y lo), (z hi, y hi).
                const std::int64_t need[4] = {p * inPlane + (az.lo[zu] * H + ay.lo[ru]) * W,
                                              p * inPlane + (az.lo[zu] * H + ay.hi[ru]) * W,
                                              p * inPlane + (az.hi[zu] * H + ay.lo[ru]) * W,
                                              p * inPlane + (az.hi[zu] * H + ay.hi[ru]) * W};
                std::size_t sl[4];
                for (int k = 0; k < 4; ++k)
                    sl[k] = gatherRow(g, need[k], x, ax, need, 4);
                const auto lo = [&](int k) { return g.lo.data() + static_cast<std::ptrdiff_t>(sl[k]) * OW; };
                const auto hi = [&](int k) { return g.hi.data() + static_cast<std::ptrdiff_t>(sl[k]) * OW; };
                const float* __restrict l11 = lo(0);
                const float* __restrict h11 = hi(0);
                const float* __restrict l12 = lo(1);
                const float* __restrict h12 = hi(1);
                const float* __restrict l21 = lo(2);
                const float* __restrict h21 = hi(2);
                const float* __restrict l22 = lo(3);
                const float* __restrict h22 = hi(3);
                const float yl = ay.wLo[ru], yh = ay.wHi[ru], zl = az.wLo[zu], zh = az.wHi[zu];
                for (std::int64_t c = 0; c < OW; ++c) {
                    const float ll = xwl[c] * yl, hl = xwh[c] * yl, lh = xwl[c] * yh, hh = xwh[c] * yh;
                    yr[c] = (ll * zl) * l11[c] + (hl * zl) * h11[c] +
                            (lh * zl) * l12[c] + (hh * zl) * h12[c] +
                            (ll * zh) * l21[c] + (hl * zh) * h21[c] +
                            (lh * zh) * l22[c] + (hh * zh) * h22[c];
                }
                if (ax.anyOutside)
                    for (std::int64_t c = 0; c < OW; ++c)
                        if (ax.outside[static_cast<std::size_t>(c)])
                            yr[c] = fill;
            }
        }
    }
}

/// Bicubic, pass 1: the input rows marked in need interpolated along W into rows (H x OW):
/// 0 + (c0/sum)*x0 + ... + (c3/sum)*x3, left to right (wx holds the quotients).
LEGER_MULTIVERSION_NO_FMA void ortBicubicRowsF(const float* __restrict xp, float* __restrict rows, std::int64_t H,
                                               const std::uint8_t* __restrict need, const OrtAxis& ax,
                                               const float* __restrict wx)
{
    const std::int64_t W = ax.inLen, OW = ax.outLen;
    const std::int64_t* __restrict idx = ax.idx.data();
    for (std::int64_t i = 0; i < H; ++i) {
        if (!need[i])
            continue;
        const float* __restrict src = xp + i * W;
        float* __restrict h = rows + i * OW;
        for (std::int64_t c = 0; c < OW; ++c) {
            float acc = 0;
            for (int k = 0; k < 4; ++k)
                acc += wx[4 * c + k] * src[idx[4 * c + k]];
            h[c] = acc;
        }
    }
}

/// Bicubic, pass 2: output rows from the interpolated rows: 0 + (h0*c0)/sum + ... + (h3*c3)/sum.
LEGER_MULTIVERSION_NO_FMA void ortBicubicColsF(const float* __restrict rows, float* __restrict yp, const OrtAxis& ay,
                                               const OrtAxis& ax, float fill)
{
    const std::int64_t OH = ay.outLen, OW = ax.outLen;
    for (std::int64_t r = 0; r < OH; ++r) {
        const auto ru = static_cast<std::size_t>(r);
        float* __restrict yr = yp + r * OW;
        if (ay.outside[ru]) {
            for (std::int64_t c = 0; c < OW; ++c)
                yr[c] = fill;
            continue;
        }
        const float* __restrict h0 = rows + ay.idx[4 * ru] * OW;
        const float* __restrict h1 = rows + ay.idx[4 * ru + 1] * OW;
        const float* __restrict h2 = rows + ay.idx[4 * ru + 2] * OW;
        const float* __restrict h3 = rows + ay.idx[4 * ru + 3] * OW;
        const float c0 = ay.cw[4 * ru], c1 = ay.cw[4 * ru + 1], c2 = ay.cw[4 * ru + 2], c3 = ay.cw[4 * ru + 3];
        const float sum = ay.csum[ru];
        if (sum == 1) { // x / 1 == x: the divisions change nothing
            for (std::int64_t c = 0; c < OW; ++c) {
                float acc = 0;
                acc += h0[c] * c0;
                acc += h1[c] * c1;
                acc += h2[c] * c2;
                acc += h3[c] * c3;
                yr[c] = acc;
            }
        } else {
            for (std::int64_t c = 0; c < OW; ++c) {
                float acc = 0;
                acc += h0[c] * c0 / sum;
                acc += h1[c] * c1 / sum;
                acc += h2[c] * c2 / sum;
                acc += h3[c] * c3 / sum;
                yr[c] = acc;
            }
        }
        if (ax.anyOutside)
            for (std::int64_t c = 0; c < OW; ++c)
                if (ax.outside[static_cast<std::size_t>(c)])
                    yr[c] = fill;
    }
}

/// Which of ONNX Runtime's kernels a linear/cubic resize maps to: the kind, the resized axes
/// (2 or 3), the count of leading planes and of trailing channels (NHWC).
struct OrtPlan {
    enum class Kind { None, Bilinear, Trilinear, Bicubic } kind = Kind::None;
    std::vector<std::size_t> axes;
    std::int64_t outer = 1, inner = 1;
};

/// ONNX Runtime's dispatch (upsample.cc, BaseCompute, without antialias), from the float scales:
/// linear on 2-D (H, W), 4-D with scales[0] == scales[1] == 1 (NCHW) or scales[0] ==
/// scales[3] == 1 (NHWC), 3-D (D, H, W) and 5-D with scales[0] == scales[1] == 1; cubic on
/// 2-D and 4-D NCHW. Kind::None for the rest (ONNX Runtime rejects most of it, and its
/// NHWC cubic kernel is the antialias one). An axis of scale 1 counts as kept unless
/// tf_crop_and_resize crops it (taps not the identity), which ONNX Runtime ignores.
OrtPlan ortPlan(const ResizeConfig& c, const Shape& in, const std::vector<float>& scale,
                const std::vector<AxisTaps>& taps)
{
    OrtPlan p;
    if (c.antialias)
        return p;
    const std::size_t rank = in.size();
    std::vector<bool> s(rank); // s[d]: axis d is kept (scale 1)
    for (std::size_t d = 0; d < rank; ++d)
        s[d] = scale[d] == 1 && (c.coord != Coord::TfCropAndResize || taps[d].identity);
    using K = OrtPlan::Kind;
    if (c.mode == Interp::Linear && !c.excludeOutside) {
        if (rank == 2) {
            p = {K::Bilinear, {0, 1}, 1, 1};
        } else if (rank == 4 && s[0] && s[1]) {
            p = {K::Bilinear, {2, 3}, in[0] * in[1], 1};
        } else if (rank == 4 && s[0] && s[3]) {
            p = {K::Bilinear, {1, 2}, in[0], in[3]};
        } else if (rank == 3) {
            p = {K::Trilinear, {0, 1, 2}, 1, 1};
        } else if (rank == 5 && s[0] && s[1]) {
            p = {K::Trilinear, {2, 3, 4}, in[0] * in[1], 1};
        }
    } else if (c.mode == Interp::Cubic) {
        if (rank == 2)
            p = {K::Bicubic, {0, 1}, 1, 1};
        else if (rank == 4 && s[0] && s[1])
            p = {K::Bicubic, {2, 3}, in[0] * in[1], 1};
    }
    return p;
}

/// Linear/cubic resize of x (inShape) into y (outShape) in float: ONNX Runtime's kernel where
/// ortPlan finds one (scale, outWidth (see ortAxis), roiStart and roiEnd per axis), else the
/// separable resample.
void resampleLinearCubic(const ResizeConfig& c, const float* x, const Shape& inShape, float* y,
                         const Shape& outShape, const std::vector<AxisTaps>& taps, const std::vector<float>& scale,
                         const std::vector<float>& outWidth, const std::vector<double>& roiStart,
                         const std::vector<double>& roiEnd, float fill, std::vector<float>& buf0,
                         std::vector<float>& buf1)
{
    bool identity = true;
    for (const AxisTaps& t : taps)
        identity = identity && t.identity;
    const OrtPlan plan = identity ? OrtPlan{} : ortPlan(c, inShape, scale, taps);
    if (plan.kind == OrtPlan::Kind::None || elementCount(outShape) == 0) {
        resampleSeparable(x, inShape, y, taps, fill, buf0, buf1);
        return;
    }
    std::vector<OrtAxis> ax;
    for (std::size_t d : plan.axes)
        ax.push_back(ortAxis(c, inShape[d], outShape[d], scale[d], outWidth[d], static_cast<float>(roiStart[d]),
                             static_cast<float>(roiEnd[d])));
    switch (plan.kind) {
    case OrtPlan::Kind::Bilinear: ortBilinearF(x, y, plan.outer, plan.inner, ax[0], ax[1], fill); return;
    case OrtPlan::Kind::Trilinear: ortTrilinearF(x, y, plan.outer, ax[0], ax[1], ax[2], fill); return;
    case OrtPlan::Kind::Bicubic: {
        const OrtAxis& ay = ax[0];
        const OrtAxis& axw = ax[1];
        const std::int64_t H = ay.inLen, W = axw.inLen, OH = ay.outLen, OW = axw.outLen;
        // The input rows some output row reads, and the W-pass weights (coefficient / sum).
        std::vector<std::uint8_t> need(static_cast<std::size_t>(H), 0);
        for (std::int64_t r = 0; r < OH; ++r)
            if (!ay.outside[static_cast<std::size_t>(r)])
                for (std::size_t k = 0; k < 4; ++k)
                    need[static_cast<std::size_t>(ay.idx[4 * static_cast<std::size_t>(r) + k])] = 1;
        std::vector<float> wx(axw.cw.size());
        for (std::size_t j = 0; j < wx.size(); ++j)
            wx[j] = axw.cw[j] / axw.csum[j / 4];
        buf0.resize(static_cast<std::size_t>(H * OW));
        for (std::int64_t p = 0; p < plan.outer; ++p) {
            ortBicubicRowsF(x + p * H * W, buf0.data(), H, need.data(), axw, wx.data());
            ortBicubicColsF(buf0.data(), y + p * OH * OW, ay, axw, fill);
        }
        return;
    }
    case OrtPlan::Kind::None: break;
    }
}

template <class T> T roundSaturate(double v)
{
    if constexpr (std::is_floating_point_v<T>) {
        return static_cast<T>(v);
    } else {
        const double r = std::nearbyint(v);
        return static_cast<T>(std::clamp(r, double(std::numeric_limits<T>::lowest()), double(std::numeric_limits<T>::max())));
    }
}

Kernel makeResize(const KernelContext& ctx, bool upsample)
{
    const Node& node = ctx.node;
    ResizeConfig c;
    const std::string mode = node.attrString("mode", "nearest");
    if (mode == "nearest")
        c.mode = Interp::Nearest;
    else if (mode == "linear" || mode == "bilinear" || mode == "trilinear")
        c.mode = Interp::Linear;
    else if (mode == "cubic" && !upsample && ctx.opset >= 11)
        c.mode = Interp::Cubic;
    else
        ctx.invalid("unknown mode '" + mode + "'");
    const bool legacy = upsample || ctx.opset < 11;
    if (legacy) {
        // Upsample and Resize-10: asymmetric coordinates; nearest truncates when upsampling
        // and rounds up when downsampling (what ONNX Runtime does for these versions).
        c.coord = Coord::Asymmetric;
        c.nearest = NearestMode::Legacy;
        if (upsample && ctx.opset < 9) {
            c.attrScales = node.attrFloats("scales");
            if (c.attrScales.empty())
                ctx.invalid("the scales attribute is required");
        } else {
            c.scalesInput = 1;
        }
    } else {
        c.roiInput = 1;
        c.scalesInput = 2;
        c.sizesInput = 3;
        const std::string coord = node.attrString("coordinate_transformation_mode", "half_pixel");
        if (coord == "half_pixel")
            c.coord = Coord::HalfPixel;
        else if (coord == "half_pixel_symmetric")
            c.coord = Coord::HalfPixelSymmetric;
        else if (coord == "pytorch_half_pixel")
            c.coord = Coord::PytorchHalfPixel;
        else if (coord == "align_corners")
            c.coord = Coord::AlignCorners;
        else if (coord == "asymmetric")
            c.coord = Coord::Asymmetric;
        else if (coord == "tf_half_pixel_for_nn")
            c.coord = Coord::TfHalfPixelForNN;
        else if (coord == "tf_crop_and_resize")
            c.coord = Coord::TfCropAndResize;
        else
            ctx.invalid("unknown coordinate_transformation_mode '" + coord + "'");
        const std::string nm = node.attrString("nearest_mode", "round_prefer_floor");
        if (nm == "round_prefer_floor")
            c.nearest = NearestMode::RoundPreferFloor;
        else if (nm == "round_prefer_ceil")
            c.nearest = NearestMode::RoundPreferCeil;
        else if (nm == "floor")
            c.nearest = NearestMode::Floor;
        else if (nm == "ceil")
            c.nearest = NearestMode::Ceil;
        else
            ctx.invalid("unknown nearest_mode '" + nm + "'");
        c.cubicA = node.attrFloat("cubic_coeff_a", -0.75f);
        c.excludeOutside = node.attrInt("exclude_outside", 0) != 0;
        c.extrapolation = node.attrFloat("extrapolation_value", 0.0f);
        c.antialias = node.attrInt("antialias", 0) != 0;
        if (c.antialias && c.mode == Interp::Nearest)
            ctx.unsupported("antialias with nearest mode");
        c.axes = node.attrInts("axes");
        const std::string policy = node.attrString("keep_aspect_ratio_policy", "stretch");
        if (policy == "stretch")
            c.policy = AspectPolicy::Stretch;
        else if (policy == "not_larger")
            c.policy = AspectPolicy::NotLarger;
        else if (policy == "not_smaller")
            c.policy = AspectPolicy::NotSmaller;
        else
            ctx.invalid("unknown keep_aspect_ratio_policy '" + policy + "'");
    }
    struct Buffers {
        std::vector<float> f0, f1;
        std::vector<double> d0, d1;
    };
    auto bufs = std::make_shared<Buffers>();
    return [c, bufs](KernelArgs& a) {
        const Node& n = a.node();
        const Tensor& X = a.input(0);
        const int rank = X.rank();
        const auto ru = static_cast<std::size_t>(rank);
        // Axes the scales/sizes/roi inputs refer to.
        std::vector<std::size_t> axes;
        if (c.axes.empty()) {
            for (std::size_t d = 0; d < ru; ++d)
                axes.push_back(d);
        } else {
            std::vector<bool> seen(ru, false);
            for (std::int64_t ax : c.axes) {
                const auto d = static_cast<std::size_t>(ops::normalizeAxis(ax, rank, n));
                if (seen[d])
                    throw Error(n.describe() + ": axis " + std::to_string(ax) + " is repeated");
                seen[d] = true;
                axes.push_back(d);
            }
        }
        std::vector<double> scale(ru, 1.0);
        // The scales as ONNX Runtime holds them (float; out / in in float for sizes), for the
        // linear/cubic kernels that follow its arithmetic.
        std::vector<float> ortScale(ru, 1.0f);
        std::vector<bool> fractional(ru, false); // the resized length is scale * input (see ortAxis)
        Shape outShape = X.shape();
        const Tensor* scalesT = c.scalesInput >= 0 ? a.optionalInput(static_cast<std::size_t>(c.scalesInput)) : nullptr;
        const Tensor* sizesT = c.sizesInput >= 0 ? a.optionalInput(static_cast<std::size_t>(c.sizesInput)) : nullptr;
        std::vector<double> scales;
        if (!c.attrScales.empty()) {
            for (float s : c.attrScales)
                scales.push_back(s);
        } else if (scalesT && scalesT->size() > 0) {
            if (!isFloating(scalesT->dtype()))
                throw Error(n.describe() + ": scales must be a float tensor");
            for (std::int64_t i = 0; i < scalesT->size(); ++i)
                scales.push_back(static_cast<float>(scalesT->at(i)));
        }
        if (!scales.empty()) {
            if (sizesT && sizesT->size() > 0)
                throw Error(n.describe() + ": only one of scales and sizes may be given");
            if (scales.size() != axes.size())
                throw Error(n.describe() + ": " + std::to_string(scales.size()) + " scales for " +
                            std::to_string(axes.size()) + " axes");
            for (std::size_t i = 0; i < axes.size(); ++i) {
                const double s = scales[i];
                if (!(s > 0) || !std::isfinite(s))
                    throw Error(n.describe() + ": scale " + std::to_string(s) + " must be positive");
                const double out = std::floor(s * static_cast<double>(X.shape()[axes[i]]));
                if (out > double(ops::kMaxWindowValue))
                    throw Error(n.describe() + ": resized axis is too large");
                scale[axes[i]] = s;
                ortScale[axes[i]] = static_cast<float>(s);
                fractional[axes[i]] = true;
                outShape[axes[i]] = static_cast<std::int64_t>(out);
            }
        } else if (sizesT && sizesT->size() > 0) {
            const auto sizes = sizesT->toInt64Vector();
            if (sizes.size() != axes.size())
                throw Error(n.describe() + ": " + std::to_string(sizes.size()) + " sizes for " +
                            std::to_string(axes.size()) + " axes");
            for (std::size_t i = 0; i < axes.size(); ++i) {
                if (sizes[i] < 0 || sizes[i] > ops::kMaxWindowValue)
                    throw Error(n.describe() + ": size " + std::to_string(sizes[i]) + " is out of range");
                if (X.shape()[axes[i]] == 0)
                    throw Error(n.describe() + ": cannot resize an empty axis");
                scale[axes[i]] = static_cast<double>(sizes[i]) / static_cast<double>(X.shape()[axes[i]]);
                ortScale[axes[i]] = static_cast<float>(sizes[i]) / static_cast<float>(X.shape()[axes[i]]);
                outShape[axes[i]] = sizes[i];
            }
            if (c.policy != AspectPolicy::Stretch) {
                double s = c.policy == AspectPolicy::NotLarger ? std::numeric_limits<double>::infinity() : 0.0;
                float fs = c.policy == AspectPolicy::NotLarger ? std::numeric_limits<float>::max() : 0.0f;
                for (std::size_t d : axes) {
                    s = c.policy == AspectPolicy::NotLarger ? std::min(s, scale[d]) : std::max(s, scale[d]);
                    fs = c.policy == AspectPolicy::NotLarger ? std::min(fs, ortScale[d]) : std::max(fs, ortScale[d]);
                }
                for (std::size_t d : axes) {
                    scale[d] = s;
                    ortScale[d] = fs;
                    fractional[d] = true;
                    outShape[d] = static_cast<std::int64_t>(s * static_cast<double>(X.shape()[d]) + 0.5);
                }
            }
        } else {
            throw Error(n.describe() + ": one of scales and sizes is required");
        }
        // roi: starts then ends of the listed axes (tf_crop_and_resize only).
        std::vector<double> roiStart(ru, 0.0), roiEnd(ru, 1.0);
        if (c.coord == Coord::TfCropAndResize) {
            const Tensor* roiT = c.roiInput >= 0 ? a.optionalInput(static_cast<std::size_t>(c.roiInput)) : nullptr;
            if (!roiT || roiT->size() != static_cast<std::int64_t>(2 * axes.size()))
                throw Error(n.describe() + ": tf_crop_and_resize needs a roi with " + std::to_string(2 * axes.size()) +
                            " values");
            for (std::size_t i = 0; i < axes.size(); ++i) {
                roiStart[axes[i]] = roiT->at(static_cast<std::int64_t>(i));
                roiEnd[axes[i]] = roiT->at(static_cast<std::int64_t>(i + axes.size()));
            }
        }
        checkOutputSize(outShape, n);
        std::vector<float> outWidth(ru);
        for (std::size_t d = 0; d < ru; ++d)
            outWidth[d] = fractional[d] ? ortScale[d] * static_cast<float>(X.shape()[d])
                                        : static_cast<float>(outShape[d]);
        std::vector<AxisTaps> taps;
        for (std::size_t d = 0; d < ru; ++d) {
            if (X.shape()[d] == 0 && outShape[d] > 0)
                throw Error(n.describe() + ": cannot resize an empty axis");
            taps.push_back(axisTaps(c, X.shape()[d], outShape[d], scale[d], roiStart[d], roiEnd[d]));
        }
        Tensor& Y = a.output(0);
        if (c.mode == Interp::Nearest) {
            Y.resize(X.dtype(), outShape);
            gatherNearest(X, Y, taps, valueBytes(X.dtype(), c.extrapolation, n));
            return;
        }
        if (X.dtype() == DType::Float64) {
            Y.resize(X.dtype(), outShape);
            resampleSeparable(X.data<double>(), X.shape(), Y.data<double>(), taps, c.extrapolation, bufs->d0, bufs->d1);
            return;
        }
        const auto fill = static_cast<float>(c.extrapolation);
        if (X.dtype() == DType::Float32) {
            Y.resize(X.dtype(), outShape);
            resampleLinearCubic(c, X.data<float>(), X.shape(), Y.data<float>(), outShape, taps, ortScale, outWidth,
                                roiStart, roiEnd, fill, bufs->f0, bufs->f1);
            return;
        }
        // Other types are resampled in float32, then rounded (integers saturate).
        Tensor xf;
        if (ops::isHalfFloat(X.dtype())) {
            xf = ops::widenToFloat(X);
        } else {
            xf.resize(DType::Float32, X.shape());
            ops::dispatchNumeric(
                X.dtype(),
                [&](auto t) {
                    using T = decltype(t);
                    for (std::int64_t i = 0; i < X.size(); ++i)
                        xf.data<float>()[i] = static_cast<float>(X.data<T>()[i]);
                },
                n);
        }
        Tensor yf(DType::Float32, outShape);
        resampleLinearCubic(c, xf.data<float>(), X.shape(), yf.data<float>(), outShape, taps, ortScale, outWidth,
                            roiStart, roiEnd, fill, bufs->f0, bufs->f1);
        if (ops::isHalfFloat(X.dtype())) {
            ops::narrowFromFloat(yf, X.dtype(), Y);
            return;
        }
        Y.resize(X.dtype(), outShape);
        ops::dispatchNumeric(
            X.dtype(),
            [&](auto t) {
                using T = decltype(t);
                for (std::int64_t i = 0; i < Y.size(); ++i)
                    Y.data<T>()[i] = roundSaturate<T>(yf.data<float>()[i]);
            },
            n);
    };
}

// ---- Pad -----------------------------------------------------------------------------------

enum class PadMode { Constant, Reflect, Edge, Wrap };

struct PadConfig {
    PadMode mode = PadMode::Constant;
    bool attrPads = false; // opset < 11: pads and value are attributes
    std::vector<std::int64_t> pads;
    double value = 0;
};

Kernel makePad(const KernelContext& ctx)
{
    PadConfig c;
    const std::string mode = ctx.node.attrString("mode", "constant");
    if (mode == "constant")
        c.mode = PadMode::Constant;
    else if (mode == "reflect")
        c.mode = PadMode::Reflect;
    else if (mode == "edge")
        c.mode = PadMode::Edge;
    else if (mode == "wrap")
        c.mode = PadMode::Wrap;
    else
        ctx.invalid("unknown mode '" + mode + "'");
    if (ctx.opset < 11) {
        c.attrPads = true;
        c.pads = ctx.node.attrInts(ctx.opset < 2 ? "paddings" : "pads");
        c.value = ctx.node.attrFloat("value", 0.0f);
    }
    return [c](KernelArgs& a) {
        const Node& n = a.node();
        const Tensor& X = a.input(0);
        const int rank = X.rank();
        const auto ru = static_cast<std::size_t>(rank);
        std::vector<std::int64_t> pads = c.pads;
        std::vector<std::byte> fill;
        if (c.attrPads) {
            fill = valueBytes(X.dtype(), c.value, n);
        } else {
            pads = a.input(1).toInt64Vector();
            const Tensor* cv = a.optionalInput(2);
            if (cv && cv->size() > 0) {
                if (cv->dtype() != X.dtype())
                    throw Error(n.describe() + ": constant_value must have the input's type");
                fill.assign(cv->raw(), cv->raw() + dtypeSize(cv->dtype()));
            } else {
                fill.assign(dtypeSize(X.dtype()), std::byte{0});
            }
            // Opset 18: pads may cover only the listed axes.
            if (const Tensor* axesT = a.optionalInput(3)) {
                const auto axes = axesT->toInt64Vector();
                if (pads.size() != 2 * axes.size())
                    throw Error(n.describe() + ": " + std::to_string(pads.size()) + " pads for " +
                                std::to_string(axes.size()) + " axes");
                std::vector<std::int64_t> full(2 * ru, 0);
                for (std::size_t i = 0; i < axes.size(); ++i) {
                    const auto d = static_cast<std::size_t>(ops::normalizeAxis(axes[i], rank, n));
                    full[d] = pads[i];
                    full[d + ru] = pads[i + axes.size()];
                }
                pads = full;
            }
        }
        if (X.dtype() == DType::String)
            throw UnsupportedError(n.describe() + ": string tensors are not supported");
        if (pads.size() != 2 * ru)
            throw Error(n.describe() + ": " + std::to_string(pads.size()) + " pads for rank " + std::to_string(rank));
        // Negative pads crop first; reflect/edge/wrap then work on the cropped extent.
        Shape outShape(ru);
        for (std::size_t d = 0; d < ru; ++d) {
            if (std::abs(pads[d]) > ops::kMaxWindowValue || std::abs(pads[d + ru]) > ops::kMaxWindowValue)
                throw Error(n.describe() + ": pad value is out of range");
            outShape[d] = X.shape()[d] + pads[d] + pads[d + ru];
            if (outShape[d] < 0)
                throw Error(n.describe() + ": negative pads remove more than axis " + std::to_string(d) + " holds");
        }
        checkOutputSize(outShape, n);
        std::vector<std::vector<std::int64_t>> map(ru); // source index per output index, -1: fill value
        for (std::size_t d = 0; d < ru; ++d) {
            const std::int64_t in = X.shape()[d], pb = pads[d], pe = pads[d + ru];
            const std::int64_t start = std::max<std::int64_t>(0, -pb);
            const std::int64_t len = in - start - std::max<std::int64_t>(0, -pe);
            if (len < 0)
                throw Error(n.describe() + ": negative pads remove more than axis " + std::to_string(d) + " holds");
            const std::int64_t before = std::max<std::int64_t>(0, pb);
            const std::int64_t out = len + before + std::max<std::int64_t>(0, pe);
            outShape[d] = out;
            if (out > len && len == 0 && c.mode != PadMode::Constant)
                throw Error(n.describe() + ": cannot " + (c.mode == PadMode::Edge ? "edge" : "reflect/wrap") +
                            "-pad an empty axis");
            auto& m = map[d];
            m.resize(static_cast<std::size_t>(out));
            for (std::int64_t o = 0; o < out; ++o) {
                std::int64_t j = o - before;
                if (j < 0 || j >= len) {
                    switch (c.mode) {
                    case PadMode::Constant: j = -1; break;
                    case PadMode::Edge: j = std::clamp<std::int64_t>(j, 0, len - 1); break;
                    case PadMode::Wrap: j = ((j % len) + len) % len; break;
                    case PadMode::Reflect:
                        if (len == 1) {
                            j = 0;
                        } else {
                            const std::int64_t period = 2 * (len - 1);
                            j = ((j % period) + period) % period;
                            if (j >= len)
                                j = period - j;
                        }
                        break;
                    }
                }
                m[static_cast<std::size_t>(o)] = j < 0 ? -1 : j + start;
            }
        }
        Tensor& Y = a.output(0);
        Y.resize(X.dtype(), outShape);
        if (Y.size() == 0)
            return;
        const std::size_t es = dtypeSize(X.dtype());
        if (rank == 0) {
            copyElement(Y.raw(), X.raw(), es);
            return;
        }
        const auto inStrides = ops::stridesOf(X.shape());
        const auto& lastMap = map[ru - 1];
        const std::int64_t outW = outShape[ru - 1];
        const std::int64_t rows = Y.size() / outW;
        // The unpadded middle of each row is one contiguous source run: copied with memcpy.
        const std::int64_t runLo = std::max<std::int64_t>(0, pads[ru - 1]);
        const std::int64_t runHi = runLo + (outW - runLo - std::max<std::int64_t>(0, pads[2 * ru - 1]));
        std::vector<std::int64_t> idx(ru, 0);
        const std::byte* x = X.raw();
        for (std::int64_t r = 0; r < rows; ++r) {
            std::byte* yr = Y.raw() + static_cast<std::size_t>(r * outW) * es;
            std::int64_t src = 0;
            bool outside = false;
            for (std::size_t d = 0; d + 1 < ru; ++d) {
                const std::int64_t j = map[d][static_cast<std::size_t>(idx[d])];
                outside = outside || j < 0;
                src += j * inStrides[d];
            }
            if (outside) {
                for (std::int64_t o = 0; o < outW; ++o)
                    copyElement(yr + static_cast<std::size_t>(o) * es, fill.data(), es);
            } else {
                for (std::int64_t o = 0; o < outW; ++o) {
                    if (o == runLo && runHi > runLo) {
                        std::memcpy(yr + static_cast<std::size_t>(o) * es,
                                    x + static_cast<std::size_t>(src + lastMap[static_cast<std::size_t>(o)]) * es,
                                    static_cast<std::size_t>(runHi - runLo) * es);
                        o = runHi - 1;
                        continue;
                    }
                    const std::int64_t j = lastMap[static_cast<std::size_t>(o)];
                    copyElement(yr + static_cast<std::size_t>(o) * es,
                                j < 0 ? fill.data() : x + static_cast<std::size_t>(src + j) * es, es);
                }
            }
            for (int d = rank - 2; d >= 0; --d) {
                const auto du = static_cast<std::size_t>(d);
                if (++idx[du] < outShape[du])
                    break;
                idx[du] = 0;
            }
        }
    };
}

} // namespace

void registerImageOps(OpRegistry& r)
{
    r.add("Resize", 10, [](const KernelContext& ctx) { return makeResize(ctx, false); });
    r.add("Upsample", 7, [](const KernelContext& ctx) { return makeResize(ctx, true); });
    r.add("Pad", 1, makePad);
}

} // namespace leger
