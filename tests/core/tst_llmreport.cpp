// The report builder on a language model: the small Llama test model on its held-out text. What
// it measures equals direct evaluations and sizes, the export check writes a GGUF, reads it back
// and finds every metric identical (and the file's vocabulary giving the same tokens), stated
// limits pass or fail on the measured figures, a NaN weight fails its item, and nothing is left
// in the temporary folder.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <unistd.h>

#include "compress/Presets.h"
#include "llm/LanguageModel.h"
#include "llm/LlmEvaluator.h"
#include "report/Report.h"
#include "report/ResultJson.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

using namespace leger;
namespace fs = std::filesystem;

namespace {
const std::string kDir = LEGER_SOURCE_DIR "/resources/llm/";
const std::string kText = kDir + "heldout.txt";

const CheckItem& item(const ReportData& r, const std::string& title)
{
    for (const CheckItem& c : r.checklist)
        if (c.title.rfind(title, 0) == 0)
            return c;
    throw Error("no checklist item " + title);
}

/// Temporary files of this process's reports.
int leftovers()
{
    int n = 0;
    const std::string prefix = "leger-report-" + std::to_string(::getpid()) + "-";
    for (const auto& f : fs::directory_iterator(fs::temp_directory_path()))
        n += f.path().filename().string().rfind(prefix, 0) == 0;
    return n;
}
} // namespace

class TestLlmReport : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void reportMatchesDirectEvaluations();
    void statedLimitsDecideTheirItems();
    void nonFiniteWeightFailsItsItem();
    void anotherModelIsMeasuredOnTheSameText();

private:
    ReportRequest request(const std::string& path) const;
    std::shared_ptr<const std::vector<std::int32_t>> tokens_;
    std::vector<LayerSetting> plan_;
    LlmEvaluator::Options windows_;
};

void TestLlmReport::initTestCase()
{
    const LanguageModel m = LanguageModel::open(kDir + "model.safetensors");
    tokens_ = std::make_shared<const std::vector<std::int32_t>>(m.tokenizer().encode(readFile(kText)));
    windows_.nCtx = 16; // short, few windows: the scan runs 29 x 6 evaluations (also under the sanitizers)
    windows_.limit = 2;
    // q4_K everywhere, the embedding at q8_0: a mixed plan.
    plan_.assign(m.layers().size(), parseSettingSpec("q4_K"));
    plan_[0] = parseSettingSpec("q8_0");
}

ReportRequest TestLlmReport::request(const std::string& path) const
{
    ReportRequest rq;
    rq.languageModelPath = path;
    rq.tokens = tokens_;
    rq.textPath = kText;
    rq.windows = windows_;
    rq.plan = plan_;
    rq.runSensitivity = rq.runFrontier = false;
    rq.legerVersion = "test";
    return rq;
}

