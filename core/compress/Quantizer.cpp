// Quantizer: the fast path (vectorizable loops, one clone per ISA) and the scalar reference.
//
// Both see the same "effective" weights: e = w if the weight is kept and finite, else 0. Zero
// is always in the range (asymmetric ranges are extended to include it) and quantizes to the
// zero code exactly, so zeroing pruned and NaN/Inf weights is the same as leaving them out of
// the ranges and giving them the zero code. The fast path builds e only for rows that need it.
//
// Bit-exactness: this file is compiled with -ffp-contract=off (no FMA contraction of x * inv or
// e - code * scale); the fast path clamps before rounding, which equals rounding then clamping
// for integer bounds, and rounds with (v + 1.5 * 2^23) - 1.5 * 2^23, which is round half to
// even (nearbyint in the default FP environment) for |v| <= 2^22 (here |v| <= 255). MSE sums
// squared errors in double, into 8 lanes by position in the group (lane = position % 8), then
// ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)): the order is fixed, so both paths choose the same ratio.

#include "compress/Quantizer.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <string>

#include "model/Half.h"
#include "compress/CompressIsa.h"
#include "compress/GgmlQuants.h"
#include "io/GgufFile.h"
#include "util/Error.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define LEGER_QUANT_X86 1
#include <immintrin.h>
#endif

namespace leger {

namespace {

constexpr float kMaxHalf = 65504.0f;
constexpr float kMinHalfSubnormal = 5.9604644775390625e-08f; // 2^-24
constexpr float kRoundMagic = 12582912.0f;                   // 1.5 * 2^23

using I64 = std::int64_t;

struct Params {
    float scale = 1.0f;
    float inv = 1.0f;
    float zp = 0.0f; // 0 when symmetric
};

float halfScale(float raw)
{
    float s = Half::fromFloat(raw).toFloat();
    if (s == 0.0f)
        s = kMinHalfSubnormal;
    if (!(s <= kMaxHalf)) // overflow to Inf
        s = kMaxHalf;
    return s;
}

/// Scale of a symmetric group whose (clipped) largest magnitude is absmax.
Params symParams(float absmax, int qmax)
{
    Params p;
    if (!(absmax > 0.0f))
        return p;
    p.scale = halfScale(absmax / static_cast<float>(qmax));
    p.inv = 1.0f / p.scale;
    return p;
}

/// Scale and zero point of an asymmetric group with (clipped) range lo <= 0 <= hi.
Params asymParams(float lo, float hi, int levels)
{
    Params p;
    const float range = hi - lo;
    if (!(range > 0.0f))
        return p;
    p.scale = halfScale(range / static_cast<float>(levels));
    p.inv = 1.0f / p.scale;
    p.zp = std::clamp(std::nearbyint(-lo * p.inv), 0.0f, static_cast<float>(levels));
    return p;
}

double sumLanes(const double* l) { return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7])); }

void checkSetting(const LayerSetting& s, std::int64_t cols, std::span<const std::uint64_t> keep)
{
    if (isBlockFormat(s.format)) {
        if (cols % blockWeights(s.format) != 0)
            throw Error(std::string("quantizer: ") + toString(s.format) + " needs rows of a multiple of " +
                        std::to_string(blockWeights(s.format)) + " weights; this layer's rows have " + std::to_string(cols));
        if (!keep.empty() || s.pruned())
            throw Error(std::string("quantizer: ") + toString(s.format) + " is a GGUF block format: it cannot be pruned");
    }
    if (s.format == WeightFormat::Int && (s.bits < 2 || s.bits > 8))
        throw Error("quantizer: bits must be in 2..8, got " + std::to_string(s.bits));
    if (s.format == WeightFormat::Int && s.granularity == Granularity::Group && s.groupSize <= 0)
        throw Error("quantizer: group size must be positive, got " + std::to_string(s.groupSize));
}

bool keptBit(std::span<const std::uint64_t> keep, I64 i)
{
    return keep.empty() || ((keep[static_cast<std::size_t>(i >> 6)] >> (i & 63)) & 1u);
}

