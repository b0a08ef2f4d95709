// ggml's reference quantizers (ggml-quants.c, quantize_row_<type>_ref), rewritten block by block.
// The version followed is ggml 0.25.1 (commit 0ad4a86, in node-llama-cpp 3.22.1): a sub-block
// whose largest magnitude is below GROUP_MAX_EPS = 1e-15 is all zero (Q3_K, Q6_K), Q6_K fits with
// make_qx_quants' rmse_type 1, Q4_K/Q5_K weight their fits by rms + |x|. Older ggml differs there.
//
// Bit-exactness with ggml's C code needs its float arithmetic in its order: this file is compiled
// with -ffp-contract=off (no a*b+c fused into one rounding), each expression below groups and
// converts as the C one does (C evaluates `w*x*l` as (w*x)*float(l), an int meets a float as a
// float), and ggml's integer conversions are spelled out:
//  - nearestInt: ggml's nearest_int, round half to EVEN through the float adder (not std::round);
//  - truncToInt8: C's `(int8_t)f` as ggml's x86-64 build does it (cvttss2si to 32 bits, keep the
//    low byte; NaN and values outside int32 give INT32_MIN, so 0), which matters only when a
//    scale's inverse overflows (a block of subnormal floats);
//  - int -> uint8_t / int8_t stores keep the low byte, as C does.
// Each block is filled as one of the structs below (no padding: their sizes are asserted) and
// copied out with memcpy. The K-quant fits compute their per-weight terms in one loop and add them
// up in another, in ggml's order: the same roundings as ggml's single loops, but vectorizable.

#include "compress/GgmlQuants.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "model/Half.h"
#include "util/Error.h"

