// The Workbench on the bundled sample: opening (and refusing bad files without losing the open
// document), the debounced live evaluation of the plan, undo that merges a drag, a stress test
// of rapid random edits in which no result of another plan is ever shown, and sessions.
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QUndoStack>
#include <QtTest>

#include "data/Dataset.h"
#include "data/Preprocessing.h"
#include "eval/Evaluator.h"
#include "compress/Plan.h"
#include "io/Exporter.h"
#include "io/OnnxReader.h"
#include "llm/LanguageModel.h"
#include "llm/LlmEvaluator.h"
#include "compress/Presets.h"
#include "model/Model.h"
#include "report/Report.h"
#include "session/SessionFile.h"
#include "util/AtomicFile.h"
#include "util/Error.h"
#include "workbench/MetricInfo.h"
#include "workbench/Workbench.h"

using namespace leger;
using namespace leger::ui;

namespace {
const QString kSample = LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_cnn.onnx";
const QString kImages = LEGER_SOURCE_DIR "/resources/sample/fashion-mnist-test-2000-images-idx3-ubyte.gz";
const QString kSmall = LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_small.onnx";
const QString kLlm = LEGER_SOURCE_DIR "/resources/llm/tiny-llama-f32.gguf";
const QString kHeldout = LEGER_SOURCE_DIR "/resources/llm/heldout.txt";
const QString kGpt2 = LEGER_SOURCE_DIR "/resources/llm/gpt2";

/// The same plan evaluated synchronously, for comparison.
Evaluation reference(const std::vector<LayerSetting>& plan, std::int64_t limit = -1)
{
    const Model m = OnnxReader::readModel(kSample.toStdString());
    const Dataset d = Dataset::read(kImages.toStdString(), limit);
    Evaluator e(m, d, *Preprocessing::readSidecar(kSample.toStdString()));
    return e.evaluate(plan);
}

bool waitComplete(Workbench& w, int ms = 60000)
{
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < ms) {
        if (auto c = w.current(); c && c->complete())
            return true;
        QTest::qWait(10);
    }
    return false;
}

bool waitBaseline(Workbench& w, int ms = 60000)
{
    return QTest::qWaitFor([&] { return w.baseline() && w.baseline()->complete(); }, ms);
}

/// Waits until no compared model is waiting to be measured.
bool waitComparisons(Workbench& w, int ms = 60000)
{
    return QTest::qWaitFor([&] { return w.pendingComparisons().isEmpty(); }, ms);
}

/// The error messages the Workbench emits while f runs and its comparisons settle.
QStringList errorsDuring(Workbench& w, const std::function<void()>& f)
{
    QStringList errors;
    auto c = QObject::connect(&w, &Workbench::message, [&](const QString& text, bool error) {
        if (error)
            errors << text;
    });
    f();
    waitComparisons(w);
    QObject::disconnect(c);
    return errors;
}
} // namespace

class TestWorkbench : public QObject {
    Q_OBJECT
private slots:
    void opensSampleAndMeasuresBaseline();
    void badFilesKeepTheOpenDocument_data();
    void badFilesKeepTheOpenDocument();
    void editIsMeasuredAfterDebounce();
    void dragIsOneUndoStep();
    void dragBackToStartLeavesNoStep();
    void restoringAPointRestoresItsPlan();
    void stressNeverShowsAnotherPlansResult();
    void sessionRoundTrip();
    void syntheticInputsMeasureAgreement();
    void containerOpensAtItsStoredSettings();
    void comparesAnotherModelOnTheSameData();
    void comparisonRefusals_data();
    void comparisonRefusals();
    void newDataMeasuresComparisonsAgainAndNewModelDropsThem();
    void destroyedWhileMeasuringAComparison();
    void sessionKeepsComparisons();
    void languageModelLiveLoop();
};

