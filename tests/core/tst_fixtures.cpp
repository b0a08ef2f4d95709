// The runtime against PyTorch: committed models of each family (tests/fixtures) and the
// bundled sample, with inputs and reference outputs computed by torch.
#include <QtTest>

#include <algorithm>
#include <cmath>

#include "data/Dataset.h"
#include "io/NpyIO.h"
#include "io/OnnxReader.h"
#include "runtime/Executor.h"

using namespace leger;

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
} // namespace

class TestFixtures : public QObject {
    Q_OBJECT
private slots:
    void matchesTorch_data();
    void matchesTorch();
    void dynamicBatchGivesSameRows();
    void sampleAccuracy_data();
    void sampleAccuracy();
};

void TestFixtures::matchesTorch_data()
{
    QTest::addColumn<QString>("model");
    QTest::addColumn<QString>("references");
    QTest::addColumn<double>("tolerance");
    // Tolerances per family, from tests/fixtures/README.md.
    const QString f = kSource + "/tests/fixtures/";
    QTest::newRow("cnn_depthwise") << f + "cnn_depthwise.onnx" << f + "cnn_depthwise.npz" << 1e-4;
    QTest::newRow("mlp") << f + "mlp.onnx" << f + "mlp.npz" << 1e-4;
    QTest::newRow("mlp_constants") << f + "mlp_constants.onnx" << f + "mlp_constants.npz" << 1e-4;
    QTest::newRow("external_data") << f + "external_data/model.onnx" << f + "external_data.npz" << 1e-4;
    QTest::newRow("convtranspose_upsample") << f + "convtranspose_upsample.onnx" << f + "convtranspose_upsample.npz"
                                            << 1e-4;
    QTest::newRow("lstm") << f + "lstm.onnx" << f + "lstm.npz" << 1e-4;
    QTest::newRow("gru") << f + "gru.onnx" << f + "gru.npz" << 1e-4;
    QTest::newRow("transformer_op17") << f + "transformer_op17.onnx" << f + "transformer_op17.npz" << 1e-4;
    QTest::newRow("transformer_op13") << f + "transformer_op13.onnx" << f + "transformer_op13.npz" << 1e-4;
    const QString s = kSource + "/resources/sample/";
    QTest::newRow("sample fashion_mnist_cnn") << s + "fashion_mnist_cnn.onnx" << s + "fashion_mnist_cnn.reference.npz"
                                              << 1e-4;
}

void TestFixtures::matchesTorch()
{
    QFETCH(QString, model);
    QFETCH(QString, references);
    QFETCH(double, tolerance);
    const Model m = OnnxReader::readModel(model.toStdString());
    auto refs = NpyIO::readNpz(references.toStdString());
    // The sample's reference names its arrays x/logits; fixtures use the graph's names.
    if (refs.count("x") && !refs.count(m.graph.inputs[0].name))
        refs[m.graph.inputs[0].name] = refs.at("x");
    Executor exec(m);
    std::vector<const Tensor*> inputs;
    for (const auto& name : exec.inputNames()) {
        QVERIFY2(refs.count(name), ("no reference input " + name).c_str());
        inputs.push_back(&refs.at(name));
    }
    exec.run(inputs);
    for (std::size_t i = 0; i < exec.outputNames().size(); ++i) {
        const std::string& name = exec.outputNames()[i];
        QVERIFY2(refs.count(name), ("no reference output " + name).c_str());
        const Tensor& ref = refs.at(name);
        QCOMPARE(exec.output(i).shape(), ref.shape());
        const double err = relativeError(exec.output(i), ref);
        QVERIFY2(err <= tolerance, (name + ": relative error " + std::to_string(err)).c_str());
    }
}

void TestFixtures::dynamicBatchGivesSameRows()
{
    // Running one sample alone, after a batch, must give that sample's row of the batch
    // (buffers are reused across runs with different shapes).
    const Model m = OnnxReader::readModel((kSource + "/resources/sample/fashion_mnist_cnn.onnx").toStdString());
    const auto refs = NpyIO::readNpz((kSource + "/resources/sample/fashion_mnist_cnn.reference.npz").toStdString());
    const Tensor& x = refs.at("x");
    Executor exec(m);
    const Tensor* batch[] = {&x};
    exec.run(batch);
    const Tensor all = exec.output(0);
    const std::int64_t row = 17, classes = all.dim(1);
    Shape one = x.shape();
    one[0] = 1;
    Tensor single(DType::Float32, one);
    std::copy_n(x.data<float>() + row * single.size(), single.size(), single.data<float>());
    const Tensor* in[] = {&single};
    exec.run(in);
    for (std::int64_t c = 0; c < classes; ++c)
        QVERIFY(std::abs(exec.output(0).data<float>()[c] - all.data<float>()[row * classes + c]) <= 1e-4f);
}

void TestFixtures::sampleAccuracy_data()
{
    QTest::addColumn<QString>("images");
    QTest::addColumn<int>("correct"); // as counted by PyTorch and ONNX Runtime (resources/sample/README.md)
    QTest::newRow("shipped 2000") << kSource + "/resources/sample/fashion-mnist-test-2000-images-idx3-ubyte.gz" << 1851;
    QTest::newRow("full 10000") << "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz" << 9152;
}

void TestFixtures::sampleAccuracy()
{
    // End to end: real images through the sidecar's preprocessing and the runtime, counted
    // the way DESIGN.md defines top-1; the count must equal PyTorch's exactly.
    QFETCH(QString, images);
    QFETCH(int, correct);
    if (!QFile::exists(images))
        QSKIP("dataset-fashion-mnist is not installed");
    const Dataset data = Dataset::read(images.toStdString());
    const Model m = OnnxReader::readModel((kSource + "/resources/sample/fashion_mnist_cnn.onnx").toStdString());
    Executor exec(m);
    const float scale = 1.0f / 255.0f, mean = 0.286f, stdev = 0.353f; // fashion_mnist_cnn.leger.json
    const std::int64_t n = data.count(), pixels = 28 * 28, batch = 500;
    int hits = 0;
    for (std::int64_t start = 0; start < n; start += batch) {
        const std::int64_t b = std::min(batch, n - start);
        Tensor x(DType::Float32, {b, 1, 28, 28});
        const std::uint8_t* px = data.samples.data<std::uint8_t>() + start * pixels;
        for (std::int64_t i = 0; i < b * pixels; ++i)
            x.data<float>()[i] = (static_cast<float>(px[i]) * scale - mean) / stdev;
        const Tensor* in[] = {&x};
        exec.run(in);
        const Tensor& logits = exec.output(0);
        for (std::int64_t i = 0; i < b; ++i) {
            const float* row = logits.data<float>() + i * 10;
            const auto best = std::max_element(row, row + 10) - row;
            hits += best == data.labels.data<std::int64_t>()[start + i];
        }
    }
    QCOMPARE(hits, correct);
}

QTEST_APPLESS_MAIN(TestFixtures)
#include "tst_fixtures.moc"
