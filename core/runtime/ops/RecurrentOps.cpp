// LSTM, GRU and RNN. The input projection X W^T (plus biases) of every time step and direction
// is one GEMM over all seq*batch rows; only the recurrent product h R^T runs per step, batched
// over the batch. Variable sequence lengths are handled per batch entry: an entry stops
// updating (forward) or starts at its own last step (reverse), and Y is zero past its length.

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <tuple>

#include "runtime/OpRegistry.h"
#include "runtime/ops/Blas.h"
#include "runtime/ops/OpUtil.h"

namespace leger {

namespace {

enum class Cell { Rnn, Gru, Lstm };

/// One of the activation functions the recurrent ops accept by name.
struct Activation {
    enum class Kind {
        Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus
    };
    Kind kind = Kind::Sigmoid;
    float alpha = 0, beta = 0;

    /// v[i] = f(v[i]) for i < n.
    template <class T> void apply(T* v, std::int64_t n) const
    {
        const T a = static_cast<T>(alpha), b = static_cast<T>(beta);
        switch (kind) {
        case Kind::Relu:
            for (std::int64_t i = 0; i < n; ++i)
                v[i] = std::max(v[i], T(0));
            break;
        case Kind::Tanh:
            for (std::int64_t i = 0; i < n; ++i)
                v[i] = std::tanh(v[i]);
            break;
        case Kind::Sigmoid:
            for (std::int64_t i = 0; i < n; ++i)
                v[i] = T(1) / (T(1) + std::exp(-v[i]));
            break;
        case Kind::Affine:
            for (std::int64_t i = 0; i < n; ++i)
                v[i] = a * v[i] + b;
            break;
        case Kind::LeakyRelu:
            for (std::int64_t i = 0; i < n; ++i)
                v[i] = v[i] < T(0) ? a * v[i] : v[i];
            break;
        case Kind::ThresholdedRelu:
            for (std::int64_t i = 0; i < n; ++i)
                v[i] = v[i] > a ? v[i] : T(0);
            break;
        case Kind::ScaledTanh:
            for (std::int64_t i = 0; i < n; ++i)
                v[i] = a * std::tanh(b * v[i]);
            break;
        case Kind::HardSigmoid:
            for (std::int64_t i = 0; i < n; ++i)
                v[i] = std::clamp(a * v[i] + b, T(0), T(1));
            break;
        case Kind::Elu:
            for (std::int64_t i = 0; i < n; ++i)
                v[i] = v[i] < T(0) ? a * (std::exp(v[i]) - T(1)) : v[i];
            break;
        case Kind::Softsign:
            for (std::int64_t i = 0; i < n; ++i)
                v[i] = v[i] / (T(1) + std::abs(v[i]));
            break;
        case Kind::Softplus:
            // log(1 + e^x) without overflow for large x.
            for (std::int64_t i = 0; i < n; ++i)
                v[i] = v[i] > T(0) ? v[i] + std::log1p(std::exp(-v[i])) : std::log1p(std::exp(v[i]));
            break;
        }
    }
};

/// Parses `activations` (default names if absent) with activation_alpha/beta, which are
/// consumed in order by the functions that take them (as ONNX Runtime does); missing ones
/// take the defaults of the ONNX operator of the same name.
std::vector<Activation> parseActivations(const KernelContext& ctx, const std::vector<std::string>& defaults, int dirs)
{
    const Node& node = ctx.node;
    std::vector<std::string> names = node.attrStrings("activations");
    const std::size_t want = defaults.size() * static_cast<std::size_t>(dirs);
    if (names.empty())
        for (int d = 0; d < dirs; ++d)
            names.insert(names.end(), defaults.begin(), defaults.end());
    if (names.size() != want)
        ctx.invalid("expects " + std::to_string(want) + " activations, got " + std::to_string(names.size()));
    const std::vector<float> alphas = node.attrFloats("activation_alpha");
    const std::vector<float> betas = node.attrFloats("activation_beta");
    std::size_t ai = 0, bi = 0;
    std::vector<Activation> out;
    for (const auto& name : names) {
        std::string lower;
        for (char c : name)
            lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        using K = Activation::Kind;
        struct Spec {
            const char* name;
            K kind;
            bool usesAlpha, usesBeta;
            float alpha, beta;
        };
        static const Spec specs[] = {
            {"relu", K::Relu, false, false, 0, 0},
            {"tanh", K::Tanh, false, false, 0, 0},
            {"sigmoid", K::Sigmoid, false, false, 0, 0},
            {"affine", K::Affine, true, true, 1.0f, 0.0f},
            {"leakyrelu", K::LeakyRelu, true, false, 0.01f, 0},
            {"thresholdedrelu", K::ThresholdedRelu, true, false, 1.0f, 0},
            {"scaledtanh", K::ScaledTanh, true, true, 1.0f, 1.0f},
            {"hardsigmoid", K::HardSigmoid, true, true, 0.2f, 0.5f},
            {"elu", K::Elu, true, false, 1.0f, 0},
            {"softsign", K::Softsign, false, false, 0, 0},
            {"softplus", K::Softplus, false, false, 0, 0},
        };
        const Spec* spec = nullptr;
        for (const auto& s : specs)
            if (lower == s.name)
                spec = &s;
        if (!spec)
            ctx.unsupported("activation '" + name + "'");
        Activation a;
        a.kind = spec->kind;
        a.alpha = spec->alpha;
        a.beta = spec->beta;
        if (spec->usesAlpha && ai < alphas.size())
            a.alpha = alphas[ai++];
        if (spec->usesBeta && bi < betas.size())
            a.beta = betas[bi++];
        out.push_back(a);
    }
    return out;
}

struct RecurrentAttrs {
    Cell cell = Cell::Lstm;
    int gates = 4;                 // gate blocks in W/R: LSTM i,o,f,c; GRU z,r,h; RNN one
    int perDir = 3;                // activations per direction
    std::int64_t hidden = -1;      // hidden_size attribute, -1 if absent
    int dirs = 1;
    bool reverseOnly = false;      // direction == "reverse"
    std::vector<Activation> acts;  // dirs * perDir
    float clip = 0;                // > 0: clip gate pre-activations to [-clip, clip]
    bool batchFirst = false;       // layout == 1
    bool linearBeforeReset = false;
    bool inputForget = false;
};

class RecurrentKernel {
public:
    RecurrentKernel(const KernelContext& ctx, Cell cell)
    {
        const Node& node = ctx.node;
        a_.cell = cell;
        std::vector<std::string> defaults;
        switch (cell) {
        case Cell::Lstm:
            a_.gates = 4;
            defaults = {"Sigmoid", "Tanh", "Tanh"};
            break;
        case Cell::Gru:
            a_.gates = 3;
            defaults = {"Sigmoid", "Tanh"};
            break;
        case Cell::Rnn:
            a_.gates = 1;
            defaults = {"Tanh"};
            break;
        }
        a_.perDir = static_cast<int>(defaults.size());
        a_.hidden = node.attrInt("hidden_size", -1);
        const std::string direction = node.attrString("direction", "forward");
        if (direction == "bidirectional")
            a_.dirs = 2;
        else if (direction == "reverse")
            a_.reverseOnly = true;
        else if (direction != "forward")
            ctx.invalid("unknown direction '" + direction + "'");
        a_.acts = parseActivations(ctx, defaults, a_.dirs);
        if (const Attribute* c = node.find("clip")) {
            a_.clip = node.attrFloat("clip", 0);
            if (!(a_.clip > 0))
                ctx.invalid("clip must be positive, got " + std::to_string(c->f));
        }
        const std::int64_t layout = node.attrInt("layout", 0);
        if (layout != 0 && layout != 1)
            ctx.invalid("layout must be 0 or 1");
        a_.batchFirst = layout == 1;
        a_.linearBeforeReset = cell == Cell::Gru && node.attrInt("linear_before_reset", 0) != 0;
        a_.inputForget = cell == Cell::Lstm && node.attrInt("input_forget", 0) != 0;
    }

