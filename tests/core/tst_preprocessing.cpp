// Preprocessing: the sidecar's keys and errors, and how stored samples become model inputs
// (IDX images into NCHW/NHWC, per-channel mean/std, bilinear resize, data already shaped).
#include <QtTest>

#include <filesystem>

#include "data/Dataset.h"
#include "data/Preprocessing.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

using namespace leger;
namespace fs = std::filesystem;

class TestPreprocessing : public QObject {
    Q_OBJECT
private slots:
    void readsBundledSidecar();
    void rejectsBadSidecar_data();
    void rejectsBadSidecar();
    void grayImagesToNchw();
    void rgbImagesPerChannelNhwcAndNchw();
    void resizesBilinear();
    void alreadyShapedData();
    void mismatchNamesTheFile();
    void freeDimensionsFromTheData();
};

void TestPreprocessing::readsBundledSidecar()
{
    const auto p = Preprocessing::readSidecar(LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_cnn.onnx");
    QVERIFY(p.has_value());
    QCOMPARE(p->input, std::string("image"));
    QCOMPARE(p->labels.size(), std::size_t(10));
    QCOMPARE(p->scale, 1.0 / 255.0);
    QVERIFY(!Preprocessing::readSidecar(LEGER_SOURCE_DIR "/tests/fixtures/mlp.onnx").has_value());
}

void TestPreprocessing::rejectsBadSidecar_data()
{
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("expected");
    QTest::newRow("not json") << "{" << "not valid JSON";
    QTest::newRow("array") << "[]" << "expected a JSON object";
    QTest::newRow("layout") << R"({"layout": "CHW"})" << "layout: expected \"NCHW\" or \"NHWC\"";
    QTest::newRow("scale") << R"({"scale": -1})" << "scale: expected a positive number";
    QTest::newRow("std zero") << R"({"std": [0.5, 0]})" << "std: every value must be positive";
    QTest::newRow("mean type") << R"({"mean": "a"})" << "mean: expected a number or a list";
    QTest::newRow("resize") << R"({"resize": [224]})" << "resize: expected [height, width]";
    QTest::newRow("unknown") << R"({"scal": 1})" << "scal: unknown key";
}

void TestPreprocessing::rejectsBadSidecar()
{
    QFETCH(QString, json);
    QFETCH(QString, expected);
    try {
        Preprocessing::fromJson(json.toStdString(), "m.leger.json");
        QFAIL("accepted");
    } catch (const Error& e) {
        const QString what = e.what();
        QVERIFY2(what.startsWith("m.leger.json") && what.contains(expected), qPrintable(what));
    }
}

namespace {

Dataset images(std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c)
{
    Dataset d;
    d.source = "mem.idx";
    Shape s{n, h, w};
    if (c > 0)
        s.push_back(c);
    d.samples = Tensor(DType::UInt8, s);
    for (std::int64_t i = 0; i < d.samples.size(); ++i)
        d.samples.data<std::uint8_t>()[i] = static_cast<std::uint8_t>((i * 37) % 256);
    return d;
}

} // namespace

void TestPreprocessing::grayImagesToNchw()
{
    const Dataset d = images(3, 4, 5, 0);
    Preprocessing p;
    p.scale = 1.0 / 255.0;
    p.mean = {0.5};
    p.std = {0.25};
    const Tensor x = p.apply(d, 1, 2, {1, 4, 5});
    QCOMPARE(x.shape(), (Shape{2, 1, 4, 5}));
    for (std::int64_t i = 0; i < x.size(); ++i) {
        const float px = d.samples.data<std::uint8_t>()[20 + i];
        QCOMPARE(x.data<float>()[i], (px * static_cast<float>(1.0 / 255.0) - 0.5f) / 0.25f);
    }
    // Gray images replicated into 3 channels.
    const Tensor x3 = p.apply(d, 0, 1, {3, 4, 5});
    for (int c = 1; c < 3; ++c)
        for (int i = 0; i < 20; ++i)
            QCOMPARE(x3.data<float>()[c * 20 + i], x3.data<float>()[i]);
}

void TestPreprocessing::rgbImagesPerChannelNhwcAndNchw()
{
    const Dataset d = images(1, 2, 3, 3);
    Preprocessing p;
    p.mean = {1, 2, 3};
    p.std = {1, 2, 4};
    const Tensor nchw = p.apply(d, 0, 1, {3, 2, 3});
    p.layout = "NHWC";
    const Tensor nhwc = p.apply(d, 0, 1, {2, 3, 3});
    const std::uint8_t* s = d.samples.data<std::uint8_t>();
    for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 3; ++x)
            for (int c = 0; c < 3; ++c) {
                const float want = (float(s[(y * 3 + x) * 3 + c]) - float(p.mean[std::size_t(c)])) / float(p.std[std::size_t(c)]);
                QCOMPARE(nchw.data<float>()[(c * 2 + y) * 3 + x], want);
                QCOMPARE(nhwc.data<float>()[(y * 3 + x) * 3 + c], want);
            }
    p.mean = {1, 2};
    QVERIFY_THROWS_EXCEPTION(Error, p.apply(d, 0, 1, {2, 3, 3}));
}