void TestWorkbench::opensSampleAndMeasuresBaseline()
{
    Workbench w;
    QSignalSpy model(&w, &Workbench::modelChanged);
    QString error;
    QVERIFY2(w.open(kSample, kImages, &error), qPrintable(error));
    QCOMPARE(model.count(), 1);
    QCOMPARE(w.layers().size(), std::size_t{6}); // four convolutions, fc1 and fc2
    QCOMPARE(w.sizeReport().total, w.sizeModel()->total(std::vector<LayerSetting>(6)));
    QVERIFY(waitBaseline(w));
    const Evaluation ref = reference(std::vector<LayerSetting>(6));
    QCOMPARE(w.baseline()->metrics.find("top1")->value, ref.metrics.find("top1")->value);
    QCOMPARE(w.metric(), QString("top1"));
    // The uniform presets are measured in the background and become points.
    QVERIFY(QTest::qWaitFor([&] { return w.points().size() == static_cast<int>(w.presets().size()); }, 60000));
    for (const PlanPoint& p : w.points()) {
        QCOMPARE(p.kind, PointKind::Preset);
        QVERIFY(p.evaluation->complete());
        QCOMPARE(p.sizeBytes, w.sizeOf(p.settings));
    }
}

void TestWorkbench::badFilesKeepTheOpenDocument_data()
{
    QTest::addColumn<QString>("model");
    QTest::addColumn<QString>("data");
    QTest::addColumn<QString>("expected"); // part of the message
    QTest::newRow("missing model") << "/nonexistent/m.onnx" << QString() << "/nonexistent/m.onnx";
    QTest::newRow("not onnx") << kImages << QString() << kImages;
    QTest::newRow("missing container") << "/nonexistent/x.leger" << QString() << "/nonexistent/x.leger";
    QTest::newRow("missing data") << kSample << "/nonexistent/d.npz" << "/nonexistent/d.npz";
    QTest::newRow("labels as images") << kSample
                                      << LEGER_SOURCE_DIR "/resources/sample/fashion-mnist-test-2000-labels-idx1-ubyte.gz"
                                      << "labels-idx1-ubyte";
}

void TestWorkbench::badFilesKeepTheOpenDocument()
{
    QFETCH(QString, model);
    QFETCH(QString, data);
    QFETCH(QString, expected);
    Workbench w;
    QString error;
    QVERIFY(w.open(kSample, kImages, &error));
    w.editLayers({0}, [](LayerSetting s) { s.format = WeightFormat::Int; s.bits = 4; return s; }, "edit");
    const auto before = w.settings();
    QSignalSpy changed(&w, &Workbench::modelChanged);
    QVERIFY(!w.open(model, data, &error));
    QVERIFY2(error.contains(expected), qPrintable(error));
    QCOMPARE(changed.count(), 0);
    QCOMPARE(w.modelPath(), QFileInfo(kSample).absoluteFilePath());
    QVERIFY(w.settings() == before);
    QCOMPARE(w.undoStack()->count(), 1);
}

void TestWorkbench::editIsMeasuredAfterDebounce()
{
    Workbench w;
    QString error;
    QVERIFY(w.open(kSample, kImages, &error));
    QVERIFY(waitBaseline(w));
    QSignalSpy current(&w, &Workbench::currentChanged);
    w.editLayers({0, 1, 2, 3, 4, 5}, [](LayerSetting s) { s.format = WeightFormat::Int; s.bits = 4; return s; }, "int4");
    QVERIFY(!w.current()); // not measured yet: nothing is shown for this plan
    QVERIFY(waitComplete(w));
    const Evaluation ref = reference(w.settings());
    QCOMPARE(w.current()->metrics.find("top1")->value, ref.metrics.find("top1")->value);
    QCOMPARE(w.current()->metrics.find("kl")->value, ref.metrics.find("kl")->value);
    // It joined the trail, at its exact size.
    const PlanPoint& last = w.points().back();
    QCOMPARE(last.kind, PointKind::Trail);
    QVERIFY(last.settings == w.settings());
    QCOMPARE(last.sizeBytes, w.sizeReport().total);
}

