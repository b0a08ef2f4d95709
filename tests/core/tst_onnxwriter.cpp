// ONNX export of compressed models (OnnxWriter): the exported QDQ and float models, read back by
// Leger's reader and run by its executor, compute exactly what the original model computes with
// its weights replaced by the expected dequantized floats (built here with the brief's formulas,
// independently of the quantizer).
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>

#include <onnx/onnx_pb.h>

#include "compress/CompressedWeight.h"
#include "io/NpyIO.h"
#include "io/OnnxReader.h"
#include "io/OnnxWriter.h"
#include "model/Layer.h"
#include "model/Model.h"
#include "runtime/Executor.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

#include "ExportTestModels.h"
#include "ReferenceCompress.h"

using namespace leger;
using namespace leger::test;

namespace {

const std::string kSource = LEGER_SOURCE_DIR;

/// The settings of a named configuration, for layer i.
LayerSetting settingFor(const QString& config, std::size_t i)
{
    if (config != "mixed")
        return namedSetting(config.toStdString());
    // "mixed": a different setting per layer, the first left uncompressed.
    static const char* cycle[] = {nullptr, "int4 g32 asym", "float16", "int8 channel sym", "float32 pruned",
                                  "int8 tensor asym", "int3 channel asym pruned", "bfloat16 pruned"};
    const char* c = cycle[i % (sizeof cycle / sizeof cycle[0])];
    return c ? namedSetting(c) : LayerSetting::none();
}

/// Runs model on its inputs (in input order); returns a copy of each output.
std::vector<Tensor> run(const Model& model, const std::vector<Tensor>& inputs)
{
    Executor ex(model);
    std::vector<const Tensor*> ptrs;
    for (const auto& t : inputs)
        ptrs.push_back(&t);
    ex.run(ptrs);
    std::vector<Tensor> outs;
    for (std::size_t i = 0; i < ex.outputNames().size(); ++i)
        outs.push_back(ex.output(i));
    return outs;
}

bool sameBits(const Tensor& a, const Tensor& b)
{
    return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.byteSize()) == 0;
}

/// Index and size of the first differing element, for messages.
QString firstDifference(const Tensor& got, const Tensor& want)
{
    if (got.shape() != want.shape() || got.dtype() != want.dtype())
        return QString::fromStdString("shape/type " + shapeToString(got.shape()) + " vs " + shapeToString(want.shape()));
    for (std::int64_t i = 0; i < got.size(); ++i)
        if (got.at(i) != want.at(i) && !(std::isnan(got.at(i)) && std::isnan(want.at(i))))
            return QStringLiteral("element %1: %2 vs %3").arg(i).arg(got.at(i), 0, 'g', 9).arg(want.at(i), 0, 'g', 9);
    return QStringLiteral("(none)");
}

onnx::ModelProto loadProto(const std::string& path)
{
    onnx::ModelProto p;
    const std::string bytes = readFile(path);
    if (!p.ParseFromString(bytes))
        throw Error(path + ": cannot parse");
    return p;
}

int defaultOpset(const onnx::ModelProto& p)
{
    for (const auto& o : p.opset_import())
        if (o.domain().empty() || o.domain() == "ai.onnx")
            return static_cast<int>(o.version());
    return 0;
}

struct Exported {
    std::vector<Layer> layers;
    std::vector<CompressedWeight> weights;
    std::map<std::string, Tensor> expected; // dequantized weights of the compressed layers
    std::vector<std::string> warnings;
};

/// Compresses every layer of modelPath with config, writes the QDQ and float exports.
Exported exportBoth(const std::string& modelPath, const QString& config, const std::string& qdqPath,
                    const std::string& floatPath)
{
    const Model model = OnnxReader::readModel(modelPath);
    Exported e;
    e.layers = Layer::find(model);
    for (std::size_t i = 0; i < e.layers.size(); ++i) {
        const Layer& l = e.layers[i];
        const LayerSetting s = settingFor(config, i);
        e.weights.push_back(compress(l, *model.graph.initializer(l.name), s));
        if (!s.isNone())
            e.expected[l.name] = dequantize(l, e.weights.back());
    }
    e.warnings = OnnxWriter::exportQdqOnnx(modelPath, e.layers, e.weights, qdqPath);
    OnnxWriter::exportFloatOnnx(modelPath, e.expected, floatPath);
    return e;
}

