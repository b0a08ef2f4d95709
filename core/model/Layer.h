#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/Tensor.h"

namespace leger {

class Model;

/// One compressible weight tensor and the node that consumes it (DESIGN.md "Layer").
struct Layer {
    std::string name;    // the weight tensor's name: a layer's identity
    std::string nodeName;
    std::string opType;  // Conv, ConvTranspose, Gemm, MatMul, LSTM, GRU, RNN, Gather (embedding)
    Shape shape;
    std::int64_t parameters = 0;
    /// The weight seen as a matrix (rows = output channels, cols = the input dimension that
    /// quantization groups run along); rows * cols == parameters. When `transposed`, the
    /// stored tensor holds it column-major: shape (..., cols, n) with rows = prod(...) * n
    /// (MatMul weights, Gemm without transB). Otherwise row r is contiguous at r * cols.
    std::int64_t rows = 0;
    std::int64_t cols = 0;
    bool transposed = false;

    /// The compressible layers of a model, in graph order; a weight read by several nodes
    /// is listed once, under its first consumer.
    static std::vector<Layer> find(const Model& model);
};

} // namespace leger
