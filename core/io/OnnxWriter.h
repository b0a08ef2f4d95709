#pragma once

#include <map>
#include <string>
#include <vector>

#include "model/Tensor.h"

namespace leger {

struct Layer;
struct CompressedWeight;

/// Writes compressed models as ONNX, by rewriting the original model file: everything but the
/// replaced weights stays as it was. External data is read in and the output is one
/// self-contained file (models whose output would exceed protobuf's 2 GB limit are refused).
/// Files are written atomically. Every failure throws leger::Error naming the file.
class OnnxWriter {
public:
    /// Each compressed layer's weight (weights[i] belongs to layers[i]; uncompressed settings are
    /// skipped) becomes quantized storage plus DequantizeLinear (int), a float16/bfloat16
    /// initializer plus Cast (float16/bfloat16), or a float initializer holding the pruned weights
    /// (float32). The values ONNX Runtime dequantizes are CompressedWeight's dequantized values bit
    /// for bit. Raises the default-domain opset when a layer needs it (13: per-axis, bfloat16; 21:
    /// int4, blocked) and only when every other op keeps its meaning; otherwise falls back (8-bit
    /// containers, a 2-D per-axis view, float values) and says so in the returned warnings.
    static std::vector<std::string> exportQdqOnnx(const std::string& sourceModelPath, const std::vector<Layer>& layers,
                                                  const std::vector<CompressedWeight>& weights,
                                                  const std::string& outPath);

    /// The same model with the named initializers (or Constant-node weights) replaced by the given
    /// tensors, e.g. the dequantized weights, for tools that accept nothing else.
    static void exportFloatOnnx(const std::string& sourceModelPath, const std::map<std::string, Tensor>& replacedWeights,
                                const std::string& outPath);
};

} // namespace leger
