// The float32 convolution kernels (runtime/ops/ConvKernels.h) on random geometries, with every
// fused epilogue, on each ISA level the CPU has, against a naive double-precision reference;
// and the Executor's graph optimizations (Conv epilogue fusion, batch slicing) against the
// plain executor on small graphs.
#include <QtTest>

#include <cmath>
#include <limits>
#include <random>

#include "model/Model.h"
#include "runtime/Executor.h"
#include "runtime/OpRegistry.h"
#include "runtime/ops/ConvKernels.h"
#include "util/Error.h"

using namespace leger;
namespace convk = leger::ops::convk;

namespace {

using Dims = std::vector<std::int64_t>;

Attribute intsAttr(const Dims& v)
{
    Attribute a;
    a.kind = Attribute::Kind::Ints;
    a.ints = v;
    return a;
}
Attribute intAttr(std::int64_t v)
{
    Attribute a;
    a.kind = Attribute::Kind::Int;
    a.i = v;
    return a;
}
Attribute floatAttr(float v)
{
    Attribute a;
    a.kind = Attribute::Kind::Float;
    a.f = v;
    return a;
}
Attribute stringAttr(const std::string& s)
{
    Attribute a;
    a.kind = Attribute::Kind::String;
    a.s = s;
    return a;
}

Tensor randomTensor(const Shape& shape, std::mt19937& rng)
{
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    Tensor t(DType::Float32, shape);
    for (auto& v : t.span<float>())
        v = u(rng);
    return t;
}

struct ConvCase {
    std::int64_t N, C, M, G, H, W, KH, KW, sh, sw, dh, dw, pt, pl, pb, pr;
    bool bias;
    std::string act; // "", Relu, Clip, LeakyRelu, HardSigmoid, HardSwish
    float alpha = 0, beta = 0;
    int residual = 0;
    std::int64_t OH() const { return (H + pt + pb - (KH - 1) * dh - 1) / sh + 1; }
    std::int64_t OW() const { return (W + pl + pr - (KW - 1) * dw - 1) / sw + 1; }
    QString describe() const
    {
        return QString("N%1 C%2 M%3 G%4 %5x%6 k%7x%8 s%9,%10 d%11,%12 p%13,%14,%15,%16 bias%17 %18 res%19")
            .arg(N).arg(C).arg(M).arg(G).arg(H).arg(W).arg(KH).arg(KW).arg(sh).arg(sw).arg(dh).arg(dw).arg(pt)
            .arg(pl).arg(pb).arg(pr).arg(bias).arg(QString::fromStdString(act)).arg(residual);
    }
};

double activate(double v, const ConvCase& c)
{
    if (c.act == "Relu")
        return v < 0 ? 0 : v;
    if (c.act == "Clip")
        return std::min<double>(std::max<double>(v, c.alpha), c.beta);
    if (c.act == "LeakyRelu")
        return v < 0 ? v * c.alpha : v;
    if (c.act == "HardSigmoid")
        return std::min(1.0, std::max(0.0, c.alpha * v + c.beta));
    if (c.act == "HardSwish")
        return v * std::min(1.0, std::max(0.0, v / 6.0 + 0.5));
    return v;
}

/// The reference output and, per element, the sum of the magnitudes of its terms (for the tolerance).
void referenceConv(const ConvCase& c, const Tensor& X, const Tensor& W, const Tensor* B, const Tensor* R,
                   std::vector<double>& out, std::vector<double>& mag)
{
    const std::int64_t OH = c.OH(), OW = c.OW(), Cg = c.C / c.G, Mg = c.M / c.G;
    out.assign(static_cast<std::size_t>(c.N * c.M * OH * OW), 0.0);
    mag.assign(out.size(), 0.0);
    const float* x = X.data<float>();
    const float* w = W.data<float>();
    for (std::int64_t n = 0; n < c.N; ++n)
        for (std::int64_t m = 0; m < c.M; ++m) {
            const std::int64_t g = m / Mg;
            for (std::int64_t oy = 0; oy < OH; ++oy)
                for (std::int64_t ox = 0; ox < OW; ++ox) {
                    double acc = B ? B->data<float>()[m] : 0.0;
                    double am = std::abs(acc);
                    for (std::int64_t ci = 0; ci < Cg; ++ci)
                        for (std::int64_t ky = 0; ky < c.KH; ++ky)
                            for (std::int64_t kx = 0; kx < c.KW; ++kx) {
                                const std::int64_t iy = oy * c.sh - c.pt + ky * c.dh;
                                const std::int64_t ix = ox * c.sw - c.pl + kx * c.dw;
                                if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W)
                                    continue;
                                const double t = double(w[((m * Cg + ci) * c.KH + ky) * c.KW + kx]) *
                                                 x[((n * c.C + g * Cg + ci) * c.H + iy) * c.W + ix];
                                acc += t;
                                am += std::abs(t);
                            }
                    const std::size_t o = static_cast<std::size_t>(((n * c.M + m) * OH + oy) * OW + ox);
                    const double r = R ? R->data<float>()[o] : 0.0;
                    if (c.residual == 1)
                        acc += r;
                    acc = activate(acc, c);
                    if (c.residual == 2)
                        acc += r;
                    out[o] = acc;
                    mag[o] = am + std::abs(r);
                }
        }
}

