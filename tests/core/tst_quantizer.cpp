// Quantizer and Compressor: the fast path against the scalar reference bit for bit over every
// (bits, symmetric, granularity, clipping), round-trip error bounds, the numeric-hazard rules
// (zero groups, denormal and huge scales, NaN/Inf), PyTorch's fake_quantize on committed
// fixtures, and the layer views (transposed MatMul / Gemm) back to the original layout.
#include <QtTest>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "compress/Compressor.h"
#include "compress/Pruner.h"
#include "compress/Quantizer.h"
#include "io/NpyIO.h"
#include "io/OnnxReader.h"
#include "model/Model.h"
#include "model/Half.h"
#include "runtime/ops/ConvKernels.h"

using namespace leger;
using I64 = std::int64_t;

namespace {

namespace convk = leger::ops::convk;
/// Every kernel level runs: baseline x86-64, AVX2, AVX-512 (clamped to what the CPU has).
const convk::Isa kIsas[] = {convk::Isa::Baseline, convk::Isa::Avx2, convk::Isa::Avx512};

/// (rows, cols) weights ~ N(0, 0.05) with awkward rows: row 1 all zero, row 2 denormal-sized,
/// row 3 one large outlier; with specials, NaN/+Inf/-Inf at a few positions.
std::vector<float> makeWeights(I64 rows, I64 cols, std::uint32_t seed, bool specials)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 0.05f);
    std::vector<float> w(static_cast<std::size_t>(rows * cols));
    for (float& x : w)
        x = dist(rng);
    for (I64 r = 0; r < rows; ++r) {
        float* row = w.data() + r * cols;
        if (r == 1)
            std::fill(row, row + cols, 0.0f);
        if (r == 2)
            for (I64 c = 0; c < cols; ++c)
                row[c] *= 1e-37f; // denormal and tiny normal floats
        if (r == 3)
            row[cols / 2] = 7.5f;
    }
    if (specials && !w.empty()) {
        const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
        w[w.size() / 3] = nan;
        w[w.size() / 2] = inf;
        w[w.size() - 1] = -inf;
    }
    return w;
}

std::vector<std::uint64_t> randomKeep(I64 n, std::uint32_t seed)
{
    std::mt19937 rng(seed);
    std::vector<std::uint64_t> keep(static_cast<std::size_t>((n + 63) / 64), 0);
    for (I64 i = 0; i < n; ++i)
        if (rng() % 10 >= 3)
            keep[static_cast<std::size_t>(i >> 6)] |= std::uint64_t{1} << (i & 63);
    return keep;
}

bool sameBits(const std::vector<float>& a, const std::vector<float>& b)
{
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

QString firstDiff(const std::vector<float>& a, const std::vector<float>& b)
{
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        if (std::bit_cast<std::uint32_t>(a[i]) != std::bit_cast<std::uint32_t>(b[i]))
            return QString("at %1: %2 vs %3").arg(i).arg(a[i], 0, 'g', 9).arg(b[i], 0, 'g', 9);
    return QString("sizes %1 vs %2").arg(a.size()).arg(b.size());
}

LayerSetting intSetting(int bits, bool sym, Granularity g, int groupSize, Clipping clip)
{
    LayerSetting s;
    s.format = WeightFormat::Int;
    s.bits = bits;
    s.symmetric = sym;
    s.granularity = g;
    s.groupSize = groupSize;
    s.clip = clip;
    return s;
}

struct Shape2 {
    I64 rows, cols;
};
const Shape2 kShapes[] = {{7, 45}, {1, 130}, {6, 128}, {4, 1}, {5, 257}, {3, 64}};

} // namespace

class TestQuantizer : public QObject {
    Q_OBJECT

private slots:
    void cleanup() { convk::resetIsa(); }