/// Fills c's header and keep; the format's buffers keep their allocation (and contents) when
/// their size does not change, so a CompressedWeight reused run after run is not refilled.
void setHeader(CompressedWeight& c, std::int64_t rows, std::int64_t cols, std::span<const std::uint64_t> keep,
               const LayerSetting& s)
{
    checkSetting(s, cols, keep);
    if (!keep.empty() && static_cast<I64>(keep.size()) != (rows * cols + 63) / 64)
        throw Error("quantizer: keep mask has " + std::to_string(keep.size()) + " words, expected " +
                    std::to_string((rows * cols + 63) / 64));
    c.setting = s;
    c.rows = rows;
    c.cols = cols;
    c.groupSize = Quantizer::groupSizeFor(s, rows, cols);
    c.nonFinite = 0;
    if (keep.data() != c.keep.data() || keep.size() != c.keep.size())
        c.keep.assign(keep.begin(), keep.end());
    const std::size_t n = static_cast<std::size_t>(rows * cols);
    const bool isInt = s.format == WeightFormat::Int;
    const bool half = s.format == WeightFormat::Float16 || s.format == WeightFormat::BFloat16;
    if (!isInt) {
        c.codes.clear();
        c.scales.clear();
        c.zeroPoints.clear();
    } else {
        c.codes.resize(n);
    }
    if (half)
        c.halves.resize(n);
    else
        c.halves.clear();
    if (s.format != WeightFormat::Float32)
        c.values.clear();
    if (isBlockFormat(s.format))
        c.blocks.resize(static_cast<std::size_t>(rows * (cols / blockWeights(s.format)) * blockBytes(s.format)));
    else
        c.blocks.clear();
}



CompressedWeight makeHeader(std::int64_t rows, std::int64_t cols, std::span<const std::uint64_t> keep,
                            const LayerSetting& s)
{
    CompressedWeight c;
    setHeader(c, rows, cols, keep, s);
    return c;
}

// ---- reference: one weight at a time ---------------------------------------------------------

namespace ref {

/// Code of e under p (symmetric: the signed code; asymmetric: the unsigned one).
int quantOne(float e, const Params& p, bool sym, int qmax, int levels)
{
    if (sym)
        return static_cast<int>(std::clamp(std::nearbyint(e * p.inv), static_cast<float>(-qmax), static_cast<float>(qmax)));
    return static_cast<int>(std::clamp(std::nearbyint(e * p.inv) + p.zp, 0.0f, static_cast<float>(levels)));
}

float dequantOne(int code, const Params& p) { return static_cast<float>(code - static_cast<int>(p.zp)) * p.scale; }

/// The indices (into the (rows, cols) matrix) of scale k's group.
std::vector<I64> groupIndices(const CompressedWeight& c, I64 k)
{
    std::vector<I64> idx;
    if (c.perTensor()) {
        for (I64 i = 0; i < c.rows * c.cols; ++i)
            idx.push_back(i);
        return idx;
    }
    const I64 gpr = c.groupsPerRow();
    const I64 r = k / gpr, g = k % gpr;
    const I64 first = gpr == 1 ? 0 : g * c.groupSize;
    const I64 last = gpr == 1 ? c.cols : std::min(c.cols, first + c.groupSize);
    for (I64 col = first; col < last; ++col)
        idx.push_back(r * c.cols + col);
    return idx;
}

double sqError(const std::vector<float>& e, const Params& p, bool sym, int qmax, int levels)
{
    double lane[8] = {};
    for (std::size_t i = 0; i < e.size(); ++i) {
        const float d = e[i] - dequantOne(quantOne(e[i], p, sym, qmax, levels), p);
        lane[i % 8] += static_cast<double>(d) * static_cast<double>(d);
    }
    return sumLanes(lane);
}

} // namespace ref

// ---- fast path: whole rows of work per call, compiled for each ISA ----------------------------

// ---- fast kernels, compiled once per ISA (see CompressIsa.h) ----------------------------------

namespace isa_base {
#pragma GCC push_options
#pragma GCC optimize("O3", "no-tree-loop-distribute-patterns")
#include "compress/QuantizerKernels.inc"
#pragma GCC pop_options
} // namespace isa_base

