// Conv, ConvTranspose and ConvInteger on NCHW tensors (1 to 3 spatial axes).
//
// Strategy: a convolution is a GEMM per group, W_g (M/G, C/G*k) x col (C/G*k, out), where
// col is the im2col unfolding of the input. 1x1 stride-1 unpadded convolutions use the
// input itself as col. Small outputs (late CNN layers) unfold several images side by side
// so that OpenBLAS gets a wide enough N. Depthwise and narrow grouped convolutions (at most
// kDirectMaxGroupChannels input and kDirectMaxGroupOutputs output channels per group) are
// computed directly, since a GEMM with M = 1 and K = 9 is far below BLAS peak. The direct
// kernels, im2col and col2im are multiversioned per ISA (see LEGER_MULTIVERSION).

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <limits>
#include <cstring>
#include <numeric>
#include <memory>

#include "runtime/OpRegistry.h"
#include "runtime/ops/ConvKernels.h"
#include "runtime/ops/ElementwiseKernels.h"
#include "runtime/ops/Multiversion.h"
#include "runtime/ops/OpUtil.h"
#include "runtime/ops/Widen.h"
#include "runtime/ops/Window.h"

namespace leger {

namespace {

using ops::IndexRange;
using ops::validRange;
using ops::Window;
using ops::WindowAttrs;
namespace convk = ops::convk;

/// Grouped convolutions with at most this many input and output channels per group use the
/// direct kernel; beyond that the per-group GEMM is faster.
constexpr std::int64_t kDirectMaxGroupChannels = 4;
constexpr std::int64_t kDirectMaxGroupOutputs = 4;
/// The GEMM path unfolds images side by side until col has about this many columns...
constexpr std::int64_t kTargetGemmColumns = 512;
/// ...as long as col stays below this size.
constexpr std::int64_t kMaxColBytes = std::int64_t{32} << 20;

/// Scratch buffers kept by a prepared kernel from run to run (not reallocated per call).
struct Scratch {
    convk::Scratch k; // the float32 kernels' own
    std::vector<float> f0, f1;
    std::vector<double> d0, d1;

    template <class T> std::vector<T>& get(int which);
};
template <> std::vector<float>& Scratch::get<float>(int which) { return which ? f1 : f0; }
template <> std::vector<double>& Scratch::get<double>(int which) { return which ? d1 : d0; }

template <class T> T* grow(std::vector<T>& v, std::int64_t n)
{
    if (static_cast<std::int64_t>(v.size()) < n)
        v.resize(static_cast<std::size_t>(n));
    return v.data();
}

void checkBlasDims(const Node& node, std::initializer_list<std::int64_t> dims)
{
    for (std::int64_t d : dims)
        if (d > INT_MAX)
            throw UnsupportedError(node.describe() + ": matrix dimension " + std::to_string(d) +
                                   " exceeds the BLAS 32-bit limit");
}

// C (M, N) = op(A) (M, K) x B (K, N), row-major; op(A) = A^T when transA (A stored (K, M)).
void gemm(bool transA, std::int64_t M, std::int64_t N, std::int64_t K, const float* A, std::int64_t lda,
          const float* B, std::int64_t ldb, float* C, std::int64_t ldc)
{
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, CblasNoTrans, static_cast<blasint>(M),
                static_cast<blasint>(N), static_cast<blasint>(K), 1.0f, A, static_cast<blasint>(lda), B,
                static_cast<blasint>(ldb), 0.0f, C, static_cast<blasint>(ldc));
}
void gemm(bool transA, std::int64_t M, std::int64_t N, std::int64_t K, const double* A, std::int64_t lda,
          const double* B, std::int64_t ldb, double* C, std::int64_t ldc)
{
    cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, CblasNoTrans, static_cast<blasint>(M),
                static_cast<blasint>(N), static_cast<blasint>(K), 1.0, A, static_cast<blasint>(lda), B,
                static_cast<blasint>(ldb), 0.0, C, static_cast<blasint>(ldc));
}

/// Unfolds `channels` input channels of one image for a window.
/// x: (channels, in0, in1, in2) -> col: (channels * k0*k1*k2, out0*out1*out2), rows ld apart.
template <class T>
[[gnu::always_inline]] inline void im2colImpl(const T* __restrict x, std::int64_t channels, const Window& w,
                                              T* __restrict col, std::int64_t ld)
{
    const std::int64_t D = w.in[0], H = w.in[1], W = w.in[2];
    const std::int64_t OD = w.out[0], OH = w.out[1], OW = w.out[2];
    const std::int64_t sx = w.s[2];
    std::int64_t row = 0;
    for (std::int64_t c = 0; c < channels; ++c)
        for (std::int64_t kz = 0; kz < w.k[0]; ++kz)
            for (std::int64_t ky = 0; ky < w.k[1]; ++ky)
                for (std::int64_t kx = 0; kx < w.k[2]; ++kx, ++row) {
                    T* dst = col + row * ld;
                    const std::int64_t offZ = kz * w.d[0] - w.pb[0];
                    const std::int64_t offY = ky * w.d[1] - w.pb[1];
                    const std::int64_t offX = kx * w.d[2] - w.pb[2];
                    const IndexRange rx = validRange(offX, sx, W, OW);
                    for (std::int64_t oz = 0; oz < OD; ++oz) {
                        const std::int64_t iz = oz * w.s[0] + offZ;
                        if (iz < 0 || iz >= D) {
                            std::fill_n(dst, OH * OW, T{});
                            dst += OH * OW;
                            continue;
                        }
                        for (std::int64_t oy = 0; oy < OH; ++oy, dst += OW) {
                            const std::int64_t iy = oy * w.s[1] + offY;
                            if (iy < 0 || iy >= H) {
                                std::fill_n(dst, OW, T{});
                                continue;
                            }
                            const T* xr = x + ((c * D + iz) * H + iy) * W;
                            for (std::int64_t ox = 0; ox < rx.lo; ++ox)
                                dst[ox] = T{};
                            if (sx == 1)
                                for (std::int64_t ox = rx.lo; ox < rx.hi; ++ox)
                                    dst[ox] = xr[ox + offX];
                            else if (sx == 2)
                                for (std::int64_t ox = rx.lo; ox < rx.hi; ++ox)
                                    dst[ox] = xr[2 * ox + offX];
                            else
                                for (std::int64_t ox = rx.lo; ox < rx.hi; ++ox)
                                    dst[ox] = xr[ox * sx + offX];
                            for (std::int64_t ox = rx.hi; ox < OW; ++ox)
                                dst[ox] = T{};
                        }
                    }
                }
}