void TestLlmReport::reportMatchesDirectEvaluations()
{
    const int before = leftovers();
    ReportRequest rq = request(kDir + "model.safetensors");
    rq.runSensitivity = true; // one scan over a short list, to see it reach the report
    const ReportData r = buildReport(rq);
    QVERIFY(r.languageModel);
    QCOMPARE(r.exportFormat, std::string("GGUF"));
    QCOMPARE(r.modelName, std::string("llm"));
    QCOMPARE(r.layers.size(), std::size_t(29));
    QCOMPARE(r.samples, std::int64_t(2));
    QCOMPARE(r.windowTokens, std::int64_t(16));
    QCOMPARE(r.scoredTokens, std::int64_t(2 * 7));
    QCOMPARE(r.metric, std::string("perplexity"));

    // The same figures as a direct evaluation and the model's own sizes.
    LanguageModel m = LanguageModel::open(kDir + "model.safetensors");
    LlmEvaluator ev(m, *tokens_, windows_);
    const Evaluation base = ev.evaluate(std::vector<LayerSetting>(plan_.size()));
    const Evaluation plan = ev.evaluate(plan_);
    for (const char* metric : {"perplexity", "kl", "agreement", "nll"}) {
        QCOMPARE(r.plan.evaluation.metrics.find(metric)->value, plan.metrics.find(metric)->value);
        QCOMPARE(r.baseline.evaluation.metrics.find(metric)->value, base.metrics.find(metric)->value);
    }
    QCOMPARE(r.plan.size.total, m.ggufBytes(plan_));
    QCOMPARE(r.baseline.size.total, m.ggufBytes(std::vector<LayerSetting>(plan_.size())));
    QCOMPARE(r.presets.size(), languageModelPresets().size());
    for (const MeasuredPlan& p : r.presets)
        QCOMPARE(p.size.total, m.ggufBytes(p.settings));
    QVERIFY(r.sensitivity);
    QCOMPARE(r.sensitivity->drop.size(), r.layers.size());
    QCOMPARE(r.sensitivity->settings.size(), languageModelScanSettings().size());

    // The export check: a GGUF of the size shown, read back, the same numbers, the same tokens.
    const CheckItem& exported = item(r, "The exported file gives");
    QVERIFY2(exported.status == CheckItem::Status::Passed, exported.evidence.c_str());
    QVERIFY2(exported.evidence.find("written as GGUF: ") != std::string::npos, exported.evidence.c_str());
    QVERIFY2(exported.evidence.find("every metric identical") != std::string::npos, exported.evidence.c_str());
    QVERIFY2(exported.evidence.find("tokens identically") != std::string::npos, exported.evidence.c_str());
    QCOMPARE(r.exportBytes, r.plan.size.total);
    QVERIFY(r.reloaded);
    QCOMPARE(r.reloaded->metrics.find("kl")->value, r.plan.evaluation.metrics.find("kl")->value);
    QVERIFY(r.plan.evaluation.metrics.find("kl")->value > 0); // a real difference, reproduced exactly
    QVERIFY(item(r, "No NaN or Inf").status == CheckItem::Status::Passed);
    const CheckItem& data = item(r, "Evaluation data named");
    QVERIFY2(data.status == CheckItem::Status::Passed, data.evidence.c_str());
    QVERIFY2(data.evidence.find("2 of 2 windows of 16 tokens (14 tokens scored)") != std::string::npos, data.evidence.c_str());
    QVERIFY2(r.preprocessing.find("the first 2 of ") != std::string::npos, r.preprocessing.c_str());
    QCOMPARE(leftovers(), before);

    // The figures for tools.
    const QJsonObject j = QJsonDocument::fromJson(QByteArray::fromStdString(reportJson(r))).object();
    QCOMPARE(j["export_check"].toObject()["format"].toString(), QString("GGUF"));
    QCOMPARE(j["data"].toObject()["window_tokens"].toInt(), 16);
    QCOMPARE(j["plan"].toObject()["size_bytes"].toInteger(), r.plan.size.total);
    QCOMPARE(j["checklist"].toArray().size(), 5);
}

void TestLlmReport::statedLimitsDecideTheirItems()
{
    // Measured once, then reused: only the limits change.
    ReportRequest rq = request(kDir + "tiny-llama-f32.gguf");
    rq.plan.assign(plan_.size(), parseSettingSpec("q2_K"));
    rq.runPresets = false;
    rq.windows = {.nCtx = 128, .limit = 4}; // enough text for q2_K's loss to show above the noise
    const ReportData first = buildReport(rq);
    const double drop = first.plan.evaluation.metrics.find("perplexity")->value -
                        first.baseline.evaluation.metrics.find("perplexity")->value;
    QVERIFY2(drop > 0.5, qPrintable(QString::number(drop))); // q2_K costs perplexity
    rq.baseline = std::make_shared<const Evaluation>(first.baseline.evaluation);
    rq.planEvaluation = std::make_shared<const Evaluation>(first.plan.evaluation);
    rq.maxDrop = drop * 1.001;
    rq.budgetBytes = first.plan.size.total;
    ReportData r = buildReport(rq);
    QVERIFY(item(r, "Quality drop").status == CheckItem::Status::Passed);
    QVERIFY(item(r, "Size within").status == CheckItem::Status::Passed);
    QVERIFY(r.ready());
    rq.maxDrop = drop * 0.999;
    rq.budgetBytes = first.plan.size.total - 1;
    r = buildReport(rq);
    QVERIFY2(item(r, "Quality drop").status == CheckItem::Status::Failed, item(r, "Quality drop").evidence.c_str());
    QVERIFY(item(r, "Size within").status == CheckItem::Status::Failed);
    QVERIFY(!r.ready());
}

