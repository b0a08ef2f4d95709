// The .leger container: for every format / bits / granularity / symmetry / sparsity pattern,
// on the bundled sample CNN and on fixtures with Conv, Gemm, MatMul, LSTM, GRU, Constant-node
// weights and external data, the written file's size equals SizeModel's total exactly, and
// reading it back gives every CompressedWeight field for field, the other tensors byte for
// byte, and a model that runs to the same outputs as the source model with the same weights.
// Hostile files: every truncation point and a list of corrupted fields give a leger::Error
// naming the file; random byte flips never give anything else.
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <random>

#include "compress/SizeReport.h"
#include "io/LegerContainer.h"
#include "io/OnnxReader.h"
#include "model/Half.h"
#include "model/Layer.h"
#include "runtime/Executor.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

#include "TestUtil.h"

using namespace leger;
using leger::test::errorOf;

namespace {

std::string sourcePath(const std::string& rel) { return std::string(LEGER_SOURCE_DIR) + "/" + rel; }

float fp16round(float x) { return Half::fromFloat(x).toFloat(); }

/// The layer's weight as a row-major (rows, cols) matrix of floats.
std::vector<float> matrixOf(const Model& m, const Layer& l)
{
    const Tensor& t = *m.graph.initializer(l.name);
    std::vector<float> w(static_cast<std::size_t>(l.rows * l.cols));
    const std::int64_t n = l.transposed ? l.shape.back() : 1;
    for (std::int64_t r = 0; r < l.rows; ++r)
        for (std::int64_t c = 0; c < l.cols; ++c) {
            const std::int64_t idx = l.transposed ? (r / n) * l.cols * n + c * n + r % n : r * l.cols + c;
            w[static_cast<std::size_t>(r * l.cols + c)] = static_cast<float>(t.at(idx));
        }
    return w;
}

/// A small reference pruner + quantizer following the brief's rules (minmax ranges only: the
/// clipping mode changes values, not sizes or the format).
CompressedWeight compress(const std::vector<float>& w, std::int64_t rows, std::int64_t cols, const LayerSetting& s)
{
    CompressedWeight cw;
    cw.setting = s;
    cw.rows = rows;
    cw.cols = cols;
    const std::int64_t n = rows * cols;
    std::vector<char> kept(static_cast<std::size_t>(n), 1);
    const auto mag = [&](std::int64_t i) {
        const float a = std::fabs(w[static_cast<std::size_t>(i)]);
        return std::isnan(a) ? INFINITY : a;
    };
    bool pruned = false;
    if (s.pattern == SparsityPattern::N2M4 || s.pattern == SparsityPattern::N4M8) {
        pruned = true;
        const std::int64_t m = s.pattern == SparsityPattern::N2M4 ? 4 : 8;
        for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t g = 0; g + m <= cols; g += m) {
                std::vector<std::int64_t> idx(static_cast<std::size_t>(m));
                std::iota(idx.begin(), idx.end(), r * cols + g);
                std::stable_sort(idx.begin(), idx.end(), [&](auto a, auto b) { return mag(a) > mag(b); });
                for (std::int64_t j = m / 2; j < m; ++j)
                    kept[static_cast<std::size_t>(idx[static_cast<std::size_t>(j)])] = 0;
            }
    } else if (s.pattern == SparsityPattern::Channel && s.sparsity > 0) {
        pruned = true;
        const std::int64_t k = std::llround(s.sparsity * static_cast<double>(rows));
        std::vector<double> norm(static_cast<std::size_t>(rows), 0.0);
        for (std::int64_t i = 0; i < n; ++i)
            norm[static_cast<std::size_t>(i / cols)] += double(w[static_cast<std::size_t>(i)]) * w[static_cast<std::size_t>(i)];
        std::vector<std::int64_t> idx(static_cast<std::size_t>(rows));
        std::iota(idx.begin(), idx.end(), 0);
        std::stable_sort(idx.begin(), idx.end(), [&](auto a, auto b) { return norm[std::size_t(a)] < norm[std::size_t(b)]; });
        for (std::int64_t j = 0; j < k; ++j)
            for (std::int64_t c = 0; c < cols; ++c)
                kept[static_cast<std::size_t>(idx[static_cast<std::size_t>(j)] * cols + c)] = 0;
    } else if (s.sparsity > 0) {
        pruned = true;
        const std::int64_t k = std::llround(s.sparsity * static_cast<double>(n));
        std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
        std::iota(idx.begin(), idx.end(), 0);
        std::stable_sort(idx.begin(), idx.end(), [&](auto a, auto b) { return mag(a) < mag(b); });
        for (std::int64_t j = 0; j < k; ++j)
            kept[static_cast<std::size_t>(idx[static_cast<std::size_t>(j)])] = 0;
    }
    if (pruned) {
        cw.keep.assign(static_cast<std::size_t>((n + 63) / 64), 0);
        for (std::int64_t i = 0; i < n; ++i)
            if (kept[static_cast<std::size_t>(i)])
                cw.keep[static_cast<std::size_t>(i >> 6)] |= std::uint64_t{1} << (i & 63);
    }
    const auto value = [&](std::int64_t i) { return kept[std::size_t(i)] ? w[std::size_t(i)] : 0.0f; };
    switch (s.format) {
    case WeightFormat::Float32:
        for (std::int64_t i = 0; i < n; ++i)
            cw.values.push_back(value(i));
        cw.groupSize = cols;
        return cw;
    case WeightFormat::Float16:
    case WeightFormat::BFloat16:
        for (std::int64_t i = 0; i < n; ++i)
            cw.halves.push_back(!kept[std::size_t(i)] ? 0
                                : s.format == WeightFormat::Float16 ? Half::fromFloat(w[std::size_t(i)]).bits
                                                                     : BFloat16::fromFloat(w[std::size_t(i)]).bits);
        cw.groupSize = cols;
        return cw;
    case WeightFormat::Int: break;
    default: throw Error("block formats are not stored in containers");
    }
    cw.groupSize = s.granularity == Granularity::Tensor ? n : s.granularity == Granularity::Channel ? cols : s.groupSize;
    const std::int64_t groups = cw.scaleCount();
    std::vector<float> lo(static_cast<std::size_t>(groups), 0.0f), hi(static_cast<std::size_t>(groups), 0.0f);
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) {
            const std::int64_t i = r * cols + c;
            if (!kept[std::size_t(i)] || !std::isfinite(w[std::size_t(i)]))
                continue;
            const auto g = static_cast<std::size_t>(cw.scaleIndex(r, c));
            lo[g] = std::min(lo[g], w[std::size_t(i)]);
            hi[g] = std::max(hi[g], w[std::size_t(i)]);
        }
    const int b = s.bits, qmax = (1 << (b - 1)) - 1, qmaxA = (1 << b) - 1;
    for (std::int64_t g = 0; g < groups; ++g) {
        const float range = s.symmetric ? std::max(-lo[std::size_t(g)], hi[std::size_t(g)]) / float(qmax)
                                        : (hi[std::size_t(g)] - lo[std::size_t(g)]) / float(qmaxA);
        float scale = range == 0.0f ? 1.0f : fp16round(range);
        if (scale == 0.0f)
            scale = std::ldexp(1.0f, -24);
        cw.scales.push_back(scale);
        if (!s.symmetric)
            cw.zeroPoints.push_back(static_cast<std::uint8_t>(
                std::clamp(static_cast<int>(std::nearbyint(-lo[std::size_t(g)] * (1.0f / scale))), 0, qmaxA)));
    }
    cw.codes.resize(static_cast<std::size_t>(n));
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) {
            const std::int64_t i = r * cols + c;
            const auto g = static_cast<std::size_t>(cw.scaleIndex(r, c));
            const float x = kept[std::size_t(i)] && std::isfinite(w[std::size_t(i)]) ? w[std::size_t(i)] : 0.0f;
            const int q = static_cast<int>(std::nearbyint(x * (1.0f / cw.scales[g])));
            cw.codes[std::size_t(i)] =
                s.symmetric ? static_cast<std::uint8_t>(static_cast<std::int8_t>(std::clamp(q, -qmax, qmax)))
                            : static_cast<std::uint8_t>(std::clamp(q + cw.zeroPoints[g], 0, qmaxA));
            if (!kept[std::size_t(i)])
                cw.codes[std::size_t(i)] = s.symmetric ? 0 : cw.zeroPoints[g];
        }
    return cw;
}