LEGER_MULTIVERSION void im2colF(const float* x, std::int64_t channels, const Window& w, float* col, std::int64_t ld)
{
    im2colImpl(x, channels, w, col, ld);
}
template <class T> void im2col(const T* x, std::int64_t channels, const Window& w, T* col, std::int64_t ld)
{
    if constexpr (std::is_same_v<T, float>)
        im2colF(x, channels, w, col, ld);
    else
        im2colImpl(x, channels, w, col, ld);
}

/// Folds col back onto the output of a transposed convolution, adding overlapping taps.
/// col: (channels * k0*k1*k2, in0*in1*in2) -> y: (channels, out0, out1, out2), where input
/// position i of tap k lands on output i*s + k*d - pb.
template <class T>
[[gnu::always_inline]] inline void col2imAddImpl(const T* __restrict col, std::int64_t channels, const Window& w,
                                                 T* __restrict y)
{
    const std::int64_t ID = w.in[0], IH = w.in[1], IW = w.in[2];
    const std::int64_t OD = w.out[0], OH = w.out[1], OW = w.out[2];
    const std::int64_t sx = w.s[2];
    const std::int64_t inSize = w.inSize();
    std::int64_t row = 0;
    for (std::int64_t c = 0; c < channels; ++c)
        for (std::int64_t kz = 0; kz < w.k[0]; ++kz)
            for (std::int64_t ky = 0; ky < w.k[1]; ++ky)
                for (std::int64_t kx = 0; kx < w.k[2]; ++kx, ++row) {
                    const T* src = col + row * inSize;
                    const std::int64_t offZ = kz * w.d[0] - w.pb[0];
                    const std::int64_t offY = ky * w.d[1] - w.pb[1];
                    const std::int64_t offX = kx * w.d[2] - w.pb[2];
                    const IndexRange rz = validRange(offZ, w.s[0], OD, ID);
                    const IndexRange ry = validRange(offY, w.s[1], OH, IH);
                    const IndexRange rx = validRange(offX, sx, OW, IW);
                    for (std::int64_t iz = rz.lo; iz < rz.hi; ++iz)
                        for (std::int64_t iy = ry.lo; iy < ry.hi; ++iy) {
                            T* yr = y + ((c * OD + iz * w.s[0] + offZ) * OH + iy * w.s[1] + offY) * OW;
                            const T* cr = src + (iz * IH + iy) * IW;
                            if (sx == 1)
                                for (std::int64_t ix = rx.lo; ix < rx.hi; ++ix)
                                    yr[ix + offX] += cr[ix];
                            else
                                for (std::int64_t ix = rx.lo; ix < rx.hi; ++ix)
                                    yr[ix * sx + offX] += cr[ix];
                        }
                }
}

LEGER_MULTIVERSION void col2imAddF(const float* col, std::int64_t channels, const Window& w, float* y)
{
    col2imAddImpl(col, channels, w, y);
}
template <class T> void col2imAdd(const T* col, std::int64_t channels, const Window& w, T* y)
{
    if constexpr (std::is_same_v<T, float>)
        col2imAddF(col, channels, w, y);
    else
        col2imAddImpl(col, channels, w, y);
}

// ---- Direct 2-D kernel for depthwise and narrow grouped convolutions -----------------------
//
// The input plane is first copied into a zero-padded buffer cropped to exactly the extent
// the windows read, so the kernels below never check bounds. With stride 1 the output is
// computed over the padded grid as one flat run (output pitch = padded input pitch; the
// few columns past OW are discarded), which gives the vectorizer long loops even on 7x7
// planes; other strides go row by row.

/// Geometry of a direct 2-D convolution over a padded plane.
struct DirectGeom {
    std::int64_t KH, KW, sh, sw, dh, dw;
    std::int64_t ldx;  // pitch of the padded input
    std::int64_t rows; // output rows per call (1 for a flat stride-1 run)
    std::int64_t n;    // outputs per row
    std::int64_t ldy;  // pitch of the output rows
};

/// One kernel row: y[i] (+)= sum_kx w[kx] * x[i*S + kx*dw], from init unless Acc. With Dw > 0
/// the dilation is that compile-time constant, so the taps are fixed offsets from one pointer.
template <int K, int S, int Dw, bool Acc>
[[gnu::always_inline]] inline void directKernelRow(const float* __restrict x, std::int64_t dw,
                                                   const float* __restrict w, float init, float* __restrict y,
                                                   std::int64_t n)
{
    float wk[K];
    for (int kx = 0; kx < K; ++kx)
        wk[kx] = w[kx];
    const std::int64_t d = Dw > 0 ? Dw : dw;
    for (std::int64_t i = 0; i < n; ++i) {
        float acc = Acc ? y[i] : init;
#pragma GCC unroll 7
        for (int kx = 0; kx < K; ++kx)
            acc += wk[kx] * x[i * S + kx * d];
        y[i] = acc;
    }
}

/// y[r*ldy + i] (+)= sum_{ky,kx} w[ky*K+kx] * x[(r*sh + ky*dh)*ldx + i*S + kx*dw], from init unless Acc.
template <int K, int S, int Dw, bool Acc>
[[gnu::always_inline]] inline void directFixed(const float* __restrict x, const float* __restrict w, float init,
                                               float* __restrict y, const DirectGeom& g)
{
    const std::int64_t d = Dw > 0 ? Dw : g.dw;
    for (std::int64_t r = 0; r < g.rows; ++r) {
        const float* __restrict xr = x + r * g.sh * g.ldx;
        float* __restrict yr = y + r * g.ldy;
        if constexpr (K == 3) {
            // All nine taps in one pass: three row pointers, the taps at fixed offsets.
            const float* __restrict x0 = xr;
            const float* __restrict x1 = xr + g.dh * g.ldx;
            const float* __restrict x2 = xr + 2 * g.dh * g.ldx;
            const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6], w7 = w[7],
                        w8 = w[8];
            for (std::int64_t i = 0; i < g.n; ++i) {
                float acc = Acc ? yr[i] : init;
                acc += w0 * x0[i * S] + w1 * x0[i * S + d] + w2 * x0[i * S + 2 * d];
                acc += w3 * x1[i * S] + w4 * x1[i * S + d] + w5 * x1[i * S + 2 * d];
                acc += w6 * x2[i * S] + w7 * x2[i * S + d] + w8 * x2[i * S + 2 * d];
                yr[i] = acc;
            }
        } else {
            // Larger kernels: one pass per kernel row, accumulating in y (in L1).
            directKernelRow<K, S, Dw, Acc>(xr, d, w, init, yr, g.n);
            for (int ky = 1; ky < K; ++ky)
                directKernelRow<K, S, Dw, true>(xr + ky * g.dh * g.ldx, d, w + ky * K, init, yr, g.n);
        }
    }
}