    void operator()(KernelArgs& args)
    {
        const Tensor& X = args.input(0);
        ops::dispatchFloat(X.dtype(), [&](auto t) { run<decltype(t)>(args); }, args.node());
    }

private:
    template <class T> void run(KernelArgs& args)
    {
        const Node& node = args.node();
        const Tensor& X = args.input(0);
        const Tensor& W = args.input(1);
        const Tensor& R = args.input(2);
        const Tensor* B = args.optionalInput(3);
        const Tensor* lens = args.optionalInput(4);
        const Tensor* h0 = args.optionalInput(5);
        const Tensor* c0 = a_.cell == Cell::Lstm ? args.optionalInput(6) : nullptr;
        const Tensor* P = a_.cell == Cell::Lstm ? args.optionalInput(7) : nullptr;
        auto fail = [&](const std::string& what) { throw Error(node.describe() + ": " + what); };
        for (const Tensor* t : {&W, &R, B, h0, c0, P})
            if (t && t->dtype() != X.dtype())
                fail("inputs have different element types");
        if (X.rank() != 3)
            fail("X must have rank 3, got " + shapeToString(X.shape()));
        const std::int64_t seq = a_.batchFirst ? X.dim(1) : X.dim(0);
        const std::int64_t batch = a_.batchFirst ? X.dim(0) : X.dim(1);
        const std::int64_t in = X.dim(2);
        const std::int64_t nd = a_.dirs;
        if (R.rank() != 3)
            fail("R must have rank 3, got " + shapeToString(R.shape()));
        const std::int64_t H = R.dim(2);
        if (a_.hidden >= 0 && a_.hidden != H)
            fail("hidden_size is " + std::to_string(a_.hidden) + " but R is " + shapeToString(R.shape()));
        const std::int64_t G = a_.gates;
        const std::int64_t GH = G * H;
        const std::size_t rowBytes = static_cast<std::size_t>(H) * sizeof(T); // one (H) state row
        auto expectShape = [&](const Tensor& t, const Shape& s, const char* name) {
            if (t.shape() != s)
                fail(std::string(name) + " has shape " + shapeToString(t.shape()) + ", expected " + shapeToString(s));
        };
        expectShape(W, {nd, GH, in}, "W");
        expectShape(R, {nd, GH, H}, "R");
        if (B)
            expectShape(*B, {nd, 2 * GH}, "B");
        if (P)
            expectShape(*P, {nd, 3 * H}, "P");
        const Shape stateShape = a_.batchFirst ? Shape{batch, nd, H} : Shape{nd, batch, H};
        if (h0)
            expectShape(*h0, stateShape, "initial_h");
        if (c0)
            expectShape(*c0, stateShape, "initial_c");
        lens_.assign(static_cast<std::size_t>(batch), seq);
        if (lens) {
            expectShape(*lens, {batch}, "sequence_lens");
            for (std::int64_t b = 0; b < batch; ++b) {
                const double v = lens->at(b);
                if (!(v >= 0 && v <= static_cast<double>(seq)))
                    fail("sequence_lens[" + std::to_string(b) + "] = " + std::to_string(v) + " is outside [0, " +
                         std::to_string(seq) + "]");
                lens_[static_cast<std::size_t>(b)] = static_cast<std::int64_t>(v);
            }
        }
        const std::int64_t maxLen = batch ? *std::max_element(lens_.begin(), lens_.end()) : 0;
        const bool ragged = std::any_of(lens_.begin(), lens_.end(), [&](std::int64_t l) { return l != seq; });

        // Outputs: Y (seq, nd, batch, H) or (batch, seq, nd, H); Y_h, Y_c like initial_h.
        const bool wantY = args.wantsOutput(0), wantYh = args.wantsOutput(1);
        const bool wantYc = a_.cell == Cell::Lstm && args.wantsOutput(2);
        T* y = nullptr;
        if (wantY) {
            Tensor& Y = args.output(0);
            Y.resize(X.dtype(), a_.batchFirst ? Shape{batch, seq, nd, H} : Shape{seq, nd, batch, H});
            if (ragged)
                Y.zero(); // steps past an entry's length stay zero
            y = Y.data<T>();
        }
        auto yOffset = [&](std::int64_t t, std::int64_t d, std::int64_t b) {
            return a_.batchFirst ? ((b * seq + t) * nd + d) * H : ((t * nd + d) * batch + b) * H;
        };
        auto stateOffset = [&](std::int64_t d, std::int64_t b) {
            return a_.batchFirst ? (b * nd + d) * H : (d * batch + b) * H;
        };

        // Input projection for every step and both directions at once:
        // X: (seq*batch, in)  W^T: (in, nd*G*H) -> XW: (seq*batch, nd*G*H), rows in X's order.
        // Biases that are plain additive terms are folded in first (GEMM beta = 1).
        const std::int64_t ldx = nd * GH;
        xw_.resize(X.dtype(), {seq * batch, ldx});
        T* xw = xw_.data<T>();
        if (B) {
            const T* bias = B->data<T>();
            rowBias_.resize(X.dtype(), {ldx});
            T* rb = rowBias_.data<T>();
            for (std::int64_t d = 0; d < nd; ++d)
                for (std::int64_t j = 0; j < GH; ++j) {
                    // GRU with linear_before_reset: Rb_h is multiplied by r, so it is added per step.
                    const bool recurrentOnly = a_.linearBeforeReset && j >= 2 * H;
                    rb[d * GH + j] = bias[d * 2 * GH + j] + (recurrentOnly ? T(0) : bias[d * 2 * GH + GH + j]);
                }
            for (std::int64_t r = 0; r < seq * batch; ++r)
                std::memcpy(xw + r * ldx, rb, static_cast<std::size_t>(ldx) * sizeof(T));
        }
        ops::gemm<T>(false, true, seq * batch, ldx, in, T(1), X.data<T>(), in, W.data<T>(), in, B ? T(1) : T(0), xw,
                     ldx);
        auto xwRow = [&](std::int64_t t, std::int64_t b) {
            return xw + (a_.batchFirst ? b * seq + t : t * batch + b) * ldx;
        };

        h_.resize(X.dtype(), {batch, H});
        c_.resize(X.dtype(), {batch, H});
        rh_.resize(X.dtype(), {batch, GH});
        gates_.resize(X.dtype(), {GH});
        if (a_.cell == Cell::Gru) {
            rHidden_.resize(X.dtype(), {batch, H});
            zr_.resize(X.dtype(), {batch, 2 * H});
        }
        T* h = h_.data<T>();
        T* c = c_.data<T>();
        T* rh = rh_.data<T>();
        T* gates = gates_.data<T>();
        const T clip = static_cast<T>(a_.clip);
        auto clipped = [&](T* v, std::int64_t n) {
            if (a_.clip > 0)
                for (std::int64_t i = 0; i < n; ++i)
                    v[i] = std::clamp(v[i], -clip, clip);
        };

        for (std::int64_t d = 0; d < nd; ++d) {
            const bool reverse = a_.reverseOnly || d == 1;
            const Activation* act = &a_.acts[static_cast<std::size_t>(d * a_.perDir)];
            const T* Rd = R.data<T>() + d * GH * H; // (G*H, H)
            for (std::int64_t b = 0; b < batch; ++b) {
                for (auto [src, dst] : {std::pair{h0, h}, std::pair{c0, c}}) {
                    if (src)
                        std::memcpy(dst + b * H, src->template data<T>() + stateOffset(d, b), rowBytes);
                    else
                        std::fill(dst + b * H, dst + (b + 1) * H, T(0));
                }
            }
            auto timeOf = [&](std::int64_t s, std::int64_t b) {
                return reverse ? lens_[static_cast<std::size_t>(b)] - 1 - s : s;
            };
            auto active = [&](std::int64_t s, std::int64_t b) { return s < lens_[static_cast<std::size_t>(b)]; };

            for (std::int64_t s = 0; s < maxLen; ++s) {
                if (a_.cell == Cell::Lstm) {
                    // h: (batch, H)  R^T: (H, 4H) -> (batch, 4H); gate blocks i, o, f, c.
                    ops::gemm<T>(false, true, batch, GH, H, T(1), h, H, Rd, H, T(0), rh, GH);
                    const T* pi = P ? P->data<T>() + d * 3 * H : nullptr;
                    const T* po = pi ? pi + H : nullptr;
                    const T* pf = pi ? pi + 2 * H : nullptr;
                    for (std::int64_t b = 0; b < batch; ++b) {
                        if (!active(s, b))
                            continue;
                        const std::int64_t t = timeOf(s, b);
                        const T* x = xwRow(t, b) + d * GH;
                        const T* r = rh + b * GH;
                        T* hb = h + b * H;
                        T* cb = c + b * H;
                        T* gi = gates;
                        T* go = gates + H;
                        T* gf = gates + 2 * H;
                        T* gc = gates + 3 * H;
                        for (std::int64_t j = 0; j < GH; ++j)
                            gates[j] = x[j] + r[j];
                        if (pi)
                            for (std::int64_t j = 0; j < H; ++j) {
                                gi[j] += pi[j] * cb[j];
                                gf[j] += pf[j] * cb[j];
                            }
                        clipped(gi, H);
                        clipped(gf, H);
                        clipped(gc, H);
                        act[0].apply(gi, H);
                        if (a_.inputForget)
                            for (std::int64_t j = 0; j < H; ++j)
                                gf[j] = T(1) - gi[j]; // coupled gates: f = 1 - i
                        else
                            act[0].apply(gf, H);
                        act[1].apply(gc, H);
                        for (std::int64_t j = 0; j < H; ++j)
                            cb[j] = gf[j] * cb[j] + gi[j] * gc[j];
                        // The output gate's peephole looks at the new cell state.
                        if (po)
                            for (std::int64_t j = 0; j < H; ++j)
                                go[j] += po[j] * cb[j];
                        clipped(go, H);
                        act[0].apply(go, H);
                        std::memcpy(hb, cb, rowBytes);
                        act[2].apply(hb, H);
                        for (std::int64_t j = 0; j < H; ++j)
                            hb[j] *= go[j];
                        if (y)
                            std::memcpy(y + yOffset(t, d, b), hb, rowBytes);
                    }
                } else if (a_.cell == Cell::Gru) {
                    // h: (batch, H)  R_zr^T: (H, 2H) -> (batch, 2H), or all three blocks (batch, 3H)
                    // when linear_before_reset applies r after the product.
                    const std::int64_t n = a_.linearBeforeReset ? GH : 2 * H;
                    ops::gemm<T>(false, true, batch, n, H, T(1), h, H, Rd, H, T(0), rh, GH);
                    T* zr = zr_.data<T>();
                    T* rHid = rHidden_.data<T>();
                    for (std::int64_t b = 0; b < batch; ++b) {
                        if (!active(s, b))
                            continue;
                        const T* x = xwRow(timeOf(s, b), b) + d * GH;
                        T* g = zr + b * 2 * H; // z, r
                        for (std::int64_t j = 0; j < 2 * H; ++j)
                            g[j] = x[j] + rh[b * GH + j];
                        clipped(g, 2 * H);
                        act[0].apply(g, 2 * H);
                        if (!a_.linearBeforeReset)
                            for (std::int64_t j = 0; j < H; ++j)
                                rHid[b * H + j] = g[H + j] * h[b * H + j];
                    }
                    if (!a_.linearBeforeReset) {
                        // (r . h): (batch, H)  R_h^T: (H, H) -> (batch, H), into the h block of rh.
                        ops::gemm<T>(false, true, batch, H, H, T(1), rHid, H, Rd + 2 * H * H, H, T(0), rh + 2 * H, GH);
                    }
                    const T* rbh = B && a_.linearBeforeReset ? B->data<T>() + d * 2 * GH + GH + 2 * H : nullptr;
                    for (std::int64_t b = 0; b < batch; ++b) {
                        if (!active(s, b))
                            continue;
                        const std::int64_t t = timeOf(s, b);
                        const T* x = xwRow(t, b) + d * GH + 2 * H;
                        const T* z = zr + b * 2 * H;
                        const T* rr = z + H;
                        const T* rec = rh + b * GH + 2 * H;
                        T* hb = h + b * H;
                        if (a_.linearBeforeReset)
                            for (std::int64_t j = 0; j < H; ++j)
                                gates[j] = x[j] + rr[j] * (rec[j] + (rbh ? rbh[j] : T(0)));
                        else
                            for (std::int64_t j = 0; j < H; ++j)
                                gates[j] = x[j] + rec[j];
                        clipped(gates, H);
                        act[1].apply(gates, H);
                        for (std::int64_t j = 0; j < H; ++j)
                            hb[j] = (T(1) - z[j]) * gates[j] + z[j] * hb[j];
                        if (y)
                            std::memcpy(y + yOffset(t, d, b), hb, rowBytes);
                    }
                } else {
                    // h: (batch, H)  R^T: (H, H) -> (batch, H)
                    ops::gemm<T>(false, true, batch, H, H, T(1), h, H, Rd, H, T(0), rh, GH);
                    for (std::int64_t b = 0; b < batch; ++b) {
                        if (!active(s, b))
                            continue;
                        const std::int64_t t = timeOf(s, b);
                        const T* x = xwRow(t, b) + d * GH;
                        T* hb = h + b * H;
                        for (std::int64_t j = 0; j < H; ++j)
                            hb[j] = x[j] + rh[b * GH + j];
                        clipped(hb, H);
                        act[0].apply(hb, H);
                        if (y)
                            std::memcpy(y + yOffset(t, d, b), hb, rowBytes);
                    }
                }
            }

            // Final states of this direction (an entry of length 0 keeps its initial state).
            for (auto [want, idx, src] : {std::tuple{wantYh, 1, h}, std::tuple{wantYc, 2, c}}) {
                if (!want)
                    continue;
                Tensor& out = args.output(static_cast<std::size_t>(idx));
                if (d == 0)
                    out.resize(X.dtype(), stateShape);
                for (std::int64_t b = 0; b < batch; ++b)
                    std::memcpy(out.data<T>() + stateOffset(d, b), src + b * H, rowBytes);
            }
        }
    }

    RecurrentAttrs a_;
    std::vector<std::int64_t> lens_;
    Tensor xw_, rowBias_, h_, c_, rh_, gates_, rHidden_, zr_;
};

} // namespace

void registerRecurrentOps(OpRegistry& r)
{
    r.add("LSTM", 1, [](const KernelContext& ctx) -> Kernel { return RecurrentKernel(ctx, Cell::Lstm); });
    r.add("GRU", 1, [](const KernelContext& ctx) -> Kernel { return RecurrentKernel(ctx, Cell::Gru); });
    r.add("RNN", 1, [](const KernelContext& ctx) -> Kernel { return RecurrentKernel(ctx, Cell::Rnn); });
}

} // namespace leger
