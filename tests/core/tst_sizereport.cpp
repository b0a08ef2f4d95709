// SizeModel / SizeReport: the pruners' kept counts and each section's bytes against values
// worked out by hand, the breakdown adding up to the total, bits per weight and the ratios,
// and that the fast total() agrees with report() for random plans. (That the total is the
// .leger file's size, byte for byte, is checked by tst_legercontainer.)
#include <QtTest>

#include <chrono>
#include <cmath>
#include <random>

#include "compress/Pruner.h"
#include "compress/SizeReport.h"
#include "io/LegerContainer.h"
#include "io/OnnxReader.h"
#include "model/Layer.h"
#include "model/Model.h"

using namespace leger;

namespace {

LayerSetting intSetting(int bits, Granularity g, int groupSize = 32, bool symmetric = true)
{
    LayerSetting s;
    s.format = WeightFormat::Int;
    s.bits = bits;
    s.granularity = g;
    s.groupSize = groupSize;
    s.symmetric = symmetric;
    return s;
}

LayerSetting pruned(LayerSetting s, SparsityPattern p, double sparsity)
{
    s.pattern = p;
    s.sparsity = sparsity;
    return s;
}

/// A model with `count` synthetic layers of various shapes and a few other tensors.
Model syntheticModel(int count, std::vector<Layer>& layers)
{
    Model m;
    std::mt19937 rng(3);
    for (int i = 0; i < count; ++i) {
        Layer l;
        l.name = "block" + std::to_string(i) + ".conv.weight";
        const std::int64_t out = 16 << (i % 4), in = 8 + 8 * (i % 5), k = (i % 3) ? 3 : 1;
        l.shape = {out, in, k, k};
        l.rows = out;
        l.cols = in * k * k;
        l.parameters = l.rows * l.cols;
        layers.push_back(l);
        m.graph.initializers.emplace(l.name, Tensor(DType::Float32, l.shape));
        m.graph.initializers.emplace("block" + std::to_string(i) + ".conv.bias", Tensor(DType::Float32, {out}));
    }
    m.graph.initializers.emplace("shape", Tensor(DType::Int64, {4}));
    m.fileBytes = 1000;
    return m;
}

} // namespace

class TestSizeReport : public QObject {
    Q_OBJECT
private slots:
    void keptCounts_data();
    void keptCounts();
    void layerBytes_data();
    void layerBytes();
    void breakdownAddsUp();
    void float32Baseline();
    void fastTotalAgrees();
    void thousandLayersIsFast();
};

void TestSizeReport::keptCounts_data()
{
    QTest::addColumn<int>("pattern");
    QTest::addColumn<double>("sparsity");
    QTest::addColumn<qint64>("rows");
    QTest::addColumn<qint64>("cols");
    QTest::addColumn<qint64>("kept");
    using P = SparsityPattern;
    const auto row = [](const char* name, P p, double s, qint64 r, qint64 c, qint64 k) {
        QTest::newRow(name) << int(p) << s << r << c << k;
    };
    row("dense", P::Unstructured, 0.0, 3, 10, 30);
    row("unstructured 0.25", P::Unstructured, 0.25, 3, 10, 22);  // llround(7.5) = 8 removed
    row("unstructured tiny", P::Unstructured, 0.01, 3, 10, 30);  // llround(0.3) = 0
    row("unstructured 0.5 odd", P::Unstructured, 0.5, 1, 7, 3);  // llround(3.5) = 4 removed
    row("2:4", P::N2M4, 0.0, 3, 10, 18);                          // 2 groups * 2 + 2 trailing per row
    row("2:4 sparsity ignored", P::N2M4, 0.9, 3, 10, 18);
    row("2:4 narrow", P::N2M4, 0.0, 3, 3, 9);                     // no complete group: all kept
    row("4:8", P::N4M8, 0.0, 3, 10, 18);                          // 4 + 2 trailing per row
    row("4:8 exact", P::N4M8, 0.0, 2, 16, 16);
    row("channel 0.5", P::Channel, 0.5, 3, 10, 10);               // llround(1.5) = 2 rows removed
    row("channel 0", P::Channel, 0.0, 3, 10, 30);
    row("channel all", P::Channel, 0.6, 1, 10, 0);                // llround(0.6) = 1: the only row
}

