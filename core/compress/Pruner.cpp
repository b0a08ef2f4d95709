// Pruner: keep masks. The magnitude key of a weight is the bits of |w| as an unsigned integer,
// which orders like |w| for finite values and Inf; every NaN maps to one key above Inf (NaN is
// the largest magnitude, and NaNs tie with each other).

#include "compress/Pruner.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "compress/CompressIsa.h"

namespace leger {

namespace {

using I64 = std::int64_t;

inline std::uint32_t magKey(float v)
{
    const std::uint32_t b = std::bit_cast<std::uint32_t>(v) & 0x7fffffffu;
    return b > 0x7f800000u ? 0x7fc00000u : b;
}

void setBit(std::vector<std::uint64_t>& m, I64 i) { m[static_cast<std::size_t>(i >> 6)] |= std::uint64_t{1} << (i & 63); }

std::vector<std::uint64_t> allKept(I64 n)
{
    std::vector<std::uint64_t> m(static_cast<std::size_t>((n + 63) / 64), ~std::uint64_t{0});
    if (n % 64)
        m.back() = (std::uint64_t{1} << (n % 64)) - 1;
    return m;
}

int groupM(const LayerSetting& s) { return s.pattern == SparsityPattern::N2M4 ? 4 : 8; }
int groupN(const LayerSetting& s) { return s.pattern == SparsityPattern::N2M4 ? 2 : 4; }
bool isNM(const LayerSetting& s) { return s.pattern == SparsityPattern::N2M4 || s.pattern == SparsityPattern::N4M8; }

/// Squared L2 norm of each row, +Inf for a row holding NaN/Inf; four lanes in a fixed order
/// (shared by the fast path and the reference, so that ties are the same ties).
std::vector<double> rowNorms(const float* w, I64 rows, I64 cols)
{
    std::vector<double> norms(static_cast<std::size_t>(rows));
    for (I64 r = 0; r < rows; ++r) {
        const float* x = w + r * cols;
        double lane[4] = {};
        for (I64 c = 0; c < cols; ++c)
            lane[c & 3] += static_cast<double>(x[c]) * static_cast<double>(x[c]);
        const double sum = (lane[0] + lane[1]) + (lane[2] + lane[3]);
        norms[static_cast<std::size_t>(r)] = std::isfinite(sum) ? sum : std::numeric_limits<double>::infinity();
    }
    return norms;
}

// ---- fast unstructured: radix select on the 31-bit keys ------------------------------------------

constexpr std::size_t kHighBins = 1u << 15; // keys < 2^31: high 15 bits
constexpr std::size_t kLowBins = 1u << 16;

constexpr I64 kChunk = 4096; // weights per chunk of the passes below: their buffers stay in L1

// ---- fast kernels, compiled once per ISA (see CompressIsa.h) ----------------------------------

namespace isa_base {
#pragma GCC push_options
#pragma GCC optimize("O3", "no-tree-loop-distribute-patterns")
#include "compress/PrunerKernels.inc"
#pragma GCC pop_options
} // namespace isa_base

#if LEGER_COMPRESS_X86
namespace isa_avx2 {
#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c")
#pragma GCC optimize("O3", "no-tree-loop-distribute-patterns")
#include "compress/PrunerKernels.inc"
#pragma GCC pop_options
} // namespace isa_avx2

namespace isa_avx512 {
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx512cd,avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c")
#pragma GCC optimize("O3", "no-tree-loop-distribute-patterns")
#include "compress/PrunerKernels.inc"
#pragma GCC pop_options
} // namespace isa_avx512
#endif

LEGER_COMPRESS_DISPATCH(splitKeys)
LEGER_COMPRESS_DISPATCH(blocksHolding)
LEGER_COMPRESS_DISPATCH(compareFlags)
template <int N, int M> void nmFlagsAt(const float* x, I64 groups, std::uint8_t* f)
{
#if LEGER_COMPRESS_X86
    switch (ops::convk::isa()) {
    case ops::convk::Isa::Avx512: return isa_avx512::nmFlags<N, M>(x, groups, f);
    case ops::convk::Isa::Avx2: return isa_avx2::nmFlags<N, M>(x, groups, f);
    case ops::convk::Isa::Baseline: break;
    }
#endif
    isa_base::nmFlags<N, M>(x, groups, f);
}


/// Histogram of the keys' high 15 bits; four interleaved tables cut the store-to-load stalls
/// of runs of equal bins (weights crowd into a few exponents).
void histogramHigh(const float* w, I64 n, std::uint32_t* h)
{
    std::uint16_t high[kChunk], low[kChunk];
    std::uint32_t* t[4] = {h, h + kHighBins, h + 2 * kHighBins, h + 3 * kHighBins};
    for (I64 s = 0; s < n; s += kChunk) {
        const I64 len = std::min(kChunk, n - s);
        splitKeys(w + s, len, high, low);
        I64 i = 0;
        for (; i + 4 <= len; i += 4) {
            ++t[0][high[i]];
            ++t[1][high[i + 1]];
            ++t[2][high[i + 2]];
            ++t[3][high[i + 3]];
        }
        for (; i < len; ++i)
            ++t[0][high[i]];
    }
    for (std::size_t b = 0; b < kHighBins; ++b)
        h[b] += t[1][b] + t[2][b] + t[3][b];
}

/// Histogram of the low 16 bits of the keys whose high bits are `high`; blocks holding none
/// are skipped after a vectorized test.
void histogramLow(const float* w, I64 n, std::uint32_t high, std::uint32_t* h)
{
    std::uint16_t hi[kChunk + 64], lo[kChunk + 64];
    std::uint8_t any[kChunk / 64 + 1];
    const std::uint16_t hh = static_cast<std::uint16_t>(high);
    for (I64 s = 0; s < n; s += kChunk) {
        const I64 len = std::min(kChunk, n - s);
        splitKeys(w + s, len, hi, lo);
        const I64 blocks = len / 64;
        blocksHolding(hi, blocks, hh, any);
        for (I64 b = 0; b < blocks; ++b)
            if (any[b])
                for (I64 i = b * 64; i < b * 64 + 64; ++i)
                    if (hi[i] == hh)
                        ++h[lo[i]];
        for (I64 i = blocks * 64; i < len; ++i)
            if (hi[i] == hh)
                ++h[lo[i]];
    }
}


/// Packs n flag bytes (0 or 1) into bits, bit i of word i / 64 (n a multiple of 8, or the
/// tail is read from a zero-padded buffer). Eight flags at a time: the multiply gathers the
/// low bit of each byte into the top byte.
void packFlags(const std::uint8_t* f, I64 n, std::uint64_t* words)
{
    for (I64 w = 0; w * 64 < n; ++w) {
        std::uint64_t word = 0;
        for (int j = 0; j < 8 && w * 64 + j * 8 < n; ++j) {
            std::uint64_t x;
            std::memcpy(&x, f + w * 64 + j * 8, 8);
            word |= ((x * 0x0102040810204080ull) >> 56) << (8 * j);
        }
        words[w] = word;
    }
}

/// Keep bits for keys > t into gt, and of keys == t into eq; chunks that stay in L1.
void compareWords(const float* w, I64 n, std::uint32_t t, std::uint64_t* gt, std::uint64_t* eq)
{
    std::uint8_t fg[kChunk + 8], fe[kChunk + 8];
    for (I64 s = 0; s < n; s += kChunk) {
        const I64 len = std::min(kChunk, n - s);
        std::memset(fg + len, 0, 8);
        std::memset(fe + len, 0, 8);
        const I64 equal = compareFlags(w + s, len, t, fg, fe);
        packFlags(fg, len, gt + s / 64);
        if (equal)
            packFlags(fe, len, eq + s / 64);
        else
            std::fill(eq + s / 64, eq + (s + len + 63) / 64, std::uint64_t{0});
    }
}

std::vector<std::uint64_t> unstructuredFast(const float* w, I64 n, I64 k)
{
    if (k <= 0)
        return allKept(n);
    if (k >= n)
        return std::vector<std::uint64_t>(static_cast<std::size_t>((n + 63) / 64), 0);
    // The k-th smallest key (1-based) is t; `less` keys are below it.
    std::vector<std::uint32_t> hist(4 * kHighBins, 0);
    histogramHigh(w, n, hist.data());
    I64 less = 0;
    std::uint32_t high = 0;
    for (;; ++high) {
        if (less + hist[high] >= k)
            break;
        less += hist[high];
    }
    std::vector<std::uint32_t> low(kLowBins, 0);
    histogramLow(w, n, high, low.data());
    std::uint32_t lo = 0;
    for (;; ++lo) {
        if (less + low[lo] >= k)
            break;
        less += low[lo];
    }
    const std::uint32_t t = (high << 16) | lo;
    const std::size_t words = static_cast<std::size_t>((n + 63) / 64);
    std::vector<std::uint64_t> keep(words), eq(words);
    compareWords(w, n, t, keep.data(), eq.data());
    // Of the keys equal to t, the first (k - less) in index order are removed; the rest kept.
    I64 tiesToRemove = k - less;
    for (std::size_t i = 0; i < words; ++i) {
        std::uint64_t e = eq[i];
        if (!e)
            continue;
        const I64 c = std::popcount(e);
        if (tiesToRemove >= c) {
            tiesToRemove -= c;
            continue;
        }
        while (tiesToRemove > 0) {
            e &= e - 1; // drop the lowest tie: it is removed
            --tiesToRemove;
        }
        keep[i] |= e;
        for (std::size_t j = i + 1; j < words; ++j)
            keep[j] |= eq[j];
        break;
    }
    return keep;
}


std::vector<std::uint64_t> nmMask(const float* w, I64 rows, I64 cols, int N, int M)
{
    std::vector<std::uint64_t> keep(static_cast<std::size_t>((rows * cols + 63) / 64), 0);
    const I64 full = cols / M * M;
    std::vector<std::uint8_t> flags(static_cast<std::size_t>(cols + 8), 0);
    for (I64 r = 0; r < rows; ++r) {
        const I64 base = r * cols;
        if (N == 2)
            nmFlagsAt<2, 4>(w + base, full / M, flags.data());
        else
            nmFlagsAt<4, 8>(w + base, full / M, flags.data());
        std::fill(flags.begin() + full, flags.begin() + cols, std::uint8_t{1}); // trailing partial group
        if (base % 64 == 0) {
            packFlags(flags.data(), cols, keep.data() + base / 64); // the row starts a word
            continue;
        }
        for (I64 c = 0; c < cols; ++c)
            if (flags[static_cast<std::size_t>(c)])
                setBit(keep, base + c);
    }
    return keep;
}

std::vector<std::uint64_t> channelMask(const float* w, I64 rows, I64 cols, I64 removed, bool reference)
{
    const std::vector<double> norms = rowNorms(w, rows, cols);
    std::vector<char> gone(static_cast<std::size_t>(rows), 0);
    if (reference) {
        // Repeatedly remove the least norm left, lowest row first.
        for (I64 j = 0; j < removed; ++j) {
            I64 best = -1;
            for (I64 r = 0; r < rows; ++r)
                if (!gone[static_cast<std::size_t>(r)] &&
                    (best < 0 || norms[static_cast<std::size_t>(r)] < norms[static_cast<std::size_t>(best)]))
                    best = r;
            if (best < 0)
                break;
            gone[static_cast<std::size_t>(best)] = 1;
        }
    } else {
        std::vector<I64> order(static_cast<std::size_t>(rows));
        std::iota(order.begin(), order.end(), I64{0});
        std::stable_sort(order.begin(), order.end(), [&](I64 a, I64 b) {
            return norms[static_cast<std::size_t>(a)] < norms[static_cast<std::size_t>(b)];
        });
        for (I64 j = 0; j < removed; ++j)
            gone[static_cast<std::size_t>(order[static_cast<std::size_t>(j)])] = 1;
    }
    std::vector<std::uint64_t> keep(static_cast<std::size_t>((rows * cols + 63) / 64), 0);
    for (I64 r = 0; r < rows; ++r)
        if (!gone[static_cast<std::size_t>(r)])
            for (I64 c = 0; c < cols; ++c)
                setBit(keep, r * cols + c);
    return keep;
}

} // namespace

std::int64_t Pruner::removedUnits(const LayerSetting& s, std::int64_t rows, std::int64_t cols)
{
    if (isNM(s) || !(s.sparsity > 0.0))
        return 0;
    const I64 units = s.pattern == SparsityPattern::Channel ? rows : rows * cols;
    return std::clamp<I64>(std::llround(s.sparsity * static_cast<double>(units)), 0, units);
}

std::int64_t Pruner::keptCount(const LayerSetting& s, std::int64_t rows, std::int64_t cols)
{
    if (isNM(s)) {
        const I64 M = groupM(s), N = groupN(s);
        return rows * (cols / M * N + cols % M);
    }
    if (s.pattern == SparsityPattern::Channel)
        return (rows - removedUnits(s, rows, cols)) * cols;
    return rows * cols - removedUnits(s, rows, cols);
}

std::int64_t Pruner::keptInCompleteGroups(const LayerSetting& s, std::int64_t rows, std::int64_t cols)
{
    return isNM(s) ? rows * (cols / groupM(s) * groupN(s)) : 0;
}

std::int64_t Pruner::popcount(const std::vector<std::uint64_t>& mask, std::int64_t n)
{
    if (mask.empty())
        return n;
    I64 count = 0;
    for (I64 w = 0; w < n / 64; ++w)
        count += std::popcount(mask[static_cast<std::size_t>(w)]);
    if (n % 64)
        count += std::popcount(mask[static_cast<std::size_t>(n / 64)] & ((std::uint64_t{1} << (n % 64)) - 1));
    return count;
}

std::vector<std::uint64_t> Pruner::keepMask(const float* w, std::int64_t rows, std::int64_t cols, const LayerSetting& s)
{
    if (!s.pruned())
        return {};
    if (isNM(s))
        return nmMask(w, rows, cols, groupN(s), groupM(s));
    const I64 removed = removedUnits(s, rows, cols);
    if (s.pattern == SparsityPattern::Channel)
        return channelMask(w, rows, cols, removed, false);
    return unstructuredFast(w, rows * cols, removed);
}

std::vector<std::uint64_t> Pruner::keepMaskReference(const float* w, std::int64_t rows, std::int64_t cols,
                                                     const LayerSetting& s)
{
    if (!s.pruned())
        return {};
    const I64 n = rows * cols;
    std::vector<std::uint64_t> keep(static_cast<std::size_t>((n + 63) / 64), 0);
    if (isNM(s)) {
        const int N = groupN(s), M = groupM(s);
        for (I64 r = 0; r < rows; ++r) {
            for (I64 g = 0; g < cols; g += M) {
                std::vector<I64> idx;
                for (I64 c = g; c < std::min(cols, g + M); ++c)
                    idx.push_back(r * cols + c);
                if (static_cast<I64>(idx.size()) < M) { // trailing partial group: all kept
                    for (I64 i : idx)
                        setBit(keep, i);
                    continue;
                }
                std::stable_sort(idx.begin(), idx.end(), [&](I64 a, I64 b) { return magKey(w[a]) > magKey(w[b]); });
                for (int j = 0; j < N; ++j)
                    setBit(keep, idx[static_cast<std::size_t>(j)]);
            }
        }
        return keep;
    }
    const I64 removed = removedUnits(s, rows, cols);
    if (s.pattern == SparsityPattern::Channel)
        return channelMask(w, rows, cols, removed, true);
    std::vector<I64> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), I64{0});
    std::stable_sort(order.begin(), order.end(), [&](I64 a, I64 b) { return magKey(w[a]) < magKey(w[b]); });
    for (I64 j = removed; j < n; ++j)
        setBit(keep, order[static_cast<std::size_t>(j)]);
    return keep;
}

} // namespace leger
