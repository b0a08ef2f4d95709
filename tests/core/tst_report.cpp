// The report builder on the bundled sample and real Fashion-MNIST images: what it measures
// equals direct evaluations, the export check really re-reads the written file, and every
// checklist item passes or fails on its stated figures (a NaN weight, a budget too small, a
// limit too tight each fail their item).
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <limits>

#include "compress/Plan.h"
#include "compress/Presets.h"
#include "data/Dataset.h"
#include "data/Preprocessing.h"
#include "eval/Evaluator.h"
#include "io/Exporter.h"
#include "model/Model.h"
#include "report/Report.h"
#include "report/ResultJson.h"
#include "util/Error.h"

using namespace leger;

namespace {
const std::string kDir = LEGER_SOURCE_DIR "/resources/sample/";
const std::string kSample = kDir + "fashion_mnist_cnn.onnx";
const std::string kSmall = kDir + "fashion_mnist_small.onnx";
const std::string kImages = kDir + "fashion-mnist-test-2000-images-idx3-ubyte.gz";

const CheckItem& item(const ReportData& r, const std::string& title)
{
    for (const CheckItem& c : r.checklist)
        if (c.title.rfind(title, 0) == 0)
            return c;
    throw Error("no checklist item " + title);
}
} // namespace

class TestReport : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void sampleReportMatchesDirectEvaluations();
    void statedLimitsDecideTheirItems();
    void nonFiniteWeightFailsItsItem();
    void measuredInputsAreReused();
    void comparedModelIsMeasuredOnTheSameData();
    void badComparedModelNamesTheFile();
    void cancelLeavesNoFile();
    void exportedFileEvaluatesLikeItsPlanOnly();

private:
    ReportRequest request(std::shared_ptr<const Model> model = {}) const;
    std::shared_ptr<const Model> model_;
    std::shared_ptr<const Dataset> data_;
    Preprocessing pre_;
    std::vector<LayerSetting> plan_;
};

void TestReport::initTestCase()
{
    model_ = std::make_shared<const Model>(loadModel(kSample));
    data_ = std::make_shared<const Dataset>(Dataset::read(kImages, 400));
    pre_ = *Preprocessing::readSidecar(kSample);
    plan_ = Plan::readFile(kDir + "fashion_mnist_cnn.plan.json").resolve(Layer::find(*model_));
}

ReportRequest TestReport::request(std::shared_ptr<const Model> model) const
{
    ReportRequest rq;
    rq.model = model ? model : model_;
    rq.data = data_;
    rq.pre = pre_;
    rq.plan = plan_;
    rq.runSensitivity = false;
    rq.runFrontier = false;
    rq.legerVersion = "test";
    return rq;
}

