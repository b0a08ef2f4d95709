// The engine bridge on the bundled sample and its 2000 real images: the baseline after loading,
// results equal to a synchronous Evaluator's, the newest request winning (also under a stress
// of 200 random plans), jobs that keep serving live requests, background measurements that
// yield to them, clean destruction mid-work and a source that cannot be evaluated.
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include <cmath>
#include <map>
#include <memory>
#include <random>

#include "compress/LayerSetting.h"
#include "compress/SizeReport.h"
#include "data/Dataset.h"
#include "data/Preprocessing.h"
#include "engine/EngineBridge.h"
#include "eval/Evaluator.h"
#include "io/NpyIO.h"
#include "io/OnnxReader.h"
#include "model/Layer.h"
#include "model/Model.h"

using namespace leger;
using namespace leger::ui;

using EvaluationPtr = std::shared_ptr<const Evaluation>;
using Plan = std::vector<LayerSetting>;

namespace {

const std::string kSample = LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_cnn.onnx";
const std::string kImages = LEGER_SOURCE_DIR "/resources/sample/fashion-mnist-test-2000-images-idx3-ubyte.gz";
constexpr int kTimeout = 20000;

/// The sample, read once for the whole test.
struct Sample {
    std::shared_ptr<const Model> model;
    std::shared_ptr<const Dataset> data;
    Preprocessing pre;
    std::vector<Layer> layers;
    std::shared_ptr<const SizeModel> size;
};

const Sample& sample()
{
    static const Sample s = [] {
        Sample r;
        auto model = std::make_shared<Model>(OnnxReader::readModel(kSample));
        r.data = std::make_shared<const Dataset>(Dataset::read(kImages));
        r.pre = *Preprocessing::readSidecar(kSample);
        r.layers = Layer::find(*model);
        r.size = std::make_shared<const SizeModel>(*model, r.layers);
        r.model = std::move(model);
        return r;
    }();
    return s;
}

Evaluator::Options withLimit(std::int64_t limit)
{
    Evaluator::Options o;
    o.limit = limit;
    return o;
}

void load(EngineBridge& bridge, std::int64_t limit = -1)
{
    const Sample& s = sample();
    bridge.setSource(s.model, s.data, s.pre, s.size, withLimit(limit));
}

/// Loads the sample and waits for the complete baseline.
bool loadAndWait(EngineBridge& bridge, std::int64_t limit = -1)
{
    QSignalSpy baseline(&bridge, &EngineBridge::baselineEvaluated);
    load(bridge, limit);
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < kTimeout) {
        if (!baseline.isEmpty() && baseline.last().at(0).value<EvaluationPtr>()->complete())
            return true;
        baseline.wait(100);
    }
    return false;
}

/// A synchronous Evaluator's result for the same plan and limit (one Evaluator per limit).
Evaluation reference(const Plan& plan, std::int64_t limit = -1)
{
    static std::map<std::int64_t, std::unique_ptr<Evaluator>> evaluators;
    auto& ev = evaluators[limit];
    if (!ev)
        ev = std::make_unique<Evaluator>(*sample().model, *sample().data, sample().pre, withLimit(limit));
    return ev->evaluate(plan);
}

/// Every metric exactly equal (the same arithmetic in the same order).
void compareExact(const Evaluation& a, const Evaluation& b)
{
    QCOMPARE(a.samples, b.samples);
    QCOMPARE(a.total, b.total);
    QVERIFY(a.settings == b.settings);
    QCOMPARE(a.metrics.values.size(), b.metrics.values.size());
    for (const auto& [name, v] : b.metrics.values) {
        const Interval* w = a.metrics.find(name);
        QVERIFY2(w, name.c_str());
        QVERIFY2(w->value == v.value || (std::isnan(w->value) && std::isnan(v.value)), name.c_str());
        QVERIFY2(w->low == v.low || (std::isnan(w->low) && std::isnan(v.low)), name.c_str());
    }
    QCOMPARE(a.metrics.confusion, b.metrics.confusion);
    QCOMPARE(a.metrics.lost, b.metrics.lost);
    QCOMPARE(a.metrics.gained, b.metrics.gained);
}

