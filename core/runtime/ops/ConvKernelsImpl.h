// Included by ConvKernels.cpp once per ISA, inside a `#pragma GCC target` region and a
// namespace that defines V, the vector traits (register type R, lane count L, masks, the
// GEMM tile MR x (NV * L)). No include guard on purpose; no includes (ConvKernels.cpp
// includes what this needs first).

using R = V::R;
using Mask = V::Mask;
constexpr int L = V::L;
constexpr int MR = V::MR;
constexpr int NV = V::NV;
constexpr std::int64_t NRP = std::int64_t{NV} * L; // columns of a GEMM tile = pitch of a packed B row

// ---- Epilogue ---------------------------------------------------------------------------------

/// The epilogue's constants as vectors, built once per tile.
struct EpV {
    Act act;
    int residual;
    R p0, p1, zero, one, sixth, half;
    explicit EpV(const Epilogue& ep)
        : act(ep.act), residual(ep.residual), p0(V::set1(ep.p0)), p1(V::set1(ep.p1)), zero(V::set1(0.0f)),
          one(V::set1(1.0f)), sixth(V::set1(1.0f / 6.0f)), half(V::set1(0.5f))
    {
    }
};

/// The activation, with the formulas of the standalone ops (see the header of ConvKernels.cpp).
[[gnu::always_inline]] inline R activate(R v, const EpV& e)
{
    switch (e.act) {
    case Act::None: return v;
    case Act::Clip: return V::min(e.p1, V::max(e.p0, v));
    case Act::LeakyRelu: return V::add(V::max(e.zero, v), V::mul(V::min(v, e.zero), e.p0));
    case Act::HardSigmoid: return V::min(e.one, V::max(e.zero, V::add(V::mul(e.p0, v), e.p1)));
    case Act::HardSwish: return V::mul(v, V::min(e.one, V::max(e.zero, V::add(V::mul(v, e.sixth), e.half))));
    }
    return v;
}

/// v (conv + bias) -> act(v [+ r]) [+ r]; r is read only when e.residual.
[[gnu::always_inline]] inline R finish(R v, const float* r, Mask m, bool full, const EpV& e)
{
    if (e.residual == 1)
        v = V::add(v, full ? V::load(r) : V::loadm(r, m));
    v = activate(v, e);
    if (e.residual == 2)
        v = V::add(v, full ? V::load(r) : V::loadm(r, m));
    return v;
}

void epilogueRow(float* y, const float* r, std::int64_t n, const Epilogue& ep)
{
    const EpV e(ep);
    std::int64_t i = 0;
    for (; i + L <= n; i += L)
        V::store(y + i, finish(V::load(y + i), r ? r + i : nullptr, V::mask(L), true, e));
    if (i < n) {
        const Mask m = V::mask(static_cast<int>(n - i));
        V::storem(y + i, finish(V::loadm(y + i, m), r ? r + i : nullptr, m, false, e), m);
    }
}

/// Lanes [lo, hi) of a mask (lo, hi clamped to [0, L]).
[[gnu::always_inline]] inline Mask rangeMask(std::int64_t lo, std::int64_t hi)
{
    lo = std::clamp<std::int64_t>(lo, 0, L);
    hi = std::clamp<std::int64_t>(hi, lo, L);
    return V::andNot(V::mask(static_cast<int>(lo)), V::mask(static_cast<int>(hi)));
}

// ---- GEMM micro-kernels --------------------------------------------------------------------------
//
// C (mr x nv vectors) (+)= A (mr x kc, rows lda apart) * B (kc x nv vectors), then, on the last
// K block, + bias[row], the residual and the activation. B comes either from a packed panel
// (kc x NRP, see packB) or straight from the input (see directKernel).

#define LEGER_UNROLL _Pragma("GCC unroll 16")

enum : int { kAccumulate = 1, kFinalize = 2 };

/// Where the nv vectors of a tile go: row 0 of vector v at c[v] (rows ldc apart), its
/// residual at r[v], lanes[v] valid lanes.
struct TileOut {
    float* c[NV];
    const float* r[NV];
    int lanes[NV];
    std::int64_t ldc;
};

template <int Mr, int Nv>
[[gnu::always_inline]] inline void storeTile(R (&acc)[Mr][Nv], const TileOut& o, int flags, const float* bias,
                                             const Epilogue& ep)
{
    Mask m[Nv];
    bool full[Nv];
    LEGER_UNROLL
    for (int v = 0; v < Nv; ++v) {
        full[v] = o.lanes[v] == L;
        m[v] = V::mask(o.lanes[v]);
    }
    if (flags & kAccumulate) {
        LEGER_UNROLL
        for (int i = 0; i < Mr; ++i)
            LEGER_UNROLL
            for (int v = 0; v < Nv; ++v) {
                const float* ci = o.c[v] + i * o.ldc;
                acc[i][v] = V::add(acc[i][v], full[v] ? V::load(ci) : V::loadm(ci, m[v]));
            }
    }
    if (flags & kFinalize) {
        // Stage by stage over the whole tile, each stage's choice made once.
        if (bias) {
            LEGER_UNROLL
            for (int i = 0; i < Mr; ++i) {
                const R bv = V::set1(bias[i]);
                LEGER_UNROLL
                for (int v = 0; v < Nv; ++v)
                    acc[i][v] = V::add(acc[i][v], bv);
            }
        }
        auto addResidual = [&] {
            LEGER_UNROLL
            for (int i = 0; i < Mr; ++i)
                LEGER_UNROLL
                for (int v = 0; v < Nv; ++v) {
                    const float* ri = o.r[v] + i * o.ldc;
                    acc[i][v] = V::add(acc[i][v], full[v] ? V::load(ri) : V::loadm(ri, m[v]));
                }
        };
        if (ep.residual == 1)
            addResidual();
        if (ep.act == Act::Clip && ep.p1 == std::numeric_limits<float>::infinity()) {
            // Relu: min(+inf, v) is v (NaN included), so only the lower bound.
            const R lo = V::set1(ep.p0);
            LEGER_UNROLL
            for (int i = 0; i < Mr; ++i)
                LEGER_UNROLL
                for (int v = 0; v < Nv; ++v)
                    acc[i][v] = V::max(lo, acc[i][v]);
        } else if (ep.act == Act::Clip) {
            const R lo = V::set1(ep.p0), hi = V::set1(ep.p1);
            LEGER_UNROLL
            for (int i = 0; i < Mr; ++i)
                LEGER_UNROLL
                for (int v = 0; v < Nv; ++v)
                    acc[i][v] = V::min(hi, V::max(lo, acc[i][v]));
        } else if (ep.act != Act::None) {
            const EpV e(ep);
            LEGER_UNROLL
            for (int i = 0; i < Mr; ++i)
                LEGER_UNROLL
                for (int v = 0; v < Nv; ++v)
                    acc[i][v] = activate(acc[i][v], e);
        }
        if (ep.residual == 2)
            addResidual();
    }
    LEGER_UNROLL
    for (int i = 0; i < Mr; ++i)
        LEGER_UNROLL
        for (int v = 0; v < Nv; ++v) {
            float* ci = o.c[v] + i * o.ldc;
            if (full[v])
                V::store(ci, acc[i][v]);
            else
                V::storem(ci, acc[i][v], m[v]);
        }
}

using GemmKernel = void (*)(std::int64_t kc, const float* a, std::int64_t lda, const float* bp, const TileOut& o,
                            int flags, const float* bias, const Epilogue& ep);

/// B from a packed panel: row k of the tile at bp + k * NRP.
template <int Mr, int Nv>
void gemmKernel(std::int64_t kc, const float* a, std::int64_t lda, const float* bp, const TileOut& o, int flags,
                const float* bias, const Epilogue& ep)
{
    // A single K block starts its sums from the bias; otherwise the last block adds it.
    const bool biasFirst = bias && (flags & kFinalize) && !(flags & kAccumulate);
    R acc[Mr][Nv];
    LEGER_UNROLL
    for (int i = 0; i < Mr; ++i) {
        const R b0 = biasFirst ? V::set1(bias[i]) : V::zero();
        LEGER_UNROLL
        for (int v = 0; v < Nv; ++v)
            acc[i][v] = b0;
    }
    const float* ap[Mr];
    LEGER_UNROLL
    for (int i = 0; i < Mr; ++i)
        ap[i] = a + i * lda;
    for (std::int64_t k = 0; k < kc; ++k) {
        R b[Nv];
        LEGER_UNROLL
        for (int v = 0; v < Nv; ++v)
            b[v] = V::load(bp + k * NRP + v * L);
        LEGER_UNROLL
        for (int i = 0; i < Mr; ++i) {
            const R av = V::set1(ap[i][k]);
            LEGER_UNROLL
            for (int v = 0; v < Nv; ++v)
                acc[i][v] = V::fma(av, b[v], acc[i][v]);
        }
    }
    storeTile<Mr, Nv>(acc, o, flags, biasFirst ? nullptr : bias, ep);
}

