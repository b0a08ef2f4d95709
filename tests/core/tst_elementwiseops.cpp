// Elementwise and activation kernels against naive references written here, on fixed-seed
// random data: numpy broadcasting of binary and variadic ops, legacy (opset < 7) broadcasting,
// Softmax-family axis handling before and after opset 13, Cast rounding to 16-bit floats,
// and the activations without ONNX backend tests. Every kernel runs twice into an output
// pre-filled with garbage, to check that it writes every element.
#include <QtTest>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "TestUtil.h"

using namespace leger;
using namespace leger::test;

Q_DECLARE_METATYPE(leger::Shape)

namespace {

/// Flat index into a tensor of shape `in` of the element broadcast to output index `o`.
std::int64_t broadcastIndex(const Shape& in, const Shape& out, std::int64_t o)
{
    std::int64_t index = 0, stride = 1;
    for (int d = static_cast<int>(out.size()) - 1, k = static_cast<int>(in.size()) - 1; d >= 0; --d, --k) {
        const std::int64_t coord = o % out[static_cast<std::size_t>(d)];
        o /= out[static_cast<std::size_t>(d)];
        if (k >= 0) {
            const std::int64_t dim = in[static_cast<std::size_t>(k)];
            index += (dim == 1 ? 0 : coord) * stride;
            stride *= dim;
        }
    }
    return index;
}

Shape broadcastShape(const Shape& a, const Shape& b)
{
    const std::size_t r = std::max(a.size(), b.size());
    Shape out(r);
    for (std::size_t i = 0; i < r; ++i) {
        const std::int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
        const std::int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
        out[i] = da == 1 ? db : da;
    }
    return out;
}

double referenceBinary(const std::string& op, double a, double b)
{
    if (op == "Add")
        return a + b;
    if (op == "Sub")
        return a - b;
    if (op == "Mul")
        return a * b;
    if (op == "Div")
        return a / b;
    if (op == "Max")
        return std::max(a, b);
    if (op == "Min")
        return std::min(a, b);
    if (op == "Greater")
        return a > b;
    if (op == "Equal")
        return a == b;
    if (op == "PRelu")
        return a < 0 ? a * b : a;
    throw Error("no reference for " + op);
}

/// The nearest of all finite values of a 16-bit format (given by its bits -> float decoding),
/// ties to the even bit pattern, overflow to infinity past the largest finite value plus half
/// an ulp: brute force, so it shares nothing with the implementation under test.
template <class Decode> std::uint16_t nearest16(double v, Decode decode, std::uint16_t maxFinite)
{
    if (std::isnan(v))
        return 0x7fff;
    const double maxValue = decode(maxFinite);
    const double prevValue = decode(static_cast<std::uint16_t>(maxFinite - 1));
    const std::uint16_t sign = std::signbit(v) ? 0x8000 : 0;
    const double a = std::abs(v);
    if (a >= maxValue + (maxValue - prevValue) / 2)
        return static_cast<std::uint16_t>(sign | (maxFinite + 1)); // infinity
    std::uint16_t best = 0;
    double bestErr = std::numeric_limits<double>::infinity();
    for (std::uint32_t bits = 0; bits <= maxFinite; ++bits) {
        const double err = std::abs(decode(static_cast<std::uint16_t>(bits)) - a);
        if (err < bestErr || (err == bestErr && (bits & 1u) == 0)) {
            best = static_cast<std::uint16_t>(bits);
            bestErr = err;
        }
    }
    return static_cast<std::uint16_t>(sign | best);
}

double decodeHalf(std::uint16_t bits)
{
    Half h;
    h.bits = bits;
    return h.toFloat();
}

double decodeBFloat16(std::uint16_t bits)
{
    BFloat16 b;
    b.bits = bits;
    return b.toFloat();
}

} // namespace

class TestElementwiseOps : public QObject {
    Q_OBJECT
private slots:
    void broadcastBinary_data();
    void broadcastBinary();
    void integerArithmetic_data();
    void integerArithmetic();
    void legacyBroadcast();
    void variadic_data();
    void variadic();
    void where();
    void softmaxAxes_data();
    void softmaxAxes();
    void castTo16Bit_data();
    void castTo16Bit();
    void castIntegers();
    void activations_data();
    void activations();
    void clipForms();
    void errors();
};