    void referenceAgreement_data()
    {
        QTest::addColumn<int>("bits");
        QTest::addColumn<bool>("sym");
        QTest::addColumn<int>("gran");
        QTest::addColumn<int>("groupSize");
        QTest::addColumn<int>("clip");
        const int grans[][2] = {{0, 0}, {1, 0}, {2, 32}, {2, 64}, {2, 128}};
        for (int bits = 2; bits <= 8; ++bits)
            for (bool sym : {true, false})
                for (const auto& g : grans)
                    for (int clip : {0, 1})
                        QTest::addRow("int%d %s %s%d %s", bits, sym ? "sym" : "asym", toString(Granularity(g[0])), g[1],
                                      clip ? "mse" : "minmax")
                            << bits << sym << g[0] << g[1] << clip;
    }
    /// Fast and reference agree on codes, scales, zero points, nonFinite and dequantized bits,
    /// on awkward shapes, with and without a keep mask and NaN/Inf.
    void referenceAgreement()
    {
        QFETCH(int, bits);
        QFETCH(bool, sym);
        QFETCH(int, gran);
        QFETCH(int, groupSize);
        QFETCH(int, clip);
        const LayerSetting s = intSetting(bits, sym, Granularity(gran), groupSize, Clipping(clip));
        for (convk::Isa isa : kIsas) {
            convk::setIsa(isa);
            std::uint32_t seed = 1;
            for (const Shape2& sh : kShapes) {
                for (int variant = 0; variant < 3; ++variant) {
                    const std::vector<float> w = makeWeights(sh.rows, sh.cols, ++seed, variant >= 1);
                    const std::vector<std::uint64_t> keep =
                        variant == 2 ? randomKeep(sh.rows * sh.cols, seed) : std::vector<std::uint64_t>{};
                    const CompressedWeight f = Quantizer::quantize(w.data(), sh.rows, sh.cols, keep, s);
                    const CompressedWeight r = Quantizer::quantizeReference(w.data(), sh.rows, sh.cols, keep, s);
                    const QString where = QString("%1: shape (%2, %3) variant %4")
                                              .arg(convk::isaName(convk::isa()))
                                              .arg(sh.rows)
                                              .arg(sh.cols)
                                              .arg(variant);
                    QVERIFY2(f.codes == r.codes, qPrintable(where + ": codes differ"));
                    QVERIFY2(sameBits(f.scales, r.scales), qPrintable(where + ": scales " + firstDiff(f.scales, r.scales)));
                    QVERIFY2(f.zeroPoints == r.zeroPoints, qPrintable(where + ": zero points differ"));
                    QCOMPARE(f.nonFinite, r.nonFinite);
                    QCOMPARE(f.groupSize, r.groupSize);
                    QCOMPARE(static_cast<I64>(f.scales.size()), f.scaleCount());
                    QCOMPARE(static_cast<I64>(f.zeroPoints.size()), sym ? I64{0} : f.scaleCount());
                    std::vector<float> df = Quantizer::dequantize(f), dr(df.size());
                    Quantizer::dequantizeReference(r, dr.data());
                    QVERIFY2(sameBits(df, dr), qPrintable(where + ": dequantized " + firstDiff(df, dr)));
                    CompressedWeight fused;
                    std::vector<float> dfused(df.size(), -1.0f);
                    Quantizer::quantizeInto(w.data(), sh.rows, sh.cols, keep, s, fused, dfused.data());
                    QVERIFY2(sameBits(dfused, dr), qPrintable(where + ": fused dequantized " + firstDiff(dfused, dr)));
                    QVERIFY(fused.codes == r.codes);
                    if (variant >= 1) {
                        QVERIFY(f.nonFinite > 0 || variant == 2);
                        for (float v : df)
                            QVERIFY(std::isfinite(v));
                    }
                    for (std::size_t i = 0; i < df.size(); ++i)
                        if (!f.kept(static_cast<I64>(i)))
                            QVERIFY(std::bit_cast<std::uint32_t>(df[i]) == 0u); // pruned: exactly +0
                    for (float sc : f.scales) {
                        QVERIFY(sc > 0.0f && sc <= 65504.0f);
                        QCOMPARE(Quantizer::fp16Round(sc), sc);
                    }
                    const int qmax = (1 << (bits - 1)) - 1, levels = (1 << bits) - 1;
                    for (std::uint8_t code : f.codes) {
                        if (sym)
                            QVERIFY(std::abs(static_cast<int>(static_cast<std::int8_t>(code))) <= qmax);
                        else
                            QVERIFY(code <= levels);
                    }
                }
            }
        }
    }

