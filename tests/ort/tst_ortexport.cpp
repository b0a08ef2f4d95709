// Leger's ONNX exports run by ONNX Runtime (onnxruntime-node 1.30 through tests/ort/run_ort.js):
// the bundled sample compressed (int8 per channel, int4 group 32), exported as QDQ and as float,
// on real Fashion-MNIST test images. ORT's logits must match Leger's (the original model with the
// same dequantized weights) within 1e-4 of their largest magnitude: float kernels differ only in
// summation order. And for several models and settings, the weights ORT dequantizes (made graph
// outputs) equal Leger's dequantized weights bit for bit. Skipped only when node is not installed.
#include <QtTest>

#include <cmath>

#include <onnx/onnx_pb.h>

#include "data/Dataset.h"
#include "io/NpyIO.h"
#include "io/OnnxReader.h"
#include "io/OnnxWriter.h"
#include "model/Layer.h"
#include "model/Model.h"
#include "runtime/Executor.h"
#include "util/AtomicFile.h"

#include "../core/ExportTestModels.h"
#include "../core/ReferenceCompress.h"

using namespace leger;
using namespace leger::test;

namespace {

const QString kSource = QStringLiteral(LEGER_SOURCE_DIR);

/// max|got - ref| / max|ref|
double relativeError(const Tensor& got, const Tensor& ref)
{
    double maxRef = 0, maxDiff = 0;
    for (std::int64_t i = 0; i < ref.size(); ++i) {
        maxRef = std::max(maxRef, std::abs(ref.at(i)));
        maxDiff = std::max(maxDiff, std::abs(got.at(i) - ref.at(i)));
    }
    return maxDiff / std::max(maxRef, 1e-30);
}

/// Runs run_ort.js on model with inputs (name -> .npy path) into outDir; "" or the error.
QString runOrt(const QString& node, const std::string& model, const std::map<std::string, std::string>& inputs,
               const QString& outDir)
{
    QStringList args{kSource + "/tests/ort/run_ort.js", QString::fromStdString(model), "--output-dir", outDir};
    for (const auto& [name, file] : inputs)
        args << "--input" << QString::fromStdString(name + "=" + file);
    QProcess p;
    p.start(node, args);
    if (!p.waitForFinished(180000))
        return "run_ort.js timed out";
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        return "run_ort.js failed: " + QString::fromUtf8(p.readAllStandardError());
    return {};
}

/// run_ort.js's file name for an output.
std::string outputFile(const QString& dir, std::string name)
{
    for (char& c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
            c = '_';
    return (dir + "/").toStdString() + name + ".npy";
}

QString firstDifference(const Tensor& got, const Tensor& want)
{
    if (got.shape() != want.shape() || got.dtype() != want.dtype())
        return QString::fromStdString("shape " + shapeToString(got.shape()) + " vs " + shapeToString(want.shape()));
    for (std::int64_t i = 0; i < got.size(); ++i)
        if (std::memcmp(got.data<float>() + i, want.data<float>() + i, 4) != 0)
            return QStringLiteral("element %1: %2 vs %3").arg(i).arg(got.at(i), 0, 'g', 9).arg(want.at(i), 0, 'g', 9);
    return {};
}

/// The setting of a named configuration for layer i ("mixed": a different one per layer).
LayerSetting settingFor(const QString& config, std::size_t i)
{
    if (config != "mixed")
        return namedSetting(config.toStdString());
    static const char* cycle[] = {"int4 g32 asym", "float16", "int8 channel sym", "float32 pruned", "int8 tensor asym",
                                  "int3 channel asym pruned", "bfloat16 pruned", "int4 g32 sym"};
    return namedSetting(cycle[i % (sizeof cycle / sizeof cycle[0])]);
}

} // namespace

class TestOrtExport : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void ortMatchesLeger_data();
    void ortMatchesLeger();
    void ortDequantizesExactly_data();
    void ortDequantizesExactly();

private:
    QString node_;
    QTemporaryDir tmp_;
    std::string inputPath_;
};

