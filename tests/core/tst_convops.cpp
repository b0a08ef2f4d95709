// Conv, ConvTranspose and the windowed pools against naive direct loops written here,
// on random shapes and values with a fixed seed; plus the errors hostile shapes must raise.
#include <QtTest>

#include <cmath>
#include <functional>
#include <random>

#include "runtime/OpRegistry.h"
#include "util/Error.h"

using namespace leger;

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
Attribute stringAttr(const std::string& s)
{
    Attribute a;
    a.kind = Attribute::Kind::String;
    a.s = s;
    return a;
}

Dims toDims(const QList<int>& l) { return Dims(l.begin(), l.end()); }

Tensor randomTensor(const Shape& shape, std::mt19937& rng, DType dtype = DType::Float32)
{
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    Tensor t(dtype, shape);
    for (std::int64_t i = 0; i < t.size(); ++i) {
        if (dtype == DType::Float64)
            t.data<double>()[i] = u(rng);
        else
            t.data<float>()[i] = static_cast<float>(u(rng));
    }
    return t;
}

/// Prepares the node's kernel as the executor does and runs it once.
std::vector<Tensor> runNode(const Node& node, const std::vector<const Tensor*>& inputs, std::size_t outputs = 1,
                            int opset = 19)
{
    const KernelFactory* f = OpRegistry::builtin().find("", node.opType, opset);
    if (!f)
        throw Error("no kernel for " + node.opType);
    KernelContext ctx{node, opset, {}, {}};
    Kernel k = (*f)(ctx);
    std::vector<Tensor> out(outputs);
    std::vector<Tensor*> outPtr;
    for (auto& t : out)
        outPtr.push_back(&t);
    KernelArgs args(node, inputs, outPtr);
    k(args);
    return out;
}

/// Calls f(index) for every multi-index below dims (row-major order).
void forEachIndex(const Dims& dims, const std::function<void(const Dims&)>& f)
{
    for (std::int64_t d : dims)
        if (d <= 0)
            return;
    Dims idx(dims.size(), 0);
    while (true) {
        f(idx);
        int d = static_cast<int>(dims.size()) - 1;
        for (; d >= 0; --d) {
            if (++idx[static_cast<std::size_t>(d)] < dims[static_cast<std::size_t>(d)])
                break;
            idx[static_cast<std::size_t>(d)] = 0;
        }
        if (d < 0)
            return;
    }
}

std::int64_t flatIndex(const Dims& shape, const Dims& idx)
{
    std::int64_t o = 0;
    for (std::size_t i = 0; i < shape.size(); ++i)
        o = o * shape[i] + idx[i];
    return o;
}

double valueAt(const Tensor& t, std::int64_t i)
{
    return t.dtype() == DType::Float64 ? t.data<double>()[i] : double(t.data<float>()[i]);
}

struct ConvGeometry {
    Dims kernel, strides, dilations, pads; // pads: begins then ends
    std::int64_t group = 1;
};

/// Direct convolution in double: y[n, m, o] = b[m] + sum_{c, k} x[n, g*Cg + c, o*s - pb + k*d] * w[m, c, k].
Tensor referenceConv(const Tensor& X, const Tensor& W, const Tensor* B, const ConvGeometry& g)
{
    const std::size_t r = g.kernel.size();
    const std::int64_t N = X.dim(0), C = X.dim(1), M = W.dim(0), Cg = C / g.group, Mg = M / g.group;
    const Dims in(X.shape().begin() + 2, X.shape().end());
    Dims out(r);
    for (std::size_t i = 0; i < r; ++i)
        out[i] = (in[i] + g.pads[i] + g.pads[i + r] - (g.kernel[i] - 1) * g.dilations[i] - 1) / g.strides[i] + 1;
    Shape yShape{N, M};
    yShape.insert(yShape.end(), out.begin(), out.end());
    Tensor Y(DType::Float64, yShape);
    forEachIndex(yShape, [&](const Dims& yi) {
        const std::int64_t n = yi[0], m = yi[1], grp = m / Mg;
        double acc = B ? valueAt(*B, m) : 0.0;
        for (std::int64_t c = 0; c < Cg; ++c)
            forEachIndex(g.kernel, [&](const Dims& k) {
                Dims xi{n, grp * Cg + c};
                for (std::size_t i = 0; i < r; ++i) {
                    const std::int64_t p = yi[i + 2] * g.strides[i] - g.pads[i] + k[i] * g.dilations[i];
                    if (p < 0 || p >= in[i])
                        return;
                    xi.push_back(p);
                }
                Dims wi{m, c};
                wi.insert(wi.end(), k.begin(), k.end());
                acc += valueAt(X, flatIndex(X.shape(), xi)) * valueAt(W, flatIndex(W.shape(), wi));
            });
        Y.data<double>()[flatIndex(yShape, yi)] = acc;
    });
    return Y;
}

