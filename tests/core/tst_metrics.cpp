// Metrics against their definitions (DESIGN.md): Wilson intervals, top-1/top-5, agreement,
// flips, confusion, KL divergence and output SQNR on hand-computed cases.
#include <QtTest>

#include <cmath>
#include <limits>

#include "eval/Metrics.h"
#include "util/Error.h"

using namespace leger;

class TestMetrics : public QObject {
    Q_OBJECT
private slots:
    void wilson_data();
    void wilson();
    void meanIntervalMatchesFormula();
    void classifierCounts();
    void klMatchesDefinition();
    void klOfProbabilities();
    void identicalOutputsAreExact();
    void sqnrMatchesDefinition();
    void badLabelIsAnError();
    void nonFiniteOutputsAreCounted();
};

void TestMetrics::wilson_data()
{
    QTest::addColumn<qint64>("k");
    QTest::addColumn<qint64>("n");
    QTest::addColumn<double>("low");
    QTest::addColumn<double>("high");
    // Published Wilson 95 % bounds (0/10 -> 0.2775, 50/100 -> 0.4038..0.5962), to 8 digits.
    QTest::newRow("50/100") << qint64(50) << qint64(100) << 0.40383153 << 0.59616847;
    QTest::newRow("0/10") << qint64(0) << qint64(10) << 0.0 << 0.27753280;
    QTest::newRow("10/10") << qint64(10) << qint64(10) << 0.72246720 << 1.0;
    QTest::newRow("9152/10000") << qint64(9152) << qint64(10000) << 0.90957914 << 0.92050199;
}

void TestMetrics::wilson()
{
    QFETCH(qint64, k);
    QFETCH(qint64, n);
    QFETCH(double, low);
    QFETCH(double, high);
    const Interval i = wilsonInterval(k, n);
    QCOMPARE(i.value, double(k) / double(n));
    QVERIFY2(std::abs(i.low - low) < 1e-6, qPrintable(QString::number(i.low, 'g', 10)));
    QVERIFY2(std::abs(i.high - high) < 1e-6, qPrintable(QString::number(i.high, 'g', 10)));
    QCOMPARE(i.n, std::int64_t(n));
}

void TestMetrics::meanIntervalMatchesFormula()
{
    // values 1, 2, 3, 4: mean 2.5, sample sd sqrt(5/3), SE = sd / 2.
    const Interval i = meanInterval(10.0, 30.0, 4);
    const double half = 1.959963984540054 * std::sqrt(5.0 / 3.0) / 2.0;
    QCOMPARE(i.value, 2.5);
    QVERIFY(std::abs(i.low - (2.5 - half)) < 1e-12);
    QVERIFY(std::abs(i.high - (2.5 + half)) < 1e-12);
}

void TestMetrics::classifierCounts()
{
    // 3 classes, 4 samples. Baseline predicts 0, 1, 2, 0; the model predicts 0, 2, 2, 1.
    // Labels 0, 1, 2, 1: baseline right on 0,1,2 (3/4), model right on 0,2,3 (3/4).
    const float base[] = {5, 1, 0, 0, 5, 1, 0, 1, 5, 5, 1, 0};
    const float y[] = {5, 1, 0, 0, 1, 5, 0, 1, 5, 1, 5, 0};
    const std::int64_t labels[] = {0, 1, 2, 1};
    MetricsAccumulator acc(3);
    acc.add(y, base, labels, 2, 3); // in two chunks: the result must not depend on chunking
    acc.add(y + 6, base + 6, labels + 2, 2, 3);
    const Metrics m = acc.result();
    QCOMPARE(m.samples, std::int64_t(4));
    QCOMPARE(m.find("top1")->value, 0.75);
    QCOMPARE(m.find("agreement")->value, 0.5);
    QCOMPARE(m.lost, std::int64_t(1));   // sample 1: right before, wrong now
    QCOMPARE(m.gained, std::int64_t(1)); // sample 3
    QCOMPARE(m.find("flips_lost")->value, 0.25);
    QVERIFY(!m.find("top5")); // 3 classes: top-5 means nothing
    QCOMPARE(m.confusion[1][2], std::int64_t(1));
    QCOMPARE(m.confusion[1][1], std::int64_t(1));
    QCOMPARE(m.perClass[1].value, 0.5);
    QCOMPARE(m.perClass[0].value, 1.0);
}

