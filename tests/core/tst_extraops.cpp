// Loss, signal and detection kernels (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss, DFT,
// STFT, windows, NonMaxSuppression, RoiAlign, GridSample, Det) against naive references
// written here, on fixed-seed random data or hand-made cases. Every case runs twice through
// the same kernel into outputs pre-filled with NaN, to check that kernels write every element
// and that state cached between runs (FFT tables) does not leak.
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <numbers>
#include <numeric>
#include <random>

#include "TestUtil.h"

using namespace leger;
using namespace leger::test;

namespace {

using I64 = std::int64_t;

using Cplx = std::complex<double>;

/// Direct DFT of x (length n, zero-padded or truncated), sign -1 forward, +1 inverse.
std::vector<Cplx> naiveDft(const std::vector<Cplx>& x, I64 n, bool inverse)
{
    std::vector<Cplx> out(static_cast<std::size_t>(n));
    const double sign = inverse ? 1 : -1;
    for (I64 k = 0; k < n; ++k) {
        Cplx s{};
        for (I64 j = 0; j < n && j < static_cast<I64>(x.size()); ++j) {
            const double a = sign * 2 * std::numbers::pi * static_cast<double>((j * k) % n) / static_cast<double>(n);
            s += x[static_cast<std::size_t>(j)] * Cplx(std::cos(a), std::sin(a));
        }
        out[static_cast<std::size_t>(k)] = inverse ? s / static_cast<double>(n) : s;
    }
    return out;
}

} // namespace

Q_DECLARE_METATYPE(std::vector<std::int64_t>)

class TestExtraOps : public QObject {
    Q_OBJECT

private slots:
    void dft_data();
    void dft();
    void stft();
    void windows_data();
    void windows();
    void nms_data();
    void nms();
    void loss_data();
    void loss();
    void det();
    void roiAlign_data();
    void roiAlign();
    void gridSampleIdentity_data();
    void gridSampleIdentity();
    void gridSamplePadding_data();
    void gridSamplePadding();
    void rejectsBadInputs();
};

void TestExtraOps::dft_data()
{
    QTest::addColumn<int>("length");
    QTest::addColumn<int>("dftLength"); // 0: input omitted
    QTest::addColumn<bool>("complexInput");
    QTest::addColumn<bool>("inverse");
    QTest::addColumn<bool>("onesided");
    QTest::addColumn<int>("opset");
    // Powers of two take the radix-2 path, short other lengths the direct DFT, long ones Bluestein.
    for (int len : {1, 2, 3, 7, 8, 16, 60, 64, 97, 100, 128, 255, 256, 1000})
        QTest::addRow("real %d", len) << len << 0 << false << false << false << 17;
    for (int len : {5, 8, 81, 129})
        QTest::addRow("complex %d", len) << len << 0 << true << false << false << 17;
    for (int len : {6, 16, 70, 256})
        QTest::addRow("inverse %d", len) << len << 0 << true << true << false << 17;
    QTest::newRow("onesided even") << 16 << 0 << false << false << true << 17;
    QTest::newRow("onesided odd") << 15 << 0 << false << false << true << 17;
    QTest::newRow("zero-padded") << 5 << 8 << false << false << false << 17;
    QTest::newRow("truncated") << 20 << 13 << true << false << false << 17;
    QTest::newRow("truncated bluestein") << 300 << 131 << true << true << false << 17;
    QTest::newRow("opset 20 axis input") << 12 << 0 << true << false << false << 20;
    QTest::newRow("opset 20 onesided padded") << 9 << 32 << false << false << true << 20;
}