namespace leger {

namespace {

// ---- block layouts (ggml-common.h); halves are IEEE binary16 bits, little-endian ------------

// x = d * q, q in -127..127
struct BlockQ8_0 {
    std::uint16_t d;
    std::int8_t qs[32];
};
// x = d * (q - 8); qs[j]: weight j in the low nibble, weight j + 16 in the high one
struct BlockQ4_0 {
    std::uint16_t d;
    std::uint8_t qs[16];
};
// x = d * q + m
struct BlockQ4_1 {
    std::uint16_t d, m;
    std::uint8_t qs[16];
};
// x = d * (q - 16); the fifth bit of weight j is bit j of qh (a little-endian u32)
struct BlockQ5_0 {
    std::uint16_t d;
    std::uint8_t qh[4];
    std::uint8_t qs[16];
};
// x = d * q + m
struct BlockQ5_1 {
    std::uint16_t d, m;
    std::uint8_t qh[4];
    std::uint8_t qs[16];
};
// 16 sub-blocks of 16: x = d * sc - dmin * m with 4-bit sc, m (scales[j] = sc | m << 4); 2-bit q
struct BlockQ2_K {
    std::uint8_t scales[16];
    std::uint8_t qs[64];
    std::uint16_t d, dmin;
};
// 16 sub-blocks of 16: x = d * (sc - 32) * (q - 4) with 6-bit sc and a 3-bit q (2 bits in qs,
// the third in hmask)
struct BlockQ3_K {
    std::uint8_t hmask[32];
    std::uint8_t qs[64];
    std::uint8_t scales[12];
    std::uint16_t d;
};
// 8 sub-blocks of 32: x = d * sc * q - dmin * m, 6-bit sc and m packed in 12 bytes, 4-bit q
struct BlockQ4_K {
    std::uint16_t d, dmin;
    std::uint8_t scales[12];
    std::uint8_t qs[128];
};
// as Q4_K with a fifth bit per weight in qh
struct BlockQ5_K {
    std::uint16_t d, dmin;
    std::uint8_t scales[12];
    std::uint8_t qh[32];
    std::uint8_t qs[128];
};
// 16 sub-blocks of 16: x = d * sc * (q - 32), int8 sc, 6-bit q (4 bits in ql, 2 in qh)
struct BlockQ6_K {
    std::uint8_t ql[128];
    std::uint8_t qh[64];
    std::int8_t scales[16];
    std::uint16_t d;
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
              sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176 &&
              sizeof(BlockQ6_K) == 210);

constexpr int kSuper = 256; // weights per K-quant super-block (QK_K)

// ggml's GROUP_MAX_EPS: a group whose largest magnitude is below this is all zeros.
constexpr float kGroupMaxEps = 1e-15f;

// ---- scalar helpers ---------------------------------------------------------------------------

/// GGML_FP32_TO_FP16: round to nearest even, overflow to Inf; a NaN becomes the quiet NaN 0x7E00
/// with the sign kept (ggml does not carry the payload).
std::uint16_t toHalf(float x)
{
    if (std::isnan(x))
        return static_cast<std::uint16_t>((std::bit_cast<std::uint32_t>(x) >> 16 & 0x8000u) | 0x7E00u);
    return Half::fromFloat(x).bits;
}

float fromHalf(std::uint16_t bits) { return Half{bits}.toFloat(); }

/// ggml's nearest_int: adding 1.5 * 2^23 leaves round(v) (half to even, by the FPU) in the low
/// 23 mantissa bits, offset by 2^22. Exact for |v| <= 2^22 - 1; beyond, the same garbage as ggml.
int nearestInt(float v)
{
    const auto bits = std::bit_cast<std::int32_t>(v + 12582912.0f);
    return (bits & 0x007fffff) - 0x00400000;
}

/// ggml's MAX(lo, MIN(hi, v)), written so that it compiles to conditional moves.
int clampInt(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/// C's `(int8_t)v` as compiled for x86-64: truncate toward zero to 32 bits, keep the low byte.
std::int8_t truncToInt8(float v)
{
    const std::int32_t i = v >= -2147483648.0f && v < 2147483648.0f ? static_cast<std::int32_t>(v)
                                                                      : std::numeric_limits<std::int32_t>::min();
    return static_cast<std::int8_t>(i);
}

/// The weight of largest magnitude, with its sign (the first of equal magnitudes), and that
/// magnitude.
void signedAbsMax(const float* x, int n, float& max, float& amax)
{
    max = 0.0f;
    amax = 0.0f;
    for (int i = 0; i < n; ++i) {
        const float a = std::fabs(x[i]);
        if (a > amax) {
            amax = a;
            max = x[i];
        }
    }
}

// ---- 32-weight blocks -------------------------------------------------------------------------

// Symmetric formats scale by the weight of largest magnitude m, with its sign: d = m / -8 (4 bits)
// or m / -16 (5 bits), so x / d lies in [-8, 8] with m at exactly -8, and the code is x / d + 8,
// rounded half up by truncating x / d + 8.5 and clamped to 15 (only the far end, +8, needs it).

void quantizeQ4_0(const float* x, BlockQ4_0& b)
{
    float max, amax;
    signedAbsMax(x, 32, max, amax);
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b.d = toHalf(d);
    for (int j = 0; j < 16; ++j) {
        const auto lo = static_cast<std::uint8_t>(std::min(15, int{truncToInt8(x[j] * id + 8.5f)}));
        const auto hi = static_cast<std::uint8_t>(std::min(15, int{truncToInt8(x[j + 16] * id + 8.5f)}));
        b.qs[j] = static_cast<std::uint8_t>(lo | hi << 4);
    }
}

void quantizeQ5_0(const float* x, BlockQ5_0& b)
{
    float max, amax;
    signedAbsMax(x, 32, max, amax);
    const float d = max / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b.d = toHalf(d);
    std::uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
        const auto lo = static_cast<std::uint8_t>(std::min(31, int{truncToInt8(x[j] * id + 16.5f)}));
        const auto hi = static_cast<std::uint8_t>(std::min(31, int{truncToInt8(x[j + 16] * id + 16.5f)}));
        b.qs[j] = static_cast<std::uint8_t>((lo & 0x0F) | (hi & 0x0F) << 4);
        qh |= static_cast<std::uint32_t>(lo >> 4 & 1) << j;
        qh |= static_cast<std::uint32_t>(hi >> 4 & 1) << (j + 16);
    }
    for (int k = 0; k < 4; ++k)
        b.qh[k] = static_cast<std::uint8_t>(qh >> (8 * k));
}

// Affine formats span [min, max] of the block: d = (max - min) / (2^bits - 1), q = round((x -
// min) / d) by truncating + 0.5, x = d * q + m with m = min stored as a half.

/// The block's smallest and largest weight.
void minMax(const float* x, int n, float& min, float& max)
{
    min = std::numeric_limits<float>::max();
    max = -std::numeric_limits<float>::max();
    for (int i = 0; i < n; ++i) {
        if (x[i] < min)
            min = x[i];
        if (x[i] > max)
            max = x[i];
    }
}

void quantizeQ4_1(const float* x, BlockQ4_1& b)
{
    float min, max;
    minMax(x, 32, min, max);
    const float d = (max - min) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b.d = toHalf(d);
    b.m = toHalf(min);
    for (int j = 0; j < 16; ++j) {
        const auto lo = static_cast<std::uint8_t>(std::min(15, int{truncToInt8((x[j] - min) * id + 0.5f)}));
        const auto hi = static_cast<std::uint8_t>(std::min(15, int{truncToInt8((x[j + 16] - min) * id + 0.5f)}));
        b.qs[j] = static_cast<std::uint8_t>(lo | hi << 4);
    }
}

void quantizeQ5_1(const float* x, BlockQ5_1& b)
{
    float min, max;
    minMax(x, 32, min, max);
    const float d = (max - min) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b.d = toHalf(d);
    b.m = toHalf(min);
    std::uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
        // No clamp to 31 here (ggml has none): (x - min) / d <= 31 up to rounding.
        const auto lo = static_cast<std::uint8_t>(truncToInt8((x[j] - min) * id + 0.5f));
        const auto hi = static_cast<std::uint8_t>(truncToInt8((x[j + 16] - min) * id + 0.5f));
        b.qs[j] = static_cast<std::uint8_t>((lo & 0x0F) | (hi & 0x0F) << 4);
        qh |= static_cast<std::uint32_t>(lo >> 4 & 1) << j;
        qh |= static_cast<std::uint32_t>(hi >> 4 & 1) << (j + 16);
    }
    for (int k = 0; k < 4; ++k)
        b.qh[k] = static_cast<std::uint8_t>(qh >> (8 * k));
}

// Q8_0: d = max|x| / 127, q = round(x / d) half away from zero (C's roundf).
void quantizeQ8_0(const float* x, BlockQ8_0& b)
{
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) {
        const float a = std::fabs(x[j]);
        amax = amax > a ? amax : a; // ggml's MAX(amax, a): a NaN propagates
    }
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b.d = toHalf(d);
    for (int j = 0; j < 32; ++j)
        b.qs[j] = truncToInt8(std::round(x[j] * id));
}