void TestOrtExport::initTestCase()
{
    node_ = QStandardPaths::findExecutable("node");
    if (node_.isEmpty())
        QSKIP("node (Node.js) is not installed: ONNX Runtime checks skipped");
    const QString ort = kSource + "/tests/ort/node_modules/onnxruntime-node";
    QVERIFY2(QFileInfo::exists(ort),
             qPrintable("onnxruntime-node is not installed: run 'npm ci' in " + kSource + "/tests/ort (tests/run-all.sh does)"));
    // The first 16 test images, preprocessed as the sample's sidecar says: (pixel / 255 - 0.286) / 0.353, NCHW.
    const Dataset data =
        Dataset::readIdx((kSource + "/resources/sample/fashion-mnist-test-2000-images-idx3-ubyte.gz").toStdString(), 16);
    QCOMPARE(data.samples.dtype(), DType::UInt8);
    Tensor x(DType::Float32, {data.count(), 1, 28, 28});
    QCOMPARE(x.size(), data.samples.size());
    for (std::int64_t i = 0; i < x.size(); ++i)
        x.data<float>()[i] = (static_cast<float>(data.samples.data<std::uint8_t>()[i]) / 255.0f - 0.286f) / 0.353f;
    inputPath_ = tmp_.filePath("image.npy").toStdString();
    NpyIO::writeNpy(inputPath_, x);

    // Batched MatMul weights, with and without an op (GridSample) that keeps the opset at 17.
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> dist(-1, 1);
    Tensor bx(DType::Float32, {3, 2, 3, 80});
    for (std::int64_t i = 0; i < bx.size(); ++i)
        bx.data<float>()[i] = dist(rng);
    NpyIO::writeNpz(tmp_.filePath("batched.npz").toStdString(), {{"x", bx}});
    writeFileAtomically(tmp_.filePath("batched_matmul.onnx").toStdString(), batchedMatMulModel(false).SerializeAsString());
    writeFileAtomically(tmp_.filePath("batched_matmul_gridsample.onnx").toStdString(),
                        batchedMatMulModel(true).SerializeAsString());
    Tensor ox(DType::Float32, {4, 16});
    for (std::int64_t i = 0; i < ox.size(); ++i)
        ox.data<float>()[i] = dist(rng);
    NpyIO::writeNpz(tmp_.filePath("opset11.npz").toStdString(), {{"x", ox}});
    writeFileAtomically(tmp_.filePath("opset11.onnx").toStdString(), opset11Model().SerializeAsString());
}

void TestOrtExport::ortMatchesLeger_data()
{
    QTest::addColumn<QString>("config");
    QTest::newRow("int8 channel sym") << "int8 channel sym";
    QTest::newRow("int8 channel asym") << "int8 channel asym";
    QTest::newRow("int4 g32 sym") << "int4 g32 sym";
    QTest::newRow("int4 g32 asym") << "int4 g32 asym";
}