void TestExtraOps::dft()
{
    QFETCH(int, length);
    QFETCH(int, dftLength);
    QFETCH(bool, complexInput);
    QFETCH(bool, inverse);
    QFETCH(bool, onesided);
    QFETCH(int, opset);
    // Input [2, length, 3, c], transformed along axis 1 (inner stride 3).
    std::mt19937 rng(static_cast<unsigned>(1234 + length));
    const I64 L = length, c = complexInput ? 2 : 1;
    const Shape shape{2, L, 3, c};
    const Tensor X = Tensor::fromVector<float>(shape, randomFloats(static_cast<std::size_t>(2 * L * 3 * c), rng));
    const Tensor len = Tensor::scalar<I64>(dftLength);
    const Tensor axis = Tensor::scalar<I64>(-3); // rank 4: axis 1
    Node node = makeNode("DFT", opset >= 20 ? 3 : 2, 1);
    if (opset < 20)
        setAttr(node, "axis", I64{1});
    setAttr(node, "inverse", I64{inverse});
    setAttr(node, "onesided", I64{onesided});
    std::vector<const Tensor*> inputs{&X, dftLength ? &len : nullptr};
    if (opset >= 20)
        inputs.push_back(&axis);
    const auto out = runKernel(node, opset, inputs, 1);

    const I64 n = dftLength ? dftLength : L;
    const I64 outLen = onesided ? n / 2 + 1 : n;
    std::vector<double> want(static_cast<std::size_t>(2 * outLen * 3 * 2));
    for (I64 o = 0; o < 2; ++o)
        for (I64 i = 0; i < 3; ++i) {
            std::vector<Cplx> x;
            for (I64 j = 0; j < L; ++j) {
                const float* p = X.data<float>() + ((o * L + j) * 3 + i) * c;
                x.emplace_back(p[0], c == 2 ? p[1] : 0.0f);
            }
            const auto y = naiveDft(x, n, inverse);
            for (I64 k = 0; k < outLen; ++k) {
                want[static_cast<std::size_t>(((o * outLen + k) * 3 + i) * 2)] = y[static_cast<std::size_t>(k)].real();
                want[static_cast<std::size_t>(((o * outLen + k) * 3 + i) * 2 + 1)] = y[static_cast<std::size_t>(k)].imag();
            }
        }
    QString why;
    // float32 output: absolute error grows with sqrt(n) * |x|.
    QVERIFY2(closeTo(out[0], want, Shape{2, outLen, 3, 2}, 2e-5 * std::sqrt(static_cast<double>(n)) + 1e-6, why),
             qPrintable(why));
}

void TestExtraOps::stft()
{
    std::mt19937 rng(7);
    const I64 L = 50, step = 6, fl = 16;
    const Tensor S = Tensor::fromVector<float>({2, L, 1}, randomFloats(static_cast<std::size_t>(2 * L), rng));
    const Tensor stepT = Tensor::scalar<I64>(step);
    const std::vector<float> w = randomFloats(static_cast<std::size_t>(fl), rng, 0.0f, 1.0f);
    const Tensor W = Tensor::fromVector<float>({fl}, w);
    for (const bool onesided : {true, false}) {
        Node node = makeNode("STFT", 3, 1);
        setAttr(node, "onesided", I64{onesided});
        const auto out = runKernel(node, 17, {&S, &stepT, &W}, 1);
        const I64 frames = 1 + (L - fl) / step, bins = onesided ? fl / 2 + 1 : fl;
        std::vector<double> want;
        for (I64 b = 0; b < 2; ++b)
            for (I64 f = 0; f < frames; ++f) {
                std::vector<Cplx> x;
                for (I64 j = 0; j < fl; ++j)
                    x.emplace_back(double(S.data<float>()[b * L + f * step + j]) * w[static_cast<std::size_t>(j)]);
                const auto y = naiveDft(x, fl, false);
                for (I64 k = 0; k < bins; ++k) {
                    want.push_back(y[static_cast<std::size_t>(k)].real());
                    want.push_back(y[static_cast<std::size_t>(k)].imag());
                }
            }
        QString why;
        QVERIFY2(closeTo(out[0], want, Shape{2, frames, bins, 2}, 1e-5, why), qPrintable(why));
    }
}

void TestExtraOps::windows_data()
{
    QTest::addColumn<QString>("op");
    QTest::addColumn<bool>("periodic");
    QTest::addColumn<int>("size");
    for (const char* op : {"HannWindow", "HammingWindow", "BlackmanWindow"})
        for (const bool periodic : {true, false})
            for (const int size : {0, 1, 2, 10})
                QTest::addRow("%s %s %d", op, periodic ? "periodic" : "symmetric", size)
                    << QString(op) << periodic << size;
}