void TestReport::sampleReportMatchesDirectEvaluations()
{
    ReportRequest rq = request();
    rq.runSensitivity = true;
    rq.runFrontier = true;
    rq.frontierPoints = 4;
    const auto tmp = std::filesystem::temp_directory_path() / "tst_report_export.leger";
    rq.exportPath = tmp.string();
    const ReportData r = buildReport(rq);

    Evaluator ev(*model_, *data_, pre_);
    const Evaluation base = ev.evaluate(std::vector<LayerSetting>(plan_.size()));
    const Evaluation plan = ev.evaluate(plan_);
    QCOMPARE(r.metric, std::string("top1"));
    QCOMPARE(r.baseline.evaluation.metrics.find("top1")->value, base.metrics.find("top1")->value);
    QCOMPARE(r.plan.evaluation.metrics.find("top1")->value, plan.metrics.find("top1")->value);
    QCOMPARE(r.plan.evaluation.metrics.lost, plan.metrics.lost);
    QCOMPARE(r.samples, std::int64_t(400));
    QCOMPARE(r.classNames.size(), std::size_t(10));
    QCOMPARE(r.plan.size.total, SizeModel(*model_, r.layers).total(plan_));

    // Presets: each measured under its setting.
    QCOMPARE(r.presets.size(), uniformPresets().size());
    const Evaluation int8 = ev.evaluate(std::vector<LayerSetting>(plan_.size(), parseSettingSpec("int8")));
    QCOMPARE(r.presets[1].label, std::string("int8"));
    QCOMPARE(r.presets[1].evaluation.metrics.find("top1")->value, int8.metrics.find("top1")->value);

    QVERIFY(r.sensitivity);
    QCOMPARE(r.sensitivity->drop.size(), r.layers.size());
    QVERIFY(!r.frontier.empty());

    // The export check re-read the file it wrote: it is there, of the size shown, and it
    // evaluates to the plan's numbers.
    QVERIFY(std::filesystem::exists(tmp));
    QCOMPARE(static_cast<std::int64_t>(std::filesystem::file_size(tmp)), r.plan.size.total);
    QCOMPARE(r.exportBytes, r.plan.size.total);
    QVERIFY(r.reloaded);
    QCOMPARE(r.reloaded->metrics.find("top1")->value, plan.metrics.find("top1")->value);
    std::filesystem::remove(tmp);
    std::filesystem::remove(tmp.string() + ".json"); // the preprocessing the export took along

    QCOMPARE(r.checklist.size(), std::size_t(5));
    QVERIFY2(item(r, "The exported file").status == CheckItem::Status::Passed, item(r, "The exported file").evidence.c_str());
    QVERIFY2(item(r, "No NaN").status == CheckItem::Status::Passed, item(r, "No NaN").evidence.c_str());
    QVERIFY2(item(r, "Evaluation data").status == CheckItem::Status::Passed, item(r, "Evaluation data").evidence.c_str());
    QVERIFY(item(r, "Evaluation data").evidence.find("400 of 400 samples") != std::string::npos);
    QVERIFY2(item(r, "Quality drop").status == CheckItem::Status::NotStated, item(r, "Quality drop").evidence.c_str());
    QVERIFY2(item(r, "Size within").status == CheckItem::Status::NotStated, item(r, "Size within").evidence.c_str());
    QVERIFY(r.ready());

    // The same figures as JSON, for tools.
    const QJsonObject j = QJsonDocument::fromJson(QByteArray::fromStdString(reportJson(r))).object();
    QCOMPARE(j["plan"].toObject()["size_bytes"].toInteger(), r.plan.size.total);
    QCOMPARE(j["baseline"].toObject()["metrics"].toObject()["top1"].toObject()["value"].toDouble(),
             base.metrics.find("top1")->value);
    QCOMPARE(j["checklist"].toArray().size(), 5);
    QCOMPARE(j["presets"].toArray().size(), static_cast<qsizetype>(uniformPresets().size()));
    QCOMPARE(j["sensitivity"].toObject()["layers"].toArray().size(), static_cast<qsizetype>(r.layers.size()));
    QCOMPARE(j["ready"].toBool(), true);
}

void TestReport::statedLimitsDecideTheirItems()
{
    ReportRequest rq = request();
    Evaluator ev(*model_, *data_, pre_);
    const Evaluation base = ev.evaluate(std::vector<LayerSetting>(plan_.size()));
    // The int2 plan loses accuracy for sure; the limit sits just above and just below its drop.
    rq.plan.assign(plan_.size(), parseSettingSpec("int2-g32"));
    const Evaluation crushed = ev.evaluate(rq.plan);
    const double drop = base.metrics.find("top1")->value - crushed.metrics.find("top1")->value;
    QVERIFY(drop > 0.01);
    const std::int64_t size = SizeModel(*model_, Layer::find(*model_)).total(rq.plan);
    rq.runPresets = false; // the presets are not under test
    for (const auto& [limit, budget, pass] : {std::tuple{drop + 1e-9, size, true}, std::tuple{drop - 1e-4, size - 1, false}}) {
        rq.maxDrop = limit;
        rq.budgetBytes = budget;
        const ReportData r = buildReport(rq);
        const auto want = pass ? CheckItem::Status::Passed : CheckItem::Status::Failed;
        QVERIFY2(item(r, "Quality drop").status == want, item(r, "Quality drop").evidence.c_str());
        QVERIFY2(item(r, "Size within").status == want, item(r, "Size within").evidence.c_str());
        QCOMPARE(r.ready(), pass);
    }
}

void TestReport::nonFiniteWeightFailsItsItem()
{
    Model m = loadModel(kSample);
    const auto layers = Layer::find(m);
    Tensor& w = m.graph.initializers.at(layers[0].name);
    w.data<float>()[3] = std::numeric_limits<float>::quiet_NaN();
    ReportRequest rq = request(std::make_shared<const Model>(std::move(m)));
    rq.runPresets = false;
    const ReportData r = buildReport(rq);
    const CheckItem& c = item(r, "No NaN");
    QVERIFY2(c.status == CheckItem::Status::Failed, c.evidence.c_str());
    QVERIFY2(c.evidence.rfind("1 non-finite original weights", 0) == 0, c.evidence.c_str());
    QVERIFY(!r.ready());
}

void TestReport::measuredInputsAreReused()
{
    // What the workbench measured is taken as it is (a marker in `seconds` survives); an
    // evaluation of another plan is not, and the plan is measured again.
    Evaluator ev(*model_, *data_, pre_);
    auto base = std::make_shared<Evaluation>(ev.evaluate(std::vector<LayerSetting>(plan_.size())));
    base->seconds = 1234.5;
    auto other = std::make_shared<Evaluation>(ev.evaluate(std::vector<LayerSetting>(plan_.size(), parseSettingSpec("int4"))));
    other->seconds = 999;
    ReportRequest rq = request();
    rq.baseline = base;
    rq.planEvaluation = other;
    rq.runPresets = false;
    const ReportData r = buildReport(rq);
    QCOMPARE(r.baseline.evaluation.seconds, 1234.5);
    QVERIFY(r.plan.evaluation.seconds != 999);
    QVERIFY(r.plan.evaluation.settings == plan_);
}