/// B straight from the input: vector v of row k is L consecutive floats at src[v] + off[k].
/// Unless Inside, vector v loads only the lanes of mask[v] (a partial vector at the end of a
/// plane, which must not read past it).
struct DirectB {
    const float* src[NV];
    Mask mask[NV];
    const std::int64_t* off;
};

using DirectKernel = void (*)(std::int64_t K, const float* a, std::int64_t lda, const DirectB& b, const TileOut& o,
                              const float* bias, const Epilogue& ep);

template <int Mr, int Nv, bool Inside>
void directKernel(std::int64_t K, const float* a, std::int64_t lda, const DirectB& bs, const TileOut& o,
                  const float* bias, const Epilogue& ep)
{
    // The sums start from the bias (one add per output saved in the epilogue).
    R acc[Mr][Nv];
    LEGER_UNROLL
    for (int i = 0; i < Mr; ++i) {
        const R b0 = bias ? V::set1(bias[i]) : V::zero();
        LEGER_UNROLL
        for (int v = 0; v < Nv; ++v)
            acc[i][v] = b0;
    }
    const float* ap[Mr];
    LEGER_UNROLL
    for (int i = 0; i < Mr; ++i)
        ap[i] = a + i * lda;
    const float* src[Nv];
    Mask mk[Nv];
    LEGER_UNROLL
    for (int v = 0; v < Nv; ++v) {
        src[v] = bs.src[v];
        mk[v] = bs.mask[v];
    }
    const float* next = a + MR * lda; // the next panel's rows, fetched while this one computes
    for (std::int64_t k = 0; k < K; ++k) {
        if ((k & 15) == 0) {
            LEGER_UNROLL
            for (int i = 0; i < MR; ++i)
                __builtin_prefetch(next + i * lda + k);
        }
        const std::int64_t off = bs.off[k];
        R b[Nv];
        if constexpr (Inside) {
            LEGER_UNROLL
            for (int v = 0; v < Nv; ++v)
                b[v] = V::load(src[v] + off);
        } else {
            LEGER_UNROLL
            for (int v = 0; v < Nv; ++v)
                b[v] = V::loadm(src[v] + off, mk[v]);
        }
        LEGER_UNROLL
        for (int i = 0; i < Mr; ++i) {
            const R av = V::set1(ap[i][k]);
            LEGER_UNROLL
            for (int v = 0; v < Nv; ++v)
                acc[i][v] = V::fma(av, b[v], acc[i][v]);
        }
    }
    storeTile<Mr, Nv>(acc, o, kFinalize, nullptr, ep);
}

template <bool Inside, int... I> constexpr auto makeDirectTable(std::integer_sequence<int, I...>)
{
    return std::array<DirectKernel, sizeof...(I)>{&directKernel<I / NV + 1, I % NV + 1, Inside>...};
}
/// [Inside][(mr - 1) * NV + nv - 1]
constexpr std::array<std::array<DirectKernel, MR * NV>, 2> kDirectKernels{
    {makeDirectTable<false>(std::make_integer_sequence<int, MR * NV>{}),
     makeDirectTable<true>(std::make_integer_sequence<int, MR * NV>{})}};

template <int... I> constexpr auto makeKernelTable(std::integer_sequence<int, I...>)
{
    return std::array<GemmKernel, sizeof...(I)>{&gemmKernel<I / NV + 1, I % NV + 1>...};
}
/// kGemmKernels[(mr - 1) * NV + nv - 1]
constexpr auto kGemmKernels = makeKernelTable(std::make_integer_sequence<int, MR * NV>{});

// ---- B panel packing (implicit im2col) ------------------------------------------------------------

/// Per row k of the unfolded input: channel offset, row and column offsets of the tap, and the
/// range of output columns whose tap lands inside the input row.
struct KRow {
    std::int64_t chan, offY, offX, oxLo, oxHi;
};

[[gnu::always_inline]] inline void zeroN(float* d, std::int64_t n)
{
    for (std::int64_t i = 0; i < n; ++i)
        d[i] = 0.0f;
}

/// d[i] = s[i * stride] for i < n.
[[gnu::always_inline]] inline void copyStrided(float* __restrict d, const float* __restrict s, std::int64_t n,
                                               std::int64_t stride)
{
    if (stride == 1) {
        std::int64_t i = 0;
        for (; i + L <= n; i += L)
            V::store(d + i, V::load(s + i));
        if (i < n) {
            const Mask m = V::mask(static_cast<int>(n - i));
            V::storem(d + i, V::loadm(s + i, m), m);
        }
    } else if (stride == 2) {
        std::int64_t i = 0;
        for (; i + L <= n; i += L)
            V::store(d + i, V::evenLanes(V::load(s + 2 * i), V::load(s + 2 * i + L)));
        if (i < n) {
            // Elements s[2i .. 2(n-1)] of the 2L read.
            const std::int64_t last = 2 * (n - i - 1); // index of the last element needed
            const R v = V::evenLanes(V::loadm(s + 2 * i, rangeMask(0, last + 1)),
                                     V::loadm(s + 2 * i + L, rangeMask(0, last + 1 - L)));
            V::storem(d + i, v, V::mask(static_cast<int>(n - i)));
        }
    } else {
        for (std::int64_t i = 0; i < n; ++i)
            d[i] = s[i * stride];
    }
}

struct GemmPlan {
    Geom g;
    std::int64_t Cg, Mg, K, inSize, outSize;
    bool pointwise;
    const KRow* ktab;
};

/// Packs rows [k0, k0 + kc) and columns [j0, j0 + nr) of the unfolded input of one group
/// (columns run over images, then output pixels) into bp (kc x NRP), zero beyond nr.
void packB(const GemmPlan& p, const float* xg, std::int64_t k0, std::int64_t kc, std::int64_t j0, std::int64_t nr,
           float* __restrict bp)
{
    const Geom& g = p.g;
    const std::int64_t imgStride = g.C * p.inSize;
    std::int64_t jj = 0;
    while (jj < nr) {
        const std::int64_t img = (j0 + jj) / p.outSize, pix = (j0 + jj) % p.outSize;
        const float* xi = xg + img * imgStride;
        if (p.pointwise) {
            const std::int64_t len = std::min(nr - jj, p.outSize - pix);
            for (std::int64_t k = 0; k < kc; ++k)
                copyStrided(bp + k * NRP + jj, xi + (k0 + k) * p.inSize + pix, len, 1);
            jj += len;
            continue;
        }
        const std::int64_t oy = pix / g.OW, ox = pix % g.OW;
        const std::int64_t len = std::min(nr - jj, g.OW - ox);
        for (std::int64_t k = 0; k < kc; ++k) {
            const KRow& t = p.ktab[k0 + k];
            float* d = bp + k * NRP + jj;
            const std::int64_t iy = oy * g.sh + t.offY;
            if (iy < 0 || iy >= g.H) {
                zeroN(d, len);
                continue;
            }
            const std::int64_t lo = std::clamp(t.oxLo, ox, ox + len), hi = std::clamp(t.oxHi, lo, ox + len);
            zeroN(d, lo - ox);
            const float* row = xi + t.chan + iy * g.W;
            copyStrided(d + (lo - ox), row + lo * g.sw + t.offX, hi - lo, g.sw);
            zeroN(d + (hi - ox), ox + len - hi);
        }
        jj += len;
    }
    const std::int64_t padded = (nr + L - 1) / L * L;
    if (padded > nr)
        for (std::int64_t k = 0; k < kc; ++k)
            zeroN(bp + k * NRP + nr, padded - nr);
}

/// Largest K block of the packed path: a packed B tile (KC x NRP floats) stays in L2, a
/// micro-panel of A (MR x KC) in L1.
constexpr std::int64_t kMaxKc = 512;

/// A buffer of n T from an int64 scratch vector, aligned for T.
template <class T> T* alignedScratch(std::vector<std::int64_t>& buf, std::int64_t n)
{
    const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(T) + alignof(T);
    if (buf.size() * sizeof(std::int64_t) < bytes)
        buf.resize(bytes / sizeof(std::int64_t) + 1);
    void* raw = buf.data();
    std::size_t space = buf.size() * sizeof(std::int64_t);
    return static_cast<T*>(std::align(alignof(T), static_cast<std::size_t>(n) * sizeof(T), raw, space));
}

/// n floats of v, aligned to 64 bytes (vector loads never straddle cache lines).
inline float* alignedFloats(std::vector<float>& v, std::int64_t n)
{
    float* d = growK(v, n + 16);
    const auto a = reinterpret_cast<std::uintptr_t>(d);
    return d + ((64 - a % 64) % 64) / sizeof(float);
}

