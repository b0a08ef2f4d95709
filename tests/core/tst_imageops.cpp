// Resize in linear and cubic mode: bit for bit against ONNX Runtime (1.30) on hand-picked cases
// whose expected bits came from onnxruntime-node, bit for bit against a per-element
// transcription of ONNX Runtime's expressions on random shapes of every layout its kernels
// handle, and within 1e-6 of a naive double-precision reference of the ONNX definition on
// random shapes of every layout (the separable fallback included). Every case runs twice through
// the same kernel into outputs pre-filled with NaN.
#include <QtTest>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "TestUtil.h"

using namespace leger;
using namespace leger::test;

namespace {

using I64 = std::int64_t;
using Dims = std::vector<I64>;
using Floats = std::vector<float>;
using Bits = std::vector<std::uint32_t>;

/// A Resize (opset 13, or 19 for half_pixel_symmetric) of x; sizes or scales (one of them
/// empty), roi only for tf_crop_and_resize.
struct ResizeCase {
    std::string mode, coord;
    Dims inShape, sizes;
    Floats scales, roi;
    bool excludeOutside = false;
    float cubicA = -0.75f;
    float extrapolation = 0;
};

Tensor runResize(const ResizeCase& rc, const Tensor& X)
{
    Node n = makeNode("Resize", 4);
    setAttr(n, "mode", rc.mode);
    setAttr(n, "coordinate_transformation_mode", rc.coord);
    setAttr(n, "cubic_coeff_a", rc.cubicA);
    setAttr(n, "extrapolation_value", rc.extrapolation);
    if (rc.excludeOutside)
        setAttr(n, "exclude_outside", I64{1});
    const Tensor roi = Tensor::fromVector<float>({static_cast<I64>(rc.roi.size())}, rc.roi);
    const Tensor scales = Tensor::fromVector<float>({static_cast<I64>(rc.scales.size())}, rc.scales);
    const Tensor sizes = Tensor::fromVector<I64>({static_cast<I64>(rc.sizes.size())}, rc.sizes);
    const int opset = rc.coord == "half_pixel_symmetric" ? 19 : 13;
    return runKernel(n, opset,
                     {&X, rc.roi.empty() ? nullptr : &roi, rc.scales.empty() ? nullptr : &scales,
                      rc.sizes.empty() ? nullptr : &sizes})[0];
}

Tensor runResize(const ResizeCase& rc, const Floats& x)
{
    return runResize(rc, Tensor::fromVector<float>(rc.inShape, x));
}

/// The output shape Leger gives: the sizes, or floor(scale * input).
Dims outShapeOf(const ResizeCase& rc)
{
    if (!rc.sizes.empty())
        return rc.sizes;
    Dims out(rc.inShape.size());
    for (std::size_t d = 0; d < out.size(); ++d)
        out[d] = static_cast<I64>(std::floor(static_cast<double>(rc.scales[d]) * static_cast<double>(rc.inShape[d])));
    return out;
}

/// Row-major index of idx in shape.
I64 flatIndex(const Dims& shape, const Dims& idx)
{
    I64 at = 0;
    for (std::size_t d = 0; d < shape.size(); ++d)
        at = at * shape[d] + idx[d];
    return at;
}

/// Visits every index of shape in row-major order.
template <class F> void forEachIndex(const Dims& shape, F&& f)
{
    I64 total = 1;
    for (I64 d : shape)
        total *= d;
    Dims idx(shape.size(), 0);
    for (I64 i = 0; i < total; ++i) {
        f(idx, i);
        for (std::size_t d = shape.size(); d-- > 0;) {
            if (++idx[d] < shape[d])
                break;
            idx[d] = 0;
        }
    }
}

// ---- ONNX Runtime's expressions, per element (upsamplebase.h, upsample.cc/.h) ---------------

float ortCoord(const std::string& m, float x, float s, float lenResized, float lenOrig, float rs, float re)
{
    if (m == "asymmetric")
        return x / s;
    if (m == "pytorch_half_pixel")
        return lenResized > 1 ? (x + 0.5f) / s - 0.5f : 0.0f;
    if (m == "tf_half_pixel_for_nn")
        return (x + 0.5f) / s;
    if (m == "align_corners")
        return lenResized == 1 ? 0.0f : x * (lenOrig - 1) / (lenResized - 1);
    if (m == "tf_crop_and_resize")
        return lenResized > 1
                   ? rs * (lenOrig - 1) + (x * (re - rs) * (lenOrig - 1)) / (lenResized - 1)
                   : static_cast<float>(0.5 * static_cast<double>(rs + re) * static_cast<double>(lenOrig - 1));
    if (m == "half_pixel_symmetric") {
        const float outWidth = s * lenOrig;
        const float adjustment = lenResized / outWidth;
        const float center = lenOrig / 2;
        const float offset = center * (1 - adjustment);
        return static_cast<float>(offset + (x + 0.5) / s - 0.5);
    }
    return ((x + 0.5f) / s) - 0.5f;
}

/// One output position along one resized axis.
struct OrtPos {
    float orig = 0;
    bool outside = false;
    I64 lo = 0, hi = 0; // linear neighbours, weighted wLo (= dx2) and wHi (= dx1)
    float wLo = 0, wHi = 0;
    std::array<I64, 4> tap{};   // cubic taps (clamped)
    std::array<float, 4> cw{}; // their coefficients
    float csum = 1;
};

OrtPos ortPos(const ResizeCase& rc, std::size_t axis, I64 o, I64 outLen)
{
    const I64 inLen = rc.inShape[axis];
    const float scale = rc.sizes.empty() ? rc.scales[axis]
                                         : static_cast<float>(outLen) / static_cast<float>(inLen);
    const float rs = rc.roi.empty() ? 0.0f : rc.roi[axis];
    const float re = rc.roi.empty() ? 1.0f : rc.roi[axis + rc.inShape.size()];
    // Axes of scale 1 keep their positions; ONNX Runtime also ignores the roi of such an axis
    // in tf_crop_and_resize, Leger crops it as the definition says.
    OrtPos p;
    p.orig = scale == 1 && rc.coord != "tf_crop_and_resize"
                 ? static_cast<float>(o)
                 : ortCoord(rc.coord, static_cast<float>(o), scale, static_cast<float>(outLen),
                            static_cast<float>(inLen), rs, re);
    p.outside = rc.coord == "tf_crop_and_resize" && (p.orig < 0 || p.orig > static_cast<float>(inLen - 1));
    const float v = std::max(0.0f, std::min(p.orig, static_cast<float>(inLen - 1)));
    p.lo = std::min(static_cast<I64>(v), inLen - 1);
    p.hi = std::min(p.lo + 1, inLen - 1);
    p.wHi = std::fabs(v - static_cast<float>(p.lo));
    p.wLo = std::fabs(v - static_cast<float>(p.hi));
    if (p.lo == p.hi)
        p.wLo = p.wHi = 0.5f;
    // GetCubicCoeffs
    const float A = rc.cubicA;
    const auto base = static_cast<I64>(std::floor(p.orig));
    const float t = std::abs(p.orig - std::floor(p.orig));
    const std::array<float, 4> k{((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A,
                                 ((A + 2) * t - (A + 3)) * t * t + 1,
                                 ((A + 2) * (1 - t) - (A + 3)) * (1 - t) * (1 - t) + 1,
                                 ((A * (2 - t) - 5 * A) * (2 - t) + 8 * A) * (2 - t) - 4 * A};
    p.csum = rc.excludeOutside ? 0.0f : 1.0f;
    for (std::size_t j = 0; j < 4; ++j) {
        const I64 pos = base - 1 + static_cast<I64>(j);
        p.tap[j] = std::clamp<I64>(pos, 0, inLen - 1);
        p.cw[j] = rc.excludeOutside && (pos < 0 || pos >= inLen) ? 0.0f : k[j];
        if (rc.excludeOutside)
            p.csum += p.cw[j];
    }
    return p;
}

/// ONNX Runtime's output for rc on x, element by element: bilinear (2 resized axes),
/// trilinear (3) or bicubic, on the resized axes (the others are kept).
std::vector<float> ortReference(const ResizeCase& rc, const std::vector<std::size_t>& axes, const Floats& x)
{
    const Dims out = outShapeOf(rc);
    std::vector<std::vector<OrtPos>> pos(axes.size());
    for (std::size_t a = 0; a < axes.size(); ++a)
        for (I64 o = 0; o < out[axes[a]]; ++o)
            pos[a].push_back(ortPos(rc, axes[a], o, out[axes[a]]));
    I64 total = 1;
    for (I64 d : out)
        total *= d;
    std::vector<float> y(static_cast<std::size_t>(total), 0.0f);
    forEachIndex(out, [&](const Dims& oi, I64 flat) {
        // X at the output's index, with the resized axes' indices replaced by src.
        const auto X = [&](std::initializer_list<I64> src) {
            Dims ii = oi;
            std::size_t a = 0;
            for (I64 s : src)
                ii[axes[a++]] = s;
            return x[static_cast<std::size_t>(flatIndex(rc.inShape, ii))];
        };
        std::vector<const OrtPos*> p;
        bool outside = false;
        for (std::size_t a = 0; a < axes.size(); ++a) {
            p.push_back(&pos[a][static_cast<std::size_t>(oi[axes[a]])]);
            outside = outside || p.back()->outside;
        }
        float v;
        if (outside) {
            v = rc.extrapolation;
        } else if (rc.mode == "cubic") {
            const OrtPos& py = *p[0];
            const OrtPos& px = *p[1];
            float result = 0;
            for (std::size_t i = 0; i < 4; ++i) {
                float xres = 0;
                for (std::size_t j = 0; j < 4; ++j)
                    xres += px.cw[j] / px.csum * X({py.tap[i], px.tap[j]});
                result += xres * py.cw[i] / py.csum;
            }
            v = result;
        } else if (axes.size() == 2) {
            const OrtPos& py = *p[0];
            const OrtPos& px = *p[1];
            v = px.wLo * py.wLo * X({py.lo, px.lo}) + px.wHi * py.wLo * X({py.lo, px.hi}) +
                px.wLo * py.wHi * X({py.hi, px.lo}) + px.wHi * py.wHi * X({py.hi, px.hi});
        } else {
            const OrtPos& pz = *p[0];
            const OrtPos& py = *p[1];
            const OrtPos& px = *p[2];
            v = px.wLo * py.wLo * pz.wLo * X({pz.lo, py.lo, px.lo}) +
                px.wHi * py.wLo * pz.wLo * X({pz.lo, py.lo, px.hi}) +
                px.wLo * py.wHi * pz.wLo * X({pz.lo, py.hi, px.lo}) +
                px.wHi * py.wHi * pz.wLo * X({pz.lo, py.hi, px.hi}) +
                px.wLo * py.wLo * pz.wHi * X({pz.hi, py.lo, px.lo}) +
                px.wHi * py.wLo * pz.wHi * X({pz.hi, py.lo, px.hi}) +
                px.wLo * py.wHi * pz.wHi * X({pz.hi, py.hi, px.lo}) +
                px.wHi * py.wHi * pz.wHi * X({pz.hi, py.hi, px.hi});
        }
        y[static_cast<std::size_t>(flat)] = v;
    });
    return y;
}

// ---- the ONNX definition in double ----------------------------------------------------------

/// Source taps of output position o along axis d: (index, weight) pairs, none when the position
/// is extrapolated. Axes with scale 1 keep their positions (tf_half_pixel_for_nn, the one mode
/// where that is not already the definition, is left out of these cases), and pytorch_half_pixel
/// tests the output length for 1 as ONNX Runtime does (the ONNX reference tests scale * input).
std::vector<std::pair<I64, double>> referenceTaps(const ResizeCase& rc, std::size_t d, I64 o, I64 outLen)
{
    const I64 inLen = rc.inShape[d];
    const double in = static_cast<double>(inLen), x = static_cast<double>(o);
    // Scales: the float scale, the resized length scale * in (fractional); sizes: out / in.
    const double scale = rc.sizes.empty() ? static_cast<double>(rc.scales[d]) : static_cast<double>(outLen) / in;
    const double width = rc.sizes.empty() ? scale * in : static_cast<double>(outLen);
    const double rs = rc.roi.empty() ? 0.0 : rc.roi[d];
    const double re = rc.roi.empty() ? 1.0 : rc.roi[d + rc.inShape.size()];
    if (scale == 1 && rc.coord != "tf_crop_and_resize")
        return {{o, 1.0}};
    double c;
    if (rc.coord == "asymmetric")
        c = x / scale;
    else if (rc.coord == "pytorch_half_pixel")
        c = outLen > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    else if (rc.coord == "align_corners")
        c = width == 1 ? 0.0 : x * (in - 1) / (width - 1);
    else if (rc.coord == "half_pixel_symmetric")
        c = in / 2 * (1 - static_cast<double>(outLen) / width) + (x + 0.5) / scale - 0.5;
    else if (rc.coord == "tf_crop_and_resize")
        c = (width == 1 ? (re - rs) * (in - 1) / 2 : x * (re - rs) * (in - 1) / (width - 1)) + rs * (in - 1);
    else
        c = (x + 0.5) / scale - 0.5;
    if (rc.coord == "tf_crop_and_resize" && (c < 0 || c > in - 1))
        return {};
    std::vector<std::pair<I64, double>> taps;
    if (rc.mode == "linear") {
        const double v = std::clamp(c, 0.0, in - 1);
        const I64 lo = static_cast<I64>(std::floor(v));
        const double t = v - static_cast<double>(lo);
        taps = {{lo, 1 - t}, {std::min(lo + 1, inLen - 1), t}};
        return taps;
    }
    const double A = rc.cubicA;
    const auto keys = [A](double s) {
        s = std::abs(s);
        if (s <= 1)
            return ((A + 2) * s - (A + 3)) * s * s + 1;
        if (s < 2)
            return ((A * s - 5 * A) * s + 8 * A) * s - 4 * A;
        return 0.0;
    };
    const double base = std::floor(c);
    double sum = 0;
    for (int j = -1; j <= 2; ++j) {
        const I64 pos = static_cast<I64>(base) + j;
        double w = keys(c - (base + j));
        if (rc.excludeOutside && (pos < 0 || pos >= inLen))
            w = 0;
        sum += w;
        taps.emplace_back(std::clamp<I64>(pos, 0, inLen - 1), w);
    }
    if (rc.excludeOutside)
        for (auto& t : taps)
            t.second /= sum;
    return taps;
}

/// The resize by the definition, in double: the tensor product of every axis' taps.
std::vector<double> definitionReference(const ResizeCase& rc, const Floats& x)
{
    const Dims out = outShapeOf(rc);
    const std::size_t rank = out.size();
    std::vector<std::vector<std::vector<std::pair<I64, double>>>> taps(rank);
    for (std::size_t d = 0; d < rank; ++d)
        for (I64 o = 0; o < out[d]; ++o)
            taps[d].push_back(referenceTaps(rc, d, o, out[d]));
    std::vector<double> y;
    forEachIndex(out, [&](const Dims& oi, I64) {
        std::vector<const std::vector<std::pair<I64, double>>*> t(rank);
        bool outside = false;
        for (std::size_t d = 0; d < rank; ++d) {
            t[d] = &taps[d][static_cast<std::size_t>(oi[d])];
            outside = outside || t[d]->empty();
        }
        if (outside) {
            y.push_back(rc.extrapolation);
            return;
        }
        // Sum over every combination of one tap per axis.
        double sum = 0;
        Dims k(rank, 0), ii(rank);
        while (true) {
            double w = 1;
            for (std::size_t d = 0; d < rank; ++d) {
                const auto& tap = (*t[d])[static_cast<std::size_t>(k[d])];
                ii[d] = tap.first;
                w *= tap.second;
            }
            sum += w * x[static_cast<std::size_t>(flatIndex(rc.inShape, ii))];
            std::size_t d = rank;
            while (d-- > 0) {
                if (++k[d] < static_cast<I64>(t[d]->size()))
                    break;
                k[d] = 0;
            }
            if (d == static_cast<std::size_t>(-1))
                break;
        }
        y.push_back(sum);
    });
    return y;
}

/// Random output lengths (sizes) or scales for the resized axes of inShape.
ResizeCase randomCase(std::mt19937& rng, const std::string& mode, const std::string& coord, const Dims& inShape,
                      const std::vector<std::size_t>& resized, bool useScales)
{
    ResizeCase rc;
    rc.mode = mode;
    rc.coord = coord;
    rc.inShape = inShape;
    static const Floats kScales = {0.5f, 0.6f, 0.75f, 1.0f, 1.25f, 1.5f, 1.7f, 2.0f, 2.5f, 3.0f};
    for (std::size_t d = 0; d < inShape.size(); ++d) {
        const bool r = std::find(resized.begin(), resized.end(), d) != resized.end();
        if (useScales) {
            float s = 1;
            if (r)
                do
                    s = kScales[std::uniform_int_distribution<std::size_t>(0, kScales.size() - 1)(rng)];
                while (std::floor(s * static_cast<float>(inShape[d])) < 1);
            rc.scales.push_back(s);
        } else {
            rc.sizes.push_back(r ? std::uniform_int_distribution<I64>(1, 3 * inShape[d])(rng) : inShape[d]);
        }
    }
    if (coord == "tf_crop_and_resize") {
        // Multiples of 1/16 from -0.25 to 0.4375: the roi arithmetic is exact in float.
        std::uniform_int_distribution<int> k(-4, 7);
        const auto u = [&](std::mt19937& g) { return static_cast<float>(k(g)) / 16; };
        rc.roi.assign(2 * inShape.size(), 0.0f);
        for (std::size_t d = 0; d < inShape.size(); ++d) {
            const bool r = std::find(resized.begin(), resized.end(), d) != resized.end();
            rc.roi[d] = r ? u(rng) : 0.0f;
            rc.roi[d + inShape.size()] = r ? 1 - u(rng) : 1.0f;
        }
        rc.extrapolation = -2.5f;
    }
    return rc;
}

QString describe(const ResizeCase& rc)
{
    QStringList in, out;
    for (I64 d : rc.inShape)
        in << QString::number(d);
    for (I64 d : outShapeOf(rc))
        out << QString::number(d);
    return QString("%1 %2 [%3]->[%4]%5")
        .arg(QString::fromStdString(rc.mode), QString::fromStdString(rc.coord), in.join(','), out.join(','),
             rc.sizes.empty() ? " scales" : " sizes");
}

} // namespace

Q_DECLARE_METATYPE(ResizeCase)
Q_DECLARE_METATYPE(std::vector<std::size_t>)
Q_DECLARE_METATYPE(std::vector<float>)
Q_DECLARE_METATYPE(std::vector<std::uint32_t>)

class TestImageOps : public QObject {
    Q_OBJECT

private slots:
    void ortExamples_data();
    void ortExamples();
    void ortFormula_data();
    void ortFormula();
    void doubleReference_data();
    void doubleReference();
    void doubleInputs_data();
    void doubleInputs();
};

void TestImageOps::ortExamples_data()
{
    QTest::addColumn<ResizeCase>("rc");
    QTest::addColumn<Floats>("x");
    QTest::addColumn<Bits>("want"); // onnxruntime-node 1.30's output, as float32 bits
    const Floats x6 = {0.1f, 0.7f, -0.3f, 1.9f, 0.55f, -1.25f};
    const Floats x8 = {0.3f, -0.7f, 1.1f, 0.45f, -0.9f, 0.2f, 0.65f, -0.15f};
    const Floats x9 = {0.1f, 0.7f, -0.3f, 1.9f, 0.55f, -1.25f, 0.05f, -0.6f, 0.8f};
    // A separable resample (Leger before) differs in 6 of these 15 elements, by 1 to 21 ulps.
    QTest::newRow("bilinear half_pixel 2x3->3x5")
        << ResizeCase{"linear", "half_pixel", {1, 1, 2, 3}, {1, 1, 3, 5}, {}, {}}
        << x6
        << Bits{0x3dcccccdu, 0x3eae147cu, 0x3f333333u, 0x3dccccb6u, 0xbe99999au, 0x3f800000u, 0x3f599999u, 0x3f200000u,
                0xbe5c2904u, 0xbf466666u, 0x3ff33333u, 0x3fae147au, 0x3f0ccccdu, 0xbf07ae19u, 0xbfa00000u};
    QTest::newRow("bilinear 2-D align_corners 3x2->2x5")
        << ResizeCase{"linear", "align_corners", {3, 2}, {2, 5}, {}, {}}
        << Floats{0.3f, -0.7f, 1.1f, 0.45f, -0.9f, 0.2f}
        << Bits{0x3e99999au, 0x3d4cccd0u, 0xbe4cccccu, 0xbee66666u, 0xbf333333u, 0xbf666666u, 0xbf200000u,
                0xbeb33332u, 0xbd999998u, 0x3e4ccccdu};
    QTest::newRow("bicubic asymmetric 3x3->4x5")
        << ResizeCase{"cubic", "asymmetric", {1, 1, 3, 3}, {1, 1, 4, 5}, {}, {}}
        << x9
        << Bits{0x3dcccccdu, 0x3f13404fu, 0x3f14e3b9u, 0xbde075fau, 0xbed0e568u, 0x3fd7f999u, 0x3fa616f9u,
                0x3e888ca3u, 0xbf6e248bu, 0xbfbb2b11u, 0x3f926666u, 0x3ee62dd4u, 0xbe4dd63eu, 0xbe968db6u,
                0xbeb001a1u, 0xbe14999au, 0xbf2f755au, 0xbef10cdau, 0x3f32533eu, 0x3f9a1820u};
    QTest::newRow("trilinear pytorch_half_pixel 2x2x2->3x3x3")
        << ResizeCase{"linear", "pytorch_half_pixel", {2, 2, 2}, {3, 3, 3}, {}, {}}
        << x8
        << Bits{0x3e99999au, 0xbe4cccccu, 0xbf333333u, 0x3f333334u, 0x3e933334u, 0xbe000000u, 0x3f8ccccdu,
                0x3f466667u, 0x3ee66666u, 0xbe999999u, 0xbe8cccccu, 0xbe7fffffu, 0x3e933334u, 0x3df33336u,
                0xbd4ccccdu, 0x3f600000u, 0x3f033333u, 0x3e19999au, 0xbf666666u, 0xbeb33332u, 0x3e4ccccdu,
                0xbe000000u, 0xbd4ccccfu, 0x3cccccccu, 0x3f266666u, 0x3e800000u, 0xbe199999u};
    // NHWC: the last axis (channels) is kept. Element 9 is -2^-27, not 0.
    QTest::newRow("bilinear NHWC asymmetric 2x2->3x3, 2 channels")
        << ResizeCase{"linear", "asymmetric", {1, 2, 2, 2}, {1, 3, 3, 2}, {}, {}}
        << x8
        << Bits{0x3e99999au, 0xbf333333u, 0x3f555556u, 0x3d88888cu, 0x3f8ccccdu, 0x3ee66666u, 0xbf000000u,
                0xbdcccccau, 0x3ebbbbbcu, 0xb2000000u, 0x3f4cccccu, 0x3d4cccc8u, 0xbf666666u, 0x3e4ccccdu,
                0x3e08888au, 0xbd08888cu, 0x3f266666u, 0xbe19999au};
}

void TestImageOps::ortExamples()
{
    QFETCH(ResizeCase, rc);
    QFETCH(Floats, x);
    QFETCH(Bits, want);
    const Tensor y = runResize(rc, x);
    QCOMPARE(y.shape(), outShapeOf(rc));
    QCOMPARE(static_cast<std::size_t>(y.size()), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        std::uint32_t got;
        std::memcpy(&got, y.data<float>() + i, 4);
        if (got != want[i])
            QFAIL(qPrintable(QString("element %1 is %2 (0x%3), ONNX Runtime gives 0x%4")
                                 .arg(i)
                                 .arg(static_cast<double>(y.data<float>()[i]), 0, 'g', 9)
                                 .arg(got, 8, 16, QChar('0'))
                                 .arg(want[i], 8, 16, QChar('0'))));
    }
}

void TestImageOps::ortFormula_data()
{
    QTest::addColumn<ResizeCase>("rc");
    QTest::addColumn<std::vector<std::size_t>>("axes"); // the axes ONNX Runtime's kernel resizes
    std::mt19937 rng(20261127);
    const std::vector<std::string> coords = {"half_pixel",   "pytorch_half_pixel",   "align_corners",
                                             "asymmetric",   "tf_half_pixel_for_nn", "half_pixel_symmetric",
                                             "tf_crop_and_resize"};
    struct Layout {
        const char* name;
        Dims shape;
        std::vector<std::size_t> axes;
        bool cubic;
    };
    // Widths past 16 so that the vectorised loops run (AVX-512 included).
    const std::vector<Layout> layouts = {
        {"2-D", {9, 13}, {0, 1}, true},
        {"NCHW", {2, 3, 7, 11}, {2, 3}, true},
        {"NHWC", {1, 6, 9, 3}, {1, 2}, false},
        {"3-D", {4, 5, 7}, {0, 1, 2}, false},
        {"NCDHW", {1, 2, 3, 4, 6}, {2, 3, 4}, false},
    };
    for (const Layout& l : layouts)
        for (const std::string& coord : coords)
            for (const char* mode : {"linear", "cubic"}) {
                if (std::string(mode) == "cubic" && !l.cubic)
                    continue;
                for (int variant = 0; variant < 3; ++variant) {
                    // align_corners and tf_crop_and_resize divide by scale * input, which only
                    // matches ONNX Runtime when whole: sizes for them.
                    const bool useScales = variant == 2 && coord != "align_corners" && coord != "tf_crop_and_resize";
                    ResizeCase rc = randomCase(rng, mode, coord, l.shape, l.axes, useScales);
                    if (variant == 1 && rc.mode == "cubic") {
                        rc.excludeOutside = true;
                        rc.cubicA = -0.5f;
                    }
                    QTest::addRow("%s %d: %s", l.name, variant, qPrintable(describe(rc))) << rc << l.axes;
                }
            }
    ResizeCase big{"linear", "half_pixel", {1, 8, 32, 32}, {1, 8, 64, 64}, {}, {}};
    QTest::newRow("ISNet's 2x") << big << std::vector<std::size_t>{2, 3};
    ResizeCase same{"linear", "half_pixel", {1, 2, 5, 6}, {1, 2, 5, 6}, {}, {}};
    QTest::newRow("same size") << same << std::vector<std::size_t>{2, 3};
    ResizeCase widthOnly{"linear", "align_corners", {1, 2, 5, 6}, {1, 2, 5, 23}, {}, {}};
    QTest::newRow("width only") << widthOnly << std::vector<std::size_t>{2, 3};
}

void TestImageOps::ortFormula()
{
    QFETCH(ResizeCase, rc);
    QFETCH(std::vector<std::size_t>, axes);
    std::mt19937 rng(7);
    I64 n = 1;
    for (I64 d : rc.inShape)
        n *= d;
    const Floats x = randomFloats(static_cast<std::size_t>(n), rng, -2.0, 2.0);
    const Tensor y = runResize(rc, x);
    QCOMPARE(y.shape(), outShapeOf(rc));
    const std::vector<float> want = ortReference(rc, axes, x);
    QCOMPARE(static_cast<std::size_t>(y.size()), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        const float got = y.data<float>()[i];
        if (std::memcmp(&got, &want[i], 4) != 0)
            QFAIL(qPrintable(QString("element %1 is %2, ONNX Runtime's expression gives %3")
                                 .arg(i)
                                 .arg(static_cast<double>(got), 0, 'g', 9)
                                 .arg(static_cast<double>(want[i]), 0, 'g', 9)));
    }
}

void TestImageOps::doubleReference_data()
{
    QTest::addColumn<ResizeCase>("rc");
    std::mt19937 rng(1127);
    // tf_half_pixel_for_nn is left out: it moves axes of scale 1 by half a pixel in the ONNX
    // definition, which ONNX Runtime's kernels (and Leger's, where they apply) do not.
    const std::vector<std::string> coords = {"half_pixel", "pytorch_half_pixel",   "align_corners",
                                             "asymmetric", "half_pixel_symmetric", "tf_crop_and_resize"};
    struct Layout {
        const char* name;
        Dims shape;
        std::vector<std::size_t> axes;
    };
    // Short axes: float source coordinates are within 1e-6 of the exact ones up to about 8.
    const std::vector<Layout> layouts = {
        {"1-D", {7}, {0}},                       // separable
        {"2-D", {5, 7}, {0, 1}},                 // bilinear, bicubic
        {"NCHW", {2, 2, 6, 5}, {2, 3}},          // bilinear, bicubic
        {"NHWC", {1, 5, 6, 2}, {1, 2}},          // bilinear; cubic separable
        {"3-D", {4, 3, 5}, {0, 1, 2}},           // trilinear; cubic separable
        {"NCDHW", {1, 2, 3, 4, 5}, {2, 3, 4}},   // trilinear; cubic separable
        {"N and H", {2, 1, 5, 3}, {0, 2}},       // separable
        {"6-D", {1, 2, 3, 1, 4, 2}, {1, 2, 4}},  // separable
    };
    for (const Layout& l : layouts)
        for (const std::string& coord : coords)
            for (const char* mode : {"linear", "cubic"})
                for (int variant = 0; variant < 3; ++variant) {
                    ResizeCase rc = randomCase(rng, mode, coord, l.shape, l.axes, variant == 2);
                    if (variant == 1 && rc.mode == "cubic") {
                        rc.excludeOutside = true;
                        rc.cubicA = -0.5f;
                    }
                    QTest::addRow("%s %d: %s", l.name, variant, qPrintable(describe(rc))) << rc;
                }
}

void TestImageOps::doubleReference()
{
    QFETCH(ResizeCase, rc);
    std::mt19937 rng(11);
    I64 n = 1;
    for (I64 d : rc.inShape)
        n *= d;
    const Floats x = randomFloats(static_cast<std::size_t>(n), rng, 0.0, 1.0);
    const Tensor y = runResize(rc, x);
    QString why;
    QVERIFY2(closeTo(y, definitionReference(rc, x), outShapeOf(rc), 1e-6, why, DType::Float32), qPrintable(why));
}

void TestImageOps::doubleInputs_data()
{
    QTest::addColumn<ResizeCase>("rc");
    QTest::newRow("bilinear") << ResizeCase{"linear", "half_pixel", {1, 2, 5, 7}, {1, 2, 13, 4}, {}, {}};
    QTest::newRow("bicubic") << ResizeCase{"cubic", "align_corners", {6, 5}, {}, {1.5f, 2.5f}, {}};
    QTest::newRow("trilinear") << ResizeCase{"linear", "pytorch_half_pixel", {3, 4, 5}, {7, 2, 9}, {}, {}};
}

/// Double inputs (which ONNX Runtime's CPU Resize does not take) are resampled in double.
void TestImageOps::doubleInputs()
{
    QFETCH(ResizeCase, rc);
    std::mt19937 rng(5);
    I64 n = 1;
    for (I64 d : rc.inShape)
        n *= d;
    const Floats x = randomFloats(static_cast<std::size_t>(n), rng, -1.0, 1.0);
    const Tensor y = runResize(rc, Tensor::fromVector<double>(rc.inShape, std::vector<double>(x.begin(), x.end())));
    QString why;
    QVERIFY2(closeTo(y, definitionReference(rc, x), outShapeOf(rc), 1e-12, why, DType::Float64), qPrintable(why));
}

QTEST_APPLESS_MAIN(TestImageOps)
#include "tst_imageops.moc"