void TestExtraOps::windows()
{
    QFETCH(QString, op);
    QFETCH(bool, periodic);
    QFETCH(int, size);
    Node node = makeNode(op.toStdString(), 1, 1);
    setAttr(node, "periodic", I64{periodic});
    setAttr(node, "output_datatype", I64{11}); // double
    const Tensor sizeT = Tensor::scalar<std::int32_t>(size);
    const auto out = runKernel(node, 17, {&sizeT}, 1);
    QCOMPARE(out[0].dtype(), DType::Float64);
    std::vector<double> want;
    const double N = periodic ? size : size - 1;
    for (int i = 0; i < size; ++i) {
        const double x = N == 0 ? 0 : 2 * std::numbers::pi * i / N; // one-sample symmetric window: [1]
        if (op == "HannWindow")
            want.push_back(N == 0 ? 1 : std::pow(std::sin(x / 2), 2));
        else if (op == "HammingWindow")
            want.push_back(N == 0 ? 1 : 25.0 / 46 - 21.0 / 46 * std::cos(x));
        else
            want.push_back(N == 0 ? 1 : 0.42 - 0.5 * std::cos(x) + 0.08 * std::cos(2 * x));
    }
    QString why;
    QVERIFY2(closeTo(out[0], want, Shape{size}, 1e-12, why), qPrintable(why));
}

void TestExtraOps::nms_data()
{
    QTest::addColumn<bool>("centerPoint");
    QTest::addColumn<I64>("maxOut");
    QTest::addColumn<float>("iou");
    QTest::addColumn<float>("scoreThreshold"); // < 0: input omitted
    QTest::addColumn<std::vector<I64>>("want"); // (batch, class, box) triples
    // Batch 0: box 3 is box 0 with flipped corners; box 1 overlaps both with IoU 81/119;
    // box 4 coincides with box 2. Batch 1 holds the same boxes with class scores swapped.
    QTest::newRow("iou 0.5") << false << I64{10} << 0.5f << 0.2f
                             << std::vector<I64>{0, 0, 3, 0, 0, 2, 0, 1, 1, 0, 1, 2, 1, 0, 1, 1, 0, 2, 1, 1, 3, 1, 1, 2};
    QTest::newRow("iou 0.7 keeps box 1") << false << I64{10} << 0.7f << 0.2f
                                         << std::vector<I64>{0, 0, 3, 0, 0, 1, 0, 0, 2, 0, 1, 1, 0, 1, 0, 0, 1, 2,
                                                             1, 0, 1, 1, 0, 0, 1, 0, 2, 1, 1, 3, 1, 1, 1, 1, 1, 2};
    QTest::newRow("max 1") << false << I64{1} << 0.5f << 0.2f << std::vector<I64>{0, 0, 3, 0, 1, 1, 1, 0, 1, 1, 1, 3};
    QTest::newRow("no score threshold") << false << I64{10} << 0.5f << -1.0f
                                        << std::vector<I64>{0, 0, 3, 0, 0, 2, 0, 1, 1, 0, 1, 2, 1, 0, 1, 1, 0, 2, 1, 1, 3,
                                                            1, 1, 2};
    QTest::newRow("center point") << true << I64{10} << 0.5f << 0.2f
                                  << std::vector<I64>{0, 0, 3, 0, 0, 2, 0, 1, 1, 0, 1, 2, 1, 0, 1, 1, 0, 2, 1, 1, 3, 1, 1, 2};
    QTest::newRow("max 0") << false << I64{0} << 0.5f << 0.2f << std::vector<I64>{};
}

void TestExtraOps::nms()
{
    QFETCH(bool, centerPoint);
    QFETCH(I64, maxOut);
    QFETCH(float, iou);
    QFETCH(float, scoreThreshold);
    QFETCH(std::vector<I64>, want);
    // Corners [y1, x1, y2, x2].
    const std::vector<std::array<float, 4>> corners{
        {0, 0, 10, 10}, {1, 1, 11, 11}, {20, 20, 30, 30}, {10, 10, 0, 0}, {20, 20, 30, 30}};
    std::vector<float> boxes;
    for (int b = 0; b < 2; ++b)
        for (const auto& k : corners) {
            if (centerPoint) {
                // [x_center, y_center, width, height]
                boxes.insert(boxes.end(), {(k[1] + k[3]) / 2, (k[0] + k[2]) / 2, std::abs(k[3] - k[1]), std::abs(k[2] - k[0])});
            } else {
                boxes.insert(boxes.end(), k.begin(), k.end());
            }
        }
    const std::vector<float> classA{0.9f, 0.8f, 0.7f, 0.95f, 0.1f}, classB{0.5f, 0.99f, 0.3f, 0.45f, 0.25f};
    std::vector<float> scores;
    scores.insert(scores.end(), classA.begin(), classA.end()); // batch 0
    scores.insert(scores.end(), classB.begin(), classB.end());
    scores.insert(scores.end(), classB.begin(), classB.end()); // batch 1: swapped
    scores.insert(scores.end(), classA.begin(), classA.end());
    const Tensor B = Tensor::fromVector<float>({2, 5, 4}, boxes);
    const Tensor S = Tensor::fromVector<float>({2, 2, 5}, scores);
    const Tensor M = Tensor::fromVector<I64>({1}, {maxOut});
    const Tensor I = Tensor::fromVector<float>({1}, {iou});
    const Tensor T = Tensor::fromVector<float>({1}, {scoreThreshold});
    Node node = makeNode("NonMaxSuppression", 5, 1);
    setAttr(node, "center_point_box", I64{centerPoint});
    const auto out = runKernel(node, 11, {&B, &S, &M, &I, scoreThreshold < 0 ? nullptr : &T}, 1);
    QCOMPARE(out[0].dtype(), DType::Int64);
    QCOMPARE(out[0].shape(), (Shape{static_cast<I64>(want.size() / 3), 3}));
    QCOMPARE(out[0].toInt64Vector(), want);
}

