// Pruner: the fast masks against the sort-based reference (with ties, NaN, zero rows and
// awkward shapes), exact kept counts from the shape alone, and each pattern's defining property.
#include <QtTest>

#include <bit>
#include <cmath>
#include <limits>
#include <random>

#include "compress/Pruner.h"
#include "compress/Quantizer.h"
#include "runtime/ops/ConvKernels.h"

using namespace leger;
using I64 = std::int64_t;

namespace {

namespace convk = leger::ops::convk;
const convk::Isa kIsas[] = {convk::Isa::Baseline, convk::Isa::Avx2, convk::Isa::Avx512};

/// Weights with many exact ties (values on a coarse grid), a zero row, NaN and Inf.
std::vector<float> makeWeights(I64 rows, I64 cols, std::uint32_t seed, bool ties, bool specials)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> w(static_cast<std::size_t>(rows * cols));
    for (float& x : w) {
        x = dist(rng);
        if (ties)
            x = std::round(x * 4.0f) / 4.0f; // few distinct magnitudes, +-0 among them
    }
    if (rows > 2)
        std::fill(w.begin() + cols, w.begin() + 2 * cols, 0.0f);
    if (specials && w.size() > 8) {
        w[3] = std::numeric_limits<float>::quiet_NaN();
        w[w.size() / 2] = -std::numeric_limits<float>::infinity();
        w[w.size() - 2] = std::numeric_limits<float>::denorm_min();
    }
    return w;
}

LayerSetting pruneSetting(SparsityPattern p, double sparsity)
{
    LayerSetting s;
    s.pattern = p;
    s.sparsity = sparsity;
    return s;
}

bool bit(const std::vector<std::uint64_t>& m, I64 i) { return (m[static_cast<std::size_t>(i >> 6)] >> (i & 63)) & 1u; }

float mag(float v) { return std::isnan(v) ? std::numeric_limits<float>::infinity() * 2 : std::fabs(v); }

struct Shape2 {
    I64 rows, cols;
};
const Shape2 kShapes[] = {{1, 1}, {1, 7}, {3, 5}, {9, 64}, {17, 130}, {64, 64}, {5, 1001}, {1, 4099}};

} // namespace

class TestPruner : public QObject {
    Q_OBJECT

private slots:
    void cleanup() { convk::resetIsa(); }

    void referenceAgreement_data()
    {
        QTest::addColumn<int>("pattern");
        QTest::addColumn<double>("sparsity");
        for (double s : {0.0, 0.1, 0.25, 0.5, 0.5001, 0.9, 0.999})
            QTest::addRow("unstructured %g", s) << int(SparsityPattern::Unstructured) << s;
        QTest::newRow("2:4") << int(SparsityPattern::N2M4) << 0.0;
        QTest::newRow("4:8") << int(SparsityPattern::N4M8) << 0.3; // sparsity ignored
        for (double s : {0.0, 0.2, 0.5, 0.75})
            QTest::addRow("channel %g", s) << int(SparsityPattern::Channel) << s;
    }
    /// keepMask == keepMaskReference, and its popcount == keptCount(setting, rows, cols).
    void referenceAgreement()
    {
        QFETCH(int, pattern);
        QFETCH(double, sparsity);
        const LayerSetting s = pruneSetting(SparsityPattern(pattern), sparsity);
        for (convk::Isa isa : kIsas) {
            convk::setIsa(isa);
            std::uint32_t seed = 10;
            for (const Shape2& sh : kShapes) {
                for (int variant = 0; variant < 3; ++variant) {
                    const std::vector<float> w = makeWeights(sh.rows, sh.cols, ++seed, variant >= 1, variant == 2);
                    const auto fast = Pruner::keepMask(w.data(), sh.rows, sh.cols, s);
                    const auto ref = Pruner::keepMaskReference(w.data(), sh.rows, sh.cols, s);
                    const QString where = QString("%1: shape (%2, %3) variant %4")
                                              .arg(convk::isaName(convk::isa()))
                                              .arg(sh.rows)
                                              .arg(sh.cols)
                                              .arg(variant);
                    QVERIFY2(fast == ref, qPrintable(where + ": masks differ"));
                    const I64 n = sh.rows * sh.cols;
                    if (!s.pruned()) {
                        QVERIFY(fast.empty());
                    } else {
                        QCOMPARE(static_cast<I64>(fast.size()), (n + 63) / 64);
                        if (n % 64)
                            QCOMPARE(fast.back() >> (n % 64), std::uint64_t{0}); // unused bits clear
                    }
                    QCOMPARE(Pruner::popcount(fast, n), Pruner::keptCount(s, sh.rows, sh.cols));
                }
            }
        }
    }