float dequant(const CompressedWeight& cw, std::int64_t r, std::int64_t c)
{
    const auto i = static_cast<std::size_t>(r * cw.cols + c);
    switch (cw.setting.format) {
    case WeightFormat::Float32: return cw.values[i];
    case WeightFormat::Float16: return Half{cw.halves[i]}.toFloat();
    case WeightFormat::BFloat16: return BFloat16{cw.halves[i]}.toFloat();
    case WeightFormat::Int: break;
    default: return std::nanf(""); // block formats are not stored in containers
    }
    const auto g = static_cast<std::size_t>(cw.scaleIndex(r, c));
    if (cw.setting.symmetric)
        return static_cast<float>(static_cast<std::int8_t>(cw.codes[i])) * cw.scales[g];
    return static_cast<float>(int(cw.codes[i]) - int(cw.zeroPoints[g])) * cw.scales[g];
}

/// Field-by-field equality; why says what differs.
bool sameWeight(const CompressedWeight& a, const CompressedWeight& b, std::string& why)
{
    const LayerSetting &s = a.setting, &t = b.setting;
    if (s.format != t.format || s.bits != t.bits || s.granularity != t.granularity || s.groupSize != t.groupSize ||
        s.symmetric != t.symmetric || s.clip != t.clip || std::bit_cast<std::uint64_t>(s.sparsity) != std::bit_cast<std::uint64_t>(t.sparsity) ||
        s.pattern != t.pattern)
        return why = "setting", false;
    if (a.rows != b.rows || a.cols != b.cols || a.groupSize != b.groupSize)
        return why = "shape or group size", false;
    if (a.keep != b.keep)
        return why = "keep", false;
    if (a.codes != b.codes)
        return why = "codes", false;
    if (a.scales.size() != b.scales.size() ||
        (!a.scales.empty() && std::memcmp(a.scales.data(), b.scales.data(), a.scales.size() * 4) != 0))
        return why = "scales", false;
    if (a.zeroPoints != b.zeroPoints)
        return why = "zero points", false;
    if (a.halves != b.halves)
        return why = "halves", false;
    if (a.values.size() != b.values.size() ||
        (!a.values.empty() && std::memcmp(a.values.data(), b.values.data(), a.values.size() * 4) != 0))
        return why = "values", false;
    return true;
}