Node convNode(const ConvCase& c)
{
    Node n;
    n.opType = "Conv";
    n.name = "conv";
    n.inputs = {"x", "w", c.bias ? "b" : ""};
    if (c.residual)
        n.inputs.push_back("r");
    n.outputs = {"y"};
    n.attributes["kernel_shape"] = intsAttr({c.KH, c.KW});
    n.attributes["strides"] = intsAttr({c.sh, c.sw});
    n.attributes["dilations"] = intsAttr({c.dh, c.dw});
    n.attributes["pads"] = intsAttr({c.pt, c.pl, c.pb, c.pr});
    n.attributes["group"] = intAttr(c.G);
    if (!c.act.empty()) {
        n.attributes["leger.activation"] = stringAttr(c.act);
        n.attributes["leger.activation_alpha"] = floatAttr(c.alpha);
        n.attributes["leger.activation_beta"] = floatAttr(c.beta);
    }
    if (c.residual)
        n.attributes["leger.residual"] = intAttr(c.residual);
    return n;
}

/// Runs the case through the registered Conv kernel (twice, reusing its scratch) and checks it.
void checkCase(const ConvCase& c, std::mt19937& rng)
{
    const Tensor X = randomTensor({c.N, c.C, c.H, c.W}, rng);
    const Tensor W = randomTensor({c.M, c.C / c.G, c.KH, c.KW}, rng);
    const Tensor B = randomTensor({c.M}, rng);
    const Tensor R = randomTensor({c.N, c.M, c.OH(), c.OW()}, rng);
    const Node node = convNode(c);
    KernelContext ctx{node, 13, {}, {}};
    const Kernel k = (*OpRegistry::builtin().find("", "Conv", 13))(ctx);
    std::vector<const Tensor*> in{&X, &W, c.bias ? &B : nullptr};
    if (c.residual)
        in.push_back(&R);
    std::vector<double> want, mag;
    referenceConv(c, X, W, c.bias ? &B : nullptr, c.residual ? &R : nullptr, want, mag);
    for (int run = 0; run < 2; ++run) {
        Tensor Y;
        Y.resize(DType::Float32, {1}); // garbage-sized output buffer
        std::vector<Tensor*> out{&Y};
        KernelArgs args(node, in, out);
        k(args);
        const Shape expected{c.N, c.M, c.OH(), c.OW()};
        if (Y.shape() != expected)
            QFAIL(qPrintable(c.describe() + " shape " + QString::fromStdString(shapeToString(Y.shape()))));
        for (std::size_t i = 0; i < want.size(); ++i) {
            const double got = Y.data<float>()[i];
            const double tol = 2e-6 * mag[i] + 1e-6;
            if (!(std::abs(got - want[i]) <= tol))
                QFAIL(qPrintable(c.describe() + QString(" [%1 ISA %2]: element %3 is %4, want %5")
                                                     .arg(run)
                                                     .arg(convk::isaName(convk::isa()))
                                                     .arg(i)
                                                     .arg(got)
                                                     .arg(want[i])));
        }
    }
}