void TestWorkbench::dragIsOneUndoStep()
{
    Workbench w;
    QString error;
    QVERIFY(w.open(kSample, kImages, &error));
    const int drag = w.newDragId();
    for (int bits : {8, 7, 6, 5, 4, 3})
        w.editLayers({1, 2}, [bits](LayerSetting s) { s.format = WeightFormat::Int; s.bits = bits; return s; }, "bits", drag);
    QCOMPARE(w.undoStack()->count(), 1);
    QCOMPARE(w.settings()[1].bits, 3);
    w.undoStack()->undo();
    QVERIFY(w.settings()[1].isNone() && w.settings()[2].isNone());
    w.undoStack()->redo();
    QCOMPARE(w.settings()[2].bits, 3);
    // A new drag is a new step; edits without a drag id never merge.
    const int drag2 = w.newDragId();
    w.editLayers({1, 2}, [](LayerSetting s) { s.bits = 5; return s; }, "bits", drag2);
    w.editLayers({1, 2}, [](LayerSetting s) { s.bits = 6; return s; }, "bits", drag2);
    w.editLayers({1}, [](LayerSetting s) { s.symmetric = false; return s; }, "asym");
    w.editLayers({1}, [](LayerSetting s) { s.clip = Clipping::Mse; return s; }, "mse");
    QCOMPARE(w.undoStack()->count(), 4);
}

void TestWorkbench::dragBackToStartLeavesNoStep()
{
    Workbench w;
    QString error;
    QVERIFY(w.open(kSample, kImages, &error));
    const int drag = w.newDragId();
    for (double sp : {0.1, 0.2, 0.1, 0.0})
        w.editLayers({3}, [sp](LayerSetting s) { s.sparsity = sp; return s; }, "sparsity", drag);
    QCOMPARE(w.undoStack()->count(), 0);
    QVERIFY(w.settings()[3].isNone());
}

void TestWorkbench::restoringAPointRestoresItsPlan()
{
    Workbench w;
    QString error;
    QVERIFY(w.open(kSample, kImages, &error));
    QVERIFY(waitBaseline(w));
    w.editLayers({3}, [](LayerSetting s) { s.format = WeightFormat::Int; s.bits = 2; return s; }, "int2");
    QVERIFY(waitComplete(w));
    const PlanPoint p = w.points().back();
    w.editLayers({0}, [](LayerSetting s) { s.format = WeightFormat::Float16; return s; }, "fp16");
    QVERIFY(!(w.settings() == p.settings));
    QSignalSpy current(&w, &Workbench::currentChanged);
    w.restorePoint(p.id);
    QVERIFY(w.settings() == p.settings);
    // Its measurement comes back from the history, without running the engine again.
    QVERIFY(waitComplete(w, 2000));
    QCOMPARE(w.current()->metrics.find("top1")->value, p.evaluation->metrics.find("top1")->value);
}

void TestWorkbench::stressNeverShowsAnotherPlansResult()
{
    Workbench w;
    QString error;
    QVERIFY(w.open(kSample, kImages, &error));
    QVERIFY(waitBaseline(w));
    int shown = 0, stale = 0;
    // Every time the shown result changes, it must be a result of the plan being edited.
    connect(&w, &Workbench::currentChanged, this, [&] {
        if (auto c = w.current()) {
            ++shown;
            if (!(c->settings == w.settings()))
                ++stale;
        }
    });
    auto* rng = QRandomGenerator::global();
    QElapsedTimer t;
    t.start();
    int edits = 0;
    while (t.elapsed() < 4000) {
        const int layer = rng->bounded(static_cast<int>(w.layers().size()));
        const int bits = 2 + rng->bounded(7);
        const int g = rng->bounded(3);
        const double sp = 0.05 * rng->bounded(10);
        w.editLayers({layer},
                     [=](LayerSetting s) {
                         s.format = WeightFormat::Int;
                         s.bits = bits;
                         s.granularity = static_cast<Granularity>(g);
                         s.sparsity = sp;
                         return s;
                     },
                     "random", rng->bounded(3) ? w.newDragId() : 0);
        ++edits;
        QTest::qWait(rng->bounded(40)); // faster than the debounce, then slower than a chunk
    }
    QVERIFY(waitComplete(w));
    QCOMPARE(stale, 0);
    QVERIFY2(shown > 0, "no result was shown during the stress test");
    const Evaluation ref = reference(w.settings());
    QCOMPARE(w.current()->metrics.find("top1")->value, ref.metrics.find("top1")->value);
    QCOMPARE(w.current()->samples, ref.samples);
    qInfo("%d edits, %d results shown, none stale", edits, shown);
}