bool sameTensor(const Tensor& a, const Tensor& b)
{
    if (a.dtype() != b.dtype() || a.shape() != b.shape())
        return false;
    if (a.dtype() == DType::String)
        return a.strings() == b.strings();
    return a.byteSize() == 0 || std::memcmp(a.raw(), b.raw(), a.byteSize()) == 0;
}

/// All settings the test sweeps: every format; for int every bit width, granularity (and group
/// size) and symmetry; each with every sparsity pattern.
std::vector<LayerSetting> allSettings()
{
    std::vector<LayerSetting> patterns;
    for (auto [p, s] : {std::pair{SparsityPattern::Unstructured, 0.0}, {SparsityPattern::Unstructured, 0.37},
                        {SparsityPattern::N2M4, 0.0}, {SparsityPattern::N4M8, 0.0}, {SparsityPattern::Channel, 0.3},
                        {SparsityPattern::Channel, 0.0}}) {
        LayerSetting x;
        x.pattern = p;
        x.sparsity = s;
        patterns.push_back(x);
    }
    std::vector<LayerSetting> out;
    for (const LayerSetting& p : patterns) {
        for (WeightFormat f : {WeightFormat::Float32, WeightFormat::Float16, WeightFormat::BFloat16}) {
            LayerSetting x = p;
            x.format = f;
            out.push_back(x);
        }
        for (int bits = 2; bits <= 8; ++bits)
            for (int g : {0, 1, 32, 64, 128}) // tensor, channel, group sizes
                for (bool sym : {true, false}) {
                    LayerSetting x = p;
                    x.format = WeightFormat::Int;
                    x.bits = bits;
                    x.granularity = g == 0 ? Granularity::Tensor : g == 1 ? Granularity::Channel : Granularity::Group;
                    x.groupSize = g > 1 ? g : 32;
                    x.symmetric = sym;
                    x.clip = (bits % 2) ? Clipping::Mse : Clipping::MinMax;
                    out.push_back(x);
                }
    }
    return out;
}

/// Runs a model once on a fixed random input (symbolic dimensions = 2); the outputs.
std::vector<Tensor> runOnce(const Model& m)
{
    Executor ex(m);
    std::mt19937 rng(7);
    std::vector<Tensor> inputs;
    for (const ValueInfo& v : m.graph.inputs) {
        Shape s;
        for (std::int64_t d : v.dims)
            s.push_back(d < 0 ? 2 : d);
        inputs.push_back(test::randomTensor(s, rng));
    }
    std::vector<const Tensor*> ptrs;
    for (const Tensor& t : inputs)
        ptrs.push_back(&t);
    ex.run(ptrs);
    std::vector<Tensor> outs;
    for (std::size_t i = 0; i < ex.outputNames().size(); ++i)
        outs.push_back(ex.output(i));
    return outs;
}

/// The model with each layer's weight replaced by the dequantized compressed weight.
Model withWeights(Model m, const std::vector<Layer>& layers, const std::vector<CompressedWeight>& cws)
{
    for (std::size_t k = 0; k < layers.size(); ++k) {
        const Layer& l = layers[k];
        Tensor& t = m.graph.initializers.at(l.name);
        const std::int64_t n = l.transposed ? l.shape.back() : 1;
        for (std::int64_t r = 0; r < l.rows; ++r)
            for (std::int64_t c = 0; c < l.cols; ++c) {
                const std::int64_t idx = l.transposed ? (r / n) * l.cols * n + c * n + r % n : r * l.cols + c;
                t.data<float>()[idx] = dequant(cws[k], r, c);
            }
    }
    return m;
}

// ---- a walker over the format, to find the offsets of fields to corrupt -----------------------

struct Offsets {
    std::size_t tensorRecord = 0; // the tensor record of "fc1.bias" (rank 1)
    std::vector<std::size_t> layerRecord, layerSections; // each layer record, and its first section
};

std::uint64_t le(const std::string& b, std::size_t at, int n)
{
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i)
        v |= std::uint64_t(static_cast<unsigned char>(b[at + std::size_t(i)])) << (8 * i);
    return v;
}

