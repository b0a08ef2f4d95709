// Tensor storage and the float16/bfloat16 conversions.
#include <QtTest>

#include <cmath>
#include <cstring>
#include <random>

#include "model/Tensor.h"

using namespace leger;

class TestTensor : public QObject {
    Q_OBJECT
private slots:
    void resizeKeepsAllocation();
    void copyIsDeep();
    void halfRoundTripsEveryValue();
    void halfRoundsToNearestEven_data();
    void halfRoundsToNearestEven();
    void halfMatchesDoubleRounding();
    void bfloat16RoundsToNearestEven();
    void rejectsNegativeDimensions();
};

void TestTensor::resizeKeepsAllocation()
{
    Tensor t(DType::Float32, {4, 256});
    const std::byte* p = t.raw();
    t.resize(DType::Int64, {10});
    QCOMPARE(t.raw(), p);
    QCOMPARE(t.size(), 10);
    QCOMPARE(t.byteSize(), std::size_t(80));
    QVERIFY(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
    t.resize(DType::Float32, {}); // a scalar has one element
    QCOMPARE(t.size(), 1);
}

void TestTensor::copyIsDeep()
{
    Tensor a = Tensor::fromVector<float>({2, 2}, {1, 2, 3, 4});
    Tensor b = a;
    b.data<float>()[0] = 9;
    QCOMPARE(a.data<float>()[0], 1.0f);
    QCOMPARE(b.shape(), (Shape{2, 2}));
}

void TestTensor::halfRoundTripsEveryValue()
{
    for (std::uint32_t bits = 0; bits < 0x10000; ++bits) {
        Half h;
        h.bits = static_cast<std::uint16_t>(bits);
        const float f = h.toFloat();
        if (std::isnan(f)) {
            QVERIFY(std::isnan(Half::fromFloat(f).toFloat()));
            continue;
        }
        QCOMPARE(Half::fromFloat(f).bits, h.bits);
    }
}

void TestTensor::halfRoundsToNearestEven_data()
{
    QTest::addColumn<float>("value");
    QTest::addColumn<int>("bits");
    QTest::newRow("one") << 1.0f << 0x3c00;
    QTest::newRow("max") << 65504.0f << 0x7bff;
    QTest::newRow("overflow") << 65520.0f << 0x7c00;
    QTest::newRow("just below overflow") << 65519.0f << 0x7bff;
    QTest::newRow("tie to even down") << 1.0f + 1.0f / 2048 << 0x3c00;
    QTest::newRow("tie to even up") << 1.0f + 3.0f / 2048 << 0x3c02;
    QTest::newRow("smallest subnormal") << 5.9604645e-08f << 0x0001;
    QTest::newRow("half of smallest subnormal rounds to 0") << 2.9802322e-08f << 0x0000;
    QTest::newRow("negative") << -2.0f << 0xc000;
}

void TestTensor::halfRoundsToNearestEven()
{
    QFETCH(float, value);
    QFETCH(int, bits);
    QCOMPARE(int(Half::fromFloat(value).bits), bits);
}

void TestTensor::halfMatchesDoubleRounding()
{
    // Reference: pick the nearest of the two neighbouring halves in double precision.
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> mag(-20.0f, 16.0f);
    for (int i = 0; i < 200000; ++i) {
        const float f = std::ldexp(1.0f + static_cast<float>(rng() % 1000000) / 1e6f, static_cast<int>(mag(rng)));
        const Half h = Half::fromFloat(f);
        Half up = h, down = h;
        up.bits = static_cast<std::uint16_t>(h.bits + 1);
        down.bits = static_cast<std::uint16_t>(h.bits - 1);
        const double err = std::abs(double(h.toFloat()) - f);
        if (h.bits != 0x7c00) {
            QVERIFY(err <= std::abs(double(up.toFloat()) - f));
            if (h.bits != 0)
                QVERIFY(err <= std::abs(double(down.toFloat()) - f));
        }
    }
}

void TestTensor::bfloat16RoundsToNearestEven()
{
    QCOMPARE(int(BFloat16::fromFloat(1.0f).bits), 0x3f80);
    float tie;
    const std::uint32_t tieBits = 0x3f808000u; // exactly halfway between 0x3f80 and 0x3f81
    std::memcpy(&tie, &tieBits, 4);
    QCOMPARE(int(BFloat16::fromFloat(tie).bits), 0x3f80);
    const std::uint32_t tieOdd = 0x3f818000u;
    std::memcpy(&tie, &tieOdd, 4);
    QCOMPARE(int(BFloat16::fromFloat(tie).bits), 0x3f82);
    QVERIFY(std::isnan(BFloat16::fromFloat(std::nanf("")).toFloat()));
}

void TestTensor::rejectsNegativeDimensions()
{
    QVERIFY_THROWS_EXCEPTION(std::exception, Tensor(DType::Float32, {2, -1}));
}

QTEST_APPLESS_MAIN(TestTensor)
#include "tst_tensor.moc"
