#pragma once
// Graph rewrites and analyses the Executor applies when it compiles a graph for speed. They
// never change results beyond float rounding, and never touch the Model: rewritten nodes are
// copies owned by the caller.

#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/Graph.h"

namespace leger {

/// The nodes to run, in order: pointers into the graph's nodes, or into `owned` for the
/// rewritten ones.
struct OptimizedNodes {
    std::vector<const Node*> order;
    std::vector<std::unique_ptr<Node>> owned;
    /// Number of nodes folded into another one.
    std::size_t removed = 0;
};

/// Fuses a Conv with what follows it into one Conv node whose kernel applies them while the
/// output is still in cache (see ConvOps.cpp):
///   Conv -> act,  Conv -> Add -> [act],  Conv -> act -> Add
/// where act is Relu, Clip with constant bounds, LeakyRelu, HardSigmoid or HardSwish, and the
/// Add's other operand (the residual) is not a constant. Every fused intermediate value must
/// have that single consumer and not be a graph output (nor read by a subgraph). The fused
/// node keeps the Conv's name and its inputs X, W, B (so weights keep their names), gets the
/// residual as input 3, the last fused node's output, and the attributes
///   leger.activation (op type), leger.activation_alpha / leger.activation_beta (Clip bounds,
///   LeakyRelu / HardSigmoid alpha and beta), leger.residual (1: added before the activation,
///   2: after it).
/// It runs at the position of the last fused node, where the residual is already computed.
OptimizedNodes fuseConvEpilogues(const Graph& graph, const std::map<std::string, int, std::less<>>& opsets);

/// Whether running `order` on slices of the batch (axis 0 of every graph input, which must be
/// declared with a free first dimension) and concatenating the outputs along axis 0 gives the
/// same outputs as one run on the whole batch: every node must be one whose samples do not
/// interact (a conservative list of ops and attributes), and every output must carry the batch.
bool batchSplittable(const Graph& graph, std::span<const Node* const> order,
                     const std::map<std::string, int, std::less<>>& opsets);

} // namespace leger