Plan uniform(const std::string& spec) { return Plan(sample().layers.size(), parseSettingSpec(spec)); }

Plan planOf(const QStringList& specs)
{
    Plan plan;
    for (const QString& s : specs)
        plan.push_back(parseSettingSpec(s.toStdString()));
    return plan;
}

/// Random bits, granularity, symmetry, clipping and sparsity per layer.
Plan randomPlan(std::mt19937& rng)
{
    Plan plan(sample().layers.size());
    for (LayerSetting& s : plan) {
        switch (rng() % 8) {
        case 0:
            break; // uncompressed
        case 1:
            s.format = WeightFormat::Float16;
            break;
        default:
            s.format = WeightFormat::Int;
            s.bits = 2 + static_cast<int>(rng() % 7);
            s.granularity = Granularity(rng() % 3);
            s.groupSize = 32 << (rng() % 3);
            s.symmetric = rng() % 2;
            s.clip = Clipping(rng() % 2);
        }
        switch (rng() % 4) {
        case 0:
            s.sparsity = 0.1 * static_cast<double>(rng() % 8);
            break;
        case 1:
            s.pattern = SparsityPattern::N2M4;
            break;
        default:
            break;
        }
    }
    return plan;
}

/// Waits for the complete evaluated() result of a generation; nullptr on time-out or failure.
EvaluationPtr waitComplete(EngineBridge& bridge, quint64 generation)
{
    EvaluationPtr result;
    bool failed = false;
    QMetaObject::Connection c1 = QObject::connect(&bridge, &EngineBridge::evaluated, [&](quint64 g, const EvaluationPtr& e) {
        if (g == generation && e->complete())
            result = e;
    });
    QMetaObject::Connection c2 = QObject::connect(&bridge, &EngineBridge::evaluationFailed, [&](quint64 g, const QString&) {
        failed = failed || g == generation;
    });
    QElapsedTimer t;
    t.start();
    while (!result && !failed && t.elapsed() < kTimeout)
        QTest::qWait(5);
    QObject::disconnect(c1);
    QObject::disconnect(c2);
    return result;
}

} // namespace

class TestEngineBridge : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void baselineArrivesChunkByChunk();
    void evaluateEqualsSynchronous_data();
    void evaluateEqualsSynchronous();
    void newestRequestWins();
    void stressRandomPlansNeverDeliverStale();
    void jobServesLiveRequests();
    void jobAdvancesUnderAStreamOfRequests();
    void cancelJob_data();
    void cancelJob();
    void sweepAndFitReportExactSizes();
    void measurementsYieldToLiveRequests();
    void destroyMidWork_data();
    void destroyMidWork();
    void badSourceFails_data();
    void badSourceFails();
};

void TestEngineBridge::initTestCase()
{
    QCOMPARE(sample().layers.size(), std::size_t(6));
}

void TestEngineBridge::baselineArrivesChunkByChunk()
{
    EngineBridge bridge;
    QCOMPARE(bridge.state(), EngineState::NoSource);
    QSignalSpy ready(&bridge, &EngineBridge::sourceReady);
    QSignalSpy states(&bridge, &EngineBridge::stateChanged);
    std::vector<EvaluationPtr> baseline;
    connect(&bridge, &EngineBridge::baselineEvaluated, this, [&](const EvaluationPtr& e) { baseline.push_back(e); });
    load(bridge);
    QCOMPARE(bridge.state(), EngineState::Loading);
    QTRY_VERIFY_WITH_TIMEOUT(!baseline.empty() && baseline.back()->complete(), kTimeout);
    QCOMPARE(ready.count(), 1);
    QCOMPARE(ready.at(0).at(0).toLongLong(), qint64(2000));
    const qint64 chunk = ready.at(0).at(1).toLongLong();
    QVERIFY(chunk > 0 && chunk < 2000);
    // Partials first, growing by whole chunks (some may be coalesced), then the complete one.
    QVERIFY2(baseline.size() >= 2, "no partial result before the complete baseline");
    for (std::size_t i = 0; i + 1 < baseline.size(); ++i) {
        QVERIFY(!baseline[i]->complete());
        QCOMPARE(baseline[i]->samples % chunk, qint64(0));
        QVERIFY(baseline[i + 1]->samples > baseline[i]->samples);
    }
    const Evaluation& e = *baseline.back();
    QCOMPARE(e.samples, std::int64_t(2000));
    QVERIFY(std::all_of(e.settings.begin(), e.settings.end(), [](const LayerSetting& s) { return s.isNone(); }));
    // What leger-cli eval reports for the sample (top-1 92.55 %, resources/sample/README.md).
    QCOMPARE(e.metrics.find("top1")->value, 1851.0 / 2000.0);
    QCOMPARE(e.metrics.find("agreement")->value, 1.0);
    QCOMPARE(bridge.state(), EngineState::Idle);
    QVERIFY(states.count() >= 2);
    QCOMPARE(states.at(0).at(0).value<EngineState>(), EngineState::Loading);
    QCOMPARE(states.last().at(0).value<EngineState>(), EngineState::Idle);
}