void TestLlmReport::nonFiniteWeightFailsItsItem()
{
    // A copy of the model folder with one NaN in layer 1's up projection.
    QTemporaryDir dir;
    const fs::path to(dir.path().toStdString());
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"})
        fs::copy_file(kDir + f, to / f);
    const std::string file = (to / "model.safetensors").string();
    std::fstream st(file, std::ios::in | std::ios::out | std::ios::binary);
    std::uint64_t headerBytes = 0;
    st.read(reinterpret_cast<char*>(&headerBytes), 8);
    std::string header(headerBytes, '\0');
    st.read(header.data(), static_cast<std::streamsize>(headerBytes));
    const QJsonObject h = QJsonDocument::fromJson(QByteArray::fromStdString(header)).object();
    const qint64 offset = h["model.layers.1.mlp.up_proj.weight"].toObject()["data_offsets"].toArray()[0].toInteger();
    const float nan = std::numeric_limits<float>::quiet_NaN();
    st.seekp(static_cast<std::streamoff>(8 + headerBytes + static_cast<std::uint64_t>(offset) + 4 * 100));
    st.write(reinterpret_cast<const char*>(&nan), 4);
    st.close();

    ReportRequest rq = request(to.string());
    rq.plan.assign(plan_.size(), LayerSetting::none()); // the NaN layer uncompressed: still counted
    rq.runPresets = false;
    const ReportData r = buildReport(rq);
    const CheckItem& c = item(r, "No NaN or Inf");
    QVERIFY2(c.status == CheckItem::Status::Failed, c.evidence.c_str());
    QVERIFY2(c.evidence.rfind("1 non-finite original weights", 0) == 0, c.evidence.c_str());
    QVERIFY(!r.ready());
}

void TestLlmReport::anotherModelIsMeasuredOnTheSameText()
{
    // "Compress the Llama, or use the GPT-2?": the two test models share one vocabulary.
    ReportRequest rq = request(kDir + "model.safetensors");
    rq.compare = {kDir + "gpt2"};
    rq.runPresets = false;
    const ReportData r = buildReport(rq);
    QCOMPARE(r.comparisons.size(), std::size_t(1));
    const ComparedModel& c = r.comparisons[0];
    QCOMPARE(c.name, std::string("gpt2"));
    QCOMPARE(c.layers.size(), std::size_t(9));
    QCOMPARE(c.points.size(), 1 + languageModelPresets().size());
    // Its points are direct evaluations of it on the same windows, with its GGUF sizes.
    LanguageModel gpt2 = LanguageModel::open(kDir + "gpt2");
    LlmEvaluator ev(gpt2, *tokens_, windows_);
    QCOMPARE(c.points[0].evaluation.metrics.find("perplexity")->value,
             ev.evaluate(std::vector<LayerSetting>(c.layers.size())).metrics.find("perplexity")->value);
    QCOMPARE(c.points[0].size.total, gpt2.ggufBytes(std::vector<LayerSetting>(c.layers.size())));
    QCOMPARE(c.points.back().size.total, gpt2.ggufBytes(c.points.back().settings));
    QCOMPARE(c.points[0].evaluation.samples, r.plan.evaluation.samples);

    // A model of another vocabulary is refused, naming it: a copy of the GPT-2 whose end-of-text
    // token is spelled differently.
    QTemporaryDir dir;
    const fs::path to(dir.path().toStdString());
    for (const char* f : {"config.json", "model.safetensors", "tokenizer_config.json"})
        fs::copy_file(kDir + "gpt2/" + f, to / f);
    std::string json = readFile(kDir + "gpt2/tokenizer.json");
    for (std::size_t at = json.find("<|endoftext|>"); at != std::string::npos; at = json.find("<|endoftext|>", at))
        json.replace(at, 13, "<|end_text|>");
    writeFileAtomically((to / "tokenizer.json").string(), json);
    rq.compare = {to.string()};
    try {
        buildReport(rq);
        QFAIL("a model of another vocabulary must be refused");
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find(to.string() + ": its vocabulary differs from the open model's at token 2047") == 0,
                 e.what());
    }
    // A model file that is not there is named.
    rq = request(kDir + "missing.gguf");
    try {
        buildReport(rq);
        QFAIL("a missing model must be an error");
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find("missing.gguf") != std::string::npos, e.what());
    }
}

QTEST_APPLESS_MAIN(TestLlmReport)
#include "tst_llmreport.moc"
