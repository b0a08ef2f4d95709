#pragma once

#include <string>

#include "model/Model.h"

namespace leger {

/// Reads ONNX models and tensors with Debian's libonnx protobuf definitions.
/// Every failure throws leger::Error with a message naming the file and what was wrong.
class OnnxReader {
public:
    /// Loads a model: graph, initializers (external data resolved next to the file),
    /// `Constant` nodes folded into initializers, nodes checked and topologically sorted.
    static Model readModel(const std::string& path);
    /// Loads one serialized onnx.TensorProto (the backend test-data format).
    static Tensor readTensor(const std::string& path, std::string* name = nullptr);
};

} // namespace leger
