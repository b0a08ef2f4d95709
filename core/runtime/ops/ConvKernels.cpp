// Float32 convolution kernels, compiled once per ISA (see ConvKernels.h).
//
// Activation formulas, identical to the standalone ops (ElementwiseOps' Clip, ActivationOps'
// Relu, LeakyRelu, HardSigmoid, HardSwish), NaN passing through where they let it:
//   Clip(lo, hi)   min(hi, max(lo, x))  as  t = x < lo ? lo : x;  t > hi ? hi : t
//   LeakyRelu(a)   max(x, 0) + min(x, 0) * a
//   HardSigmoid    min(1, max(0, a * x + b))   (a product, then a sum: no FMA contraction)
//   HardSwish      x * min(1, max(0, x * (1/6) + 0.5))
// x86 MAXPS/MINPS return their second operand when either is NaN and compare "first > second"
// / "first < second", so max(lo, x) is exactly `x < lo ? lo : x` and min(hi, t) `t > hi ? hi : t`.

#include "runtime/ops/ConvKernels.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string_view>
#include <utility>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define LEGER_CONVK_X86 1
#include <immintrin.h>
#endif

namespace leger::ops::convk {

namespace {

template <class T> T* growK(std::vector<T>& v, std::int64_t n)
{
    if (static_cast<std::int64_t>(v.size()) < n)
        v.resize(static_cast<std::size_t>(n));
    return v.data();
}
inline std::int64_t floorDivK(std::int64_t a, std::int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline std::int64_t ceilDivK(std::int64_t a, std::int64_t b) { return -floorDivK(-a, b); }

template <class T> T activateScalar(T x, const Epilogue& ep)
{
    switch (ep.act) {
    case Act::None: return x;
    case Act::Clip: {
        const T lo = static_cast<T>(ep.p0), hi = static_cast<T>(ep.p1);
        const T t = x < lo ? lo : x;
        return t > hi ? hi : t;
    }
    case Act::LeakyRelu: {
        const T pos = x < T(0) ? T(0) : x;
        const T neg = x < T(0) ? x : T(0);
        return pos + neg * static_cast<T>(ep.p0);
    }
    case Act::HardSigmoid: {
        const T v = static_cast<T>(ep.p0) * x + static_cast<T>(ep.p1);
        const T lo = v < T(0) ? T(0) : v;
        return lo > T(1) ? T(1) : lo;
    }
    case Act::HardSwish: {
        const T v = x * static_cast<T>(1.0f / 6.0f) + static_cast<T>(0.5f);
        const T lo = v < T(0) ? T(0) : v;
        return x * (lo > T(1) ? T(1) : lo);
    }
    }
    return x;
}

template <class T> void epilogueScalar(T* y, const T* r, std::int64_t n, const Epilogue& ep)
{
    for (std::int64_t i = 0; i < n; ++i) {
        T v = y[i];
        if (ep.residual == 1)
            v += r[i];
        v = activateScalar(v, ep);
        if (ep.residual == 2)
            v += r[i];
        y[i] = v;
    }
}

} // namespace

#if LEGER_CONVK_X86

#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c")
#pragma GCC optimize("O3", "no-tree-loop-distribute-patterns")
namespace avx2 {
namespace {
struct V {
    using R = __m256;
    using Mask = __m256i;
    static constexpr int L = 8;
    static constexpr int MR = 6; // 6 x 16 tile: 12 accumulators of the 16 registers
    static constexpr int NV = 2;
    static constexpr int CVMV = 1; // channel-vector tiles: 12 pixels x 1 vector of channels
    static constexpr int CVP = 12;
    static constexpr int RB = 8; // row tiles: 1 vector of pixels x 8 channels
    static R zero() { return _mm256_setzero_ps(); }
    static R set1(float v) { return _mm256_set1_ps(v); }
    static R load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, R v) { _mm256_storeu_ps(p, v); }
    static Mask mask(int n)
    {
        alignas(32) static const std::int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bits + 8 - n));
    }
    static R loadm(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
    static void storem(float* p, R v, Mask m) { _mm256_maskstore_ps(p, m, v); }
    static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
    static R add(R a, R b) { return _mm256_add_ps(a, b); }
    static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
    static R max(R a, R b) { return _mm256_max_ps(a, b); }
    static R min(R a, R b) { return _mm256_min_ps(a, b); }
    static Mask andNot(Mask a, Mask b) { return _mm256_andnot_si256(a, b); }
    /// Transposes the 8 x 8 block r (row i in r[i]).
    static void transpose(R* r)
    {
        const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
        const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
        const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
        const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
        const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
        const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
        const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
        const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
        const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
        r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
        r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
        r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
        r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
        r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
        r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
        r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
        r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
    }
    static float hsum(R v)
    {
        __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        t = _mm_add_ps(t, _mm_movehl_ps(t, t));
        t = _mm_add_ss(t, _mm_movehdup_ps(t));
        return _mm_cvtss_f32(t);
    }
    /// Lanes 0, 2, 4, ... of the 16 floats lo:hi.
    static R evenLanes(R lo, R hi)
    {
        const R t = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)); // lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6
        return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
    }
    /// Lanes 1, 3, 5, ... of the 16 floats lo:hi.
    static R oddLanes(R lo, R hi)
    {
        const R t = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
        return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
    }
};
#include "runtime/ops/ConvKernelsImpl.h"
} // namespace
bool convGemm(const Geom& g, std::int64_t N, const float* x, const float* w, const float* b, const float* r, float* y,
              const Epilogue& ep, Scratch& s)
{
    return convGemmImpl(g, N, x, w, b, r, y, ep, s);
}
void epilogue(float* y, const float* r, std::int64_t n, const Epilogue& ep) { epilogueRow(y, r, n, ep); }
bool depthwise(const Geom& g, std::int64_t N, const float* x, const float* w, const float* b, const float* r, float* y,
               const Epilogue& ep, Scratch& s)
{
    return convDepthwiseImpl(g, N, x, w, b, r, y, ep, s);
}
void gemv(bool transB, std::int64_t N, std::int64_t K, float alpha, const float* a, const float* B, std::int64_t ldb,
          float beta, float* c)
{
    gemvImpl(transB, N, K, alpha, a, B, ldb, beta, c);
}
} // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx512cd,avx2,fma,bmi,bmi2,lzcnt,popcnt,f16c")
// GCC 12 warns about the deliberately undefined pass-through operands of AVX-512 intrinsics
// (_mm512_undefined_ps() initializes a variable with itself).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC optimize("O3", "no-tree-loop-distribute-patterns")
namespace avx512 {
namespace {
struct V {
    using R = __m512;
    using Mask = __mmask16;
    static constexpr int L = 16;
    static constexpr int MR = 8; // 8 x 48 tile: 24 accumulators of the 32 registers
    static constexpr int NV = 3;
    static constexpr int CVMV = 2; // channel-vector tiles: 14 pixels x 2 vectors of channels
    static constexpr int CVP = 14;
    static constexpr int RB = 16; // row tiles: 1 vector of pixels x 16 channels
    static R zero() { return _mm512_setzero_ps(); }
    static R set1(float v) { return _mm512_set1_ps(v); }
    static R load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, R v) { _mm512_storeu_ps(p, v); }
    static Mask mask(int n) { return static_cast<Mask>((1u << n) - 1u); }
    static R loadm(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
    static void storem(float* p, R v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
    static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
    static R add(R a, R b) { return _mm512_add_ps(a, b); }
    static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
    static R max(R a, R b) { return _mm512_max_ps(a, b); }
    static R min(R a, R b) { return _mm512_min_ps(a, b); }
    static Mask andNot(Mask a, Mask b) { return static_cast<Mask>(~a & b); }
    static float hsum(R v) { return _mm512_reduce_add_ps(v); }
    /// Transposes the 16 x 16 block r (row i in r[i]).
    static void transpose(R* r)
    {
        __m512 t[16], u[16];
        for (int i = 0; i < 16; i += 2) {
            t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
            t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
        }
        for (int i = 0; i < 16; i += 4) {
            u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
            u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
            u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
            u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        }
        // u[4q + j] holds, per 128-bit lane l, row 4l + ... : column j of rows 4q..4q+3 in each lane.
        for (int j = 0; j < 4; ++j) {
            const __m512 a = _mm512_shuffle_f32x4(u[j], u[4 + j], _MM_SHUFFLE(2, 0, 2, 0));
            const __m512 b = _mm512_shuffle_f32x4(u[j], u[4 + j], _MM_SHUFFLE(3, 1, 3, 1));
            const __m512 c = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], _MM_SHUFFLE(2, 0, 2, 0));
            const __m512 d = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], _MM_SHUFFLE(3, 1, 3, 1));
            r[j] = _mm512_shuffle_f32x4(a, c, _MM_SHUFFLE(2, 0, 2, 0));
            r[4 + j] = _mm512_shuffle_f32x4(b, d, _MM_SHUFFLE(2, 0, 2, 0));
            r[8 + j] = _mm512_shuffle_f32x4(a, c, _MM_SHUFFLE(3, 1, 3, 1));
            r[12 + j] = _mm512_shuffle_f32x4(b, d, _MM_SHUFFLE(3, 1, 3, 1));
        }
    }
    /// Lanes 0, 2, 4, ... of the 32 floats lo:hi.
    static R evenLanes(R lo, R hi)
    {
        const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        return _mm512_permutex2var_ps(lo, idx, hi);
    }
    /// Lanes 1, 3, 5, ... of the 32 floats lo:hi.
    static R oddLanes(R lo, R hi)
    {
        const __m512i idx = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        return _mm512_permutex2var_ps(lo, idx, hi);
    }
};
#include "runtime/ops/ConvKernelsImpl.h"
} // namespace
bool convGemm(const Geom& g, std::int64_t N, const float* x, const float* w, const float* b, const float* r, float* y,
              const Epilogue& ep, Scratch& s)
{
    return convGemmImpl(g, N, x, w, b, r, y, ep, s);
}
void epilogue(float* y, const float* r, std::int64_t n, const Epilogue& ep) { epilogueRow(y, r, n, ep); }
bool depthwise(const Geom& g, std::int64_t N, const float* x, const float* w, const float* b, const float* r, float* y,
               const Epilogue& ep, Scratch& s)
{
    return convDepthwiseImpl(g, N, x, w, b, r, y, ep, s);
}
void gemv(bool transB, std::int64_t N, std::int64_t K, float alpha, const float* a, const float* B, std::int64_t ldb,
          float beta, float* c)
{
    gemvImpl(transB, N, K, alpha, a, B, ldb, beta, c);
}
} // namespace avx512
#pragma GCC diagnostic pop
#pragma GCC pop_options