/// The model's inputs from its reference .npz (keys = input names), the first `batch` samples.
std::vector<Tensor> inputsFor(const Model& model, const std::string& npz, const std::string& key = {})
{
    const auto arrays = NpyIO::readNpz(npz);
    std::vector<Tensor> inputs;
    for (const auto& in : model.graph.inputs)
        inputs.push_back(arrays.at(key.empty() ? in.name : key));
    return inputs;
}

} // namespace

class TestOnnxWriter : public QObject {
    Q_OBJECT
private slots:
    void matchesDequantizedWeights_data();
    void matchesDequantizedWeights();
    void storesCompactTypes();
    void fallsBackWhenTheOpsetCannotRise();
    void raisesOldOpsets_data();
    void raisesOldOpsets();
    void batchedMatMulWeights_data();
    void batchedMatMulWeights();
    void dropsWeightsFromGraphInputs();
    void rejectsMismatchedLayers();
    void passesOnnxChecker();

private:
    QTemporaryDir tmp_;
    std::string path(const std::string& name) const { return tmp_.filePath(QString::fromStdString(name)).toStdString(); }
};

void TestOnnxWriter::matchesDequantizedWeights_data()
{
    QTest::addColumn<QString>("model");
    QTest::addColumn<QString>("npz");
    QTest::addColumn<QString>("npzKey");
    QTest::addColumn<QString>("config");
    QTest::addColumn<int>("wantOpset"); // the model's own opset
    const QString f = QString::fromStdString(kSource) + "/tests/fixtures/";
    const QString s = QString::fromStdString(kSource) + "/resources/sample/";
    struct M {
        const char* name;
        QString model, npz, key;
        int opset;
    };
    const M models[] = {
        {"sample", s + "fashion_mnist_cnn.onnx", s + "fashion_mnist_cnn.reference.npz", "x", 13},
        {"transformer_op17", f + "transformer_op17.onnx", f + "transformer_op17.npz", "", 17},
        {"transformer_op13", f + "transformer_op13.onnx", f + "transformer_op13.npz", "", 13}, // ReduceMean axes moved at 18
        {"mlp_constants", f + "mlp_constants.onnx", f + "mlp_constants.npz", "", 13},
        {"external_data", f + "external_data/model.onnx", f + "external_data.npz", "", 13},
        {"lstm", f + "lstm.onnx", f + "lstm.npz", "", 13},
        {"gru", f + "gru.onnx", f + "gru.npz", "", 13},
        {"cnn_depthwise", f + "cnn_depthwise.onnx", f + "cnn_depthwise.npz", "", 13},
        {"convtranspose_upsample", f + "convtranspose_upsample.onnx", f + "convtranspose_upsample.npz", "", 13},
        {"mlp", f + "mlp.onnx", f + "mlp.npz", "", 13},
    };
    const char* configs[] = {
        "int8 channel sym", "int8 channel asym", "int8 tensor asym", "int8 g32 sym",
        "int4 g32 sym",     "int4 g32 asym",     "int3 channel asym pruned", "int6 g64 sym pruned",
        "float16",          "bfloat16 pruned",   "float32 pruned",   "mixed",
    };
    for (const auto& m : models)
        for (const char* c : configs)
            QTest::addRow("%s %s", m.name, c) << m.model << m.npz << m.key << QString::fromLatin1(c) << m.opset;
}