ConvCase randomCase(std::mt19937& rng, int kind)
{
    auto pick = [&](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    ConvCase c{};
    c.N = std::vector<std::int64_t>{1, 1, 2, 3, 5}[static_cast<std::size_t>(pick(0, 4))];
    c.bias = pick(0, 3) != 0;
    c.sh = c.sw = c.dh = c.dw = 1;
    switch (kind) {
    case 0: // pointwise
        c.KH = c.KW = 1;
        c.G = 1;
        c.C = pick(1, 40);
        c.M = pick(1, 40);
        c.H = pick(1, 20);
        c.W = pick(1, 30);
        break;
    case 1: { // general 2-D, possibly strided / dilated / padded
        c.G = 1;
        c.C = pick(1, 12);
        c.M = pick(1, 24);
        c.KH = pick(1, 5);
        c.KW = pick(1, 5);
        c.sh = pick(1, 3);
        c.sw = pick(1, 3);
        c.dh = pick(1, 2);
        c.dw = pick(1, 2);
        c.pt = pick(0, 3);
        c.pl = pick(0, 3);
        c.pb = pick(0, 3);
        c.pr = pick(0, 3);
        c.H = pick(1, 24);
        c.W = pick(1, 40);
        break;
    }
    case 2: { // depthwise 3x3 / 5x5, the shapes the depthwise kernel covers and some it does not
        c.C = c.M = c.G = pick(1, 20);
        c.KH = c.KW = pick(0, 3) == 0 ? 5 : 3;
        c.sh = c.sw = pick(1, 2);
        c.pt = pick(0, 2);
        c.pl = pick(0, 2);
        c.pb = pick(0, 2);
        c.pr = pick(0, 2);
        c.H = pick(1, 40);
        c.W = pick(1, 40);
        if (pick(0, 5) == 0)
            c.dh = c.dw = 2;
        break;
    }
    case 3: { // grouped, wide enough for the GEMM path
        c.G = pick(2, 3);
        c.C = c.G * pick(5, 8);
        c.M = c.G * pick(5, 12);
        c.KH = c.KW = pick(1, 3);
        c.sh = c.sw = pick(1, 2);
        c.pt = c.pl = c.pb = c.pr = c.KH / 2;
        c.H = pick(2, 20);
        c.W = pick(2, 20);
        break;
    }
    case 4: { // long K (blocked), small outputs of several images (packed path)
        c.G = 1;
        c.N = pick(2, 4);
        c.C = pick(60, 80);
        c.M = pick(9, 20);
        c.KH = c.KW = 3;
        c.pt = c.pl = c.pb = c.pr = 1;
        c.H = pick(2, 7);
        c.W = pick(2, 7);
        break;
    }
    default: { // pointwise over a large plane, several tiles, batched small planes
        c.KH = c.KW = 1;
        c.G = 1;
        c.C = pick(8, 70);
        c.M = pick(1, 33);
        c.H = pick(5, 60);
        c.W = pick(5, 60);
        break;
    }
    }
    // Keep the window inside the padded input.
    while (c.H + c.pt + c.pb < (c.KH - 1) * c.dh + 1)
        ++c.pb;
    while (c.W + c.pl + c.pr < (c.KW - 1) * c.dw + 1)
        ++c.pr;
    static const char* acts[] = {"", "Relu", "Clip", "LeakyRelu", "HardSigmoid", "HardSwish"};
    c.act = acts[pick(0, 5)];
    if (c.act == "Clip") {
        c.alpha = -0.5f;
        c.beta = 0.7f;
    } else if (c.act == "LeakyRelu") {
        c.alpha = 0.1f;
    } else if (c.act == "HardSigmoid") {
        c.alpha = 0.3f;
        c.beta = 0.4f;
    }
    c.residual = static_cast<int>(pick(0, 2));
    return c;
}

// ---- graphs ---------------------------------------------------------------------------------------

struct GraphBuilder {
    Model model;
    std::mt19937 rng{7};
    GraphBuilder() { model.opsets[""] = 13; }
    void input(const std::string& name, Dims dims)
    {
        ValueInfo v;
        v.name = name;
        v.dtype = DType::Float32;
        v.hasShape = true;
        v.dims = std::move(dims);
        v.dimParams.resize(v.dims.size());
        model.graph.inputs.push_back(v);
    }
    void output(const std::string& name)
    {
        ValueInfo v;
        v.name = name;
        v.dtype = DType::Float32;
        model.graph.outputs.push_back(v);
    }
    void weight(const std::string& name, const Shape& shape) { model.graph.initializers[name] = randomTensor(shape, rng); }
    void scalar(const std::string& name, float v) { model.graph.initializers[name] = Tensor::scalar(v); }
    Node& node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out)
    {
        Node n;
        n.opType = op;
        n.name = op + std::to_string(model.graph.nodes.size());
        n.inputs = std::move(in);
        n.outputs = std::move(out);
        model.graph.nodes.push_back(n);
        return model.graph.nodes.back();
    }
    /// A 3x3 (or 1x1) conv with pads keeping the grid.
    void conv(const std::string& x, const std::string& y, std::int64_t cin, std::int64_t cout, std::int64_t k = 3,
              std::int64_t stride = 1)
    {
        weight(y + ".w", {cout, cin, k, k});
        weight(y + ".b", {cout});
        Node& n = node("Conv", {x, y + ".w", y + ".b"}, {y});
        n.attributes["kernel_shape"] = intsAttr({k, k});
        n.attributes["strides"] = intsAttr({stride, stride});
        n.attributes["pads"] = intsAttr({k / 2, k / 2, k / 2, k / 2});
    }
};

