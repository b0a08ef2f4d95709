// leger-cli as a user runs it: info, run, eval, export, sweep and bench on the bundled sample
// and its shipped images, and clear errors.
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QtTest>

#include <cmath>

#include "io/NpyIO.h"
#include "util/AtomicFile.h"

using namespace leger;

namespace {
const QString kSample = QStringLiteral(LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_cnn.onnx");
const QString kImages = QStringLiteral(LEGER_SOURCE_DIR "/resources/sample/fashion-mnist-test-2000-images-idx3-ubyte.gz");
const char* kInt8 = R"({"default": {"format": "int", "bits": 8, "granularity": "channel", "symmetric": true,
  "clip": "minmax", "sparsity": 0.0, "pattern": "unstructured"}})";
const char* kMixed = R"({"default": {"format": "int", "bits": 8},
  "layers": {"fc1*": {"bits": 4, "granularity": "group", "group_size": 32, "symmetric": false, "clip": "mse"},
             "onnx::Conv_49": {"pattern": "2:4"}, "fc2.weight": {"format": "float16", "sparsity": 0.5}}})";

struct Result {
    int code;
    QString out;
    QString err;
};

Result cli(const QStringList& args)
{
    QProcess p;
    p.start(QStringLiteral(LEGER_CLI), args);
    p.waitForFinished(300000);
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}
} // namespace

class TestCli : public QObject {
    Q_OBJECT
private slots:
    void infoDescribesTheSample();
    void runWritesOutputs();
    void errorsNameTheProblem_data();
    void errorsNameTheProblem();
    void evalJson();
    void shippedRecipe();
    void exportedContainerHasTheShownSize();
    void runWithPlan();
    void sweepFitsTheDrop();
    void benchPrintsTheFigures();
    void badRecipesAndDataAreNamed_data();
    void badRecipesAndDataAreNamed();

private:
    QString write(const QString& name, const QByteArray& text);
    QJsonObject json(const QStringList& args);
    QTemporaryDir tmp_;
};

void TestCli::infoDescribesTheSample()
{
    const Result r = cli({"info", kSample});
    QCOMPARE(r.code, 0);
    QVERIFY2(r.out.contains(QRegularExpression(R"(image\s+float\s+\[N, 1, 28, 28\])")), qPrintable(r.out));
    QVERIFY(r.out.contains("compressible layers (6)"));
    QVERIFY(r.out.contains(QRegularExpression(R"(Conv\s+\d+)")));
    QVERIFY(r.out.contains("totals: "));

    // Concrete shapes: conv1 is 3x3, 1 -> 16 channels, padded: 2 * 5 * 16 * 28 * 28 * 9 FLOPs at batch 5.
    const Result s = cli({"info", kSample, "--shapes", "--shape", "image=5,1,28,28"});
    QVERIFY2(s.code == 0, qPrintable(s.err));
    QVERIFY2(s.out.contains(QRegularExpression(R"(/conv1/Conv\s+Conv\s+\[5, 16, 28, 28\]\s+1128960)")), qPrintable(s.out));
    QVERIFY(s.out.contains(QRegularExpression(R"(/fc2/Gemm\s+Gemm\s+\[5, 10\])")));
    const Result bad = cli({"info", kSample, "--shapes", "--shape", "image=5,3,28,28"});
    QVERIFY(bad.code != 0 && bad.err.contains("fashion_mnist_cnn.onnx"));
}

void TestCli::runWritesOutputs()
{
    const auto refs = NpyIO::readNpz(LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_cnn.reference.npz");
    const QString x = tmp_.filePath("x.npy");
    NpyIO::writeNpy(x.toStdString(), refs.at("x"));
    const QString out = tmp_.filePath("out");
    const Result r = cli({"run", kSample, "--input", "image=" + x, "--output-dir", out});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const Tensor logits = NpyIO::readNpy((out + "/logits.npy").toStdString());
    const Tensor& ref = refs.at("logits");
    QCOMPARE(logits.shape(), ref.shape());
    for (std::int64_t i = 0; i < ref.size(); ++i)
        QVERIFY(std::abs(logits.data<float>()[i] - ref.data<float>()[i]) < 1e-3f);
}

void TestCli::errorsNameTheProblem_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("expected");
    QTest::newRow("missing model") << QStringList{"info", "/nonexistent/model.onnx"} << "/nonexistent/model.onnx";
    QTest::newRow("unknown input") << QStringList{"run", kSample, "--input", "pixels=x.npy", "--output-dir", "o"}
                                   << "no input named 'pixels'";
    QTest::newRow("unknown command") << QStringList{"frobnicate"} << "unknown command";
    QTest::newRow("unknown option") << QStringList{"info", kSample, "--colour"} << "--colour";
}

