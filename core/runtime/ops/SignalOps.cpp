// Signal processing: DFT (opsets 17, 20), STFT, HannWindow, HammingWindow, BlackmanWindow and
// MelWeightMatrix (opset 17).
//
// Complex tensors are real tensors with a trailing axis of 2 (real, imaginary); a trailing
// axis of 1 holds a real signal. Transforms run in double: a radix-2 FFT when the length is
// a power of two, Bluestein's chirp-z algorithm (a power-of-two convolution) for long other
// lengths, and a direct DFT over a table of roots of unity for short ones.

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <memory>
#include <numbers>

#include "runtime/OpRegistry.h"
#include "runtime/ops/OpUtil.h"
#include "runtime/ops/Widen.h"

namespace leger {

namespace {

using I64 = std::int64_t;
using Cplx = std::complex<double>;

// ---- transforms ------------------------------------------------------------------------------

bool isPowerOfTwo(I64 n) { return n > 0 && (n & (n - 1)) == 0; }

/// e^(sign * 2*pi*i * k / n), with k reduced mod n first so large products stay accurate.
Cplx rootOfUnity(I64 k, I64 n, double sign)
{
    const double a = sign * 2 * std::numbers::pi * static_cast<double>(k % n) / static_cast<double>(n);
    return {std::cos(a), std::sin(a)};
}

/// Forward DFTs of one length n (X[k] = sum_j x[j] e^(-2 pi i jk/n)); tables built once and
/// reused for every line of a tensor.
class Fft {
public:
    explicit Fft(I64 n) : n_(n)
    {
        if (isPowerOfTwo(n)) {
            kind_ = Kind::Radix2;
            initRadix2(n, roots_, rev_);
        } else if (n <= kDirectMax) {
            kind_ = Kind::Direct;
            roots_.resize(static_cast<std::size_t>(n));
            for (I64 k = 0; k < n; ++k)
                roots_[static_cast<std::size_t>(k)] = rootOfUnity(k, n, -1);
        } else {
            // Bluestein: jk = (j^2 + k^2 - (k-j)^2) / 2 turns the DFT into a convolution with
            // the chirp w[j] = e^(-pi i j^2 / n), done by power-of-two FFTs of length m >= 2n-1.
            kind_ = Kind::Bluestein;
            I64 m = 1;
            while (m < 2 * n - 1)
                m *= 2;
            inner_ = std::make_unique<Fft>(m);
            chirp_.resize(static_cast<std::size_t>(n));
            for (I64 j = 0; j < n; ++j) {
                // j^2 mod 2n keeps the angle small (exact in 64 bits for any realistic n).
                const I64 q = (j % (2 * n)) * (j % (2 * n)) % (2 * n);
                chirp_[static_cast<std::size_t>(j)] = rootOfUnity(q, 2 * n, -1);
            }
            // The convolution kernel conj(w[j]) for |j| < n, wrapped to length m and transformed.
            kernel_.assign(static_cast<std::size_t>(m), Cplx{});
            kernel_[0] = std::conj(chirp_[0]);
            for (I64 j = 1; j < n; ++j)
                kernel_[static_cast<std::size_t>(j)] = kernel_[static_cast<std::size_t>(m - j)] =
                    std::conj(chirp_[static_cast<std::size_t>(j)]);
            inner_->forward(kernel_.data());
            work_.resize(static_cast<std::size_t>(m));
        }
        if (kind_ == Kind::Direct)
            work_.resize(static_cast<std::size_t>(n));
    }

    I64 size() const { return n_; }

    /// In place, x: [n].
    void forward(Cplx* x)
    {
        switch (kind_) {
        case Kind::Radix2: radix2(x); break;
        case Kind::Direct: direct(x); break;
        case Kind::Bluestein: bluestein(x); break;
        }
    }

    /// In place, x: [n]; the unnormalised inverse (sign +1), via conj(F(conj(x))).
    void backward(Cplx* x)
    {
        for (I64 i = 0; i < n_; ++i)
            x[i] = std::conj(x[i]);
        forward(x);
        for (I64 i = 0; i < n_; ++i)
            x[i] = std::conj(x[i]);
    }

private:
    enum class Kind { Radix2, Direct, Bluestein };
    static constexpr I64 kDirectMax = 64;