void TestExtraOps::loss_data()
{
    QTest::addColumn<bool>("softmax");
    QTest::addColumn<QString>("reduction");
    QTest::addColumn<bool>("weighted");
    QTest::addColumn<bool>("ignore");
    for (const bool softmax : {false, true})
        for (const char* red : {"none", "sum", "mean"})
            for (const bool weighted : {false, true})
                for (const bool ignore : {false, true})
                    QTest::addRow("%s %s%s%s", softmax ? "sce" : "nll", red, weighted ? " weight" : "", ignore ? " ii" : "")
                        << softmax << QString(red) << weighted << ignore;
}

void TestExtraOps::loss()
{
    QFETCH(bool, softmax);
    QFETCH(QString, reduction);
    QFETCH(bool, weighted);
    QFETCH(bool, ignore);
    // Input [N=3, C=4, 2, 3]; target [3, 2, 3] with values in [0, 4), some set to ignore_index -1.
    std::mt19937 rng(99);
    const I64 N = 3, C = 4, D = 6;
    const Tensor X = Tensor::fromVector<float>({N, C, 2, 3}, randomFloats(static_cast<std::size_t>(N * C * D), rng, -3, 3));
    std::uniform_int_distribution<int> cls(0, static_cast<int>(C) - 1);
    std::vector<I64> tgt(static_cast<std::size_t>(N * D));
    for (std::size_t i = 0; i < tgt.size(); ++i)
        tgt[i] = ignore && i % 4 == 1 ? -1 : cls(rng);
    const Tensor Tg = Tensor::fromVector<I64>({N, 2, 3}, tgt);
    const std::vector<float> w = randomFloats(static_cast<std::size_t>(C), rng, 0.1f, 2.0f);
    const Tensor W = Tensor::fromVector<float>({C}, w);
    Node node = makeNode(softmax ? "SoftmaxCrossEntropyLoss" : "NegativeLogLikelihoodLoss", 3, softmax ? 2 : 1);
    setAttr(node, "reduction", reduction.toStdString());
    if (ignore)
        setAttr(node, "ignore_index", I64{-1});
    const auto out = runKernel(node, 13, {&X, &Tg, weighted ? &W : nullptr}, softmax ? 2 : 1);

    // Naive: log-softmax over C (SCE), gather, weight, reduce.
    std::vector<double> lp(static_cast<std::size_t>(N * C * D));
    for (I64 n = 0; n < N; ++n)
        for (I64 d = 0; d < D; ++d) {
            double sum = 0;
            for (I64 c = 0; c < C; ++c)
                sum += std::exp(double(X.data<float>()[(n * C + c) * D + d]));
            for (I64 c = 0; c < C; ++c) {
                const double v = X.data<float>()[(n * C + c) * D + d];
                lp[static_cast<std::size_t>((n * C + c) * D + d)] = softmax ? v - std::log(sum) : v;
            }
        }
    std::vector<double> per;
    double total = 0, wsum = 0;
    for (I64 n = 0; n < N; ++n)
        for (I64 d = 0; d < D; ++d) {
            const I64 t = tgt[static_cast<std::size_t>(n * D + d)];
            const double wt = t == -1 ? 0 : weighted ? w[static_cast<std::size_t>(t)] : 1;
            const double l = t == -1 ? 0 : -wt * lp[static_cast<std::size_t>((n * C + t) * D + d)];
            per.push_back(l);
            total += l;
            wsum += wt;
        }
    QString why;
    if (reduction == "none")
        QVERIFY2(closeTo(out[0], per, Shape{N, 2, 3}, 1e-5, why), qPrintable(why));
    else
        QVERIFY2(closeTo(out[0], {reduction == "sum" ? total : total / wsum}, Shape{}, 1e-5, why), qPrintable(why));
    if (softmax)
        QVERIFY2(closeTo(out[1], lp, Shape{N, C, 2, 3}, 1e-5, why), qPrintable(why));
}