/// Any kernel shape and stride, tap by tap over contiguous outputs.
[[gnu::always_inline]] inline void directAny(const float* __restrict x, const float* __restrict w, float init,
                                             bool accumulate, float* __restrict y, const DirectGeom& g)
{
    for (std::int64_t r = 0; r < g.rows; ++r) {
        const float* xr = x + r * g.sh * g.ldx;
        float* __restrict yr = y + r * g.ldy;
        if (!accumulate)
            for (std::int64_t i = 0; i < g.n; ++i)
                yr[i] = init;
        for (std::int64_t ky = 0; ky < g.KH; ++ky)
            for (std::int64_t kx = 0; kx < g.KW; ++kx) {
                const float wv = w[ky * g.KW + kx];
                const float* __restrict xs = xr + ky * g.dh * g.ldx + kx * g.dw;
                if (g.sw == 1)
                    for (std::int64_t i = 0; i < g.n; ++i)
                        yr[i] += wv * xs[i];
                else
                    for (std::int64_t i = 0; i < g.n; ++i)
                        yr[i] += wv * xs[i * g.sw];
            }
    }
}

[[gnu::always_inline]] inline void directPlane(const float* x, const float* w, float init, bool accumulate, float* y,
                                               const DirectGeom& g)
{
    const int kind = g.KH == g.KW && (g.KH == 3 || g.KH == 5 || g.KH == 7) && (g.sw == 1 || g.sw == 2)
                         ? static_cast<int>(g.KH * 10 + g.sw)
                         : 0;
    // Unit dilation (the common case) gets its own instances with constant tap offsets.
#define LEGER_DIRECT_CASE(K, S)                                                                                        \
    case K * 10 + S:                                                                                                   \
        if (g.dw == 1)                                                                                                 \
            accumulate ? directFixed<K, S, 1, true>(x, w, init, y, g) : directFixed<K, S, 1, false>(x, w, init, y, g); \
        else                                                                                                           \
            accumulate ? directFixed<K, S, 0, true>(x, w, init, y, g) : directFixed<K, S, 0, false>(x, w, init, y, g); \
        return;
    switch (kind) {
        LEGER_DIRECT_CASE(3, 1)
        LEGER_DIRECT_CASE(3, 2)
        LEGER_DIRECT_CASE(5, 1)
        LEGER_DIRECT_CASE(5, 2)
        LEGER_DIRECT_CASE(7, 1)
        LEGER_DIRECT_CASE(7, 2)
    default: directAny(x, w, init, accumulate, y, g);
    }
#undef LEGER_DIRECT_CASE
}

/// Outputs per kernel call are rounded up to this (the widest vector) so the vectorized
/// loops never fall into their scalar epilogue; the extra outputs are discarded.
constexpr std::int64_t kDirectRound = 16;

/// Everything a direct convolution of one group needs, computed once per run.
struct DirectPlan {
    DirectGeom g;
    std::int64_t H, W, OH, OW, pt, pl; // input, output and leading padding
    std::int64_t Hp, Wp;               // padded extent actually read
    std::int64_t Cg, Mg, kSize;
    bool flat;       // stride 1: one flat run per plane at the padded input's pitch
    std::int64_t xpSize;  // padded planes plus slack for the rounded runs' over-reads
    std::int64_t accSize; // one output plane at the run pitch, rounded
};

/// One image and group: Cg input planes (H, W) -> Mg output planes (OH, OW).
/// xp: scratch for Cg padded planes (Hp, Wp) + slack; acc: scratch for one output plane.
LEGER_MULTIVERSION
void directGroup(const DirectPlan& p, const float* xg, const float* wg, const float* bg, float* yg, float* xp,
                 float* acc)
{
    const std::int64_t inSize = p.H * p.W, outSize = p.OH * p.OW;
    // Copy the planes into the zero-padded buffer, so the kernels never check bounds. Only the
    // input's own rectangle is written: the padding was zeroed once for the run.
    const std::int64_t c0 = std::clamp<std::int64_t>(p.pl, 0, p.Wp);        // first column taken from x
    const std::int64_t c1 = std::clamp<std::int64_t>(p.pl + p.W, c0, p.Wp); // end of the columns from x
    const std::int64_t r0 = std::clamp<std::int64_t>(p.pt, 0, p.Hp);        // first row taken from x
    const std::int64_t r1 = std::clamp<std::int64_t>(p.pt + p.H, r0, p.Hp); // end of the rows from x
    for (std::int64_t c = 0; c < p.Cg; ++c)
        for (std::int64_t r = r0; r < r1; ++r) {
            float* __restrict dst = xp + (c * p.Hp + r) * p.Wp;
            const float* __restrict row = xg + c * inSize + (r - p.pt) * p.W;
            for (std::int64_t i = c0; i < c1; ++i)
                dst[i] = row[i - p.pl];
        }
    const std::int64_t planeIn = p.Hp * p.Wp;
    // Output row r of the plane is at acc + r * pitch.
    const std::int64_t pitch = p.flat ? p.Wp : p.g.ldy;
    for (std::int64_t mm = 0; mm < p.Mg; ++mm) {
        const float init = bg ? bg[mm] : 0.0f;
        for (std::int64_t c = 0; c < p.Cg; ++c)
            directPlane(xp + c * planeIn, wg + (mm * p.Cg + c) * p.kSize, init, c > 0, acc, p.g);
        float* ym = yg + mm * outSize;
        for (std::int64_t r = 0; r < p.OH; ++r) {
            float* __restrict yr = ym + r * p.OW;
            const float* __restrict ar = acc + r * pitch;
            for (std::int64_t i = 0; i < p.OW; ++i)
                yr[i] = ar[i];
        }
    }
}

