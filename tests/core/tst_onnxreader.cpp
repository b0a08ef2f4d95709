// The ONNX reader: constants, external data, truncation, hostile and unsupported input.
#include <QtTest>

#include <filesystem>
#include <fstream>

#include <onnx/onnx_pb.h>

#include "io/OnnxReader.h"
#include "model/Layer.h"
#include "runtime/Executor.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

#include "TestUtil.h"

using namespace leger;
using namespace leger::test;

namespace {

void addTensor(onnx::TensorProto* t, const std::string& name, std::vector<std::int64_t> dims, float start)
{
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    std::int64_t n = 1;
    for (auto d : dims) {
        t->add_dims(d);
        n *= d;
    }
    for (std::int64_t i = 0; i < n; ++i)
        t->add_float_data(start + static_cast<float>(i));
}

void addValue(google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* list, const std::string& name,
              std::vector<std::int64_t> dims)
{
    auto* v = list->Add();
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    for (auto d : dims)
        tt->mutable_shape()->add_dim()->set_dim_value(d);
}

/// x (1, 2) -> MatMul(W as a Constant node (2, 3)) -> Relu -> y (1, 3)
onnx::ModelProto constantMatMulModel(const std::string& opType = "Relu")
{
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(13);
    auto* g = m.mutable_graph();
    g->set_name("g");
    addValue(g->mutable_input(), "x", {1, 2});
    addValue(g->mutable_output(), "y", {1, 3});
    auto* c = g->add_node();
    c->set_op_type("Constant");
    c->add_output("W");
    auto* a = c->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    addTensor(a->mutable_t(), "W", {2, 3}, 1.0f);
    auto* mm = g->add_node();
    mm->set_op_type("MatMul");
    mm->set_name("fc");
    mm->add_input("x");
    mm->add_input("W");
    mm->add_output("h");
    auto* r = g->add_node();
    r->set_op_type(opType);
    r->set_name("act");
    r->add_input("h");
    r->add_output("y");
    return m;
}

std::string save(const QTemporaryDir& dir, const std::string& name, const onnx::ModelProto& m)
{
    const std::string path = dir.filePath(QString::fromStdString(name)).toStdString();
    writeFileAtomically(path, m.SerializeAsString());
    return path;
}

} // namespace

class TestOnnxReader : public QObject {
    Q_OBJECT
private slots:
    void foldsConstantNodesIntoWeights();
    void sortsNodesTopologically();
    void rejectsTruncatedFiles();
    void rejectsGarbageAndMissingFiles();
    void readsExternalData();
    void rejectsHostileExternalData_data();
    void rejectsHostileExternalData();
    void namesUnsupportedOps();
    void rejectsUndefinedValues();
    void rejectsWrongInputShape();
    void acceptsUntypedSubgraphValues();
    void readsFromMemoryWithAddedInitializers();
    void readsInt4Tensors();

private:
    QTemporaryDir tmp_;
};

void TestOnnxReader::foldsConstantNodesIntoWeights()
{
    const Model m = OnnxReader::readModel(save(tmp_, "const.onnx", constantMatMulModel()));
    QCOMPARE(m.graph.nodes.size(), std::size_t(2)); // the Constant node became an initializer
    QVERIFY(m.graph.initializer("W"));
    const auto layers = Layer::find(m);
    QCOMPARE(layers.size(), std::size_t(1));
    QCOMPARE(layers[0].name, std::string("W"));
    QCOMPARE(layers[0].parameters, std::int64_t(6));
}

