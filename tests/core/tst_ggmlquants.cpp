// GgmlQuants: blocks worked out by hand from ggml's formulas (Q8_0, Q4_0, all-zero blocks of every
// type), row sizes, refused row lengths and types, and round-trip error bounds per type on random
// data. Bit-exactness against ggml itself is tests/gguf/tst_ggmlquantsreference.
#include <QtTest>

#include <cmath>
#include <cstring>
#include <random>

#include "compress/GgmlQuants.h"
#include "model/Half.h"
#include "util/Error.h"

using namespace leger;

namespace {

std::vector<std::uint8_t> quantize(GgmlType type, const std::vector<float>& x)
{
    std::vector<std::uint8_t> out(static_cast<std::size_t>(ggmlRowBytes(type, static_cast<std::int64_t>(x.size()))));
    quantizeGgmlRow(type, x.data(), static_cast<std::int64_t>(x.size()), reinterpret_cast<std::byte*>(out.data()));
    return out;
}

std::vector<float> dequantize(GgmlType type, const std::vector<std::uint8_t>& q, std::size_t n)
{
    std::vector<float> y(n);
    dequantizeGgmlRow(type, reinterpret_cast<const std::byte*>(q.data()), static_cast<std::int64_t>(n), y.data());
    return y;
}

std::uint16_t half16(const std::vector<std::uint8_t>& b, std::size_t at) { return static_cast<std::uint16_t>(b[at] | b[at + 1] << 8); }

} // namespace

class TestGgmlQuants : public QObject {
    Q_OBJECT
private slots:
    void q8_0ByHand();
    void q8_0InexactScale();
    void q4_0ByHand();
    void zeroBlocks_data();
    void zeroBlocks();
    void rowBytes();
    void refusesBadRows();
    void roundTrip_data();
    void roundTrip();
};

// Q8_0: d = max|x| / 127, q = roundf(x / d) (half away from zero), x ~ d * q.
// x = {-127, 63.5, -63.5, 2.5, -2.5, 0.49, 6, 7, ..., 31}: max|x| = 127 (its sign does not
// matter), so d = 1 = half 0x3C00 and 1/d = 1 exactly; the codes are -127, 64, -64, 3, -3, 0 and
// 6..31, the ties going away from zero (not to even: 63.5 -> 64, 2.5 -> 3).
void TestGgmlQuants::q8_0ByHand()
{
    std::vector<float> x = {-127.0f, 63.5f, -63.5f, 2.5f, -2.5f, 0.49f};
    for (int j = 6; j < 32; ++j)
        x.push_back(static_cast<float>(j));
    const auto b = quantize(GgmlType::Q8_0, x);
    QCOMPARE(b.size(), std::size_t{34});
    QCOMPARE(half16(b, 0), std::uint16_t{0x3C00});
    const std::vector<int> expected = {-127, 64, -64, 3, -3, 0};
    for (int j = 0; j < 32; ++j)
        QCOMPARE(static_cast<int>(static_cast<std::int8_t>(b[2 + static_cast<std::size_t>(j)])),
                 j < 6 ? expected[static_cast<std::size_t>(j)] : j);
    const auto y = dequantize(GgmlType::Q8_0, b, 32);
    QCOMPARE(y[1], 64.0f);
    QCOMPARE(y[31], 31.0f);
}

// A scale that half cannot hold: max|x| = 1, d = 1/127 = 0.0078740157 in float; as a half,
// 2^-7 * (1 + m/1024) with m = round((0.0078740157 * 128 - 1) * 1024) = round(8.063) = 8:
// bits (15 - 7) << 10 | 8 = 0x2008 (0.0078735352). The codes use the float d: 1 -> 127,
// -0.25 -> round(-31.75) = -32, 0.1 -> round(12.7) = 13; decoded with the half d.
void TestGgmlQuants::q8_0InexactScale()
{
    std::vector<float> x(32, 0.0f);
    x[0] = 1.0f;
    x[1] = -0.25f;
    x[2] = 0.1f;
    const auto b = quantize(GgmlType::Q8_0, x);
    QCOMPARE(half16(b, 0), std::uint16_t{0x2008});
    QCOMPARE(static_cast<std::int8_t>(b[2]), std::int8_t{127});
    QCOMPARE(static_cast<std::int8_t>(b[3]), std::int8_t{-32});
    QCOMPARE(static_cast<std::int8_t>(b[4]), std::int8_t{13});
    QCOMPARE(dequantize(GgmlType::Q8_0, b, 32)[0], 127.0f * 0.0078735352f);
}