void TestOnnxWriter::matchesDequantizedWeights()
{
    QFETCH(QString, model);
    QFETCH(QString, npz);
    QFETCH(QString, npzKey);
    QFETCH(QString, config);
    QFETCH(int, wantOpset);
    const std::string src = model.toStdString();
    const std::string qdqPath = path("qdq.onnx"), floatPath = path("float.onnx");
    const Exported e = exportBoth(src, config, qdqPath, floatPath);
    QVERIFY2(e.warnings.empty(), e.warnings.empty() ? "" : e.warnings.front().c_str());
    // The opset rises only as far as the layers need: 21 for int4 or more than one group per
    // row, 13 for per-channel scales or bfloat16, 10 for per-tensor DequantizeLinear.
    for (const auto& cw : e.weights) {
        const auto& st = cw.setting;
        if (st.format == WeightFormat::Int)
            wantOpset = std::max(wantOpset, st.bits <= 4 || (!cw.perTensor() && cw.groupsPerRow() > 1) ? 21
                                            : cw.perTensor()                                            ? 10
                                                                                                        : 13);
        else if (st.format == WeightFormat::BFloat16)
            wantOpset = std::max(wantOpset, 13);
    }
    QCOMPARE(defaultOpset(loadProto(qdqPath)), wantOpset);

    // Reference: the original model with the expected dequantized weights.
    Model ref = OnnxReader::readModel(src);
    for (const auto& [name, t] : e.expected)
        ref.graph.initializers[name] = t;
    const std::vector<Tensor> inputs = inputsFor(ref, npz.toStdString(), npzKey.toStdString());
    const std::vector<Tensor> want = run(ref, inputs);

    const Model qdq = OnnxReader::readModel(qdqPath);
    const Model flt = OnnxReader::readModel(floatPath);
    // The weights DequantizeLinear (and its reshapes, casts) compute are the expected ones, bit for bit.
    Executor::Options plain;
    plain.reuseBuffers = false;
    plain.foldConstants = false;
    plain.optimize = false;
    Executor ex(qdq, plain);
    std::vector<const Tensor*> ptrs;
    for (const auto& t : inputs)
        ptrs.push_back(&t);
    ex.run(ptrs);
    for (const auto& [name, t] : e.expected) {
        const Tensor* got = ex.value(name);
        if (!got)
            got = qdq.graph.initializer(name);
        QVERIFY2(got, name.c_str());
        QVERIFY2(sameBits(*got, t), (name + ": " + firstDifference(*got, t).toStdString()).c_str());
        const Tensor* plainWeight = flt.graph.initializer(name);
        QVERIFY2(plainWeight && sameBits(*plainWeight, t), name.c_str());
    }
    const std::vector<Tensor> gotQdq = run(qdq, inputs);
    const std::vector<Tensor> gotFloat = run(flt, inputs);
    QCOMPARE(gotQdq.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        QVERIFY2(sameBits(gotQdq[i], want[i]), qPrintable("QDQ output: " + firstDifference(gotQdq[i], want[i])));
        QVERIFY2(sameBits(gotFloat[i], want[i]), qPrintable("float output: " + firstDifference(gotFloat[i], want[i])));
    }
}

void TestOnnxWriter::storesCompactTypes()
{
    // int4 group 32 on the sample: INT4 codes packed two per byte, blocked DequantizeLinear.
    const std::string src = kSource + "/resources/sample/fashion_mnist_cnn.onnx";
    const Exported e = exportBoth(src, "int4 g32 asym", path("int4.onnx"), path("int4f.onnx"));
    const onnx::ModelProto p = loadProto(path("int4.onnx"));
    QCOMPARE(defaultOpset(p), 21);
    QVERIFY(p.ir_version() >= 10);
    int dq = 0, blocked = 0;
    for (const auto& n : p.graph().node())
        if (n.op_type() == "DequantizeLinear") {
            ++dq;
            for (const auto& a : n.attribute())
                blocked += a.name() == "block_size" && a.i() == 32;
        }
    QCOMPARE(dq, 6);
    QCOMPARE(blocked, 3); // conv2 (144 inputs), fc1 (3136), fc2 (48); the others have <= 32 per row
    std::map<std::string, const onnx::TensorProto*> inits;
    for (const auto& t : p.graph().initializer())
        inits[t.name()] = &t;
    const auto* fc1 = inits.at("fc1.weight_quantized");
    QCOMPARE(fc1->data_type(), 21); // UINT4
    QCOMPARE(fc1->raw_data().size(), std::size_t(48 * 3136 / 2));
    QCOMPARE(inits.at("fc1.weight_scale")->dims(1), std::int64_t(98));
    QCOMPARE(inits.at("fc1.weight_zero_point")->data_type(), 21);
    QVERIFY(!inits.count("fc1.weight")); // the float weight is gone
    // The packed file is much smaller than the original (158442 float weights).
    QVERIFY(readFile(path("int4.onnx")).size() < readFile(src).size() / 5);
    qInfo("sample: original %zu bytes, int4 g32 asym QDQ %zu bytes", readFile(src).size(),
          readFile(path("int4.onnx")).size());

    // int8 per channel: int8 codes with per-axis scales on the original shape (no reshape).
    exportBoth(src, "int8 channel sym", path("int8.onnx"), path("int8f.onnx"));
    const onnx::ModelProto p8 = loadProto(path("int8.onnx"));
    qInfo("sample: int8 per-channel QDQ %zu bytes", readFile(path("int8.onnx")).size());
    QCOMPARE(defaultOpset(p8), 13);
    int reshapes = 0;
    for (const auto& n : p8.graph().node())
        reshapes += n.op_type() == "Reshape";
    QCOMPARE(reshapes, 0);
    for (const auto& t : p8.graph().initializer())
        if (t.name() == "fc1.weight_quantized") {
            QCOMPARE(t.data_type(), int(onnx::TensorProto::INT8));
            QCOMPARE(t.dims_size(), 2);
        }
}