    /// Outputs of 8 MB and more take the streaming-store dequantize path: same bits.
    void largeMatrix()
    {
        const I64 rows = 1100, cols = 2100; // 9.2 MB of float32
        std::vector<float> w = makeWeights(rows, cols, 4, true);
        for (convk::Isa isa : kIsas)
            for (bool sym : {true, false})
                for (int gran : {1, 2}) {
                    convk::setIsa(isa);
                    const LayerSetting s = intSetting(gran == 1 ? 8 : 4, sym, Granularity(gran), 32, Clipping::MinMax);
                    const CompressedWeight f = Quantizer::quantize(w.data(), rows, cols, {}, s);
                    const CompressedWeight r = Quantizer::quantizeReference(w.data(), rows, cols, {}, s);
                    QVERIFY(f.codes == r.codes);
                    QVERIFY(sameBits(f.scales, r.scales));
                    // A Tensor is 64-byte aligned: rows alternate between aligned and not (2100 * 4 bytes).
                    Tensor t(DType::Float32, {rows, cols});
                    Quantizer::dequantize(f, t.data<float>());
                    std::vector<float> df(t.data<float>(), t.data<float>() + t.size()), dr(df.size());
                    Quantizer::dequantizeReference(r, dr.data());
                    QVERIFY2(sameBits(df, dr), qPrintable(firstDiff(df, dr)));
                    QVERIFY2(sameBits(Quantizer::dequantize(f), dr), "unaligned output");
                    // Reusing the CompressedWeight gives the same result.
                    CompressedWeight again = f;
                    Quantizer::quantizeInto(w.data(), rows, cols, {}, s, again);
                    QVERIFY(again.codes == f.codes && sameBits(again.scales, f.scales) && again.zeroPoints == f.zeroPoints);
                    // The fused quantize + dequantize (streaming rows) too.
                    t.zero();
                    Quantizer::quantizeInto(w.data(), rows, cols, {}, s, again, t.data<float>());
                    QVERIFY(std::memcmp(t.data<float>(), dr.data(), dr.size() * 4) == 0);
                }
    }

    void floatFormats_data()
    {
        QTest::addColumn<int>("format");
        QTest::newRow("float32") << int(WeightFormat::Float32);
        QTest::newRow("float16") << int(WeightFormat::Float16);
        QTest::newRow("bfloat16") << int(WeightFormat::BFloat16);
    }
    /// Float formats: fast == reference, values round to nearest even (Half.h), pruned -> 0.
    void floatFormats()
    {
        QFETCH(int, format);
        LayerSetting s;
        s.format = WeightFormat(format);
        for (convk::Isa isa : kIsas) {
            convk::setIsa(isa);
            for (const Shape2& sh : kShapes) {
                std::vector<float> w = makeWeights(sh.rows, sh.cols, 77, true);
                if (w.size() > 10) {
                    w[4] = 70000.0f;           // float16 overflow
                    w[5] = 1e-6f;              // float16 subnormal
                    w[6] = 1.0f + 1.0f / 2048; // float16 tie: rounds to even (1.0)
                }
                for (int masked = 0; masked < 2; ++masked) {
                    const std::vector<std::uint64_t> keep =
                        masked ? randomKeep(sh.rows * sh.cols, 5) : std::vector<std::uint64_t>{};
                    const CompressedWeight f = Quantizer::quantize(w.data(), sh.rows, sh.cols, keep, s);
                    const CompressedWeight r = Quantizer::quantizeReference(w.data(), sh.rows, sh.cols, keep, s);
                    QVERIFY(f.halves == r.halves);
                    QVERIFY(sameBits(f.values, r.values));
                    QCOMPARE(f.nonFinite, r.nonFinite);
                    std::vector<float> df = Quantizer::dequantize(f), dr(df.size());
                    Quantizer::dequantizeReference(r, dr.data());
                    QVERIFY2(sameBits(df, dr), qPrintable(firstDiff(df, dr)));
                    for (std::size_t i = 0; i < w.size(); ++i) {
                        const I64 ii = static_cast<I64>(i);
                        if (!f.kept(ii)) {
                            QVERIFY(std::bit_cast<std::uint32_t>(df[i]) == 0u);
                            continue;
                        }
                        float want = w[i];
                        if (s.format == WeightFormat::Float16)
                            want = Half::fromFloat(w[i]).toFloat();
                        else if (s.format == WeightFormat::BFloat16)
                            want = BFloat16::fromFloat(w[i]).toFloat();
                        QVERIFY(std::isnan(want) ? std::isnan(df[i]) : df[i] == want);
                    }
                    if (s.format == WeightFormat::Float16 && !masked && w.size() > 10) {
                        QVERIFY(std::isinf(df[4]));
                        QCOMPARE(df[6], 1.0f);
                    }
                }
            }
        }
    }