/// Runs the model optimized and plain on the same input and compares every output.
void compareOptimized(const Model& model, const Tensor& input, std::size_t expectFused, double tol = 1e-5,
                      std::size_t sliceBytes = std::size_t{1} << 20, std::size_t sliceTailBytes = std::size_t{256} << 10)
{
    Executor::Options plainOpt;
    plainOpt.optimize = false;
    Executor plain(model, plainOpt);
    Executor::Options fastOpt;
    fastOpt.sliceBytes = sliceBytes;
    fastOpt.sliceTailBytes = sliceTailBytes;
    Executor fast(model, fastOpt);
    QCOMPARE(fast.fusedNodeCount(), expectFused);
    QCOMPARE(plain.fusedNodeCount(), std::size_t{0});
    const Tensor* in[] = {&input};
    plain.run(in);
    for (int run = 0; run < 2; ++run) {
        fast.run(in);
        for (std::size_t o = 0; o < plain.outputNames().size(); ++o) {
            const Tensor& a = plain.output(o);
            const Tensor& b = fast.output(o);
            QCOMPARE(b.shape(), a.shape());
            for (std::int64_t i = 0; i < a.size(); ++i) {
                const float u = a.data<float>()[i], v = b.data<float>()[i];
                if (!(std::abs(u - v) <= tol * (1 + std::abs(u))))
                    QFAIL(qPrintable(QString("output %1 element %2: %3 optimized, %4 plain").arg(o).arg(i).arg(v).arg(u)));
            }
        }
    }
}

} // namespace