void TestOnnxWriter::fallsBackWhenTheOpsetCannotRise()
{
    const std::string src = path("softmax12.onnx");
    writeFileAtomically(src, softmaxOpset12Model().SerializeAsString());
    Tensor x(DType::Float32, {3, 16});
    for (std::int64_t i = 0; i < x.size(); ++i)
        x.data<float>()[i] = std::sin(static_cast<float>(i));
    for (const char* config : {"int4 g32 asym", "int8 channel sym", "int8 tensor asym", "bfloat16 pruned"}) {
        const Exported e = exportBoth(src, config, path("fb.onnx"), path("fbf.onnx"));
        const onnx::ModelProto p = loadProto(path("fb.onnx"));
        QCOMPARE(defaultOpset(p), 12); // Softmax(axis 1) would change meaning at 13
        const bool perTensor = QByteArray(config) == "int8 tensor asym";
        QVERIFY2(perTensor == e.warnings.empty(), config);
        if (!perTensor) {
            bool namesSoftmax = false;
            for (const auto& w : e.warnings)
                namesSoftmax = namesSoftmax || w.find("softmax") != std::string::npos;
            QVERIFY2(namesSoftmax, e.warnings.front().c_str());
        }
        Model ref = OnnxReader::readModel(src);
        for (const auto& [name, t] : e.expected)
            ref.graph.initializers[name] = t;
        const auto want = run(ref, {x});
        const auto got = run(OnnxReader::readModel(path("fb.onnx")), {x});
        QVERIFY2(sameBits(got[0], want[0]), config);
    }
}

void TestOnnxWriter::raisesOldOpsets_data()
{
    QTest::addColumn<QString>("config");
    QTest::addColumn<int>("wantOpset");
    QTest::newRow("int8 tensor asym") << "int8 tensor asym" << 11; // per tensor works at 10
    QTest::newRow("int8 channel sym") << "int8 channel sym" << 13;
    QTest::newRow("int4 g32 asym") << "int4 g32 asym" << 21;
    QTest::newRow("bfloat16 pruned") << "bfloat16 pruned" << 13;
}

void TestOnnxWriter::raisesOldOpsets()
{
    // Unsqueeze/Squeeze/Split/ReduceSum attributes become inputs at 13, ReduceMean's at 18;
    // Softmax(axis -1) means the same before and after 13.
    QFETCH(QString, config);
    QFETCH(int, wantOpset);
    const std::string src = path("opset11.onnx");
    writeFileAtomically(src, opset11Model().SerializeAsString());
    const Exported e = exportBoth(src, config, path("o11_q.onnx"), path("o11_f.onnx"));
    QVERIFY2(e.warnings.empty(), e.warnings.empty() ? "" : e.warnings.front().c_str());
    const onnx::ModelProto p = loadProto(path("o11_q.onnx"));
    QCOMPARE(defaultOpset(p), wantOpset);
    for (const auto& n : p.graph().node())
        for (const auto& a : n.attribute()) {
            const bool movedAt13 = n.op_type() != "ReduceMean";
            if (wantOpset >= (movedAt13 ? 13 : 18))
                QVERIFY2(a.name() != "axes" && a.name() != "split", n.op_type().c_str());
        }
    Tensor x(DType::Float32, {4, 16});
    for (std::int64_t i = 0; i < x.size(); ++i)
        x.data<float>()[i] = std::cos(0.37f * static_cast<float>(i));
    Model ref = OnnxReader::readModel(src);
    for (const auto& [name, t] : e.expected)
        ref.graph.initializers[name] = t;
    const auto want = run(ref, {x});
    const auto got = run(OnnxReader::readModel(path("o11_q.onnx")), {x});
    QCOMPARE(got.size(), std::size_t(2));
    for (std::size_t i = 0; i < want.size(); ++i)
        QVERIFY2(sameBits(got[i], want[i]), qPrintable(firstDifference(got[i], want[i])));
}