/// Direct convolution for groups of at most kDirectMaxGroupChannels input channels.
/// X: (N, C, H, W), W: (M, C/G, KH, KW) -> Y: (N, M, OH, OW); 1-D convolutions have H = 1.
void convDirect(const Window& w, std::int64_t N, std::int64_t C, std::int64_t M, std::int64_t G, const float* x,
                const float* wt, const float* b, float* y, Scratch& scratch)
{
    DirectPlan p;
    p.Cg = C / G;
    p.Mg = M / G;
    p.H = w.in[1];
    p.W = w.in[2];
    p.OH = w.out[1];
    p.OW = w.out[2];
    p.pt = w.pb[1];
    p.pl = w.pb[2];
    const std::int64_t KH = w.k[1], KW = w.k[2], sh = w.s[1], sw = w.s[2], dh = w.d[1], dw = w.d[2];
    p.kSize = KH * KW;
    // Extent the windows read, padding included (rows/columns no window reaches are cropped).
    p.Hp = (p.OH - 1) * sh + (KH - 1) * dh + 1;
    p.Wp = (p.OW - 1) * sw + (KW - 1) * dw + 1;
    p.flat = sh == 1 && sw == 1;
    auto roundUp = [](std::int64_t v) { return (v + kDirectRound - 1) / kDirectRound * kDirectRound; };
    std::int64_t lastRead = 0; // last element a run reads, from the start of a plane
    if (p.flat) {
        // Outputs over the padded grid at its pitch: output (r, i) is flat index r*Wp + i,
        // and the columns past OW are discarded.
        const std::int64_t n = roundUp((p.OH - 1) * p.Wp + p.OW);
        p.g = DirectGeom{KH, KW, sh, sw, dh, dw, p.Wp, 1, n, 0};
        lastRead = (n - 1) + (KH - 1) * dh * p.Wp + (KW - 1) * dw;
        p.accSize = n;
    } else {
        const std::int64_t n = roundUp(p.OW);
        p.g = DirectGeom{KH, KW, sh, sw, dh, dw, p.Wp, p.OH, n, n};
        lastRead = (p.OH - 1) * sh * p.Wp + (n - 1) * sw + (KH - 1) * dh * p.Wp + (KW - 1) * dw;
        p.accSize = p.OH * n;
    }
    p.xpSize = std::max(p.Cg * p.Hp * p.Wp, (p.Cg - 1) * p.Hp * p.Wp + lastRead + 1);
    float* xp = grow(scratch.f0, p.xpSize);
    float* acc = grow(scratch.f1, p.accSize);
    std::fill_n(xp, p.xpSize, 0.0f); // padding and slack; each group then writes the same interior
    const std::int64_t inSize = p.H * p.W, outSize = p.OH * p.OW;
    for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t grp = 0; grp < G; ++grp)
            directGroup(p, x + (n * C + grp * p.Cg) * inSize, wt + grp * p.Mg * p.Cg * p.kSize,
                        b ? b + grp * p.Mg : nullptr, y + (n * M + grp * p.Mg) * outSize, xp, acc);
}

/// y[c, :] += b[c] for a (rows, cols) block.
template <class T> void addBias(T* y, std::int64_t rows, std::int64_t cols, const T* b)
{
    if (!b)
        return;
    for (std::int64_t r = 0; r < rows; ++r) {
        const T v = b[r];
        T* yr = y + r * cols;
        for (std::int64_t i = 0; i < cols; ++i)
            yr[i] += v;
    }
}

// ---- Conv ------------------------------------------------------------------------------------

struct ConvConfig {
    WindowAttrs win;
    std::int64_t group = 1;
    /// Activation and residual add fused into the conv by the graph optimizer (leger.*
    /// attributes; the residual is input 3).
    convk::Epilogue epilogue;
};

std::vector<std::int64_t> spatialDims(const Tensor& t) { return {t.shape().begin() + 2, t.shape().end()}; }

/// Checks X (N, C, ...), W (M, C/group, k...), B (M) and returns the window.
Window convSetup(const Node& node, const ConvConfig& cfg, const Tensor& X, const Tensor& W, const Tensor* B)
{
    if (X.rank() < 3)
        throw Error(node.describe() + ": input X needs shape (N, C, spatial...), got " + shapeToString(X.shape()));
    if (W.rank() != X.rank())
        throw Error(node.describe() + ": weight shape " + shapeToString(W.shape()) + " does not match input shape " +
                    shapeToString(X.shape()));
    if (W.dtype() != X.dtype() || (B && B->dtype() != X.dtype()))
        throw Error(node.describe() + ": X, W and B must have the same element type");
    const std::int64_t C = X.dim(1), M = W.dim(0), G = cfg.group;
    if (G < 1 || C % G != 0 || M % G != 0 || W.dim(1) * G != C)
        throw Error(node.describe() + ": input channels " + std::to_string(C) + ", weight shape " +
                    shapeToString(W.shape()) + " and group " + std::to_string(G) + " do not agree");
    if (B && (B->rank() != 1 || B->dim(0) != M))
        throw Error(node.describe() + ": bias shape " + shapeToString(B->shape()) + " should be [" +
                    std::to_string(M) + "]");
    const auto kDims = spatialDims(W);
    if (!cfg.win.kernel.empty() && cfg.win.kernel != kDims)
        throw Error(node.describe() + ": kernel_shape does not match the weight shape " + shapeToString(W.shape()));
    const auto inDims = spatialDims(X);
    return ops::convWindow(node, cfg.win, inDims, kDims);
}

Shape convOutputShape(const Tensor& X, const Tensor& W, const Window& w)
{
    Shape yShape{X.dim(0), W.dim(0)};
    for (std::int64_t d : w.outDims())
        yShape.push_back(d);
    return yShape;
}

/// The float32 kernels' description of a 1-D or 2-D convolution.
convk::Geom kernelGeom(const Window& w, std::int64_t C, std::int64_t M, std::int64_t G)
{
    convk::Geom g;
    g.C = C;
    g.M = M;
    g.G = G;
    g.H = w.in[1];
    g.W = w.in[2];
    g.OH = w.out[1];
    g.OW = w.out[2];
    g.KH = w.k[1];
    g.KW = w.k[2];
    g.sh = w.s[1];
    g.sw = w.s[2];
    g.dh = w.d[1];
    g.dw = w.d[2];
    g.pt = w.pb[1];
    g.pl = w.pb[2];
    return g;
}