/// Direct transposed convolution: x[n, c, i] * w[c, mm, k] lands on y[n, g*Mg + mm, i*s - pb + k*d].
Tensor referenceConvTranspose(const Tensor& X, const Tensor& W, const Tensor* B, const ConvGeometry& g,
                              const Dims& outputPadding)
{
    const std::size_t r = g.kernel.size();
    const std::int64_t N = X.dim(0), C = X.dim(1), Mg = W.dim(1), M = Mg * g.group, Cg = C / g.group;
    const Dims in(X.shape().begin() + 2, X.shape().end());
    Dims out(r);
    for (std::size_t i = 0; i < r; ++i)
        out[i] = g.strides[i] * (in[i] - 1) + outputPadding[i] + (g.kernel[i] - 1) * g.dilations[i] + 1 - g.pads[i] -
                 g.pads[i + r];
    Shape yShape{N, M};
    yShape.insert(yShape.end(), out.begin(), out.end());
    Tensor Y(DType::Float64, yShape);
    forEachIndex(yShape, [&](const Dims& yi) { Y.data<double>()[flatIndex(yShape, yi)] = B ? valueAt(*B, yi[1]) : 0; });
    forEachIndex(X.shape(), [&](const Dims& xi) {
        const std::int64_t n = xi[0], c = xi[1], grp = c / Cg;
        const double xv = valueAt(X, flatIndex(X.shape(), xi));
        for (std::int64_t mm = 0; mm < Mg; ++mm)
            forEachIndex(g.kernel, [&](const Dims& k) {
                Dims yi{n, grp * Mg + mm};
                for (std::size_t i = 0; i < r; ++i) {
                    const std::int64_t p = xi[i + 2] * g.strides[i] - g.pads[i] + k[i] * g.dilations[i];
                    if (p < 0 || p >= out[i])
                        return;
                    yi.push_back(p);
                }
                Dims wi{c, mm};
                wi.insert(wi.end(), k.begin(), k.end());
                Y.data<double>()[flatIndex(yShape, yi)] += xv * valueAt(W, flatIndex(W.shape(), wi));
            });
    });
    return Y;
}

/// Fails the test unless got matches the reference within a relative tolerance.
void expectClose(const Tensor& got, const Tensor& want, double tol)
{
    QCOMPARE(shapeToString(got.shape()), shapeToString(want.shape()));
    double worst = 0;
    std::int64_t worstAt = -1;
    for (std::int64_t i = 0; i < want.size(); ++i) {
        const double e = valueAt(want, i), a = valueAt(got, i);
        const double err = std::abs(a - e) / std::max(1.0, std::abs(e));
        if (!(err <= worst)) {
            worst = err;
            worstAt = i;
        }
    }
    if (!(worst <= tol))
        QFAIL(qPrintable(QString("element %1: got %2, expected %3 (relative error %4)")
                             .arg(worstAt)
                             .arg(valueAt(got, worstAt))
                             .arg(valueAt(want, worstAt))
                             .arg(worst)));
}

Node convNode(const std::string& op, const ConvGeometry& g, bool bias)
{
    Node n;
    n.opType = op;
    n.name = "conv";
    n.inputs = {"X", "W"};
    if (bias)
        n.inputs.push_back("B");
    n.outputs = {"Y"};
    n.attributes["kernel_shape"] = intsAttr(g.kernel);
    n.attributes["strides"] = intsAttr(g.strides);
    n.attributes["dilations"] = intsAttr(g.dilations);
    n.attributes["pads"] = intsAttr(g.pads);
    n.attributes["group"] = intAttr(g.group);
    return n;
}

} // namespace

class TestConvOps : public QObject {
    Q_OBJECT
private slots:
    void conv_data();
    void conv();
    void convAutoPad_data();
    void convAutoPad();
    void convTranspose_data();
    void convTranspose();
    void pool_data();
    void pool();
    void rejectsHostileShapes_data();
    void rejectsHostileShapes();
    void convInteger_data();
    void convInteger();
    void convIntegerBeyondFloat();
};