void TestWorkbench::sessionRoundTrip()
{
    QTemporaryDir dir;
    const QString path = dir.filePath("s.leger-session");
    SessionData saved;
    std::vector<LayerSetting> plan;
    {
        Workbench w;
        QString error;
        QVERIFY(w.open(kSample, kImages, &error));
        QVERIFY(waitBaseline(w));
        w.editLayers({2}, [](LayerSetting s) { s.format = WeightFormat::Int; s.bits = 4; s.granularity = Granularity::Group; return s; }, "g32");
        QVERIFY(waitComplete(w));
        w.setBudgetBytes(90000);
        w.setMaxDrop(0.01);
        w.setXAxis("bpw");
        w.setMetric("agreement");
        saved = w.toSession();
        plan = w.settings();
        QVERIFY(SessionFile::write(path, saved, &error));
    }
    QString error, warning;
    const auto read = SessionFile::read(path, &error);
    QVERIFY2(read, qPrintable(error));
    QVERIFY(*read == saved);
    Workbench w2;
    QVERIFY2(w2.restoreSession(*read, &error, &warning), qPrintable(error));
    QVERIFY2(warning.isEmpty(), qPrintable(warning));
    QVERIFY(w2.settings() == plan);
    QCOMPARE(w2.metric(), QString("agreement"));
    QCOMPARE(w2.xAxis(), QString("bpw"));
    QCOMPARE(w2.budgetBytes(), std::optional<qint64>(90000));
    QCOMPARE(w2.maxDrop(), std::optional<double>(0.01));
    QCOMPARE(w2.points().size(), saved.points.size());
    // The restored plan's measurement comes from the session's points at once.
    QVERIFY(waitComplete(w2, 5000));
    QCOMPARE(w2.current()->metrics.find("top1")->value, saved.points.back().metrics.at("top1").value);
    QCOMPARE(w2.toSession().planJson, saved.planJson);

    // A model file that changed since: its plan is kept, its measured points are not.
    SessionData changed = saved;
    changed.modelSha256 = QByteArray(64, '0');
    Workbench w3;
    QVERIFY2(w3.restoreSession(changed, &error, &warning), qPrintable(error));
    QVERIFY2(warning.contains("has changed"), qPrintable(warning));
    QVERIFY(w3.settings() == plan);
    QVERIFY(w3.points().isEmpty());

    // An unknown checksum (a session written by hand): the check is skipped, the points kept.
    SessionData unknown = saved;
    unknown.modelSha256.clear();
    Workbench w4;
    warning.clear();
    QVERIFY2(w4.restoreSession(unknown, &error, &warning), qPrintable(error));
    QVERIFY2(warning.isEmpty(), qPrintable(warning));
    QCOMPARE(w4.points().size(), saved.points.size());
}

void TestWorkbench::syntheticInputsMeasureAgreement()
{
    Workbench w;
    QString error;
    QVERIFY2(w.open(kSample, "synthetic:64", &error), qPrintable(error));
    QCOMPARE(w.dataPath(), QString("synthetic:64"));
    QVERIFY(waitBaseline(w));
    QCOMPARE(w.baseline()->samples, std::int64_t(64));
    QVERIFY(!w.baseline()->metrics.find("top1")); // no labels
    QCOMPARE(w.metric(), QString("agreement"));
    w.editLayers({4}, [](LayerSetting s) { s.format = WeightFormat::Int; s.bits = 2; return s; }, "fc1 int2");
    QVERIFY(waitComplete(w));
    QVERIFY(w.current()->metrics.find("agreement")->value < 1.0);
    // Sessions keep it.
    QTemporaryDir dir;
    QVERIFY(SessionFile::write(dir.filePath("s.leger-session"), w.toSession(), &error));
    const auto s = SessionFile::read(dir.filePath("s.leger-session"), &error);
    QVERIFY2(s, qPrintable(error));
    QCOMPARE(s->dataPath, QString("synthetic:64"));
    // Bad counts and models with free dimensions are refused with a message.
    QVERIFY(!w.openData("synthetic:0", &error));
    QVERIFY2(error.contains("synthetic:N"), qPrintable(error));
    QCOMPARE(w.dataPath(), QString("synthetic:64"));
}

