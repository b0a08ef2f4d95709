// Helpers shared by the core unit tests: nodes and their attributes, kernels prepared from
// the builtin registry and run into garbage-filled outputs, fixed-seed random data,
// tolerant comparison against a reference, and error checks.
#pragma once

#include <QString>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "model/Node.h"
#include "runtime/Kernel.h"
#include "runtime/OpRegistry.h"
#include "util/Error.h"

namespace leger::test {

// ---- nodes and attributes -----------------------------------------------------------------

/// A node named "n" of type op, with inputs "in0", "in1", ... and outputs "out0", "out1", ...
inline Node makeNode(const std::string& op, std::size_t inputCount, std::size_t outputCount = 1)
{
    Node n;
    n.opType = op;
    n.name = "n";
    for (std::size_t i = 0; i < inputCount; ++i)
        n.inputs.push_back("in" + std::to_string(i));
    for (std::size_t i = 0; i < outputCount; ++i)
        n.outputs.push_back("out" + std::to_string(i));
    return n;
}

/// An INT attribute.
inline Attribute intAttr(std::int64_t v)
{
    Attribute a;
    a.kind = Attribute::Kind::Int;
    a.i = v;
    return a;
}

/// A FLOAT attribute.
inline Attribute floatAttr(float v)
{
    Attribute a;
    a.kind = Attribute::Kind::Float;
    a.f = v;
    return a;
}

/// A STRING attribute.
inline Attribute stringAttr(std::string v)
{
    Attribute a;
    a.kind = Attribute::Kind::String;
    a.s = std::move(v);
    return a;
}

/// An INTS attribute.
inline Attribute intsAttr(std::vector<std::int64_t> v)
{
    Attribute a;
    a.kind = Attribute::Kind::Ints;
    a.ints = std::move(v);
    return a;
}

/// A FLOATS attribute.
inline Attribute floatsAttr(std::vector<float> v)
{
    Attribute a;
    a.kind = Attribute::Kind::Floats;
    a.floats = std::move(v);
    return a;
}

/// Sets (or replaces) the node's INT attribute name.
inline void setAttr(Node& n, const std::string& name, std::int64_t v) { n.attributes[name] = intAttr(v); }
/// Sets (or replaces) the node's FLOAT attribute name.
inline void setAttr(Node& n, const std::string& name, float v) { n.attributes[name] = floatAttr(v); }
/// Sets (or replaces) the node's STRING attribute name.
inline void setAttr(Node& n, const std::string& name, const std::string& v) { n.attributes[name] = stringAttr(v); }
/// Sets (or replaces) the node's INTS attribute name.
inline void setAttr(Node& n, const std::string& name, const std::vector<std::int64_t>& v)
{
    n.attributes[name] = intsAttr(v);
}
/// Sets (or replaces) the node's FLOATS attribute name.
inline void setAttr(Node& n, const std::string& name, const std::vector<float>& v)
{
    n.attributes[name] = floatsAttr(v);
}

// ---- kernels ------------------------------------------------------------------------------

/// The builtin registry's kernel for node at opset; UnsupportedError if the op is not
/// registered there (as the Executor reports it), else whatever the factory throws.
inline Kernel prepareKernel(const Node& node, int opset)
{
    const KernelFactory* factory = OpRegistry::builtin().find(node.domain, node.opType, opset);
    if (!factory)
        throw UnsupportedError(node.opType + " is not registered");
    const KernelContext ctx{node, opset, {}, {}};
    return (*factory)(ctx);
}

/// Refills every tensor of outs with garbage, 257 float32 elements of bytes 0xff (NaN in
/// every floating type, all ones in the integer types), so that an element the kernel does
/// not write shows; then runs kernel on inputs (nullptr: omitted) into outs.
inline void runInto(const Kernel& kernel, const Node& node, const std::vector<const Tensor*>& inputs,
                    std::vector<Tensor>& outs)
{
    std::vector<Tensor*> outPtrs;
    for (auto& o : outs) {
        o.resize(DType::Float32, {257});
        std::memset(o.raw(), 0xff, o.byteSize());
        outPtrs.push_back(&o);
    }
    KernelArgs args(node, inputs, outPtrs);
    kernel(args);
}

/// Runs an already prepared kernel once on inputs (nullptr: omitted) into outputCount fresh
/// outputs pre-filled with NaN (see runInto); returns the outputs.
inline std::vector<Tensor> runKernel(const Kernel& kernel, const Node& node, const std::vector<const Tensor*>& inputs,
                                     std::size_t outputCount = 1)
{
    std::vector<Tensor> outs(outputCount);
    runInto(kernel, node, inputs, outs);
    return outs;
}

/// Prepares node at opset and runs it twice on inputs (nullptr: omitted), both times into
/// the same outputCount outputs refilled with NaN (see runInto): kernels must write every
/// element, and state they keep from run to run (scratch, tables) must not leak. Returns the
/// second run's outputs.
inline std::vector<Tensor> runKernel(const Node& node, int opset, const std::vector<const Tensor*>& inputs,
                                     std::size_t outputCount = 1)
{
    const Kernel kernel = prepareKernel(node, opset);
    std::vector<Tensor> outs(outputCount);
    for (int pass = 0; pass < 2; ++pass)
        runInto(kernel, node, inputs, outs);
    return outs;
}

// ---- random data --------------------------------------------------------------------------

/// n floats drawn uniformly from [lo, hi) with rng.
inline std::vector<float> randomFloats(std::size_t n, std::mt19937& rng, double lo = -1.0, double hi = 1.0)
{
    std::uniform_real_distribution<float> dist(static_cast<float>(lo), static_cast<float>(hi));
    std::vector<float> v(n);
    for (float& x : v)
        x = dist(rng);
    return v;
}

/// A tensor of dtype (Float32, Float64, Int32 or Int64) and shape with elements drawn
/// uniformly with rng: from [lo, hi) for floating types, from [lo, hi] for integers. Float32
/// draws the same values as randomFloats.
inline Tensor randomTensor(const Shape& shape, std::mt19937& rng, double lo = -1.0, double hi = 1.0,
                           DType dtype = DType::Float32)
{
    Tensor t(dtype, shape);
    const auto fill = [&](auto* data, auto dist) {
        for (std::int64_t i = 0; i < t.size(); ++i)
            data[i] = dist(rng);
    };
    switch (dtype) {
    case DType::Float32: {
        const std::vector<float> v = randomFloats(static_cast<std::size_t>(t.size()), rng, lo, hi);
        std::copy(v.begin(), v.end(), t.data<float>());
        break;
    }
    case DType::Float64:
        fill(t.data<double>(), std::uniform_real_distribution<double>(lo, hi));
        break;
    case DType::Int32:
        fill(t.data<std::int32_t>(),
             std::uniform_int_distribution<std::int32_t>(static_cast<std::int32_t>(lo), static_cast<std::int32_t>(hi)));
        break;
    case DType::Int64:
        fill(t.data<std::int64_t>(),
             std::uniform_int_distribution<std::int64_t>(static_cast<std::int64_t>(lo), static_cast<std::int64_t>(hi)));
        break;
    default:
        throw Error("randomTensor: unsupported dtype");
    }
    return t;
}

// ---- checks -------------------------------------------------------------------------------

/// Whether got has the given shape (and dtype, unless that is Undefined) and each element is
/// within tol + tol * |want| of want, or NaN where want is NaN; if not, why says what differs.
inline bool closeTo(const Tensor& got, const std::vector<double>& want, const Shape& shape, double tol, QString& why,
                    DType dtype = DType::Undefined)
{
    if (got.shape() != shape || (dtype != DType::Undefined && got.dtype() != dtype)) {
        why = QString("shape %1, expected %2")
                  .arg(QString::fromStdString(shapeToString(got.shape())), QString::fromStdString(shapeToString(shape)));
        return false;
    }
    if (static_cast<std::size_t>(got.size()) != want.size()) {
        why = QString("%1 elements, expected %2").arg(got.size()).arg(want.size());
        return false;
    }
    for (std::size_t i = 0; i < want.size(); ++i) {
        const double g = got.at(static_cast<std::int64_t>(i));
        const bool ok = std::isnan(want[i]) ? std::isnan(g) : std::abs(g - want[i]) <= tol + tol * std::abs(want[i]);
        if (!ok) {
            why = QString("element %1 is %2, expected %3").arg(i).arg(g, 0, 'g', 9).arg(want[i], 0, 'g', 9);
            return false;
        }
    }
    return true;
}

/// Whether f throws E whose message names the node (Node::describe()).
template <class E, class F> bool throwsNaming(F&& f, const Node& node)
{
    try {
        f();
    } catch (const E& e) {
        return std::string(e.what()).find(node.describe()) != std::string::npos;
    } catch (...) {
        return false;
    }
    return false;
}

/// The message of the leger::Error that f throws, or "(no error)".
template <class F> std::string errorOf(F&& f)
{
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace leger::test