void TestConvOps::conv_data()
{
    QTest::addColumn<int>("batch");
    QTest::addColumn<int>("cin");
    QTest::addColumn<int>("cout");
    QTest::addColumn<int>("group");
    QTest::addColumn<QList<int>>("input");   // spatial dims
    QTest::addColumn<QList<int>>("kernel");
    QTest::addColumn<QList<int>>("strides");
    QTest::addColumn<QList<int>>("dilations");
    QTest::addColumn<QList<int>>("pads");    // begins then ends
    QTest::addColumn<bool>("bias");
    QTest::addColumn<bool>("dbl");

    using L = QList<int>;
    QTest::newRow("3x3 pad 1") << 2 << 5 << 7 << 1 << L{9, 11} << L{3, 3} << L{1, 1} << L{1, 1} << L{1, 1, 1, 1} << true << false;
    QTest::newRow("3x3 unpadded, no bias") << 1 << 3 << 4 << 1 << L{8, 6} << L{3, 3} << L{1, 1} << L{1, 1} << L{0, 0, 0, 0} << false << false;
    QTest::newRow("1x1") << 3 << 16 << 8 << 1 << L{7, 5} << L{1, 1} << L{1, 1} << L{1, 1} << L{0, 0, 0, 0} << true << false;
    QTest::newRow("1x1 large grid") << 1 << 8 << 4 << 1 << L{48, 50} << L{1, 1} << L{1, 1} << L{1, 1} << L{0, 0, 0, 0} << true << false;
    QTest::newRow("1x1 stride 2") << 2 << 6 << 5 << 1 << L{9, 8} << L{1, 1} << L{2, 2} << L{1, 1} << L{0, 0, 0, 0} << true << false;
    QTest::newRow("3x3 stride 2") << 2 << 4 << 6 << 1 << L{13, 10} << L{3, 3} << L{2, 2} << L{1, 1} << L{1, 1, 1, 1} << true << false;
    QTest::newRow("stride 3x1 asymmetric pads") << 1 << 3 << 2 << 1 << L{10, 9} << L{3, 2} << L{3, 1} << L{1, 1} << L{2, 0, 1, 1} << true << false;
    QTest::newRow("dilated") << 2 << 3 << 4 << 1 << L{12, 12} << L{3, 3} << L{1, 1} << L{2, 3} << L{2, 3, 2, 3} << true << false;
    QTest::newRow("7x7 stride 2 pad 3") << 1 << 3 << 8 << 1 << L{20, 18} << L{7, 7} << L{2, 2} << L{1, 1} << L{3, 3, 3, 3} << true << false;
    QTest::newRow("grouped, 2 per group (direct)") << 2 << 6 << 9 << 3 << L{8, 7} << L{3, 3} << L{1, 1} << L{1, 1} << L{1, 1, 1, 1} << true << false;
    QTest::newRow("grouped, 8 per group (gemm)") << 2 << 16 << 8 << 2 << L{9, 9} << L{3, 3} << L{1, 1} << L{1, 1} << L{1, 1, 1, 1} << true << false;
    QTest::newRow("depthwise 3x3") << 2 << 8 << 8 << 8 << L{15, 17} << L{3, 3} << L{1, 1} << L{1, 1} << L{1, 1, 1, 1} << true << false;
    QTest::newRow("depthwise 3x3 stride 2") << 2 << 5 << 5 << 5 << L{16, 19} << L{3, 3} << L{2, 2} << L{1, 1} << L{1, 1, 1, 1} << true << false;
    QTest::newRow("depthwise 5x5 pad 2") << 1 << 4 << 4 << 4 << L{23, 21} << L{5, 5} << L{1, 1} << L{1, 1} << L{2, 2, 2, 2} << true << false;
    QTest::newRow("depthwise 5x5 stride 2") << 1 << 3 << 3 << 3 << L{24, 24} << L{5, 5} << L{2, 2} << L{1, 1} << L{2, 2, 2, 2} << false << false;
    QTest::newRow("depthwise dilated 3x3") << 1 << 3 << 3 << 3 << L{14, 14} << L{3, 3} << L{1, 1} << L{2, 2} << L{2, 2, 2, 2} << true << false;
    QTest::newRow("depthwise unpadded odd stride") << 1 << 3 << 3 << 3 << L{14, 13} << L{3, 3} << L{3, 3} << L{1, 1} << L{0, 0, 0, 0} << true << false;
    QTest::newRow("depthwise multiplier 2") << 2 << 3 << 6 << 3 << L{9, 10} << L{3, 3} << L{1, 1} << L{1, 1} << L{1, 0, 0, 1} << true << false;
    QTest::newRow("depthwise asymmetric pads") << 1 << 4 << 4 << 4 << L{10, 11} << L{3, 3} << L{2, 1} << L{1, 1} << L{0, 2, 1, 0} << true << false;
    QTest::newRow("single input channel, 3x3") << 2 << 1 << 6 << 1 << L{12, 12} << L{3, 3} << L{1, 1} << L{1, 1} << L{1, 1, 1, 1} << true << false;
    QTest::newRow("kernel 3x5 over padded input") << 1 << 2 << 3 << 1 << L{3, 4} << L{3, 5} << L{1, 1} << L{1, 1} << L{1, 2, 1, 2} << true << false;
    QTest::newRow("1-D") << 3 << 4 << 6 << 1 << L{20} << L{5} << L{2} << L{1} << L{2, 1} << true << false;
    QTest::newRow("1-D depthwise dilated") << 2 << 4 << 4 << 4 << L{30} << L{3} << L{1} << L{3} << L{3, 3} << true << false;
    QTest::newRow("3-D") << 2 << 3 << 4 << 1 << L{5, 6, 7} << L{3, 2, 3} << L{1, 2, 1} << L{1, 1, 2} << L{1, 0, 2, 1, 1, 2} << true << false;
    QTest::newRow("3-D depthwise") << 1 << 4 << 4 << 4 << L{5, 5, 5} << L{3, 3, 3} << L{1, 1, 1} << L{1, 1, 1} << L{1, 1, 1, 1, 1, 1} << true << false;
    QTest::newRow("batch 40, small grid (batched GEMM)") << 40 << 6 << 10 << 1 << L{4, 5} << L{3, 3} << L{1, 1} << L{1, 1} << L{1, 1, 1, 1} << true << false;
    QTest::newRow("batch 30, 1x1 small grid (batched GEMM)") << 30 << 12 << 5 << 1 << L{3, 3} << L{1, 1} << L{1, 1} << L{1, 1} << L{0, 0, 0, 0} << true << false;
    QTest::newRow("batch 17, grouped, batched GEMM") << 17 << 16 << 12 << 2 << L{5, 4} << L{3, 3} << L{1, 1} << L{1, 1} << L{1, 1, 1, 1} << true << false;
    QTest::newRow("double") << 2 << 3 << 4 << 1 << L{7, 8} << L{3, 3} << L{2, 1} << L{1, 1} << L{1, 1, 1, 1} << true << true;
    QTest::newRow("double depthwise") << 2 << 3 << 3 << 3 << L{7, 8} << L{3, 3} << L{1, 1} << L{1, 1} << L{1, 1, 1, 1} << true << true;
}