Offsets walk(const std::string& b, const Model& m)
{
    Offsets o;
    std::size_t p = 32 + le(b, 16, 8);
    const std::uint64_t tensors = le(b, 24, 4), layers = le(b, 28, 4);
    for (std::uint64_t i = 0; i < tensors; ++i) {
        const std::size_t nameLen = le(b, p, 4);
        const std::string name = b.substr(p + 4, nameLen);
        if (name == "fc1.bias")
            o.tensorRecord = p;
        p += 4 + nameLen + 2 + 8 * le(b, p + 4 + nameLen + 1, 1);
        p += static_cast<std::size_t>(LegerContainer::tensorPayloadBytes(*m.graph.initializer(name)));
    }
    for (std::uint64_t i = 0; i < layers; ++i) {
        o.layerRecord.push_back(p);
        const std::size_t nameLen = le(b, p, 4);
        const std::size_t rank = le(b, p + 4 + nameLen + 17, 1);
        const std::size_t body = p + 4 + nameLen;
        LayerSetting s;
        s.format = WeightFormat(b[body]);
        s.bits = b[body + 1];
        s.granularity = Granularity(b[body + 2]);
        s.symmetric = b[body + 3] != 0;
        s.pattern = SparsityPattern(b[body + 5]);
        s.groupSize = int(le(b, body + 6, 2));
        s.sparsity = std::bit_cast<double>(le(b, body + 8, 8));
        const std::int64_t rows = std::int64_t(le(b, body + 20, 8)), cols = std::int64_t(le(b, body + 28, 8));
        p += std::size_t(LegerContainer::layerRecordHeaderBytes(b.substr(p + 4, nameLen), rank));
        o.layerSections.push_back(p);
        p += std::size_t(layerPayloadBytes(s, rows, cols).payload());
    }
    return o;
}

} // namespace

class TestLegerContainer : public QObject {
    Q_OBJECT
private slots:
    void sizeMatchesAndRoundTrips_data();
    void sizeMatchesAndRoundTrips();
    void mixedPlanRunsLikeTheSource_data();
    void mixedPlanRunsLikeTheSource();
    void reExportFromContainer();
    void otherFloatTypes();
    void writerRejectsInconsistentWeights();
    void everyTruncationFails();
    void corruptedFields_data();
    void corruptedFields();
    void randomCorruptionNeverCrashes();

private:
    /// The mlp fixture with int4 group asym + unstructured, 2:4 and channel pruning.
    std::string smallContainer(Model& m, std::vector<Layer>& layers, std::vector<CompressedWeight>& cws);
    QTemporaryDir dir_;
};

void TestLegerContainer::sizeMatchesAndRoundTrips_data()
{
    QTest::addColumn<QString>("model");
    for (const char* f : {"resources/sample/fashion_mnist_cnn.onnx", "tests/fixtures/mlp_constants.onnx",
                          "tests/fixtures/lstm.onnx", "tests/fixtures/gru.onnx", "tests/fixtures/transformer_op17.onnx",
                          "tests/fixtures/cnn_depthwise.onnx", "tests/fixtures/convtranspose_upsample.onnx",
                          "tests/fixtures/external_data/model.onnx"})
        QTest::newRow(f) << QString(f);
}

