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
///
/// What a compressed layer's weight W becomes in the QDQ export (the new nodes come first in the
/// graph and the last one outputs W's name; a Cast back follows when W was not float32):
/// - int, per tensor: int8 (symmetric) / uint8 (asymmetric) codes in W's shape, scalar float32
///   scale (a float16 value), uint8 zero point when asymmetric -> DequantizeLinear (opset >= 10).
/// - int, per channel: per-axis DequantizeLinear (opset >= 13) on W's shape when the channels are
///   one axis (Conv/Gemm axis 0, MatMul (K, N) axis 1, LSTM (1, 4H, I) axis 1); otherwise on the
///   (rows, cols) matrix, then Reshape (and for batched MatMul weights Transpose) back.
/// - int, groups: opset-21 blocked DequantizeLinear (block_size = group size) along the input axis
///   of (rows, cols) + Reshape, or of W itself for MatMul-style (.., K, N) weights.
/// - int with bits <= 4 at opset 21: INT4 / UINT4 codes and zero points (two per byte, low
///   nibble first); otherwise 8-bit containers.
/// - float16 / bfloat16: a float16 / bfloat16 initializer -> Cast to float (bfloat16: opset 13).
/// - float32 (pruned): a float initializer holding the pruned weights.
/// If the opset a layer needs cannot be reached (an op would change meaning), groups become
/// per-axis scales of a (rows * groups, group size) view padded with the zero point, then Slice
/// and Reshape back (opset 13); without opset 13, per-channel and group layers are stored as
/// their dequantized float32 values, and bfloat16 as float32. Each fallback is a warning.
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