void TestConvOps::conv()
{
    QFETCH(int, batch);
    QFETCH(int, cin);
    QFETCH(int, cout);
    QFETCH(int, group);
    QFETCH(QList<int>, input);
    QFETCH(QList<int>, kernel);
    QFETCH(QList<int>, strides);
    QFETCH(QList<int>, dilations);
    QFETCH(QList<int>, pads);
    QFETCH(bool, bias);
    QFETCH(bool, dbl);
    std::mt19937 rng(1234);
    const DType dt = dbl ? DType::Float64 : DType::Float32;
    ConvGeometry g{toDims(kernel), toDims(strides), toDims(dilations), toDims(pads), group};
    Shape xShape{batch, cin};
    for (int d : input)
        xShape.push_back(d);
    Shape wShape{cout, cin / group};
    for (int k : kernel)
        wShape.push_back(k);
    const Tensor X = randomTensor(xShape, rng, dt);
    const Tensor W = randomTensor(wShape, rng, dt);
    const Tensor B = randomTensor({cout}, rng, dt);
    const Node node = convNode("Conv", g, bias);
    std::vector<const Tensor*> in{&X, &W};
    if (bias)
        in.push_back(&B);
    const auto out = runNode(node, in);
    expectClose(out[0], referenceConv(X, W, bias ? &B : nullptr, g), 1e-4);
    // A second run reuses the kernel's scratch and the output buffer.
    const Tensor X2 = randomTensor(xShape, rng, dt);
    in[0] = &X2;
    expectClose(runNode(node, in)[0], referenceConv(X2, W, bias ? &B : nullptr, g), 1e-4);
}

void TestConvOps::convAutoPad_data()
{
    QTest::addColumn<QString>("autoPad");
    QTest::addColumn<int>("stride");
    QTest::addColumn<int>("group");
    QTest::addColumn<QList<int>>("expectedPads"); // begins then ends, for a 3x3 kernel over 10x9
    using L = QList<int>;
    QTest::newRow("SAME_UPPER stride 1") << "SAME_UPPER" << 1 << 1 << L{1, 1, 1, 1};
    QTest::newRow("SAME_UPPER stride 2") << "SAME_UPPER" << 2 << 1 << L{0, 1, 1, 1};
    QTest::newRow("SAME_LOWER stride 2") << "SAME_LOWER" << 2 << 1 << L{1, 1, 0, 1};
    QTest::newRow("SAME_LOWER stride 2 depthwise") << "SAME_LOWER" << 2 << 4 << L{1, 1, 0, 1};
    QTest::newRow("VALID stride 2") << "VALID" << 2 << 1 << L{0, 0, 0, 0};
}

void TestConvOps::convAutoPad()
{
    QFETCH(QString, autoPad);
    QFETCH(int, stride);
    QFETCH(int, group);
    QFETCH(QList<int>, expectedPads);
    std::mt19937 rng(99);
    const Tensor X = randomTensor({2, 4, 10, 9}, rng);
    const Tensor W = randomTensor({4, 4 / group, 3, 3}, rng);
    Node node;
    node.opType = "Conv";
    node.inputs = {"X", "W"};
    node.outputs = {"Y"};
    node.attributes["auto_pad"] = stringAttr(autoPad.toStdString());
    node.attributes["strides"] = intsAttr({stride, stride});
    node.attributes["group"] = intAttr(group);
    const auto out = runNode(node, {&X, &W});
    ConvGeometry g{{3, 3}, {stride, stride}, {1, 1}, toDims(expectedPads), group};
    expectClose(out[0], referenceConv(X, W, nullptr, g), 1e-4);
}