class TestConvKernels : public QObject {
    Q_OBJECT

private slots:
    void cleanup() { convk::resetIsa(); }
    void randomConvs_data();
    void randomConvs();
    void nanPassesThrough();
    void gemv();
    void fusesConvEpilogues();
    void keepsValuesOthersRead();
    void broadcastResidual();
    void residualDefinedAfterConv();
    void batchSlicing();
    void notSplittable();
    void observerSeesEveryNode();
};

void TestConvKernels::randomConvs_data()
{
    QTest::addColumn<int>("isa");
    QTest::newRow("avx512") << int(convk::Isa::Avx512);
    QTest::newRow("avx2") << int(convk::Isa::Avx2);
    QTest::newRow("baseline") << int(convk::Isa::Baseline);
}

void TestConvKernels::randomConvs()
{
    QFETCH(int, isa);
    convk::setIsa(static_cast<convk::Isa>(isa));
    if (int(convk::isa()) != isa)
        QSKIP("the CPU lacks this ISA");
    std::mt19937 rng(2024);
    for (int i = 0; i < 360; ++i) {
        const ConvCase c = randomCase(rng, i % 6);
        checkCase(c, rng);
    }
    // MobileNet-like layers: tiles of full vectors, tails, first-layer stride 2.
    const ConvCase fixed[] = {
        {1, 3, 32, 1, 34, 34, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, "Clip", 0, 6, 0},
        {2, 16, 24, 1, 17, 19, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, "", 0, 0, 1},
        {1, 24, 24, 24, 29, 29, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, "Relu", 0, 0, 0},
        {3, 40, 40, 40, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, "Clip", 0, 6, 2},
        {2, 64, 50, 1, 7, 7, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, "", 0, 0, 1},
        {1, 600, 17, 1, 3, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, false, "HardSwish", 0, 0, 0},
        {2, 70, 9, 1, 6, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, "LeakyRelu", 0.2f, 0, 1},
        // The sample CNN's first two convs (row tiles; channel vectors), a channel block tail,
        // a residual, a row shorter than two vectors and a 2-D stride.
        {2, 1, 16, 1, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, "Relu", 0, 0, 0},
        {2, 16, 32, 1, 28, 28, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, "Relu", 0, 0, 0},
        {1, 1, 21, 1, 9, 37, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, true, "HardSwish", 0, 0, 2},
        {2, 1, 5, 1, 11, 19, 3, 5, 1, 1, 1, 1, 0, 1, 0, 1, false, "Clip", 0, 6, 1},
        {1, 1, 33, 1, 16, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, "Relu", 0, 0, 1},
        // Channel vectors reading the input itself (3x3, stride 2, pad 1, even sizes): several
        // tiles per row, a partial and a second channel block, groups, residuals; and an odd
        // size, which takes the padded copy.
        {2, 8, 20, 1, 40, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, "HardSwish", 0, 0, 1},
        {1, 5, 40, 1, 12, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false, "Clip", -0.5f, 0.7f, 2},
        {2, 8, 40, 2, 16, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, "LeakyRelu", 0.1f, 0, 0},
        {1, 16, 32, 1, 29, 27, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, "Relu", 0, 0, 0},
        {3, 12, 24, 1, 2, 30, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, true, "", 0, 0, 0},
    };
    for (const ConvCase& c : fixed)
        checkCase(c, rng);
}