    void roundTripBound_data()
    {
        QTest::addColumn<bool>("sym");
        QTest::addColumn<int>("gran");
        QTest::newRow("sym tensor") << true << 0;
        QTest::newRow("sym channel") << true << 1;
        QTest::newRow("sym g32") << true << 2;
        QTest::newRow("asym tensor") << false << 0;
        QTest::newRow("asym channel") << false << 1;
        QTest::newRow("asym g32") << false << 2;
    }
    /// MinMax: each kept weight dequantizes within scale/2 of the original clipped to the
    /// representable range [(qlo - zp) * scale, (qhi - zp) * scale]; more bits never lower SQNR
    /// on the same data; MSE clipping never lowers it below minmax.
    void roundTripBound()
    {
        QFETCH(bool, sym);
        QFETCH(int, gran);
        const I64 rows = 24, cols = 200;
        std::vector<float> w = makeWeights(rows, cols, 99, false);
        w[static_cast<std::size_t>(3 * cols + cols / 2)] = 0.1f; // no outlier: the SQNR checks want Gaussian data
        Tensor orig = Tensor::fromVector<float>({rows, cols}, w);
        double prev = -1e300;
        for (int bits = 2; bits <= 8; ++bits) {
            const LayerSetting s = intSetting(bits, sym, Granularity(gran), 32, Clipping::MinMax);
            const CompressedWeight c = Quantizer::quantize(w.data(), rows, cols, {}, s);
            const std::vector<float> d = Quantizer::dequantize(c);
            const int qmax = (1 << (bits - 1)) - 1, levels = (1 << bits) - 1;
            for (I64 i = 0; i < rows * cols; ++i) {
                const std::size_t k = static_cast<std::size_t>(c.scaleIndex(i / cols, i % cols));
                const float sc = c.scales[k];
                const float zp = sym ? 0.0f : c.zeroPoints[k];
                const float lo = (sym ? -qmax - zp : -zp) * sc, hi = (sym ? qmax - zp : levels - zp) * sc;
                const float clipped = std::clamp(w[static_cast<std::size_t>(i)], lo, hi);
                const double err = std::abs(static_cast<double>(d[static_cast<std::size_t>(i)]) - clipped);
                QVERIFY2(err <= sc * (0.5 + 1e-4),
                         qPrintable(QString("int%1 weight %2: error %3, scale %4").arg(bits).arg(i).arg(err).arg(sc)));
            }
            Tensor deq = Tensor::fromVector<float>({rows, cols}, d);
            const double sqnr = weightSqnrDb(orig, deq);
            QVERIFY2(sqnr >= prev, qPrintable(QString("int%1: %2 dB < %3 dB").arg(bits).arg(sqnr).arg(prev)));
            prev = sqnr;

            LayerSetting m = s;
            m.clip = Clipping::Mse;
            const std::vector<float> dm = Quantizer::dequantize(Quantizer::quantize(w.data(), rows, cols, {}, m));
            const double sqnrMse = weightSqnrDb(orig, Tensor::fromVector<float>({rows, cols}, dm));
            QVERIFY2(sqnrMse >= sqnr - 1e-9, qPrintable(QString("int%1: mse %2 dB < minmax %3 dB").arg(bits).arg(sqnrMse).arg(sqnr)));
        }
        QVERIFY(prev > 35.0); // int8 on a Gaussian matrix
    }

