#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/Tensor.h"

namespace leger {

class Model;

/// Shapes and FLOPs of every node for concrete input shapes.
struct NodeShapes {
    std::string node;  // node name, or its first output's name
    std::string opType;
    std::vector<std::string> outputs;
    std::vector<Shape> shapes;
    std::int64_t flops = 0;
};

/// Infers every value's shape for the given input shapes by running the graph once on
/// zero-filled inputs (declared types; missing inputs take their declared shape with
/// symbolic dimensions set to 1). Exact wherever a shape does not depend on input values
/// (NonZero, Unique and loops whose trip count comes from data report the zero-input case).
std::vector<NodeShapes> inferShapes(const Model& model, const std::map<std::string, Shape>& inputShapes);

} // namespace leger