void TestConvKernels::nanPassesThrough()
{
    // Clip and Relu keep NaN, like the standalone ops; on every ISA.
    for (int isa : {int(convk::Isa::Avx512), int(convk::Isa::Avx2), int(convk::Isa::Baseline)}) {
        convk::setIsa(static_cast<convk::Isa>(isa));
        for (const char* act : {"Relu", "Clip"}) {
            ConvCase c{1, 4, 8, 1, 5, 20, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, act, 0.0f, 6.0f, 0};
            std::mt19937 rng(3);
            Tensor X = randomTensor({1, 4, 5, 20}, rng);
            X.data<float>()[7] = std::numeric_limits<float>::quiet_NaN();
            const Tensor W = randomTensor({8, 4, 1, 1}, rng), B = randomTensor({8}, rng);
            const Node node = convNode(c);
            KernelContext ctx{node, 13, {}, {}};
            const Kernel k = (*OpRegistry::builtin().find("", "Conv", 13))(ctx);
            Tensor Y;
            std::vector<const Tensor*> in{&X, &W, &B};
            std::vector<Tensor*> out{&Y};
            KernelArgs args(node, in, out);
            k(args);
            for (std::int64_t m = 0; m < 8; ++m)
                QVERIFY(std::isnan(Y.data<float>()[m * 100 + 7]));
            QVERIFY(!std::isnan(Y.data<float>()[8]));
        }
    }
}

void TestConvKernels::gemv()
{
    std::mt19937 rng(12);
    for (int isa : {int(convk::Isa::Avx512), int(convk::Isa::Avx2)}) {
        convk::setIsa(static_cast<convk::Isa>(isa));
        if (int(convk::isa()) != isa)
            continue;
        for (int trial = 0; trial < 60; ++trial) {
            const std::int64_t N = std::uniform_int_distribution<std::int64_t>(1, 150)(rng);
            const std::int64_t K = std::uniform_int_distribution<std::int64_t>(1, 300)(rng);
            const bool transB = trial % 2 == 0;
            const std::int64_t ldb = (transB ? K : N) + trial % 3;
            const float alpha = trial % 5 == 0 ? 1.0f : 0.7f, beta = trial % 3 == 0 ? 0.0f : -0.4f;
            const Tensor a = randomTensor({K}, rng);
            const Tensor B = randomTensor({transB ? N : K, ldb}, rng);
            Tensor c = randomTensor({N}, rng);
            if (beta == 0.0f)
                c.data<float>()[0] = std::numeric_limits<float>::quiet_NaN(); // overwritten, not scaled
            std::vector<double> want(static_cast<std::size_t>(N));
            for (std::int64_t j = 0; j < N; ++j) {
                double d = 0, mag = 0;
                for (std::int64_t k = 0; k < K; ++k) {
                    const double t = double(a.data<float>()[k]) * B.data<float>()[transB ? j * ldb + k : k * ldb + j];
                    d += t;
                    mag += std::abs(t);
                }
                want[static_cast<std::size_t>(j)] = alpha * d + (beta == 0.0f ? 0.0 : beta * c.data<float>()[j]);
                (void)mag;
            }
            QVERIFY(convk::gemv(transB, N, K, alpha, a.data<float>(), B.data<float>(), ldb, beta, c.data<float>()));
            for (std::int64_t j = 0; j < N; ++j)
                QVERIFY2(std::abs(c.data<float>()[j] - want[static_cast<std::size_t>(j)]) <= 1e-4 * (1 + K / 16.0),
                         qPrintable(QString("N %1 K %2 trans %3 j %4").arg(N).arg(K).arg(transB).arg(j)));
        }
    }
}

void TestConvKernels::fusesConvEpilogues()
{
    GraphBuilder g;
    g.input("x", {-1, 3, 12, 12});
    g.conv("x", "c1", 3, 8);
    g.scalar("lo", 0.0f);
    g.scalar("hi", 6.0f);
    g.node("Clip", {"c1", "lo", "hi"}, {"a1"}); // Conv -> Clip
    g.conv("a1", "c2", 8, 8);
    g.node("Add", {"c2", "a1"}, {"s2"}); // Conv -> Add -> Relu
    g.node("Relu", {"s2"}, {"a2"});
    g.conv("a2", "c3", 8, 8, 1);
    Node& leaky = g.node("LeakyRelu", {"c3"}, {"a3"}); // Conv -> LeakyRelu -> Add
    leaky.attributes["alpha"] = floatAttr(0.2f);
    g.node("Add", {"a2", "a3"}, {"s3"});
    g.conv("s3", "c4", 8, 6);
    Node& hs = g.node("HardSigmoid", {"c4"}, {"a4"});
    hs.attributes["alpha"] = floatAttr(0.25f);
    g.conv("a4", "c5", 6, 6, 1);
    g.node("HardSwish", {"c5"}, {"a5"});
    g.conv("a5", "c6", 6, 4);
    g.node("Clip", {"c6", "lo", ""}, {"y"}); // lower bound only
    g.output("y");
    g.model.opsets[""] = 14;
    std::mt19937 rng(5);
    const Tensor x = randomTensor({2, 3, 12, 12}, rng);
    compareOptimized(g.model, x, 8);
}