void TestExtraOps::det()
{
    // Against the Leibniz formula (a sum over permutations) for M up to 5, batched [2, 3].
    std::mt19937 rng(5);
    for (I64 M = 0; M <= 5; ++M) {
        const auto values = randomFloats(static_cast<std::size_t>(6 * M * M), rng, -2, 2);
        const Tensor X = Tensor::fromVector<float>({2, 3, M, M}, values);
        Node node = makeNode("Det", 1, 1);
        const auto out = runKernel(node, 11, {&X}, 1);
        std::vector<double> want;
        for (I64 b = 0; b < 6; ++b) {
            std::vector<int> perm(static_cast<std::size_t>(M));
            std::iota(perm.begin(), perm.end(), 0);
            double det = 0;
            do {
                int inversions = 0;
                for (std::size_t i = 0; i < perm.size(); ++i)
                    for (std::size_t j = i + 1; j < perm.size(); ++j)
                        inversions += perm[i] > perm[j];
                double p = inversions % 2 ? -1 : 1;
                for (I64 i = 0; i < M; ++i)
                    p *= values[static_cast<std::size_t>(b * M * M + i * M + perm[static_cast<std::size_t>(i)])];
                det += p;
            } while (std::next_permutation(perm.begin(), perm.end()));
            want.push_back(det);
        }
        QString why;
        QVERIFY2(closeTo(out[0], want, Shape{2, 3}, 1e-5, why), qPrintable(QString("M=%1: %2").arg(M).arg(why)));
    }
    // A singular matrix.
    const Tensor S = Tensor::fromVector<double>({3, 3}, {1, 2, 3, 2, 4, 6, 1, 0, 1});
    Node node = makeNode("Det", 1, 1);
    const auto out = runKernel(node, 11, {&S}, 1);
    QCOMPARE(out[0].dtype(), DType::Float64);
    QCOMPARE(out[0].at(0), 0.0);
}

void TestExtraOps::roiAlign_data()
{
    QTest::addColumn<int>("opset");
    QTest::addColumn<QString>("transform");
    QTest::addColumn<QString>("mode");
    QTest::addColumn<double>("want");
    // X[h][w] = w, so a bilinear sample returns its x coordinate. The roi [0, 3] sampled
    // twice per 3-wide bin: at x = 0.75, 2.25 (mean 1.5); shifted by half a pixel: 0.25, 1.75.
    QTest::newRow("opset 10") << 10 << QString() << "avg" << 1.5;
    QTest::newRow("output_half_pixel") << 16 << QString("output_half_pixel") << "avg" << 1.5;
    QTest::newRow("half_pixel") << 16 << QString("half_pixel") << "avg" << 1.0;
    // Max pools the weighted taps (as the reference does): the largest is the sample at
    // (2.25, 0.75) or (2.25, 2.25), tap (x = 2, weight 0.75 * 0.75) -> 1.125.
    QTest::newRow("max") << 16 << QString("output_half_pixel") << "max" << 1.125;
}