#if LEGER_COMPRESS_X86
namespace isa_avx2 {
#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c")
#pragma GCC optimize("O3", "no-tree-loop-distribute-patterns")
#include "compress/QuantizerKernels.inc"
#pragma GCC pop_options
} // namespace isa_avx2

namespace isa_avx512 {
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx512cd,avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c")
#pragma GCC optimize("O3", "no-tree-loop-distribute-patterns")
#include "compress/QuantizerKernels.inc"
#pragma GCC pop_options
} // namespace isa_avx512
#endif

LEGER_COMPRESS_DISPATCH(absmaxGroups)
LEGER_COMPRESS_DISPATCH(minmaxGroups)
LEGER_COMPRESS_DISPATCH(quantGroups)
LEGER_COMPRESS_DISPATCH(dequantSymGroups)
LEGER_COMPRESS_DISPATCH(dequantAsymGroups)
LEGER_COMPRESS_DISPATCH(sqErrorGroup)
LEGER_COMPRESS_DISPATCH(toBFloat)
LEGER_COMPRESS_DISPATCH(countNonFinite)






#if LEGER_QUANT_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
/// float16 bits of x (F16C rounds to nearest even and quiets NaNs exactly as Half::fromFloat).
void toHalfF16c(const float* x, I64 n, std::uint16_t* out)
{
    I64 i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
    }
    for (; i < n; ++i)
        out[i] = Half::fromFloat(x[i]).bits;
}

/// dequant{Sym,Asym}Groups with streaming stores: a large output goes straight to memory
/// instead of being read into the cache first (what caps dequantize at about half of memcpy).
/// zp == nullptr: symmetric codes. The same single product per weight as the other paths.
void dequantGroupsStreamAvx2(const std::uint8_t* codes, I64 n, I64 g, const float* scale, const std::uint8_t* zp,
                             float* out)
{
    for (I64 s = 0, k = 0; s < n; s += g, ++k) {
        const I64 e = std::min(n, s + g);
        const float sc = scale[k];
        const std::int32_t z = zp ? zp[k] : 0;
        const auto one = [&](I64 i) {
            const std::int32_t code = zp ? static_cast<std::int32_t>(codes[i]) : static_cast<std::int8_t>(codes[i]);
            out[i] = static_cast<float>(code - z) * sc;
        };
        I64 i = s;
        for (; i < e && (reinterpret_cast<std::uintptr_t>(out + i) & 31u); ++i)
            one(i);
        const __m256 vs = _mm256_set1_ps(sc);
        const __m256i vz = _mm256_set1_epi32(z);
        for (; i + 8 <= e; i += 8) {
            const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + i));
            const __m256i c = zp ? _mm256_sub_epi32(_mm256_cvtepu8_epi32(b), vz) : _mm256_cvtepi8_epi32(b);
            _mm256_stream_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(c), vs));
        }
        for (; i < e; ++i)
            one(i);
    }
    _mm_sfence();
}

/// symParams of k groups from their absmax, 8 at a time (F16C rounds to nearest even, as
/// Half::fromFloat): scale and 1 / scale.
void symScalesF16c(const float* amax, I64 k, int qmax, float* scale, float* inv)
{
    const __m256 q = _mm256_set1_ps(static_cast<float>(qmax)), one = _mm256_set1_ps(1.0f);
    const __m256 tiny = _mm256_set1_ps(kMinHalfSubnormal), big = _mm256_set1_ps(kMaxHalf), zero = _mm256_setzero_ps();
    I64 i = 0;
    for (; i + 8 <= k; i += 8) {
        const __m256 a = _mm256_loadu_ps(amax + i);
        __m256 s = _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_div_ps(a, q), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        s = _mm256_blendv_ps(s, tiny, _mm256_cmp_ps(s, zero, _CMP_EQ_OQ));
        s = _mm256_blendv_ps(big, s, _mm256_cmp_ps(s, big, _CMP_LE_OQ)); // Inf -> 65504
        s = _mm256_blendv_ps(one, s, _mm256_cmp_ps(a, zero, _CMP_GT_OQ)); // nothing but zeros -> 1
        _mm256_storeu_ps(scale + i, s);
        _mm256_storeu_ps(inv + i, _mm256_div_ps(one, s));
    }
    for (; i < k; ++i) {
        const Params p = symParams(amax[i], qmax);
        scale[i] = p.scale;
        inv[i] = p.inv;
    }
}

