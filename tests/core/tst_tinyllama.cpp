// The language-model path on the trained test models (resources/llm, made by train_tiny_llama.py,
// and resources/llm/gpt2, by train_tiny_gpt2.py, with PyTorch): the tokenizer gives the training
// script's ids, and Leger's decoder, from the safetensors + config.json and from GGUF (the Llama's
// own file with llama.cpp's permuted q/k; GPT-2's as Leger exports it), gives PyTorch's logits and
// PyTorch's held-out perplexity computed the llama.cpp way (reference.json).
#include <QtTest>

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <cmath>

#include "io/GgufFile.h"
#include "llm/Decoder.h"
#include "llm/LanguageModel.h"
#include "llm/Tokenizer.h"
#include "util/AtomicFile.h"

using namespace leger;

namespace {
const std::string kDir = LEGER_SOURCE_DIR "/resources/llm/";
const std::string kGpt2 = kDir + "gpt2/";

QJsonObject reference(const std::string& dir)
{
    QFile f(QString::fromStdString(dir + "reference.json"));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}

/// The models to check: a folder with its reference.json, read as Hugging Face or as GGUF.
void addModels()
{
    QTest::addColumn<QString>("dir");
    QTest::addColumn<bool>("gguf");
    QTest::newRow("llama, safetensors + config.json") << QString::fromStdString(kDir) << false;
    QTest::newRow("llama, GGUF") << QString::fromStdString(kDir) << true;
    QTest::newRow("gpt2, safetensors (float16) + config.json") << QString::fromStdString(kGpt2) << false;
    QTest::newRow("gpt2, GGUF exported by Leger") << QString::fromStdString(kGpt2) << true;
}

/// The model of a row: the folder's own GGUF, or for GPT-2 the GGUF Leger exports (float32).
Decoder open(const std::string& dir, bool gguf, const QTemporaryDir& tmp)
{
    if (!gguf)
        return Decoder::fromHuggingFace(dir);
    if (dir == kDir)
        return Decoder::fromGguf(kDir + "tiny-llama-f32.gguf");
    const LanguageModel m = LanguageModel::open(dir);
    const std::string path = tmp.filePath("gpt2.gguf").toStdString();
    m.exportGguf(std::vector<LayerSetting>(m.layers().size()), path);
    return Decoder::fromGguf(path);
}
} // namespace

class TestTinyLlama : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void tokenizersGiveTheTrainingScriptsIds();
    void logitsEqualPyTorchs_data() { addModels(); }
    void logitsEqualPyTorchs();
    void perplexityEqualsPyTorchs_data();
    void perplexityEqualsPyTorchs();

private:
    std::vector<std::int32_t> heldout_;
    QTemporaryDir tmp_;
};

void TestTinyLlama::initTestCase()
{
    QVERIFY(tmp_.isValid());
    heldout_ = Tokenizer::fromHuggingFace(kDir + "tokenizer.json").encode(readFile(kDir + "heldout.txt"));
}

void TestTinyLlama::tokenizersGiveTheTrainingScriptsIds()
{
    const QJsonObject ref = reference(kDir);
    QCOMPARE(static_cast<qsizetype>(heldout_.size()), ref["heldout_tokens"].toInteger());
    const QJsonArray first = ref["first_64_token_ids"].toArray();
    for (qsizetype i = 0; i < first.size(); ++i)
        QCOMPARE(heldout_[static_cast<std::size_t>(i)], first[i].toInt());
    // The same vocabulary as GPT-2 files and as GGUF metadata; the GPT-2 model has it too.
    const std::string text = readFile(kDir + "heldout.txt");
    QVERIFY(Tokenizer::fromGpt2Files(kDir + "vocab.json", kDir + "merges.txt").encode(text) == heldout_);
    const GgufFile g = GgufFile::open(kDir + "tiny-llama-f32.gguf");
    QVERIFY(Tokenizer::fromGguf(g, kDir + "tiny-llama-f32.gguf").encode(text) == heldout_);
    QVERIFY(Tokenizer::fromHuggingFace(kGpt2 + "tokenizer.json").encode(text) == heldout_);
    const QJsonArray gpt2First = reference(kGpt2)["first_64_token_ids"].toArray();
    for (qsizetype i = 0; i < gpt2First.size(); ++i)
        QCOMPARE(heldout_[static_cast<std::size_t>(i)], gpt2First[i].toInt());
}