/// Packed path: B tiles of NRP columns packed from the input, columns running over images and
/// output pixels (so small outputs of several images fill whole tiles); any stride.
void convPacked(const GemmPlan& p, std::int64_t N, const float* x, const float* w, const float* b, const float* r,
                float* y, const Epilogue& ep, Scratch& s)
{
    const Geom& g = p.g;
    const std::int64_t nkb = (p.K + kMaxKc - 1) / kMaxKc;
    const std::int64_t kcMax = (p.K + nkb - 1) / nkb;
    float* bp = growK(s.pack, kcMax * NRP);
    float* ctmp = growK(s.ctmp, p.Mg * NRP);
    float* rtmp = ep.residual ? growK(s.rtmp, p.Mg * NRP) : nullptr;
    const std::int64_t cols = N * p.outSize;
    const std::int64_t yImg = g.M * p.outSize; // image stride of y and r
    for (std::int64_t grp = 0; grp < g.G; ++grp) {
        const float* xg = x + grp * p.Cg * p.inSize;
        const float* wg = w + grp * p.Mg * p.K;
        const float* bg = b ? b + grp * p.Mg : nullptr;
        float* yg = y + grp * p.Mg * p.outSize;
        const float* rg = r ? r + grp * p.Mg * p.outSize : nullptr;
        for (std::int64_t j0 = 0; j0 < cols; j0 += NRP) {
            const std::int64_t nr = std::min(NRP, cols - j0);
            const int nv = static_cast<int>((nr + L - 1) / L);
            const std::int64_t img = j0 / p.outSize, pix = j0 % p.outSize;
            const bool contiguous = pix + nr <= p.outSize;
            float* ct;
            const float* rt = nullptr;
            std::int64_t ldc;
            if (contiguous) {
                ct = yg + img * yImg + pix;
                rt = rg ? rg + img * yImg + pix : nullptr;
                ldc = p.outSize;
            } else {
                // The tile spans images: compute it in ctmp, then scatter.
                ct = ctmp;
                ldc = NRP;
                if (rg) {
                    for (std::int64_t jj = 0; jj < nr;) {
                        const std::int64_t im = (j0 + jj) / p.outSize, px = (j0 + jj) % p.outSize;
                        const std::int64_t len = std::min(nr - jj, p.outSize - px);
                        for (std::int64_t m = 0; m < p.Mg; ++m)
                            copyStrided(rtmp + m * NRP + jj, rg + im * yImg + m * p.outSize + px, len, 1);
                        jj += len;
                    }
                    rt = rtmp;
                }
            }
            TileOut o;
            o.ldc = ldc;
            for (int v = 0; v < NV; ++v)
                o.lanes[v] = static_cast<int>(std::clamp<std::int64_t>(nr - v * L, 0, L));
            for (std::int64_t k0 = 0; k0 < p.K; k0 += kcMax) {
                const std::int64_t kc = std::min(kcMax, p.K - k0);
                packB(p, xg, k0, kc, j0, nr, bp);
                const int flags = (k0 > 0 ? kAccumulate : 0) | (k0 + kc == p.K ? kFinalize : 0);
                for (std::int64_t m0 = 0; m0 < p.Mg; m0 += MR) {
                    const int mr = static_cast<int>(std::min<std::int64_t>(MR, p.Mg - m0));
                    for (int v = 0; v < NV; ++v) {
                        o.c[v] = ct + m0 * ldc + v * L;
                        o.r[v] = rt ? rt + m0 * ldc + v * L : nullptr;
                    }
                    kGemmKernels[static_cast<std::size_t>((mr - 1) * NV + nv - 1)](
                        kc, wg + m0 * p.K + k0, p.K, bp, o, flags, bg ? bg + m0 : nullptr, ep);
                }
            }
            if (!contiguous)
                for (std::int64_t jj = 0; jj < nr;) {
                    const std::int64_t im = (j0 + jj) / p.outSize, px = (j0 + jj) % p.outSize;
                    const std::int64_t len = std::min(nr - jj, p.outSize - px);
                    for (std::int64_t m = 0; m < p.Mg; ++m)
                        copyStrided(yg + im * yImg + m * p.outSize + px, ctmp + m * NRP + jj, len, 1);
                    jj += len;
                }
        }
    }
}

/// Rows m0 .. m0 + MB - 1 of the n (< L) pointwise outputs whose input columns were gathered
/// into col (n x K): dot products along K, then the epilogue.
template <int MB>
void pointwiseDots(std::int64_t K, const float* w, const float* col, int n, const float* bias, const float* r,
                   float* y, std::int64_t ld, const Epilogue& ep)
{
    for (int j = 0; j < n; ++j) {
        const float* cj = col + j * K;
        R acc[MB];
        LEGER_UNROLL
        for (int i = 0; i < MB; ++i)
            acc[i] = V::zero();
        std::int64_t k = 0;
        for (; k + L <= K; k += L) {
            const R xv = V::load(cj + k);
            LEGER_UNROLL
            for (int i = 0; i < MB; ++i)
                acc[i] = V::fma(V::load(w + i * K + k), xv, acc[i]);
        }
        if (k < K) {
            const Mask m = V::mask(static_cast<int>(K - k));
            const R xv = V::loadm(cj + k, m);
            LEGER_UNROLL
            for (int i = 0; i < MB; ++i)
                acc[i] = V::fma(V::loadm(w + i * K + k, m), xv, acc[i]);
        }
        LEGER_UNROLL
        for (int i = 0; i < MB; ++i) {
            float v = V::hsum(acc[i]) + (bias ? bias[i] : 0.0f);
            const float rv = r ? r[i * ld + j] : 0.0f;
            if (ep.residual == 1)
                v += rv;
            v = activateScalar(v, ep);
            if (ep.residual == 2)
                v += rv;
            y[i * ld + j] = v;
        }
    }
}

/// The last n (< L) outputs of a pointwise conv's plane, q0 .. q0 + n - 1, for one image and
/// group: a vector would be mostly empty lanes, dot products waste nothing.
void pointwiseTail(const GemmPlan& p, const float* x, const float* w, const float* b, const float* r, float* y,
                   std::int64_t q0, int n, const Epilogue& ep, Scratch& s)
{
    float* col = growK(s.pack, n * p.K);
    for (int j = 0; j < n; ++j)
        for (std::int64_t k = 0; k < p.K; ++k)
            col[j * p.K + k] = x[k * p.inSize + q0 + j];
    for (std::int64_t m0 = 0; m0 < p.Mg; m0 += 4) {
        const float* wm = w + m0 * p.K;
        const float* bm = b ? b + m0 : nullptr;
        const float* rm = r ? r + m0 * p.outSize + q0 : nullptr;
        float* ym = y + m0 * p.outSize + q0;
        switch (std::min<std::int64_t>(4, p.Mg - m0)) {
        case 4: pointwiseDots<4>(p.K, wm, col, n, bm, rm, ym, p.outSize, ep); break;
        case 3: pointwiseDots<3>(p.K, wm, col, n, bm, rm, ym, p.outSize, ep); break;
        case 2: pointwiseDots<2>(p.K, wm, col, n, bm, rm, ym, p.outSize, ep); break;
        default: pointwiseDots<1>(p.K, wm, col, n, bm, rm, ym, p.outSize, ep); break;
        }
    }
}

/// The NV-vector tiles of the direct path: vectors are added one by one (any rows, any images);
/// a full tile, or flush(), runs the kernels over every output channel of the group.
class DirectTiles {
public:
    DirectTiles(const GemmPlan& p, const float* w, const float* b, const float* r, float* y, const Epilogue& ep,
                const std::int64_t* off)
        : p_(p), w_(w), b_(b), r_(r), y_(y), ep_(ep)
    {
        db_.off = off;
    }
    /// A vector of `lanes` outputs: group grp, image img, at offset `at` of the output plane,
    /// reading its B values at src + off[k].
    void add(std::int64_t grp, std::int64_t img, std::int64_t at, const float* src, int lanes)
    {
        if (nv_ > 0 && grp != grp_)
            flush();
        grp_ = grp;
        db_.src[nv_] = src;
        db_.mask[nv_] = V::mask(lanes);
        dst_[nv_] = (img * p_.g.M + grp * p_.Mg) * p_.outSize + at;
        o_.lanes[nv_] = lanes;
        inside_ = inside_ && lanes == L;
        if (++nv_ == NV)
            flush();
    }
    void flush()
    {
        if (nv_ == 0)
            return;
        o_.ldc = p_.outSize;
        const auto& table = kDirectKernels[inside_ ? 1 : 0];
        for (std::int64_t m0 = 0; m0 < p_.Mg; m0 += MR) {
            const int mr = static_cast<int>(std::min<std::int64_t>(MR, p_.Mg - m0));
            for (int v = 0; v < nv_; ++v) {
                o_.c[v] = y_ + dst_[v] + m0 * p_.outSize;
                o_.r[v] = r_ ? r_ + dst_[v] + m0 * p_.outSize : nullptr;
            }
            const std::int64_t m = grp_ * p_.Mg + m0;
            table[static_cast<std::size_t>((mr - 1) * NV + nv_ - 1)](p_.K, w_ + m * p_.K, p_.K, db_, o_,
                                                                      b_ ? b_ + m : nullptr, ep_);
        }
        nv_ = 0;
        inside_ = true;
    }

private:
    const GemmPlan& p_;
    const float *w_, *b_, *r_;
    float* y_;
    const Epilogue& ep_;
    DirectB db_;
    TileOut o_;
    std::int64_t dst_[NV];
    std::int64_t grp_ = 0;
    int nv_ = 0;
    bool inside_ = true;
};