void TestCli::errorsNameTheProblem()
{
    QFETCH(QStringList, args);
    QFETCH(QString, expected);
    const Result r = cli(args);
    QVERIFY(r.code != 0);
    QVERIFY2(r.err.contains(expected), qPrintable(r.err));
}

QString TestCli::write(const QString& name, const QByteArray& text)
{
    QFile f(tmp_.filePath(name));
    if (!f.open(QIODevice::WriteOnly) || f.write(text) != text.size())
        qFatal("cannot write %s", qPrintable(f.fileName()));
    return f.fileName();
}

QJsonObject TestCli::json(const QStringList& args)
{
    const Result r = cli(args);
    if (r.code != 0)
        qWarning("%s", qPrintable(r.err));
    QJsonParseError error;
    const QJsonDocument d = QJsonDocument::fromJson(r.out.toUtf8(), &error);
    if (error.error != QJsonParseError::NoError)
        qWarning("stdout is not JSON: %s\n%s", qPrintable(error.errorString()), qPrintable(r.out.left(400)));
    return d.object();
}

void TestCli::evalJson()
{
    // The issue's check: int8 per channel keeps top-1 within 0.5 point and agreement >= 99 %.
    const QJsonObject base = json({"eval", kSample, "--data", kImages, "--json"});
    const QJsonObject q = json({"eval", kSample, "--data", kImages, "--plan", write("int8.json", kInt8), "--json"});
    QCOMPARE(base["samples"].toInt(), 2000);
    QCOMPARE(base["metrics"]["top1"]["value"].toDouble(), 1851.0 / 2000.0);
    for (const char* key : {"value", "low", "high", "n"})
        QVERIFY2(q["metrics"]["top1"].toObject().contains(key), key);
    const double drop = base["metrics"]["top1"]["value"].toDouble() - q["metrics"]["top1"]["value"].toDouble();
    QVERIFY2(std::abs(drop) <= 0.005, qPrintable(QString::number(drop)));
    QVERIFY(q["metrics"]["agreement"]["value"].toDouble() >= 0.99);
    QVERIFY(q["metrics"]["top1"]["low"].toDouble() < q["metrics"]["top1"]["value"].toDouble());
    QCOMPARE(q["metrics"]["top1"]["n"].toInt(), 2000);
    // About a quarter of the float32 size: 8 bits per weight plus a float16 scale per channel.
    const double bpw = q["bits_per_weight"].toDouble();
    QVERIFY2(bpw > 8.0 && bpw < 8.1, qPrintable(QString::number(bpw)));
    QVERIFY(q["size_bytes"].toInteger() < base["size_bytes"].toInteger() / 3);
    QCOMPARE(q["layers"].toArray().size(), qsizetype(6));
    // The breakdown adds up: layers' records + other tensors + graph + header = the total.
    const QJsonObject parts = q["size_breakdown"].toObject();
    qint64 sum = 0, layers = 0;
    for (const auto& v : parts)
        sum += v.toInteger();
    for (const auto& l : q["layers"].toArray())
        layers += l.toObject()["bytes"].toInteger();
    QCOMPARE(sum, q["size_bytes"].toInteger());
    QCOMPARE(layers, parts["layers"].toInteger());
    const QJsonObject fc1 = q["layers"][4]["bytes_detail"].toObject(); // fc1: 48 x 3136 int8, 48 scales
    QCOMPARE(fc1["codes"].toInteger(), qint64(48 * 3136));
    QCOMPARE(fc1["scales"].toInteger(), qint64(2 * 48));
}

