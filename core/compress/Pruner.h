#pragma once
// Chooses which weights of a layer's matrix (Layer's view: row-major (rows, cols)) a setting
// keeps, as the CompressedWeight::keep bit mask. Exactly (the size code counts the same):
//
//   Unstructured s   removes k = llround(s * rows * cols) weights of least |w|; ties at the
//                    threshold are removed lowest index first; NaN is the largest magnitude.
//                    O(n): a radix select on the bits of |w| (two 16-bit histogram passes).
//   N:M (2:4, 4:8)   each complete group of M consecutive weights of a row keeps its N largest
//                    |w| (ties: lower index kept); a row's trailing cols % M weights are kept.
//   Channel s        removes llround(s * rows) whole rows of least L2 norm (ties: lower row
//                    first; a row holding NaN/Inf has the largest norm).
//
// keepMask() is the fast path; keepMaskReference() the plain one (sorts), for tests.

#include <cstdint>
#include <vector>

#include "compress/LayerSetting.h"

namespace leger {

class Pruner {
public:
    /// The keep bits of s for w (rows, cols): bit i of word i / 64, (rows * cols + 63) / 64
    /// words, unused high bits 0. Empty when s removes nothing (!s.pruned()).
    static std::vector<std::uint64_t> keepMask(const float* w, std::int64_t rows, std::int64_t cols,
                                               const LayerSetting& s);
    /// The reference of keepMask (stable sorts; obviously correct, slow).
    static std::vector<std::uint64_t> keepMaskReference(const float* w, std::int64_t rows, std::int64_t cols,
                                                        const LayerSetting& s);

    /// Weights s keeps on a (rows, cols) matrix, from the shape alone.
    static std::int64_t keptCount(const LayerSetting& s, std::int64_t rows, std::int64_t cols);
    /// Of keptCount, those inside complete N:M groups (what N:M index bits describe); 0 for
    /// the other patterns.
    static std::int64_t keptInCompleteGroups(const LayerSetting& s, std::int64_t rows, std::int64_t cols);
    /// Weights (Unstructured) or rows (Channel) that s removes; 0 for N:M.
    static std::int64_t removedUnits(const LayerSetting& s, std::int64_t rows, std::int64_t cols);
    /// Set bits among the first n of mask (all n when mask is empty).
    static std::int64_t popcount(const std::vector<std::uint64_t>& mask, std::int64_t n);
};

} // namespace leger