void TestConvOps::convTranspose_data()
{
    QTest::addColumn<int>("batch");
    QTest::addColumn<int>("cin");
    QTest::addColumn<int>("cout");
    QTest::addColumn<int>("group");
    QTest::addColumn<QList<int>>("input");
    QTest::addColumn<QList<int>>("kernel");
    QTest::addColumn<QList<int>>("strides");
    QTest::addColumn<QList<int>>("dilations");
    QTest::addColumn<QList<int>>("pads");
    QTest::addColumn<QList<int>>("outputPadding");
    QTest::addColumn<bool>("bias");

    using L = QList<int>;
    QTest::newRow("3x3") << 2 << 3 << 4 << 1 << L{5, 6} << L{3, 3} << L{1, 1} << L{1, 1} << L{0, 0, 0, 0} << L{0, 0} << true;
    QTest::newRow("stride 2, pads") << 2 << 4 << 3 << 1 << L{5, 4} << L{3, 3} << L{2, 2} << L{1, 1} << L{1, 1, 1, 1} << L{0, 0} << true;
    QTest::newRow("stride 2, output_padding") << 1 << 4 << 3 << 1 << L{5, 4} << L{3, 3} << L{2, 2} << L{1, 1} << L{1, 1, 1, 1} << L{1, 1} << false;
    QTest::newRow("4x4 stride 2 (upsampling)") << 2 << 6 << 4 << 1 << L{7, 7} << L{4, 4} << L{2, 2} << L{1, 1} << L{1, 1, 1, 1} << L{0, 0} << true;
    QTest::newRow("stride 3x2 asymmetric pads") << 1 << 2 << 3 << 1 << L{4, 5} << L{3, 2} << L{3, 2} << L{1, 1} << L{0, 1, 2, 0} << L{0, 1} << true;
    QTest::newRow("dilated") << 1 << 3 << 2 << 1 << L{5, 5} << L{3, 3} << L{1, 1} << L{2, 2} << L{1, 1, 1, 1} << L{0, 0} << true;
    QTest::newRow("grouped") << 2 << 6 << 4 << 2 << L{4, 5} << L{3, 3} << L{2, 1} << L{1, 1} << L{0, 1, 0, 1} << L{1, 0} << true;
    QTest::newRow("depthwise") << 1 << 4 << 4 << 4 << L{6, 6} << L{3, 3} << L{2, 2} << L{1, 1} << L{1, 1, 1, 1} << L{1, 1} << true;
    QTest::newRow("1-D") << 2 << 3 << 5 << 1 << L{9} << L{4} << L{3} << L{1} << L{1, 2} << L{2} << true;
    QTest::newRow("3-D") << 1 << 2 << 3 << 1 << L{3, 4, 3} << L{2, 3, 2} << L{2, 1, 2} << L{1, 1, 1} << L{0, 1, 0, 0, 1, 1} << L{1, 0, 0} << true;
}

void TestConvOps::convTranspose()
{
    QFETCH(int, batch);
    QFETCH(int, cin);
    QFETCH(int, cout);
    QFETCH(int, group);
    QFETCH(QList<int>, input);
    QFETCH(QList<int>, kernel);
    QFETCH(QList<int>, strides);
    QFETCH(QList<int>, dilations);
    QFETCH(QList<int>, pads);
    QFETCH(QList<int>, outputPadding);
    QFETCH(bool, bias);
    std::mt19937 rng(4321);
    ConvGeometry g{toDims(kernel), toDims(strides), toDims(dilations), toDims(pads), group};
    Shape xShape{batch, cin};
    for (int d : input)
        xShape.push_back(d);
    Shape wShape{cin, cout / group};
    for (int k : kernel)
        wShape.push_back(k);
    const Tensor X = randomTensor(xShape, rng);
    const Tensor W = randomTensor(wShape, rng);
    const Tensor B = randomTensor({cout}, rng);
    Node node = convNode("ConvTranspose", g, bias);
    node.attributes["output_padding"] = intsAttr(toDims(outputPadding));
    std::vector<const Tensor*> in{&X, &W};
    if (bias)
        in.push_back(&B);
    const Tensor want = referenceConvTranspose(X, W, bias ? &B : nullptr, g, toDims(outputPadding));
    expectClose(runNode(node, in)[0], want, 1e-4);

    // The same output through output_shape instead of pads (ONNX splits the total padding,
    // the odd unit going to the beginning): only checks against the reference when the
    // pads are of that form.
    const std::size_t r = g.kernel.size();
    bool splitForm = true;
    for (std::size_t i = 0; i < r; ++i) {
        const std::int64_t total = g.pads[i] + g.pads[i + r];
        splitForm = splitForm && g.pads[i + r] == total / 2 && g.pads[i] == total - total / 2;
    }
    if (splitForm) {
        Node byShape = convNode("ConvTranspose", ConvGeometry{g.kernel, g.strides, g.dilations, {}, group}, bias);
        byShape.attributes.erase("pads");
        byShape.attributes["output_padding"] = intsAttr(toDims(outputPadding));
        byShape.attributes["output_shape"] = intsAttr(Dims(want.shape().begin() + 2, want.shape().end()));
        expectClose(runNode(byShape, in)[0], want, 1e-4);
    }
}