/// Direct path for pointwise convs: vectors of L outputs along each plane read the input
/// itself; NV of them, from any images, make a tile. A plane's last few outputs go to dot
/// products instead (see pointwiseTail).
void convDirectPointwise(const GemmPlan& p, std::int64_t N, const float* x, const float* w, const float* b,
                         const float* r, float* y, const Epilogue& ep, Scratch& s)
{
    const Geom& g = p.g;
    std::int64_t* off = alignedScratch<std::int64_t>(s.offs, p.K);
    for (std::int64_t k = 0; k < p.K; ++k)
        off[k] = k * p.inSize;
    const std::int64_t tail = p.outSize % L <= L / 2 ? p.outSize % L : 0;
    DirectTiles tiles(p, w, b, r, y, ep, off);
    for (std::int64_t grp = 0; grp < g.G; ++grp) {
        for (std::int64_t img = 0; img < N; ++img) {
            const float* xi = x + (img * g.C + grp * p.Cg) * p.inSize;
            for (std::int64_t q = 0; q < p.outSize - tail; q += L)
                tiles.add(grp, img, q, xi + q, static_cast<int>(std::min<std::int64_t>(L, p.outSize - tail - q)));
        }
        tiles.flush();
        if (tail)
            for (std::int64_t img = 0; img < N; ++img) {
                const std::int64_t yo = (img * g.M + grp * p.Mg) * p.outSize;
                pointwiseTail(p, x + (img * g.C + grp * p.Cg) * p.inSize, w + grp * p.Mg * p.K,
                              b ? b + grp * p.Mg : nullptr, r ? r + yo : nullptr, y + yo, p.outSize - tail,
                              static_cast<int>(tail), ep, s);
            }
    }
}

// ---- Row vectors x a block of output channels, for convs with few input values per output ----
//
// With a short K (e.g. one input channel, 3x3: K = 9) the GEMM tiles spend as much time storing
// as computing. Here a tile is one vector of L outputs along a row for RB output channels:
// RB accumulators, each tap one load of the input and RB FMAs with broadcast weights (packed
// [k][RB] once per call), so the epilogue costs one store per RB x K FMAs. The input comes from
// the phase-split zero-padded copy of convDirectPadded: no masks, no bounds in the K loop.

constexpr int RB = V::RB;

template <int MB>
void rowKernel(std::int64_t K, const float* wt, const std::int64_t* off, const float* src, const float* bias,
               float* y, const float* r, std::int64_t ldc, int lanes, const Epilogue& ep)
{
    R acc[MB][1];
    LEGER_UNROLL
    for (int i = 0; i < MB; ++i)
        acc[i][0] = V::set1(bias[i]);
    for (std::int64_t k = 0; k < K; ++k) {
        const R xv = V::load(src + off[k]);
        const float* wk = wt + k * RB;
        LEGER_UNROLL
        for (int i = 0; i < MB; ++i)
            acc[i][0] = V::fma(V::set1(wk[i]), xv, acc[i][0]);
    }
    TileOut o;
    o.c[0] = y;
    o.r[0] = r;
    o.lanes[0] = lanes;
    o.ldc = ldc;
    storeTile<MB, 1>(acc, o, kFinalize, nullptr, ep);
}

using RowKernel = void (*)(std::int64_t K, const float* wt, const std::int64_t* off, const float* src,
                           const float* bias, float* y, const float* r, std::int64_t ldc, int lanes,
                           const Epilogue& ep);
template <int... I> constexpr auto makeRowTable(std::integer_sequence<int, I...>)
{
    return std::array<RowKernel, sizeof...(I)>{&rowKernel<I + 1>...};
}
/// kRowKernels[mb - 1]
constexpr auto kRowKernels = makeRowTable(std::make_integer_sequence<int, RB>{});

/// Direct path for other 2-D convs: vectors of L outputs along each output row read a
/// zero-padded copy of the image in which every row is split into its S phases (columns
/// j*S + ph for a horizontal stride S), so that each tap of a vector reads L consecutive floats,
/// always inside the copy: no masks, no bounds. One image at a time, while its copy is in cache.
void convDirectPadded(const GemmPlan& p, std::int64_t N, const float* x, const float* w, const float* b,
                      const float* r, float* y, const Epilogue& ep, Scratch& s, bool rows = false)
{
    const Geom& g = p.g;
    const std::int64_t S = g.sw;
    // The copy: Hp rows of S phases of Wq columns; padded column j*S + ph of phase ph is input
    // column j*S + ph - pl. Wq leaves room for the last vector of a row to read L floats.
    const std::int64_t Hp = (g.OH - 1) * g.sh + (g.KH - 1) * g.dh + 1;
    const std::int64_t Wq = (g.OW + L - 1) / L * L + (g.KW - 1) * g.dw / S + 1;
    const std::int64_t rowStride = S * Wq, chanStride = Hp * rowStride;
    float* xp = growK(s.split, g.C * chanStride);
    // Each input row goes into a zero-padded row (its padding written once), which is split.
    const std::int64_t padLen = std::max(S * Wq, g.pl + g.W) + 2 * L;
    float* pr = growK(s.ctmp, padLen);
    zeroN(pr, padLen);
    std::int64_t* off = alignedScratch<std::int64_t>(s.offs, p.K);
    for (std::int64_t c = 0, k = 0; c < p.Cg; ++c)
        for (std::int64_t ky = 0; ky < g.KH; ++ky)
            for (std::int64_t kx = 0; kx < g.KW; ++kx, ++k) {
                const std::int64_t dx = kx * g.dw;
                off[k] = c * chanStride + ky * g.dh * rowStride + (dx % S) * Wq + dx / S;
            }
    DirectTiles tiles(p, w, b, r, y, ep, off);
    // Row mode: weights transposed by blocks of RB channels, wt[grp][blk][k][RB], zero past the
    // last channel; then the blocks' biases, RB each.
    const std::int64_t rblocks = (p.Mg + RB - 1) / RB;
    float* wt = nullptr;
    float* bt = nullptr;
    if (rows) {
        wt = growK(s.pack, g.G * rblocks * (p.K + 1) * RB);
        bt = wt + g.G * rblocks * p.K * RB;
        for (std::int64_t grp = 0; grp < g.G; ++grp)
            for (std::int64_t blk = 0; blk < rblocks; ++blk) {
                float* dst = wt + (grp * rblocks + blk) * p.K * RB;
                for (std::int64_t j = 0; j < RB; ++j) {
                    const std::int64_t m = blk * RB + j;
                    const float* src = w + (grp * p.Mg + m) * p.K;
                    for (std::int64_t k = 0; k < p.K; ++k)
                        dst[k * RB + j] = m < p.Mg ? src[k] : 0.0f;
                    bt[(grp * rblocks + blk) * RB + j] = b && m < p.Mg ? b[grp * p.Mg + m] : 0.0f;
                }
            }
    }
    // The padding is zeroed once; each image then rewrites the same interior rows.
    zeroN(xp, g.C * chanStride);
    const std::int64_t r0 = std::clamp<std::int64_t>(g.pt, 0, Hp);
    const std::int64_t r1 = std::clamp<std::int64_t>(g.pt + g.H, r0, Hp);
    // Stride 1: padded columns [pl, pl + W) of the row, clipped to the copy's width.
    const std::int64_t c0 = std::min<std::int64_t>(g.pl, Wq), c1 = std::min<std::int64_t>(g.pl + g.W, Wq);
    for (std::int64_t img = 0; img < N; ++img) {
        for (std::int64_t plane = 0; plane < g.C; ++plane) {
            const float* in = x + (img * g.C + plane) * p.inSize;
            float* out = xp + plane * chanStride;
            for (std::int64_t row = r0; row < r1; ++row) {
                const float* xr = in + (row - g.pt) * g.W;
                float* o = out + row * rowStride;
                if (S == 1) {
                    copyStrided(o + c0, xr, c1 - c0, 1);
                    continue;
                }
                copyStrided(pr + g.pl, xr, g.W, 1);
                if (S == 2) {
                    std::int64_t j = 0;
                    for (; j + L <= Wq; j += L) {
                        const R lo = V::load(pr + 2 * j), hi = V::load(pr + 2 * j + L);
                        V::store(o + j, V::evenLanes(lo, hi));
                        V::store(o + Wq + j, V::oddLanes(lo, hi));
                    }
                    if (j < Wq) {
                        const Mask m = V::mask(static_cast<int>(Wq - j));
                        const R lo = V::load(pr + 2 * j), hi = V::load(pr + 2 * j + L);
                        V::storem(o + j, V::evenLanes(lo, hi), m);
                        V::storem(o + Wq + j, V::oddLanes(lo, hi), m);
                    }
                } else {
                    for (std::int64_t ph = 0; ph < S; ++ph)
                        for (std::int64_t j = 0; j < Wq; ++j)
                            o[ph * Wq + j] = pr[j * S + ph];
                }
            }
        }
        if (rows) {
            for (std::int64_t grp = 0; grp < g.G; ++grp)
                for (std::int64_t blk = 0; blk < rblocks; ++blk) {
                    const int mb = static_cast<int>(std::min<std::int64_t>(RB, p.Mg - blk * RB));
                    const RowKernel kern = kRowKernels[static_cast<std::size_t>(mb - 1)];
                    const float* wb = wt + (grp * rblocks + blk) * p.K * RB;
                    const float* bb = bt + (grp * rblocks + blk) * RB;
                    const float* xg = xp + grp * p.Cg * chanStride;
                    const std::int64_t yo = (img * g.M + grp * p.Mg + blk * RB) * p.outSize;
                    for (std::int64_t oy = 0; oy < g.OH; ++oy)
                        for (std::int64_t ox0 = 0; ox0 < g.OW; ox0 += L) {
                            const std::int64_t at = yo + oy * g.OW + ox0;
                            kern(p.K, wb, off, xg + oy * g.sh * rowStride + ox0, bb, y + at, r ? r + at : nullptr,
                                 p.outSize, static_cast<int>(std::min<std::int64_t>(L, g.OW - ox0)), ep);
                        }
                }
            continue;
        }
        for (std::int64_t grp = 0; grp < g.G; ++grp)
            for (std::int64_t oy = 0; oy < g.OH; ++oy)
                for (std::int64_t ox0 = 0; ox0 < g.OW; ox0 += L)
                    tiles.add(grp, img, oy * g.OW + ox0, xp + grp * p.Cg * chanStride + oy * g.sh * rowStride + ox0,
                              static_cast<int>(std::min<std::int64_t>(L, g.OW - ox0)));
        tiles.flush(); // before the next image overwrites the copy
    }
}