void TestEngineBridge::evaluateEqualsSynchronous_data()
{
    QTest::addColumn<QStringList>("specs");
    QTest::newRow("int8 per channel") << QStringList{"int8", "int8", "int8", "int8", "int8", "int8"};
    QTest::newRow("int4 groups, mixed") << QStringList{"int8", "int4-g32", "int4-g32-asym", "int6", "int4-g64-mse", "int3"};
    QTest::newRow("pruned") << QStringList{"float32", "int8-2:4", "float16-s50", "int8-c25", "int4-s30", "float32"};
    QTest::newRow("last layer only") << QStringList{"float32", "float32", "float32", "float32", "float32", "int2-tensor"};
}

void TestEngineBridge::evaluateEqualsSynchronous()
{
    QFETCH(QStringList, specs);
    const Plan plan = planOf(specs);
    EngineBridge bridge;
    QVERIFY(loadAndWait(bridge));
    std::vector<EvaluationPtr> results;
    connect(&bridge, &EngineBridge::evaluated, this, [&](quint64, const EvaluationPtr& e) { results.push_back(e); });
    QSignalSpy states(&bridge, &EngineBridge::stateChanged);
    const quint64 g = bridge.evaluate(plan);
    QCOMPARE(g, bridge.latestGeneration());
    QCOMPARE(bridge.state(), EngineState::Evaluating);
    QTRY_VERIFY_WITH_TIMEOUT(!results.empty() && results.back()->complete(), kTimeout);
    for (std::size_t i = 0; i + 1 < results.size(); ++i) {
        QVERIFY(!results[i]->complete());
        QVERIFY(results[i + 1]->samples > results[i]->samples);
        QVERIFY(results[i]->settings == plan);
    }
    compareExact(*results.back(), reference(plan));
    QCOMPARE(bridge.state(), EngineState::Idle);
    QCOMPARE(states.count(), 2); // Evaluating, Idle
}

void TestEngineBridge::newestRequestWins()
{
    EngineBridge bridge;
    QVERIFY(loadAndWait(bridge));
    std::mt19937 rng(7);
    std::vector<quint64> emitted;
    connect(&bridge, &EngineBridge::evaluated, this, [&](quint64 g, const EvaluationPtr&) {
        QCOMPARE(g, bridge.latestGeneration());
        emitted.push_back(g);
    });
    Plan last;
    quint64 lastGeneration = 0;
    for (int i = 0; i < 6; ++i) {
        last = randomPlan(rng);
        lastGeneration = bridge.evaluate(last);
    }
    const EvaluationPtr result = waitComplete(bridge, lastGeneration);
    QVERIFY(result);
    QVERIFY(!emitted.empty());
    // Requested back to back, before any result could be delivered: only the last one's.
    for (quint64 g : emitted)
        QCOMPARE(g, lastGeneration);
    compareExact(*result, reference(last));
}