void TestConvOps::pool_data()
{
    QTest::addColumn<QString>("op");
    QTest::addColumn<QList<int>>("input");
    QTest::addColumn<QList<int>>("kernel");
    QTest::addColumn<QList<int>>("strides");
    QTest::addColumn<QList<int>>("pads");
    QTest::addColumn<bool>("ceilMode");
    QTest::addColumn<bool>("countIncludePad");

    using L = QList<int>;
    QTest::newRow("max 3x3 s2 p1") << "MaxPool" << L{13, 12} << L{3, 3} << L{2, 2} << L{1, 1, 1, 1} << false << false;
    QTest::newRow("max 2x2 s2") << "MaxPool" << L{8, 9} << L{2, 2} << L{2, 2} << L{0, 0, 0, 0} << false << false;
    QTest::newRow("max 3x3 s2 ceil") << "MaxPool" << L{8, 10} << L{3, 3} << L{2, 2} << L{0, 0, 0, 0} << true << false;
    QTest::newRow("max 1-D s3 pads") << "MaxPool" << L{17} << L{4} << L{3} << L{2, 1} << false << false;
    QTest::newRow("max 3-D") << "MaxPool" << L{5, 6, 7} << L{2, 3, 2} << L{1, 2, 2} << L{0, 1, 1, 1, 1, 0} << false << false;
    QTest::newRow("avg 3x3 s1 p1") << "AveragePool" << L{9, 10} << L{3, 3} << L{1, 1} << L{1, 1, 1, 1} << false << false;
    QTest::newRow("avg 3x3 s1 p1 count pads") << "AveragePool" << L{9, 10} << L{3, 3} << L{1, 1} << L{1, 1, 1, 1} << false << true;
    QTest::newRow("avg 3x2 s2 ceil") << "AveragePool" << L{9, 10} << L{3, 2} << L{2, 2} << L{1, 0, 0, 1} << true << false;
    QTest::newRow("avg 3x2 s2 ceil count pads") << "AveragePool" << L{9, 10} << L{3, 2} << L{2, 2} << L{1, 0, 0, 1} << true << true;
}

void TestConvOps::pool()
{
    QFETCH(QString, op);
    QFETCH(QList<int>, input);
    QFETCH(QList<int>, kernel);
    QFETCH(QList<int>, strides);
    QFETCH(QList<int>, pads);
    QFETCH(bool, ceilMode);
    QFETCH(bool, countIncludePad);
    std::mt19937 rng(7);
    Shape xShape{2, 3};
    for (int d : input)
        xShape.push_back(d);
    const Tensor X = randomTensor(xShape, rng);
    const Dims k = toDims(kernel), s = toDims(strides), p = toDims(pads), in(xShape.begin() + 2, xShape.end());
    const std::size_t r = k.size();
    Dims out(r);
    for (std::size_t i = 0; i < r; ++i) {
        const std::int64_t span = in[i] + p[i] + p[i + r] - k[i];
        out[i] = (ceilMode ? (span + s[i] - 1) / s[i] : span / s[i]) + 1;
        if (ceilMode && (out[i] - 1) * s[i] >= in[i] + p[i])
            --out[i];
    }
    Shape yShape{xShape[0], xShape[1]};
    yShape.insert(yShape.end(), out.begin(), out.end());
    Tensor want(DType::Float64, yShape);
    const bool isMax = op == "MaxPool";
    forEachIndex(yShape, [&](const Dims& yi) {
        double acc = isMax ? -INFINITY : 0.0;
        std::int64_t count = 0, padded = 0;
        forEachIndex(k, [&](const Dims& kk) {
            Dims xi{yi[0], yi[1]};
            bool inside = true, inPadded = true;
            for (std::size_t i = 0; i < r; ++i) {
                const std::int64_t q = yi[i + 2] * s[i] - p[i] + kk[i];
                inside = inside && q >= 0 && q < in[i];
                inPadded = inPadded && q < in[i] + p[i + r];
                xi.push_back(q);
            }
            padded += inPadded;
            if (!inside)
                return;
            ++count;
            const double v = valueAt(X, flatIndex(xShape, xi));
            acc = isMax ? std::max(acc, v) : acc + v;
        });
        want.data<double>()[flatIndex(yShape, yi)] = isMax ? acc : acc / double(countIncludePad ? padded : count);
    });
    Node node;
    node.opType = op.toStdString();
    node.inputs = {"X"};
    node.outputs = {"Y"};
    node.attributes["kernel_shape"] = intsAttr(k);
    node.attributes["strides"] = intsAttr(s);
    node.attributes["pads"] = intsAttr(p);
    node.attributes["ceil_mode"] = intAttr(ceilMode);
    node.attributes["count_include_pad"] = intAttr(countIncludePad);
    expectClose(runNode(node, {&X})[0], want, 1e-5);
    if (isMax) {
        // The Indices output must point at the maxima.
        node.outputs.push_back("I");
        const auto both = runNode(node, {&X}, 2);
        expectClose(both[0], want, 1e-5);
        for (std::int64_t i = 0; i < both[1].size(); ++i)
            QCOMPARE(X.data<float>()[both[1].data<std::int64_t>()[i]], both[0].data<float>()[i]);
    }
}

