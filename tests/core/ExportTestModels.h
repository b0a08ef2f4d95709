// Small ONNX models built in code for the export tests: layouts and opset situations that the
// committed fixtures do not have.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

namespace leger::test {

inline void addFloatValue(onnx::ValueInfoProto* v, const std::string& name, const std::vector<std::int64_t>& dims,
                          bool batch)
{
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    if (batch)
        tt->mutable_shape()->add_dim()->set_dim_param("N");
    for (std::int64_t d : dims)
        tt->mutable_shape()->add_dim()->set_dim_value(d);
}

inline void addRandomInitializer(onnx::GraphProto* g, const std::string& name, const std::vector<std::int64_t>& dims,
                                 std::mt19937& rng, float lo = -1, float hi = 1)
{
    std::uniform_real_distribution<float> dist(lo, hi);
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    std::int64_t n = 1;
    for (std::int64_t d : dims) {
        t->add_dims(d);
        n *= d;
    }
    for (std::int64_t i = 0; i < n; ++i)
        t->add_float_data(dist(rng));
}

/// Opset 17: x (N, 2, 3, 80) @ W (2, 80, 8) -> y (N, 2, 3, 8): a batched MatMul weight, whose
/// output channels (2 * 8) span two axes and whose groups run along axis 1. With gridSample, a
/// second output computed by GridSample (mode "bilinear", renamed at opset 20) from constants:
/// the model's opset cannot be raised to 21.
inline onnx::ModelProto batchedMatMulModel(bool gridSample)
{
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(17);
    auto* g = m.mutable_graph();
    g->set_name("batched_matmul");
    addFloatValue(g->add_input(), "x", {2, 3, 80}, true);
    addFloatValue(g->add_output(), "y", {2, 3, 8}, true);
    std::mt19937 rng(11);
    addRandomInitializer(g, "W", {2, 80, 8}, rng);
    auto* mm = g->add_node();
    mm->set_op_type("MatMul");
    mm->set_name("mm");
    mm->add_input("x");
    mm->add_input("W");
    mm->add_output("y");
    if (gridSample) {
        addFloatValue(g->add_output(), "sampled", {1, 1, 2, 2}, false);
        addRandomInitializer(g, "image", {1, 1, 4, 4}, rng);
        addRandomInitializer(g, "grid", {1, 2, 2, 2}, rng, -0.9f, 0.9f);
        auto* gs = g->add_node();
        gs->set_op_type("GridSample");
        gs->set_name("grid_sample");
        gs->add_input("image");
        gs->add_input("grid");
        gs->add_output("sampled");
        auto* a = gs->add_attribute();
        a->set_name("mode");
        a->set_type(onnx::AttributeProto::STRING);
        a->set_s("bilinear");
    }
    return m;
}

/// A small opset-12 model: x (N, 16) -> Gemm (W (8, 16), transB) -> Softmax(axis 1) -> y. Its
/// Softmax changes meaning at opset 13, so the export cannot raise the opset.
inline onnx::ModelProto softmaxOpset12Model()
{
    onnx::ModelProto m;
    m.set_ir_version(7);
    m.add_opset_import()->set_version(12);
    auto* g = m.mutable_graph();
    g->set_name("g");
    addFloatValue(g->add_input(), "x", {16}, true);
    addFloatValue(g->add_output(), "y", {8}, true);
    std::mt19937 rng(7);
    addRandomInitializer(g, "W", {8, 16}, rng);
    addRandomInitializer(g, "B", {8}, rng);
    auto* gemm = g->add_node();
    gemm->set_op_type("Gemm");
    gemm->set_name("fc");
    gemm->add_input("x");
    gemm->add_input("W");
    gemm->add_input("B");
    gemm->add_output("h");
    auto* a = gemm->add_attribute();
    a->set_name("transB");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(1);
    auto* sm = g->add_node();
    sm->set_op_type("Softmax");
    sm->set_name("softmax");
    sm->add_input("h");
    sm->add_output("y");
    auto* ax = sm->add_attribute();
    ax->set_name("axis");
    ax->set_type(onnx::AttributeProto::INT);
    ax->set_i(1);
    return m;
}


inline onnx::NodeProto* addNode(onnx::GraphProto* g, const std::string& op, const std::vector<std::string>& inputs,
                                const std::vector<std::string>& outputs)
{
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(outputs[0] + "_node");
    for (const auto& i : inputs)
        n->add_input(i);
    for (const auto& o : outputs)
        n->add_output(o);
    return n;
}

inline void addIntsAttr(onnx::NodeProto* n, const std::string& name, const std::vector<std::int64_t>& v)
{
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (std::int64_t x : v)
        a->add_ints(x);
}

inline void addIntAttr(onnx::NodeProto* n, const std::string& name, std::int64_t v)
{
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
}

/// Opset 11, with the attributes that later opsets turned into inputs: x (N, 16) -> Gemm (W (16, 8))
/// -> h (N, 8); Softmax(axis -1); Unsqueeze(axes [1]);
/// Split(axis 2, split [3, 5]); ReduceSum(axes [2]) and ReduceMean(axes [2]); Add; Squeeze(axes [1])
/// -> y (N, 1), and the softmax as a second output p (N, 8). Raising it to 21 needs every adapter.
inline onnx::ModelProto opset11Model()
{
    onnx::ModelProto m;
    m.set_ir_version(6);
    m.add_opset_import()->set_version(11);
    auto* g = m.mutable_graph();
    g->set_name("opset11");
    addFloatValue(g->add_input(), "x", {16}, true);
    addFloatValue(g->add_output(), "y", {1}, true);
    addFloatValue(g->add_output(), "p", {8}, true);
    std::mt19937 rng(3);
    addRandomInitializer(g, "W", {16, 8}, rng);
    addRandomInitializer(g, "B", {8}, rng);
    addNode(g, "Gemm", {"x", "W", "B"}, {"h"});
    addIntAttr(addNode(g, "Softmax", {"h"}, {"p"}), "axis", -1);
    addIntsAttr(addNode(g, "Unsqueeze", {"h"}, {"u"}), "axes", {1});
    auto* split = addNode(g, "Split", {"u"}, {"a", "b"});
    addIntAttr(split, "axis", 2);
    addIntsAttr(split, "split", {3, 5});
    addIntsAttr(addNode(g, "ReduceSum", {"a"}, {"ra"}), "axes", {2});
    addIntsAttr(addNode(g, "ReduceMean", {"b"}, {"rb"}), "axes", {2});
    addNode(g, "Add", {"ra", "rb"}, {"s"});
    addIntsAttr(addNode(g, "Squeeze", {"s"}, {"y"}), "axes", {1});
    return m;
}

} // namespace leger::test