void TestMetrics::klMatchesDefinition()
{
    const float base[] = {1.0f, 2.0f, 0.5f};
    const float y[] = {0.5f, 2.5f, 0.0f};
    auto softmax = [](const float* v) {
        std::vector<double> p(3);
        double s = 0;
        for (int i = 0; i < 3; ++i)
            s += p[static_cast<std::size_t>(i)] = std::exp(double(v[i]));
        for (auto& x : p)
            x /= s;
        return p;
    };
    const auto p = softmax(base), q = softmax(y);
    double kl = 0;
    for (int i = 0; i < 3; ++i)
        kl += p[static_cast<std::size_t>(i)] * std::log(p[static_cast<std::size_t>(i)] / q[static_cast<std::size_t>(i)]);
    MetricsAccumulator acc(3);
    acc.add(y, base, nullptr, 1, 3);
    const Metrics m = acc.result();
    QVERIFY(std::abs(m.find("kl")->value - kl) < 1e-12);
    QVERIFY(!m.find("top1")); // no labels
}

void TestMetrics::klOfProbabilities()
{
    // A model ending in Softmax: its outputs are the distributions themselves.
    const float base[] = {0.7f, 0.2f, 0.1f};
    const float y[] = {0.5f, 0.3f, 0.2f};
    double kl = 0;
    for (int i = 0; i < 3; ++i)
        kl += double(base[i]) * std::log(double(base[i]) / double(y[i]));
    MetricsAccumulator acc(3);
    acc.add(y, base, nullptr, 1, 3);
    QVERIFY(std::abs(acc.result().find("kl")->value - kl) < 1e-7);
}

void TestMetrics::identicalOutputsAreExact()
{
    const float y[] = {0.1f, -3.0f, 2.0f, 7.0f, 7.0f, 1.0f};
    const std::int64_t labels[] = {2, 0};
    MetricsAccumulator acc(3);
    acc.add(y, y, labels, 2, 3);
    const Metrics m = acc.result();
    QCOMPARE(m.find("kl")->value, 0.0);
    QCOMPARE(m.find("agreement")->value, 1.0);
    QVERIFY(std::isinf(m.find("sqnr_db")->value));
    QCOMPARE(m.find("top1")->value, 1.0); // a tie (7, 7) goes to the first index, as argmax does
}

void TestMetrics::sqnrMatchesDefinition()
{
    // Not a classifier: 2 samples of 4 values. SQNR = 10 log10(sum y^2 / sum (y - yhat)^2).
    const float base[] = {1, 2, 3, 4, -1, -2, 0, 1};
    const float y[] = {1.1f, 2, 2.9f, 4, -1, -2.2f, 0, 1};
    double s = 0, e = 0;
    for (int i = 0; i < 8; ++i) {
        s += double(base[i]) * base[i];
        e += (double(base[i]) - y[i]) * (double(base[i]) - y[i]);
    }
    MetricsAccumulator acc(0);
    acc.add(y, base, nullptr, 2, 4);
    const Metrics m = acc.result();
    QVERIFY(std::abs(m.find("sqnr_db")->value - 10 * std::log10(s / e)) < 1e-9);
    QVERIFY(m.find("sqnr_db")->low <= m.find("sqnr_db")->value);
    QVERIFY(!m.find("agreement"));
}

void TestMetrics::badLabelIsAnError()
{
    const float y[] = {1, 2};
    const std::int64_t labels[] = {2};
    MetricsAccumulator acc(2);
    QVERIFY_THROWS_EXCEPTION(Error, acc.add(y, y, labels, 1, 2));
}

void TestMetrics::nonFiniteOutputsAreCounted()
{
    // Samples (not values) with a NaN or an infinity anywhere in their output, for the report's
    // "no NaN/Inf" check: sample 0 clean, 1 has a NaN, 2 two infinities, 3 clean.
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    const float y[] = {0.5f, 1.0f, 2.0f, nan, -inf, inf, 3.0f, -1.0f};
    const std::int64_t labels[] = {1, 0, 0, 0};
    MetricsAccumulator acc(2);
    acc.add(y, nullptr, labels, 2, 2);
    acc.add(y + 4, nullptr, labels + 2, 2, 2);
    QCOMPARE(acc.result().nonFinite, std::int64_t{2});
    MetricsAccumulator clean(2);
    clean.add(y, y, labels, 1, 2);
    QCOMPARE(clean.result().nonFinite, std::int64_t{0});
}

QTEST_APPLESS_MAIN(TestMetrics)
#include "tst_metrics.moc"
