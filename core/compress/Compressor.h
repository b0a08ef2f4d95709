#pragma once
// The one entry point that turns a layer's weight and a setting into what is exported and
// evaluated (the engine, the export and the UI all call it): gather the layer's matrix view,
// prune (Pruner), quantize the kept weights (Quantizer); and back to the tensor's own layout.

#include "compress/CompressedWeight.h"
#include "compress/LayerSetting.h"
#include "model/Layer.h"
#include "model/Tensor.h"

namespace leger {

/// Prunes then quantizes weight (any floating dtype, shaped as layer.shape) under s, in the
/// layer's matrix view (rows, cols), row-major whatever layer.transposed says.
CompressedWeight compressWeight(const Layer& layer, const Tensor& weight, const LayerSetting& s);
/// compressWeight, and decompressWeight's result into dequantized, in one pass over the rows
/// when the layer is not transposed (each row is dequantized while it is still in cache).
CompressedWeight compressWeight(const Layer& layer, const Tensor& weight, const LayerSetting& s, Tensor& dequantized);
/// Writes the dequantized weight into out as a float32 tensor of layer.shape, in the tensor's
/// original layout; pruned weights are exactly 0.
void decompressWeight(const CompressedWeight& c, const Layer& layer, Tensor& out);
/// 10 * log10(||W||^2 / ||W - What||^2) over the finite elements of original (NaN/Inf weights
/// are counted by CompressedWeight::nonFinite instead); +inf when they are equal.
double weightSqnrDb(const Tensor& original, const Tensor& dequantized);

/// The dequantized weight in the original weight's dtype (float16/bfloat16/double models keep
/// their types; a float16 weight quantized to float16 round-trips exactly).
Tensor decompressWeightAs(const CompressedWeight& c, const Layer& layer, DType dtype);

/// The weight as evaluation and `run --plan` use it: compressed under s, then dequantized (in
/// the quantizer's pass) into the original weight's dtype. `compressed`, when given, receives
/// the compressed form (e.g. for its nonFinite count).
Tensor evaluatedWeight(const Layer& layer, const Tensor& weight, const LayerSetting& s,
                       CompressedWeight* compressed = nullptr);

/// The layer's weight as its (rows, cols) row-major matrix in float32.
std::vector<float> layerMatrix(const Layer& layer, const Tensor& weight);

} // namespace leger
