// The Evaluator on the bundled sample and real Fashion-MNIST images: the uncompressed model's
// accuracy as PyTorch counted it, partial results chunk by chunk, cancellation, and
// incremental re-evaluation giving exactly what a full evaluation gives while running fewer
// nodes.
#include <QtTest>

#include <cmath>

#include "data/Dataset.h"
#include "data/Preprocessing.h"
#include "eval/Evaluator.h"
#include "io/OnnxReader.h"
#include "model/Model.h"
#include "util/Error.h"

using namespace leger;

namespace {

const std::string kSample = LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_cnn.onnx";
const std::string kImages = LEGER_SOURCE_DIR "/resources/sample/fashion-mnist-test-2000-images-idx3-ubyte.gz";

LayerSetting intSetting(int bits, Granularity g = Granularity::Channel, int group = 32)
{
    LayerSetting s;
    s.format = WeightFormat::Int;
    s.bits = bits;
    s.granularity = g;
    s.groupSize = group;
    return s;
}

struct Fixture {
    Model model = OnnxReader::readModel(kSample);
    Dataset data = Dataset::read(kImages);
    Preprocessing pre = *Preprocessing::readSidecar(kSample);
};

/// Everything an evaluation measured that depends on every output value.
void compareExact(const Evaluation& a, const Evaluation& b)
{
    QCOMPARE(a.samples, b.samples);
    for (const auto& [name, v] : b.metrics.values) {
        const Interval* w = a.metrics.find(name);
        QVERIFY2(w, name.c_str());
        QVERIFY2(w->value == v.value || (std::isnan(w->value) && std::isnan(v.value)), name.c_str());
    }
    QCOMPARE(a.metrics.confusion, b.metrics.confusion);
}

} // namespace

class TestEvaluator : public QObject {
    Q_OBJECT
private slots:
    void baselineMatchesPyTorch();
    void partialResultsArriveChunkByChunk();
    void incrementalEqualsFull();
    void incrementalEqualsFullUnderATightBudget();
    void lastLayerChangeRunsFewNodes();
    void cancelStopsAndRecovers();
    void int8PerChannelKeepsAccuracy();
    void weightStatsPerLayer();
    void rejectsBadPlan();
    void fixedBatchOfOneRunsSampleBySample();
};

void TestEvaluator::baselineMatchesPyTorch()
{
    Fixture f;
    Evaluator ev(f.model, f.data, f.pre);
    QCOMPARE(ev.layers().size(), std::size_t(6));
    const Evaluation e = ev.evaluate(std::vector<LayerSetting>(6));
    QVERIFY(e.complete());
    QCOMPARE(e.samples, std::int64_t(2000));
    QCOMPARE(e.metrics.find("top1")->value, 1851.0 / 2000.0); // resources/sample/README.md
    QCOMPARE(e.metrics.find("agreement")->value, 1.0);
    QCOMPARE(e.metrics.find("kl")->value, 0.0);
    QCOMPARE(e.metrics.lost + e.metrics.gained, std::int64_t(0));
    QVERIFY(e.metrics.find("top5")->value > e.metrics.find("top1")->value);
    QCOMPARE(e.metrics.perClass.size(), std::size_t(10));
}

void TestEvaluator::partialResultsArriveChunkByChunk()
{
    Fixture f;
    Evaluator ev(f.model, f.data, f.pre);
    const std::vector<LayerSetting> plan(6, intSetting(4));
    std::vector<std::int64_t> seen;
    const Evaluation last = ev.evaluate(plan, nullptr, [&](const Evaluation& p) {
        seen.push_back(p.samples);
        QCOMPARE(p.metrics.find("top1")->n, p.samples);
    });
    QVERIFY(seen.size() >= 2);
    QCOMPARE(seen.front(), ev.chunkSize());
    QVERIFY(std::is_sorted(seen.begin(), seen.end()));
    QCOMPARE(seen.back(), std::int64_t(2000));
    compareExact(last, ev.evaluate(plan));
}

void TestEvaluator::incrementalEqualsFull()
{
    Fixture f;
    Evaluator cached(f.model, f.data, f.pre);
    Evaluator::Options off;
    off.incremental = false;
    Evaluator full(f.model, f.data, f.pre, off);
    // A slider session: each plan differs from the one before in one layer.
    std::vector<LayerSetting> plan(6);
    cached.evaluate(plan);
    const std::vector<std::pair<std::size_t, LayerSetting>> edits = {
        {5, intSetting(4)}, {0, intSetting(8)}, {4, intSetting(2)}, {1, intSetting(4, Granularity::Group)},
        {2, intSetting(3)}, {5, LayerSetting::none()}, {3, intSetting(2)}, {0, LayerSetting::none()}};
    for (const auto& [layer, setting] : edits) {
        plan[layer] = setting;
        const Evaluation a = cached.evaluate(plan);
        const Evaluation b = full.evaluate(plan);
        compareExact(a, b);
        QVERIFY(a.stepsRun <= b.stepsRun);
    }
    QVERIFY(cached.cachedActivationBytes() > 0);
}