void TestOnnxReader::sortsNodesTopologically()
{
    onnx::ModelProto p = constantMatMulModel();
    p.mutable_graph()->mutable_node()->SwapElements(1, 2); // Relu before MatMul
    const Model m = OnnxReader::readModel(save(tmp_, "unsorted.onnx", p));
    QCOMPARE(m.graph.nodes[0].opType, std::string("MatMul"));
    QCOMPARE(m.graph.nodes[1].opType, std::string("Relu"));

    p.mutable_graph()->mutable_node(2)->set_input(0, "y"); // MatMul reads Relu's output: a cycle
    p.mutable_graph()->mutable_node(1)->set_input(0, "h");
    const std::string err = errorOf([&] { OnnxReader::readModel(save(tmp_, "cycle.onnx", p)); });
    QVERIFY2(err.find("cycle") != std::string::npos, err.c_str());
}

void TestOnnxReader::rejectsTruncatedFiles()
{
    const std::string bytes = constantMatMulModel().SerializeAsString();
    const std::string path = tmp_.filePath("cut.onnx").toStdString();
    for (std::size_t keep = 1; keep < bytes.size(); keep += 7) {
        writeFileAtomically(path, std::string_view(bytes).substr(0, keep));
        const std::string err = errorOf([&] { OnnxReader::readModel(path); });
        QVERIFY2(err.find(path) == 0, (std::to_string(keep) + ": " + err).c_str());
    }
}

void TestOnnxReader::rejectsGarbageAndMissingFiles()
{
    const std::string path = tmp_.filePath("garbage.onnx").toStdString();
    writeFileAtomically(path, std::string(1000, '\xff'));
    QVERIFY(errorOf([&] { OnnxReader::readModel(path); }).find(path) == 0);
    const std::string missing = tmp_.filePath("nope.onnx").toStdString();
    QVERIFY(errorOf([&] { OnnxReader::readModel(missing); }).find("cannot open") != std::string::npos);
    QVERIFY(errorOf([&] { OnnxReader::readModel(tmp_.path().toStdString()); }).find("directory") != std::string::npos);
}

namespace {
/// Moves W into an external file with the given location/offset/length entries.
onnx::ModelProto externalModel(const std::string& location, const std::string& offset, const std::string& length)
{
    onnx::ModelProto p = constantMatMulModel();
    auto* g = p.mutable_graph();
    onnx::TensorProto w = g->node(0).attribute(0).t();
    g->mutable_node()->DeleteSubrange(0, 1);
    w.clear_float_data();
    w.set_data_location(onnx::TensorProto::EXTERNAL);
    auto add = [&](const std::string& k, const std::string& v) {
        if (v.empty())
            return;
        auto* e = w.add_external_data();
        e->set_key(k);
        e->set_value(v);
    };
    add("location", location);
    add("offset", offset);
    add("length", length);
    *g->add_initializer() = w;
    return p;
}
} // namespace

void TestOnnxReader::readsFromMemoryWithAddedInitializers()
{
    // The graph without W: the caller supplies it (the .leger container does so).
    onnx::ModelProto p = constantMatMulModel();
    p.mutable_graph()->mutable_node()->DeleteSubrange(0, 1);
    const std::string bytes = p.SerializeAsString();
    QVERIFY(errorOf([&] { OnnxReader::readModelFromMemory(bytes, "mem.leger"); }).find("mem.leger: ") == 0);
    std::map<std::string, Tensor, std::less<>> extra;
    extra.emplace("W", Tensor::fromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6}));
    const Model m = OnnxReader::readModelFromMemory(bytes, "mem.leger", std::move(extra));
    QCOMPARE(m.path, std::string("mem.leger"));
    QVERIFY(m.graph.initializer("W"));
    QCOMPARE(m.graph.initializer("W")->data<float>()[5], 6.0f);
    QCOMPARE(m.graph.nodes.size(), std::size_t(2));
    QCOMPARE(Layer::find(m).size(), std::size_t(1));
    // External data is refused in memory: there is no folder to read it from.
    const std::string ext = externalModel("weights.bin", "", "").SerializeAsString();
    const std::string err = errorOf([&] { OnnxReader::readModelFromMemory(ext, "mem.onnx"); });
    QVERIFY2(err.find("is not allowed") != std::string::npos, err.c_str());
}