void TestOnnxWriter::batchedMatMulWeights_data()
{
    QTest::addColumn<bool>("gridSample");
    QTest::addColumn<QString>("config");
    QTest::addColumn<int>("wantOpset");
    QTest::addColumn<int>("wantDequantize"); // DequantizeLinear nodes
    QTest::addColumn<bool>("wantWarnings");
    for (bool gs : {false, true}) {
        const char* tag = gs ? "opset stays 17" : "opset free";
        // W (2, 80, 8): per channel needs a (16, 80) view transposed back; groups of 32 along
        // axis 1 are blocked at opset 21, or a (16 * 3, 32) view sliced to 80 at opset 17.
        QTest::addRow("%s int8 channel sym", tag) << gs << "int8 channel sym" << 17 << 1 << false;
        QTest::addRow("%s int8 tensor asym", tag) << gs << "int8 tensor asym" << 17 << 1 << false;
        QTest::addRow("%s int8 g32 sym", tag) << gs << "int8 g32 sym" << (gs ? 17 : 21) << 1 << gs;
        QTest::addRow("%s int4 g32 asym", tag) << gs << "int4 g32 asym" << (gs ? 17 : 21) << 1 << gs;
        QTest::addRow("%s int3 channel asym pruned", tag) << gs << "int3 channel asym pruned" << (gs ? 17 : 21) << 1 << gs;
        QTest::addRow("%s float16", tag) << gs << "float16" << 17 << 0 << false;
    }
}

void TestOnnxWriter::batchedMatMulWeights()
{
    QFETCH(bool, gridSample);
    QFETCH(QString, config);
    QFETCH(int, wantOpset);
    QFETCH(int, wantDequantize);
    QFETCH(bool, wantWarnings);
    const std::string src = path("batched.onnx");
    writeFileAtomically(src, batchedMatMulModel(gridSample).SerializeAsString());
    const Exported e = exportBoth(src, config, path("batched_q.onnx"), path("batched_f.onnx"));
    QCOMPARE(e.layers.size(), std::size_t(1));
    QVERIFY(e.layers[0].transposed);
    QCOMPARE(e.layers[0].rows, std::int64_t(16));
    QCOMPARE(e.layers[0].cols, std::int64_t(80));
    QCOMPARE(!e.warnings.empty(), wantWarnings);
    if (wantWarnings)
        QVERIFY2(e.warnings.front().find("grid_sample") != std::string::npos, e.warnings.front().c_str());
    const onnx::ModelProto p = loadProto(path("batched_q.onnx"));
    QCOMPARE(defaultOpset(p), wantOpset);
    int dq = 0;
    for (const auto& n : p.graph().node())
        dq += n.op_type() == "DequantizeLinear";
    QCOMPARE(dq, wantDequantize);

    std::mt19937 rng(5);
    Tensor x(DType::Float32, {3, 2, 3, 80});
    std::uniform_real_distribution<float> dist(-1, 1);
    for (std::int64_t i = 0; i < x.size(); ++i)
        x.data<float>()[i] = dist(rng);
    Model ref = OnnxReader::readModel(src);
    for (const auto& [name, t] : e.expected)
        ref.graph.initializers[name] = t;
    const auto want = run(ref, {x});
    for (const std::string& file : {path("batched_q.onnx"), path("batched_f.onnx")}) {
        const Model m = OnnxReader::readModel(file);
        Executor::Options plain;
        plain.reuseBuffers = false;
        plain.foldConstants = false;
        plain.optimize = false;
        Executor ex(m, plain);
        const Tensor* in[] = {&x};
        ex.run(in);
        const Tensor* w = ex.value("W") ? ex.value("W") : m.graph.initializer("W");
        QVERIFY(w);
        QVERIFY2(sameBits(*w, e.expected.at("W")), qPrintable(firstDifference(*w, e.expected.at("W"))));
        const auto got = run(m, {x});
        QCOMPARE(got.size(), want.size());
        for (std::size_t i = 0; i < want.size(); ++i)
            QVERIFY2(sameBits(got[i], want[i]), qPrintable(firstDifference(got[i], want[i])));
    }
}