#endif // LEGER_CONVK_X86

namespace {

Isa detectIsa()
{
#if LEGER_CONVK_X86
    __builtin_cpu_init();
    Isa best = Isa::Baseline;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        best = Isa::Avx2;
    if (best == Isa::Avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        best = Isa::Avx512;
    // LEGER_ISA=baseline|avx2|avx512 lowers the level (benchmarks, debugging).
    if (const char* env = std::getenv("LEGER_ISA")) {
        const std::string_view v(env);
        const Isa want = v == "baseline" ? Isa::Baseline : v == "avx2" ? Isa::Avx2 : Isa::Avx512;
        best = std::min(best, want);
    }
    return best;
#else
    return Isa::Baseline;
#endif
}

Isa cpuIsa()
{
    static const Isa level = detectIsa();
    return level;
}

std::atomic<Isa>& activeIsa()
{
    static std::atomic<Isa> level{cpuIsa()};
    return level;
}

} // namespace

Isa isa() { return activeIsa().load(std::memory_order_relaxed); }
void setIsa(Isa level) { activeIsa().store(std::min(level, cpuIsa())); }
void resetIsa() { activeIsa().store(cpuIsa()); }
const char* isaName(Isa level)
{
    switch (level) {
    case Isa::Baseline: return "baseline";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    }
    return "?";
}

bool convGemm(const Geom& g, std::int64_t N, const float* x, const float* w, const float* b, const float* r, float* y,
              const Epilogue& ep, Scratch& s)
{
#if LEGER_CONVK_X86
    switch (isa()) {
    case Isa::Avx512: return avx512::convGemm(g, N, x, w, b, r, y, ep, s);
    case Isa::Avx2: return avx2::convGemm(g, N, x, w, b, r, y, ep, s);
    case Isa::Baseline: break;
    }
#endif
    (void)g, (void)N, (void)x, (void)w, (void)b, (void)r, (void)y, (void)ep, (void)s;
    return false;
}

bool convDepthwise(const Geom& g, std::int64_t N, const float* x, const float* w, const float* b, const float* r,
                   float* y, const Epilogue& ep, Scratch& s)
{
    if (g.G != g.C || g.M != g.C || g.KH != g.KW || g.dh != 1 || g.dw != 1 || g.sh != g.sw)
        return false;
#if LEGER_CONVK_X86
    switch (isa()) {
    case Isa::Avx512:
        return avx512::depthwise(g, N, x, w, b, r, y, ep, s);
    case Isa::Avx2: return avx2::depthwise(g, N, x, w, b, r, y, ep, s);
    case Isa::Baseline: break;
    }
#endif
    (void)N, (void)x, (void)b, (void)r, (void)y, (void)ep, (void)s;
    return false;
}

bool gemv(bool transB, std::int64_t N, std::int64_t K, float alpha, const float* a, const float* B, std::int64_t ldb,
          float beta, float* c)
{
#if LEGER_CONVK_X86
    switch (isa()) {
    case Isa::Avx512: avx512::gemv(transB, N, K, alpha, a, B, ldb, beta, c); return true;
    case Isa::Avx2: avx2::gemv(transB, N, K, alpha, a, B, ldb, beta, c); return true;
    case Isa::Baseline: break;
    }
#endif
    (void)transB, (void)N, (void)K, (void)alpha, (void)a, (void)B, (void)ldb, (void)beta, (void)c;
    return false;
}

void applyEpilogue(float* y, const float* r, std::int64_t n, const Epilogue& ep)
{
    if (ep.trivial())
        return;
#if LEGER_CONVK_X86
    switch (isa()) {
    case Isa::Avx512: return avx512::epilogue(y, r, n, ep);
    case Isa::Avx2: return avx2::epilogue(y, r, n, ep);
    case Isa::Baseline: break;
    }
#endif
    epilogueScalar(y, r, n, ep);
}

void applyEpilogue(double* y, const double* r, std::int64_t n, const Epilogue& ep)
{
    if (!ep.trivial())
        epilogueScalar(y, r, n, ep);
}

} // namespace leger::ops::convk