void TestOnnxReader::readsExternalData()
{
    std::string data(8, '\0'); // 8 bytes of padding, then the 6 floats
    for (int i = 0; i < 6; ++i) {
        const float f = 10.0f + static_cast<float>(i);
        data.append(reinterpret_cast<const char*>(&f), 4);
    }
    writeFileAtomically(tmp_.filePath("weights.bin").toStdString(), data);
    const Model m = OnnxReader::readModel(save(tmp_, "ext.onnx", externalModel("weights.bin", "8", "24")));
    const Tensor* w = m.graph.initializer("W");
    QVERIFY(w);
    QCOMPARE(w->data<float>()[5], 15.0f);
    QCOMPARE(m.fileBytes, std::int64_t(std::filesystem::file_size(m.path) + data.size()));

    Executor exec(m);
    const Tensor x = Tensor::fromVector<float>({1, 2}, {1, -1});
    const Tensor* in[] = {&x};
    exec.run(in);
    QCOMPARE(exec.output(0).data<float>()[0], 0.0f); // relu(10 - 13)
}

void TestOnnxReader::rejectsHostileExternalData_data()
{
    QTest::addColumn<QString>("location");
    QTest::addColumn<QString>("offset");
    QTest::addColumn<QString>("length");
    QTest::addColumn<QString>("expected");
    QTest::newRow("parent folder") << "../weights.bin" << "0" << "24" << "leaves the model's folder";
    QTest::newRow("absolute") << "/etc/passwd" << "0" << "24" << "leaves the model's folder";
    QTest::newRow("missing file") << "absent.bin" << "0" << "24" << "cannot open";
    QTest::newRow("past the end") << "weights.bin" << "16" << "24" << "too short";
    QTest::newRow("wrong length") << "weights.bin" << "0" << "20" << "does not match";
    QTest::newRow("bad number") << "weights.bin" << "zero" << "24" << "not a number";
    QTest::newRow("negative") << "weights.bin" << "-4" << "24" << "negative";
    QTest::newRow("no location") << "" << "0" << "24" << "without a location";
}

void TestOnnxReader::rejectsHostileExternalData()
{
    QFETCH(QString, location);
    QFETCH(QString, offset);
    QFETCH(QString, length);
    QFETCH(QString, expected);
    writeFileAtomically(tmp_.filePath("weights.bin").toStdString(), std::string(32, '\0'));
    const std::string path =
        save(tmp_, "hostile.onnx", externalModel(location.toStdString(), offset.toStdString(), length.toStdString()));
    const std::string err = errorOf([&] { OnnxReader::readModel(path); });
    QVERIFY2(err.find(path) == 0 && err.find("'W'") != std::string::npos, err.c_str());
    QVERIFY2(err.find(expected.toStdString()) != std::string::npos, err.c_str());
}

void TestOnnxReader::namesUnsupportedOps()
{
    const Model m = OnnxReader::readModel(save(tmp_, "unsup.onnx", constantMatMulModel("FancyNewOp")));
    try {
        Executor exec(m);
        QFAIL("an unknown op was accepted");
    } catch (const UnsupportedError& e) {
        const std::string msg = e.what();
        QVERIFY2(msg.find("FancyNewOp") != std::string::npos && msg.find("opset 13") != std::string::npos &&
                     msg.find("'act'") != std::string::npos,
                 msg.c_str());
    }
}

void TestOnnxReader::rejectsUndefinedValues()
{
    onnx::ModelProto p = constantMatMulModel();
    p.mutable_graph()->mutable_node(2)->set_input(0, "nowhere");
    const std::string err = errorOf([&] { OnnxReader::readModel(save(tmp_, "undef.onnx", p)); });
    QVERIFY2(err.find("nowhere") != std::string::npos && err.find("'act'") != std::string::npos, err.c_str());
}