// Q4_0: m = the weight of largest magnitude WITH its sign (the first of equal magnitudes),
// d = m / -8, q = min(15, trunc(x / d + 8.5)), x ~ d * (q - 8).
// x_0 = 8 and x_2 = -8 tie in magnitude; x_0 comes first, so m = 8, d = -1 (half 0xBC00) and
// q = trunc(8.5 - x):  x_0 = 8 -> 0 (decodes to 8, exactly);  x_1 = -7 -> 15 (-7);
// x_2 = -8 -> 16, clamped to 15 (decodes to -7: the side opposite m loses one step);
// x_3 = 0.5 -> 8 (0);  x_4 = 1.5 -> 7 (1);  x_5 = -2.25 -> 10 (-2);  x_16 = 3 -> 5 (3);  0 -> 8.
// Byte j holds q_j in its low nibble and q_{j+16} in its high one.
void TestGgmlQuants::q4_0ByHand()
{
    std::vector<float> x(32, 0.0f);
    x[0] = 8.0f;
    x[1] = -7.0f;
    x[2] = -8.0f;
    x[3] = 0.5f;
    x[4] = 1.5f;
    x[5] = -2.25f;
    x[16] = 3.0f;
    const auto b = quantize(GgmlType::Q4_0, x);
    QCOMPARE(b.size(), std::size_t{18});
    QCOMPARE(half16(b, 0), std::uint16_t{0xBC00});
    const std::vector<std::uint8_t> qs = {0x50, 0x8F, 0x8F, 0x88, 0x87, 0x8A, 0x88, 0x88,
                                          0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88};
    QCOMPARE(std::vector<std::uint8_t>(b.begin() + 2, b.end()), qs);
    const auto y = dequantize(GgmlType::Q4_0, b, 32);
    const std::vector<float> expected = {8, -7, -7, 0, 1, -2};
    for (std::size_t j = 0; j < expected.size(); ++j)
        QCOMPARE(y[j], expected[j]);
    QCOMPARE(y[16], 3.0f);
}

// A block of zeros: every type writes zero bytes, except the symmetric 32-weight formats, where
// m = 0 (no weight beats the initial 0) gives d = 0 / -8 = -0 (half 0x8000) and every code is
// the middle one: Q4_0 q = trunc(0 * 0 + 8.5) = 8 (bytes 0x88); Q5_0 q = 16, whose low nibbles
// are 0 and whose fifth bits are all set (qh = 0xFFFFFFFF). All decode to zeros.
void TestGgmlQuants::zeroBlocks_data()
{
    QTest::addColumn<int>("type");
    QTest::addColumn<QByteArray>("head"); // the block's first bytes; the rest is (head's last byte) repeated
    QTest::newRow("Q8_0") << int(GgmlType::Q8_0) << QByteArray::fromHex("0000");
    QTest::newRow("Q4_0") << int(GgmlType::Q4_0) << QByteArray::fromHex("008088");
    QTest::newRow("Q4_1") << int(GgmlType::Q4_1) << QByteArray::fromHex("00");
    QTest::newRow("Q5_0") << int(GgmlType::Q5_0) << QByteArray::fromHex("0080ffffffff00");
    QTest::newRow("Q5_1") << int(GgmlType::Q5_1) << QByteArray::fromHex("00");
    QTest::newRow("Q2_K") << int(GgmlType::Q2_K) << QByteArray::fromHex("00");
    QTest::newRow("Q3_K") << int(GgmlType::Q3_K) << QByteArray::fromHex("00");
    QTest::newRow("Q4_K") << int(GgmlType::Q4_K) << QByteArray::fromHex("00");
    QTest::newRow("Q5_K") << int(GgmlType::Q5_K) << QByteArray::fromHex("00");
    QTest::newRow("Q6_K") << int(GgmlType::Q6_K) << QByteArray::fromHex("00");
}