void TestEngineBridge::stressRandomPlansNeverDeliverStale()
{
    EngineBridge bridge;
    QVERIFY(loadAndWait(bridge));
    std::mt19937 rng(2024);
    std::map<quint64, Plan> requested;
    int delivered = 0, complete = 0, stale = 0, wrongSettings = 0, failures = 0;
    connect(&bridge, &EngineBridge::evaluated, this, [&](quint64 g, const EvaluationPtr& e) {
        ++delivered;
        complete += e->complete();
        stale += g != bridge.latestGeneration();
        wrongSettings += !(requested.count(g) && e->settings == requested[g]);
    });
    connect(&bridge, &EngineBridge::evaluationFailed, this, [&](quint64, const QString&) { ++failures; });
    const int count = 200;
    int issued = 0;
    QTimer timer;
    timer.setSingleShot(true);
    connect(&timer, &QTimer::timeout, this, [&] {
        Plan plan = randomPlan(rng);
        const quint64 g = bridge.evaluate(plan);
        requested[g] = std::move(plan);
        if (++issued < count)
            timer.start(static_cast<int>(rng() % 31));
    });
    timer.start(0);
    QTRY_VERIFY_WITH_TIMEOUT(issued == count, 60000);
    const quint64 lastGeneration = bridge.latestGeneration();
    const EvaluationPtr result = waitComplete(bridge, lastGeneration);
    QVERIFY(result);
    qInfo("%d requests: %d results delivered (%d complete)", count, delivered, complete);
    QCOMPARE(stale, 0);
    QCOMPARE(wrongSettings, 0);
    QCOMPARE(failures, 0);
    QVERIFY(delivered >= 1);
    compareExact(*result, reference(requested[lastGeneration]));
    QTRY_COMPARE(bridge.state(), EngineState::Idle);
}

void TestEngineBridge::jobAdvancesUnderAStreamOfRequests()
{
    // Requests every 10 ms, each costing more than that to evaluate: the job still finishes,
    // because the worker serves one live request between two of the job's evaluations.
    EngineBridge bridge;
    QVERIFY(loadAndWait(bridge));
    std::mt19937 rng(7);
    QTimer stream;
    int requests = 0;
    connect(&stream, &QTimer::timeout, this, [&] {
        bridge.evaluate(randomPlan(rng));
        ++requests;
    });
    QSignalSpy done(&bridge, &EngineBridge::sensitivityDone);
    QSignalSpy delivered(&bridge, &EngineBridge::evaluated);
    bridge.startSensitivity({parseSettingSpec("int8"), parseSettingSpec("int4")}, QString());
    stream.start(10);
    QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, kTimeout);
    QVERIFY(stream.isActive()); // the requests never paused
    stream.stop();
    qInfo("%d requests while the job ran; %lld results delivered", requests, static_cast<long long>(delivered.count()));
    // (How many of them got a result depends on the machine's load: each was superseded 10 ms
    // later.) The newest one is answered, completely, once the stream stops.
    const quint64 last = bridge.latestGeneration();
    QTRY_VERIFY_WITH_TIMEOUT(std::any_of(delivered.begin(), delivered.end(),
                                         [&](const QList<QVariant>& args) {
                                             return args.at(0).toULongLong() == last &&
                                                    args.at(1).value<EvaluationPtr>()->complete();
                                         }),
                             kTimeout);
}