void TestLegerContainer::sizeMatchesAndRoundTrips()
{
    QFETCH(QString, model);
    const Model m = OnnxReader::readModel(sourcePath(model.toStdString()));
    const std::vector<Layer> layers = Layer::find(m);
    QVERIFY(!layers.empty());
    std::vector<std::vector<float>> mats;
    for (const Layer& l : layers)
        mats.push_back(matrixOf(m, l));
    const std::string graph = LegerContainer::graphSection(m);
    const SizeModel sizes(m, layers);
    const std::string path = dir_.filePath("sweep.leger").toStdString();
    int checked = 0;
    for (const LayerSetting& s : allSettings()) {
        std::vector<LayerSetting> settings(layers.size(), s);
        std::vector<CompressedWeight> cws;
        for (std::size_t i = 0; i < layers.size(); ++i)
            cws.push_back(compress(mats[i], layers[i].rows, layers[i].cols, s));
        const std::string bytes = serializeLegerContainer(graph, m, layers, cws);
        const SizeReport report = sizes.report(settings);
        QCOMPARE(static_cast<std::int64_t>(bytes.size()), report.total);
        QCOMPARE(sizes.total(settings), report.total);
        // Real files for a spread of settings (fsync per file is slow): the size on disk.
        if (checked % 7 == 0) {
            writeLegerContainer(path, graph, m, layers, cws);
            QCOMPARE(static_cast<std::int64_t>(std::filesystem::file_size(path)), report.total);
            QCOMPARE(readFile(path), bytes);
        }
        const LegerContainer c = parseLegerContainer(bytes, path);
        QCOMPARE(c.weights.size(), cws.size());
        for (std::size_t i = 0; i < cws.size(); ++i) {
            std::string why;
            QVERIFY2(sameWeight(c.weights[i], cws[i], why),
                     (layers[i].name + " " + s.label() + ": " + why).c_str());
            QCOMPARE(c.layers[i].name, layers[i].name);
            QCOMPARE(c.layers[i].rows, layers[i].rows);
            QCOMPARE(c.layers[i].transposed, layers[i].transposed);
            // The model's tensor holds the dequantized weight (checked for a third of the
            // settings, which still covers every format and pattern: the sweep is slow enough).
            if (checked % 3 != 0 && layers[i].parameters > 20000)
                continue;
            const std::vector<float> back = matrixOf(c.model, c.layers[i]);
            std::int64_t wrong = 0;
            for (std::int64_t r = 0; r < layers[i].rows; ++r)
                for (std::int64_t col = 0; col < layers[i].cols; ++col)
                    wrong += std::bit_cast<std::uint32_t>(back[std::size_t(r * layers[i].cols + col)]) !=
                             std::bit_cast<std::uint32_t>(dequant(cws[i], r, col));
            QCOMPARE(wrong, std::int64_t{0});
        }
        ++checked;
    }
    QVERIFY(checked > 400);

    // The other tensors come back byte for byte, and the graph is the same graph.
    std::vector<CompressedWeight> none;
    for (std::size_t i = 0; i < layers.size(); ++i)
        none.push_back(compress(mats[i], layers[i].rows, layers[i].cols, LayerSetting::none()));
    writeLegerContainer(path, m, layers, none);
    const LegerContainer c = readLegerContainer(path);
    QCOMPARE(c.model.graph.initializers.size(), m.graph.initializers.size());
    for (const auto& [name, t] : m.graph.initializers) {
        const Tensor* u = c.model.graph.initializer(name);
        QVERIFY2(u && sameTensor(t, *u), name.c_str()); // float32 layers too: unchanged
    }
    QCOMPARE(c.model.graph.nodes.size(), m.graph.nodes.size());
    for (std::size_t i = 0; i < m.graph.nodes.size(); ++i) {
        QCOMPARE(c.model.graph.nodes[i].opType, m.graph.nodes[i].opType);
        QCOMPARE(c.model.graph.nodes[i].inputs, m.graph.nodes[i].inputs);
    }
    QCOMPARE(c.model.graph.inputs.size(), m.graph.inputs.size());
    QCOMPARE(c.model.opsets, m.opsets);
    QCOMPARE(c.model.fileBytes, static_cast<std::int64_t>(std::filesystem::file_size(path)));
    QCOMPARE(c.model.fileBytes, sizes.report(std::vector<LayerSetting>(layers.size())).float32Bytes);
}

void TestLegerContainer::mixedPlanRunsLikeTheSource_data()
{
    QTest::addColumn<QString>("model");
    for (const char* f : {"resources/sample/fashion_mnist_cnn.onnx", "tests/fixtures/mlp_constants.onnx",
                          "tests/fixtures/lstm.onnx", "tests/fixtures/transformer_op17.onnx", "tests/fixtures/gru.onnx"})
        QTest::newRow(f) << QString(f);
}

void TestLegerContainer::mixedPlanRunsLikeTheSource()
{
    // Each layer gets its own random setting; the file's size is still exact, and the model read
    // back runs bit for bit like the source model given the same dequantized weights.
    QFETCH(QString, model);
    const Model m = OnnxReader::readModel(sourcePath(model.toStdString()));
    const std::vector<Layer> layers = Layer::find(m);
    const std::vector<LayerSetting> all = allSettings();
    std::mt19937 rng(42);
    const SizeModel sizes(m, layers);
    for (int round = 0; round < 3; ++round) {
        std::vector<LayerSetting> settings;
        std::vector<CompressedWeight> cws;
        for (const Layer& l : layers) {
            settings.push_back(all[std::uniform_int_distribution<std::size_t>(0, all.size() - 1)(rng)]);
            cws.push_back(compress(matrixOf(m, l), l.rows, l.cols, settings.back()));
        }
        const std::string path = dir_.filePath("mixed.leger").toStdString();
        writeLegerContainer(path, m, layers, cws);
        QCOMPARE(static_cast<std::int64_t>(std::filesystem::file_size(path)), sizes.total(settings));
        const LegerContainer c = readLegerContainer(path);
        const std::vector<Tensor> want = runOnce(withWeights(m, layers, cws));
        const std::vector<Tensor> got = runOnce(c.model);
        QCOMPARE(got.size(), want.size());
        for (std::size_t i = 0; i < got.size(); ++i)
            QVERIFY(sameTensor(got[i], want[i]));
    }
}

void TestLegerContainer::reExportFromContainer()
{
    // A model read from a container can be written again (its graph section is reused).
    const Model m = OnnxReader::readModel(sourcePath("tests/fixtures/mlp.onnx"));
    const std::vector<Layer> layers = Layer::find(m);
    LayerSetting s;
    s.format = WeightFormat::Int;
    s.bits = 5;
    std::vector<CompressedWeight> cws;
    for (const Layer& l : layers)
        cws.push_back(compress(matrixOf(m, l), l.rows, l.cols, s));
    const std::string a = dir_.filePath("a.leger").toStdString(), b = dir_.filePath("b.leger").toStdString();
    writeLegerContainer(a, m, layers, cws);
    const LegerContainer c = readLegerContainer(a);
    writeLegerContainer(b, c.model, c.layers, c.weights);
    QCOMPARE(readFile(b), readFile(a));
    QCOMPARE(SizeModel(c.model, c.layers).total(std::vector<LayerSetting>(layers.size(), s)),
             static_cast<std::int64_t>(std::filesystem::file_size(b)));
}