// ---- K-quant sub-block fits --------------------------------------------------------------------

/// make_qx_quants with rmse_type 1 and no importance weights (Q6_K): a symmetric scale for n
/// weights with codes l in -nmax..nmax-1 (stored as l + nmax in L). The codes of the inverse
/// scale -nmax / m (m the signed extreme) are the first candidate, then those of -(nmax + 0.1 is)
/// / m for is = +-1..+-9. For fixed codes the least-squares scale weighted by w = x^2 is
/// sum(w x l) / sum(w l^2), and its error is smallest where sum(w x l)^2 / sum(w l^2) is largest:
/// the first candidate that beats all before it strictly wins. Returns the scale.
template <int n, int nmax> float fitSymmetric(const float* x, std::int8_t* L)
{
    float max, amax;
    signedAbsMax(x, n, max, amax);
    if (amax < kGroupMaxEps) {
        std::fill(L, L + n, std::int8_t{0});
        return 0.0f;
    }
    // w = x^2 and w x, once; then for one inverse scale the codes (as l + nmax), the terms
    // (w x) l and (w l) l (rounded as ggml's w*x[i]*l and w*l*l), and their sums.
    float w[n], wx[n];
    for (int i = 0; i < n; ++i) {
        w[i] = x[i] * x[i];
        wx[i] = w[i] * x[i];
    }
    const auto fit = [&](float iscale, std::int8_t* codes, float& sumlx, float& suml2) {
        float tlx[n], tl2[n];
        for (int i = 0; i < n; ++i) {
            const int l = clampInt(nearestInt(iscale * x[i]), -nmax, nmax - 1);
            codes[i] = static_cast<std::int8_t>(l + nmax);
            const auto lf = static_cast<float>(l);
            tlx[i] = wx[i] * lf;
            tl2[i] = w[i] * lf * lf;
        }
        sumlx = 0.0f;
        suml2 = 0.0f;
        for (int i = 0; i < n; ++i) {
            sumlx += tlx[i];
            suml2 += tl2[i];
        }
    };
    float sumlx, suml2;
    fit(static_cast<float>(-nmax) / max, L, sumlx, suml2);
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    std::int8_t codes[n];
    for (int is = -9; is <= 9; ++is) {
        if (is == 0)
            continue;
        fit(-(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max, codes, sumlx, suml2);
        if (suml2 > 0.0f && sumlx * sumlx > best * suml2) {
            std::copy(codes, codes + n, L);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/// make_q3_quants with do_rmse (Q3_K): symmetric codes l in -nmax..nmax-1 (stored as l + nmax),
/// first from the scale that puts the signed extreme on -nmax, then improved one weight at a
/// time (at most 5 sweeps): each weight's code is moved to the one that is best with the other
/// codes fixed, round(x * sum'(w l^2) / sum'(w x l)) where ' leaves the weight out, and kept when
/// it raises sum(w x l)^2 / sum(w l^2) (w = x^2). Returns the least-squares scale of the codes.
template <int n, int nmax> float fitQ3(const float* x, std::int8_t* L)
{
    float max, amax;
    signedAbsMax(x, n, max, amax);
    if (amax < kGroupMaxEps) {
        std::fill(L, L + n, std::int8_t{0});
        return 0.0f;
    }
    const float iscale = static_cast<float>(-nmax) / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
        const int l = clampInt(nearestInt(iscale * x[i]), -nmax, nmax - 1);
        L[i] = static_cast<std::int8_t>(l);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * static_cast<float>(l);
        suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    for (int sweep = 0; sweep < 5; ++sweep) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            const auto li = static_cast<float>(L[i]);
            float slx = sumlx - w * x[i] * li;
            if (!(slx > 0.0f))
                continue;
            float sl2 = suml2 - w * li * li;
            const int l = clampInt(nearestInt(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (l == L[i])
                continue;
            slx += w * x[i] * static_cast<float>(l);
            sl2 += w * static_cast<float>(l) * static_cast<float>(l);
            if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = static_cast<std::int8_t>(l);
                sumlx = slx;
                suml2 = sl2;
                ++changed;
            }
        }
        if (changed == 0)
            break;
    }
    for (int i = 0; i < n; ++i)
        L[i] = static_cast<std::int8_t>(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/// make_qkx2_quants (Q2_K, Q4_K, Q5_K): x ~ scale * l - minOut with codes l in 0..nmax, for n
/// weights with importance weights w. The range is [min(0, min x), max x]; the codes of the
/// plain fit nmax / (max - min) are the first candidate, then those of the nstep + 1 inverse
/// scales (nmax + rmin + rdelta * is) / (max - min), is = 0..nstep, where min is the offset of the
/// best candidate so far (ggml's order, not the range's). For each candidate's codes the weighted
/// least-squares scale and offset solve the 2x2 normal equations
///   [sum w l^2  sum w l] [scale]   [sum w l x]
///   [sum w l    sum w  ] [min  ] = [sum w x  ]      (D = sum w * sum w l^2 - (sum w l)^2)
/// (an offset above 0 is clamped to 0, the scale refitted alone), and the candidate with the least
/// error sum w |e| (absError) or sum w e^2 wins. Returns the scale; minOut = -offset >= 0.
template <int n, int nmax, bool absError>
float fitAffine(const float* x, const float* w, std::uint8_t* L, float& minOut, float rmin, float rdelta, int nstep)
{
    float min = x[0], max = x[0];
    float sumW = w[0];
    float sumX = sumW * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min)
            min = x[i];
        if (x[i] > max)
            max = x[i];
        sumW += w[i];
        sumX += w[i] * x[i];
    }
    if (min > 0.0f)
        min = 0.0f;
    if (max == min) {
        std::fill(L, L + n, std::uint8_t{0});
        minOut = -min;
        return 0.0f;
    }
    const auto error = [&](float scale, float offset, const std::uint8_t* codes) {
        float terms[n];
        for (int i = 0; i < n; ++i) {
            const float diff = scale * static_cast<float>(codes[i]) + offset - x[i];
            terms[i] = w[i] * (absError ? std::fabs(diff) : diff * diff);
        }
        float e = 0.0f;
        for (int i = 0; i < n; ++i)
            e += terms[i];
        return e;
    };
    // x - min: ggml's later candidates start from the offset of the best one so far.
    float shifted[n];
    const auto shift = [&] {
        for (int i = 0; i < n; ++i)
            shifted[i] = x[i] - min;
    };
    shift();
    float iscale = static_cast<float>(nmax) / (max - min);
    float scale = 1.0f / iscale;
    for (int i = 0; i < n; ++i)
        L[i] = static_cast<std::uint8_t>(clampInt(nearestInt(iscale * shifted[i]), 0, nmax));
    float bestError = error(scale, min, L);
    std::uint8_t codes[n];
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
        float tl[n], tl2[n], txl[n]; // w l, w l l, w l x
        for (int i = 0; i < n; ++i) {
            const int l = clampInt(nearestInt(iscale * shifted[i]), 0, nmax);
            codes[i] = static_cast<std::uint8_t>(l);
            const auto lf = static_cast<float>(l);
            tl[i] = w[i] * lf;
            tl2[i] = tl[i] * lf;
            txl[i] = tl[i] * x[i];
        }
        float sumL = 0.0f, sumL2 = 0.0f, sumXL = 0.0f;
        for (int i = 0; i < n; ++i) {
            sumL += tl[i];
            sumL2 += tl2[i];
            sumXL += txl[i];
        }
        const float D = sumW * sumL2 - sumL * sumL;
        if (!(D > 0.0f))
            continue;
        float thisScale = (sumW * sumXL - sumX * sumL) / D;
        float thisMin = (sumL2 * sumX - sumL * sumXL) / D;
        if (thisMin > 0.0f) {
            thisMin = 0.0f;
            thisScale = sumXL / sumL2;
        }
        const float e = error(thisScale, thisMin, codes);
        if (e < bestError) {
            std::copy(codes, codes + n, L);
            bestError = e;
            scale = thisScale;
            min = thisMin;
            shift();
        }
    }
    minOut = -min;
    return scale;
}

/// Packs 256 2-bit codes as Q2_K and Q3_K do: byte l of each 32-byte group holds the codes of
/// weights l, l + 32, l + 64, l + 96 of its 128, lowest bits first.
void pack2Bits(const std::uint8_t* L, std::uint8_t* qs)
{
    for (int j = 0; j < kSuper; j += 128)
        for (int l = 0; l < 32; ++l)
            qs[j / 4 + l] = static_cast<std::uint8_t>(L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 | L[j + l + 96] << 6);
}

// ---- K-quant super-blocks ----------------------------------------------------------------------

// Q2_K: 16 sub-blocks of 16 fitted by fitAffine (weights |x|, absolute error, 16 steps from
// nmax - 0.5); their scales and mins are then quantized to 4 bits against the largest of each
// (d = max scale / 15, dmin = max min / 15), and the codes recomputed with those stored scales.
void quantizeQ2_K(const float* x, BlockQ2_K& b)
{
    std::uint8_t L[kSuper];
    float weights[16];
    float scales[16], mins[16];
    float maxScale = 0.0f, maxMin = 0.0f;
    for (int j = 0; j < 16; ++j) {
        for (int l = 0; l < 16; ++l)
            weights[l] = std::fabs(x[16 * j + l]);
        scales[j] = fitAffine<16, 3, true>(x + 16 * j, weights, L + 16 * j, mins[j], -0.5f, 0.1f, 15);
        if (scales[j] > maxScale)
            maxScale = scales[j];
        if (mins[j] > maxMin)
            maxMin = mins[j];
    }
    if (maxScale > 0.0f) {
        const float iscale = 15.0f / maxScale;
        for (int j = 0; j < 16; ++j)
            b.scales[j] = static_cast<std::uint8_t>(nearestInt(iscale * scales[j]));
        b.d = toHalf(maxScale / 15.0f);
    } else {
        std::fill(b.scales, b.scales + 16, std::uint8_t{0});
        b.d = toHalf(0.0f);
    }
    if (maxMin > 0.0f) {
        const float iscale = 15.0f / maxMin;
        for (int j = 0; j < 16; ++j)
            b.scales[j] = static_cast<std::uint8_t>(b.scales[j] | static_cast<unsigned>(nearestInt(iscale * mins[j])) << 4);
        b.dmin = toHalf(maxMin / 15.0f);
    } else {
        b.dmin = toHalf(0.0f);
    }
    for (int j = 0; j < 16; ++j) {
        const float d = fromHalf(b.d) * static_cast<float>(b.scales[j] & 0x0F);
        if (d == 0.0f)
            continue; // keeps the fit's codes
        const float dm = fromHalf(b.dmin) * static_cast<float>(b.scales[j] >> 4);
        for (int i = 0; i < 16; ++i)
            L[16 * j + i] = static_cast<std::uint8_t>(clampInt(nearestInt((x[16 * j + i] + dm) / d), 0, 3));
    }
    pack2Bits(L, b.qs);
}

// Q3_K: 16 sub-blocks of 16 fitted by fitQ3 (codes -4..3); the signed scales are quantized to 6
// bits against the one of largest magnitude (which lands on -32: d = that scale / -32), and the
// codes recomputed with the stored scales. Scale j's low 4 bits are nibble j % 8 of scales[0..7]
// (low nibbles first), its high 2 bits are bits 2 * (j / 4) of scales[8 + j % 4].
void quantizeQ3_K(const float* x, BlockQ3_K& b)
{
    std::int8_t L[kSuper];
    float scales[16];
    float maxScale = 0.0f, amax = 0.0f;
    for (int j = 0; j < 16; ++j) {
        scales[j] = fitQ3<16, 4>(x + 16 * j, L + 16 * j);
        const float a = std::fabs(scales[j]);
        if (a > amax) {
            amax = a;
            maxScale = scales[j];
        }
    }
    std::fill(b.scales, b.scales + 12, std::uint8_t{0});
    if (maxScale != 0.0f) {
        const float iscale = -32.0f / maxScale;
        for (int j = 0; j < 16; ++j) {
            const auto q = static_cast<std::int8_t>(nearestInt(iscale * scales[j])); // ggml stores it in an int8_t first
            const int l = clampInt(int{q}, -32, 31) + 32;
            if (j < 8)
                b.scales[j] = static_cast<std::uint8_t>(l & 0x0F);
            else
                b.scales[j - 8] = static_cast<std::uint8_t>(b.scales[j - 8] | (l & 0x0F) << 4);
            b.scales[8 + j % 4] = static_cast<std::uint8_t>(b.scales[8 + j % 4] | (l >> 4) << (2 * (j / 4)));
        }
        b.d = toHalf(1.0f / iscale);
    } else {
        b.d = toHalf(0.0f);
    }
    for (int j = 0; j < 16; ++j) {
        const int low = j < 8 ? b.scales[j] & 0x0F : b.scales[j - 8] >> 4;
        const int sc = (low | ((b.scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32;
        const float d = fromHalf(b.d) * static_cast<float>(sc);
        if (d == 0.0f)
            continue; // keeps the fit's codes
        for (int i = 0; i < 16; ++i)
            L[16 * j + i] = static_cast<std::int8_t>(clampInt(nearestInt(x[16 * j + i] / d), -4, 3) + 4);
    }
    // Codes 0..7: the third bit of weight j goes to bit j / 32 of hmask[j % 32].
    std::fill(b.hmask, b.hmask + 32, std::uint8_t{0});
    std::uint8_t low2[kSuper];
    for (int j = 0; j < kSuper; ++j) {
        if (L[j] > 3)
            b.hmask[j % 32] = static_cast<std::uint8_t>(b.hmask[j % 32] | 1u << (j / 32));
        low2[j] = static_cast<std::uint8_t>(L[j] > 3 ? L[j] - 4 : L[j]);
    }
    pack2Bits(low2, b.qs);
}

// Q4_K and Q5_K: 8 sub-blocks of 32 fitted by fitAffine with weights av + |x| (av the sub-block's
// root mean square) and squared error; scales and mins quantized to 6 bits against the largest of
// each (d = max scale / 63, dmin = max min / 63), codes recomputed with the stored ones. Packing
// of the 6-bit pairs (scale j, min j) in 12 bytes: j < 4: scales[j] and scales[j + 4] hold them
// whole; j >= 4: their low nibbles are scales[j + 4] (scale low), their top 2 bits the top bits
// of scales[j - 4] (scale) and scales[j] (min).
template <int Bits, class Block>
void quantizeQ45_K(const float* x, Block& b, float rmin, int nstep)
{
    constexpr int nmax = (1 << Bits) - 1;
    std::uint8_t L[kSuper];
    float weights[32];
    float scales[8], mins[8];
    float maxScale = 0.0f, maxMin = 0.0f;
    for (int j = 0; j < 8; ++j) {
        const float* xs = x + 32 * j;
        float sumX2 = 0.0f;
        for (int l = 0; l < 32; ++l)
            sumX2 += xs[l] * xs[l];
        const float av = std::sqrt(sumX2 / 32);
        for (int l = 0; l < 32; ++l)
            weights[l] = av + std::fabs(xs[l]);
        scales[j] = fitAffine<32, nmax, false>(xs, weights, L + 32 * j, mins[j], rmin, 0.1f, nstep);
        if (scales[j] > maxScale)
            maxScale = scales[j];
        if (mins[j] > maxMin)
            maxMin = mins[j];
    }
    const float invScale = maxScale > 0.0f ? 63.0f / maxScale : 0.0f;
    const float invMin = maxMin > 0.0f ? 63.0f / maxMin : 0.0f;
    for (int j = 0; j < 8; ++j) {
        // ggml keeps these in uint8_t before the clamp: a negative code wraps and clamps to 63.
        const auto ls = std::min<std::uint8_t>(63, static_cast<std::uint8_t>(nearestInt(invScale * scales[j])));
        const auto lm = std::min<std::uint8_t>(63, static_cast<std::uint8_t>(nearestInt(invMin * mins[j])));
        if (j < 4) {
            b.scales[j] = ls;
            b.scales[j + 4] = lm;
        } else {
            b.scales[j + 4] = static_cast<std::uint8_t>((ls & 0x0F) | (lm & 0x0F) << 4);
            b.scales[j - 4] = static_cast<std::uint8_t>(b.scales[j - 4] | (ls >> 4) << 6);
            b.scales[j] = static_cast<std::uint8_t>(b.scales[j] | (lm >> 4) << 6);
        }
    }
    b.d = toHalf(maxScale / 63.0f);
    b.dmin = toHalf(maxMin / 63.0f);
    for (int j = 0; j < 8; ++j) {
        int sc, m;
        if (j < 4) {
            sc = b.scales[j] & 63;
            m = b.scales[j + 4] & 63;
        } else {
            sc = (b.scales[j + 4] & 0x0F) | (b.scales[j - 4] >> 6) << 4;
            m = (b.scales[j + 4] >> 4) | (b.scales[j] >> 6) << 4;
        }
        const float d = fromHalf(b.d) * static_cast<float>(sc);
        if (d == 0.0f)
            continue; // keeps the fit's codes
        const float dm = fromHalf(b.dmin) * static_cast<float>(m);
        for (int i = 0; i < 32; ++i)
            L[32 * j + i] = static_cast<std::uint8_t>(clampInt(nearestInt((x[32 * j + i] + dm) / d), 0, nmax));
    }
    // Each 64 weights: qs byte l holds weight l (low nibble) and l + 32 (high); for Q5_K the fifth
    // bits of the 64-weight group g go to bits 2g (weight l) and 2g + 1 (weight l + 32) of qh[l].
    std::uint8_t* q = b.qs;
    if constexpr (Bits == 5)
        std::fill(b.qh, b.qh + 32, std::uint8_t{0});
    for (int g = 0; g < 4; ++g, q += 32)
        for (int l = 0; l < 32; ++l) {
            int lo = L[64 * g + l], hi = L[64 * g + l + 32];
            if constexpr (Bits == 5) {
                if (lo > 15) {
                    lo -= 16;
                    b.qh[l] = static_cast<std::uint8_t>(b.qh[l] | 1u << (2 * g));
                }
                if (hi > 15) {
                    hi -= 16;
                    b.qh[l] = static_cast<std::uint8_t>(b.qh[l] | 2u << (2 * g));
                }
            }
            q[l] = static_cast<std::uint8_t>(lo | hi << 4);
        }
}

// Q6_K: 16 sub-blocks of 16 fitted by fitSymmetric (codes -32..31); the signed scales quantized to
// int8 against the one of largest magnitude (which lands on -128: d = that scale / -128), codes
// recomputed with the stored scales. A super-block whose scales are all below kGroupMaxEps is all
// zero bytes.
void quantizeQ6_K(const float* x, BlockQ6_K& b)
{
    std::int8_t L[kSuper];
    float scales[16];
    float maxScale = 0.0f, maxAbs = 0.0f;
    for (int j = 0; j < 16; ++j) {
        scales[j] = fitSymmetric<16, 32>(x + 16 * j, L + 16 * j);
        const float a = std::fabs(scales[j]);
        if (a > maxAbs) {
            maxAbs = a;
            maxScale = scales[j];
        }
    }
    if (maxAbs < kGroupMaxEps) {
        b = BlockQ6_K{};
        return;
    }
    const float iscale = -128.0f / maxScale;
    b.d = toHalf(1.0f / iscale);
    for (int j = 0; j < 16; ++j)
        b.scales[j] = static_cast<std::int8_t>(std::min(127, nearestInt(iscale * scales[j])));
    for (int j = 0; j < 16; ++j) {
        const float d = fromHalf(b.d) * static_cast<float>(b.scales[j]);
        if (d == 0.0f)
            continue; // keeps the fit's codes
        for (int i = 0; i < 16; ++i)
            L[16 * j + i] = static_cast<std::int8_t>(clampInt(nearestInt(x[16 * j + i] / d), -32, 31) + 32);
    }
    // Each 128 weights: ql[l] = low nibbles of weights l (low) and l + 64 (high), ql[l + 32] of
    // l + 32 and l + 96; qh[l] = their top 2 bits, in the order l, l + 32, l + 64, l + 96.
    std::uint8_t* ql = b.ql;
    std::uint8_t* qh = b.qh;
    for (int j = 0; j < kSuper; j += 128, ql += 64, qh += 32)
        for (int l = 0; l < 32; ++l) {
            const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
            ql[l] = static_cast<std::uint8_t>((q1 & 0x0F) | (q3 & 0x0F) << 4);
            ql[l + 32] = static_cast<std::uint8_t>((q2 & 0x0F) | (q4 & 0x0F) << 4);
            qh[l] = static_cast<std::uint8_t>(q1 >> 4 | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
        }
}

/// Quantizes every block of a row with f, each block filled in a local and copied out.
template <class Block, class F>
void eachBlock(const float* x, std::int64_t n, std::int64_t blockSize, std::byte* out, F f)
{
    for (std::int64_t i = 0; i < n; i += blockSize, out += sizeof(Block)) {
        Block b;
        f(x + i, b);
        std::memcpy(out, &b, sizeof(Block));
    }
}

const GgmlTypeTraits& traitsOf(GgmlType type)
{
    const GgmlTypeTraits* t = ggmlTypeTraits(static_cast<std::uint32_t>(type));
    if (!t)
        throw Error("ggml type " + std::to_string(static_cast<std::uint32_t>(type)) + " is not known to Leger");
    return *t;
}

} // namespace

bool ggmlCanQuantize(GgmlType type)
{
    switch (type) {
    case GgmlType::Q8_0:
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q5_0:
    case GgmlType::Q5_1:
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K: return true;
    default: return false;
    }
}

std::int64_t ggmlRowBytes(GgmlType type, std::int64_t n)
{
    const GgmlTypeTraits& t = traitsOf(type);
    if (n < 0 || n % t.blockSize != 0)
        throw Error("a row of " + std::to_string(n) + " weights cannot be stored as " + t.name + ": not a multiple of its block of " +
                    std::to_string(t.blockSize));
    return n / t.blockSize * t.blockBytes;
}

void quantizeGgmlRow(GgmlType type, const float* x, std::int64_t n, std::byte* out)
{
    ggmlRowBytes(type, n); // checks n
    switch (type) {
    case GgmlType::Q8_0: eachBlock<BlockQ8_0>(x, n, 32, out, quantizeQ8_0); break;
    case GgmlType::Q4_0: eachBlock<BlockQ4_0>(x, n, 32, out, quantizeQ4_0); break;
    case GgmlType::Q4_1: eachBlock<BlockQ4_1>(x, n, 32, out, quantizeQ4_1); break;
    case GgmlType::Q5_0: eachBlock<BlockQ5_0>(x, n, 32, out, quantizeQ5_0); break;
    case GgmlType::Q5_1: eachBlock<BlockQ5_1>(x, n, 32, out, quantizeQ5_1); break;
    case GgmlType::Q2_K: eachBlock<BlockQ2_K>(x, n, kSuper, out, quantizeQ2_K); break;
    case GgmlType::Q3_K: eachBlock<BlockQ3_K>(x, n, kSuper, out, quantizeQ3_K); break;
    // Q4_K: 21 steps from nmax - 1; Q5_K: 16 steps from nmax - 0.5 (ggml's parameters).
    case GgmlType::Q4_K:
        eachBlock<BlockQ4_K>(x, n, kSuper, out, [](const float* xb, BlockQ4_K& b) { quantizeQ45_K<4>(xb, b, -1.0f, 20); });
        break;
    case GgmlType::Q5_K:
        eachBlock<BlockQ5_K>(x, n, kSuper, out, [](const float* xb, BlockQ5_K& b) { quantizeQ45_K<5>(xb, b, -0.5f, 15); });
        break;
    case GgmlType::Q6_K: eachBlock<BlockQ6_K>(x, n, kSuper, out, quantizeQ6_K); break;
    default: throw UnsupportedError(std::string("quantizing to ggml type ") + traitsOf(type).name + " (Leger writes Q8_0, Q4_0, Q4_1, "
                                                                                             "Q5_0, Q5_1 and Q2_K..Q6_K)");
    }
}

void dequantizeGgmlRow(GgmlType type, const std::byte* in, std::int64_t n, float* out)
{
    const GgmlTypeTraits& t = traitsOf(type);
    ggmlRowBytes(type, n);
    if (!ggmlCanQuantize(type))
        throw UnsupportedError(std::string("dequantizing ggml type ") + t.name + " as a quantized row");
    if (t.blockSize == 32)
        dequantizeBlocks(type, in, n / 32, out);
    else
        dequantizeSuperBlocks(type, in, n / kSuper, out);
}

} // namespace leger
