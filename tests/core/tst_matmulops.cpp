// Gemm, MatMul (batched, broadcast, 1-D operands), LSTM and GRU kernels against naive
// references written here, on fixed-seed random data. Every case runs twice through the same
// kernel into an output pre-filled with NaN, to check that kernels write every element and
// that their reused scratch buffers do not leak state from one run into the next.
#include <QtTest>

#include <cmath>
#include <random>

#include "TestUtil.h"

using namespace leger;
using namespace leger::test;

Q_DECLARE_METATYPE(leger::Shape)

namespace {

// ---- naive references ---------------------------------------------------------------------

/// numpy.matmul, element by element.
std::vector<double> refMatMul(const Tensor& a, const Tensor& b, Shape& outShape)
{
    Shape as = a.shape(), bs = b.shape();
    const bool aVec = as.size() == 1, bVec = bs.size() == 1;
    if (aVec)
        as.insert(as.begin(), 1);
    if (bVec)
        bs.push_back(1);
    const std::int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
    const std::size_t rank = std::max(as.size(), bs.size());
    while (as.size() < rank)
        as.insert(as.begin(), 1);
    while (bs.size() < rank)
        bs.insert(bs.begin(), 1);
    Shape batch;
    for (std::size_t d = 0; d + 2 < rank; ++d)
        batch.push_back(as[d] == 1 ? bs[d] : as[d]);
    outShape = batch;
    if (!aVec)
        outShape.push_back(M);
    if (!bVec)
        outShape.push_back(N);
    const std::int64_t count = elementCount(batch);
    std::vector<double> out;
    for (std::int64_t bi = 0; bi < count; ++bi) {
        // Unravel the batch index and map it to each operand (size-1 dims broadcast).
        std::int64_t rest = bi, aOff = 0, bOff = 0, aMul = M * K, bMul = K * N;
        for (int d = static_cast<int>(batch.size()) - 1; d >= 0; --d) {
            const auto du = static_cast<std::size_t>(d);
            const std::int64_t idx = rest % batch[du];
            rest /= batch[du];
            aOff += (as[du] == 1 ? 0 : idx) * aMul;
            bOff += (bs[du] == 1 ? 0 : idx) * bMul;
            aMul *= as[du];
            bMul *= bs[du];
        }
        for (std::int64_t i = 0; i < M; ++i)
            for (std::int64_t j = 0; j < N; ++j) {
                double s = 0;
                for (std::int64_t k = 0; k < K; ++k)
                    s += double(a.data<float>()[aOff + i * K + k]) * b.data<float>()[bOff + k * N + j];
                out.push_back(s);
            }
    }
    return out;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

struct RnnCase {
    bool lstm = true;
    std::string direction = "forward";
    bool batchFirst = false;
    bool linearBeforeReset = false;
    bool peepholes = false;
    bool ragged = false;
};

/// The ONNX LSTM/GRU equations, one batch entry and step at a time, in double precision.
/// Returns Y, Y_h, Y_c in the node's layout.
std::array<std::vector<double>, 3> refRecurrent(const RnnCase& c, const Tensor& X, const Tensor& W, const Tensor& R,
                                                const Tensor& B, const std::vector<std::int64_t>& lens,
                                                const Tensor& h0, const Tensor* c0, const Tensor* P)
{
    const std::int64_t seq = c.batchFirst ? X.dim(1) : X.dim(0), batch = c.batchFirst ? X.dim(0) : X.dim(1);
    const std::int64_t in = X.dim(2), nd = W.dim(0), H = R.dim(2), G = c.lstm ? 4 : 3;
    auto x = [&](std::int64_t t, std::int64_t b, std::int64_t k) {
        return double(X.data<float>()[(c.batchFirst ? b * seq + t : t * batch + b) * in + k]);
    };
    auto state = [&](std::int64_t d, std::int64_t b) { return c.batchFirst ? (b * nd + d) * H : (d * batch + b) * H; };
    std::array<std::vector<double>, 3> out;
    out[0].assign(static_cast<std::size_t>(seq * nd * batch * H), 0.0);
    out[1].assign(static_cast<std::size_t>(nd * batch * H), 0.0);
    out[2] = out[1];
    for (std::int64_t d = 0; d < nd; ++d) {
        const bool reverse = c.direction == "reverse" || d == 1;
        const float* w = W.data<float>() + d * G * H * in;
        const float* r = R.data<float>() + d * G * H * H;
        const float* wb = B.data<float>() + d * 2 * G * H;
        const float* rb = wb + G * H;
        for (std::int64_t b = 0; b < batch; ++b) {
            std::vector<double> h(static_cast<std::size_t>(H)), cell(static_cast<std::size_t>(H), 0.0);
            for (std::int64_t j = 0; j < H; ++j) {
                h[static_cast<std::size_t>(j)] = h0.data<float>()[state(d, b) + j];
                if (c0)
                    cell[static_cast<std::size_t>(j)] = c0->data<float>()[state(d, b) + j];
            }
            const std::int64_t len = lens[static_cast<std::size_t>(b)];
            for (std::int64_t s = 0; s < len; ++s) {
                const std::int64_t t = reverse ? len - 1 - s : s;
                // xw[g] = x W_g^T + Wb_g, hr[g] = h R_g^T + Rb_g for every gate row g.
                std::vector<double> xw(static_cast<std::size_t>(G * H)), hr(static_cast<std::size_t>(G * H));
                for (std::int64_t g = 0; g < G * H; ++g) {
                    double sx = wb[g], sh = rb[g];
                    for (std::int64_t k = 0; k < in; ++k)
                        sx += x(t, b, k) * w[g * in + k];
                    for (std::int64_t k = 0; k < H; ++k)
                        sh += h[static_cast<std::size_t>(k)] * r[g * H + k];
                    xw[static_cast<std::size_t>(g)] = sx;
                    hr[static_cast<std::size_t>(g)] = sh;
                }
                std::vector<double> hNew(static_cast<std::size_t>(H));
                if (c.lstm) {
                    const float* p = P ? P->data<float>() + d * 3 * H : nullptr;
                    for (std::int64_t j = 0; j < H; ++j) {
                        auto pre = [&](std::int64_t gate) {
                            const auto g = static_cast<std::size_t>(gate * H + j);
                            return xw[g] + hr[g];
                        };
                        double& cj = cell[static_cast<std::size_t>(j)];
                        const double i = sigmoid(pre(0) + (p ? p[j] * cj : 0));
                        const double f = sigmoid(pre(2) + (p ? p[2 * H + j] * cj : 0));
                        const double g = std::tanh(pre(3));
                        cj = f * cj + i * g;
                        const double o = sigmoid(pre(1) + (p ? p[H + j] * cj : 0));
                        hNew[static_cast<std::size_t>(j)] = o * std::tanh(cj);
                    }
                } else {
                    std::vector<double> z(static_cast<std::size_t>(H)), rg(static_cast<std::size_t>(H));
                    for (std::int64_t j = 0; j < H; ++j) {
                        const auto ju = static_cast<std::size_t>(j);
                        z[ju] = sigmoid(xw[ju] + hr[ju]);
                        rg[ju] = sigmoid(xw[static_cast<std::size_t>(H + j)] + hr[static_cast<std::size_t>(H + j)]);
                    }
                    for (std::int64_t j = 0; j < H; ++j) {
                        const auto ju = static_cast<std::size_t>(j);
                        double pre = xw[static_cast<std::size_t>(2 * H + j)];
                        if (c.linearBeforeReset) {
                            pre += rg[ju] * hr[static_cast<std::size_t>(2 * H + j)];
                        } else {
                            double s2 = rb[2 * H + j];
                            for (std::int64_t k = 0; k < H; ++k) {
                                const auto ku = static_cast<std::size_t>(k);
                                s2 += rg[ku] * h[ku] * r[(2 * H + j) * H + k];
                            }
                            pre += s2;
                        }
                        hNew[ju] = (1 - z[ju]) * std::tanh(pre) + z[ju] * h[ju];
                    }
                }
                h = hNew;
                for (std::int64_t j = 0; j < H; ++j) {
                    const std::int64_t yOff =
                        c.batchFirst ? ((b * seq + t) * nd + d) * H : ((t * nd + d) * batch + b) * H;
                    out[0][static_cast<std::size_t>(yOff + j)] = h[static_cast<std::size_t>(j)];
                }
            }
            for (std::int64_t j = 0; j < H; ++j) {
                out[1][static_cast<std::size_t>(state(d, b) + j)] = h[static_cast<std::size_t>(j)];
                out[2][static_cast<std::size_t>(state(d, b) + j)] = cell[static_cast<std::size_t>(j)];
            }
        }
    }
    return out;
}

} // namespace

class TestMatMulOps : public QObject {
    Q_OBJECT
private slots:
    void matmul_data();
    void matmul();
    void gemm_data();
    void gemm();
    void recurrent_data();
    void recurrent();
    void rejectsBadShapes();
};

void TestMatMulOps::matmul_data()
{
    QTest::addColumn<Shape>("a");
    QTest::addColumn<Shape>("b");
    QTest::newRow("2-D") << Shape{3, 4} << Shape{4, 5};
    QTest::newRow("batched, constant-like 2-D B") << Shape{2, 3, 4} << Shape{4, 5};
    QTest::newRow("batched both") << Shape{2, 3, 4} << Shape{2, 4, 5};
    QTest::newRow("broadcast A batch") << Shape{1, 3, 4} << Shape{3, 4, 2};
    QTest::newRow("broadcast both") << Shape{2, 1, 3, 4} << Shape{5, 4, 6};
    QTest::newRow("2-D A, batched B") << Shape{3, 4} << Shape{2, 1, 4, 5};
    QTest::newRow("1-D A") << Shape{4} << Shape{2, 4, 3};
    QTest::newRow("1-D B") << Shape{2, 3, 4} << Shape{4};
    QTest::newRow("1-D both") << Shape{7} << Shape{7};
    QTest::newRow("single row") << Shape{1, 64} << Shape{64, 33};
    QTest::newRow("empty batch") << Shape{0, 3, 4} << Shape{4, 2};
    QTest::newRow("empty inner") << Shape{2, 3, 0} << Shape{0, 4};
}

void TestMatMulOps::matmul()
{
    QFETCH(Shape, a);
    QFETCH(Shape, b);
    std::mt19937 rng(42);
    const Tensor A = randomTensor(a, rng), B = randomTensor(b, rng);
    Node node;
    node.opType = "MatMul";
    node.inputs = {"a", "b"};
    node.outputs = {"y"};
    const Kernel k = prepareKernel(node, 13);
    Shape want;
    const auto ref = refMatMul(A, B, want);
    for (int run = 0; run < 2; ++run) {
        const auto out = runKernel(k, node, {&A, &B}, 1);
        QString why;
        QVERIFY2(closeTo(out[0], ref, want, 1e-4, why, DType::Float32), qPrintable(why));
    }
}

void TestMatMulOps::gemm_data()
{
    QTest::addColumn<bool>("transA");
    QTest::addColumn<bool>("transB");
    QTest::addColumn<float>("alpha");
    QTest::addColumn<float>("beta");
    QTest::addColumn<Shape>("c"); // {-1}: no C
    QTest::newRow("plain, no C") << false << false << 1.0f << 1.0f << Shape{-1};
    QTest::newRow("transB, vector bias") << false << true << 1.0f << 1.0f << Shape{5};
    QTest::newRow("transA, column bias") << true << false << 0.5f << 2.0f << Shape{3, 1};
    QTest::newRow("both, matrix bias") << true << true << 1.5f << -1.0f << Shape{3, 5};
    QTest::newRow("scalar bias") << false << false << 1.0f << 0.25f << Shape{};
    QTest::newRow("beta 0 ignores C") << false << true << 2.0f << 0.0f << Shape{1, 5};
}

void TestMatMulOps::gemm()
{
    QFETCH(bool, transA);
    QFETCH(bool, transB);
    QFETCH(float, alpha);
    QFETCH(float, beta);
    QFETCH(Shape, c);
    const std::int64_t M = 3, K = 4, N = 5;
    std::mt19937 rng(7);
    const Tensor A = randomTensor(transA ? Shape{K, M} : Shape{M, K}, rng);
    const Tensor B = randomTensor(transB ? Shape{N, K} : Shape{K, N}, rng);
    const bool hasC = c != Shape{-1};
    const Tensor C = hasC ? randomTensor(c, rng) : Tensor();
    Node node;
    node.opType = "Gemm";
    node.inputs = {"a", "b"};
    if (hasC)
        node.inputs.push_back("c");
    node.outputs = {"y"};
    setAttr(node, "transA", std::int64_t(transA));
    setAttr(node, "transB", std::int64_t(transB));
    setAttr(node, "alpha", alpha);
    setAttr(node, "beta", beta);
    std::vector<double> ref;
    for (std::int64_t i = 0; i < M; ++i)
        for (std::int64_t j = 0; j < N; ++j) {
            double s = 0;
            for (std::int64_t k = 0; k < K; ++k)
                s += double(A.data<float>()[transA ? k * M + i : i * K + k]) *
                     B.data<float>()[transB ? j * K + k : k * N + j];
            s *= alpha;
            if (hasC) {
                const std::int64_t ci = c.size() == 2 && c[0] == M ? i : 0;
                const std::int64_t cj = !c.empty() && c.back() == N ? j : 0;
                s += beta * C.data<float>()[ci * (c.empty() ? 1 : c.back()) + cj];
            }
            ref.push_back(s);
        }
    const Kernel k = prepareKernel(node, 13);
    std::vector<const Tensor*> inputs{&A, &B};
    if (hasC)
        inputs.push_back(&C);
    for (int run = 0; run < 2; ++run) {
        const auto out = runKernel(k, node, inputs, 1);
        QString why;
        QVERIFY2(closeTo(out[0], ref, Shape{M, N}, 1e-4, why, DType::Float32), qPrintable(why));
    }
}

void TestMatMulOps::recurrent_data()
{
    QTest::addColumn<bool>("lstm");
    QTest::addColumn<QString>("direction");
    QTest::addColumn<bool>("batchFirst");
    QTest::addColumn<bool>("linearBeforeReset");
    QTest::addColumn<bool>("peepholes");
    QTest::addColumn<bool>("ragged");
    QTest::newRow("LSTM forward") << true << "forward" << false << false << false << false;
    QTest::newRow("LSTM reverse, ragged") << true << "reverse" << false << false << false << true;
    QTest::newRow("LSTM bidirectional, peepholes, ragged") << true << "bidirectional" << false << false << true << true;
    QTest::newRow("LSTM batch-first bidirectional") << true << "bidirectional" << true << false << true << false;
    QTest::newRow("GRU forward") << false << "forward" << false << false << false << false;
    QTest::newRow("GRU linear_before_reset, ragged") << false << "forward" << false << true << false << true;
    QTest::newRow("GRU bidirectional, batch-first") << false << "bidirectional" << true << false << false << true;
    QTest::newRow("GRU reverse, linear_before_reset") << false << "reverse" << false << true << false << false;
}

void TestMatMulOps::recurrent()
{
    RnnCase c;
    QFETCH(bool, lstm);
    QFETCH(QString, direction);
    QFETCH(bool, batchFirst);
    QFETCH(bool, linearBeforeReset);
    QFETCH(bool, peepholes);
    QFETCH(bool, ragged);
    c.lstm = lstm;
    c.direction = direction.toStdString();
    c.batchFirst = batchFirst;
    c.linearBeforeReset = linearBeforeReset;
    c.peepholes = peepholes;
    c.ragged = ragged;
    const std::int64_t seq = 5, batch = 3, in = 4, H = 6, G = lstm ? 4 : 3;
    const std::int64_t nd = c.direction == "bidirectional" ? 2 : 1;
    std::mt19937 rng(1234);
    const Tensor X = randomTensor(batchFirst ? Shape{batch, seq, in} : Shape{seq, batch, in}, rng);
    const Tensor W = randomTensor({nd, G * H, in}, rng);
    const Tensor R = randomTensor({nd, G * H, H}, rng);
    const Tensor B = randomTensor({nd, 2 * G * H}, rng);
    const Shape stateShape = batchFirst ? Shape{batch, nd, H} : Shape{nd, batch, H};
    const Tensor h0 = randomTensor(stateShape, rng);
    const Tensor c0 = randomTensor(stateShape, rng);
    const Tensor P = randomTensor({nd, 3 * H}, rng);
    const auto lens = ragged ? std::vector<std::int64_t>{5, 2, 4} : std::vector<std::int64_t>(3, seq);
    Tensor L(DType::Int32, {batch});
    for (std::int64_t b = 0; b < batch; ++b)
        L.data<std::int32_t>()[b] = static_cast<std::int32_t>(lens[static_cast<std::size_t>(b)]);

    Node node;
    node.opType = lstm ? "LSTM" : "GRU";
    node.inputs = {"x", "w", "r", "b", "lens", "h0"};
    std::vector<const Tensor*> inputs{&X, &W, &R, &B, &L, &h0};
    if (lstm) {
        node.inputs.push_back("c0");
        node.inputs.push_back(peepholes ? "p" : "");
        inputs.push_back(&c0);
        inputs.push_back(peepholes ? &P : nullptr);
    }
    node.outputs = {"y", "y_h"};
    if (lstm)
        node.outputs.push_back("y_c");
    setAttr(node, "hidden_size", H);
    setAttr(node, "direction", c.direction);
    setAttr(node, "layout", std::int64_t(batchFirst));
    if (!lstm)
        setAttr(node, "linear_before_reset", std::int64_t(linearBeforeReset));

    const auto ref = refRecurrent(c, X, W, R, B, lens, h0, lstm ? &c0 : nullptr, lstm && peepholes ? &P : nullptr);
    const Kernel k = prepareKernel(node, 14);
    for (int run = 0; run < 2; ++run) {
        const auto out = runKernel(k, node, inputs, node.outputs.size());
        QString why;
        const Shape yShape = batchFirst ? Shape{batch, seq, nd, H} : Shape{seq, nd, batch, H};
        QVERIFY2(closeTo(out[0], ref[0], yShape, 1e-4, why, DType::Float32), qPrintable("Y: " + why));
        QVERIFY2(closeTo(out[1], ref[1], stateShape, 1e-4, why, DType::Float32), qPrintable("Y_h: " + why));
        if (lstm)
            QVERIFY2(closeTo(out[2], ref[2], stateShape, 1e-4, why, DType::Float32), qPrintable("Y_c: " + why));
    }
}

void TestMatMulOps::rejectsBadShapes()
{
    std::mt19937 rng(3);
    Node mm;
    mm.name = "mm";
    mm.opType = "MatMul";
    mm.inputs = {"a", "b"};
    mm.outputs = {"y"};
    const Tensor A = randomTensor({2, 3, 4}, rng), B = randomTensor({5, 6}, rng), B3 = randomTensor({3, 4, 6}, rng);
    const Kernel k = prepareKernel(mm, 13);
    QVERIFY_THROWS_EXCEPTION(Error, runKernel(k, mm, {&A, &B}, 1));  // inner dims differ
    QVERIFY_THROWS_EXCEPTION(Error, runKernel(k, mm, {&A, &B3}, 1)); // batch 2 vs 3
    try {
        runKernel(k, mm, {&A, &B}, 1);
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find("MatMul node 'mm'") != std::string::npos, e.what());
    }

    Node lstm;
    lstm.opType = "LSTM";
    lstm.inputs = {"x", "w", "r"};
    lstm.outputs = {"y"};
    setAttr(lstm, "hidden_size", std::int64_t(3));
    const Tensor X = randomTensor({2, 1, 4}, rng), W = randomTensor({1, 12, 5}, rng), R = randomTensor({1, 12, 3}, rng);
    QVERIFY_THROWS_EXCEPTION(Error, runKernel(prepareKernel(lstm, 14), lstm, {&X, &W, &R}, 1)); // W's input size 5 != 4

    setAttr(lstm, "activations", std::string("x"));
    lstm.attributes["activations"].kind = Attribute::Kind::Strings;
    lstm.attributes["activations"].strings = {"Sigmoid", "Tanh", "NoSuchFunction"};
    QVERIFY_THROWS_EXCEPTION(UnsupportedError, prepareKernel(lstm, 14));
}

QTEST_APPLESS_MAIN(TestMatMulOps)
#include "tst_matmulops.moc"