    /// The counts from the shape alone, worked by hand.
    void keptCounts()
    {
        QCOMPARE(Pruner::keptCount(pruneSetting(SparsityPattern::Unstructured, 0.0), 10, 10), I64{100});
        QCOMPARE(Pruner::keptCount(pruneSetting(SparsityPattern::Unstructured, 0.5), 3, 3), I64{4}); // llround(4.5) = 5 removed
        QCOMPARE(Pruner::keptCount(pruneSetting(SparsityPattern::Unstructured, 0.25), 2, 3), I64{4}); // llround(1.5) = 2
        QCOMPARE(Pruner::keptCount(pruneSetting(SparsityPattern::N2M4, 0.0), 3, 10), I64{3 * (4 + 2)});
        QCOMPARE(Pruner::keptCount(pruneSetting(SparsityPattern::N4M8, 0.9), 2, 20), I64{2 * (8 + 4)});
        QCOMPARE(Pruner::keptInCompleteGroups(pruneSetting(SparsityPattern::N4M8, 0.0), 2, 20), I64{2 * 8});
        QCOMPARE(Pruner::keptInCompleteGroups(pruneSetting(SparsityPattern::Unstructured, 0.5), 2, 20), I64{0});
        QCOMPARE(Pruner::keptCount(pruneSetting(SparsityPattern::Channel, 0.5), 5, 7), I64{2 * 7}); // llround(2.5) = 3
        QCOMPARE(Pruner::removedUnits(pruneSetting(SparsityPattern::Channel, 0.5), 5, 7), I64{3});
        // Unstructured s > 0 that removes nothing still yields a (full) mask.
        const std::vector<float> w(3, 1.0f);
        const auto m = Pruner::keepMask(w.data(), 1, 3, pruneSetting(SparsityPattern::Unstructured, 0.1));
        QCOMPARE(m.size(), std::size_t{1});
        QCOMPARE(m[0], std::uint64_t{7});
    }

    /// Unstructured: every removed magnitude <= every kept one; ties removed lowest index first;
    /// NaN is kept as the largest magnitude.
    void unstructuredOrder()
    {
        const I64 rows = 33, cols = 97, n = rows * cols;
        const std::vector<float> w = makeWeights(rows, cols, 5, true, true);
        const LayerSetting s = pruneSetting(SparsityPattern::Unstructured, 0.6);
        const auto m = Pruner::keepMask(w.data(), rows, cols, s);
        float maxRemoved = -1.0f, minKept = std::numeric_limits<float>::infinity() * 4;
        for (I64 i = 0; i < n; ++i) {
            const float a = mag(w[static_cast<std::size_t>(i)]);
            if (bit(m, i))
                minKept = std::min(minKept, a);
            else
                maxRemoved = std::max(maxRemoved, a);
        }
        QVERIFY(maxRemoved <= minKept);
        QVERIFY(bit(m, 3)); // NaN
        // Among weights at the threshold, the removed ones all come before the kept ones.
        I64 lastRemovedTie = -1, firstKeptTie = n;
        for (I64 i = 0; i < n; ++i)
            if (mag(w[static_cast<std::size_t>(i)]) == maxRemoved) {
                if (bit(m, i))
                    firstKeptTie = std::min(firstKeptTie, i);
                else
                    lastRemovedTie = i;
            }
        QVERIFY(lastRemovedTie < firstKeptTie);
        QCOMPARE(Pruner::popcount(m, n), n - std::llround(0.6 * n));
    }

    /// N:M: exactly N kept in each complete group of M, the largest, ties to the lower index;
    /// the trailing partial group kept whole.
    void nmGroups()
    {
        for (auto p : {SparsityPattern::N2M4, SparsityPattern::N4M8}) {
            const int M = p == SparsityPattern::N2M4 ? 4 : 8, N = M / 2;
            const I64 rows = 7, cols = 43;
            const std::vector<float> w = makeWeights(rows, cols, 9, true, true);
            const auto m = Pruner::keepMask(w.data(), rows, cols, pruneSetting(p, 0.0));
            for (I64 r = 0; r < rows; ++r) {
                for (I64 g = 0; g + M <= cols; g += M) {
                    int kept = 0;
                    for (int i = 0; i < M; ++i) {
                        const I64 a = r * cols + g + i;
                        kept += bit(m, a);
                        for (int j = 0; j < M; ++j) {
                            const I64 b = r * cols + g + j;
                            if (bit(m, a) && !bit(m, b)) { // a kept, b removed: |a| >= |b|, and ties favour the lower index
                                const float ma = mag(w[static_cast<std::size_t>(a)]), mb = mag(w[static_cast<std::size_t>(b)]);
                                QVERIFY(ma > mb || (ma == mb && a < b));
                            }
                        }
                    }
                    QCOMPARE(kept, N);
                }
                for (I64 c = cols / M * M; c < cols; ++c)
                    QVERIFY(bit(m, r * cols + c));
            }
        }
    }

    /// Channel: rows are kept or removed whole; removed rows have the least L2 norms, the zero
    /// row first of all.
    void channelRows()
    {
        const I64 rows = 12, cols = 30;
        const std::vector<float> w = makeWeights(rows, cols, 21, false, false);
        const auto m = Pruner::keepMask(w.data(), rows, cols, pruneSetting(SparsityPattern::Channel, 0.25));
        std::vector<double> norm(rows);
        std::vector<bool> keptRow(rows);
        for (I64 r = 0; r < rows; ++r) {
            int k = 0;
            for (I64 c = 0; c < cols; ++c) {
                k += bit(m, r * cols + c);
                norm[static_cast<std::size_t>(r)] += double(w[static_cast<std::size_t>(r * cols + c)]) * w[static_cast<std::size_t>(r * cols + c)];
            }
            QVERIFY(k == 0 || k == cols);
            keptRow[static_cast<std::size_t>(r)] = k == cols;
        }
        QVERIFY(!keptRow[1]);
        for (I64 a = 0; a < rows; ++a)
            for (I64 b = 0; b < rows; ++b)
                if (keptRow[static_cast<std::size_t>(a)] && !keptRow[static_cast<std::size_t>(b)])
                    QVERIFY(norm[static_cast<std::size_t>(a)] >= norm[static_cast<std::size_t>(b)]);
        QCOMPARE(Pruner::popcount(m, rows * cols), I64{9 * cols});
    }
};

QTEST_APPLESS_MAIN(TestPruner)
#include "tst_pruner.moc"
