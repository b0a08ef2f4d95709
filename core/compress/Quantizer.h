#pragma once
// Quantizes a layer's weight matrix (Layer's view: row-major (rows, cols)) to a CompressedWeight,
// and back. The arithmetic (shared with the size code and the export, see CompressedWeight.h):
//
//   symmetric   qmax = 2^(b-1)-1;  scale = fp16round(absmax / qmax);
//               code = clamp(nearbyint(w * (1/scale)), -qmax, qmax);  value = code * scale
//   asymmetric  lo = min(0, min w), hi = max(0, max w);  scale = fp16round((hi - lo) / (2^b-1));
//               zp = clamp(nearbyint(-lo * (1/scale)), 0, 2^b-1);
//               code = clamp(nearbyint(w * (1/scale)) + zp, 0, 2^b-1);  value = (code - zp) * scale
//
// 1/scale is a float, rounding is half to even (PyTorch's fake_quantize arithmetic). Ranges
// cover the kept, finite weights of a group only; pruned and NaN/Inf weights get the code of
// zero (counted in nonFinite). A group with nothing but zeros gets scale 1; a scale that would
// round to 0 in float16 becomes 2^-24 and one that would overflow 65504. MSE clipping tries
// r = 1.00, 0.99, ..., 0.50 of the range and keeps the least squared error (ties: larger r).
//
// quantize() is the fast path (vector loops compiled per ISA, picked at run time);
// quantizeReference() the plain one, one weight at a time. They agree bit for bit.

#include <cstdint>
#include <span>
#include <vector>

#include "compress/CompressedWeight.h"
#include "compress/LayerSetting.h"

namespace leger {

class Quantizer {
public:
    /// w: (rows, cols) row-major. keep: CompressedWeight::keep bits (empty: all kept). The
    /// result holds the Int, Float16/BFloat16 or Float32 fields for s.format, and keep.
    static CompressedWeight quantize(const float* w, std::int64_t rows, std::int64_t cols,
                                     std::span<const std::uint64_t> keep, const LayerSetting& s);
    /// quantize into c, reusing its buffers (no allocation nor page faults when the size is
    /// unchanged: the engine's cache and the benchmark use it). keep may be c.keep itself.
    /// With dequantized ((rows, cols) floats), also writes dequantize(c) there, each row while
    /// its codes are still in cache.
    static void quantizeInto(const float* w, std::int64_t rows, std::int64_t cols, std::span<const std::uint64_t> keep,
                             const LayerSetting& s, CompressedWeight& c, float* dequantized = nullptr);
    /// out: (rows, cols) row-major; pruned weights are exactly 0.
    static void dequantize(const CompressedWeight& c, float* out);
    static std::vector<float> dequantize(const CompressedWeight& c);

    /// The scalar reference of quantize / dequantize.
    static CompressedWeight quantizeReference(const float* w, std::int64_t rows, std::int64_t cols,
                                              std::span<const std::uint64_t> keep, const LayerSetting& s);
    static void dequantizeReference(const CompressedWeight& c, float* out);

    /// Round to the nearest float16 value (ties to even), as a float.
    static float fp16Round(float x);
    /// Weights per scale along a row for s on a (rows, cols) matrix (CompressedWeight::groupSize).
    static std::int64_t groupSizeFor(const LayerSetting& s, std::int64_t rows, std::int64_t cols);
    /// The clipping ratios MSE clipping tries, largest first: 1.00, 0.99, ..., 0.50.
    static constexpr int kMseSteps = 51;
    static float mseRatio(int step) { return static_cast<float>(100 - step) / 100.0f; }
};

} // namespace leger