void TestSizeReport::keptCounts()
{
    QFETCH(int, pattern);
    QFETCH(double, sparsity);
    QFETCH(qint64, rows);
    QFETCH(qint64, cols);
    QFETCH(qint64, kept);
    LayerSetting s;
    s.pattern = SparsityPattern(pattern);
    s.sparsity = sparsity;
    QCOMPARE(Pruner::keptCount(s, rows, cols), kept);
}

void TestSizeReport::layerBytes_data()
{
    QTest::addColumn<LayerSetting>("setting");
    QTest::addColumn<qint64>("rows");
    QTest::addColumn<qint64>("cols");
    QTest::addColumn<qint64>("codes");
    QTest::addColumn<qint64>("sparsity");
    QTest::addColumn<qint64>("scales");
    QTest::addColumn<qint64>("zeroPoints");
    using G = Granularity;
    using P = SparsityPattern;
    LayerSetting f16;
    f16.format = WeightFormat::Float16;
    LayerSetting bf16 = f16;
    bf16.format = WeightFormat::BFloat16;
    QTest::newRow("float32") << LayerSetting{} << qint64(3) << qint64(70) << qint64(840) << qint64(0) << qint64(0) << qint64(0);
    QTest::newRow("float16") << f16 << qint64(3) << qint64(70) << qint64(420) << qint64(0) << qint64(0) << qint64(0);
    // 3*70 = 210 weights, 42 removed (llround(0.2 * 210)), 168 kept; mask ceil(210 / 8) = 27.
    QTest::newRow("bfloat16 pruned") << pruned(bf16, P::Unstructured, 0.2) << qint64(3) << qint64(70) << qint64(336)
                                     << qint64(27) << qint64(0) << qint64(0);
    // int4, groups of 32 along rows of 70: 3 groups per row, 9 scales; 210 * 4 bits = 105 bytes.
    QTest::newRow("int4 g32 asym") << intSetting(4, G::Group, 32, false) << qint64(3) << qint64(70) << qint64(105)
                                   << qint64(0) << qint64(18) << qint64(9);
    QTest::newRow("int4 g128 sym") << intSetting(4, G::Group, 128) << qint64(3) << qint64(70) << qint64(105) << qint64(0)
                                   << qint64(6) << qint64(0);
    // int3 per tensor: 210 * 3 = 630 bits = 78.75 -> 79 bytes; one scale.
    QTest::newRow("int3 tensor") << intSetting(3, G::Tensor) << qint64(3) << qint64(70) << qint64(79) << qint64(0)
                                 << qint64(2) << qint64(0);
    QTest::newRow("int8 channel") << intSetting(8, G::Channel) << qint64(3) << qint64(70) << qint64(210) << qint64(0)
                                  << qint64(6) << qint64(0);
    // 2:4 on (3, 70): 17 complete groups per row keep 34, plus 2 trailing: 36 per row, 108 kept;
    // index bits: 3 * 17 * 2 kept * 2 bits = 204 bits -> 26 bytes; int5: 540 bits -> 68 bytes.
    QTest::newRow("int5 2:4") << pruned(intSetting(5, G::Channel), P::N2M4, 0) << qint64(3) << qint64(70) << qint64(68)
                              << qint64(26) << qint64(6) << qint64(0);
    // 4:8 on (3, 70): 8 groups keep 32 + 6 trailing = 38 per row, 114 kept; 3 * 8 * 4 * 3 bits = 288 -> 36.
    QTest::newRow("int2 4:8 asym") << pruned(intSetting(2, G::Tensor, 32, false), P::N4M8, 0) << qint64(3) << qint64(70)
                                   << qint64(29) << qint64(36) << qint64(2) << qint64(1);
    // channel 0.4 of 5 rows: 2 removed, 3 * 70 kept; row mask 1 byte; scales of all 5 rows.
    QTest::newRow("int6 channel pruned") << pruned(intSetting(6, G::Channel), P::Channel, 0.4) << qint64(5) << qint64(70)
                                         << qint64(158) << qint64(1) << qint64(10) << qint64(0);
    // Group larger than the row: one scale per row.
    QTest::newRow("int7 g64 short rows") << intSetting(7, G::Group, 64, false) << qint64(4) << qint64(9) << qint64(32)
                                         << qint64(0) << qint64(8) << qint64(4);
}