void TestReport::comparedModelIsMeasuredOnTheSameData()
{
    ReportRequest rq = request();
    rq.runPresets = false;
    rq.compare = {kSmall};
    const ReportData r = buildReport(rq);
    QCOMPARE(r.comparisons.size(), std::size_t(1));
    const ComparedModel& c = r.comparisons[0];
    QCOMPARE(c.name, std::string("fashion_mnist_small"));
    QCOMPARE(c.points.size(), 1 + uniformPresets().size());
    const Model small = loadModel(kSmall);
    Evaluator ev(small, *data_, *Preprocessing::readSidecar(kSmall));
    const Evaluation e = ev.evaluate(std::vector<LayerSetting>(Layer::find(small).size()));
    QCOMPARE(c.points[0].evaluation.metrics.find("top1")->value, e.metrics.find("top1")->value);
    QCOMPARE(c.points[0].evaluation.samples, std::int64_t(400));
    QVERIFY(c.points[0].size.total < r.baseline.size.total);
}

void TestReport::badComparedModelNamesTheFile()
{
    ReportRequest rq = request();
    rq.runPresets = false;
    rq.compare = {kDir + "no-such-model.onnx"};
    try {
        buildReport(rq);
        QFAIL("a missing model must be an error");
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find("no-such-model.onnx") != std::string::npos, e.what());
    }
    // A metric the data cannot give is an error too (not a missing value read later).
    rq.compare.clear();
    rq.metric = "bogus";
    try {
        buildReport(rq);
        QFAIL("an unavailable metric must be an error");
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find("'bogus' is not available") != std::string::npos, e.what());
    }
}

void TestReport::cancelLeavesNoFile()
{
    ReportRequest rq = request();
    const auto tmp = std::filesystem::temp_directory_path();
    std::size_t before = 0, after = 0;
    for (const auto& f : std::filesystem::directory_iterator(tmp))
        before += f.path().filename().string().rfind("leger-report-", 0) == 0;
    CancelToken cancel;
    bool thrown = false;
    try {
        buildReport(rq, &cancel, [&](std::int64_t, std::int64_t, const std::string& what) {
            if (what == "export check")
                cancel.cancel();
        });
    } catch (const CancelledError&) {
        thrown = true;
    }
    QVERIFY(thrown);
    for (const auto& f : std::filesystem::directory_iterator(tmp))
        after += f.path().filename().string().rfind("leger-report-", 0) == 0;
    QCOMPARE(after, before);
}

void TestReport::exportedFileEvaluatesLikeItsPlanOnly()
{
    // What the export check rests on: a file read back compares equal to its own plan in every
    // metric (against the same uncompressed outputs), and not to another plan.
    Evaluator ev(*model_, *data_, pre_);
    const auto layers = Layer::find(*model_);
    const auto file = (std::filesystem::temp_directory_path() / "tst_report_plan.leger").string();
    exportModel(*model_, layers, plan_, ExportFormat::Leger, file);
    const Model back = loadModel(file);
    std::filesystem::remove(file);
    std::filesystem::remove(file + ".json");
    const Evaluation viaFile = ev.evaluateModel(back);
    const Evaluation viaPlan = ev.evaluate(plan_);
    QCOMPARE(viaFile.samples, viaPlan.samples);
    QCOMPARE(viaFile.metrics.values.size(), viaPlan.metrics.values.size());
    for (const auto& [name, v] : viaPlan.metrics.values) {
        QCOMPARE(viaFile.metrics.find(name)->value, v.value);
        QCOMPARE(viaFile.metrics.find(name)->high, v.high);
    }
    QVERIFY(viaFile.metrics.confusion == viaPlan.metrics.confusion);
    const Evaluation other = ev.evaluate(std::vector<LayerSetting>(layers.size(), parseSettingSpec("int2-g32")));
    QVERIFY(other.metrics.find("sqnr_db")->value != viaFile.metrics.find("sqnr_db")->value);
    // The uncompressed model itself: identical outputs, infinite SQNR, full agreement.
    const Evaluation self = ev.evaluateModel(*model_);
    QVERIFY(std::isinf(self.metrics.find("sqnr_db")->value));
    QCOMPARE(self.metrics.find("agreement")->value, 1.0);
}

QTEST_APPLESS_MAIN(TestReport)
#include "tst_report.moc"