void TestTinyLlama::logitsEqualPyTorchs()
{
    QFETCH(QString, dir);
    QFETCH(bool, gguf);
    const QJsonObject ref = reference(dir.toStdString());
    QVERIFY(!ref.isEmpty());
    Decoder d = open(dir.toStdString(), gguf, tmp_);
    const std::int64_t nCtx = ref["perplexity"].toObject()["n_ctx"].toInteger();
    const std::int64_t V = d.config().vocabSize;
    std::vector<float> logits;
    d.forward(std::span(heldout_).first(static_cast<std::size_t>(nCtx)), logits);
    for (const QJsonValue& p : ref["first_window_logits"].toArray()) {
        const QJsonObject o = p.toObject();
        const std::int64_t pos = o["position"].toInteger();
        const QJsonArray ids = o["top5_ids"].toArray(), values = o["top5_logits"].toArray();
        for (qsizetype k = 0; k < ids.size(); ++k) {
            const float got = logits[static_cast<std::size_t>(pos * V + ids[k].toInt())];
            QVERIFY2(std::abs(got - values[k].toDouble()) < 1e-4,
                     qPrintable(QString("position %1, id %2: %3 vs %4").arg(pos).arg(ids[k].toInt()).arg(got).arg(values[k].toDouble())));
        }
    }
    const QJsonObject row = ref["logits_row"].toObject();
    const std::int64_t pos = row["position"].toInteger();
    const QJsonArray values = row["values"].toArray();
    QCOMPARE(values.size(), static_cast<qsizetype>(V));
    double worst = 0;
    for (qsizetype v = 0; v < values.size(); ++v)
        worst = std::max(worst, std::abs(logits[static_cast<std::size_t>(pos * V + v)] - values[v].toDouble()));
    QVERIFY2(worst < 1e-4, qPrintable(QString("largest difference in the logits row: %1").arg(worst)));
}

void TestTinyLlama::perplexityEqualsPyTorchs_data()
{
    // The whole text through each model once (the GGUF files' weights are checked by the logits).
    QTest::addColumn<QString>("dir");
    QTest::addColumn<bool>("gguf");
    QTest::newRow("llama, safetensors + config.json") << QString::fromStdString(kDir) << false;
    QTest::newRow("gpt2, GGUF exported by Leger") << QString::fromStdString(kGpt2) << true;
}

void TestTinyLlama::perplexityEqualsPyTorchs()
{
    QFETCH(QString, dir);
    QFETCH(bool, gguf);
    const QJsonObject want = reference(dir.toStdString())["perplexity"].toObject();
    Decoder d = open(dir.toStdString(), gguf, tmp_);
    const PerplexityResult r = perplexity(d, heldout_, want["n_ctx"].toInteger());
    QCOMPARE(r.windows, want["windows"].toInteger());
    QCOMPARE(r.scored, want["tokens_scored"].toInteger());
    QVERIFY2(std::abs(r.perplexity - want["ppl"].toDouble()) < 1e-4 * want["ppl"].toDouble(),
             qPrintable(QString("%1 vs PyTorch's %2").arg(r.perplexity, 0, 'f', 6).arg(want["ppl"].toDouble(), 0, 'f', 6)));
    qInfo("held-out perplexity %.4f (PyTorch %.4f) over %lld tokens, mean NLL %.5f +- %.5f", r.perplexity,
          want["ppl"].toDouble(), static_cast<long long>(r.scored), r.meanNll, r.stdErr);
}

QTEST_APPLESS_MAIN(TestTinyLlama)
#include "tst_tinyllama.moc"