/// asymParams of k groups from their ranges lo <= 0 <= hi, 8 at a time: scale, 1 / scale and
/// the zero point (as a float).
void asymScalesF16c(const float* lo, const float* hi, I64 k, int levels, float* scale, float* inv, float* zp)
{
    const __m256 L = _mm256_set1_ps(static_cast<float>(levels)), one = _mm256_set1_ps(1.0f);
    const __m256 tiny = _mm256_set1_ps(kMinHalfSubnormal), big = _mm256_set1_ps(kMaxHalf), zero = _mm256_setzero_ps();
    const __m256 sign = _mm256_set1_ps(-0.0f);
    I64 i = 0;
    for (; i + 8 <= k; i += 8) {
        const __m256 l = _mm256_loadu_ps(lo + i);
        const __m256 range = _mm256_sub_ps(_mm256_loadu_ps(hi + i), l);
        const __m256 valid = _mm256_cmp_ps(range, zero, _CMP_GT_OQ);
        __m256 s = _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_div_ps(range, L), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        s = _mm256_blendv_ps(s, tiny, _mm256_cmp_ps(s, zero, _CMP_EQ_OQ));
        s = _mm256_blendv_ps(big, s, _mm256_cmp_ps(s, big, _CMP_LE_OQ));
        s = _mm256_blendv_ps(one, s, valid);
        const __m256 iv = _mm256_div_ps(one, s);
        // std::clamp(nearbyint(-lo * inv), 0, levels): t < 0 ? 0 : (levels < t ? levels : t)
        __m256 t = _mm256_round_ps(_mm256_mul_ps(_mm256_xor_ps(l, sign), iv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        t = _mm256_blendv_ps(t, zero, _mm256_cmp_ps(t, zero, _CMP_LT_OQ));
        t = _mm256_blendv_ps(t, L, _mm256_cmp_ps(L, t, _CMP_LT_OQ));
        _mm256_storeu_ps(scale + i, s);
        _mm256_storeu_ps(inv + i, iv);
        _mm256_storeu_ps(zp + i, _mm256_and_ps(t, valid));
    }
    for (; i < k; ++i) {
        const Params p = asymParams(lo[i], hi[i], levels);
        scale[i] = p.scale;
        inv[i] = p.inv;
        zp[i] = p.zp;
    }
}
#pragma GCC pop_options
#endif

bool hasAvx2F16c()
{
#if LEGER_QUANT_X86
    static const bool yes = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
    }();
    return yes && ops::convk::isa() != ops::convk::Isa::Baseline;
#else
    return false;
#endif
}

/// Outputs at least this large are written with streaming stores (they do not fit the caches).
constexpr I64 kStreamBytes = I64{8} << 20;

void toHalf(const float* x, I64 n, std::uint16_t* out)
{
#if LEGER_QUANT_X86
    if (hasAvx2F16c()) {
        toHalfF16c(x, n, out);
        return;
    }
#endif
    for (I64 i = 0; i < n; ++i)
        out[i] = Half::fromFloat(x[i]).bits;
}



/// e = w where kept, else 0 (for the float formats NaN/Inf stay); returns the kept NaN/Inf count
/// when zeroNonFinite, which also zeroes them.
I64 effective(const float* w, I64 first, I64 n, std::span<const std::uint64_t> keep, bool zeroNonFinite, float* e)
{
    I64 bad = 0;
    for (I64 i = 0; i < n; ++i) {
        const float v = w[i];
        const bool k = keptBit(keep, first + i);
        const bool finite = std::isfinite(v);
        bad += k && !finite;
        e[i] = k && (finite || !zeroNonFinite) ? v : 0.0f;
    }
    return bad;
}

/// Dequantizes segment seg (a row, or the whole matrix for Tensor) of Int weights c into out.
void dequantSegment(const CompressedWeight& c, I64 seg, I64 segLen, float* out, bool stream)
{
    const I64 G = c.perTensor() ? segLen : std::min<I64>(c.groupSize, c.cols);
    const I64 perSeg = (segLen + G - 1) / G, first = seg * segLen;
    const std::uint8_t* codes = c.codes.data() + first;
    const float* scales = c.scales.data() + seg * perSeg;
    const std::uint8_t* zp = c.setting.symmetric ? nullptr : c.zeroPoints.data() + seg * perSeg;
#if LEGER_QUANT_X86
    // Short groups off a 32-byte boundary would spend their time on the unaligned heads.
    if (stream && hasAvx2F16c() && (G >= 256 || !(reinterpret_cast<std::uintptr_t>(out) & 31u))) {
        dequantGroupsStreamAvx2(codes, segLen, G, scales, zp, out);
        return;
    }
#else
    (void)stream;
#endif
    if (zp)
        dequantAsymGroups(codes, segLen, G, scales, zp, out);
    else
        dequantSymGroups(codes, segLen, G, scales, out);
}

} // namespace