void TestEngineBridge::jobServesLiveRequests()
{
    EngineBridge bridge;
    QVERIFY(loadAndWait(bridge));
    const std::vector<LayerSetting> columns{parseSettingSpec("int8"), parseSettingSpec("int4")};
    QStringList events;
    std::vector<std::pair<qint64, qint64>> progress;
    quint64 liveGeneration = 0;
    const Plan livePlan = uniform("int6-g32");
    EvaluationPtr live;
    std::shared_ptr<const SensitivityTable> table;
    quint64 job = 0;
    connect(&bridge, &EngineBridge::jobProgress, this, [&](quint64 id, qint64 done, qint64 total, const QString&) {
        QCOMPARE(id, job);
        progress.emplace_back(done, total);
        if (liveGeneration == 0) {
            QCOMPARE(bridge.state(), EngineState::Job);
            liveGeneration = bridge.evaluate(livePlan); // while the job runs
        }
    });
    connect(&bridge, &EngineBridge::evaluated, this, [&](quint64 g, const EvaluationPtr& e) {
        if (g == liveGeneration && e->complete()) {
            live = e;
            events << "live";
        }
    });
    connect(&bridge, &EngineBridge::sensitivityDone, this, [&](quint64 id, const std::shared_ptr<const SensitivityTable>& t) {
        QCOMPARE(id, job);
        table = t;
        events << "job";
    });
    QSignalSpy failed(&bridge, &EngineBridge::jobFailed);
    job = bridge.startSensitivity(columns, QString());
    QCOMPARE(bridge.state(), EngineState::Job);
    QTRY_VERIFY_WITH_TIMEOUT(table != nullptr, kTimeout);
    QCOMPARE(failed.count(), 0);
    QCOMPARE(events, (QStringList{"live", "job"})); // answered before the job ended
    compareExact(*live, reference(livePlan));
    // 6 layers x 2 settings, progress counting up to the total.
    QCOMPARE(table->metric, std::string("top1"));
    QCOMPARE(table->drop.size(), std::size_t(6));
    QVERIFY(progress.size() >= 2);
    for (std::size_t i = 0; i < progress.size(); ++i) {
        QCOMPARE(progress[i].second, qint64(12));
        if (i > 0)
            QVERIFY(progress[i].first > progress[i - 1].first);
    }
    QCOMPARE(progress.back().first, qint64(12));
    // Each cell was measured on the same Evaluator as the live request: still exact.
    Plan plan(6);
    plan[0] = columns[1];
    compareExact(table->evaluations[0][1], reference(plan));
    QCOMPARE(table->drop[0][1], table->baseline - table->evaluations[0][1].metrics.find("top1")->value);
    QTRY_COMPARE(bridge.state(), EngineState::Idle);
}

void TestEngineBridge::cancelJob_data()
{
    QTest::addColumn<bool>("running");
    QTest::newRow("running") << true;
    QTest::newRow("pending") << false;
}

void TestEngineBridge::cancelJob()
{
    QFETCH(bool, running);
    EngineBridge bridge;
    QVERIFY(loadAndWait(bridge));
    QSignalSpy failed(&bridge, &EngineBridge::jobFailed);
    QSignalSpy done(&bridge, &EngineBridge::sensitivityDone);
    const std::vector<LayerSetting> columns{parseSettingSpec("int8"), parseSettingSpec("int6"), parseSettingSpec("int4"),
                                            parseSettingSpec("int3-g32")};
    quint64 job = 0;
    if (running) {
        job = bridge.startSensitivity(columns, QString());
        QSignalSpy progress(&bridge, &EngineBridge::jobProgress);
        QVERIFY(progress.wait(kTimeout));
        bridge.cancelJob();
        QCOMPARE(bridge.state(), EngineState::Job); // until it has stopped
    } else {
        // The worker is busy with a live request: the first job is still pending when the
        // second replaces it.
        bridge.evaluate(uniform("int4"));
        job = bridge.startSensitivity(columns, QString());
        const quint64 second = bridge.startSensitivity({parseSettingSpec("int8")}, QString());
        QVERIFY(second > job);
        QTRY_VERIFY_WITH_TIMEOUT(done.count() == 1, kTimeout);
        QCOMPARE(done.at(0).at(0).toULongLong(), second);
    }
    QTRY_VERIFY_WITH_TIMEOUT(failed.count() == 1, kTimeout);
    QCOMPARE(failed.at(0).at(0).toULongLong(), job);
    QCOMPARE(failed.at(0).at(2).toBool(), true);
    QTRY_COMPARE_WITH_TIMEOUT(bridge.state(), EngineState::Idle, kTimeout);
    QTest::qWait(50);
    QCOMPARE(failed.count(), 1);
    for (const auto& args : done)
        QVERIFY(args.at(0).toULongLong() != job);
    // The engine is still usable.
    const Plan plan = uniform("int8");
    const EvaluationPtr e = waitComplete(bridge, bridge.evaluate(plan));
    QVERIFY(e);
    compareExact(*e, reference(plan));
}

