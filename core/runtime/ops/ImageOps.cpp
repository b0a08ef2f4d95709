// Resize (opsets 10 to 19), Upsample (7, 9) and Pad (1 to 19).
//
// Resize is separable: every axis gets a table of taps (source indices and weights) per
// output position, computed once per run from the coordinate transformation and the
// interpolation mode, following the ONNX reference implementation. Nearest mode gathers all
// axes in one pass; linear and cubic resample one axis at a time in float (double for
// double inputs), skipping axes whose table is the identity.

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
                outShape[axes[i]] = sizes[i];
            }
            if (c.policy != AspectPolicy::Stretch) {
                double s = c.policy == AspectPolicy::NotLarger ? std::numeric_limits<double>::infinity() : 0.0;
                for (std::size_t d : axes)
                    s = c.policy == AspectPolicy::NotLarger ? std::min(s, scale[d]) : std::max(s, scale[d]);
                for (std::size_t d : axes) {
                    scale[d] = s;
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
        if (X.dtype() == DType::Float32) {
            Y.resize(X.dtype(), outShape);
            resampleSeparable(X.data<float>(), X.shape(), Y.data<float>(), taps, static_cast<float>(c.extrapolation),
                              bufs->f0, bufs->f1);
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
        resampleSeparable(xf.data<float>(), X.shape(), yf.data<float>(), taps, static_cast<float>(c.extrapolation),
                          bufs->f0, bufs->f1);
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