float Quantizer::fp16Round(float x) { return Half::fromFloat(x).toFloat(); }

std::int64_t Quantizer::groupSizeFor(const LayerSetting& s, std::int64_t rows, std::int64_t cols)
{
    switch (s.granularity) {
    case Granularity::Tensor: return rows * cols;
    case Granularity::Channel: return cols;
    case Granularity::Group: return s.groupSize;
    }
    return cols;
}

namespace {

GgmlType ggmlOf(WeightFormat f) { return static_cast<GgmlType>(ggmlTypeNumber(f)); }

/// Block formats: ggml's quantizer row by row (NaN/Inf quantized as 0 and counted), and each
/// row dequantized while it is in cache when asked.
void quantizeBlockRows(const float* w, CompressedWeight& c, float* dequantized)
{
    const GgmlType type = ggmlOf(c.setting.format);
    const std::int64_t rowBytes = c.cols / blockWeights(c.setting.format) * blockBytes(c.setting.format);
    std::vector<float> clean;
    for (std::int64_t r = 0; r < c.rows; ++r) {
        const float* row = w + r * c.cols;
        const std::int64_t bad = countNonFinite(row, c.cols);
        if (bad > 0) {
            clean.assign(row, row + c.cols);
            for (float& v : clean)
                v = std::isfinite(v) ? v : 0.0f;
            row = clean.data();
            c.nonFinite += bad;
        }
        std::byte* out = c.blocks.data() + r * rowBytes;
        quantizeGgmlRow(type, row, c.cols, out);
        if (dequantized)
            dequantizeGgmlRow(type, out, c.cols, dequantized + r * c.cols);
    }
}

void dequantizeBlockRows(const CompressedWeight& c, float* out)
{
    const GgmlType type = ggmlOf(c.setting.format);
    const std::int64_t rowBytes = c.cols / blockWeights(c.setting.format) * blockBytes(c.setting.format);
    for (std::int64_t r = 0; r < c.rows; ++r)
        dequantizeGgmlRow(type, c.blocks.data() + r * rowBytes, c.cols, out + r * c.cols);
}

} // namespace

// ---- reference -----------------------------------------------------------------------------------