// ---- Channel-vector GEMM -------------------------------------------------------------------------
//
// The other orientation, for outputs whose rows are narrow: vectors run over output channels
// (the weights, packed transposed once per call), the input values are broadcast, so a tile of
// P pixels wastes no lanes however short the row. P x CVMV vectors accumulate in registers,
// then each L x L block is transposed so that the epilogue and the stores work on rows of
// pixels of one channel. The input is read from a zero-padded copy: no bounds checks.

constexpr int CVMV = V::CVMV; // channel vectors per tile
constexpr int CVP = V::CVP;   // pixels per tile
constexpr std::int64_t CB = std::int64_t{CVMV} * L;

struct CvOut {
    float* y;           // channel 0 of the block, first pixel
    const float* r;     // the same place in the residual, or null
    const float* bias;  // the block's CB biases (zero when the conv has none)
    std::int64_t ldc;   // between channels
    int channels;       // valid channels of the block
};

using CvKernel = void (*)(std::int64_t K, const float* wt, const std::int64_t* off, const float* base,
                          std::int64_t stride, const CvOut& o, const Epilogue& ep);

/// The epilogue of a channel-vector tile: blocks of L pixels x L channels, transposed to rows of
/// pixels, then bias-free finishing (the sums started from the bias) and the stores.
template <int P, int MV>
[[gnu::always_inline]] inline void cvStore(R (&acc)[P][MV], const CvOut& o, const Epilogue& ep)
{
    const EpV e(ep);
    // Blocks of L pixels x L channels, transposed to rows of pixels.
    LEGER_UNROLL
    for (int p0 = 0; p0 < P; p0 += L) {
        const int np = std::min(L, P - p0);
        const Mask m = V::mask(np);
        const bool full = np == L;
        LEGER_UNROLL
        for (int v = 0; v < MV; ++v) {
            R rows[L];
            LEGER_UNROLL
            for (int p = 0; p < L; ++p)
                rows[p] = p0 + p < P ? acc[p0 + p < P ? p0 + p : 0][v] : V::zero();
            V::transpose(rows);
            const int n = std::min(L, o.channels - v * L);
            if (n == L) {
                // All L channels: the epilogue stage by stage over the block.
                R blk[L][1];
                LEGER_UNROLL
                for (int j = 0; j < L; ++j)
                    blk[j][0] = rows[j];
                TileOut t;
                t.c[0] = o.y + v * L * o.ldc + p0;
                t.r[0] = o.r ? o.r + v * L * o.ldc + p0 : nullptr;
                t.lanes[0] = np;
                t.ldc = o.ldc;
                storeTile<L, 1>(blk, t, kFinalize, nullptr, ep);
                continue;
            }
            for (int j = 0; j < n; ++j) {
                const std::int64_t c = v * L + j;
                const R t = finish(rows[j], o.r ? o.r + c * o.ldc + p0 : nullptr, m, full, e);
                if (full)
                    V::store(o.y + c * o.ldc + p0, t);
                else
                    V::storem(o.y + c * o.ldc + p0, t, m);
            }
        }
    }
}


template <int P, int MV, int S>
void cvKernel(std::int64_t K, const float* wt, const std::int64_t* off, const float* base, std::int64_t stride,
              const CvOut& o, const Epilogue& ep)
{
    const std::int64_t st = S > 0 ? S : stride;
    // The sums start from the bias (CB channels, zero past the last).
    R acc[P][MV];
    LEGER_UNROLL
    for (int v = 0; v < MV; ++v) {
        const R b0 = V::load(o.bias + v * L);
        LEGER_UNROLL
        for (int p = 0; p < P; ++p)
            acc[p][v] = b0;
    }
    for (std::int64_t k = 0; k < K; ++k) {
        const float* xk = base + off[k];
        R wv[MV];
        LEGER_UNROLL
        for (int v = 0; v < MV; ++v)
            wv[v] = V::load(wt + k * CB + v * L);
        LEGER_UNROLL
        for (int p = 0; p < P; ++p) {
            const R bv = V::set1(xk[p * st]);
            LEGER_UNROLL
            for (int v = 0; v < MV; ++v)
                acc[p][v] = V::fma(bv, wv[v], acc[p][v]);
        }
    }
    cvStore<P, MV>(acc, o, ep);
}

template <int MV, int S, int... I> constexpr auto makeCvRow(std::integer_sequence<int, I...>)
{
    return std::array<CvKernel, sizeof...(I)>{&cvKernel<I + 1, MV, S>...};
}
template <int S, int... J> constexpr auto makeCvTable(std::integer_sequence<int, J...>)
{
    return std::array<std::array<CvKernel, CVP>, sizeof...(J)>{makeCvRow<J + 1, S>(std::make_integer_sequence<int, CVP>{})...};
}
/// [stride: 0 = any, 1, 2][mv - 1][p - 1]
const std::array<std::array<std::array<CvKernel, CVP>, CVMV>, 3> kCvKernels{
    {makeCvTable<0>(std::make_integer_sequence<int, CVMV>{}), makeCvTable<1>(std::make_integer_sequence<int, CVMV>{}),
     makeCvTable<2>(std::make_integer_sequence<int, CVMV>{})}};

/// Channel vectors for 3x3, stride 2, pad 1 windows that end inside the input (2 OW <= W,
/// 2 OH <= H; the usual downsampling conv): the broadcasts read the image itself, no padded copy
/// (which cost ~8 % of the time). Only the top row (ky = 0 of output row 0, skipped by ky0 = 1)
/// and the left column (kx = 0 of pixel 0 when Left) fall in the padding. x points at input row
/// 2 oy - 1 + ky0, column 2 ox0 of channel 0; wt as for cvKernel, k = (c * 3 + ky) * 3 + kx.
template <int P, int MV, bool Left>
void cvDirect3s2(std::int64_t Cg, const float* wt, const float* x, std::int64_t inSize, std::int64_t W, int ky0,
                 const CvOut& o, const Epilogue& ep)
{
    R acc[P][MV];
    LEGER_UNROLL
    for (int v = 0; v < MV; ++v) {
        const R b0 = V::load(o.bias + v * L);
        LEGER_UNROLL
        for (int p = 0; p < P; ++p)
            acc[p][v] = b0;
    }
    for (std::int64_t c = 0; c < Cg; ++c)
        for (int ky = ky0; ky < 3; ++ky) {
            const float* row = x + c * inSize + (ky - ky0) * W;
            const float* wk = wt + (c * 9 + ky * 3) * CB;
            LEGER_UNROLL
            for (int kx = 0; kx < 3; ++kx) {
                // Opaque to the compiler, so that it does not share broadcasts between taps
                // (tap kx + 2 of pixel p is tap kx of pixel p + 1): that runs out of registers.
                const float* xk = row + kx;
                asm("" : "+r"(xk));
                R wv[MV];
                LEGER_UNROLL
                for (int v = 0; v < MV; ++v)
                    wv[v] = V::load(wk + kx * CB + v * L);
                LEGER_UNROLL
                for (int p = 0; p < P; ++p) {
                    if (Left && p == 0 && kx == 0)
                        continue; // column -1: padding
                    const R bv = V::set1(xk[2 * p - 1]); // column 2 (ox0 + p) + kx - 1
                    LEGER_UNROLL
                    for (int v = 0; v < MV; ++v)
                        acc[p][v] = V::fma(bv, wv[v], acc[p][v]);
                }
            }
        }
    cvStore<P, MV>(acc, o, ep);
}