    /// The hazard rules of the brief: all-zero groups get scale 1 and the zero code, tiny groups
    /// the smallest float16 subnormal, huge ones 65504, NaN/Inf the zero code and a count.
    void hazards()
    {
        // 300 columns: 10 groups a row, so that the 8-wide scale computation sees the hazards too.
        for (convk::Isa isa : kIsas) {
            convk::setIsa(isa);
            for (bool sym : {true, false}) {
                const LayerSetting s = intSetting(4, sym, Granularity::Group, 32, Clipping::MinMax);
                std::vector<float> w(3 * 300, 0.0f);
                w[300] = 1e-12f; // row 1: tiny -> scale 2^-24
                w[600] = 3e9f;   // row 2: huge -> scale 65504
                w[601] = std::nanf("");
                w[602] = -std::numeric_limits<float>::infinity();
                const CompressedWeight c = Quantizer::quantize(w.data(), 3, 300, {}, s);
                QCOMPARE(c.scales.size(), std::size_t{30});
                for (std::size_t k = 0; k < 30; ++k)
                    QCOMPARE(c.scales[k], k == 10 ? std::ldexp(1.0f, -24) : k == 20 ? 65504.0f : 1.0f);
                QCOMPARE(c.nonFinite, I64{2});
                const std::uint8_t zeroCode = sym ? 0 : c.zeroPoints[20];
                QCOMPARE(c.codes[601], zeroCode);
                QCOMPARE(c.codes[602], zeroCode);
                const std::vector<float> d = Quantizer::dequantize(c);
                for (float v : d)
                    QVERIFY(std::isfinite(v));
                QCOMPARE(d[0], 0.0f);
                QCOMPARE(d[601], 0.0f);
            }
        }
        // Asymmetric all-positive group: the range is extended to 0, so zp = 0 and 0 is exact.
        std::vector<float> pos = {0.5f, 1.0f, 2.0f, 4.0f};
        const CompressedWeight a =
            Quantizer::quantize(pos.data(), 1, 4, {}, intSetting(8, false, Granularity::Channel, 32, Clipping::MinMax));
        QCOMPARE(int(a.zeroPoints[0]), 0);
        QCOMPARE(a.scales[0], Quantizer::fp16Round(4.0f / 255.0f));
    }

    /// Leger's dequantized values equal torch.fake_quantize_per_{tensor,channel}_affine's bit
    /// for bit on the committed fixture (tests/fixtures/generate_quant_fixtures.py).
    void torchFixtures()
    {
        const std::string path = std::string(LEGER_SOURCE_DIR) + "/tests/fixtures/quant_fixtures.npz";
        const std::map<std::string, Tensor> arrays = NpyIO::readNpz(path);
        int cases = 0;
        for (const auto& [name, t] : arrays) {
            if (name.rfind("w_", 0) != 0)
                continue;
            const std::string tag = name.substr(2); // e.g. int4_asym_channel
            const Tensor& meta = arrays.at("meta_" + tag); // [bits, symmetric, perChannel]
            const int bits = static_cast<int>(meta.at(0));
            const bool sym = meta.at(1) != 0.0, perChannel = meta.at(2) != 0.0;
            const Tensor& want = arrays.at("out_" + tag);
            const Tensor& scales = arrays.at("scale_" + tag);
            const Tensor& zps = arrays.at("zp_" + tag);
            const I64 rows = t.dim(0), cols = t.dim(1);
            const LayerSetting s = intSetting(bits, sym, perChannel ? Granularity::Channel : Granularity::Tensor, 32,
                                              Clipping::MinMax);
            const CompressedWeight c = Quantizer::quantize(t.data<float>(), rows, cols, {}, s);
            QCOMPARE(static_cast<I64>(c.scales.size()), scales.size());
            for (I64 k = 0; k < scales.size(); ++k) {
                QCOMPARE(c.scales[static_cast<std::size_t>(k)], static_cast<float>(scales.at(k)));
                // torch's asymmetric codes are [0, 2^b-1] with zp; symmetric ones [-qmax, qmax], zp 0.
                QCOMPARE(sym ? 0.0 : static_cast<double>(c.zeroPoints[static_cast<std::size_t>(k)]), zps.at(k));
            }
            const std::vector<float> d = Quantizer::dequantize(c);
            for (I64 i = 0; i < rows * cols; ++i)
                QVERIFY2(std::bit_cast<std::uint32_t>(d[static_cast<std::size_t>(i)]) ==
                             std::bit_cast<std::uint32_t>(want.data<float>()[i]),
                         qPrintable(QString("%1 element %2: %3 vs torch %4")
                                        .arg(QString::fromStdString(tag))
                                        .arg(i)
                                        .arg(d[static_cast<std::size_t>(i)], 0, 'g', 9)
                                        .arg(want.data<float>()[i], 0, 'g', 9)));
            ++cases;
        }
        QCOMPARE(cases, 8);
    }

