#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "model/Graph.h"

namespace leger {

/// A loaded model: its main graph, the opset of each operator domain, and where it came from.
class Model {
public:
    Graph graph;
    std::map<std::string, int, std::less<>> opsets; // domain ("" = ai.onnx) -> version
    std::string path;
    std::string producer;
    std::int64_t fileBytes = 0; // size of the model file plus its external data files

    /// The opset version of the default ONNX domain.
    int onnxOpset() const;
};

} // namespace leger