void TestOnnxReader::rejectsWrongInputShape()
{
    const Model m = OnnxReader::readModel(save(tmp_, "shape.onnx", constantMatMulModel()));
    Executor exec(m);
    const Tensor x = Tensor::fromVector<float>({1, 3}, {1, 2, 3});
    const Tensor* in[] = {&x};
    const std::string err = errorOf([&] { exec.run(in); });
    QVERIFY2(err.find("expects shape [1, 2]") != std::string::npos, err.c_str());
}

void TestOnnxReader::acceptsUntypedSubgraphValues()
{
    // torch.onnx + spox leave If-body outputs with an empty TypeProto (type left to inference):
    // such values are tensors, not sequences. y = If(c, then: Relu(x), else: Neg(x)).
    onnx::ModelProto p;
    p.set_ir_version(8);
    p.add_opset_import()->set_version(13);
    auto* g = p.mutable_graph();
    addValue(g->mutable_input(), "x", {3});
    auto* c = g->add_input();
    c->set_name("c");
    c->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::BOOL);
    c->mutable_type()->mutable_tensor_type()->mutable_shape();
    addValue(g->mutable_output(), "y", {3});
    auto* node = g->add_node();
    node->set_op_type("If");
    node->set_name("branch");
    node->add_input("c");
    node->add_output("y");
    for (const char* branch : {"then_branch", "else_branch"}) {
        auto* a = node->add_attribute();
        a->set_name(branch);
        a->set_type(onnx::AttributeProto::GRAPH);
        auto* body = a->mutable_g();
        body->set_name(branch);
        auto* op = body->add_node();
        op->set_op_type(branch[0] == 't' ? "Relu" : "Neg");
        op->add_input("x");
        op->add_output(std::string(branch) + "_out");
        auto* out = body->add_output();
        out->set_name(std::string(branch) + "_out");
        out->mutable_type(); // present but empty
    }
    const Model m = OnnxReader::readModel(save(tmp_, "untyped.onnx", p));
    Executor exec(m);
    const Tensor x = Tensor::fromVector<float>({3}, {-1, 0, 2});
    const Tensor cond = Tensor::scalar<bool>(false);
    const Tensor* in[] = {&x, &cond};
    exec.run(in);
    QCOMPARE(exec.output(0).data<float>()[0], 1.0f);
    QCOMPARE(exec.output(0).data<float>()[2], -2.0f);
}

void TestOnnxReader::readsInt4Tensors()
{
    // INT4 (22) / UINT4 (21), ONNX IR 10: two per byte, low nibble first, an odd count leaves the
    // last high nibble unused. Read as int8 (sign-extended) / uint8.
    onnx::TensorProto t;
    t.set_name("q");
    t.set_data_type(22);
    t.add_dims(5);
    t.set_raw_data(std::string{'\x78', '\x0f', '\x03'}); // -8, 7 | -1, 0 | 3, (unused)
    const std::string path = tmp_.filePath("int4.pb").toStdString();
    writeFileAtomically(path, t.SerializeAsString());
    Tensor got = OnnxReader::readTensor(path);
    QCOMPARE(got.dtype(), DType::Int8);
    QCOMPARE(got.toInt64Vector(), (std::vector<std::int64_t>{-8, 7, -1, 0, 3}));

    t.set_data_type(21);
    writeFileAtomically(path, t.SerializeAsString());
    got = OnnxReader::readTensor(path);
    QCOMPARE(got.dtype(), DType::UInt8);
    QCOMPARE(got.toInt64Vector(), (std::vector<std::int64_t>{8, 7, 15, 0, 3}));

    t.set_raw_data(std::string(2, '\0')); // 5 values need 3 bytes
    writeFileAtomically(path, t.SerializeAsString());
    const std::string err = errorOf([&] { OnnxReader::readTensor(path); });
    QVERIFY2(err.find("raw data has 2 bytes") != std::string::npos, err.c_str());
}

QTEST_APPLESS_MAIN(TestOnnxReader)
#include "tst_onnxreader.moc"