/// Y = epilogue(conv(X, W) + B); R, when the epilogue has a residual, has Y's shape.
template <class T>
void convForward(const Node& node, const ConvConfig& cfg, const Tensor& X, const Tensor& Wt, const Tensor* Bt,
                 const Tensor* Rt, const convk::Epilogue& ep, Tensor& Y, Scratch& scratch)
{
    const Window w = convSetup(node, cfg, X, Wt, Bt);
    const std::int64_t N = X.dim(0), C = X.dim(1), M = Wt.dim(0), G = cfg.group;
    const std::int64_t Cg = C / G, Mg = M / G;
    Y.resize(X.dtype(), convOutputShape(X, Wt, w));
    if (Y.size() == 0)
        return;
    const std::int64_t inSize = w.inSize(), outSize = w.outSize(), kSize = w.kSize();
    const std::int64_t K = Cg * kSize;
    const T* x = X.data<T>();
    const T* wt = Wt.data<T>();
    const T* b = Bt ? Bt->data<T>() : nullptr;
    const T* r = ep.residual ? Rt->data<T>() : nullptr;
    T* y = Y.data<T>();
    if (K == 0) { // no input channels: the output is the bias
        for (std::int64_t n = 0; n < N; ++n)
            for (std::int64_t m = 0; m < M; ++m)
                std::fill_n(y + (n * M + m) * outSize, outSize, b ? b[m] : T{});
        convk::applyEpilogue(y, r, Y.size(), ep);
        return;
    }

    if constexpr (std::is_same_v<T, float>) {
        if (w.rank <= 2 && G == C && G == M && convk::convDepthwise(kernelGeom(w, C, M, G), N, x, wt, b, r, y, ep, scratch.k))
            return;
        if (Cg <= kDirectMaxGroupChannels && Mg <= kDirectMaxGroupOutputs && w.rank <= 2) {
            convDirect(w, N, C, M, G, x, wt, b, y, scratch);
            convk::applyEpilogue(y, r, Y.size(), ep);
            return;
        }
        if (w.rank <= 2 && convk::convGemm(kernelGeom(w, C, M, G), N, x, wt, b, r, y, ep, scratch.k))
            return;
    }

    // GEMM path. Several images share one GEMM when the output grid is small.
    const bool pointwise = kSize == 1 && w.unpadded() && w.s[0] == 1 && w.s[1] == 1 && w.s[2] == 1;
    std::int64_t nb = 1;
    if (outSize < kTargetGemmColumns)
        nb = std::min(N, (kTargetGemmColumns + outSize - 1) / outSize);
    while (nb > 1 && K * nb * outSize * static_cast<std::int64_t>(sizeof(T)) > kMaxColBytes)
        --nb;
    checkBlasDims(node, {Mg, K, nb * outSize});
    T* col = (pointwise && nb == 1) ? nullptr : grow(scratch.get<T>(0), K * nb * outSize);
    T* tmp = nb > 1 ? grow(scratch.get<T>(1), Mg * nb * outSize) : nullptr;
    for (std::int64_t n0 = 0; n0 < N; n0 += nb) {
        const std::int64_t cnt = std::min(nb, N - n0);
        const std::int64_t cols = cnt * outSize;
        for (std::int64_t grp = 0; grp < G; ++grp) {
            const T* wg = wt + grp * Mg * K; // W_g: (Mg, K)
            const T* src = nullptr;          // col: (K, cols)
            if (pointwise && nb == 1) {
                src = x + (n0 * C + grp * Cg) * inSize;
            } else {
                for (std::int64_t j = 0; j < cnt; ++j)
                    im2col(x + ((n0 + j) * C + grp * Cg) * inSize, Cg, w, col + j * outSize, cols);
                src = col;
            }
            if (cnt == 1) {
                // W_g: (Mg, K)  col: (K, out) -> y[n0, g*Mg:(g+1)*Mg]: (Mg, out)
                T* yg = y + (n0 * M + grp * Mg) * outSize;
                gemm(false, Mg, outSize, K, wg, K, src, cols, yg, outSize);
                addBias(yg, Mg, outSize, b ? b + grp * Mg : nullptr);
            } else {
                // W_g: (Mg, K)  col: (K, cnt*out) -> tmp: (Mg, cnt*out), then scattered to each image.
                gemm(false, Mg, cols, K, wg, K, src, cols, tmp, cols);
                for (std::int64_t j = 0; j < cnt; ++j)
                    for (std::int64_t m = 0; m < Mg; ++m) {
                        const T* t = tmp + m * cols + j * outSize;
                        T* yr = y + ((n0 + j) * M + grp * Mg + m) * outSize;
                        const T bv = b ? b[grp * Mg + m] : T{};
                        for (std::int64_t p = 0; p < outSize; ++p)
                            yr[p] = t[p] + bv;
                    }
            }
        }
    }
    convk::applyEpilogue(y, r, Y.size(), ep);
}

/// Runs fn(X, W, B, R, Y) on float or double tensors; 16-bit floats are widened to float32.
template <class Fn> void runFloatConv(const KernelArgs& a, bool withResidual, Fn&& fn)
{
    const Tensor& X = a.input(0);
    const Tensor& W = a.input(1);
    const Tensor* B = a.optionalInput(2);
    const Tensor* R = withResidual ? &a.input(3) : nullptr;
    Tensor& Y = a.output(0);
    if (R && R->dtype() != X.dtype())
        throw Error(a.node().describe() + ": the fused residual must have the input's element type");
    if (ops::isHalfFloat(X.dtype())) {
        if (W.dtype() != X.dtype() || (B && B->dtype() != X.dtype()))
            throw Error(a.node().describe() + ": X, W and B must have the same element type");
        const Tensor xf = ops::widenToFloat(X), wf = ops::widenToFloat(W);
        Tensor bf, rf;
        if (B)
            bf = ops::widenToFloat(*B);
        if (R)
            rf = ops::widenToFloat(*R);
        Tensor yf;
        fn(float{}, xf, wf, B ? &bf : nullptr, R ? &rf : nullptr, yf);
        ops::narrowFromFloat(yf, X.dtype(), Y);
        return;
    }
    ops::dispatchFloat(X.dtype(), [&](auto t) { fn(t, X, W, B, R, Y); }, a.node());
}