void TestExtraOps::roiAlign()
{
    QFETCH(int, opset);
    QFETCH(QString, transform);
    QFETCH(QString, mode);
    QFETCH(double, want);
    std::vector<float> x; // [2, 2, 5, 5]: both batches alike
    for (int n = 0; n < 2; ++n)
        for (int c = 0; c < 2; ++c)
            for (int h = 0; h < 5; ++h)
                for (int w = 0; w < 5; ++w)
                    x.push_back(static_cast<float>(w * (c + 1)));
    const Tensor X = Tensor::fromVector<float>({2, 2, 5, 5}, x);
    const Tensor R = Tensor::fromVector<float>({2, 4}, {0, 0, 6, 6, 0, 2, 6, 8}); // halved by spatial_scale
    const Tensor Bi = Tensor::fromVector<I64>({2}, {1, 0});
    Node node = makeNode("RoiAlign", 3, 1);
    setAttr(node, "sampling_ratio", I64{2});
    setAttr(node, "spatial_scale", 0.5f);
    setAttr(node, "mode", mode.toStdString());
    if (!transform.isEmpty())
        setAttr(node, "coordinate_transformation_mode", transform.toStdString());
    const auto out = runKernel(node, opset, {&X, &R, &Bi}, 1);
    QString why;
    // Channel c scales by c + 1; both rois span x in [0, 3].
    QVERIFY2(closeTo(out[0], {want, 2 * want, want, 2 * want}, Shape{2, 2, 1, 1}, 1e-6, why), qPrintable(why));
}

void TestExtraOps::gridSampleIdentity_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<bool>("alignCorners");
    QTest::addColumn<int>("opset");
    for (const char* mode : {"bilinear", "nearest", "bicubic"})
        for (const bool ac : {false, true})
            QTest::addRow("%s align %d", mode, int(ac)) << QString(mode) << ac << 16;
    QTest::newRow("linear opset 20") << QString("linear") << false << 20;
    QTest::newRow("cubic opset 20") << QString("cubic") << true << 20;
}

void TestExtraOps::gridSampleIdentity()
{
    // A grid at the pixel centres (or corners) reproduces the input under every mode.
    QFETCH(QString, mode);
    QFETCH(bool, alignCorners);
    QFETCH(int, opset);
    std::mt19937 rng(3);
    const I64 N = 2, C = 3, H = 4, W = 5;
    const auto xv = randomFloats(static_cast<std::size_t>(N * C * H * W), rng);
    const Tensor X = Tensor::fromVector<float>({N, C, H, W}, xv);
    std::vector<float> g;
    auto norm = [&](I64 i, I64 len) {
        return alignCorners ? 2.0f * float(i) / float(len - 1) - 1 : (2.0f * float(i) + 1) / float(len) - 1;
    };
    for (I64 n = 0; n < N; ++n)
        for (I64 h = 0; h < H; ++h)
            for (I64 w = 0; w < W; ++w)
                g.insert(g.end(), {norm(w, W), norm(h, H)});
    const Tensor G = Tensor::fromVector<float>({N, H, W, 2}, g);
    Node node = makeNode("GridSample", 2, 1);
    setAttr(node, "mode", mode.toStdString());
    setAttr(node, "align_corners", I64{alignCorners});
    const auto out = runKernel(node, opset, {&X, &G}, 1);
    QString why;
    QVERIFY2(closeTo(out[0], std::vector<double>(xv.begin(), xv.end()), Shape{N, C, H, W}, 1e-5, why), qPrintable(why));
}

void TestExtraOps::gridSamplePadding_data()
{
    QTest::addColumn<QString>("padding");
    QTest::addColumn<QString>("mode");
    QTest::addColumn<double>("gx");
    QTest::addColumn<double>("want");
    // X is one row [1, 2, 3, 4] (H = 1); align_corners = 0, so x = ((gx + 1) * 4 - 1) / 2.
    QTest::newRow("zeros inside") << "zeros" << "bilinear" << -0.5 << 1.5; // x = 0.5
    QTest::newRow("zeros half out") << "zeros" << "bilinear" << -1.0 << 0.5; // x = -0.5: half of pixel 0
    QTest::newRow("zeros far out") << "zeros" << "bilinear" << -5.0 << 0.0;
    QTest::newRow("zeros huge") << "zeros" << "bicubic" << 1e30 << 0.0;
    QTest::newRow("border far out") << "border" << "bilinear" << 3.0 << 4.0;
    QTest::newRow("border huge") << "border" << "bicubic" << -1e30 << 1.0;
    QTest::newRow("reflection") << "reflection" << "bilinear" << 1.5 << 3.5; // x = 4.5 -> 2.5
    QTest::newRow("reflection twice") << "reflection" << "nearest" << 3.5 << 1.0; // x = 8.5 -> 8 -> 0
    QTest::newRow("nearest half to even") << "zeros" << "nearest" << 0.0 << 3.0; // x = 1.5 -> 2
    // Coordinates with no position give NaN rather than an arbitrary pixel.
    const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
    QTest::newRow("nan") << "border" << "bicubic" << nan << nan;
    QTest::newRow("reflection inf") << "reflection" << "bilinear" << inf << nan;
    QTest::newRow("zeros inf") << "zeros" << "nearest" << -inf << 0.0;
}