void TestSizeReport::layerBytes()
{
    QFETCH(LayerSetting, setting);
    QFETCH(qint64, rows);
    QFETCH(qint64, cols);
    QFETCH(qint64, codes);
    QFETCH(qint64, sparsity);
    QFETCH(qint64, scales);
    QFETCH(qint64, zeroPoints);
    const LayerBytes b = layerPayloadBytes(setting, rows, cols);
    QCOMPARE(b.codes, codes);
    QCOMPARE(b.sparsity, sparsity);
    QCOMPARE(b.scales, scales);
    QCOMPARE(b.zeroPoints, zeroPoints);
    QCOMPARE(b.header, qint64(0));
    QCOMPARE(b.weights, rows * cols);
    QCOMPARE(b.payload(), codes + sparsity + scales + zeroPoints);
}

void TestSizeReport::breakdownAddsUp()
{
    const Model m = OnnxReader::readModel(std::string(LEGER_SOURCE_DIR) + "/resources/sample/fashion_mnist_cnn.onnx");
    const std::vector<Layer> layers = Layer::find(m);
    const SizeModel sizes(m, layers);
    std::vector<LayerSetting> settings;
    for (std::size_t i = 0; i < layers.size(); ++i)
        settings.push_back(i % 2 ? intSetting(4, Granularity::Group, 64, false)
                                 : pruned(intSetting(8, Granularity::Channel), SparsityPattern::N2M4, 0));
    const SizeReport r = sizes.report(settings);
    QCOMPARE(r.layers.size(), layers.size());
    std::int64_t sum = r.containerHeader + r.graphBytes + r.untouchedTensors + r.tensorHeaders, payload = 0, weights = 0;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const LayerBytes& b = r.layers[i];
        QCOMPARE(b.header, LegerContainer::layerRecordHeaderBytes(layers[i].name, layers[i].shape.size()));
        QCOMPARE(b.weights, layers[i].parameters);
        sum += b.total();
        payload += b.payload();
        weights += b.weights;
    }
    QCOMPARE(r.total, sum);
    QCOMPARE(r.containerHeader, LegerContainer::kHeaderBytes);
    QCOMPARE(r.graphBytes, static_cast<std::int64_t>(LegerContainer::graphSection(m).size()));
    QCOMPARE(r.layerWeights, weights);
    QCOMPARE(r.bitsPerWeight, 8.0 * double(payload) / double(weights));
    QVERIFY(r.bitsPerWeight > 4.0 && r.bitsPerWeight < 8.0);
    QCOMPARE(r.originalBytes, m.fileBytes);
    QCOMPARE(r.ratioToOriginal, double(m.fileBytes) / double(r.total));
    QCOMPARE(r.ratioToFloat32, double(r.float32Bytes) / double(r.total));
    QVERIFY(r.ratioToFloat32 > 3.0);
    // Untouched tensors: every initializer that is not a layer, at its stored width.
    std::int64_t untouched = 0;
    for (const auto& [name, t] : m.graph.initializers) {
        bool isLayer = false;
        for (const Layer& l : layers)
            isLayer = isLayer || l.name == name;
        if (!isLayer)
            untouched += static_cast<std::int64_t>(t.byteSize());
    }
    QCOMPARE(r.untouchedTensors, untouched);
    QVERIFY(r.graphBytes > 0 && r.graphBytes < m.fileBytes / 10); // the graph without its weights is small
}