    void layerViews_data()
    {
        QTest::addColumn<QString>("op");
        QTest::addColumn<QList<qlonglong>>("shape");
        QTest::addColumn<bool>("transposed");
        QTest::newRow("MatMul (K,N)") << "MatMul" << QList<qlonglong>{37, 21} << true;
        QTest::newRow("MatMul (B,K,N)") << "MatMul" << QList<qlonglong>{3, 40, 9} << true;
        QTest::newRow("Gemm transB=0") << "Gemm" << QList<qlonglong>{70, 33} << true;
        QTest::newRow("Gemm transB=1") << "Gemm" << QList<qlonglong>{33, 70} << false;
        QTest::newRow("Conv") << "Conv" << QList<qlonglong>{8, 3, 3, 3} << false;
    }
    /// compressWeight reads the layer's matrix view and decompressWeight writes the original
    /// layout: float32 round-trips exactly, int8 equals the dequantized matrix element for element,
    /// pruned weights are 0 in place; float16/double tensors are converted first.
    void layerViews()
    {
        QFETCH(QString, op);
        QFETCH(QList<qlonglong>, shape);
        QFETCH(bool, transposed);
        Layer layer;
        layer.name = "w";
        layer.opType = op.toStdString();
        for (qlonglong d : shape)
            layer.shape.push_back(d);
        layer.parameters = elementCount(layer.shape);
        layer.transposed = transposed;
        if (transposed) {
            layer.cols = layer.shape[layer.shape.size() - 2];
            layer.rows = layer.parameters / layer.cols;
        } else {
            layer.cols = layer.parameters / layer.shape[0];
            layer.rows = layer.shape[0];
        }
        const std::vector<float> w = makeWeights(1, layer.parameters, 11, false);
        const Tensor weight = Tensor::fromVector<float>(layer.shape, w);

        // The matrix view: element (r, c) of the view is the stored weight the layer means.
        const std::vector<float> m = layerMatrix(layer, weight);
        const I64 n = layer.shape.back();
        for (I64 r = 0; r < layer.rows; ++r)
            for (I64 c = 0; c < layer.cols; ++c) {
                const I64 stored = transposed ? ((r / n) * layer.cols + c) * n + r % n : r * layer.cols + c;
                QCOMPARE(m[static_cast<std::size_t>(r * layer.cols + c)], w[static_cast<std::size_t>(stored)]);
            }

        Tensor out;
        decompressWeight(compressWeight(layer, weight, LayerSetting::none()), layer, out);
        QCOMPARE(out.shape(), layer.shape);
        QVERIFY(std::memcmp(out.data<float>(), w.data(), w.size() * 4) == 0);
        QVERIFY(std::isinf(weightSqnrDb(weight, out)));

        LayerSetting s = intSetting(8, true, Granularity::Group, 32, Clipping::MinMax);
        s.pattern = SparsityPattern::N2M4;
        const CompressedWeight c = compressWeight(layer, weight, s);
        const std::vector<float> dm = Quantizer::dequantize(c); // (rows, cols)
        decompressWeight(c, layer, out);
        for (I64 r = 0; r < layer.rows; ++r)
            for (I64 col = 0; col < layer.cols; ++col) {
                const I64 stored = transposed ? ((r / n) * layer.cols + col) * n + r % n : r * layer.cols + col;
                const float v = out.data<float>()[stored];
                QCOMPARE(v, dm[static_cast<std::size_t>(r * layer.cols + col)]);
                if (!c.kept(r * layer.cols + col))
                    QVERIFY(std::bit_cast<std::uint32_t>(v) == 0u);
            }
        QCOMPARE(Pruner::popcount(c.keep, layer.parameters), Pruner::keptCount(s, layer.rows, layer.cols));
        Tensor fusedOut;
        const CompressedWeight c2 = compressWeight(layer, weight, s, fusedOut);
        QVERIFY(c2.codes == c.codes && c2.keep == c.keep);
        QCOMPARE(fusedOut.shape(), layer.shape);
        QVERIFY(std::memcmp(fusedOut.data<float>(), out.data<float>(), out.byteSize()) == 0);
        const double sqnr = weightSqnrDb(weight, out);
        QVERIFY(sqnr > 3.0 && sqnr < 60.0);

        // Other stored dtypes are read as float first.
        std::vector<Half> h(w.size());
        std::vector<double> dd(w.size());
        for (std::size_t i = 0; i < w.size(); ++i) {
            h[i] = Half::fromFloat(w[i]);
            dd[i] = w[i];
        }
        const Tensor wh = Tensor::fromVector<Half>(layer.shape, h), wd = Tensor::fromVector<double>(layer.shape, dd);
        decompressWeight(compressWeight(layer, wd, LayerSetting::none()), layer, out);
        QVERIFY(std::memcmp(out.data<float>(), w.data(), w.size() * 4) == 0);
        decompressWeight(compressWeight(layer, wh, LayerSetting::none()), layer, out);
        for (std::size_t i = 0; i < w.size(); ++i)
            QCOMPARE(out.data<float>()[i], h[i].toFloat());
    }