void TestOnnxWriter::dropsWeightsFromGraphInputs()
{
    // Initializers listed as graph inputs too (IR < 4 requires it; later IRs allow overriding):
    // the replaced weight is computed by a node now, so it must leave the inputs.
    onnx::ModelProto m = softmaxOpset12Model();
    addFloatValue(m.mutable_graph()->add_input(), "W", {8, 16}, false);
    addFloatValue(m.mutable_graph()->add_input(), "B", {8}, false);
    const std::string src = path("inputs.onnx");
    writeFileAtomically(src, m.SerializeAsString());
    const Exported e = exportBoth(src, "int8 tensor asym", path("inputs_q.onnx"), path("inputs_f.onnx"));
    QVERIFY(e.warnings.empty());
    const onnx::ModelProto p = loadProto(path("inputs_q.onnx"));
    QStringList inputs;
    for (const auto& v : p.graph().input())
        inputs << QString::fromStdString(v.name());
    QCOMPARE(inputs, (QStringList{"x", "B"}));
    QCOMPARE(p.graph().node(0).op_type(), std::string("DequantizeLinear"));
    QCOMPARE(p.graph().node(0).output(0), std::string("W"));
    Tensor x(DType::Float32, {2, 16});
    for (std::int64_t i = 0; i < x.size(); ++i)
        x.data<float>()[i] = 0.1f * static_cast<float>(i % 7);
    Model ref = OnnxReader::readModel(src);
    ref.graph.initializers["W"] = e.expected.at("W");
    const auto want = run(ref, {x});
    QVERIFY(sameBits(run(OnnxReader::readModel(path("inputs_q.onnx")), {x})[0], want[0]));
    QVERIFY(sameBits(run(OnnxReader::readModel(path("inputs_f.onnx")), {x})[0], want[0]));
}

void TestOnnxWriter::rejectsMismatchedLayers()
{
    const std::string src = kSource + "/resources/sample/fashion_mnist_cnn.onnx";
    const Model model = OnnxReader::readModel(src);
    std::vector<Layer> layers = Layer::find(model);
    std::vector<CompressedWeight> weights;
    for (const auto& l : layers)
        weights.push_back(compress(l, *model.graph.initializer(l.name), intSetting(8, Granularity::Channel, true)));
    const auto err = [&] {
        try {
            OnnxWriter::exportQdqOnnx(src, layers, weights, path("bad.onnx"));
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    weights[1].scales.pop_back();
    QVERIFY2(err().find(layers[1].name) != std::string::npos, err().c_str());
    weights[1] = weights[0];
    QVERIFY2(err().find("matrix view") != std::string::npos, err().c_str());
    weights.pop_back();
    QVERIFY2(err().find("compressed weights") != std::string::npos, err().c_str());
    weights.push_back(weights[0]);
    layers[0].name = "no.such.weight";
    QVERIFY2(err().find("no.such.weight") != std::string::npos, err().c_str());
    QVERIFY(!QFile::exists(tmp_.filePath("bad.onnx")));
}

void TestOnnxWriter::passesOnnxChecker()
{
    // Dev check with Debian's onnx 1.12, which knows opsets up to 17 (no opset 21, no INT4):
    // only exports that stay at opset <= 17 are checked.
    // (libonnx-testdata alone makes "import onnx" succeed: its test data is a namespace package.)
    QProcess probe;
    probe.start("/usr/bin/python3", {"-c", "import onnx.checker"});
    if (!probe.waitForFinished(60000) || probe.exitCode() != 0)
        QSKIP("/usr/bin/python3 with the onnx module (python3-onnx) is not installed");
    QStringList files;
    writeFileAtomically(path("opset11.onnx"), opset11Model().SerializeAsString()); // raised to 13
    const std::string s = kSource + "/resources/sample/fashion_mnist_cnn.onnx";
    const std::string t = kSource + "/tests/fixtures/transformer_op17.onnx";
    const std::string c = kSource + "/tests/fixtures/mlp_constants.onnx";
    const std::string l = kSource + "/tests/fixtures/lstm.onnx";
    int k = 0;
    for (const auto& [model, config] : std::vector<std::pair<std::string, QString>>{
             {s, "int8 channel sym"}, {s, "int8 channel asym"}, {s, "float16"}, {s, "bfloat16 pruned"},
             {s, "float32 pruned"}, {t, "int8 channel asym"}, {t, "int8 tensor asym"}, {c, "int8 channel sym"},
             {l, "int8 channel asym"}, {path("opset11.onnx"), "int8 channel sym"}}) {
        const std::string q = path("check" + std::to_string(k) + ".onnx");
        const std::string f = path("checkf" + std::to_string(k++) + ".onnx");
        exportBoth(model, config, q, f);
        files << QString::fromStdString(q) << QString::fromStdString(f);
    }
    QProcess py;
    py.start("/usr/bin/python3", QStringList{"-c",
                                             "import onnx, sys\n"
                                             "for p in sys.argv[1:]:\n"
                                             "    onnx.checker.check_model(onnx.load(p), full_check=True)\n"}
                                     + files);
    QVERIFY(py.waitForFinished(300000));
    QVERIFY2(py.exitCode() == 0, py.readAllStandardError().constData());
}

QTEST_GUILESS_MAIN(TestOnnxWriter)
#include "tst_onnxwriter.moc"
