#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/Tensor.h"

namespace leger {

class Graph;

/// One node attribute, as ONNX defines them (scalars, lists, tensors, subgraphs).
struct Attribute {
    enum class Kind { Float, Int, String, Tensor, Graph, Floats, Ints, Strings, Tensors, Graphs };
    Kind kind = Kind::Int;
    float f = 0;
    std::int64_t i = 0;
    std::string s;
    std::shared_ptr<const leger::Tensor> t;
    std::shared_ptr<const leger::Graph> g;
    std::vector<float> floats;
    std::vector<std::int64_t> ints;
    std::vector<std::string> strings;
    std::vector<leger::Tensor> tensors;
    std::vector<std::shared_ptr<const leger::Graph>> graphs;
};

} // namespace leger
