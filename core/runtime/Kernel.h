#pragma once

#include <functional>
#include <span>
#include <string>

#include "model/Graph.h"
#include "model/Node.h"
#include "model/Tensor.h"
#include "util/Error.h"

namespace leger {

class Executor;

/// What a kernel sees when it runs: its inputs (nullptr where an optional input is omitted)
/// and its outputs, which it resizes and fills. Buffers are reused from run to run.
class KernelArgs {
public:
    KernelArgs(const Node& node, std::span<const Tensor* const> in, std::span<Tensor* const> out)
        : node_(node), in_(in), out_(out)
    {
    }

    std::size_t inputCount() const { return in_.size(); }
    std::size_t outputCount() const { return out_.size(); }
    bool hasInput(std::size_t i) const { return i < in_.size() && in_[i] != nullptr; }
    /// Input i; throws if it is absent.
    const Tensor& input(std::size_t i) const
    {
        if (!hasInput(i))
            throw Error(node_.describe() + ": missing input " + std::to_string(i));
        return *in_[i];
    }
    const Tensor* optionalInput(std::size_t i) const { return hasInput(i) ? in_[i] : nullptr; }
    /// Whether the graph uses output i (omitted optional outputs still get a scratch buffer).
    bool wantsOutput(std::size_t i) const { return i < out_.size() && !node_.outputs[i].empty(); }
    Tensor& output(std::size_t i) const
    {
        if (i >= out_.size())
            throw Error(node_.describe() + ": output " + std::to_string(i) + " is not connected");
        return *out_[i];
    }
    const Node& node() const { return node_; }
    std::span<const Tensor* const> inputs() const { return in_; }

private:
    const Node& node_;
    std::span<const Tensor* const> in_;
    std::span<Tensor* const> out_;
};

/// A prepared kernel: attributes parsed once, called on every run.
using Kernel = std::function<void(KernelArgs&)>;

/// What a kernel factory gets to prepare a node.
struct KernelContext {
    const Node& node;
    int opset; // version of the node's domain in the model
    /// Compiles a subgraph attribute (If/Loop/Scan bodies) that reads outerNames from the
    /// enclosing graph; they become extra inputs after the body's own.
    std::function<std::shared_ptr<Executor>(const Graph&, const std::vector<std::string>& outerNames)> compileSubgraph;
    /// Names of the implicit inputs (outer-scope values read by subgraphs), passed to the
    /// kernel after the node's own inputs.
    std::vector<std::string> implicitInputs;

    [[noreturn]] void unsupported(const std::string& what) const
    {
        throw UnsupportedError(node.describe() + " (opset " + std::to_string(opset) + "): " + what + " is not supported");
    }
    [[noreturn]] void invalid(const std::string& what) const
    {
        throw Error(node.describe() + ": " + what);
    }
};

/// Parses a node's attributes and returns its kernel; throws UnsupportedError or Error.
using KernelFactory = std::function<Kernel(const KernelContext&)>;

} // namespace leger