void TestGgmlQuants::zeroBlocks()
{
    QFETCH(int, type);
    QFETCH(QByteArray, head);
    const auto t = static_cast<GgmlType>(type);
    const std::vector<float> x(256, 0.0f);
    const auto b = quantize(t, x);
    const auto blockBytes = static_cast<std::size_t>(ggmlTypeTraits(static_cast<std::uint32_t>(type))->blockBytes);
    for (std::size_t i = 0; i < b.size(); ++i) {
        const std::size_t k = i % blockBytes;
        const auto expected = static_cast<std::uint8_t>(head[static_cast<qsizetype>(std::min(k, static_cast<std::size_t>(head.size() - 1)))]);
        QVERIFY2(b[i] == expected, qPrintable(QString("byte %1: 0x%2, expected 0x%3").arg(i).arg(b[i], 0, 16).arg(expected, 0, 16)));
    }
    for (float y : dequantize(t, b, x.size()))
        QCOMPARE(y, 0.0f);
}

void TestGgmlQuants::rowBytes()
{
    QCOMPARE(ggmlRowBytes(GgmlType::Q4_K, 256), 144);
    QCOMPARE(ggmlRowBytes(GgmlType::Q8_0, 64), 68);
    QCOMPARE(ggmlRowBytes(GgmlType::Q4_0, 32), 18);
    QCOMPARE(ggmlRowBytes(GgmlType::Q4_1, 96), 60);
    QCOMPARE(ggmlRowBytes(GgmlType::Q5_0, 32), 22);
    QCOMPARE(ggmlRowBytes(GgmlType::Q5_1, 4096), 3072);
    QCOMPARE(ggmlRowBytes(GgmlType::Q2_K, 512), 168);
    QCOMPARE(ggmlRowBytes(GgmlType::Q3_K, 256), 110);
    QCOMPARE(ggmlRowBytes(GgmlType::Q5_K, 256), 176);
    QCOMPARE(ggmlRowBytes(GgmlType::Q6_K, 768), 630);
    QCOMPARE(ggmlRowBytes(GgmlType::F32, 3), 12);
    QCOMPARE(ggmlRowBytes(GgmlType::Q4_K, 0), 0);
    QVERIFY(ggmlCanQuantize(GgmlType::Q5_K));
    QVERIFY(!ggmlCanQuantize(GgmlType::F16));
    QVERIFY(!ggmlCanQuantize(GgmlType::Q8_K));
}

void TestGgmlQuants::refusesBadRows()
{
    std::vector<float> x(512, 1.0f);
    std::vector<std::byte> out(1024);
    QVERIFY_THROWS_EXCEPTION(Error, ggmlRowBytes(GgmlType::Q4_0, 48));
    QVERIFY_THROWS_EXCEPTION(Error, ggmlRowBytes(GgmlType::Q4_K, 128));
    QVERIFY_THROWS_EXCEPTION(Error, ggmlRowBytes(GgmlType::Q8_0, -32));
    QVERIFY_THROWS_EXCEPTION(Error, ggmlRowBytes(static_cast<GgmlType>(99), 32));
    QVERIFY_THROWS_EXCEPTION(Error, quantizeGgmlRow(GgmlType::Q6_K, x.data(), 320, out.data()));
    QVERIFY_THROWS_EXCEPTION(Error, quantizeGgmlRow(GgmlType::Q8_0, x.data(), 33, out.data()));
    QVERIFY_THROWS_EXCEPTION(Error, dequantizeGgmlRow(GgmlType::Q5_K, out.data(), 100, x.data()));
    QVERIFY_THROWS_EXCEPTION(UnsupportedError, quantizeGgmlRow(GgmlType::F16, x.data(), 32, out.data()));
    QVERIFY_THROWS_EXCEPTION(UnsupportedError, quantizeGgmlRow(GgmlType::Q8_K, x.data(), 256, out.data()));
    try {
        ggmlRowBytes(GgmlType::Q4_K, 144);
        QFAIL("no error");
    } catch (const Error& e) {
        QCOMPARE(QString(e.what()), QString("a row of 144 weights cannot be stored as Q4_K: not a multiple of its block of 256"));
    }
}