void TestEngineBridge::sweepAndFitReportExactSizes()
{
    const std::int64_t limit = 500;
    EngineBridge bridge;
    QVERIFY(loadAndWait(bridge, limit));
    QSignalSpy tables(&bridge, &EngineBridge::sensitivityDone);
    QSignalSpy sweeps(&bridge, &EngineBridge::sweepDone);
    QSignalSpy fits(&bridge, &EngineBridge::fitDone);
    QSignalSpy failed(&bridge, &EngineBridge::jobFailed);
    bridge.startSensitivity({parseSettingSpec("int8"), parseSettingSpec("int4"), parseSettingSpec("int2-g32")}, "top1");
    QVERIFY(tables.wait(kTimeout));
    const auto table = tables.at(0).at(1).value<std::shared_ptr<const SensitivityTable>>();

    const quint64 sweep = bridge.startSweep(table, 5);
    QVERIFY(sweeps.wait(kTimeout));
    QCOMPARE(sweeps.at(0).at(0).toULongLong(), sweep);
    const auto points = sweeps.at(0).at(1).value<std::shared_ptr<const std::vector<FrontierPoint>>>();
    QVERIFY(points->size() >= 2);
    for (const FrontierPoint& p : *points) {
        QCOMPARE(p.sizeBytes, sample().size->total(p.plan));
        QVERIFY(p.evaluation.complete());
        QCOMPARE(p.evaluation.samples, limit);
    }
    compareExact(points->back().evaluation, reference(points->back().plan, limit));

    const quint64 fit = bridge.startFitMaxDrop(table, 0.01);
    QVERIFY(fits.wait(kTimeout));
    QCOMPARE(fits.at(0).at(0).toULongLong(), fit);
    const auto result = fits.at(0).at(1).value<std::shared_ptr<const BudgetResult>>();
    QVERIFY(result->found);
    QCOMPARE(result->best.sizeBytes, sample().size->total(result->best.plan));
    QVERIFY(table->baseline - result->best.quality <= 0.01);
    QVERIFY(result->best.sizeBytes < sample().size->total(Plan(6)));
    for (const FrontierPoint& p : result->tried)
        QCOMPARE(p.sizeBytes, sample().size->total(p.plan));

    const qint64 budget = sample().size->total(uniform("int4"));
    bridge.startFitBudget(table, budget);
    QVERIFY(fits.wait(kTimeout));
    const auto underBudget = fits.at(1).at(1).value<std::shared_ptr<const BudgetResult>>();
    QVERIFY(underBudget->found);
    QCOMPARE(underBudget->best.sizeBytes, sample().size->total(underBudget->best.plan));
    QVERIFY(underBudget->best.sizeBytes <= budget);
    QCOMPARE(failed.count(), 0);
}

void TestEngineBridge::measurementsYieldToLiveRequests()
{
    EngineBridge bridge;
    QVERIFY(loadAndWait(bridge));
    QStringList events;
    std::map<QString, EvaluationPtr> measured;
    connect(&bridge, &EngineBridge::measured, this, [&](const QString& tag, const EvaluationPtr& e) {
        QVERIFY(e->complete());
        QVERIFY(!measured.count(tag));
        measured[tag] = e;
        events << tag;
    });
    quint64 liveGeneration = 0;
    connect(&bridge, &EngineBridge::evaluated, this, [&](quint64 g, const EvaluationPtr& e) {
        if (g == liveGeneration && e->complete())
            events << "live";
    });
    const QStringList presets{"int8", "int4-g32", "int2-g32"};
    for (const QString& p : presets)
        bridge.measure(uniform(p.toStdString()), p);
    QCOMPARE(bridge.state(), EngineState::Evaluating);
    // Let the first measurement start, then ask for a live point: it pre-empts it.
    QTest::qWait(10);
    const Plan livePlan = uniform("int3-g64");
    liveGeneration = bridge.evaluate(livePlan);
    QTRY_VERIFY_WITH_TIMEOUT(measured.size() == 3, kTimeout);
    QCOMPARE(events, (QStringList{"live", "int8", "int4-g32", "int2-g32"}));
    for (const QString& p : presets)
        compareExact(*measured[p], reference(uniform(p.toStdString())));
    QTRY_COMPARE(bridge.state(), EngineState::Idle);
    // setSource drops what is queued.
    QSignalSpy later(&bridge, &EngineBridge::measured);
    bridge.measure(uniform("int8"), "dropped");
    load(bridge, 100);
    QVERIFY(!later.wait(500));
}