void TestOrtExport::ortMatchesLeger()
{
    QFETCH(QString, config);
    const std::string src = (kSource + "/resources/sample/fashion_mnist_cnn.onnx").toStdString();
    Model model = OnnxReader::readModel(src);
    const std::vector<Layer> layers = Layer::find(model);
    QCOMPARE(layers.size(), std::size_t(6));
    LayerSetting s;
    if (config == "int8 channel sym" || config == "int8 channel asym")
        s = intSetting(8, Granularity::Channel, config.endsWith("sym") && !config.endsWith("asym"));
    else
        s = intSetting(4, Granularity::Group, !config.endsWith("asym"), 32);
    std::vector<CompressedWeight> weights;
    std::map<std::string, Tensor> expected;
    for (const Layer& l : layers) {
        weights.push_back(compress(l, *model.graph.initializer(l.name), s));
        expected[l.name] = dequantize(l, weights.back());
    }
    const QString dir = tmp_.filePath(config.simplified().replace(' ', '_'));
    QVERIFY(QDir().mkpath(dir));
    const std::string qdqPath = (dir + "/qdq.onnx").toStdString();
    const std::string floatPath = (dir + "/float.onnx").toStdString();
    const auto warnings = OnnxWriter::exportQdqOnnx(src, layers, weights, qdqPath);
    QVERIFY2(warnings.empty(), warnings.empty() ? "" : warnings.front().c_str());
    OnnxWriter::exportFloatOnnx(src, expected, floatPath);

    // Leger: the original model with the dequantized weights.
    for (const auto& [name, t] : expected)
        model.graph.initializers[name] = t;
    const Tensor x = NpyIO::readNpy(inputPath_);
    Executor ex(model);
    const Tensor* in[] = {&x};
    ex.run(in);
    const Tensor want = ex.output(0);
    QCOMPARE(want.shape(), (Shape{16, 10}));

    for (const auto& [kind, path] : {std::pair<QString, std::string>{"qdq", qdqPath}, {"float", floatPath}}) {
        const QString outDir = dir + "/ort_" + kind;
        QProcess p;
        p.start(node_, {kSource + "/tests/ort/run_ort.js", QString::fromStdString(path), "--input",
                        "image=" + QString::fromStdString(inputPath_), "--output-dir", outDir});
        QVERIFY2(p.waitForFinished(180000), "run_ort.js timed out");
        QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0,
                 qPrintable(kind + ": " + QString::fromUtf8(p.readAllStandardError())));
        const Tensor got = NpyIO::readNpy((outDir + "/logits.npy").toStdString());
        QCOMPARE(got.shape(), want.shape());
        const double err = relativeError(got, want);
        qInfo("%s %s: max|ort - leger| / max|leger| = %.3g", qPrintable(config), qPrintable(kind), err);
        QVERIFY2(err <= 1e-4, qPrintable(kind + QString(": relative error %1").arg(err)));
        // Same top-1 on every image.
        for (std::int64_t i = 0; i < want.dim(0); ++i) {
            const float* a = got.data<float>() + i * 10;
            const float* b = want.data<float>() + i * 10;
            QCOMPARE(std::max_element(a, a + 10) - a, std::max_element(b, b + 10) - b);
        }
    }
}

void TestOrtExport::ortDequantizesExactly_data()
{
    QTest::addColumn<QString>("model");
    QTest::addColumn<QString>("npz");
    QTest::addColumn<QString>("config");
    QTest::addColumn<bool>("fallback"); // the opset cannot reach 21: 8-bit containers, 2-D group views
    const QString f = kSource + "/tests/fixtures/";
    const QString s = kSource + "/resources/sample/";
    const std::pair<const char*, QString> models[] = {
        {"sample", s + "fashion_mnist_cnn.onnx"},
        {"transformer_op17", f + "transformer_op17.onnx"}, // MatMul weights (K, N): blocks along axis 0
        {"transformer_op13", f + "transformer_op13.onnx"}, // raised 13 -> 21: ReduceMean axes become inputs
        {"lstm", f + "lstm.onnx"},                         // (1, 4H, I) weights
        {"gru", f + "gru.onnx"},                           // (2, 3H, I): per-channel rows span two axes
        {"batched_matmul", tmp_.filePath("batched_matmul.onnx")}, // (2, K, N): transposed, channels span 2 axes
        {"batched_matmul_gridsample", tmp_.filePath("batched_matmul_gridsample.onnx")}, // stays at opset 17
        {"opset11", tmp_.filePath("opset11.onnx")}, // raised 11 -> 13 / 21: attributes become inputs
    };
    for (const auto& [name, path] : models) {
        // Fixtures' inputs come from their .npz; the sample's are the test images (empty npz).
        const QString npz = path.startsWith(f)          ? QString(path).replace(".onnx", ".npz")
                            : path.startsWith(kSource) ? QString()
                            : path.endsWith("opset11.onnx") ? tmp_.filePath("opset11.npz")
                                                             : tmp_.filePath("batched.npz");
        const bool fallback = path.endsWith("gridsample.onnx");
        for (const char* c : {"int8 channel asym", "int8 tensor asym", "int8 g32 sym", "int4 g32 sym", "int4 g32 asym",
                              "int3 channel asym pruned", "float16", "bfloat16 pruned", "mixed"})
            QTest::addRow("%s %s", name, c) << path << npz << QString::fromLatin1(c) << fallback;
    }
}