void TestConvOps::rejectsHostileShapes_data()
{
    QTest::addColumn<QString>("op");
    QTest::addColumn<QList<int>>("xShape");
    QTest::addColumn<QList<int>>("wShape");
    QTest::addColumn<QList<int>>("strides");
    QTest::addColumn<QList<int>>("pads");
    QTest::addColumn<int>("group");

    using L = QList<int>;
    QTest::newRow("kernel larger than input") << "Conv" << L{1, 2, 3, 3} << L{4, 2, 5, 5} << L{1, 1} << L{0, 0, 0, 0} << 1;
    QTest::newRow("zero stride") << "Conv" << L{1, 2, 5, 5} << L{4, 2, 3, 3} << L{0, 1} << L{0, 0, 0, 0} << 1;
    QTest::newRow("negative pad") << "Conv" << L{1, 2, 5, 5} << L{4, 2, 3, 3} << L{1, 1} << L{-1, 0, 0, 0} << 1;
    QTest::newRow("channels disagree") << "Conv" << L{1, 3, 5, 5} << L{4, 2, 3, 3} << L{1, 1} << L{0, 0, 0, 0} << 1;
    QTest::newRow("group does not divide") << "Conv" << L{1, 4, 5, 5} << L{3, 2, 3, 3} << L{1, 1} << L{0, 0, 0, 0} << 2;
    QTest::newRow("zero group") << "Conv" << L{1, 4, 5, 5} << L{4, 4, 3, 3} << L{1, 1} << L{0, 0, 0, 0} << 0;
    QTest::newRow("rank mismatch") << "Conv" << L{1, 2, 5, 5} << L{4, 2, 3} << L{1, 1} << L{0, 0, 0, 0} << 1;
    QTest::newRow("strides for wrong rank") << "Conv" << L{1, 2, 5, 5} << L{4, 2, 3, 3} << L{1, 1, 1} << L{0, 0, 0, 0} << 1;
    QTest::newRow("rank-2 input") << "Conv" << L{2, 5} << L{4, 2} << L{} << L{} << 1;
    QTest::newRow("transpose: pads eat the output") << "ConvTranspose" << L{1, 2, 2, 2} << L{2, 2, 3, 3} << L{1, 1} << L{3, 3, 3, 3} << 1;
    QTest::newRow("transpose: channels disagree") << "ConvTranspose" << L{1, 3, 4, 4} << L{2, 2, 3, 3} << L{1, 1} << L{0, 0, 0, 0} << 1;
    QTest::newRow("pool: kernel larger than input") << "MaxPool" << L{1, 2, 3, 3} << L{5, 5} << L{1, 1} << L{0, 0, 0, 0} << 1;
    QTest::newRow("pool: zero stride") << "AveragePool" << L{1, 2, 6, 6} << L{3, 3} << L{0, 0} << L{0, 0, 0, 0} << 1;
}

void TestConvOps::rejectsHostileShapes()
{
    QFETCH(QString, op);
    QFETCH(QList<int>, xShape);
    QFETCH(QList<int>, wShape);
    QFETCH(QList<int>, strides);
    QFETCH(QList<int>, pads);
    QFETCH(int, group);
    Node node;
    node.opType = op.toStdString();
    node.name = "hostile";
    node.outputs = {"Y"};
    if (!strides.isEmpty())
        node.attributes["strides"] = intsAttr(toDims(strides));
    if (!pads.isEmpty())
        node.attributes["pads"] = intsAttr(toDims(pads));
    Tensor X(DType::Float32, toDims(xShape));
    X.zero();
    Tensor W(DType::Float32, toDims(wShape));
    W.zero();
    std::vector<const Tensor*> in{&X};
    if (op.contains("Pool")) {
        node.inputs = {"X"};
        node.attributes["kernel_shape"] = intsAttr(toDims(wShape));
    } else {
        node.inputs = {"X", "W"};
        node.attributes["group"] = intAttr(group);
        in.push_back(&W);
    }
    try {
        runNode(node, in);
        QFAIL("no error raised");
    } catch (const UnsupportedError& e) {
        QFAIL(qPrintable(QString("raised UnsupportedError instead of Error: ") + e.what()));
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find("'hostile'") != std::string::npos, e.what());
    }
}

void TestConvOps::convInteger_data()
{
    QTest::addColumn<bool>("unsignedX");
    QTest::addColumn<int>("C");
    QTest::addColumn<int>("M");
    QTest::addColumn<int>("group");
    QTest::addColumn<int>("stride");
    QTest::addColumn<bool>("channelZeroPoints");
    QTest::addColumn<bool>("saturated");
    // Small K: sums below 2^24 (float GEMM); large K with full-range values: double GEMM.
    // Saturated: every value at its extreme, so that sums pass 2^24 (a float GEMM would round).
    QTest::newRow("u8 small K") << true << 3 << 4 << 1 << 1 << false << false;
    QTest::newRow("i8 grouped strided") << false << 8 << 6 << 2 << 2 << true << false;
    QTest::newRow("u8 large K") << true << 64 << 8 << 1 << 1 << true << false;
    QTest::newRow("i8 large K strided") << false << 96 << 4 << 1 << 2 << false << false;
    QTest::newRow("u8 large K saturated") << true << 96 << 4 << 1 << 1 << false << true;
}