    static void initRadix2(I64 n, std::vector<Cplx>& roots, std::vector<I64>& rev)
    {
        roots.resize(static_cast<std::size_t>(n / 2));
        for (I64 k = 0; k < n / 2; ++k)
            roots[static_cast<std::size_t>(k)] = rootOfUnity(k, n, -1);
        rev.assign(static_cast<std::size_t>(n), 0);
        int bits = 0;
        while ((I64{1} << bits) < n)
            ++bits;
        for (I64 i = 0; i < n; ++i) {
            I64 r = 0;
            for (int b = 0; b < bits; ++b)
                if (i & (I64{1} << b))
                    r |= I64{1} << (bits - 1 - b);
            rev[static_cast<std::size_t>(i)] = r;
        }
    }

    /// Iterative Cooley-Tukey: bit-reversal permutation, then log2(n) butterfly passes.
    void radix2(Cplx* x) const
    {
        for (I64 i = 0; i < n_; ++i) {
            const I64 r = rev_[static_cast<std::size_t>(i)];
            if (i < r)
                std::swap(x[i], x[r]);
        }
        for (I64 len = 2; len <= n_; len *= 2) {
            const I64 half = len / 2, step = n_ / len;
            for (I64 start = 0; start < n_; start += len)
                for (I64 j = 0; j < half; ++j) {
                    const Cplx t = roots_[static_cast<std::size_t>(j * step)] * x[start + j + half];
                    x[start + j + half] = x[start + j] - t;
                    x[start + j] += t;
                }
        }
    }

    void direct(Cplx* x)
    {
        for (I64 k = 0; k < n_; ++k) {
            Cplx s{};
            I64 idx = 0; // j*k mod n, advanced by k
            for (I64 j = 0; j < n_; ++j) {
                s += x[j] * roots_[static_cast<std::size_t>(idx)];
                idx += k;
                if (idx >= n_)
                    idx -= n_;
            }
            work_[static_cast<std::size_t>(k)] = s;
        }
        std::copy(work_.begin(), work_.end(), x);
    }

    void bluestein(Cplx* x)
    {
        const I64 m = inner_->size();
        std::fill(work_.begin(), work_.end(), Cplx{});
        for (I64 j = 0; j < n_; ++j)
            work_[static_cast<std::size_t>(j)] = x[j] * chirp_[static_cast<std::size_t>(j)];
        inner_->forward(work_.data());
        for (I64 i = 0; i < m; ++i)
            work_[static_cast<std::size_t>(i)] *= kernel_[static_cast<std::size_t>(i)];
        inner_->backward(work_.data());
        const double scale = 1.0 / static_cast<double>(m);
        for (I64 k = 0; k < n_; ++k)
            x[k] = work_[static_cast<std::size_t>(k)] * chirp_[static_cast<std::size_t>(k)] * scale;
    }

    I64 n_;
    Kind kind_ = Kind::Direct;
    std::vector<Cplx> roots_; // Radix2: e^(-2 pi i k/n), k < n/2; Direct: k < n
    std::vector<I64> rev_;    // Radix2: bit-reversed index
    std::vector<Cplx> chirp_, kernel_; // Bluestein: [n] chirp, [m] transformed kernel
    std::unique_ptr<Fft> inner_;       // Bluestein: length-m radix-2 transform
    std::vector<Cplx> work_;           // Direct: [n]; Bluestein: [m]
};

/// What a DFT or STFT kernel keeps between runs: the transform of the last length used
/// (rebuilt only when the length changes) and a line buffer.
struct TransformState {
    std::unique_ptr<Fft> fft;
    std::vector<Cplx> line; // [n], one line being transformed