void TestWorkbench::containerOpensAtItsStoredSettings()
{
    // A double-clicked .leger: the layers start at the settings they are stored with, the size is
    // the file's, and the plan measures what the file holds (its export, evaluated as exported).
    QTemporaryDir dir;
    const Model m = OnnxReader::readModel(kSample.toStdString());
    const auto layers = Layer::find(m);
    const auto plan = Plan::readFile(LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_cnn.plan.json").resolve(layers);
    const QString file = dir.filePath("sample.leger");
    // The export takes the preprocessing along (sample.leger.json), which the container opens with.
    QCOMPARE(exportModel(m, layers, plan, ExportFormat::Leger, file.toStdString()).sidecar,
             dir.filePath("sample.leger.json").toStdString());
    Workbench w;
    QSignalSpy messages(&w, &Workbench::message);
    QString error;
    QVERIFY2(w.open(file, kImages, &error), qPrintable(error));
    QVERIFY(w.settings() == plan);
    QCOMPARE(w.sizeReport().total, QFileInfo(file).size());
    QCOMPARE(w.undoStack()->count(), 0);
    QVERIFY(!messages.isEmpty() && messages.last().at(0).toString().contains("compressed model"));
    QVERIFY(waitComplete(w));
    QCOMPARE(w.current()->metrics.find("top1")->value, reference(plan).metrics.find("top1")->value);
    // ONNX exports need the source model: refused with a message naming the container.
    try {
        exportModel(*w.model(), w.layers(), w.settings(), ExportFormat::OnnxQdq, dir.filePath("x.onnx").toStdString());
        QFAIL("an ONNX export of a container must be refused");
    } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains("sample.leger"), e.what());
    }
}

void TestWorkbench::comparesAnotherModelOnTheSameData()
{
    Workbench w;
    QString error;
    QVERIFY(w.open(kSample, kImages, &error));
    QSignalSpy changed(&w, &Workbench::comparisonsChanged);
    QSignalSpy modified(&w, &Workbench::modified);
    QSignalSpy progress(&w, &Workbench::message);
    const QStringList errors = errorsDuring(w, [&] { w.addComparison(kSmall); });
    QVERIFY2(errors.isEmpty(), qPrintable(errors.join('\n')));
    QCOMPARE(w.comparisons().size(), std::size_t{1});
    QVERIFY(changed.count() >= 2); // added, then measured
    QVERIFY(modified.count() >= 1); // autosave keeps it
    QVERIFY(progress.count() >= 2);  // progress and the outcome, for the status bar
    const ComparedModel& c = *w.comparisons().front();
    QCOMPARE(QString::fromStdString(c.path), QFileInfo(kSmall).absoluteFilePath());
    QCOMPARE(c.name, std::string("fashion_mnist_small"));
    // Uncompressed first, then every uniform preset, each measured on all the data.
    QCOMPARE(c.points.size(), 1 + uniformPresets().size());
    QCOMPARE(c.points[0].label, std::string("uncompressed"));
    for (std::size_t i = 0; i < uniformPresets().size(); ++i)
        QCOMPARE(c.points[i + 1].label, uniformPresets()[i].name);
    for (const MeasuredPlan& p : c.points) {
        QVERIFY(p.evaluation.complete());
        QCOMPARE(p.evaluation.samples, std::int64_t(2000));
    }
    // What leger-cli eval reports for the model: its own preprocessing, the same images.
    const Model small = OnnxReader::readModel(kSmall.toStdString());
    const Dataset data = Dataset::read(kImages.toStdString());
    Evaluator ev(small, data, *Preprocessing::readSidecar(kSmall.toStdString()));
    const Evaluation ref = ev.evaluate(std::vector<LayerSetting>(ev.layers().size()));
    QCOMPARE(c.points[0].evaluation.metrics.find("top1")->value, ref.metrics.find("top1")->value);
    QCOMPARE(c.points[0].size.total, SizeModel(small, ev.layers()).total(std::vector<LayerSetting>(ev.layers().size())));
    // It is the smaller model, and int8 makes it smaller still.
    QVERIFY(c.points[0].size.total < w.sizeOf(std::vector<LayerSetting>(w.layers().size())));
    QVERIFY(c.points[2].size.total < c.points[0].size.total);
    // The session keeps the file and its checksum.
    const SessionData s = w.toSession();
    QCOMPARE(s.comparisons.size(), 1);
    QCOMPARE(s.comparisons[0].modelPath, QFileInfo(kSmall).absoluteFilePath());
    QCOMPARE(s.comparisons[0].sha256, SessionFile::sha256(kSmall));

    // Removing them.
    w.removeComparisons();
    QVERIFY(w.comparisons().empty());
    QVERIFY(w.toSession().comparisons.isEmpty());
}