void TestEvaluator::incrementalEqualsFullUnderATightBudget()
{
    // A budget smaller than the cached cuts' values: entries are evicted between chunks while
    // runs restore from others (this once read evicted values).
    Fixture f;
    Evaluator::Options tight;
    tight.activationBudget = std::size_t{3} << 20;
    tight.outputBudget = 20000;   // about a third of the uncompressed outputs: the rest recomputed
    tight.inputBudget = 2 << 20;  // about a third of the preprocessed inputs
    Evaluator cached(f.model, f.data, f.pre, tight);
    Evaluator::Options off;
    off.incremental = false;
    Evaluator full(f.model, f.data, f.pre, off);
    std::vector<LayerSetting> plan(6);
    for (std::size_t round = 0; round < 6; ++round) {
        plan[(round * 5) % 6] = intSetting(static_cast<int>(2 + round % 6));
        compareExact(cached.evaluate(plan), full.evaluate(plan));
        QVERIFY(cached.cachedActivationBytes() <= tight.activationBudget);
    }
}

void TestEvaluator::lastLayerChangeRunsFewNodes()
{
    Fixture f;
    Evaluator ev(f.model, f.data, f.pre);
    std::vector<LayerSetting> plan(6, intSetting(8));
    const Evaluation first = ev.evaluate(plan);
    plan[5] = intSetting(4);
    const Evaluation again = ev.evaluate(plan);
    qInfo("chunk %lld samples; full run %lld steps in %.1f ms, last layer changed: %lld steps in %.1f ms",
          static_cast<long long>(ev.chunkSize()), static_cast<long long>(first.stepsRun), first.seconds * 1e3,
          static_cast<long long>(again.stepsRun), again.seconds * 1e3);
    QVERIFY2(again.stepsRun * 5 <= first.stepsRun,
             qPrintable(QString("%1 vs %2 steps").arg(again.stepsRun).arg(first.stepsRun)));
}

void TestEvaluator::cancelStopsAndRecovers()
{
    Fixture f;
    Evaluator ev(f.model, f.data, f.pre);
    const std::vector<LayerSetting> plan(6, intSetting(3));
    CancelToken cancel;
    int calls = 0;
    QVERIFY_THROWS_EXCEPTION(CancelledError, ev.evaluate(plan, &cancel, [&](const Evaluation&) {
        ++calls;
        cancel.cancel();
    }));
    QCOMPARE(calls, 1);
    Evaluator fresh(f.model, f.data, f.pre);
    compareExact(ev.evaluate(plan), fresh.evaluate(plan));
}

void TestEvaluator::int8PerChannelKeepsAccuracy()
{
    // The acceptance check, on the shipped 2,000 images.
    Fixture f;
    Evaluator ev(f.model, f.data, f.pre);
    const Evaluation base = ev.evaluate(std::vector<LayerSetting>(6));
    const Evaluation q = ev.evaluate(std::vector<LayerSetting>(6, intSetting(8)));
    const double drop = base.metrics.find("top1")->value - q.metrics.find("top1")->value;
    qInfo("top-1 %.4f -> %.4f, agreement %.4f, KL %.2e", base.metrics.find("top1")->value,
          q.metrics.find("top1")->value, q.metrics.find("agreement")->value, q.metrics.find("kl")->value);
    QVERIFY2(std::abs(drop) <= 0.005, qPrintable(QString::number(drop)));
    QVERIFY(q.metrics.find("agreement")->value >= 0.99);
    QVERIFY(q.metrics.find("kl")->value > 0.0);
}

void TestEvaluator::weightStatsPerLayer()
{
    Fixture f;
    Evaluator ev(f.model, f.data, f.pre);
    const Evaluation e8 = ev.evaluate(std::vector<LayerSetting>(6, intSetting(8)));
    const Evaluation e4 = ev.evaluate(std::vector<LayerSetting>(6, intSetting(4)));
    for (std::size_t i = 0; i < 6; ++i) {
        // About 6 dB per bit: int8 is far better than int4.
        QVERIFY(e8.layers[i].weightSqnrDb > e4.layers[i].weightSqnrDb + 15);
        QVERIFY(e4.layers[i].weightSqnrDb > 10);
    }
    QVERIFY(std::isinf(ev.evaluate(std::vector<LayerSetting>(6)).layers[0].weightSqnrDb));
}

void TestEvaluator::rejectsBadPlan()
{
    Fixture f;
    Evaluator ev(f.model, f.data, f.pre);
    QVERIFY_THROWS_EXCEPTION(Error, ev.evaluate(std::vector<LayerSetting>(3)));
}

void TestEvaluator::fixedBatchOfOneRunsSampleBySample()
{
    // Many exported models declare a batch of exactly one ([1, 1, 28, 28] here).
    Fixture f;
    Model fixed = OnnxReader::readModel(kSample);
    QVERIFY(fixed.graph.inputs.front().dims[0] != 1);
    fixed.graph.inputs.front().dims[0] = 1;
    const Evaluator::Options options{.limit = 40};
    Evaluator one(fixed, f.data, f.pre, options);
    QCOMPARE(one.chunkSize(), std::int64_t(1));
    Evaluator batched(f.model, f.data, f.pre, options);
    const std::vector<LayerSetting> plan(6, intSetting(4));
    const Evaluation a = one.evaluate(plan);
    QCOMPARE(a.samples, std::int64_t(40));
    // The same predictions; the scores differ only by the kernels' summation order for one row.
    const Evaluation b = batched.evaluate(plan);
    QCOMPARE(a.metrics.find("top1")->value, b.metrics.find("top1")->value);
    QCOMPARE(a.metrics.find("agreement")->value, b.metrics.find("agreement")->value);
    QCOMPARE(a.metrics.confusion, b.metrics.confusion);
    QVERIFY(std::abs(a.metrics.find("kl")->value - b.metrics.find("kl")->value) <= 1e-6 * b.metrics.find("kl")->value + 1e-9);
}

QTEST_APPLESS_MAIN(TestEvaluator)
#include "tst_evaluator.moc"
