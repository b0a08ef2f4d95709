#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "model/Node.h"
#include "model/Tensor.h"

namespace leger {

/// A declared graph input or output: element type and dimensions (symbolic ones as -1 + name).
struct ValueInfo {
    std::string name;
    DType dtype = DType::Undefined;
    bool isTensor = true;                // false for sequence, map and optional values
    bool hasShape = false;
    std::vector<std::int64_t> dims;      // -1 where the dimension is symbolic or unknown
    std::vector<std::string> dimParams;  // symbolic names, "" where the dimension is fixed
    std::string shapeString() const;     // "[N, 3, 224, 224]"
};

/// Nodes in topological order plus the named constant tensors (initializers and folded
/// `Constant` nodes) they read.
class Graph {
public:
    std::string name;
    std::vector<Node> nodes;
    std::vector<ValueInfo> inputs;  // real inputs only: initializers listed as inputs are dropped
    std::vector<ValueInfo> outputs;
    std::map<std::string, Tensor, std::less<>> initializers;

    const Tensor* initializer(std::string_view name) const;
    /// Names the graph and its nested subgraphs read without defining them: for a subgraph,
    /// the values it takes from the enclosing graph's scope.
    std::set<std::string> outerNames() const;
};

} // namespace leger