void TestSizeReport::float32Baseline()
{
    const Model m = OnnxReader::readModel(std::string(LEGER_SOURCE_DIR) + "/tests/fixtures/lstm.onnx");
    const std::vector<Layer> layers = Layer::find(m);
    const SizeModel sizes(m, layers);
    const SizeReport none = sizes.report(std::vector<LayerSetting>(layers.size()));
    QCOMPARE(none.total, none.float32Bytes);
    QCOMPARE(none.ratioToFloat32, 1.0);
    QCOMPARE(none.bitsPerWeight, 32.0);
    // Settings missing at the end count as float32.
    QCOMPARE(sizes.total({}), none.total);
    QCOMPARE(sizes.fixedBytes() + 4 * none.layerWeights, none.total);
    // The container holds the same tensors as the ONNX file, so the sizes are close.
    QVERIFY(std::abs(double(none.total) / double(m.fileBytes) - 1.0) < 0.1);
}

void TestSizeReport::fastTotalAgrees()
{
    std::vector<Layer> layers;
    const Model m = syntheticModel(60, layers);
    const SizeModel sizes(m, layers, 1234);
    std::mt19937 rng(9);
    for (int round = 0; round < 200; ++round) {
        std::vector<LayerSetting> settings;
        for (std::size_t i = 0; i < layers.size(); ++i) {
            LayerSetting s;
            s.format = WeightFormat(rng() % 4);
            s.bits = 2 + int(rng() % 7);
            s.granularity = Granularity(rng() % 3);
            s.groupSize = 32 << (rng() % 3);
            s.symmetric = rng() % 2;
            s.pattern = SparsityPattern(rng() % 4);
            s.sparsity = (rng() % 3) ? double(rng() % 1000) / 1000.0 : 0.0;
            settings.push_back(s);
        }
        const SizeReport r = sizes.report(settings);
        QCOMPARE(sizes.total(settings), r.total);
        QCOMPARE(r.graphBytes, std::int64_t{1234});
        std::int64_t sum = r.containerHeader + r.graphBytes + r.untouchedTensors + r.tensorHeaders;
        for (std::size_t i = 0; i < layers.size(); ++i) {
            QCOMPARE(r.layers[i].payload(), layerPayloadBytes(settings[i], layers[i].rows, layers[i].cols).payload());
            sum += r.layers[i].total();
        }
        QCOMPARE(sum, r.total);
    }
    // 60 biases of (out) floats and one int64 shape tensor.
    std::int64_t biases = 0;
    for (const Layer& l : layers)
        biases += 4 * l.rows;
    QCOMPARE(sizes.report({}).untouchedTensors, biases + 32);
}

void TestSizeReport::thousandLayersIsFast()
{
    // The figure is printed by tests/bench/bench_size; here only a generous bound.
    std::vector<Layer> layers;
    const Model m = syntheticModel(1000, layers);
    const SizeModel sizes(m, layers, 5000);
    std::vector<LayerSetting> settings(layers.size(), intSetting(4, Granularity::Group, 64, false));
    for (std::size_t i = 0; i < settings.size(); i += 3)
        settings[i] = pruned(settings[i], SparsityPattern::Unstructured, 0.3);
    std::int64_t sink = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 100; ++i)
        sink += sizes.report(settings).total;
    const double perCall = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / 100;
    QVERIFY(sink > 0);
    QVERIFY2(perCall < 1000.0, qPrintable(QString("report() took %1 us").arg(perCall)));
}

QTEST_APPLESS_MAIN(TestSizeReport)
#include "tst_sizereport.moc"