    void realModels_data()
    {
        QTest::addColumn<QString>("file");
        for (const char* f : {"mlp", "cnn_depthwise", "lstm", "gru", "transformer_op17"})
            QTest::newRow(f) << QString(f);
    }
    /// Every layer of the committed fixture models (Gemm, depthwise/pointwise Conv, LSTM/GRU,
    /// transformer MatMul weights, transposed or not) compresses and decompresses to its own
    /// shape; float32 round-trips exactly, int8 per channel keeps > 30 dB, 2:4 + int4 g32 zeros
    /// exactly the pruned share.
    void realModels()
    {
        QFETCH(QString, file);
        const Model model = OnnxReader::readModel(std::string(LEGER_SOURCE_DIR) + "/tests/fixtures/" +
                                                  file.toStdString() + ".onnx");
        const std::vector<Layer> layers = Layer::find(model);
        QVERIFY(!layers.empty());
        LayerSetting int8 = intSetting(8, true, Granularity::Channel, 32, Clipping::MinMax);
        LayerSetting int4 = intSetting(4, false, Granularity::Group, 32, Clipping::Mse);
        int4.pattern = SparsityPattern::N2M4;
        for (const Layer& layer : layers) {
            const Tensor& w = *model.graph.initializer(layer.name);
            const QString where = QString::fromStdString(layer.name + " (" + layer.opType + ")");
            Tensor out;
            decompressWeight(compressWeight(layer, w, LayerSetting::none()), layer, out);
            QCOMPARE(out.shape(), w.shape());
            QVERIFY2(std::isinf(weightSqnrDb(w, out)), qPrintable(where));
            decompressWeight(compressWeight(layer, w, int8), layer, out);
            QVERIFY2(weightSqnrDb(w, out) > 30.0, qPrintable(where));
            const CompressedWeight c = compressWeight(layer, w, int4, out);
            I64 zeros = 0;
            for (I64 i = 0; i < out.size(); ++i)
                zeros += out.data<float>()[i] == 0.0f;
            QVERIFY2(zeros >= layer.parameters - Pruner::keptCount(int4, layer.rows, layer.cols), qPrintable(where));
            QCOMPARE(Pruner::popcount(c.keep, layer.parameters), Pruner::keptCount(int4, layer.rows, layer.cols));
        }
    }

    void sqnr()
    {
        const Tensor a = Tensor::fromVector<float>({2, 2}, {1, 2, 3, 4});
        const Tensor b = Tensor::fromVector<float>({2, 2}, {1, 2, 3, 3});
        QCOMPARE(weightSqnrDb(a, b), 10.0 * std::log10(30.0));
        QVERIFY(std::isinf(weightSqnrDb(a, a)));
    }
};

QTEST_APPLESS_MAIN(TestQuantizer)
#include "tst_quantizer.moc"
