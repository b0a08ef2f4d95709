#pragma once
// One layer's weight as the compact export stores it: the result of pruning then quantizing
// (Pruner.h, Quantizer.h), in the layer's matrix view (Layer: rows = output channels, cols =
// the input dimension). Everything Leger evaluates is dequantize() of this, so what is
// exported and what was measured are the same numbers.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "compress/LayerSetting.h"

namespace leger {

struct CompressedWeight {
    LayerSetting setting;
    std::int64_t rows = 0, cols = 0;
    /// Weights per scale along a row: cols (Channel), the group size (Group; the last group of
    /// a row may be shorter), or rows * cols (Tensor: one scale).
    std::int64_t groupSize = 0;

    /// Which weights are kept, one bit each, row-major over (rows, cols), bit i of word i / 64;
    /// empty when nothing is pruned. For pattern Channel a row is kept or removed whole.
    std::vector<std::uint64_t> keep;

    /// Format Int: one code per weight (row-major (rows, cols); pruned weights hold the code of
    /// zero). Symmetric: the byte is an int8 in [-(2^(b-1)-1), 2^(b-1)-1]; asymmetric: a uint8
    /// in [0, 2^b-1].
    std::vector<std::uint8_t> codes;
    /// Format Int: one scale per group, row-major (rows, ceil(cols / groupSize)), or a single
    /// one for Tensor. Every scale is a float16 value (the export stores float16), > 0.
    std::vector<float> scales;
    /// Format Int, asymmetric: one zero point per scale, in [0, 2^b-1]. Empty when symmetric.
    std::vector<std::uint8_t> zeroPoints;
    /// Format Float16 / BFloat16: the bits of each weight, row-major (rows, cols).
    std::vector<std::uint16_t> halves;
    /// Format Float32: the (pruned) weights, row-major (rows, cols).
    std::vector<float> values;
    /// Block formats (q8_0 .. q6_K): each row's ggml blocks, rows * cols / blockWeights blocks of
    /// blockBytes each, as GGUF stores the tensor (compress/GgmlQuants.h).
    std::vector<std::byte> blocks;
    /// Kept weights that were NaN or +-Inf. Format Int excludes them from the ranges and stores
    /// the code of zero (block formats quantize them as 0); the float formats keep them as they are (a cast).
    std::int64_t nonFinite = 0;

    bool perTensor() const { return setting.granularity == Granularity::Tensor; }
    std::int64_t groupsPerRow() const { return groupSize >= cols ? 1 : (cols + groupSize - 1) / groupSize; }
    std::int64_t scaleCount() const { return perTensor() ? 1 : rows * groupsPerRow(); }
    /// The scale (and zero point) of weight (r, c).
    std::int64_t scaleIndex(std::int64_t r, std::int64_t c) const
    {
        return perTensor() ? 0 : r * groupsPerRow() + c / groupSize;
    }
    bool kept(std::int64_t i) const { return keep.empty() || ((keep[static_cast<std::size_t>(i >> 6)] >> (i & 63)) & 1u); }
};

} // namespace leger