void TestConvKernels::keepsValuesOthersRead()
{
    GraphBuilder g;
    g.input("x", {-1, 3, 9, 9});
    g.conv("x", "c1", 3, 4);
    g.node("Relu", {"c1"}, {"y1"});   // c1 is also a graph output: no fusion
    g.conv("x", "c2", 3, 4);
    g.node("Relu", {"c2"}, {"r2"});   // c2 read twice: no fusion
    g.node("Sigmoid", {"c2"}, {"s2"});
    g.node("Add", {"r2", "s2"}, {"y2"});
    g.conv("x", "c3", 3, 4);
    g.weight("k", {1, 4, 9, 9});
    g.node("Add", {"c3", "k"}, {"y3"}); // constant operand: no fusion
    g.output("c1");
    g.output("y1");
    g.output("y2");
    g.output("y3");
    std::mt19937 rng(6);
    const Tensor x = randomTensor({3, 3, 9, 9}, rng);
    compareOptimized(g.model, x, 0);
}

void TestConvKernels::broadcastResidual()
{
    // The residual broadcasts onto the conv output, then the conv output onto a larger one.
    GraphBuilder g;
    g.input("x", {-1, 4, 8, 8});
    g.conv("x", "c1", 4, 4);
    g.node("GlobalAveragePool", {"x"}, {"p"});
    g.node("Add", {"c1", "p"}, {"s1"});
    g.node("Relu", {"s1"}, {"a1"});
    g.conv("a1", "c2", 4, 4, 3, 8); // 8x8 -> 1x1
    g.node("Add", {"a1", "c2"}, {"y"});
    g.output("y");
    std::mt19937 rng(8);
    const Tensor x = randomTensor({2, 4, 8, 8}, rng);
    compareOptimized(g.model, x, 3);
}

void TestConvKernels::residualDefinedAfterConv()
{
    // The Add's other operand is computed after the conv: the fused node runs at the Add.
    GraphBuilder g;
    g.input("x", {-1, 2, 10, 10});
    g.conv("x", "c1", 2, 5);
    g.conv("x", "c2", 2, 5);
    g.node("Tanh", {"c2"}, {"t2"});
    g.node("Add", {"t2", "c1"}, {"y"});
    g.output("y");
    std::mt19937 rng(9);
    const Tensor x = randomTensor({1, 2, 10, 10}, rng);
    compareOptimized(g.model, x, 1);
}