using CvDirectKernel = void (*)(std::int64_t Cg, const float* wt, const float* x, std::int64_t inSize,
                                std::int64_t W, int ky0, const CvOut& o, const Epilogue& ep);
template <int MV, bool Left, int... I> constexpr auto makeCvDirectRow(std::integer_sequence<int, I...>)
{
    return std::array<CvDirectKernel, sizeof...(I)>{&cvDirect3s2<I + 1, MV, Left>...};
}
template <bool Left, int... J> constexpr auto makeCvDirectTable(std::integer_sequence<int, J...>)
{
    return std::array<std::array<CvDirectKernel, CVP>, sizeof...(J)>{
        makeCvDirectRow<J + 1, Left>(std::make_integer_sequence<int, CVP>{})...};
}
/// [left column in the tile][mv - 1][p - 1]
const std::array<std::array<std::array<CvDirectKernel, CVP>, CVMV>, 2> kCvDirectKernels{
    {makeCvDirectTable<false>(std::make_integer_sequence<int, CVMV>{}),
     makeCvDirectTable<true>(std::make_integer_sequence<int, CVMV>{})}};

void convChannelVectors(const GemmPlan& p, std::int64_t N, const float* x, const float* w, const float* b,
                        const float* r, float* y, const Epilogue& ep, Scratch& s)
{
    const Geom& g = p.g;
    const bool direct = g.KH == 3 && g.KW == 3 && g.sh == 2 && g.sw == 2 && g.dh == 1 && g.dw == 1 && g.pt == 1 &&
                        g.pl == 1 && 2 * g.OW <= g.W && 2 * g.OH <= g.H;
    // Zero-padded copy of the input: exactly the rows and columns the windows read.
    const std::int64_t Hp = (g.OH - 1) * g.sh + (g.KH - 1) * g.dh + 1;
    const std::int64_t Wp = (g.OW - 1) * g.sw + (g.KW - 1) * g.dw + 1;
    const std::int64_t plane = Hp * Wp;
    float* xp = growK(s.split, direct ? 0 : g.C * plane);
    // The padding is zeroed once; each image then rewrites the same interior.
    if (!direct)
        zeroN(xp, g.C * plane);
    const std::int64_t c0 = std::clamp<std::int64_t>(g.pl, 0, Wp);
    const std::int64_t c1 = std::clamp<std::int64_t>(g.pl + g.W, c0, Wp);
    const std::int64_t r0 = std::clamp<std::int64_t>(g.pt, 0, Hp);
    const std::int64_t r1 = std::clamp<std::int64_t>(g.pt + g.H, r0, Hp);
    auto padImage = [&](std::int64_t img) {
        for (std::int64_t pl = 0; pl < g.C; ++pl) {
            const float* in = x + (img * g.C + pl) * p.inSize + (c0 - g.pl);
            float* out = xp + pl * plane + c0;
            for (std::int64_t row = r0; row < r1; ++row)
                copyStrided(out + row * Wp, in + (row - g.pt) * g.W, c1 - c0, 1);
        }
    };
    std::int64_t* off = alignedScratch<std::int64_t>(s.offs, p.K);
    {
        std::int64_t k = 0;
        for (std::int64_t c = 0; c < p.Cg; ++c)
            for (std::int64_t ky = 0; ky < g.KH; ++ky)
                for (std::int64_t kx = 0; kx < g.KW; ++kx, ++k)
                    off[k] = c * plane + ky * g.dh * Wp + kx * g.dw;
    }
    // Weights transposed by blocks of CB channels: wt[block][k][CB], zero past the last channel;
    // then the blocks' biases, CB each.
    const std::int64_t blocks = (p.Mg + CB - 1) / CB;
    float* wt = alignedFloats(s.pack, g.G * blocks * (p.K + 1) * CB);
    float* bt = wt + g.G * blocks * p.K * CB;
    for (std::int64_t grp = 0; grp < g.G; ++grp)
        for (std::int64_t j = 0; j < blocks * CB; ++j)
            bt[grp * blocks * CB + j] = b && j < p.Mg ? b[grp * p.Mg + j] : 0.0f;
    for (std::int64_t grp = 0; grp < g.G; ++grp)
        for (std::int64_t blk = 0; blk < blocks; ++blk) {
            float* dst = wt + (grp * blocks + blk) * p.K * CB;
            for (std::int64_t j = 0; j < CB; ++j) {
                const std::int64_t m = blk * CB + j;
                const float* src = w + (grp * p.Mg + m) * p.K;
                for (std::int64_t k = 0; k < p.K; ++k)
                    dst[k * CB + j] = m < p.Mg ? src[k] : 0.0f;
            }
        }
    const std::size_t si = g.sw == 1 ? 1 : g.sw == 2 ? 2 : 0;
    const std::int64_t tiles = (g.OW + CVP - 1) / CVP;
    for (std::int64_t img = 0; img < N; ++img) {
        // One image at a time, while its padded copy is in cache.
        if (!direct)
            padImage(img);
        for (std::int64_t grp = 0; grp < g.G; ++grp)
            for (std::int64_t blk = 0; blk < blocks; ++blk) {
                const int channels = static_cast<int>(std::min(CB, p.Mg - blk * CB));
                const int mv = (channels + L - 1) / L;
                const auto& row = kCvKernels[si][static_cast<std::size_t>(mv - 1)];
                const float* wb = wt + (grp * blocks + blk) * p.K * CB;
                const std::int64_t m0 = grp * p.Mg + blk * CB;
                CvOut o;
                o.ldc = p.outSize;
                o.channels = channels;
                o.bias = bt + (grp * blocks + blk) * CB;
                const float* xi = xp + grp * p.Cg * plane;
                const std::int64_t yo = (img * g.M + m0) * p.outSize;
                for (std::int64_t oy = 0; oy < g.OH; ++oy)
                    for (std::int64_t t = 0, ox0 = 0; t < tiles; ++t) {
                        // Tiles of a row as even as possible (14 = 7 + 7, not 12 + 2).
                        const int np = static_cast<int>(g.OW / tiles + (t < g.OW % tiles ? 1 : 0));
                        const std::int64_t at = yo + oy * g.OW + ox0;
                        o.y = y + at;
                        o.r = r ? r + at : nullptr;
                        if (direct) {
                            const auto& dk = kCvDirectKernels[ox0 == 0 ? 1 : 0][static_cast<std::size_t>(mv - 1)];
                            const int ky0 = oy == 0 ? 1 : 0;
                            const float* xs =
                                x + (img * g.C + grp * p.Cg) * p.inSize + (2 * oy - 1 + ky0) * g.W + 2 * ox0;
                            dk[static_cast<std::size_t>(np - 1)](p.Cg, wb, xs, p.inSize, g.W, ky0, o, ep);
                            ox0 += np;
                            continue;
                        }
                        row[static_cast<std::size_t>(np - 1)](p.K, wb, off, xi + oy * g.sh * Wp + ox0 * g.sw, g.sw,
                                                             o, ep);
                        ox0 += np;
                    }
            }
    }
}

bool convGemmImpl(const Geom& g, std::int64_t N, const float* x, const float* w, const float* b, const float* r,
                  float* y, const Epilogue& ep, Scratch& s)
{
    GemmPlan p;
    p.g = g;
    p.Cg = g.C / g.G;
    p.Mg = g.M / g.G;
    const std::int64_t ks = g.KH * g.KW;
    p.K = p.Cg * ks;
    p.inSize = g.H * g.W;
    p.outSize = g.OH * g.OW;
    p.pointwise = ks == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.OH == g.H && g.OW == g.W;
    p.ktab = nullptr;
    // The direct path wastes the lanes of partial vectors; the packed one spends time packing
    // but fills whole tiles with the outputs of several images.
    if (p.pointwise) {
        if (N == 1 || p.outSize % L <= L / 2 || p.outSize >= 4 * NRP) {
            convDirectPointwise(p, N, x, w, b, r, y, ep, s);
            return true;
        }
    } else {
        // Lanes the two orientations fill: pixels of a row, or output channels.
        const double rowFill = double(g.OW) / double((g.OW + L - 1) / L * L);
        const double chanFill = double(p.Mg) / double((p.Mg + L - 1) / L * L);
        if (p.K >= 32 && chanFill > rowFill + 0.05) {
            convChannelVectors(p, N, x, w, b, r, y, ep, s);
            return true;
        }
        if (2 * g.OW >= L) {
            // Up to K = 64 (measured: faster below ~40 taps, even at 72), tiles of one row
            // vector for RB channels rather than the GEMM-like MR x NV tiles.
            convDirectPadded(p, N, x, w, b, r, y, ep, s, p.K <= 64);
            return true;
        }
    }
    if (!p.pointwise) {
        const std::size_t bytes = static_cast<std::size_t>(p.K) * sizeof(KRow);
        s.ktab.resize((bytes + sizeof(std::int64_t) - 1) / sizeof(std::int64_t));
        KRow* kt = reinterpret_cast<KRow*>(s.ktab.data());
        std::int64_t k = 0;
        for (std::int64_t c = 0; c < p.Cg; ++c)
            for (std::int64_t ky = 0; ky < g.KH; ++ky)
                for (std::int64_t kx = 0; kx < g.KW; ++kx, ++k) {
                    KRow& t = kt[k];
                    t.chan = c * p.inSize;
                    t.offY = ky * g.dh - g.pt;
                    t.offX = kx * g.dw - g.pl;
                    // ox * sw + offX in [0, W)
                    t.oxLo = std::max<std::int64_t>(0, ceilDivK(-t.offX, g.sw));
                    t.oxHi = std::max(t.oxLo, floorDivK(g.W - 1 - t.offX, g.sw) + 1);
                }
        p.ktab = kt;
    }
    convPacked(p, N, x, w, b, r, y, ep, s);
    return true;
}