void TestElementwiseOps::broadcastBinary_data()
{
    QTest::addColumn<QString>("op");
    QTest::addColumn<Shape>("a");
    QTest::addColumn<Shape>("b");
    const std::vector<std::pair<Shape, Shape>> shapes = {
        {{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {}},           {{}, {2, 3, 4}},         {{2, 3, 4}, {3, 1}},
        {{4, 1, 5}, {1, 3, 1}}, {{1}, {2, 3}},             {{2, 1, 3, 1}, {1, 4, 1, 5}}, {{3, 1}, {1, 40}},
        {{}, {}},               {{0, 3}, {3}},             {{2, 3, 4, 5}, {1, 3, 1, 1}}, {{37}, {37}},
        {{5, 1, 33}, {5, 7, 1}}};
    for (const char* op : {"Add", "Sub", "Mul", "Div", "Max", "Min", "Greater", "Equal"})
        for (const auto& [a, b] : shapes)
            QTest::newRow((std::string(op) + " " + shapeToString(a) + " " + shapeToString(b)).c_str())
                << QString(op) << a << b;
    // PRelu broadcasts its slope to the input only.
    QTest::newRow("PRelu [2,3,4,5] [3,1,1]") << QString("PRelu") << Shape{2, 3, 4, 5} << Shape{3, 1, 1};
    QTest::newRow("PRelu [2,3,4] [4]") << QString("PRelu") << Shape{2, 3, 4} << Shape{4};
}

void TestElementwiseOps::broadcastBinary()
{
    QFETCH(QString, op);
    QFETCH(Shape, a);
    QFETCH(Shape, b);
    std::mt19937 rng(42);
    Tensor ta = randomTensor(a, rng, -3.0, 3.0), tb = randomTensor(b, rng, -3.0, 3.0);
    if (op == "Equal" && ta.size() > 0) // make some elements equal
        for (std::int64_t i = 0; i < tb.size(); i += 2)
            tb.data<float>()[i] = ta.data<float>()[i % ta.size()];
    const Node node = makeNode(op.toStdString(), 2);
    const Tensor out = runKernel(node, 13, {&ta, &tb})[0];
    const Shape shape = broadcastShape(a, b);
    QCOMPARE(out.shape(), shape);
    const bool boolOut = op == "Greater" || op == "Equal";
    QCOMPARE(out.dtype(), boolOut ? DType::Bool : DType::Float32);
    for (std::int64_t i = 0; i < out.size(); ++i) {
        const float x = ta.data<float>()[broadcastIndex(a, shape, i)];
        const float y = tb.data<float>()[broadcastIndex(b, shape, i)];
        // float arithmetic, so the reference rounds the same way
        const float want = static_cast<float>(referenceBinary(op.toStdString(), x, y));
        const float got = boolOut ? float(out.data<bool>()[i]) : out.data<float>()[i];
        if (got != want)
            QFAIL(qPrintable(QString("element %1: %2, expected %3").arg(i).arg(got).arg(want)));
    }
}

void TestElementwiseOps::integerArithmetic_data()
{
    QTest::addColumn<QString>("op");
    QTest::addColumn<int>("fmod");
    for (const char* op : {"Add", "Sub", "Mul", "Div"})
        QTest::newRow(op) << QString(op) << 0;
    QTest::newRow("Mod fmod=0 (Python signs)") << QString("Mod") << 0;
    QTest::newRow("Mod fmod=1 (C signs)") << QString("Mod") << 1;
}

void TestElementwiseOps::integerArithmetic()
{
    QFETCH(QString, op);
    QFETCH(int, fmod);
    std::mt19937 rng(7);
    const Shape a{3, 1, 5}, b{4, 1};
    Tensor ta = randomTensor(a, rng, -50, 50, DType::Int32), tb = randomTensor(b, rng, -9, 9, DType::Int32);
    for (auto& v : tb.span<std::int32_t>())
        if (v == 0)
            v = 3;
    Node node = makeNode(op.toStdString(), 2);
    if (op == "Mod")
        setAttr(node, "fmod", std::int64_t{fmod});
    const Tensor out = runKernel(node, 13, {&ta, &tb})[0];
    const Shape shape = broadcastShape(a, b);
    QCOMPARE(out.dtype(), DType::Int32);
    QCOMPARE(out.shape(), shape);
    for (std::int64_t i = 0; i < out.size(); ++i) {
        const std::int32_t x = ta.data<std::int32_t>()[broadcastIndex(a, shape, i)];
        const std::int32_t y = tb.data<std::int32_t>()[broadcastIndex(b, shape, i)];
        std::int32_t want;
        if (op == "Add")
            want = x + y;
        else if (op == "Sub")
            want = x - y;
        else if (op == "Mul")
            want = x * y;
        else if (op == "Div")
            want = x / y; // truncation, as C and the ONNX reference (via astype) do
        else if (fmod)
            want = x % y;
        else
            want = static_cast<std::int32_t>(x - y * std::floor(double(x) / y)); // Python's %
        QCOMPARE(out.data<std::int32_t>()[i], want);
    }
}

void TestElementwiseOps::legacyBroadcast()
{
    std::mt19937 rng(3);
    const Tensor a = randomTensor({2, 3, 4, 5}, rng, -3.0, 3.0), b = randomTensor({3, 4}, rng, -3.0, 3.0);
    Node node = makeNode("Add", 2);
    setAttr(node, "broadcast", std::int64_t{1});
    setAttr(node, "axis", std::int64_t{1});
    const Tensor out = runKernel(node, 6, {&a, &b})[0];
    QCOMPARE(out.shape(), a.shape());
    for (std::int64_t i = 0; i < out.size(); ++i) {
        const std::int64_t bi = (i / 5) % 12; // B spans axes 1 and 2
        QCOMPARE(out.data<float>()[i], a.data<float>()[i] + b.data<float>()[bi]);
    }
    // Without the attribute the shapes must match at opset 6, while opset 7 broadcasts.
    const Tensor c = randomTensor({5}, rng, -3.0, 3.0);
    QVERIFY_THROWS_EXCEPTION(Error, runKernel(makeNode("Add", 2), 6, {&a, &c}));
    QCOMPARE(runKernel(makeNode("Add", 2), 7, {&a, &c})[0].shape(), a.shape());
}

void TestElementwiseOps::variadic_data()
{
    QTest::addColumn<QString>("op");
    for (const char* op : {"Sum", "Mean", "Max", "Min"})
        QTest::newRow(op) << QString(op);
}

void TestElementwiseOps::variadic()
{
    QFETCH(QString, op);
    std::mt19937 rng(11);
    const std::vector<Shape> shapes{{3, 1}, {2, 1, 4}, {4}};
    std::vector<Tensor> ins;
    for (const auto& s : shapes)
        ins.push_back(randomTensor(s, rng, -3.0, 3.0));
    const Node node = makeNode(op.toStdString(), ins.size());
    const Tensor out = runKernel(node, 13, {&ins[0], &ins[1], &ins[2]})[0];
    const Shape shape{2, 3, 4};
    QCOMPARE(out.shape(), shape);
    for (std::int64_t i = 0; i < out.size(); ++i) {
        float acc = ins[0].data<float>()[broadcastIndex(shapes[0], shape, i)];
        for (std::size_t k = 1; k < ins.size(); ++k) {
            const float v = ins[k].data<float>()[broadcastIndex(shapes[k], shape, i)];
            acc = op == "Max" ? std::max(acc, v) : op == "Min" ? std::min(acc, v) : acc + v;
        }
        if (op == "Mean")
            acc /= 3.0f;
        QVERIFY(std::abs(out.data<float>()[i] - acc) <= 1e-6f * (1 + std::abs(acc)));
    }
    // One input is a copy.
    const Tensor one = runKernel(makeNode(op.toStdString(), 1), 13, {&ins[1]})[0];
    QCOMPARE(one.shape(), shapes[1]);
    QCOMPARE(std::memcmp(one.raw(), ins[1].raw(), ins[1].byteSize()), 0);
}

void TestElementwiseOps::where()
{
    std::mt19937 rng(5);
    const Shape sc{3, 1}, sx{1, 4}, sy{2, 1, 1};
    Tensor c(DType::Bool, sc);
    for (std::int64_t i = 0; i < c.size(); ++i)
        c.data<bool>()[i] = (rng() & 1) != 0;
    const Tensor x = randomTensor(sx, rng, -5, 5, DType::Int32), y = randomTensor(sy, rng, 10, 20, DType::Int32);
    const Tensor out = runKernel(makeNode("Where", 3), 16, {&c, &x, &y})[0];
    const Shape shape{2, 3, 4};
    QCOMPARE(out.shape(), shape);
    for (std::int64_t i = 0; i < out.size(); ++i) {
        const bool cond = c.data<bool>()[broadcastIndex(sc, shape, i)];
        const std::int32_t want = cond ? x.data<std::int32_t>()[broadcastIndex(sx, shape, i)]
                                       : y.data<std::int32_t>()[broadcastIndex(sy, shape, i)];
        QCOMPARE(out.data<std::int32_t>()[i], want);
    }
}

void TestElementwiseOps::softmaxAxes_data()
{
    QTest::addColumn<QString>("op");
    QTest::addColumn<int>("opset");
    QTest::addColumn<int>("axis");
    QTest::addColumn<Shape>("shape");
    for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"})
        for (int opset : {11, 13})
            for (int axis = -3; axis < 3; ++axis)
                QTest::newRow(qPrintable(QString("%1-%2 axis %3").arg(op).arg(opset).arg(axis)))
                    << QString(op) << opset << axis << Shape{2, 3, 4};
    QTest::newRow("Softmax-13 default axis, long rows") << QString("Softmax") << 13 << 99 << Shape{3, 100};
    QTest::newRow("Softmax-1 default axis 4-D") << QString("Softmax") << 1 << 99 << Shape{2, 3, 2, 2};
}

void TestElementwiseOps::softmaxAxes()
{
    QFETCH(QString, op);
    QFETCH(int, opset);
    QFETCH(int, axis);
    QFETCH(Shape, shape);
    std::mt19937 rng(17);
    Tensor x = randomTensor(shape, rng, -20.0, 20.0);
    x.data<float>()[1] = x.data<float>()[0]; // a tie for Hardmax: the first index wins
    Node node = makeNode(op.toStdString(), 1);
    if (axis != 99)
        setAttr(node, "axis", std::int64_t{axis});
    const Tensor out = runKernel(node, opset, {&x})[0];
    QCOMPARE(out.shape(), shape);

    // Reference: before opset 13 the input is [outer, rest] with the axis starting "rest";
    // from 13 on, softmax runs along the single axis. 99 means the default (1, then -1).
    const int rank = static_cast<int>(shape.size());
    int a = axis == 99 ? (opset < 13 ? 1 : -1) : axis;
    if (a < 0)
        a += rank;
    std::int64_t outer = 1, len = 1, inner = 1;
    for (int d = 0; d < rank; ++d) {
        const std::int64_t dim = shape[static_cast<std::size_t>(d)];
        if (d < a)
            outer *= dim;
        else if (d == a || opset < 13)
            len *= dim;
        else
            inner *= dim;
    }
    for (std::int64_t o = 0; o < outer; ++o)
        for (std::int64_t j = 0; j < inner; ++j) {
            auto at = [&](std::int64_t k) { return (o * len + k) * inner + j; };
            double m = -INFINITY, sum = 0;
            std::int64_t argmax = 0;
            for (std::int64_t k = 0; k < len; ++k)
                if (x.data<float>()[at(k)] > m) {
                    m = x.data<float>()[at(k)];
                    argmax = k;
                }
            for (std::int64_t k = 0; k < len; ++k)
                sum += std::exp(double(x.data<float>()[at(k)]) - m);
            for (std::int64_t k = 0; k < len; ++k) {
                const double v = x.data<float>()[at(k)];
                double want;
                if (op == "Softmax")
                    want = std::exp(v - m) / sum;
                else if (op == "LogSoftmax")
                    want = v - m - std::log(sum);
                else
                    want = k == argmax ? 1 : 0;
                const double got = out.data<float>()[at(k)];
                if (std::abs(got - want) > 1e-5 * (1 + std::abs(want)))
                    QFAIL(qPrintable(QString("element %1: %2, expected %3").arg(at(k)).arg(got).arg(want)));
            }
        }
}

void TestElementwiseOps::castTo16Bit_data()
{
    QTest::addColumn<int>("to");  // DType
    QTest::addColumn<int>("from"); // DType
    QTest::newRow("float -> float16") << int(DType::Float16) << int(DType::Float32);
    QTest::newRow("double -> float16") << int(DType::Float16) << int(DType::Float64);
    QTest::newRow("float -> bfloat16") << int(DType::BFloat16) << int(DType::Float32);
    QTest::newRow("double -> bfloat16") << int(DType::BFloat16) << int(DType::Float64);
}

void TestElementwiseOps::castTo16Bit()
{
    QFETCH(int, to);
    QFETCH(int, from);
    const bool half = DType(to) == DType::Float16;
    // Values across the whole range, exact ties, subnormals, overflow and the specials.
    std::vector<double> values;
    std::mt19937 rng(23);
    std::uniform_real_distribution<double> mant(1.0, 2.0);
    std::uniform_int_distribution<int> expo(half ? -27 : -135, half ? 17 : 129);
    for (int i = 0; i < 300; ++i)
        values.push_back((rng() & 1 ? -1 : 1) * std::ldexp(mant(rng), expo(rng)));
    for (std::uint32_t bits : {0x0000u, 0x0001u, 0x03ffu, 0x0400u, 0x3c00u, 0x3c01u, 0x7bffu, 0x4049u, 0x0080u, 0x7f7fu})
        for (double frac : {0.5, 0.25, 0.75}) {
            // Midpoints (ties) and quarter points between consecutive 16-bit values.
            const auto decode = half ? decodeHalf : decodeBFloat16;
            const double lo = decode(static_cast<std::uint16_t>(bits));
            const double hi = decode(static_cast<std::uint16_t>(bits + 1));
            if (std::isfinite(lo) && std::isfinite(hi))
                values.push_back(lo + (hi - lo) * frac);
        }
    // Rounds differently through float: float rounds it to a tie, which then goes to even.
    values.push_back(1.0 + std::ldexp(1.0, half ? -11 : -8) + std::ldexp(1.0, -40));
    for (double v : {0.0, -0.0, 65504.0, 65519.99, 65520.0, 1e10, -1e10, 1e-10, double(INFINITY), -double(INFINITY)})
        values.push_back(v);

    Tensor x;
    if (DType(from) == DType::Float32) {
        std::vector<float> f;
        for (double v : values)
            f.push_back(static_cast<float>(v));
        x = Tensor::fromVector<float>({static_cast<std::int64_t>(f.size())}, f);
        for (std::size_t i = 0; i < values.size(); ++i)
            values[i] = f[i]; // the reference rounds what the kernel sees
    } else {
        x = Tensor::fromVector<double>({static_cast<std::int64_t>(values.size())}, values);
    }
    Node node = makeNode("Cast", 1);
    setAttr(node, "to", std::int64_t{half ? 10 : 16}); // onnx FLOAT16, BFLOAT16
    const Tensor out = runKernel(node, 19, {&x})[0];
    QCOMPARE(out.dtype(), DType(to));
    for (std::size_t i = 0; i < values.size(); ++i) {
        const std::uint16_t got = half ? out.data<Half>()[i].bits : out.data<BFloat16>()[i].bits;
        const std::uint16_t want = half ? nearest16(values[i], decodeHalf, 0x7bff) : nearest16(values[i], decodeBFloat16, 0x7f7f);
        if (got != want)
            QFAIL(qPrintable(QString("%1: got %2, expected %3").arg(values[i], 0, 'g', 17).arg(got, 4, 16).arg(want, 4, 16)));
    }
    // NaN stays NaN.
    const Tensor nan = Tensor::scalar<float>(std::numeric_limits<float>::quiet_NaN());
    const Tensor nanOut = runKernel(node, 19, {&nan})[0];
    QVERIFY(std::isnan(nanOut.at(0)));
    // Opset 13 rounds the same way (ONNX 1.12's test data truncates; see the conformance errata).
    const Tensor older = runKernel(node, 13, {&x})[0];
    for (std::int64_t i = 0; i < out.size(); ++i)
        QCOMPARE(half ? older.data<Half>()[i].bits : older.data<BFloat16>()[i].bits,
                 half ? out.data<Half>()[i].bits : out.data<BFloat16>()[i].bits);

    // And back: the 16-bit values convert to float exactly.
    Node back = makeNode("Cast", 1);
    setAttr(back, "to", std::int64_t{1}); // FLOAT
    const Tensor roundTrip = runKernel(back, 13, {&out})[0];
    for (std::int64_t i = 0; i < out.size(); ++i)
        QCOMPARE(roundTrip.data<float>()[i], static_cast<float>(out.at(i)));
}

void TestElementwiseOps::castIntegers()
{
    const Tensor f = Tensor::fromVector<float>({6}, {-1.9f, -0.5f, 0.0f, 2.7f, 300.0f, -1.0f});
    Node toInt = makeNode("Cast", 1);
    setAttr(toInt, "to", std::int64_t{6}); // INT32: truncation toward zero
    const Tensor i32 = runKernel(toInt, 13, {&f})[0];
    QCOMPARE(std::vector<std::int32_t>(i32.data<std::int32_t>(), i32.data<std::int32_t>() + 6),
             (std::vector<std::int32_t>{-1, 0, 0, 2, 300, -1}));
    Node toBool = makeNode("Cast", 1);
    setAttr(toBool, "to", std::int64_t{9}); // BOOL
    const Tensor b = runKernel(toBool, 13, {&f})[0];
    QCOMPARE(std::vector<bool>(b.data<bool>(), b.data<bool>() + 6), (std::vector<bool>{1, 1, 0, 1, 1, 1}));
    // Opset 1 names the type with a string.
    Node legacy = makeNode("Cast", 1);
    setAttr(legacy, "to", std::string("INT64"));
    const Tensor i64 = runKernel(legacy, 1, {&f})[0];
    QCOMPARE(i64.dtype(), DType::Int64);
    QCOMPARE(i64.data<std::int64_t>()[3], std::int64_t{2});
    // int64 -> double -> int64 is exact below 2^53.
    const Tensor big = Tensor::scalar<std::int64_t>((std::int64_t{1} << 52) + 1);
    Node toDouble = makeNode("Cast", 1);
    setAttr(toDouble, "to", std::int64_t{11}); // DOUBLE
    QCOMPARE(runKernel(toDouble, 13, {&big})[0].data<double>()[0], double((std::int64_t{1} << 52) + 1));
}

void TestElementwiseOps::activations_data()
{
    QTest::addColumn<QString>("op");
    QTest::addColumn<QString>("approximate");
    QTest::newRow("Gelu") << QString("Gelu") << QString("none");
    QTest::newRow("Gelu tanh") << QString("Gelu") << QString("tanh");
    QTest::newRow("Mish") << QString("Mish") << QString();
    QTest::newRow("Sigmoid") << QString("Sigmoid") << QString();
    QTest::newRow("Tanh") << QString("Tanh") << QString();
    QTest::newRow("Exp") << QString("Exp") << QString();
    QTest::newRow("Erf") << QString("Erf") << QString();
    QTest::newRow("Softplus") << QString("Softplus") << QString();
    QTest::newRow("HardSwish") << QString("HardSwish") << QString();
    QTest::newRow("Elu") << QString("Elu") << QString();
    QTest::newRow("LeakyRelu") << QString("LeakyRelu") << QString();
    QTest::newRow("Selu") << QString("Selu") << QString();
    QTest::newRow("Celu") << QString("Celu") << QString();
    QTest::newRow("Relu") << QString("Relu") << QString();
}

void TestElementwiseOps::activations()
{
    QFETCH(QString, op);
    QFETCH(QString, approximate);
    std::mt19937 rng(29);
    Tensor x = randomTensor({1000}, rng, -12.0, 12.0);
    const std::vector<float> specials{0.0f, -0.0f, 80.0f, -80.0f, 100.0f, -100.0f, 1e-6f, -1e-6f};
    for (std::size_t i = 0; i < specials.size(); ++i)
        x.data<float>()[i] = specials[i];
    x.data<float>()[10] = std::numeric_limits<float>::infinity();
    x.data<float>()[11] = -std::numeric_limits<float>::infinity();
    x.data<float>()[12] = std::numeric_limits<float>::quiet_NaN();
    Node node = makeNode(op.toStdString(), 1);
    if (!approximate.isEmpty())
        setAttr(node, "approximate", approximate.toStdString());
    const Tensor out = runKernel(node, 20, {&x})[0];
    for (std::int64_t i = 0; i < x.size(); ++i) {
        const double v = x.data<float>()[i];
        if (std::isnan(v)) {
            if (!std::isnan(out.data<float>()[i]))
                QFAIL(qPrintable(QString("%1(NaN) = %2").arg(op).arg(out.data<float>()[i])));
            continue;
        }
        double want;
        if (op == "Gelu" && approximate == "none")
            want = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
        else if (op == "Gelu")
            want = 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        else if (op == "Mish")
            want = v * std::tanh(std::log1p(std::exp(v)));
        else if (op == "Sigmoid")
            want = 1 / (1 + std::exp(-v));
        else if (op == "Tanh")
            want = std::tanh(v);
        else if (op == "Exp")
            want = std::exp(v);
        else if (op == "Erf")
            want = std::erf(v);
        else if (op == "Softplus")
            want = std::log1p(std::exp(v));
        else if (op == "HardSwish")
            want = v * std::max(0.0, std::min(1.0, v / 6 + 0.5));
        else if (op == "Elu")
            want = v < 0 ? std::expm1(v) : v;
        else if (op == "LeakyRelu")
            want = v < 0 ? 0.01 * v : v;
        else if (op == "Selu")
            want = v <= 0 ? 1.0507009873554805 * (1.6732632423543772 * std::exp(v) - 1.6732632423543772)
                          : 1.0507009873554805 * v;
        else if (op == "Celu")
            want = v < 0 ? std::expm1(v) : v;
        else
            want = v < 0 ? 0 : v;
        if (std::isinf(v) && (op == "Gelu" || op == "Mish" || op == "HardSwish"))
            want = v > 0 ? v : 0; // the formulas give inf * 0 at -inf; the limit is 0 (or NaN)
        want = static_cast<float>(want); // float overflows where double does not (Exp(100))
        const double got = out.data<float>()[i];
        if (got == want || std::isnan(want) || (std::isinf(v) && v < 0 && std::isnan(got)))
            continue;
        if (!(std::abs(got - want) <= 1e-6 + 2e-6 * std::abs(want)))
            QFAIL(qPrintable(QString("%1(%2) = %3, expected %4").arg(op).arg(v).arg(got, 0, 'g', 9).arg(want, 0, 'g', 9)));
    }
}

void TestElementwiseOps::clipForms()
{
    const Tensor x = Tensor::fromVector<float>({5}, {-INFINITY, -2.0f, 0.5f, 3.0f, INFINITY});
    // Opset 6: attributes.
    Node attrs = makeNode("Clip", 1);
    setAttr(attrs, "min", -1.0f);
    setAttr(attrs, "max", 1.0f);
    const Tensor a = runKernel(attrs, 6, {&x})[0];
    QCOMPARE(std::vector<float>(a.data<float>(), a.data<float>() + 5), (std::vector<float>{-1, -1, 0.5f, 1, 1}));
    // Opset 13: optional inputs; a missing bound leaves values alone.
    const Tensor lo = Tensor::scalar<float>(0.0f);
    Node inputs = makeNode("Clip", 3);
    inputs.inputs[2] = "";
    const Tensor b = runKernel(inputs, 13, {&x, &lo, nullptr})[0];
    QCOMPARE(std::vector<float>(b.data<float>(), b.data<float>() + 5), (std::vector<float>{0, 0, 0.5f, 3, INFINITY}));
    // Integers, and min > max gives max everywhere.
    const Tensor xi = Tensor::fromVector<std::int8_t>({3}, {-128, 5, 127});
    const Tensor lo8 = Tensor::scalar<std::int8_t>(10), hi8 = Tensor::scalar<std::int8_t>(2);
    const Tensor c = runKernel(makeNode("Clip", 3), 13, {&xi, &lo8, &hi8})[0];
    QCOMPARE(std::vector<std::int8_t>(c.data<std::int8_t>(), c.data<std::int8_t>() + 3),
             (std::vector<std::int8_t>{2, 2, 2}));
}

void TestElementwiseOps::errors()
{
    const Tensor a = Tensor::fromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
    const Tensor b = Tensor::fromVector<float>({2}, {1, 2});
    try {
        runKernel(makeNode("Add", 2), 13, {&a, &b});
        QFAIL("mismatched shapes were accepted");
    } catch (const UnsupportedError&) {
        QFAIL("a shape mismatch is an Error, not UnsupportedError");
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find("Add node 'n'") != std::string::npos, e.what());
    }
    QVERIFY_THROWS_EXCEPTION(UnsupportedError, runKernel(makeNode("And", 2), 13, {&a, &a}));
    Node shift = makeNode("BitShift", 2);
    setAttr(shift, "direction", std::string("LEFT"));
    QVERIFY_THROWS_EXCEPTION(UnsupportedError, runKernel(shift, 13, {&a, &a}));
    const Tensor i = Tensor::fromVector<std::int32_t>({2}, {1, 2});
    QVERIFY_THROWS_EXCEPTION(Error, runKernel(makeNode("Add", 2), 13, {&a, &i}));
}

QTEST_APPLESS_MAIN(TestElementwiseOps)
#include "tst_elementwiseops.moc"
