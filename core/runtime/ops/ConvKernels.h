#pragma once
// Float32 convolution kernels with run-time ISA dispatch (AVX2+FMA, AVX-512; the baseline
// build assumes only SSE2): a tiled GEMM whose B panels are packed straight from the input
// (implicit im2col, several images side by side), and depthwise 3x3 / 5x5 kernels; both
// with a fused epilogue (bias, activation, residual add) applied while the output tile is
// still in registers. ConvOps.cpp chooses between these and its generic paths.
//
// Each kernel exists once, as templates over a vector-ISA traits class, compiled for every
// ISA in its own `#pragma GCC target` region of ConvKernels.cpp.

#include <cstdint>
#include <vector>

namespace leger::ops::convk {

enum class Isa { Baseline, Avx2, Avx512 };

/// The ISA the kernels use: the best one the CPU supports, unless lowered by setIsa.
Isa isa();
/// Selects a lower ISA (for tests and comparisons); levels the CPU lacks are clamped.
void setIsa(Isa level);
/// Restores the CPU's best ISA.
void resetIsa();
const char* isaName(Isa level);

/// Pointwise function applied to conv outputs. Relu is Clip(0, +inf).
enum class Act : std::int32_t { None, Clip, LeakyRelu, HardSigmoid, HardSwish };

/// y = act(conv + bias [+ r]) [+ r], computed with the same formulas (and NaN behaviour)
/// as the standalone ops.
struct Epilogue {
    Act act = Act::None;
    float p0 = 0.0f; // Clip: lower bound; LeakyRelu, HardSigmoid: alpha
    float p1 = 0.0f; // Clip: upper bound; HardSigmoid: beta
    /// 0: no residual; 1: the residual is added before the activation; 2: after it.
    int residual = 0;
    bool trivial() const { return act == Act::None && residual == 0; }
};

/// A 2-D convolution (1-D convolutions have H = OH = KH = 1) on NCHW tensors.
struct Geom {
    std::int64_t C = 0, H = 0, W = 0;   // input channels (all groups) and grid
    std::int64_t M = 0, OH = 0, OW = 0; // output channels (all groups) and grid
    std::int64_t G = 1;
    std::int64_t KH = 1, KW = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0;
};

/// Scratch buffers a prepared kernel keeps from run to run.
struct Scratch {
    std::vector<float> pack, ctmp, rtmp, split;
    std::vector<std::int64_t> ktab, offs; // int64 storage, aligned for what they hold
};

/// y (N, M, OH, OW) = epilogue(W (M, C/G, KH, KW) * x (N, C, H, W) + b), with the GEMM
/// kernels; r (the residual, y's shape) only when ep.residual. Returns false (nothing done)
/// when the active ISA has no GEMM kernels.
bool convGemm(const Geom& g, std::int64_t N, const float* x, const float* w, const float* b, const float* r, float* y,
              const Epilogue& ep, Scratch& s);

/// Depthwise convolution (G == C == M, KH == KW in {3, 5}, unit dilation) with the
/// epilogue. Returns false when the ISA or the geometry is not covered.
bool convDepthwise(const Geom& g, std::int64_t N, const float* x, const float* w, const float* b, const float* r,
                   float* y, const Epilogue& ep, Scratch& s);

/// c (N) = alpha * op(B) a + beta * c for a single row a (K), with B stored (N, K) (transB, rows
/// ldb apart: dot products) or (K, N) (rows ldb apart: scaled row sums). beta == 0 overwrites c.
/// Returns false when the active ISA has no kernel. (Used by ops::gemm for M == 1.)
bool gemv(bool transB, std::int64_t N, std::int64_t K, float alpha, const float* a, const float* B, std::int64_t ldb,
          float beta, float* c);

/// The epilogue alone, on n values of y that already hold conv + bias; r as y (or null).
void applyEpilogue(float* y, const float* r, std::int64_t n, const Epilogue& ep);
void applyEpilogue(double* y, const double* r, std::int64_t n, const Epilogue& ep);

} // namespace leger::ops::convk