/// The epilogue the graph optimizer attached to a Conv node (see GraphOptimizer.h).
convk::Epilogue parseEpilogue(const KernelContext& ctx)
{
    const Node& node = ctx.node;
    convk::Epilogue ep;
    const std::string act = node.attrString("leger.activation", "");
    const float p0 = node.attrFloat("leger.activation_alpha", 0.0f);
    const float p1 = node.attrFloat("leger.activation_beta", 0.0f);
    if (act.empty()) {
        ep.act = convk::Act::None;
    } else if (act == "Relu") {
        ep.act = convk::Act::Clip;
        ep.p0 = 0.0f;
        ep.p1 = std::numeric_limits<float>::infinity();
    } else if (act == "Clip") {
        ep.act = convk::Act::Clip;
        ep.p0 = p0;
        ep.p1 = p1;
    } else if (act == "LeakyRelu") {
        ep.act = convk::Act::LeakyRelu;
        ep.p0 = p0;
    } else if (act == "HardSigmoid") {
        ep.act = convk::Act::HardSigmoid;
        ep.p0 = p0;
        ep.p1 = p1;
    } else if (act == "HardSwish") {
        ep.act = convk::Act::HardSwish;
    } else {
        ctx.invalid("unknown fused activation '" + act + "'");
    }
    const std::int64_t res = node.attrInt("leger.residual", 0);
    if (res < 0 || res > 2)
        ctx.invalid("leger.residual must be 0, 1 or 2");
    ep.residual = static_cast<int>(res);
    if (ep.residual && node.inputs.size() < 4)
        ctx.invalid("a fused residual needs input 3");
    return ep;
}

Kernel makeConv(const KernelContext& ctx)
{
    ConvConfig cfg;
    cfg.win = WindowAttrs::parse(ctx, false, true);
    cfg.group = ctx.node.attrInt("group", 1);
    if (cfg.group < 1)
        ctx.invalid("group must be positive");
    cfg.epilogue = parseEpilogue(ctx);
    auto scratch = std::make_shared<Scratch>();
    return [cfg, scratch](KernelArgs& a) {
        runFloatConv(a, cfg.epilogue.residual != 0,
                     [&](auto t, const Tensor& X, const Tensor& W, const Tensor* B, const Tensor* R, Tensor& Y) {
                         using T = decltype(t);
                         const convk::Epilogue& ep = cfg.epilogue;
                         if (!R || R->shape() == convOutputShape(X, W, convSetup(a.node(), cfg, X, W, B))) {
                             convForward<T>(a.node(), cfg, X, W, B, R, ep, Y, *scratch);
                             return;
                         }
                         // The fused Add broadcasts: the conv alone, then the add and activation
                         // in the original order.
                         Tensor conv;
                         convk::Epilogue actOnly = ep;
                         actOnly.residual = 0;
                         convForward<T>(a.node(), cfg, X, W, B, nullptr, ep.residual == 2 ? actOnly : convk::Epilogue{},
                                        conv, *scratch);
                         const Shape out = ops::broadcastShapes(conv.shape(), R->shape(), a.node());
                         Y.resize(X.dtype(), out);
                         ops::binaryBroadcast(conv.data<T>(), conv.shape(), R->data<T>(), R->shape(), Y.data<T>(),
                                              out, [](T u, T v) { return u + v; });
                         if (ep.residual == 1)
                             convk::applyEpilogue(Y.data<T>(), static_cast<const T*>(nullptr), Y.size(), actOnly);
                     });
    };
}

// ---- ConvTranspose -------------------------------------------------------------------------

struct ConvTransposeConfig {
    WindowAttrs win;
    std::int64_t group = 1;
    std::vector<std::int64_t> outputPadding;
    std::vector<std::int64_t> outputShape;
};

/// Window of a transposed convolution: `in` is X's grid, `out` is Y's, and input position i
/// of tap k lands on output position i*s + k*d - pb.
Window convTransposeWindow(const Node& node, const ConvTransposeConfig& cfg, std::span<const std::int64_t> inDims,
                           std::span<const std::int64_t> kDims)
{
    const WindowAttrs& a = cfg.win;
    const std::size_t r = inDims.size();
    if (r < 1)
        throw Error(node.describe() + ": the input needs at least one spatial axis");
    if (r > 3)
        throw UnsupportedError(node.describe() + ": " + std::to_string(r) + " spatial axes are not supported (at most 3)");
    if ((!a.strides.empty() && a.strides.size() != r) || (!a.dilations.empty() && a.dilations.size() != r) ||
        (!a.pads.empty() && a.pads.size() != 2 * r) || (!cfg.outputPadding.empty() && cfg.outputPadding.size() != r))
        throw Error(node.describe() + ": the window attributes do not match the input's " + std::to_string(r) +
                    " spatial axes");
    // output_shape may list the spatial axes only or the whole output shape (N, M, ...).
    std::vector<std::int64_t> outShape = cfg.outputShape;
    if (outShape.size() == r + 2)
        outShape.erase(outShape.begin(), outShape.begin() + 2);
    if (!outShape.empty() && outShape.size() != r)
        throw Error(node.describe() + ": output_shape has " + std::to_string(cfg.outputShape.size()) +
                    " values for " + std::to_string(r) + " spatial axes");
    Window w;
    w.rank = static_cast<int>(r);
    for (std::size_t i = 0; i < r; ++i) {
        const std::size_t j = 3 - r + i;
        const std::int64_t in = inDims[i], k = kDims[i];
        if (k < 1 || k > ops::kMaxWindowValue)
            throw Error(node.describe() + ": kernel size " + std::to_string(k) + " is out of range");
        const std::int64_t s = a.strides.empty() ? 1 : a.strides[i];
        const std::int64_t d = a.dilations.empty() ? 1 : a.dilations[i];
        const std::int64_t op = cfg.outputPadding.empty() ? 0 : cfg.outputPadding[i];
        const std::int64_t full = s * (in - 1) + op + (k - 1) * d + 1; // output length without padding
        std::int64_t pb = 0, pe = 0, out = 0;
        auto split = [&](std::int64_t total) {
            // ONNX: SAME_UPPER puts the extra padding at the end, otherwise at the beginning.
            if (a.autoPad == ops::AutoPad::SameUpper) {
                pb = ops::floorDiv(total, 2);
                pe = total - pb;
            } else {
                pe = ops::floorDiv(total, 2);
                pb = total - pe;
            }
        };
        if (!outShape.empty()) {
            out = outShape[i];
            if (out < 0 || out > ops::kMaxWindowValue)
                throw Error(node.describe() + ": output_shape value " + std::to_string(out) + " is out of range");
            split(full - out);
        } else if (a.autoPad == ops::AutoPad::SameUpper || a.autoPad == ops::AutoPad::SameLower) {
            out = in * s;
            split(full - out);
        } else if (a.autoPad == ops::AutoPad::Valid) {
            out = full;
        } else {
            pb = a.pads.empty() ? 0 : a.pads[i];
            pe = a.pads.empty() ? 0 : a.pads[i + r];
            out = full - pb - pe;
        }
        if (in < 1 || out < 1)
            throw Error(node.describe() + ": output size " + std::to_string(out) + " on spatial axis " +
                        std::to_string(i) + " is not positive");
        w.setAxis(j, in, k, s, d, pb, pe, out);
    }
    return w;
}