void TestOrtExport::ortDequantizesExactly()
{
    QFETCH(QString, model);
    QFETCH(QString, npz);
    QFETCH(QString, config);
    QFETCH(bool, fallback);
    const std::string src = model.toStdString();
    Model m = OnnxReader::readModel(src);
    const std::vector<Layer> layers = Layer::find(m);
    std::vector<CompressedWeight> weights;
    std::map<std::string, Tensor> expected;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        weights.push_back(compress(layers[i], *m.graph.initializer(layers[i].name), settingFor(config, i)));
        expected[layers[i].name] = dequantize(layers[i], weights.back());
    }
    const QString dir = tmp_.filePath("exact");
    QVERIFY(QDir().mkpath(dir));
    const std::string qdqPath = (dir + "/qdq.onnx").toStdString();
    const auto warnings = OnnxWriter::exportQdqOnnx(src, layers, weights, qdqPath);
    if (!fallback)
        QVERIFY2(warnings.empty(), warnings.empty() ? "" : warnings.front().c_str());

    // Make every dequantized weight a graph output, so that ORT hands back what it computed.
    onnx::ModelProto proto;
    QVERIFY(proto.ParseFromString(readFile(qdqPath)));
    for (const auto& [name, t] : expected) {
        auto* o = proto.mutable_graph()->add_output();
        o->set_name(name);
        o->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
    }
    const std::string probePath = (dir + "/qdq_weights.onnx").toStdString();
    writeFileAtomically(probePath, proto.SerializeAsString());

    std::map<std::string, std::string> inputFiles;
    std::vector<Tensor> inputs;
    if (npz.isEmpty()) {
        inputFiles["image"] = inputPath_;
        inputs.push_back(NpyIO::readNpy(inputPath_));
    } else {
        const auto arrays = NpyIO::readNpz(npz.toStdString());
        for (const auto& in : m.graph.inputs) {
            inputs.push_back(arrays.at(in.name));
            inputFiles[in.name] = (dir + "/in_").toStdString() + in.name + ".npy";
            NpyIO::writeNpy(inputFiles[in.name], inputs.back());
        }
    }
    static int run = 0;
    const QString outDir = dir + QStringLiteral("/ort_%1").arg(run++);
    const QString err = runOrt(node_, probePath, inputFiles, outDir);
    QVERIFY2(err.isEmpty(), qPrintable(err));
    for (const auto& [name, t] : expected) {
        const Tensor got = NpyIO::readNpy(outputFile(outDir, name));
        const QString diff = firstDifference(got, t);
        QVERIFY2(diff.isEmpty(), qPrintable(QString::fromStdString(name) + ": " + diff));
    }
    // And the model's outputs agree with Leger's on the same weights.
    for (const auto& [name, t] : expected)
        m.graph.initializers[name] = t;
    Executor ex(m);
    std::vector<const Tensor*> ptrs;
    for (const auto& t : inputs)
        ptrs.push_back(&t);
    ex.run(ptrs);
    for (std::size_t i = 0; i < ex.outputNames().size(); ++i) {
        const Tensor got = NpyIO::readNpy(outputFile(outDir, ex.outputNames()[i]));
        const double e = relativeError(got, ex.output(i));
        QVERIFY2(e <= 1e-4, qPrintable(QString::fromStdString(ex.outputNames()[i]) + QString(": relative error %1").arg(e)));
    }
}

QTEST_GUILESS_MAIN(TestOrtExport)
#include "tst_ortexport.moc"