void TestWorkbench::comparisonRefusals_data()
{
    QTest::addColumn<QString>("data");     // what the open model is measured on
    QTest::addColumn<QStringList>("add");  // added in this order; the last one is refused
    QTest::addColumn<QString>("expected"); // in the error message, besides the last file's path
    const QString mlp = LEGER_SOURCE_DIR "/tests/fixtures/mlp.onnx";
    QTest::newRow("missing file") << kImages << QStringList{"/nonexistent/other.onnx"} << QString();
    QTest::newRow("data does not fit") << kImages << QStringList{mlp} << QString();
    QTest::newRow("not a model") << kImages << QStringList{kImages} << QString();
    QTest::newRow("no data") << QString() << QStringList{kSmall} << "open evaluation data first";
    QTest::newRow("no labels") << "synthetic:32" << QStringList{kSmall} << "no labels";
    QTest::newRow("the open model") << kImages << QStringList{kSample} << "the open model";
    QTest::newRow("twice") << kImages << QStringList{kSmall, kSmall} << "already compared";
}

void TestWorkbench::comparisonRefusals()
{
    QFETCH(QString, data);
    QFETCH(QStringList, add);
    QFETCH(QString, expected);
    Workbench w;
    QString error;
    QVERIFY2(w.open(kSample, data, &error), qPrintable(error));
    const QStringList errors = errorsDuring(w, [&] {
        for (const QString& path : add)
            w.addComparison(path);
    });
    QCOMPARE(errors.size(), 1);
    qInfo("%s", qPrintable(errors[0]));
    QVERIFY2(errors[0].contains(QFileInfo(add.back()).absoluteFilePath()), qPrintable(errors[0]));
    QVERIFY2(errors[0].contains(expected), qPrintable(errors[0]));
    QCOMPARE(w.comparisons().size(), std::size_t(add.size() - 1)); // nothing added for the refused file
    QCOMPARE(w.toSession().comparisons.size(), add.size() - 1);
}

void TestWorkbench::newDataMeasuresComparisonsAgainAndNewModelDropsThem()
{
    Workbench w;
    QString error;
    QVERIFY(w.open(kSample, kImages, &error));
    w.addComparison(kSmall);
    QVERIFY(waitComparisons(w));
    QCOMPARE(w.comparisons().size(), std::size_t{1});
    QCOMPARE(w.comparisons().front()->points[0].evaluation.samples, std::int64_t(2000));

    // Other data (here: the first 300 images): the compared model is measured again on them.
    w.setDataLimit(300);
    QSignalSpy changed(&w, &Workbench::comparisonsChanged);
    QVERIFY(w.openData(kImages, &error));
    QVERIFY(w.comparisons().empty()); // its numbers were of the other data
    QCOMPARE(w.pendingComparisons(), QStringList{QFileInfo(kSmall).absoluteFilePath()});
    QVERIFY(waitComparisons(w));
    QCOMPARE(w.comparisons().size(), std::size_t{1});
    for (const MeasuredPlan& p : w.comparisons().front()->points)
        QCOMPARE(p.evaluation.samples, std::int64_t(300));
    QVERIFY(changed.count() >= 2);

    // Another model: its comparisons start afresh, and one still measuring is dropped.
    w.addComparison(LEGER_SOURCE_DIR "/tests/fixtures/mlp.onnx"); // would fail, were it measured
    QSignalSpy errors(&w, &Workbench::message);
    QVERIFY(w.open(kSample, kImages, &error));
    QVERIFY(w.comparisons().empty());
    QVERIFY(w.pendingComparisons().isEmpty());
    QTest::qWait(200);
    for (const QList<QVariant>& m : errors)
        QVERIFY2(!m.at(1).toBool(), qPrintable(m.at(0).toString()));
    QVERIFY(w.comparisons().empty());
}