    Fft& prepare(I64 n)
    {
        if (!fft || fft->size() != n)
            fft = std::make_unique<Fft>(n);
        line.resize(static_cast<std::size_t>(n));
        return *fft;
    }
};

// ---- helpers ---------------------------------------------------------------------------------

/// A scalar (or one-element) integer input.
I64 scalarInt(const Node& node, const Tensor& t, const char* name)
{
    if (t.size() != 1 || !isInteger(t.dtype()))
        throw Error(node.describe() + ": " + name + " must be one integer, got " + std::string(dtypeName(t.dtype())) +
                    " " + shapeToString(t.shape()));
    return t.toInt64Vector()[0];
}

/// A scalar (or one-element) floating-point input, as double.
double scalarFloat(const Node& node, const Tensor& t, const char* name)
{
    if (t.size() != 1 || !isFloating(t.dtype()))
        throw Error(node.describe() + ": " + name + " must be one floating-point value, got " +
                    std::string(dtypeName(t.dtype())) + " " + shapeToString(t.shape()));
    return t.at(0);
}

template <class T> T fromDouble(double v)
{
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
        return T::fromFloat(static_cast<float>(v));
    else
        return static_cast<T>(v); // integers truncate toward zero, as numpy's astype does
}

/// out = values (shape), converted to dtype (any numeric type).
void storeValues(Tensor& out, DType dtype, Shape shape, const std::vector<double>& values, const Node& node)
{
    out.resize(dtype, std::move(shape));
    auto fill = [&](auto t) {
        using T = decltype(t);
        T* o = out.data<T>();
        for (std::size_t i = 0; i < values.size(); ++i)
            o[i] = fromDouble<T>(values[i]);
    };
    switch (dtype) {
    case DType::Float16: fill(Half{}); break;
    case DType::BFloat16: fill(BFloat16{}); break;
    default: ops::dispatchNumeric(dtype, fill, node);
    }
}

/// The output_datatype attribute (default float); throws UnsupportedError for types Leger
/// cannot produce.
DType outputDatatype(const KernelContext& ctx)
{
    const std::int64_t onnxType = ctx.node.attrInt("output_datatype", 1);
    const DType t = dtypeFromOnnx(static_cast<int>(onnxType));
    if (t == DType::Undefined || t == DType::Bool || t == DType::String)
        ctx.unsupported("output_datatype " + std::to_string(onnxType));
    return t;
}

/// Runs fn(T{}, X, Y) for float and double, widening float16/bfloat16 to float32.
template <class Fn> void withFloat(const Node& node, const Tensor& X, Tensor& Y, Fn&& fn)
{
    if (ops::isHalfFloat(X.dtype())) {
        const Tensor xf = ops::widenToFloat(X);
        Tensor yf;
        fn(float{}, xf, yf);
        ops::narrowFromFloat(yf, X.dtype(), Y);
        return;
    }
    ops::dispatchFloat(X.dtype(), [&](auto t) { fn(t, X, Y); }, node);
}

/// Checks a signal [..., 1 | 2] and returns its complex width.
I64 complexWidth(const Node& node, const Tensor& x, const char* name)
{
    if (x.rank() < 2 || (x.dim(-1) != 1 && x.dim(-1) != 2))
        throw Error(node.describe() + ": " + name + " must end in an axis of 1 (real) or 2 (complex), got " +
                    shapeToString(x.shape()));
    return x.dim(-1);
}

// ---- DFT -------------------------------------------------------------------------------------

struct DftConfig {
    bool inverse = false;
    bool onesided = false;
    I64 axis = 1;
    bool axisInput = false; // opset 20: the axis is input 2 (default -2)
};

Kernel makeDft(const KernelContext& ctx)
{
    DftConfig cfg;
    cfg.inverse = ctx.node.attrInt("inverse", 0) != 0;
    cfg.onesided = ctx.node.attrInt("onesided", 0) != 0;
    if (ctx.opset >= 20) {
        cfg.axisInput = true;
        cfg.axis = -2;
    } else {
        cfg.axis = ctx.node.attrInt("axis", 1);
    }
    // The spec leaves an inverse onesided transform (a complex-to-real inverse) undefined.
    if (cfg.inverse && cfg.onesided)
        ctx.unsupported("inverse DFT with onesided=1");
    auto state = std::make_shared<TransformState>();
    return [cfg, state](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& X = a.input(0);
        const I64 cw = complexWidth(node, X, "input");
        const int r = X.rank();
        I64 axis = cfg.axis;
        if (cfg.axisInput && a.hasInput(2))
            axis = scalarInt(node, a.input(2), "axis");
        if (axis < 0)
            axis += r;
        if (axis < 0 || axis > r - 2)
            throw Error(node.describe() + ": axis " + std::to_string(axis) + " is not a signal axis of input " +
                        shapeToString(X.shape()));
        const int ax = static_cast<int>(axis);
        const I64 len = X.dim(ax);
        const I64 n = a.hasInput(1) ? scalarInt(node, a.input(1), "dft_length") : len;
        if (n < 1)
            throw Error(node.describe() + ": dft_length " + std::to_string(n) + " must be at least 1");
        const I64 outLen = cfg.onesided ? n / 2 + 1 : n;
        I64 outer = 1, inner = 1;
        for (int d = 0; d < ax; ++d)
            outer *= X.dim(d);
        for (int d = ax + 1; d < r - 1; ++d)
            inner *= X.dim(d);
        Shape outShape = X.shape();
        outShape[static_cast<std::size_t>(ax)] = outLen;
        outShape.back() = 2;
        Fft& fft = state->prepare(n);
        std::vector<Cplx>& buf = state->line; // [n], one line along the axis
        const I64 used = std::min(len, n); // numpy's n: truncate or zero-pad
        withFloat(node, X, a.output(0), [&](auto t, const Tensor& x, Tensor& y) {
            using T = decltype(t);
            y.resize(dtypeOf<T>(), outShape);
            const T* xp = x.data<T>(); // [outer, len, inner, cw]
            T* yp = y.data<T>();       // [outer, outLen, inner, 2]
            const double scale = cfg.inverse ? 1.0 / static_cast<double>(n) : 1.0;
            for (I64 o = 0; o < outer; ++o)
                for (I64 i = 0; i < inner; ++i) {
                    for (I64 j = 0; j < n; ++j) {
                        if (j >= used) {
                            buf[static_cast<std::size_t>(j)] = {};
                            continue;
                        }
                        const T* p = xp + ((o * len + j) * inner + i) * cw;
                        buf[static_cast<std::size_t>(j)] = {static_cast<double>(p[0]), cw == 2 ? static_cast<double>(p[1]) : 0.0};
                    }
                    if (cfg.inverse)
                        fft.backward(buf.data());
                    else
                        fft.forward(buf.data());
                    for (I64 k = 0; k < outLen; ++k) {
                        T* q = yp + ((o * outLen + k) * inner + i) * 2;
                        q[0] = static_cast<T>(buf[static_cast<std::size_t>(k)].real() * scale);
                        q[1] = static_cast<T>(buf[static_cast<std::size_t>(k)].imag() * scale);
                    }
                }
        });
    };
}

// ---- STFT ------------------------------------------------------------------------------------

Kernel makeStft(const KernelContext& ctx)
{
    const bool onesided = ctx.node.attrInt("onesided", 1) != 0;
    auto state = std::make_shared<TransformState>();
    return [onesided, state](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& S = a.input(0);
        const I64 cw = complexWidth(node, S, "signal");
        if (S.rank() != 3)
            throw Error(node.describe() + ": signal must be [batch, length, 1 or 2], got " + shapeToString(S.shape()));
        const I64 batch = S.dim(0), len = S.dim(1);
        const I64 step = scalarInt(node, a.input(1), "frame_step");
        const Tensor* window = a.optionalInput(2);
        if (window && (window->rank() != 1 || window->dtype() != S.dtype()))
            throw Error(node.describe() + ": window must be 1-D of the signal's type, got " +
                        std::string(dtypeName(window->dtype())) + " " + shapeToString(window->shape()));
        // Frame length: the input, else the window's length, else the whole signal (as the
        // ONNX reference does).
        I64 frameLen = window ? window->dim(0) : len;
        if (a.hasInput(3)) {
            frameLen = scalarInt(node, a.input(3), "frame_length");
            if (window && window->dim(0) != frameLen)
                throw Error(node.describe() + ": window length " + std::to_string(window->dim(0)) +
                            " differs from frame_length " + std::to_string(frameLen));
        }
        if (step < 1)
            throw Error(node.describe() + ": frame_step " + std::to_string(step) + " must be at least 1");
        if (frameLen < 1 || frameLen > len)
            throw Error(node.describe() + ": frame length " + std::to_string(frameLen) + " must be in [1, " +
                        std::to_string(len) + "]");
        const I64 frames = 1 + (len - frameLen) / step;
        const I64 bins = onesided ? frameLen / 2 + 1 : frameLen;
        Fft& fft = state->prepare(frameLen);
        std::vector<Cplx>& buf = state->line; // [frameLen], one windowed frame
        std::vector<double> w(static_cast<std::size_t>(frameLen), 1.0); // [frameLen]
        if (window)
            for (I64 j = 0; j < frameLen; ++j)
                w[static_cast<std::size_t>(j)] = window->at(j);
        withFloat(node, S, a.output(0), [&](auto t, const Tensor& s, Tensor& y) {
            using T = decltype(t);
            y.resize(dtypeOf<T>(), {batch, frames, bins, 2});
            const T* sp = s.data<T>(); // [batch, len, cw]
            T* yp = y.data<T>();       // [batch, frames, bins, 2]
            for (I64 b = 0; b < batch; ++b)
                for (I64 f = 0; f < frames; ++f) {
                    for (I64 j = 0; j < frameLen; ++j) {
                        const T* p = sp + (b * len + f * step + j) * cw;
                        const double wj = w[static_cast<std::size_t>(j)];
                        buf[static_cast<std::size_t>(j)] = {wj * static_cast<double>(p[0]),
                                                            cw == 2 ? wj * static_cast<double>(p[1]) : 0.0};
                    }
                    fft.forward(buf.data());
                    T* q = yp + (b * frames + f) * bins * 2;
                    for (I64 k = 0; k < bins; ++k) {
                        q[2 * k] = static_cast<T>(buf[static_cast<std::size_t>(k)].real());
                        q[2 * k + 1] = static_cast<T>(buf[static_cast<std::size_t>(k)].imag());
                    }
                }
        });
    };
}

// ---- windows ---------------------------------------------------------------------------------

/// Generalised cosine windows: a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N), N = size when
/// periodic, size - 1 when symmetric.
struct CosineWindow {
    double a0, a1, a2;
};

Kernel makeWindow(const KernelContext& ctx, CosineWindow c)
{
    const DType dtype = outputDatatype(ctx);
    const bool periodic = ctx.node.attrInt("periodic", 1) != 0;
    return [dtype, periodic, c](KernelArgs& a) {
        const Node& node = a.node();
        const I64 size = scalarInt(node, a.input(0), "size");
        if (size < 0)
            throw Error(node.describe() + ": size " + std::to_string(size) + " is negative");
        std::vector<double> v(static_cast<std::size_t>(size)); // [size]
        const double N = static_cast<double>(periodic ? size : size - 1);
        for (I64 i = 0; i < size; ++i) {
            // A symmetric window of one sample would divide by zero; it is [1] (as numpy and
            // PyTorch give).
            if (N == 0) {
                v[static_cast<std::size_t>(i)] = 1;
                continue;
            }
            const double x = 2 * std::numbers::pi * static_cast<double>(i) / N;
            v[static_cast<std::size_t>(i)] = c.a0 - c.a1 * std::cos(x) + c.a2 * std::cos(2 * x);
        }
        storeValues(a.output(0), dtype, {size}, v, node);
    };
}

// ---- MelWeightMatrix -------------------------------------------------------------------------

/// Python's float floor division a // b (CPython's float_floor_div), which numpy follows.
double floorDivide(double a, double b)
{
    double mod = std::fmod(a, b);
    double div = (a - mod) / b;
    if (mod != 0 && ((b < 0) != (mod < 0)))
        div -= 1;
    if (div == 0)
        return std::copysign(0.0, a / b);
    double fl = std::floor(div);
    if (div - fl > 0.5)
        fl += 1;
    return fl;
}

Kernel makeMelWeightMatrix(const KernelContext& ctx)
{
    const DType dtype = outputDatatype(ctx);
    return [dtype](KernelArgs& a) {
        const Node& node = a.node();
        const I64 mels = scalarInt(node, a.input(0), "num_mel_bins");
        const I64 dftLength = scalarInt(node, a.input(1), "dft_length");
        const I64 sampleRate = scalarInt(node, a.input(2), "sample_rate");
        const double lower = scalarFloat(node, a.input(3), "lower_edge_hertz");
        const double upper = scalarFloat(node, a.input(4), "upper_edge_hertz");
        if (mels < 0 || dftLength < 1 || sampleRate < 1)
            throw Error(node.describe() + ": num_mel_bins must be >= 0, dft_length and sample_rate >= 1");
        const I64 specBins = dftLength / 2 + 1;
        // The ONNX reference computes the mel edges in float32 (its inputs' type) and the rest
        // in float64; bin edges are floored, so this is followed step by step.
        auto toMel = [](double hz) {
            const float f = static_cast<float>(hz);
            return static_cast<double>(2595.0f * std::log10(1.0f + f / 700.0f));
        };
        const double lowMel = toMel(lower), highMel = toMel(upper);
        const double melStep =
            static_cast<double>(static_cast<float>(highMel - lowMel) / static_cast<float>(mels + 2));
        std::vector<I64> edge(static_cast<std::size_t>(mels + 2)); // [mels + 2] spectrogram bins
        for (I64 i = 0; i < mels + 2; ++i) {
            const double mel = static_cast<double>(i) * melStep + lowMel;
            const double hz = 700 * (std::pow(10.0, mel / 2595) - 1);
            const double bin = floorDivide(static_cast<double>(dftLength + 1) * hz, static_cast<double>(sampleRate));
            if (!(bin >= -1e15 && bin <= 1e15))
                throw Error(node.describe() + ": mel band edges are not finite");
            edge[static_cast<std::size_t>(i)] = static_cast<I64>(bin);
        }
        std::vector<double> out(static_cast<std::size_t>(specBins * mels), 0.0); // [specBins, mels]
        auto put = [&](I64 j, I64 i, double v) {
            if (j < 0 || j >= specBins)
                throw Error(node.describe() + ": mel band " + std::to_string(i) + " reaches frequency bin " +
                            std::to_string(j) + ", outside [0, " + std::to_string(specBins) +
                            "); check lower_edge_hertz, upper_edge_hertz and sample_rate");
            out[static_cast<std::size_t>(j * mels + i)] = v;
        };
        for (I64 i = 0; i < mels; ++i) {
            const I64 lo = edge[static_cast<std::size_t>(i)], center = edge[static_cast<std::size_t>(i) + 1],
                      hi = edge[static_cast<std::size_t>(i) + 2];
            const I64 up = center - lo;
            if (up == 0)
                put(center, i, 1);
            else
                for (I64 j = lo; j <= center; ++j)
                    put(j, i, static_cast<double>(j - lo) / static_cast<double>(up));
            const I64 down = hi - center;
            if (down > 0)
                for (I64 j = center; j < hi; ++j)
                    put(j, i, static_cast<double>(hi - j) / static_cast<double>(down));
        }
        storeValues(a.output(0), dtype, {specBins, mels}, out, node);
    };
}

} // namespace

void registerSignalOps(OpRegistry& r)
{
    r.add("DFT", 17, makeDft);
    r.add("STFT", 17, makeStft);
    r.add("HannWindow", 17, [](const KernelContext& ctx) { return makeWindow(ctx, {0.5, 0.5, 0}); });
    r.add("HammingWindow", 17,
          [](const KernelContext& ctx) { return makeWindow(ctx, {25.0 / 46.0, 21.0 / 46.0, 0}); });
    r.add("BlackmanWindow", 17, [](const KernelContext& ctx) { return makeWindow(ctx, {0.42, 0.5, 0.08}); });
    r.add("MelWeightMatrix", 17, makeMelWeightMatrix);
}

} // namespace leger