// ---- Depthwise convolution ------------------------------------------------------------------------
//
// One channel plane at a time, one output row at a time, L outputs per vector: each tap is a
// (masked) load of the input row at the tap's offset (stride 2: two loads and an even-lane
// permute), so padding costs nothing and nothing is copied. Rows of the window that fall in
// the padding are skipped.

/// The load masks of one output vector of a row (the same for every row and plane).
template <int K> struct TapMasks {
    bool inside; // every tap reads inside the row: plain loads
    Mask m0[K];  // lanes (stride 2: the first L input columns) each tap may read
    Mask m1[K];  // stride 2: the next L input columns
};

/// NR output rows (r = 0..NR-1) at one column block: rows[q] is input row q of the window of
/// output row 0 (output row r reads rows q = r*S .. r*S+K-1), nullptr where it is padding.
/// Two partial sums per row keep four multiply-add chains in flight.
template <int K, int S, int NR, bool Inside>
[[gnu::always_inline]] inline void depthwiseBlock(const float* const* rows, std::int64_t ix0, const TapMasks<K>& tm,
                                                  const R* wv, R bv, R* out)
{
    constexpr int Q = K + S * (NR - 1);
    R acc[NR][2];
    for (int r = 0; r < NR; ++r) {
        acc[r][0] = bv;
        acc[r][1] = V::zero();
    }
    for (int q = 0; q < Q; ++q) {
        if (!rows[q])
            continue;
        const float* p = rows[q] + ix0;
        R v[K];
        for (int kx = 0; kx < K; ++kx) {
            if constexpr (S == 1)
                v[kx] = Inside ? V::load(p + kx) : V::loadm(p + kx, tm.m0[kx]);
            else
                v[kx] = Inside ? V::evenLanes(V::load(p + kx), V::load(p + kx + L))
                               : V::evenLanes(V::loadm(p + kx, tm.m0[kx]), V::loadm(p + kx + L, tm.m1[kx]));
        }
        for (int r = 0; r < NR; ++r) {
            const int ky = q - r * S;
            if (ky < 0 || ky >= K)
                continue;
            for (int kx = 0; kx < K; ++kx)
                acc[r][ky & 1] = V::fma(wv[ky * K + kx], v[kx], acc[r][ky & 1]);
        }
    }
    for (int r = 0; r < NR; ++r)
        out[r] = V::add(acc[r][0], acc[r][1]);
}

template <int K, int S, int NR>
[[gnu::always_inline]] inline void depthwiseRows(const float* const* rows, std::int64_t OW, std::int64_t pl,
                                                 const TapMasks<K>* masks, const R* wv, R bv, const float* r,
                                                 float* y, std::int64_t OWstride, const EpV& e)
{
    for (std::int64_t ox0 = 0, j = 0; ox0 < OW; ox0 += L, ++j) {
        const TapMasks<K>& tm = masks[j];
        const std::int64_t ix0 = ox0 * S - pl; // input column of lane 0, tap 0
        R out[NR];
        if (tm.inside)
            depthwiseBlock<K, S, NR, true>(rows, ix0, tm, wv, bv, out);
        else
            depthwiseBlock<K, S, NR, false>(rows, ix0, tm, wv, bv, out);
        const std::int64_t n = std::min<std::int64_t>(L, OW - ox0);
        const bool full = n == L;
        const Mask m = V::mask(static_cast<int>(n));
        for (int q = 0; q < NR; ++q) {
            float* yq = y + q * OWstride + ox0;
            const R v = finish(out[q], r ? r + q * OWstride + ox0 : nullptr, m, full, e);
            if (full)
                V::store(yq, v);
            else
                V::storem(yq, v, m);
        }
    }
}

template <int K, int S>
void depthwisePlane(const float* x, std::int64_t H, std::int64_t W, std::int64_t OH, std::int64_t OW,
                    std::int64_t pt, const TapMasks<K>* masks, std::int64_t pl, const float* wk, float bias,
                    const float* r, float* y, const EpV& e)
{
    R wv[K * K];
    for (int t = 0; t < K * K; ++t)
        wv[t] = V::set1(wk[t]);
    const R bv = V::set1(bias);
    constexpr int Q2 = K + S; // input rows of two output rows
    std::int64_t oy = 0;
    for (; oy + 2 <= OH; oy += 2) {
        const float* rows[Q2];
        for (int q = 0; q < Q2; ++q) {
            const std::int64_t iy = oy * S - pt + q;
            rows[q] = iy >= 0 && iy < H ? x + iy * W : nullptr;
        }
        depthwiseRows<K, S, 2>(rows, OW, pl, masks, wv, bv, r ? r + oy * OW : nullptr, y + oy * OW, OW, e);
    }
    if (oy < OH) {
        const float* rows[K];
        for (int q = 0; q < K; ++q) {
            const std::int64_t iy = oy * S - pt + q;
            rows[q] = iy >= 0 && iy < H ? x + iy * W : nullptr;
        }
        depthwiseRows<K, S, 1>(rows, OW, pl, masks, wv, bv, r ? r + oy * OW : nullptr, y + oy * OW, OW, e);
    }
}

template <int K, int S>
void depthwiseAll(const Geom& g, std::int64_t N, const float* x, const float* w, const float* b, const float* r,
                  float* y, const EpV& e, Scratch& s)
{
    // Masks of each output vector of a row: the input columns [0, W) its taps may read.
    const std::int64_t nvec = (g.OW + L - 1) / L;
    const std::size_t bytes = static_cast<std::size_t>(nvec) * sizeof(TapMasks<K>) + alignof(TapMasks<K>);
    s.ktab.resize(bytes / sizeof(std::int64_t) + 1);
    void* raw = s.ktab.data();
    std::size_t space = s.ktab.size() * sizeof(std::int64_t);
    auto* masks = static_cast<TapMasks<K>*>(std::align(alignof(TapMasks<K>), sizeof(TapMasks<K>) * nvec, raw, space));
    const std::int64_t span = S == 1 ? L : 2 * L; // input columns a tap reads
    for (std::int64_t j = 0; j < nvec; ++j) {
        TapMasks<K>& tm = masks[j];
        const std::int64_t ix0 = j * L * S - g.pl;
        tm.inside = ix0 >= 0 && ix0 + (K - 1) + span <= g.W;
        for (int kx = 0; kx < K; ++kx) {
            const std::int64_t start = ix0 + kx;
            tm.m0[kx] = rangeMask(-start, g.W - start);
            tm.m1[kx] = rangeMask(-start - L, g.W - start - L);
        }
    }
    const std::int64_t inSize = g.H * g.W, outSize = g.OH * g.OW, ks = g.KH * g.KW;
    for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t c = 0; c < g.C; ++c) {
            const std::int64_t plane = n * g.C + c;
            depthwisePlane<K, S>(x + plane * inSize, g.H, g.W, g.OH, g.OW, g.pt, masks, g.pl, w + c * ks,
                                 b ? b[c] : 0.0f, r ? r + plane * outSize : nullptr, y + plane * outSize, e);
        }
}