template <class T>
void convTransposeForward(const Node& node, const ConvTransposeConfig& cfg, const Tensor& X, const Tensor& Wt,
                          const Tensor* Bt, Tensor& Y, Scratch& scratch)
{
    // X: (N, C, in...), W: (C, M/G, k...), B: (M) -> Y: (N, M, out...)
    if (X.rank() < 3)
        throw Error(node.describe() + ": input X needs shape (N, C, spatial...), got " + shapeToString(X.shape()));
    if (Wt.rank() != X.rank())
        throw Error(node.describe() + ": weight shape " + shapeToString(Wt.shape()) + " does not match input shape " +
                    shapeToString(X.shape()));
    if (Wt.dtype() != X.dtype() || (Bt && Bt->dtype() != X.dtype()))
        throw Error(node.describe() + ": X, W and B must have the same element type");
    const std::int64_t N = X.dim(0), C = X.dim(1), G = cfg.group;
    if (G < 1 || Wt.dim(0) != C || C % G != 0)
        throw Error(node.describe() + ": input channels " + std::to_string(C) + ", weight shape " +
                    shapeToString(Wt.shape()) + " and group " + std::to_string(G) + " do not agree");
    const std::int64_t Cg = C / G, Mg = Wt.dim(1), M = Mg * G;
    if (Bt && (Bt->rank() != 1 || Bt->dim(0) != M))
        throw Error(node.describe() + ": bias shape " + shapeToString(Bt->shape()) + " should be [" +
                    std::to_string(M) + "]");
    const auto kDims = spatialDims(Wt);
    if (!cfg.win.kernel.empty() && cfg.win.kernel != kDims)
        throw Error(node.describe() + ": kernel_shape does not match the weight shape " + shapeToString(Wt.shape()));
    const auto inDims = spatialDims(X);
    const Window w = convTransposeWindow(node, cfg, inDims, kDims);
    Shape yShape{N, M};
    for (std::int64_t d : w.outDims())
        yShape.push_back(d);
    Y.resize(X.dtype(), yShape);
    if (Y.size() == 0)
        return;
    const std::int64_t inSize = w.inSize(), outSize = w.outSize(), kSize = w.kSize();
    const std::int64_t K2 = Mg * kSize;
    const T* x = X.data<T>();
    const T* wt = Wt.data<T>();
    const T* b = Bt ? Bt->data<T>() : nullptr;
    T* y = Y.data<T>();
    for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t m = 0; m < M; ++m)
            std::fill_n(y + (n * M + m) * outSize, outSize, b ? b[m] : T{});
    if (Cg == 0 || K2 == 0 || inSize == 0)
        return;
    checkBlasDims(node, {K2, inSize, Cg});
    T* col = grow(scratch.get<T>(0), K2 * inSize);
    for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t grp = 0; grp < G; ++grp) {
            // W_g^T: (Mg*k, Cg)  X_g: (Cg, in) -> col: (Mg*k, in), folded onto Y_g: (Mg, out)
            const T* xg = x + (n * C + grp * Cg) * inSize;
            const T* wg = wt + grp * Cg * K2;
            gemm(true, K2, inSize, Cg, wg, K2, xg, inSize, col, inSize);
            col2imAdd(col, Mg, w, y + (n * M + grp * Mg) * outSize);
        }
}

Kernel makeConvTranspose(const KernelContext& ctx)
{
    ConvTransposeConfig cfg;
    cfg.win = WindowAttrs::parse(ctx, false, true);
    cfg.group = ctx.node.attrInt("group", 1);
    if (cfg.group < 1)
        ctx.invalid("group must be positive");
    cfg.outputPadding = ctx.node.attrInts("output_padding");
    cfg.outputShape = ctx.node.attrInts("output_shape");
    for (std::int64_t v : cfg.outputPadding)
        if (v < 0 || v > ops::kMaxWindowValue)
            ctx.invalid("output_padding value " + std::to_string(v) + " is out of range");
    auto scratch = std::make_shared<Scratch>();
    return [cfg, scratch](KernelArgs& a) {
        runFloatConv(a, false, [&](auto t, const Tensor& X, const Tensor& W, const Tensor* B, const Tensor*, Tensor& Y) {
            using T = decltype(t);
            convTransposeForward<T>(a.node(), cfg, X, W, B, Y, *scratch);
        });
    };
}

// ---- ConvInteger ---------------------------------------------------------------------------

/// Element i of an int8/uint8 tensor as int32.
std::int32_t int8At(const Tensor& t, std::int64_t i)
{
    return t.dtype() == DType::UInt8 ? std::int32_t{t.data<std::uint8_t>()[i]} : std::int32_t{t.data<std::int8_t>()[i]};
}