void TestLegerContainer::otherFloatTypes()
{
    // Weights stored as float16, bfloat16 or double come back in their own type, holding the
    // dequantized values rounded to it.
    Model m = OnnxReader::readModel(sourcePath("tests/fixtures/mlp.onnx"));
    const DType types[] = {DType::Float16, DType::BFloat16, DType::Float64};
    std::vector<Layer> layers = Layer::find(m);
    QCOMPARE(layers.size(), std::size_t{3});
    for (std::size_t i = 0; i < 3; ++i) {
        const Tensor& f = *m.graph.initializer(layers[i].name);
        Tensor t(types[i], f.shape());
        for (std::int64_t k = 0; k < f.size(); ++k) {
            const float v = f.data<float>()[k];
            if (types[i] == DType::Float16)
                t.data<Half>()[k] = Half::fromFloat(v);
            else if (types[i] == DType::BFloat16)
                t.data<BFloat16>()[k] = BFloat16::fromFloat(v);
            else
                t.data<double>()[k] = v;
        }
        m.graph.initializers.insert_or_assign(layers[i].name, std::move(t));
    }
    layers = Layer::find(m);
    std::vector<LayerSetting> settings(3);
    settings[0].format = WeightFormat::Int;
    settings[0].bits = 6;
    settings[1].format = WeightFormat::Float16;
    settings[1].pattern = SparsityPattern::N4M8;
    settings[2].sparsity = 0.5;
    std::vector<CompressedWeight> cws;
    for (std::size_t i = 0; i < 3; ++i)
        cws.push_back(compress(matrixOf(m, layers[i]), layers[i].rows, layers[i].cols, settings[i]));
    const std::string path = dir_.filePath("types.leger").toStdString();
    writeLegerContainer(path, m, layers, cws);
    QCOMPARE(static_cast<std::int64_t>(std::filesystem::file_size(path)), SizeModel(m, layers).total(settings));
    const LegerContainer c = readLegerContainer(path);
    for (std::size_t i = 0; i < 3; ++i) {
        std::string why;
        QVERIFY2(sameWeight(c.weights[i], cws[i], why), why.c_str());
        const Tensor& t = *c.model.graph.initializer(layers[i].name);
        QCOMPARE(t.dtype(), types[i]);
        QCOMPARE(t.shape(), layers[i].shape);
        const std::vector<float> back = matrixOf(c.model, layers[i]);
        std::int64_t wrong = 0;
        for (std::int64_t r = 0; r < layers[i].rows; ++r)
            for (std::int64_t col = 0; col < layers[i].cols; ++col) {
                const float v = dequant(cws[i], r, col);
                const float want = types[i] == DType::Float16    ? Half::fromFloat(v).toFloat()
                                   : types[i] == DType::BFloat16 ? BFloat16::fromFloat(v).toFloat()
                                                                 : v;
                wrong += back[std::size_t(r * layers[i].cols + col)] != want;
            }
        QCOMPARE(wrong, std::int64_t{0});
    }
}

void TestLegerContainer::writerRejectsInconsistentWeights()
{
    const Model m = OnnxReader::readModel(sourcePath("tests/fixtures/mlp.onnx"));
    const std::vector<Layer> layers = Layer::find(m);
    LayerSetting s;
    s.format = WeightFormat::Int;
    s.bits = 4;
    s.sparsity = 0.5;
    std::vector<CompressedWeight> cws;
    for (const Layer& l : layers)
        cws.push_back(compress(matrixOf(m, l), l.rows, l.cols, s));
    const std::string path = dir_.filePath("bad.leger").toStdString();
    const auto fails = [&](std::vector<CompressedWeight> w, const char* what) {
        const std::string e = errorOf([&] { writeLegerContainer(path, m, layers, w); });
        if (e.find(what) == std::string::npos || e.find(layers[0].name) == std::string::npos)
            qWarning("%s", e.c_str());
        return e.find(what) != std::string::npos;
    };
    auto w = cws;
    w[0].keep[0] ^= 1; // one weight more or less than the setting keeps
    QVERIFY(fails(w, "keeps"));
    w = cws;
    w[0].scales[0] = 0.1f; // not a float16 value
    QVERIFY(fails(w, "not a positive float16"));
    w = cws;
    w[0].codes[0] = w[0].kept(0) ? 9 : 1; // outside int4, or a pruned weight that is not the zero code
    QVERIFY(fails(w, "code"));
    w = cws;
    w[0].scales.pop_back();
    QVERIFY(fails(w, "scales"));
    w = cws;
    w[0].rows += 1;
    QVERIFY(fails(w, "the layer is"));
    w = cws;
    w[0].setting.bits = 9;
    QVERIFY(fails(w, "bits: 9 is outside 2..8"));
    QVERIFY(!std::filesystem::exists(path)); // nothing was written
}

