// The language-model path on the trained test model (resources/llm, made by
// train_tiny_llama.py with PyTorch): the tokenizer gives the training script's ids, and Leger's
// decoder, from the safetensors + config.json and from the GGUF (llama.cpp's permuted q/k), gives
// PyTorch's logits and PyTorch's held-out perplexity computed the llama.cpp way (reference.json).
#include <QtTest>

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <cmath>

#include "io/GgufFile.h"
#include "llm/Decoder.h"
#include "llm/Tokenizer.h"
#include "util/AtomicFile.h"

using namespace leger;

namespace {
const std::string kDir = LEGER_SOURCE_DIR "/resources/llm/";

QJsonObject reference()
{
    QFile f(QString::fromStdString(kDir + "reference.json"));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}
} // namespace

class TestTinyLlama : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void tokenizersGiveTheTrainingScriptsIds();
    void logitsEqualPyTorchs_data();
    void logitsEqualPyTorchs();
    void perplexityEqualsPyTorchs();

private:
    QJsonObject ref_;
    std::vector<std::int32_t> heldout_;
};

void TestTinyLlama::initTestCase()
{
    ref_ = reference();
    QVERIFY(!ref_.isEmpty());
    heldout_ = Tokenizer::fromHuggingFace(kDir + "tokenizer.json").encode(readFile(kDir + "heldout.txt"));
}

void TestTinyLlama::tokenizersGiveTheTrainingScriptsIds()
{
    QCOMPARE(static_cast<qsizetype>(heldout_.size()), ref_["heldout_tokens"].toInteger());
    const QJsonArray first = ref_["first_64_token_ids"].toArray();
    for (qsizetype i = 0; i < first.size(); ++i)
        QCOMPARE(heldout_[static_cast<std::size_t>(i)], first[i].toInt());
    // The same vocabulary as GPT-2 files and as GGUF metadata.
    const std::string text = readFile(kDir + "heldout.txt");
    QVERIFY(Tokenizer::fromGpt2Files(kDir + "vocab.json", kDir + "merges.txt").encode(text) == heldout_);
    const GgufFile g = GgufFile::open(kDir + "tiny-llama-f32.gguf");
    QVERIFY(Tokenizer::fromGguf(g, kDir + "tiny-llama-f32.gguf").encode(text) == heldout_);
}

void TestTinyLlama::logitsEqualPyTorchs_data()
{
    QTest::addColumn<bool>("gguf");
    QTest::newRow("safetensors + config.json") << false;
    QTest::newRow("GGUF") << true;
}

void TestTinyLlama::logitsEqualPyTorchs()
{
    QFETCH(bool, gguf);
    Decoder d = gguf ? Decoder::fromGguf(kDir + "tiny-llama-f32.gguf") : Decoder::fromHuggingFace(kDir);
    const std::int64_t nCtx = ref_["perplexity"].toObject()["n_ctx"].toInteger();
    const std::int64_t V = d.config().vocabSize;
    std::vector<float> logits;
    d.forward(std::span(heldout_).first(static_cast<std::size_t>(nCtx)), logits);
    for (const QJsonValue& p : ref_["first_window_logits"].toArray()) {
        const QJsonObject o = p.toObject();
        const std::int64_t pos = o["position"].toInteger();
        const QJsonArray ids = o["top5_ids"].toArray(), values = o["top5_logits"].toArray();
        for (qsizetype k = 0; k < ids.size(); ++k) {
            const float got = logits[static_cast<std::size_t>(pos * V + ids[k].toInt())];
            QVERIFY2(std::abs(got - values[k].toDouble()) < 1e-4,
                     qPrintable(QString("position %1, id %2: %3 vs %4").arg(pos).arg(ids[k].toInt()).arg(got).arg(values[k].toDouble())));
        }
    }
    const QJsonObject row = ref_["logits_row"].toObject();
    const std::int64_t pos = row["position"].toInteger();
    const QJsonArray values = row["values"].toArray();
    QCOMPARE(values.size(), static_cast<qsizetype>(V));
    double worst = 0;
    for (qsizetype v = 0; v < values.size(); ++v)
        worst = std::max(worst, std::abs(logits[static_cast<std::size_t>(pos * V + v)] - values[v].toDouble()));
    QVERIFY2(worst < 1e-4, qPrintable(QString("largest difference in the logits row: %1").arg(worst)));
}

void TestTinyLlama::perplexityEqualsPyTorchs()
{
    const QJsonObject want = ref_["perplexity"].toObject();
    Decoder d = Decoder::fromHuggingFace(kDir);
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