void TestExtraOps::gridSamplePadding()
{
    QFETCH(QString, padding);
    QFETCH(QString, mode);
    QFETCH(double, gx);
    QFETCH(double, want);
    const Tensor X = Tensor::fromVector<float>({1, 1, 1, 4}, {1, 2, 3, 4});
    const Tensor G = Tensor::fromVector<float>({1, 1, 1, 2}, {static_cast<float>(gx), 0.0f});
    Node node = makeNode("GridSample", 2, 1);
    setAttr(node, "mode", mode.toStdString());
    setAttr(node, "padding_mode", padding.toStdString());
    const auto out = runKernel(node, 16, {&X, &G}, 1);
    QString why;
    QVERIFY2(closeTo(out[0], {want}, Shape{1, 1, 1, 1}, 1e-6, why), qPrintable(why));
}

void TestExtraOps::rejectsBadInputs()
{
    // A target outside [0, C) that is not ignore_index.
    {
        const Tensor X = Tensor::fromVector<float>({2, 3}, {0, 1, 2, 3, 4, 5});
        const Tensor T = Tensor::fromVector<I64>({2}, {1, 3});
        Node node = makeNode("NegativeLogLikelihoodLoss", 2, 1);
        QVERIFY(throwsNaming<Error>([&] { runKernel(node, 13, {&X, &T}, 1); }, node));
        setAttr(node, "ignore_index", I64{3});
        QCOMPARE(runKernel(node, 13, {&X, &T}, 1)[0].at(0), -1.0); // mean over the one counted position
        const Tensor Bad = Tensor::fromVector<I64>({3}, {0, 1, 2});
        QVERIFY(throwsNaming<Error>([&] { runKernel(node, 13, {&X, &Bad}, 1); }, node));
    }
    // Box shapes that do not match.
    {
        const Tensor B = Tensor::fromVector<float>({1, 2, 4}, std::vector<float>(8, 0));
        const Tensor S = Tensor::fromVector<float>({1, 1, 3}, std::vector<float>(3, 0));
        Node node = makeNode("NonMaxSuppression", 2, 1);
        QVERIFY(throwsNaming<Error>([&] { runKernel(node, 11, {&B, &S}, 1); }, node));
    }
    // A roi batch index out of range.
    {
        const Tensor X = Tensor::fromVector<float>({1, 1, 2, 2}, {1, 2, 3, 4});
        const Tensor R = Tensor::fromVector<float>({1, 4}, {0, 0, 1, 1});
        const Tensor Bi = Tensor::fromVector<I64>({1}, {1});
        Node node = makeNode("RoiAlign", 3, 1);
        QVERIFY(throwsNaming<Error>([&] { runKernel(node, 16, {&X, &R, &Bi}, 1); }, node));
    }
    // Not implemented: inverse onesided DFT, 3-D GridSample.
    {
        Node node = makeNode("DFT", 1, 1);
        setAttr(node, "inverse", I64{1});
        setAttr(node, "onesided", I64{1});
        QVERIFY(throwsNaming<UnsupportedError>([&] { prepareKernel(node, 17); }, node));
        const Tensor X = Tensor::fromVector<float>({1, 1, 2, 2, 2}, std::vector<float>(8, 0));
        const Tensor G = Tensor::fromVector<float>({1, 1, 1, 1, 3}, {0, 0, 0});
        Node gs = makeNode("GridSample", 2, 1);
        QVERIFY(throwsNaming<UnsupportedError>([&] { runKernel(gs, 20, {&X, &G}, 1); }, gs));
    }
    // Axis that is not a signal axis, and a non-square Det.
    {
        const Tensor X = Tensor::fromVector<float>({2, 3, 1}, std::vector<float>(6, 0));
        Node node = makeNode("DFT", 1, 1);
        setAttr(node, "axis", I64{2});
        QVERIFY(throwsNaming<Error>([&] { runKernel(node, 17, {&X}, 1); }, node));
        Node det = makeNode("Det", 1, 1);
        QVERIFY(throwsNaming<Error>([&] { runKernel(det, 11, {&X}, 1); }, det));
    }
}

QTEST_APPLESS_MAIN(TestExtraOps)
#include "tst_extraops.moc"