void TestWorkbench::destroyedWhileMeasuringAComparison()
{
    for (int wait : {0, 1, 2}) {
        auto w = std::make_unique<Workbench>();
        QString error;
        QVERIFY(w->open(kSample, kImages, &error));
        QSignalSpy progress(w.get(), &Workbench::message);
        w->addComparison(kSmall);
        // Before it starts, during its first measurement, after a few.
        if (wait > 0)
            QVERIFY(QTest::qWaitFor([&] { return progress.count() > wait || w->pendingComparisons().isEmpty(); }, 30000));
        if (wait == 0)
            QVERIFY(!w->pendingComparisons().isEmpty());
        else
            qInfo("destroyed after %d messages, %s", static_cast<int>(progress.count()),
                  w->pendingComparisons().isEmpty() ? "measured" : "while measuring");
        w.reset(); // cancels and waits for the measurement; nothing may call back into the dead object
        QTest::qWait(50);
    }
}

void TestWorkbench::sessionKeepsComparisons()
{
    QTemporaryDir dir;
    const QString copy = dir.filePath("small.onnx"); // a copy that this test changes and removes
    QVERIFY(QFile::copy(kSmall, copy));
    QVERIFY(QFile::copy(LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_small.leger.json", dir.filePath("small.leger.json")));
    SessionData saved;
    {
        Workbench w;
        QString error;
        QVERIFY(w.open(kSample, kImages, &error));
        w.addComparison(kSmall);
        w.addComparison(copy);
        QVERIFY(waitComparisons(w));
        QCOMPARE(w.comparisons().size(), std::size_t{2});
        QVERIFY(QTest::qWaitFor([&] { return w.points().size() == static_cast<int>(w.presets().size()); }, 60000));
        saved = w.toSession();
        QVERIFY(SessionFile::write(dir.filePath("s.leger-session"), saved, &error));
    }
    QString error, warning;
    const auto read = SessionFile::read(dir.filePath("s.leger-session"), &error);
    QVERIFY2(read, qPrintable(error));
    QCOMPARE(read->comparisons, saved.comparisons);
    {
        Workbench w;
        QVERIFY2(w.restoreSession(*read, &error, &warning), qPrintable(error));
        QVERIFY2(warning.isEmpty(), qPrintable(warning));
        QVERIFY(waitComparisons(w));
        QCOMPARE(w.comparisons().size(), std::size_t{2});
        QCOMPARE(w.toSession().comparisons, saved.comparisons);
    }
    // A compared file changed since: a warning naming it, measured as it is now.
    QVERIFY(QFile::remove(copy));
    QVERIFY(QFile::copy(kSample, copy)); // another model under the same name
    {
        Workbench w;
        QVERIFY2(w.restoreSession(*read, &error, &warning), qPrintable(error));
        QVERIFY2(warning.contains(copy) && warning.contains("has changed"), qPrintable(warning));
        QVERIFY(waitComparisons(w));
        QCOMPARE(w.comparisons().size(), std::size_t{2});
    }
    // Missing: a warning naming it; the rest of the session is restored.
    QVERIFY(QFile::remove(copy));
    Workbench w;
    QVERIFY2(w.restoreSession(*read, &error, &warning), qPrintable(error));
    QVERIFY2(warning.contains(copy) && warning.contains("missing"), qPrintable(warning));
    QVERIFY(!warning.contains(kSmall));
    QCOMPARE(w.points().size(), saved.points.size()); // the measured points, restored
    QVERIFY(waitComparisons(w));
    QCOMPARE(w.comparisons().size(), std::size_t{1});
    QCOMPARE(QString::fromStdString(w.comparisons().front()->path), QFileInfo(kSmall).absoluteFilePath());
}

void TestWorkbench::languageModelLiveLoop()
{
    // A language model and a text: the same live loop (baseline, debounced evaluation of the
    // plan, the exact size, presets, sessions) with perplexity, KL and agreement, and the GGUF
    // size shown equals the exported file's.
    QTemporaryDir dir;
    SessionData saved;
    std::vector<LayerSetting> plan;
    {
        Workbench w;
        w.setDataLimit(6); // windows
        QString error;
        QVERIFY2(w.open(kLlm, kHeldout, &error), qPrintable(error));
        QVERIFY(w.isLanguageModel());
        QVERIFY(!w.model());
        QCOMPARE(w.presets().front().name, QString("float16"));
        QVERIFY(waitBaseline(w));
        QCOMPARE(w.metric(), QString("perplexity"));
        QVERIFY(w.availableMetrics().contains("kl"));
        QCOMPARE(w.baseline()->samples, std::int64_t{6});
        const std::int64_t before = w.sizeReport().total;
        // The bits slider's edit on every layer: q4_K where it fits.
        QList<int> all;
        for (int i = 0; i < static_cast<int>(w.layers().size()); ++i)
            all << i;
        w.editLayers(all, [](LayerSetting s) { s.format = WeightFormat::Q4_K; return s; }, "q4_K");
        QVERIFY(w.sizeReport().total < before / 3);
        // An int or pruned setting is not a GGUF type: ignored, the plan stays valid.
        w.editLayers({1}, [](LayerSetting s) { s.format = WeightFormat::Int; return s; }, "int");
        QCOMPARE(w.settings()[1].format, WeightFormat::Q4_K);
        QVERIFY(waitComplete(w));
        const auto c = w.current();
        QVERIFY(c->metrics.find("perplexity")->value > w.baseline()->metrics.find("perplexity")->value);
        QVERIFY(c->metrics.find("kl")->value > 0);
        // The figures are the core's for the same plan.
        LanguageModel m = LanguageModel::open(kLlm.toStdString());
        LlmEvaluator ev(m, m.tokenizer().encode(readFile(kHeldout.toStdString())), LlmEvaluator::Options{.limit = 6});
        QCOMPARE(c->metrics.find("perplexity")->value, ev.evaluate(w.settings()).metrics.find("perplexity")->value);
        QCOMPARE(w.sizeReport().total, m.ggufBytes(w.settings()));
        QVERIFY(QTest::qWaitFor([&] { return w.points().size() >= static_cast<int>(w.presets().size()); }, 120000));
        saved = w.toSession();
        plan = w.settings();
        // Another language model of the same vocabulary (the small GPT-2), measured on the same
        // windows, uncompressed and at every preset, drawn beside this one's points.
        const QStringList errors = errorsDuring(w, [&] { w.addComparison(kGpt2); });
        QVERIFY2(errors.isEmpty(), qPrintable(errors.join('\n')));
        QCOMPARE(w.comparisons().size(), std::size_t{1});
        const ComparedModel& other = *w.comparisons().front();
        QCOMPARE(other.name, std::string("gpt2"));
        QCOMPARE(other.points.size(), 1 + languageModelPresets().size());
        QCOMPARE(other.points[0].evaluation.samples, std::int64_t{6});
        QCOMPARE(MetricInfo::of("perplexity").series(other).points.size(), static_cast<qsizetype>(other.points.size()));
        // An ONNX model is not a language model of this vocabulary: refused, naming it.
        const QStringList refused = errorsDuring(w, [&] { w.addComparison(kSmall); });
        QCOMPARE(refused.size(), 1);
        QVERIFY2(refused[0].contains(QFileInfo(kSmall).fileName()), qPrintable(refused[0]));
        QCOMPARE(w.comparisons().size(), std::size_t{1});
    }
    QString error, warning;
    Workbench w2;
    QVERIFY2(w2.restoreSession(saved, &error, &warning), qPrintable(error));
    QVERIFY(w2.isLanguageModel());
    QVERIFY(w2.settings() == plan);
    QVERIFY(waitComplete(w2, 5000));
    // An ONNX model afterwards: the document is an ONNX one again.
    QVERIFY(w2.open(kSample, kImages, &error));
    QVERIFY(!w2.isLanguageModel());
    QCOMPARE(w2.presets().front().name, QString("float16"));
    QCOMPARE(w2.presets()[1].name, QString("int8"));
}

QTEST_MAIN(TestWorkbench)
#include "tst_workbench.moc"