// Random rows ~ N(0, 1), 64 rows of 256. Two bounds per type:
//  - per block (32-weight formats), from the stored scale: Q8_0 |e| <= d (0.5 + 127 / 2048): half a
//    step, plus the half rounding of d (relative 2^-11) times the largest code; Q4_0 / Q5_0 <= d (1 +
//    8 / 2048) and d (1 + 16 / 2048): a full step, as the extreme opposite m is clamped one step
//    short; Q4_1 / Q5_1 <= d (0.5 + (2^b - 1) / 2048) + |min| / 2048 (min is stored as a half);
//  - for every type, the relative RMS error rms(x - y) / rms(x) below a bound near the uniform
//    quantizer's step / sqrt(12) for the bits, with the K-quants' better-fitted ranges.
void TestGgmlQuants::roundTrip_data()
{
    QTest::addColumn<int>("type");
    QTest::addColumn<double>("maxRelRms");
    QTest::newRow("Q8_0") << int(GgmlType::Q8_0) << 0.0060;
    QTest::newRow("Q4_0") << int(GgmlType::Q4_0) << 0.12;
    QTest::newRow("Q4_1") << int(GgmlType::Q4_1) << 0.10;
    QTest::newRow("Q5_0") << int(GgmlType::Q5_0) << 0.06;
    QTest::newRow("Q5_1") << int(GgmlType::Q5_1) << 0.05;
    QTest::newRow("Q2_K") << int(GgmlType::Q2_K) << 0.40;
    QTest::newRow("Q3_K") << int(GgmlType::Q3_K) << 0.20;
    QTest::newRow("Q4_K") << int(GgmlType::Q4_K) << 0.10;
    QTest::newRow("Q5_K") << int(GgmlType::Q5_K) << 0.05;
    QTest::newRow("Q6_K") << int(GgmlType::Q6_K) << 0.025;
}

void TestGgmlQuants::roundTrip()
{
    QFETCH(int, type);
    QFETCH(double, maxRelRms);
    const auto t = static_cast<GgmlType>(type);
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(64 * 256);
    for (float& v : x)
        v = normal(rng);
    const auto q = quantize(t, x);
    const auto y = dequantize(t, q, x.size());
    double err2 = 0.0, x2 = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        err2 += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
        x2 += double(x[i]) * x[i];
    }
    const double relRms = std::sqrt(err2 / x2);
    qInfo("%s: relative RMS error %.5f (bound %.5f)", QTest::currentDataTag(), relRms, maxRelRms);
    QVERIFY(relRms <= maxRelRms);
    QVERIFY(relRms > maxRelRms / 4); // the bound is near the real error, not just any number

    // Per-block bounds of the 32-weight formats, from each block's own scale.
    const GgmlTypeTraits& traits = *ggmlTypeTraits(static_cast<std::uint32_t>(type));
    if (traits.blockSize != 32)
        return;
    for (std::size_t b = 0; b < x.size() / 32; ++b) {
        const float* xb = x.data() + 32 * b;
        const float* yb = y.data() + 32 * b;
        float amax = 0.0f, min = xb[0], max = xb[0];
        for (int j = 0; j < 32; ++j) {
            amax = std::max(amax, std::fabs(xb[j]));
            min = std::min(min, xb[j]);
            max = std::max(max, xb[j]);
        }
        double bound = 0.0;
        switch (t) {
        case GgmlType::Q8_0: bound = amax / 127.0 * (0.5 + 127.0 / 2048); break;
        case GgmlType::Q4_0: bound = amax / 8.0 * (1.0 + 8.0 / 2048); break;
        case GgmlType::Q5_0: bound = amax / 16.0 * (1.0 + 16.0 / 2048); break;
        case GgmlType::Q4_1: bound = (max - min) / 15.0 * (0.5 + 15.0 / 2048) + std::fabs(min) / 2048; break;
        case GgmlType::Q5_1: bound = (max - min) / 31.0 * (0.5 + 31.0 / 2048) + std::fabs(min) / 2048; break;
        default: QFAIL("no bound for this type");
        }
        bound *= 1.0 + 1e-5; // float rounding of d, 1/d and x/d
        for (int j = 0; j < 32; ++j)
            QVERIFY2(std::fabs(double(xb[j]) - yb[j]) <= bound,
                     qPrintable(QString("block %1 weight %2: %3 decoded as %4, bound %5").arg(b).arg(j).arg(xb[j]).arg(yb[j]).arg(bound)));
    }
}

QTEST_GUILESS_MAIN(TestGgmlQuants)
#include "tst_ggmlquants.moc"