void TestEngineBridge::destroyMidWork_data()
{
    QTest::addColumn<QString>("stage");
    QTest::newRow("loading") << "loading";
    QTest::newRow("evaluating") << "evaluating";
    QTest::newRow("job") << "job";
    QTest::newRow("live during job") << "live during job";
    QTest::newRow("measuring") << "measuring";
}

void TestEngineBridge::destroyMidWork()
{
    QFETCH(QString, stage);
    auto bridge = std::make_unique<EngineBridge>();
    if (stage == "loading") {
        load(*bridge);
    } else {
        QVERIFY(loadAndWait(*bridge));
        if (stage == "evaluating") {
            QSignalSpy partial(bridge.get(), &EngineBridge::evaluated);
            bridge->evaluate(uniform("int4-g32-mse"));
            QVERIFY(partial.wait(kTimeout));
            QVERIFY(!partial.last().at(1).value<EvaluationPtr>()->complete());
        } else if (stage == "measuring") {
            bridge->measure(uniform("int4-g32-mse"), "a");
            bridge->measure(uniform("int2"), "b");
            QTest::qWait(20);
        } else {
            QSignalSpy progress(bridge.get(), &EngineBridge::jobProgress);
            bridge->startSensitivity({parseSettingSpec("int8"), parseSettingSpec("int4-mse")}, QString());
            QVERIFY(progress.wait(kTimeout));
            if (stage == "live during job")
                bridge->evaluate(uniform("int3-g32-mse"));
        }
    }
    QElapsedTimer t;
    t.start();
    bridge.reset();
    // Cancelled at the next chunk or node, not run to the end.
    QVERIFY2(t.elapsed() < 2000, qPrintable(QString::number(t.elapsed()) + " ms to join"));
    QTest::qWait(20); // nothing queued to the dead object may run
}

void TestEngineBridge::badSourceFails_data()
{
    QTest::addColumn<QString>("data");
    QTest::addColumn<QString>("expected"); // in the message
    QTest::newRow("samples of the wrong size") << "memory" << "in-memory";
    QTest::newRow("images of another size") << "npz" << "images32.npz";
    QTest::newRow("no data") << "" << "data";
}

void TestEngineBridge::badSourceFails()
{
    QFETCH(QString, data);
    QFETCH(QString, expected);
    std::shared_ptr<const Dataset> dataset;
    if (data == "memory") {
        auto d = std::make_shared<Dataset>();
        d->samples = Tensor(DType::Float32, {4, 5}); // (N, 5): the model takes (1, 28, 28)
        d->samples.zero();
        d->source = "in-memory data";
        dataset = std::move(d);
    } else if (data == "npz") {
        // 32x32 images with labels, for a model that takes 28x28 (and no resize asked).
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = dir.filePath("images32.npz").toStdString();
        Tensor x(DType::UInt8, {6, 32, 32});
        x.zero();
        Tensor y(DType::Int64, {6});
        y.zero();
        NpyIO::writeNpz(path, {{"x", x}, {"y", y}});
        dataset = std::make_shared<const Dataset>(Dataset::read(path));
    }
    EngineBridge bridge;
    QSignalSpy failed(&bridge, &EngineBridge::sourceFailed);
    QSignalSpy ready(&bridge, &EngineBridge::sourceReady);
    bridge.setSource(sample().model, dataset, sample().pre, sample().size);
    QVERIFY(failed.wait(kTimeout));
    const QString message = failed.at(0).at(0).toString();
    qInfo("%s", qPrintable(message));
    QVERIFY2(message.contains(expected), qPrintable(message));
    QCOMPARE(ready.count(), 0);
    QCOMPARE(bridge.state(), EngineState::NoSource);
    // Requests get the reason instead of a result.
    QSignalSpy evalFailed(&bridge, &EngineBridge::evaluationFailed);
    const quint64 g = bridge.evaluate(uniform("int8"));
    QVERIFY(evalFailed.wait(kTimeout));
    QCOMPARE(evalFailed.at(0).at(0).toULongLong(), g);
    QCOMPARE(evalFailed.at(0).at(1).toString(), message);
    // The same bridge loads a good source afterwards.
    QVERIFY(loadAndWait(bridge, 200));
    QCOMPARE(bridge.state(), EngineState::Idle);
}

QTEST_MAIN(TestEngineBridge)
#include "tst_enginebridge.moc"