Kernel makeConvInteger(const KernelContext& ctx)
{
    ConvConfig cfg;
    cfg.win = WindowAttrs::parse(ctx, false, true);
    cfg.group = ctx.node.attrInt("group", 1);
    if (cfg.group < 1)
        ctx.invalid("group must be positive");
    auto scratch = std::make_shared<Scratch>();
    struct Floats {
        Tensor x, w, y;                 // (x - x_zero_point), (w - w_zero_point), their convolution
        std::vector<std::int64_t> sums; // the chunks' results, added
    };
    auto floats = std::make_shared<Floats>();
    return [cfg, scratch, floats](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& X = a.input(0);
        const Tensor& Wt = a.input(1);
        const Tensor* xzp = a.optionalInput(2);
        const Tensor* wzp = a.optionalInput(3);
        auto is8 = [](DType t) { return t == DType::UInt8 || t == DType::Int8; };
        if (!is8(X.dtype()) || !is8(Wt.dtype()))
            throw UnsupportedError(node.describe() + ": ConvInteger supports int8/uint8 inputs only");
        if ((xzp && (xzp->dtype() != X.dtype() || xzp->size() != 1)) || (wzp && wzp->dtype() != Wt.dtype()))
            throw Error(node.describe() + ": zero points must be scalars (w_zero_point may be per output channel) of "
                                          "the input's type");
        // The shape checks of Conv (convSetup needs matching element types).
        if (X.rank() < 3 || Wt.rank() != X.rank())
            throw Error(node.describe() + ": input shape " + shapeToString(X.shape()) + " and weight shape " +
                        shapeToString(Wt.shape()) + " do not agree");
        const std::int64_t C = X.dim(1), M = Wt.dim(0), G = cfg.group;
        if (C % G != 0 || M % G != 0 || Wt.dim(1) * G != C)
            throw Error(node.describe() + ": input channels " + std::to_string(C) + ", weight shape " +
                        shapeToString(Wt.shape()) + " and group " + std::to_string(G) + " do not agree");
        const auto kDims = spatialDims(Wt);
        if (!cfg.win.kernel.empty() && cfg.win.kernel != kDims)
            throw Error(node.describe() + ": kernel_shape does not match the weight shape");
        if (wzp && wzp->size() != 1 && wzp->size() != M)
            throw Error(node.describe() + ": w_zero_point must have 1 or " + std::to_string(M) + " values");
        // (x - x_zero_point) and (w - w_zero_point) are integers, and so are their products and
        // sums: a float convolution (the fast kernels) computes them exactly, in any summation
        // order, while every partial sum stays below 2^24. An output's partial sums are bounded
        // by max|x - x_zp| * sum over its weights of |w - w_zp|; input channels are taken in
        // chunks whose bounds add up to less than 2^24, and the chunks' results added in int64.
        // A chunk of one channel beyond that (taps * 255 * 255 >= 2^24: kernels over 258 taps)
        // runs in double (exact below 2^53).
        const std::int32_t xz = xzp ? int8At(*xzp, 0) : 0;
        const std::int64_t Cg = C / G, taps = M * Cg == 0 ? 0 : Wt.size() / (M * Cg);
        std::int64_t xMax = 0;
        for (std::int64_t i = 0; i < X.size(); ++i)
            xMax = std::max<std::int64_t>(xMax, std::abs(int8At(X, i) - xz));
        auto wAt = [&](std::int64_t m, std::int64_t c, std::int64_t t) { // w - w_zero_point
            const std::int32_t wz = wzp ? int8At(*wzp, wzp->size() == 1 ? 0 : m) : 0;
            return int8At(Wt, (m * Cg + c) * taps + t) - wz;
        };
        // bound[c]: the largest sum of |w| over an output's taps of group channel c, times xMax.
        std::vector<std::int64_t> bound(static_cast<std::size_t>(Cg), 0);
        for (std::int64_t m = 0; m < M; ++m)
            for (std::int64_t c = 0; c < Cg; ++c) {
                std::int64_t sum = 0;
                for (std::int64_t t = 0; t < taps; ++t)
                    sum += std::abs(wAt(m, c, t));
                bound[static_cast<std::size_t>(c)] = std::max(bound[static_cast<std::size_t>(c)], sum * xMax);
            }
        constexpr std::int64_t kExact = std::int64_t{1} << 24;
        // Chunks [c0, c1) of every group's channels (groups > 1 run as one chunk).
        std::vector<std::pair<std::int64_t, std::int64_t>> chunks;
        if (G > 1) {
            chunks.emplace_back(0, Cg);
        } else {
            std::int64_t c0 = 0, acc = 0;
            for (std::int64_t c = 0; c < Cg; ++c) {
                if (c > c0 && acc + bound[static_cast<std::size_t>(c)] >= kExact) {
                    chunks.emplace_back(c0, c);
                    c0 = c;
                    acc = 0;
                }
                acc += bound[static_cast<std::size_t>(c)];
            }
            chunks.emplace_back(c0, Cg);
        }
        Tensor& Y = a.output(0);
        std::vector<std::int64_t>& sums = floats->sums;
        for (std::size_t ci = 0; ci < chunks.size(); ++ci) {
            // (Named, not a structured binding: the lambda below captures them, which clang 14 cannot.)
            const std::int64_t c0 = chunks[ci].first, c1 = chunks[ci].second;
            std::int64_t total = 0;
            for (std::int64_t c = c0; c < c1; ++c)
                total += bound[static_cast<std::size_t>(c)];
            auto run = [&](auto zero) {
                using T = decltype(zero);
                const DType dt = std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
                // X's channels [c0, c1) (all of them for groups) and the matching weights. Kept
                // from run to run: large buffers are not allocated (and page-faulted) again.
                const std::int64_t cc = G > 1 ? C : c1 - c0, N = X.dim(0);
                const std::int64_t plane = X.size() / std::max<std::int64_t>(1, N * C);
                Shape xs = X.shape(), ws = Wt.shape();
                xs[1] = cc;
                ws[1] = G > 1 ? Cg : cc;
                Tensor &xf = floats->x, &wf = floats->w, &yf = floats->y;
                xf.resize(dt, xs);
                wf.resize(dt, ws);
                const std::int64_t first = G > 1 ? 0 : c0;
                for (std::int64_t n = 0; n < N; ++n)
                    for (std::int64_t c = 0; c < cc; ++c)
                        for (std::int64_t i = 0; i < plane; ++i)
                            xf.data<T>()[(n * cc + c) * plane + i] =
                                static_cast<T>(int8At(X, (n * C + first + c) * plane + i) - xz);
                const std::int64_t wc = ws[1];
                for (std::int64_t m = 0; m < M; ++m)
                    for (std::int64_t c = 0; c < wc; ++c)
                        for (std::int64_t t = 0; t < taps; ++t)
                            wf.data<T>()[(m * wc + c) * taps + t] = static_cast<T>(wAt(m, first + c, t));
                convForward<T>(node, cfg, xf, wf, nullptr, nullptr, convk::Epilogue{}, yf, *scratch);
                if (ci == 0)
                    sums.assign(static_cast<std::size_t>(yf.size()), 0);
                for (std::int64_t i = 0; i < yf.size(); ++i)
                    sums[static_cast<std::size_t>(i)] += static_cast<std::int64_t>(yf.data<T>()[i]);
                if (ci + 1 == chunks.size())
                    Y.resize(DType::Int32, yf.shape());
            };
            if (total < kExact)
                run(0.0f);
            else
                run(0.0);
        }
        // int32 accumulation as the op defines it (wrapping only if the model overflows it).
        for (std::int64_t i = 0; i < Y.size(); ++i)
            Y.data<std::int32_t>()[i] = static_cast<std::int32_t>(static_cast<std::uint32_t>(sums[static_cast<std::size_t>(i)]));
    };
}

} // namespace

void registerConvOps(OpRegistry& r)
{
    r.add("Conv", 1, makeConv);
    r.add("ConvTranspose", 1, makeConvTranspose);
    r.add("ConvInteger", 10, makeConvInteger);
}

} // namespace leger