CompressedWeight Quantizer::quantizeReference(const float* w, std::int64_t rows, std::int64_t cols,
                                              std::span<const std::uint64_t> keep, const LayerSetting& s)
{
    CompressedWeight c = makeHeader(rows, cols, keep, s);
    const I64 n = rows * cols;
    for (I64 i = 0; i < n; ++i)
        c.nonFinite += keptBit(keep, i) && !std::isfinite(w[i]);

    if (isBlockFormat(s.format)) { // ggml's reference quantizer is the reference
        c.nonFinite = 0;
        quantizeBlockRows(w, c, nullptr);
        return c;
    }
    if (s.format == WeightFormat::Float32) {
        c.values.resize(static_cast<std::size_t>(n));
        for (I64 i = 0; i < n; ++i)
            c.values[static_cast<std::size_t>(i)] = keptBit(keep, i) ? w[i] : 0.0f;
        return c;
    }
    if (s.format == WeightFormat::Float16 || s.format == WeightFormat::BFloat16) {
        c.halves.resize(static_cast<std::size_t>(n));
        for (I64 i = 0; i < n; ++i) {
            const float v = keptBit(keep, i) ? w[i] : 0.0f;
            c.halves[static_cast<std::size_t>(i)] =
                s.format == WeightFormat::Float16 ? Half::fromFloat(v).bits : BFloat16::fromFloat(v).bits;
        }
        return c;
    }

    const bool sym = s.symmetric;
    const int qmax = (1 << (s.bits - 1)) - 1, levels = (1 << s.bits) - 1;
    const I64 scales = n == 0 ? 0 : c.scaleCount();
    c.codes.assign(static_cast<std::size_t>(n), 0);
    c.scales.assign(static_cast<std::size_t>(scales), 1.0f);
    if (!sym)
        c.zeroPoints.assign(static_cast<std::size_t>(scales), 0);
    for (I64 k = 0; k < scales; ++k) {
        const std::vector<I64> idx = ref::groupIndices(c, k);
        std::vector<float> e;
        for (I64 i : idx)
            e.push_back(keptBit(keep, i) && std::isfinite(w[i]) ? w[i] : 0.0f);
        float absmax = 0.0f, lo = 0.0f, hi = 0.0f;
        for (float v : e) {
            absmax = std::max(absmax, std::fabs(v));
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
        const auto paramsAt = [&](float ratio) {
            return sym ? symParams(absmax * ratio, qmax) : asymParams(lo * ratio, hi * ratio, levels);
        };
        Params p = paramsAt(1.0f);
        if (s.clip == Clipping::Mse) {
            double best = std::numeric_limits<double>::infinity();
            for (int step = 0; step < kMseSteps; ++step) {
                const Params q = paramsAt(mseRatio(step));
                const double err = ref::sqError(e, q, sym, qmax, levels);
                if (err < best) {
                    best = err;
                    p = q;
                }
            }
        }
        c.scales[static_cast<std::size_t>(k)] = p.scale;
        if (!sym)
            c.zeroPoints[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(p.zp);
        for (std::size_t j = 0; j < idx.size(); ++j) {
            const int code = ref::quantOne(e[j], p, sym, qmax, levels);
            c.codes[static_cast<std::size_t>(idx[j])] =
                sym ? static_cast<std::uint8_t>(static_cast<std::int8_t>(code)) : static_cast<std::uint8_t>(code);
        }
    }
    return c;
}

void Quantizer::dequantizeReference(const CompressedWeight& c, float* out)
{
    const I64 n = c.rows * c.cols;
    const LayerSetting& s = c.setting;
    if (isBlockFormat(s.format)) {
        dequantizeBlockRows(c, out);
        return;
    }
    for (I64 i = 0; i < n; ++i) {
        const std::size_t u = static_cast<std::size_t>(i);
        float v = 0.0f;
        switch (s.format) {
        case WeightFormat::Float32: v = c.values[u]; break;
        case WeightFormat::Float16: v = Half{c.halves[u]}.toFloat(); break;
        case WeightFormat::BFloat16: v = BFloat16{c.halves[u]}.toFloat(); break;
        case WeightFormat::Int: {
            const std::size_t k = static_cast<std::size_t>(c.scaleIndex(i / c.cols, i % c.cols));
            const int code = s.symmetric ? static_cast<std::int8_t>(c.codes[u]) : static_cast<int>(c.codes[u]);
            const int zp = s.symmetric ? 0 : c.zeroPoints[k];
            v = static_cast<float>(code - zp) * c.scales[k];
            break;
        }
        default: break; // block formats: above
        }
        out[i] = c.kept(i) ? v : 0.0f;
    }
}

// ---- fast ----------------------------------------------------------------------------------------

CompressedWeight Quantizer::quantize(const float* w, std::int64_t rows, std::int64_t cols,
                                     std::span<const std::uint64_t> keep, const LayerSetting& s)
{
    CompressedWeight c;
    quantizeInto(w, rows, cols, keep, s, c);
    return c;
}

void Quantizer::quantizeInto(const float* w, std::int64_t rows, std::int64_t cols, std::span<const std::uint64_t> keep,
                             const LayerSetting& s, CompressedWeight& c, float* dequantized)
{
    setHeader(c, rows, cols, keep, s);
    keep = c.keep;
    const I64 n = rows * cols;
    if (n == 0)
        return;
    const std::size_t un = static_cast<std::size_t>(n);

    if (isBlockFormat(s.format)) {
        quantizeBlockRows(w, c, dequantized);
        return;
    }
    if (s.format != WeightFormat::Int) {
        const float* src = w;
        std::vector<float> e;
        if (!keep.empty()) {
            e.resize(un);
            c.nonFinite = effective(w, 0, n, keep, false, e.data());
            src = e.data();
        } else {
            c.nonFinite = countNonFinite(w, n);
        }
        if (s.format == WeightFormat::Float32) {
            c.values.assign(src, src + n);
        } else {
            if (s.format == WeightFormat::Float16)
                toHalf(src, n, c.halves.data());
            else
                toBFloat(src, n, c.halves.data());
        }
        if (dequantized)
            dequantize(c, dequantized);
        return;
    }

    const bool sym = s.symmetric, mse = s.clip == Clipping::Mse;
    const int qmax = (1 << (s.bits - 1)) - 1, levels = (1 << s.bits) - 1;
    // Segments: the whole matrix (Tensor) or one row; G weights per scale within a segment.
    const bool tensor = c.perTensor();
    const I64 segLen = tensor ? n : cols, segments = tensor ? 1 : rows;
    const I64 G = tensor ? n : std::min<I64>(c.groupSize, cols);
    const I64 perSeg = (segLen + G - 1) / G;
    c.scales.resize(static_cast<std::size_t>(perSeg * segments));
    if (!sym)
        c.zeroPoints.resize(c.scales.size());
    else
        c.zeroPoints.clear();

    std::vector<float> e, lo(static_cast<std::size_t>(perSeg)), hi(lo), inv(lo), qlo(lo), qhi(lo);
    std::vector<std::int32_t> add(static_cast<std::size_t>(perSeg), 0);
    std::vector<float> zpf(static_cast<std::size_t>(perSeg));
    for (I64 seg = 0; seg < segments; ++seg) {
        const I64 first = seg * segLen;
        const float* x = w + first;
        I64 bad = sym ? absmaxGroups(x, segLen, G, hi.data()) : minmaxGroups(x, segLen, G, lo.data(), hi.data());
        if (!keep.empty() || bad > 0) {
            e.resize(static_cast<std::size_t>(segLen));
            bad = effective(x, first, segLen, keep, true, e.data());
            x = e.data();
            if (sym)
                absmaxGroups(x, segLen, G, hi.data());
            else
                minmaxGroups(x, segLen, G, lo.data(), hi.data());
        }
        c.nonFinite += bad;

        float* scales = c.scales.data() + seg * perSeg;
#if LEGER_QUANT_X86
        if (!mse && hasAvx2F16c()) { // many short groups per row: their scales 8 at a time
            if (sym) {
                symScalesF16c(hi.data(), perSeg, qmax, scales, inv.data());
                std::fill(qlo.begin(), qlo.end(), static_cast<float>(-qmax));
                std::fill(qhi.begin(), qhi.end(), static_cast<float>(qmax));
            } else {
                asymScalesF16c(lo.data(), hi.data(), perSeg, levels, scales, inv.data(), zpf.data());
                for (std::size_t u = 0; u < static_cast<std::size_t>(perSeg); ++u) {
                    qlo[u] = -zpf[u];
                    qhi[u] = static_cast<float>(levels) - zpf[u];
                    add[u] = static_cast<std::int32_t>(zpf[u]);
                    c.zeroPoints[static_cast<std::size_t>(seg * perSeg) + u] = static_cast<std::uint8_t>(zpf[u]);
                }
            }
            quantGroups(x, segLen, G, inv.data(), qlo.data(), qhi.data(), add.data(), c.codes.data() + first);
            if (dequantized)
                dequantSegment(c, seg, segLen, dequantized + first, n * 4 >= kStreamBytes);
            continue;
        }
#endif
        for (I64 k = 0; k < perSeg; ++k) {
            const std::size_t u = static_cast<std::size_t>(k);
            const auto paramsAt = [&](float ratio) {
                return sym ? symParams(hi[u] * ratio, qmax) : asymParams(lo[u] * ratio, hi[u] * ratio, levels);
            };
            Params p = paramsAt(1.0f);
#if LEGER_QUANT_X86
            if (mse && hasAvx2F16c()) { // the 51 trial scales 8 at a time
                const I64 g0 = k * G, len = std::min(segLen, g0 + G) - g0;
                float tlo[kMseSteps], thi[kMseSteps], sc[kMseSteps], iv[kMseSteps], tz[kMseSteps] = {};
                for (int step = 0; step < kMseSteps; ++step) {
                    tlo[step] = lo[u] * mseRatio(step);
                    thi[step] = hi[u] * mseRatio(step);
                }
                if (sym)
                    symScalesF16c(thi, kMseSteps, qmax, sc, iv);
                else
                    asymScalesF16c(tlo, thi, kMseSteps, levels, sc, iv, tz);
                double best = std::numeric_limits<double>::infinity();
                for (int step = 0; step < kMseSteps; ++step) {
                    const float l = sym ? static_cast<float>(-qmax) : -tz[step];
                    const float h = sym ? static_cast<float>(qmax) : static_cast<float>(levels) - tz[step];
                    const double err = sqErrorGroup(x + g0, len, iv[step], sc[step], l, h);
                    if (err < best) {
                        best = err;
                        p = Params{sc[step], iv[step], tz[step]};
                    }
                }
            } else
#endif
            if (mse) {
                const I64 g0 = k * G, len = std::min(segLen, g0 + G) - g0;
                double best = std::numeric_limits<double>::infinity();
                for (int step = 0; step < kMseSteps; ++step) {
                    const Params q = paramsAt(mseRatio(step));
                    const float l = sym ? static_cast<float>(-qmax) : -q.zp;
                    const float h = sym ? static_cast<float>(qmax) : static_cast<float>(levels) - q.zp;
                    const double err = sqErrorGroup(x + g0, len, q.inv, q.scale, l, h);
                    if (err < best) {
                        best = err;
                        p = q;
                    }
                }
            }
            scales[k] = p.scale;
            inv[u] = p.inv;
            qlo[u] = sym ? static_cast<float>(-qmax) : -p.zp;
            qhi[u] = sym ? static_cast<float>(qmax) : static_cast<float>(levels) - p.zp;
            add[u] = static_cast<std::int32_t>(p.zp);
            if (!sym)
                c.zeroPoints[static_cast<std::size_t>(seg * perSeg + k)] = static_cast<std::uint8_t>(p.zp);
        }
        quantGroups(x, segLen, G, inv.data(), qlo.data(), qhi.data(), add.data(), c.codes.data() + first);
        if (dequantized) // while the segment's codes are still in cache
            dequantSegment(c, seg, segLen, dequantized + first, n * 4 >= kStreamBytes);
    }
}

void Quantizer::dequantize(const CompressedWeight& c, float* out)
{
    const I64 n = c.rows * c.cols;
    if (n == 0)
        return;
    switch (c.setting.format) {
    case WeightFormat::Float32: std::copy(c.values.begin(), c.values.end(), out); return;
    case WeightFormat::Float16:
        for (I64 i = 0; i < n; ++i)
            out[i] = Half{c.halves[static_cast<std::size_t>(i)]}.toFloat();
        return;
    case WeightFormat::BFloat16:
        for (I64 i = 0; i < n; ++i)
            out[i] = BFloat16{c.halves[static_cast<std::size_t>(i)]}.toFloat();
        return;
    case WeightFormat::Int: break;
    default: dequantizeBlockRows(c, out); return;
    }
    const bool tensor = c.perTensor();
    const I64 segLen = tensor ? n : c.cols, segments = tensor ? 1 : c.rows;
    const bool stream = n * 4 >= kStreamBytes;
    for (I64 seg = 0; seg < segments; ++seg)
        dequantSegment(c, seg, segLen, out + seg * segLen, stream);
}

std::vector<float> Quantizer::dequantize(const CompressedWeight& c)
{
    std::vector<float> out(static_cast<std::size_t>(c.rows * c.cols));
    dequantize(c, out.data());
    return out;
}

} // namespace leger