void TestConvOps::convInteger()
{
    // Against a plain int32 loop: ConvInteger is exact, so the results must be equal.
    QFETCH(bool, unsignedX);
    QFETCH(int, C);
    QFETCH(int, M);
    QFETCH(int, group);
    QFETCH(int, stride);
    QFETCH(bool, channelZeroPoints);
    QFETCH(bool, saturated);
    const std::int64_t N = 2, H = 9, W = 7, KH = 3, KW = 3, pad = 1;
    std::mt19937 rng(static_cast<unsigned>(C * 31 + M));
    std::uniform_int_distribution<int> u8(0, 255), i8(-128, 127);
    Tensor x(unsignedX ? DType::UInt8 : DType::Int8, {N, C, H, W});
    Tensor w(DType::Int8, {M, C / group, KH, KW});
    for (std::int64_t i = 0; i < x.size(); ++i) {
        if (unsignedX)
            x.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(u8(rng));
        else
            x.data<std::int8_t>()[i] = static_cast<std::int8_t>(i8(rng));
    }
    for (std::int64_t i = 0; i < w.size(); ++i)
        w.data<std::int8_t>()[i] = static_cast<std::int8_t>(i8(rng));
    if (saturated) {
        for (std::int64_t i = 0; i < x.size(); ++i)
            x.data<std::uint8_t>()[i] = 254; // 251 after the zero point
        for (std::int64_t i = 0; i < w.size(); ++i)
            w.data<std::int8_t>()[i] = (i % 7 == 0) ? 127 : 126; // 128 or 127: odd and even products
    }
    Tensor xz(x.dtype(), {});
    if (unsignedX)
        xz.data<std::uint8_t>()[0] = 3;
    else
        xz.data<std::int8_t>()[0] = -5;
    Tensor wz(DType::Int8, {channelZeroPoints ? M : 1});
    for (std::int64_t i = 0; i < wz.size(); ++i)
        wz.data<std::int8_t>()[i] = static_cast<std::int8_t>(i % 3 - 1);
    Node n;
    n.opType = "ConvInteger";
    n.name = "n";
    n.inputs = {"x", "w", "x_zero_point", "w_zero_point"};
    n.outputs = {"y"};
    n.attributes["group"] = intAttr(group);
    n.attributes["strides"] = intsAttr({stride, stride});
    n.attributes["pads"] = intsAttr({pad, pad, pad, pad});
    const Tensor y = runNode(n, {&x, &w, &xz, &wz}, 1, 10).at(0);
    const std::int64_t OH = (H + 2 * pad - KH) / stride + 1, OW = (W + 2 * pad - KW) / stride + 1;
    QCOMPARE(y.shape(), (Shape{N, M, OH, OW}));
    auto xv = [&](std::int64_t i) {
        return (unsignedX ? std::int64_t{x.data<std::uint8_t>()[i]} : std::int64_t{x.data<std::int8_t>()[i]}) -
               (unsignedX ? std::int64_t{xz.data<std::uint8_t>()[0]} : std::int64_t{xz.data<std::int8_t>()[0]});
    };
    const std::int64_t Cg = C / group, Mg = M / group;
    for (std::int64_t b = 0; b < N; ++b)
        for (std::int64_t m = 0; m < M; ++m)
            for (std::int64_t oy = 0; oy < OH; ++oy)
                for (std::int64_t ox = 0; ox < OW; ++ox) {
                    std::int64_t sum = 0;
                    const std::int64_t g = m / Mg;
                    for (std::int64_t c = 0; c < Cg; ++c)
                        for (std::int64_t ky = 0; ky < KH; ++ky)
                            for (std::int64_t kx = 0; kx < KW; ++kx) {
                                const std::int64_t iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                    continue;
                                const std::int64_t wv = w.data<std::int8_t>()[((m * Cg + c) * KH + ky) * KW + kx] -
                                                        wz.data<std::int8_t>()[channelZeroPoints ? m : 0];
                                sum += wv * xv(((b * C + g * Cg + c) * H + iy) * W + ix);
                            }
                    QCOMPARE(std::int64_t{y.data<std::int32_t>()[((b * M + m) * OH + oy) * OW + ox]}, sum);
                }
}

void TestConvOps::convIntegerBeyondFloat()
{
    // One channel whose sums pass 2^24 by themselves (17 x 17 taps of 255 * 255): computed in
    // double. Exact expected value: every output inside sums 289 * 255 * 255.
    const std::int64_t H = 20, W = 20, KH = 17;
    Tensor x(DType::UInt8, {1, 1, H, W}), w(DType::Int8, {1, 1, KH, KH});
    for (std::int64_t i = 0; i < x.size(); ++i)
        x.data<std::uint8_t>()[i] = 255;
    for (std::int64_t i = 0; i < w.size(); ++i)
        w.data<std::int8_t>()[i] = 127;
    Tensor xz(DType::UInt8, {}), wz(DType::Int8, {});
    xz.data<std::uint8_t>()[0] = 0;
    wz.data<std::int8_t>()[0] = -128;
    Node n;
    n.opType = "ConvInteger";
    n.name = "n";
    n.inputs = {"x", "w", "x_zero_point", "w_zero_point"};
    n.outputs = {"y"};
    const Tensor y = runNode(n, {&x, &w, &xz, &wz}, 1, 10).at(0);
    QCOMPARE(y.shape(), (Shape{1, 1, H - KH + 1, W - KH + 1}));
    for (std::int64_t i = 0; i < y.size(); ++i)
        QCOMPARE(y.data<std::int32_t>()[i], 289 * 255 * 255);
}

QTEST_APPLESS_MAIN(TestConvOps)
#include "tst_convops.moc"