std::string TestLegerContainer::smallContainer(Model& m, std::vector<Layer>& layers, std::vector<CompressedWeight>& cws)
{
    m = OnnxReader::readModel(sourcePath("tests/fixtures/mlp.onnx"));
    layers = Layer::find(m);
    cws.clear();
    for (std::size_t i = 0; i < layers.size(); ++i) {
        LayerSetting s;
        s.format = WeightFormat::Int;
        s.bits = 3 + int(i);
        s.granularity = Granularity::Group;
        s.symmetric = i != 1;
        s.pattern = i == 0 ? SparsityPattern::Unstructured : i == 1 ? SparsityPattern::N2M4 : SparsityPattern::Channel;
        s.sparsity = 0.25;
        cws.push_back(compress(matrixOf(m, layers[i]), layers[i].rows, layers[i].cols, s));
    }
    return serializeLegerContainer(LegerContainer::graphSection(m), m, layers, cws);
}

void TestLegerContainer::everyTruncationFails()
{
    Model m;
    std::vector<Layer> layers;
    std::vector<CompressedWeight> cws;
    const std::string bytes = smallContainer(m, layers, cws);
    QVERIFY(bytes.size() > 3000);
    parseLegerContainer(bytes, "x.leger"); // the whole file is fine
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        const std::string e = errorOf([&] { parseLegerContainer(bytes.substr(0, n), "x.leger"); });
        QVERIFY2(e.rfind("x.leger: ", 0) == 0, (std::to_string(n) + ": " + e).c_str());
    }
    // And one byte too many.
    const std::string e = errorOf([&] { parseLegerContainer(bytes + '\0', "x.leger"); });
    QVERIFY2(e.find("1 unexpected bytes after the last record") != std::string::npos, e.c_str());
}

void TestLegerContainer::corruptedFields_data()
{
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("message");
    const auto row = [](const char* f, const char* msg) { QTest::newRow(f) << QString(f) << QString(msg); };
    row("magic", "not a Leger container");
    row("version", "container version 2 is not supported");
    row("flags", "header: unknown flags 1");
    row("graph length", "truncated: graph section");
    row("tensor count", "cannot fit in the file");
    row("layer count", "cannot fit in the file");
    row("graph bytes", "not a valid ONNX model");
    row("tensor name length", "truncated: tensor name");
    row("tensor type", "unknown element type 200");
    row("tensor dim", "negative dimension");
    row("tensor huge dim", "too large for the file");
    row("layer name length", "truncated: layer name");
    row("layer format", "format 7 is not 0..3");
    row("layer bits", "bits: 9 is outside 2..8");
    row("layer granularity", "granularity 3 is not 0..2");
    row("layer pattern", "sparsity pattern 4 is not 0..3");
    row("layer group size", "group_size: 48 is not one of 32, 64, 128");
    row("layer sparsity", "sparsity: 1.5 is outside [0, 1)");
    row("layer sparsity nan", "is outside [0, 1)");
    row("layer type", "is not a floating-point type");
    row("layer flag", "a flag is not 0 or 1");
    row("layer rows", "does not fit the shape");
    row("layer empty huge rows", "does not fit the shape");
    row("layer weight group size", "group size 7 does not fit the setting");
    row("layer dims", "too large for the file");
    row("layer mask", "the mask keeps");
    row("layer nm index", "N:M indices of row 0 are not ascending");
    row("layer row mask", "the mask keeps");
    row("layer scale zero", "is not finite and positive");
    row("layer scale inf", "is not finite and positive");
    row("layer zero point", "above 15");
    row("layer symmetric code", "below -3");
    row("layer name", "reads 'fc1.weight', which nothing defines");
    row("layer transposed", "does not fit the shape");
    row("duplicate layer", "was stored before");
}

