// leger-cli as a user runs it: info and run on the bundled sample, and clear errors.
#include <QProcess>
#include <QtTest>

#include <cmath>

#include "io/NpyIO.h"
#include "util/AtomicFile.h"

using namespace leger;

namespace {
const QString kSample = QStringLiteral(LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_cnn.onnx");

struct Result {
    int code;
    QString out;
    QString err;
};

Result cli(const QStringList& args)
{
    QProcess p;
    p.start(QStringLiteral(LEGER_CLI), args);
    p.waitForFinished(120000);
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

private:
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

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