void TestPreprocessing::resizesBilinear()
{
    // 2x2 -> 4x4 with half-pixel centres: corners keep their values, the rest interpolate.
    Dataset d;
    d.source = "mem";
    d.samples = Tensor::fromVector<std::uint8_t>({1, 2, 2}, {0, 100, 200, 40});
    Preprocessing p;
    QVERIFY_THROWS_EXCEPTION(Error, p.apply(d, 0, 1, {1, 4, 4})); // no resize asked for
    p.resize = std::pair<std::int64_t, std::int64_t>{4, 4};
    const Tensor x = p.apply(d, 0, 1, {1, 4, 4});
    const float* v = x.data<float>();
    QCOMPARE(v[0], 0.0f);
    QCOMPARE(v[3], 100.0f);
    QCOMPARE(v[12], 200.0f);
    QCOMPARE(v[15], 40.0f);
    QCOMPARE(v[1], 25.0f); // x = 1: source 0.25 between 0 and 100
    QCOMPARE(v[4], 50.0f); // y = 1: source 0.25 between 0 and 200
}

void TestPreprocessing::alreadyShapedData()
{
    Dataset d;
    d.source = "x.npy";
    d.samples = Tensor::fromVector<float>({2, 6}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    Preprocessing p;
    p.scale = 2;
    p.mean = {1};
    const Tensor x = p.apply(d, 1, 1, {6});
    QCOMPARE(x.shape(), (Shape{1, 6}));
    QCOMPARE(x.data<float>()[0], 13.0f);
    QCOMPARE(x.data<float>()[5], 23.0f);
}

void TestPreprocessing::mismatchNamesTheFile()
{
    const Dataset d = images(2, 4, 5, 0);
    Preprocessing p;
    try {
        p.apply(d, 0, 1, {7});
        QFAIL("accepted");
    } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains("mem.idx"), e.what());
    }
    QVERIFY_THROWS_EXCEPTION(Error, p.apply(d, 1, 2, {1, 4, 5})); // out of range
}

void TestPreprocessing::freeDimensionsFromTheData()
{
    Preprocessing p;
    // Images (N, H, W, C) into a model taking (N, 3, H?, W?) or (N, H?, W?, 3).
    const Dataset rgb = images(2, 6, 8, 3);
    QCOMPARE(p.resolveSampleShape({3, -1, -1}, rgb), (Shape{3, 6, 8}));
    QCOMPARE(p.resolveSampleShape({-1, -1, 3}, rgb), (Shape{6, 8, 3}));
    p.resize = std::pair<std::int64_t, std::int64_t>{12, 16};
    QCOMPARE(p.resolveSampleShape({3, -1, -1}, rgb), (Shape{3, 12, 16}));
    // Preprocessed tensors stored as the model takes them.
    Dataset shaped;
    shaped.source = "x.npz";
    shaped.samples = Tensor(DType::Float32, {4, 3, 48, 192});
    QCOMPARE(p.resolveSampleShape({3, -1, -1}, shaped), (Shape{3, 48, 192}));
    QCOMPARE(p.resolveSampleShape({3, 48, 192}, shaped), (Shape{3, 48, 192}));
    Dataset flat;
    flat.source = "x.npy";
    flat.samples = Tensor(DType::Float32, {4, 10});
    QVERIFY_THROWS_EXCEPTION(Error, p.resolveSampleShape({3, -1, -1}, flat));
}

QTEST_APPLESS_MAIN(TestPreprocessing)
#include "tst_preprocessing.moc"