void TestLegerContainer::corruptedFields()
{
    QFETCH(QString, field);
    QFETCH(QString, message);
    Model m;
    std::vector<Layer> layers;
    std::vector<CompressedWeight> cws;
    std::string b = smallContainer(m, layers, cws);
    const Offsets o = walk(b, m);
    const auto put = [&](std::size_t at, std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i)
            b[at + std::size_t(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
    };
    // Layer 0: int3 g32 sym, unstructured; layer 1: int4 g32 asym, 2:4; layer 2: int5 g32 sym, channel.
    const auto body = [&](std::size_t k) { return o.layerRecord[k] + 4 + le(b, o.layerRecord[k], 4); };
    const std::size_t tname = o.tensorRecord, tbody = tname + 4 + le(b, tname, 4);
    const std::string f = field.toStdString();
    if (f == "magic") b[1] = 'X';
    else if (f == "version") put(8, 2, 4);
    else if (f == "flags") put(12, 1, 4);
    else if (f == "graph length") put(16, b.size(), 8);
    else if (f == "tensor count") put(24, 0xffffffu, 4);
    else if (f == "layer count") put(28, 0xffffffu, 4);
    else if (f == "graph bytes") { for (std::size_t i = 32; i < 40; ++i) b[i] = char(0xff); }
    else if (f == "tensor name length") put(tname, 0xfffffff0u, 4);
    else if (f == "tensor type") put(tbody, 200, 1);
    else if (f == "tensor dim") put(tbody + 2, std::uint64_t(-5), 8);
    else if (f == "tensor huge dim") put(tbody + 2, std::uint64_t(1) << 40, 8);
    else if (f == "layer name length") put(o.layerRecord[0], 0xfffffff0u, 4);
    else if (f == "layer format") put(body(0), 7, 1);
    else if (f == "layer bits") put(body(0) + 1, 9, 1);
    else if (f == "layer granularity") put(body(0) + 2, 3, 1);
    else if (f == "layer pattern") put(body(0) + 5, 4, 1);
    else if (f == "layer group size") put(body(0) + 6, 48, 2);
    else if (f == "layer sparsity") put(body(0) + 8, std::bit_cast<std::uint64_t>(1.5), 8);
    else if (f == "layer sparsity nan") put(body(0) + 8, std::bit_cast<std::uint64_t>(std::nan("")), 8);
    else if (f == "layer type") put(body(0) + 16, 7, 1); // INT64
    else if (f == "layer flag") put(body(0) + 18, 2, 1);
    else if (f == "layer rows") put(body(0) + 20, le(b, body(0) + 20, 8) + 1, 8);
    else if (f == "layer empty huge rows") {
        // (2^60, 0) with dims (0, 64): zero weights, but a loop over 2^60 rows if unchecked.
        put(body(0) + 20, std::uint64_t(1) << 60, 8);
        put(body(0) + 28, 0, 8);
        put(body(0) + 44, 0, 8);
    } else if (f == "layer weight group size") put(body(0) + 36, 7, 8);
    else if (f == "layer dims") { put(body(0) + 44, std::uint64_t(1) << 40, 8); put(body(0) + 52, std::uint64_t(1) << 40, 8); }
    else if (f == "layer mask") b[o.layerSections[0]] = char(b[o.layerSections[0]] ^ 0x01);
    else if (f == "layer nm index") put(o.layerSections[1], 0x00, 1); // offsets 0, 0
    else if (f == "layer row mask") b[o.layerSections[2]] = char(b[o.layerSections[2]] ^ 0x01);
    else if (f == "layer scale zero" || f == "layer scale inf") {
        const std::size_t scales = o.layerSections[0] + std::size_t((layers[0].rows * layers[0].cols + 7) / 8);
        put(scales, f == "layer scale zero" ? 0x0000 : 0x7c00, 2);
    } else if (f == "layer zero point") {
        const LayerBytes lb = layerPayloadBytes(cws[1].setting, layers[1].rows, layers[1].cols);
        put(o.layerSections[1] + std::size_t(lb.sparsity + lb.scales), 16, 1);
    } else if (f == "layer symmetric code") {
        // Layer 0's first stored code becomes -4 (100 in 3 bits), not a symmetric int3 code.
        const LayerBytes lb = layerPayloadBytes(cws[0].setting, layers[0].rows, layers[0].cols);
        const std::size_t at = o.layerSections[0] + std::size_t(lb.sparsity + lb.scales);
        b[at] = char((b[at] & ~0x07) | 0x04);
    } else if (f == "layer name") b[o.layerRecord[0] + 4] = 'Z';
    else if (f == "layer transposed") put(body(0) + 18, le(b, body(0) + 18, 1) ^ 1, 1);
    else if (f == "duplicate layer") {
        // Give layer 1 layer 0's name (same length in the mlp fixture?) by copying it if it fits.
        const std::size_t n0 = le(b, o.layerRecord[0], 4), n1 = le(b, o.layerRecord[1], 4);
        QCOMPARE(n0, n1);
        b.replace(o.layerRecord[1] + 4, n1, b.substr(o.layerRecord[0] + 4, n0));
    } else
        QFAIL("unknown field");
    const std::string e = errorOf([&] { parseLegerContainer(b, "bad.leger"); });
    QVERIFY2(e.rfind("bad.leger: ", 0) == 0 && e.find(message.toStdString()) != std::string::npos, e.c_str());
}

void TestLegerContainer::randomCorruptionNeverCrashes()
{
    Model m;
    std::vector<Layer> layers;
    std::vector<CompressedWeight> cws;
    const std::string bytes = smallContainer(m, layers, cws);
    std::mt19937 rng(1234);
    int failed = 0;
    for (int round = 0; round < 1500; ++round) {
        std::string b = bytes;
        const int flips = 1 + round % 4;
        for (int i = 0; i < flips; ++i)
            b[std::uniform_int_distribution<std::size_t>(0, b.size() - 1)(rng)] ^=
                static_cast<char>(1 << std::uniform_int_distribution<int>(0, 7)(rng));
        try {
            parseLegerContainer(b, "fuzz.leger");
        } catch (const Error& e) {
            QVERIFY(std::string(e.what()).rfind("fuzz.leger", 0) == 0);
            ++failed;
        }
    }
    QVERIFY(failed > 100); // most flips hit checked fields; flips in codes or tensor data parse
}

QTEST_APPLESS_MAIN(TestLegerContainer)
#include "tst_legercontainer.moc"
