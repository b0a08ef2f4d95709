#pragma once

#include <map>
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
    /// Loads a model from a serialized ModelProto in memory (`path` names it in messages;
    /// external data is refused), with `initializers` added to the main graph's: the nodes may
    /// read them although the bytes do not define them (the `.leger` container stores them apart).
    static Model readModelFromMemory(const std::string& bytes, const std::string& path,
                                     std::map<std::string, Tensor, std::less<>> initializers = {});
    /// Loads one serialized onnx.TensorProto (the backend test-data format).
    static Tensor readTensor(const std::string& path, std::string* name = nullptr);
};

} // namespace leger