void TestCli::shippedRecipe()
{
    // The README's first command: the sample compressed by its shipped recipe.
    const QJsonObject q = json({"eval", kSample, "--data", kImages, "--plan",
                                LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_cnn.plan.json", "--json"});
    QCOMPARE(q["size_bytes"].toInteger(), qint64(95544));
    QVERIFY(q["metrics"]["agreement"]["value"].toDouble() >= 0.99);
    QCOMPARE(q["layers"][4]["setting"].toString(), QString("int4-g32"));
}

void TestCli::exportedContainerHasTheShownSize()
{
    const QString plan = write("mixed.json", kMixed);
    const QJsonObject shown = json({"eval", kSample, "--data", kImages, "--plan", plan, "--json"});
    const QString out = tmp_.filePath("mixed.leger");
    const Result r = cli({"export", kSample, "--plan", plan, "--format", "leger", "-o", out});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    QCOMPARE(QFileInfo(out).size(), shown["size_bytes"].toInteger());
    // Read back, the container evaluates to the same numbers (its own weights are its baseline).
    const QJsonObject back = json({"eval", out, "--data", kImages, "--json", "--preprocess",
                                   LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_cnn.leger.json"});
    QCOMPARE(back["metrics"]["top1"]["value"].toDouble(), shown["metrics"]["top1"]["value"].toDouble());
    QCOMPARE(back["size_bytes"].toInteger(), QFileInfo(out).size());
    QCOMPARE(back["layers"][4]["setting"].toString(), QString("int4-g32-asym-mse"));
    for (const char* format : {"onnx-qdq", "onnx-float"}) {
        const QString file = tmp_.filePath(QString("mixed.%1.onnx").arg(format));
        const Result e = cli({"export", kSample, "--plan", plan, "--format", format, "-o", file});
        QVERIFY2(e.code == 0 && QFileInfo(file).size() > 0, qPrintable(e.err));
    }
}

void TestCli::runWithPlan()
{
    const auto refs = NpyIO::readNpz(LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_cnn.reference.npz");
    const QString x = tmp_.filePath("x.npy");
    NpyIO::writeNpy(x.toStdString(), refs.at("x"));
    const QString plan = write("int4.json", R"({"default": {"format": "int", "bits": 4}})");
    const Result r = cli({"run", kSample, "--input", "image=" + x, "--output-dir", tmp_.filePath("q"), "--plan", plan});
    QVERIFY2(r.code == 0, qPrintable(r.err));
    const Tensor logits = NpyIO::readNpy(tmp_.filePath("q/logits.npy").toStdString());
    const Tensor& ref = refs.at("logits");
    double diff = 0, scale = 0;
    for (std::int64_t i = 0; i < ref.size(); ++i) {
        diff = std::max(diff, double(std::abs(logits.data<float>()[i] - ref.data<float>()[i])));
        scale = std::max(scale, double(std::abs(ref.data<float>()[i])));
    }
    QVERIFY2(diff > 1e-3 && diff < 0.5 * scale, qPrintable(QString::number(diff))); // changed, not broken
}

void TestCli::sweepFitsTheDrop()
{
    const QString saved = tmp_.filePath("fit.json");
    const QJsonObject r = json({"sweep", kSample, "--data", kImages, "--limit", "1000", "--settings", "int8,int4,int2",
                                "--max-drop", "0.01", "--json", "--save-plan", saved});
    QVERIFY(r["found"].toBool());
    const QJsonObject best = r["best"].toObject();
    QCOMPARE(best["samples"].toInt(), 1000);
    // Measured, not predicted: the best plan's own evaluation is within the limit.
    const QJsonObject base = json({"eval", kSample, "--data", kImages, "--limit", "1000", "--json"});
    const QJsonObject check = json({"eval", kSample, "--data", kImages, "--limit", "1000", "--plan", saved, "--json"});
    QCOMPARE(check["metrics"]["top1"]["value"].toDouble(), best["top1"].toDouble());
    QVERIFY(base["metrics"]["top1"]["value"].toDouble() - best["top1"].toDouble() <= 0.01);
    QCOMPARE(check["size_bytes"].toInteger(), best["size_bytes"].toInteger());
    QVERIFY(best["size_bytes"].toInteger() < base["size_bytes"].toInteger());
}

void TestCli::benchPrintsTheFigures()
{
    const QJsonObject b = json({"bench", kSample, "--data", kImages});
    for (const char* key : {"full_eval_ms", "first_partial_ms", "incremental_last_layer_ms", "quantize_gbps", "size_us"})
        QVERIFY2(b[key].toDouble() > 0, key);
    QVERIFY(b["incremental_identical"].toBool());
}

void TestCli::badRecipesAndDataAreNamed_data()
{
    QTest::addColumn<QByteArray>("recipe");
    QTest::addColumn<QString>("data");
    QTest::addColumn<QString>("expected");
    QTest::newRow("bits") << QByteArray(R"({"default": {"format": "int", "bits": 9}})") << kImages << "bits";
    QTest::newRow("format") << QByteArray(R"({"default": {"format": "int3"}})") << kImages << "format";
    QTest::newRow("no layer") << QByteArray(R"({"layers": {"conv9*": {"bits": 4}}})") << kImages << "conv9*";
    QTest::newRow("not json") << QByteArray("{") << kImages << "recipe.json";
    QTest::newRow("missing data") << QByteArray(kInt8) << "/nonexistent/images-idx3-ubyte" << "/nonexistent/images-idx3-ubyte";
}

void TestCli::badRecipesAndDataAreNamed()
{
    QFETCH(QByteArray, recipe);
    QFETCH(QString, data);
    QFETCH(QString, expected);
    const Result r = cli({"eval", kSample, "--data", data, "--plan", write("recipe.json", recipe)});
    QVERIFY(r.code != 0);
    QVERIFY2(r.err.contains(expected), qPrintable(r.err));
}

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