void TestConvKernels::batchSlicing()
{
    GraphBuilder g;
    g.input("x", {-1, 3, 16, 16});
    g.conv("x", "c1", 3, 8);
    g.node("Relu", {"c1"}, {"a1"});
    g.conv("a1", "c2", 8, 16, 3, 2);
    g.node("Relu", {"c2"}, {"a2"});
    g.node("GlobalAveragePool", {"a2"}, {"p"});
    Node& f = g.node("Flatten", {"p"}, {"f"});
    f.attributes["axis"] = intAttr(1);
    g.weight("fc.w", {5, 16});
    g.weight("fc.b", {5});
    Node& gemm = g.node("Gemm", {"f", "fc.w", "fc.b"}, {"logits"});
    gemm.attributes["transB"] = intAttr(1);
    Node& sm = g.node("Softmax", {"logits"}, {"y"});
    sm.attributes["axis"] = intAttr(1);
    g.output("y");
    g.output("a2");
    Executor exec(g.model);
    QVERIFY(exec.batchSplittable());
    std::mt19937 rng(10);
    const Tensor x = randomTensor({13, 3, 16, 16}, rng);
    // Slices of a few samples, of one; every node sliced, or the last ones (outputs of at most
    // 4096 bytes per sample: after the first conv) run on the whole batch.
    compareOptimized(g.model, x, 2, 1e-5, 20000, 0);
    compareOptimized(g.model, x, 2, 1e-5, 1, 0);
    compareOptimized(g.model, x, 2, 1e-5, 20000, 4096);
    compareOptimized(g.model, x, 2, 1e-5, 1, 4096);
    compareOptimized(g.model, x, 2, 1e-5, 1, 1 << 20);
    // One sample per input: no slicing, same results.
    const Tensor x1 = randomTensor({1, 3, 16, 16}, rng);
    compareOptimized(g.model, x1, 2, 1e-5, 1, 0);
}

void TestConvKernels::notSplittable()
{
    auto splittable = [](GraphBuilder& g) {
        Executor exec(g.model);
        return exec.batchSplittable();
    };
    {
        // A reshape that fixes axis 0.
        GraphBuilder g;
        g.input("x", {-1, 4});
        g.model.graph.initializers["shape"] = Tensor::fromVector<std::int64_t>({2}, {2, -1});
        g.node("Reshape", {"x", "shape"}, {"y"});
        g.output("y");
        QVERIFY(!splittable(g));
    }
    {
        // A reduction over the batch.
        GraphBuilder g;
        g.input("x", {-1, 4});
        Node& r = g.node("ReduceMean", {"x"}, {"y"});
        r.attributes["axes"] = intsAttr({0});
        g.output("y");
        QVERIFY(!splittable(g));
    }
    {
        // A fixed batch.
        GraphBuilder g;
        g.input("x", {8, 4});
        g.node("Relu", {"x"}, {"y"});
        g.output("y");
        QVERIFY(!splittable(g));
    }
    {
        // A constant that broadcasts along the batch axis.
        GraphBuilder g;
        g.input("x", {-1, 4});
        g.weight("k", {3, 4});
        g.node("Add", {"x", "k"}, {"y"});
        g.output("y");
        QVERIFY(!splittable(g));
    }
    {
        // Shape reads the batch size.
        GraphBuilder g;
        g.input("x", {-1, 4});
        g.node("Shape", {"x"}, {"y"});
        g.output("y");
        QVERIFY(!splittable(g));
    }
}

void TestConvKernels::observerSeesEveryNode()
{
    GraphBuilder g;
    g.input("x", {-1, 2, 6, 6});
    g.conv("x", "c1", 2, 3);
    g.node("Relu", {"c1"}, {"y"});
    g.output("y");
    Executor exec(g.model);
    QCOMPARE(exec.nodeCount(), std::size_t{1});
    std::vector<std::string> seen;
    exec.setObserver([&](const Node& n, const KernelArgs&) { seen.push_back(n.opType); });
    std::mt19937 rng(11);
    const Tensor x = randomTensor({4, 2, 6, 6}, rng);
    const Tensor* in[] = {&x};
    exec.run(in);
    QCOMPARE(seen, (std::vector<std::string>{"Conv", "Relu"}));
    const Tensor observed = exec.output(0);
    exec.setObserver({});
    QCOMPARE(exec.nodeCount(), std::size_t{1});
    exec.run(in);
    for (std::int64_t i = 0; i < observed.size(); ++i)
        QVERIFY(std::abs(observed.data<float>()[i] - exec.output(0).data<float>()[i]) <= 1e-5f);
}

QTEST_APPLESS_MAIN(TestConvKernels)
#include "tst_convkernels.moc"