/// Depthwise convolution of small planes, L channels at a time: the block's input is transposed
/// into a zero-padded pixel-major copy (L channels per pixel), every output pixel is then one
/// multiply-add per tap for L channels (no lanes wasted on short rows, no bounds), and L pixels'
/// results are transposed back into rows of the channels' planes for the epilogue. Unit
/// dilation, K x K taps.
template <int K>
void depthwiseChannelVectors(const Geom& g, std::int64_t N, const float* x, const float* w, const float* b,
                             const float* r, float* y, const Epilogue& ep, Scratch& s)
{
    const EpV e(ep);
    const std::int64_t Hp = (g.OH - 1) * g.sh + K, Wp = (g.OW - 1) * g.sw + K;
    const std::int64_t inSize = g.H * g.W, outSize = g.OH * g.OW;
    const std::int64_t rowL = Wp * L; // floats between padded rows
    // The copy, plus one pixel of scratch where input pixels outside the read extent go.
    float* xt = growK(s.split, (Hp * Wp + 1) * L);
    zeroN(xt, Hp * Wp * L); // the padding; the interior is rewritten for every block
    // Where each input pixel goes in the copy, and where each output pixel's window starts.
    std::int64_t* dstOff = alignedScratch<std::int64_t>(s.offs, inSize + outSize);
    std::int64_t* srcOff = dstOff + inSize;
    for (std::int64_t iy = 0, f = 0; iy < g.H; ++iy)
        for (std::int64_t ix = 0; ix < g.W; ++ix, ++f) {
            const std::int64_t py = iy + g.pt, px = ix + g.pl;
            dstOff[f] = py < Hp && px < Wp ? py * rowL + px * L : Hp * Wp * L; // unread: the spare pixel
        }
    for (std::int64_t oy = 0, f = 0; oy < g.OH; ++oy)
        for (std::int64_t ox = 0; ox < g.OW; ++ox, ++f)
            srcOff[f] = oy * g.sh * rowL + ox * g.sw * L;
    for (std::int64_t c0 = 0; c0 < g.C; c0 += L) {
        const int nc = static_cast<int>(std::min<std::int64_t>(L, g.C - c0));
        R wv[K * K];
        alignas(64) float t[L];
        for (int k = 0; k < K * K; ++k) {
            for (int j = 0; j < L; ++j)
                t[j] = j < nc ? w[(c0 + j) * K * K + k] : 0.0f;
            wv[k] = V::load(t);
        }
        for (int j = 0; j < L; ++j)
            t[j] = b && j < nc ? b[c0 + j] : 0.0f;
        const R bias = V::load(t);
        for (std::int64_t n = 0; n < N; ++n) {
            const float* xc = x + (n * g.C + c0) * inSize;
            // Transpose the block in, L input pixels (of the flattened plane) at a time.
            for (std::int64_t f0 = 0; f0 < inSize; f0 += L) {
                const int np = static_cast<int>(std::min<std::int64_t>(L, inSize - f0));
                const Mask cm = V::mask(np);
                R rows[L];
                LEGER_UNROLL
                for (int j = 0; j < L; ++j)
                    rows[j] = j < nc ? V::loadm(xc + j * inSize + f0, cm) : V::zero();
                V::transpose(rows);
                const std::int64_t* d = dstOff + f0;
                if (np == L) {
                    LEGER_UNROLL
                    for (int i = 0; i < L; ++i)
                        V::store(xt + d[i], rows[i]);
                } else {
                    for (int i = 0; i < np; ++i)
                        V::store(xt + d[i], rows[i]);
                }
            }
            // L output pixels at a time (flat indices f0 .. f0 + L - 1 of the plane).
            const std::int64_t yo = (n * g.C + c0) * outSize;
            for (std::int64_t f0 = 0; f0 < outSize; f0 += L) {
                const int np = static_cast<int>(std::min<std::int64_t>(L, outSize - f0));
                R acc[L];
                LEGER_UNROLL
                for (int p = 0; p < L; ++p) {
                    // Past the last pixel, compute pixel 0 again (discarded) rather than branch.
                    const float* px = xt + srcOff[f0 + (p < np ? p : 0)];
                    R a0 = bias, a1 = V::zero();
                    LEGER_UNROLL
                    for (int ky = 0; ky < K; ++ky)
                        LEGER_UNROLL
                        for (int kx = 0; kx < K; ++kx) {
                            const R v = V::load(px + ky * rowL + kx * L);
                            if (ky & 1)
                                a1 = V::fma(wv[ky * K + kx], v, a1);
                            else
                                a0 = V::fma(wv[ky * K + kx], v, a0);
                        }
                    acc[p] = V::add(a0, a1);
                }
                V::transpose(acc);
                const Mask m = V::mask(np);
                const bool full = np == L;
                for (int j = 0; j < nc; ++j) {
                    float* yj = y + yo + j * outSize + f0;
                    const R v = finish(acc[j], r ? r + yo + j * outSize + f0 : nullptr, m, full, e);
                    if (full)
                        V::store(yj, v);
                    else
                        V::storem(yj, v, m);
                }
            }
        }
    }
}

bool convDepthwiseImpl(const Geom& g, std::int64_t N, const float* x, const float* w, const float* b,
                       const float* r, float* y, const Epilogue& ep, Scratch& s)
{
    // Short output rows leave most lanes of the row kernel empty (measured: channel vectors win
    // up to 10 outputs per row, or 16 with stride 2, whose row kernel needs twice the loads).
    if (g.OW <= 10 || (g.sw >= 2 && g.OW <= 16)) {
        if (g.KH == 3)
            depthwiseChannelVectors<3>(g, N, x, w, b, r, y, ep, s);
        else if (g.KH == 5)
            depthwiseChannelVectors<5>(g, N, x, w, b, r, y, ep, s);
        else
            return false;
        return true;
    }
    const EpV e(ep);
    if (g.KH == 3 && g.sh == 1)
        depthwiseAll<3, 1>(g, N, x, w, b, r, y, e, s);
    else if (g.KH == 3 && g.sh == 2)
        depthwiseAll<3, 2>(g, N, x, w, b, r, y, e, s);
    else if (g.KH == 5 && g.sh == 1)
        depthwiseAll<5, 1>(g, N, x, w, b, r, y, e, s);
    else if (g.KH == 5 && g.sh == 2)
        depthwiseAll<5, 2>(g, N, x, w, b, r, y, e, s);
    else
        return false;
    return true;
}

// ---- Single-row products (GEMV) -------------------------------------------------------------------
//
// Memory-bound: each weight is read once; several rows or columns at a time keep enough loads
// in flight.

template <int RB>
[[gnu::always_inline]] inline void gemvDots(std::int64_t K, const float* a, const float* B, std::int64_t ldb,
                                            float* out)
{
    R acc[RB][2];
    LEGER_UNROLL
    for (int i = 0; i < RB; ++i)
        acc[i][0] = acc[i][1] = V::zero();
    std::int64_t k = 0;
    for (; k + 2 * L <= K; k += 2 * L) {
        const R a0 = V::load(a + k), a1 = V::load(a + k + L);
        LEGER_UNROLL
        for (int i = 0; i < RB; ++i) {
            acc[i][0] = V::fma(V::load(B + i * ldb + k), a0, acc[i][0]);
            acc[i][1] = V::fma(V::load(B + i * ldb + k + L), a1, acc[i][1]);
        }
    }
    for (; k < K; k += L) {
        const Mask m = V::mask(static_cast<int>(std::min<std::int64_t>(L, K - k)));
        const R a0 = V::loadm(a + k, m);
        LEGER_UNROLL
        for (int i = 0; i < RB; ++i)
            acc[i][0] = V::fma(V::loadm(B + i * ldb + k, m), a0, acc[i][0]);
    }
    LEGER_UNROLL
    for (int i = 0; i < RB; ++i)
        out[i] = V::hsum(V::add(acc[i][0], acc[i][1]));
}

void gemvImpl(bool transB, std::int64_t N, std::int64_t K, float alpha, const float* a, const float* B,
              std::int64_t ldb, float beta, float* c)
{
    auto finishAt = [&](std::int64_t j, float dot) { c[j] = alpha * dot + (beta == 0.0f ? 0.0f : beta * c[j]); };
    if (transB) {
        std::int64_t j = 0;
        float d[4];
        for (; j + 4 <= N; j += 4) {
            gemvDots<4>(K, a, B + j * ldb, ldb, d);
            for (int i = 0; i < 4; ++i)
                finishAt(j + i, d[i]);
        }
        for (; j < N; ++j) {
            gemvDots<1>(K, a, B + j * ldb, ldb, d);
            finishAt(j, d[0]);
        }
        return;
    }
    // c[j] = sum_k a[k] B[k][j]: blocks of 4 vectors of columns, rows streamed.
    constexpr std::int64_t CB = 4 * L;
    for (std::int64_t j0 = 0; j0 < N; j0 += CB) {
        const std::int64_t nj = std::min(CB, N - j0);
        R acc[4] = {V::zero(), V::zero(), V::zero(), V::zero()};
        Mask m[4];
        for (int v = 0; v < 4; ++v)
            m[v] = V::mask(static_cast<int>(std::clamp<std::int64_t>(nj - v * L, 0, L)));
        if (nj == CB) {
            for (std::int64_t k = 0; k < K; ++k) {
                const R av = V::set1(a[k]);
                const float* row = B + k * ldb + j0;
                LEGER_UNROLL
                for (int v = 0; v < 4; ++v)
                    acc[v] = V::fma(V::load(row + v * L), av, acc[v]);
            }
        } else {
            for (std::int64_t k = 0; k < K; ++k) {
                const R av = V::set1(a[k]);
                const float* row = B + k * ldb + j0;
                LEGER_UNROLL
                for (int v = 0; v < 4; ++v)
                    acc[v] = V::fma(V::loadm(row + v * L, m[v]), av, acc[v]);
            }
        }
        alignas(64) float t[CB];
        for (int v = 0; v < 4; ++v)
            V::store(t + v * L, acc[v]);
        for (std::int64_t j = 0; j < nj; ++j)
            finishAt(j0 + j, t[j]);
    }
}
