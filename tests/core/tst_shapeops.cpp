// Data-movement and selection kernels (Transpose, Slice, Gather, TopK) against naive
// references written here, on random inputs with fixed seeds.
#include <QtTest>

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include "TestUtil.h"

using namespace leger;
using namespace leger::test;

namespace {

using I64 = std::int64_t;

/// Prepares op through the builtin registry and runs it once on inputs (nullptr = omitted)
/// into outputs pre-filled with NaN.
std::vector<Tensor> runOp(const std::string& op, int opset, std::map<std::string, Attribute, std::less<>> attrs,
                          const std::vector<const Tensor*>& inputs, std::size_t outputs)
{
    Node node = makeNode(op, inputs.size(), outputs);
    node.attributes = std::move(attrs);
    for (std::size_t i = 0; i < inputs.size(); ++i)
        if (!inputs[i])
            node.inputs[i].clear();
    return runKernel(prepareKernel(node, opset), node, inputs, outputs);
}

Shape randomShape(std::mt19937& rng, int rank, I64 maxDim)
{
    Shape s(static_cast<std::size_t>(rank));
    for (auto& d : s)
        d = 1 + static_cast<I64>(rng() % static_cast<unsigned>(maxDim));
    return s;
}

/// Row-major multi-index of a flat position.
std::vector<I64> unravel(I64 pos, const Shape& shape)
{
    std::vector<I64> idx(shape.size());
    for (std::size_t d = shape.size(); d-- > 0;) {
        idx[d] = pos % shape[d];
        pos /= shape[d];
    }
    return idx;
}

I64 ravel(const std::vector<I64>& idx, const Shape& shape)
{
    I64 pos = 0;
    for (std::size_t d = 0; d < shape.size(); ++d)
        pos = pos * shape[d] + idx[d];
    return pos;
}

} // namespace

class TestShapeOps : public QObject {
    Q_OBJECT
private slots:
    void transposeRandom_data();
    void transposeRandom();
    void sliceNegativeSteps_data();
    void sliceNegativeSteps();
    void gatherNegativeIndices_data();
    void gatherNegativeIndices();
    void gatherRejectsOutOfRange();
    void topKTies_data();
    void topKTies();
    void rejectsInvalidInputs_data();
    void rejectsInvalidInputs();
};

void TestShapeOps::transposeRandom_data()
{
    QTest::addColumn<int>("seed");
    QTest::addColumn<int>("rank");
    QTest::addColumn<int>("maxDim");
    QTest::addColumn<int>("dtype");
    const std::pair<DType, const char*> types[] = {
        {DType::Float32, "float"}, {DType::Int8, "int8"}, {DType::Float16, "half"}, {DType::Float64, "double"}};
    for (int seed = 1; seed <= 6; ++seed)
        for (int rank : {1, 2, 3, 4, 5})
            for (const auto& [dtype, name] : types)
                QTest::addRow("seed%d_rank%d_%s", seed, rank, name) << seed << rank << (rank <= 3 ? 40 : 7) << int(dtype);
}

void TestShapeOps::transposeRandom()
{
    QFETCH(int, seed);
    QFETCH(int, rank);
    QFETCH(int, maxDim);
    QFETCH(int, dtype);
    std::mt19937 rng(static_cast<unsigned>(seed * 100 + rank));
    const Shape shape = randomShape(rng, rank, maxDim);
    std::vector<I64> perm(static_cast<std::size_t>(rank));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);

    // Fill the bytes with a counter so that every element of every width is distinguishable.
    Tensor x(static_cast<DType>(dtype), shape);
    for (std::size_t b = 0; b < x.byteSize(); ++b)
        x.raw()[b] = static_cast<std::byte>((b * 7 + b / 251) & 0xff);
    const auto out = runOp("Transpose", 13, {{"perm", intsAttr(perm)}}, {&x}, 1);
    const Tensor& y = out[0];

    Shape outShape(shape.size());
    for (std::size_t i = 0; i < perm.size(); ++i)
        outShape[i] = shape[static_cast<std::size_t>(perm[i])];
    QCOMPARE(y.shape(), outShape);
    QCOMPARE(y.dtype(), x.dtype());
    const std::size_t es = dtypeSize(x.dtype());
    for (I64 pos = 0; pos < y.size(); ++pos) {
        const auto oi = unravel(pos, outShape);
        std::vector<I64> ii(shape.size());
        for (std::size_t i = 0; i < perm.size(); ++i)
            ii[static_cast<std::size_t>(perm[i])] = oi[i];
        const I64 src = ravel(ii, shape);
        if (std::memcmp(y.raw() + pos * static_cast<I64>(es), x.raw() + src * static_cast<I64>(es), es) != 0)
            QFAIL(qPrintable(QString("element %1 differs").arg(pos)));
    }
}

void TestShapeOps::sliceNegativeSteps_data()
{
    QTest::addColumn<int>("seed");
    for (int seed = 1; seed <= 40; ++seed)
        QTest::addRow("seed%d", seed) << seed;
}

void TestShapeOps::sliceNegativeSteps()
{
    QFETCH(int, seed);
    std::mt19937 rng(static_cast<unsigned>(seed));
    const int rank = 1 + static_cast<int>(rng() % 4);
    const Shape shape = randomShape(rng, rank, 9);
    const Tensor x = randomTensor(shape, rng, -10.0, 10.0);

    // Random axes (some negative), starts/ends beyond the bounds, steps of either sign.
    std::vector<I64> axes(static_cast<std::size_t>(rank));
    std::iota(axes.begin(), axes.end(), 0);
    std::shuffle(axes.begin(), axes.end(), rng);
    axes.resize(1 + rng() % static_cast<unsigned>(rank));
    std::vector<I64> starts, ends, steps;
    for (auto& a : axes) {
        const I64 dim = shape[static_cast<std::size_t>(a)];
        auto pick = [&]() -> I64 {
            switch (rng() % 6) {
            case 0: return std::numeric_limits<I64>::max();
            case 1: return std::numeric_limits<I64>::min();
            default: return static_cast<I64>(rng() % static_cast<unsigned>(4 * dim + 1)) - 2 * dim;
            }
        };
        starts.push_back(pick());
        ends.push_back(pick());
        I64 step = 1 + static_cast<I64>(rng() % 3);
        steps.push_back(rng() % 3 ? -step : step);
        if (rng() % 2)
            a -= rank;
    }

    // Reference: the spec's clamping, written out per axis as a list of source indices.
    std::vector<std::vector<I64>> picks(static_cast<std::size_t>(rank));
    for (int d = 0; d < rank; ++d) {
        picks[static_cast<std::size_t>(d)].resize(static_cast<std::size_t>(shape[static_cast<std::size_t>(d)]));
        std::iota(picks[static_cast<std::size_t>(d)].begin(), picks[static_cast<std::size_t>(d)].end(), 0);
    }
    for (std::size_t i = 0; i < axes.size(); ++i) {
        const auto d = static_cast<std::size_t>(axes[i] < 0 ? axes[i] + rank : axes[i]);
        const I64 dim = shape[d];
        I64 s = starts[i], e = ends[i];
        if (s < 0)
            s += dim;
        if (e < 0)
            e += dim;
        std::vector<I64> p;
        if (steps[i] > 0) {
            s = std::clamp<I64>(s, 0, dim);
            e = std::clamp<I64>(e, 0, dim);
            for (I64 j = s; j < e; j += steps[i])
                p.push_back(j);
        } else {
            s = std::clamp<I64>(s, 0, dim - 1);
            e = std::clamp<I64>(e, -1, dim - 1);
            for (I64 j = s; j > e; j += steps[i])
                p.push_back(j);
        }
        picks[d] = p;
    }
    Shape outShape;
    for (const auto& p : picks)
        outShape.push_back(static_cast<I64>(p.size()));

    auto vec = [](const std::vector<I64>& v) { return Tensor::fromVector<I64>({static_cast<I64>(v.size())}, v); };
    const Tensor ts = vec(starts), te = vec(ends), ta = vec(axes), tst = vec(steps);
    const auto out = runOp("Slice", 13, {}, {&x, &ts, &te, &ta, &tst}, 1);
    QCOMPARE(out[0].shape(), outShape);
    for (I64 pos = 0; pos < out[0].size(); ++pos) {
        auto idx = unravel(pos, outShape);
        for (std::size_t d = 0; d < idx.size(); ++d)
            idx[d] = picks[d][static_cast<std::size_t>(idx[d])];
        QCOMPARE(out[0].data<float>()[pos], x.data<float>()[ravel(idx, shape)]);
    }
}

void TestShapeOps::gatherNegativeIndices_data()
{
    QTest::addColumn<int>("seed");
    QTest::addColumn<bool>("int32Indices");
    for (int seed = 1; seed <= 12; ++seed)
        QTest::addRow("seed%d", seed) << seed << (seed % 2 == 0);
}

void TestShapeOps::gatherNegativeIndices()
{
    QFETCH(int, seed);
    QFETCH(bool, int32Indices);
    std::mt19937 rng(static_cast<unsigned>(seed));
    const int rank = 1 + static_cast<int>(rng() % 4);
    const Shape shape = randomShape(rng, rank, 6);
    const Tensor x = randomTensor(shape, rng, -10.0, 10.0);
    const int axis = static_cast<int>(rng() % static_cast<unsigned>(rank));
    const I64 dim = shape[static_cast<std::size_t>(axis)];
    const Shape idxShape = randomShape(rng, static_cast<int>(rng() % 3), 4);
    std::vector<I64> idx(static_cast<std::size_t>(elementCount(idxShape)));
    for (auto& v : idx)
        v = static_cast<I64>(rng() % static_cast<unsigned>(2 * dim)) - dim; // [-dim, dim)
    Tensor indices = Tensor::fromVector<I64>(idxShape, idx);
    if (int32Indices) {
        std::vector<std::int32_t> narrow(idx.begin(), idx.end());
        indices = Tensor::fromVector<std::int32_t>(idxShape, narrow);
    }
    const auto out = runOp("Gather", 13, {{"axis", intAttr(axis - (seed % 3 == 0 ? rank : 0))}}, {&x, &indices}, 1);

    Shape outShape(shape.begin(), shape.begin() + axis);
    outShape.insert(outShape.end(), idxShape.begin(), idxShape.end());
    outShape.insert(outShape.end(), shape.begin() + axis + 1, shape.end());
    QCOMPARE(out[0].shape(), outShape);
    const std::size_t q = idxShape.size();
    for (I64 pos = 0; pos < out[0].size(); ++pos) {
        const auto oi = unravel(pos, outShape);
        std::vector<I64> ii(oi.begin(), oi.begin() + axis);
        const std::vector<I64> inIdx(oi.begin() + axis, oi.begin() + axis + static_cast<std::ptrdiff_t>(q));
        I64 v = idx[static_cast<std::size_t>(ravel(inIdx, idxShape))];
        ii.push_back(v < 0 ? v + dim : v);
        ii.insert(ii.end(), oi.begin() + axis + static_cast<std::ptrdiff_t>(q), oi.end());
        QCOMPARE(out[0].data<float>()[pos], x.data<float>()[ravel(ii, shape)]);
    }
}

void TestShapeOps::gatherRejectsOutOfRange()
{
    const Tensor x = Tensor::fromVector<float>({3}, {1, 2, 3});
    for (I64 bad : {I64{3}, I64{-4}, std::numeric_limits<I64>::min()}) {
        const Tensor idx = Tensor::fromVector<I64>({2}, {0, bad});
        bool threw = false;
        try {
            runOp("Gather", 13, {}, {&x, &idx}, 1);
        } catch (const UnsupportedError&) {
            QFAIL("out-of-range index reported as unsupported");
        } catch (const Error& e) {
            threw = true;
            QVERIFY(QString(e.what()).contains("Gather"));
        }
        QVERIFY(threw);
    }
}

void TestShapeOps::topKTies_data()
{
    QTest::addColumn<int>("seed");
    QTest::addColumn<bool>("largest");
    for (int seed = 1; seed <= 10; ++seed) {
        QTest::addRow("largest_seed%d", seed) << seed << true;
        QTest::addRow("smallest_seed%d", seed) << seed << false;
    }
}

void TestShapeOps::topKTies()
{
    QFETCH(int, seed);
    QFETCH(bool, largest);
    std::mt19937 rng(static_cast<unsigned>(seed));
    const int rank = 1 + static_cast<int>(rng() % 3);
    const Shape shape = randomShape(rng, rank, 12);
    // Few distinct values: many ties, which must come out in index order.
    Tensor x(DType::Float32, shape);
    for (auto& v : x.span<float>())
        v = static_cast<float>(rng() % 4);
    const int axis = static_cast<int>(rng() % static_cast<unsigned>(rank));
    const I64 dim = shape[static_cast<std::size_t>(axis)];
    const I64 k = static_cast<I64>(rng() % static_cast<unsigned>(dim + 1));
    const Tensor kt = Tensor::fromVector<I64>({1}, {k});
    const auto out = runOp("TopK", 11, {{"axis", intAttr(axis)}, {"largest", intAttr(largest ? 1 : 0)}}, {&x, &kt}, 2);

    Shape outShape = shape;
    outShape[static_cast<std::size_t>(axis)] = k;
    QCOMPARE(out[0].shape(), outShape);
    QCOMPARE(out[1].shape(), outShape);
    QCOMPARE(out[1].dtype(), DType::Int64);
    // Reference: a stable sort of each line's indices by value.
    Shape lines = shape;
    lines[static_cast<std::size_t>(axis)] = 1;
    for (I64 l = 0; l < elementCount(lines); ++l) {
        auto base = unravel(l, lines);
        std::vector<I64> order(static_cast<std::size_t>(dim));
        std::iota(order.begin(), order.end(), 0);
        auto valueAt = [&](I64 j) {
            auto idx = base;
            idx[static_cast<std::size_t>(axis)] = j;
            return x.data<float>()[ravel(idx, shape)];
        };
        std::stable_sort(order.begin(), order.end(),
                         [&](I64 p, I64 q) { return largest ? valueAt(p) > valueAt(q) : valueAt(p) < valueAt(q); });
        for (I64 j = 0; j < k; ++j) {
            auto idx = base;
            idx[static_cast<std::size_t>(axis)] = j;
            const I64 pos = ravel(idx, outShape);
            QCOMPARE(out[1].data<I64>()[pos], order[static_cast<std::size_t>(j)]);
            QCOMPARE(out[0].data<float>()[pos], valueAt(order[static_cast<std::size_t>(j)]));
        }
    }
}

namespace {

/// A call that must throw leger::Error: not UnsupportedError, and not crash.
struct InvalidCase {
    const char* name;
    const char* op;
    int opset;
    std::map<std::string, Attribute, std::less<>> attrs;
    std::vector<Tensor> inputs; // an empty Tensor marks an omitted input
    std::size_t outputs;
};

Tensor ints(Shape shape, std::vector<I64> v) { return Tensor::fromVector<I64>(std::move(shape), v); }
Tensor floats(Shape shape) { return Tensor(DType::Float32, std::move(shape)); }

const std::vector<InvalidCase>& invalidCases()
{
    static const std::vector<InvalidCase> cases = [] {
        std::vector<InvalidCase> c;
        c.push_back({"gather_elements_index", "GatherElements", 13, {}, {floats({2, 3}), ints({2, 1}, {0, 3})}, 1});
        c.push_back({"gather_elements_shape", "GatherElements", 13, {{"axis", intAttr(1)}}, {floats({2, 3}), ints({3, 1}, {0, 0, 0})}, 1});
        c.push_back({"gathernd_index", "GatherND", 13, {}, {floats({2, 3}), ints({1, 2}, {1, 3})}, 1});
        c.push_back({"gathernd_tuple", "GatherND", 13, {}, {floats({2, 3}), ints({1, 3}, {0, 0, 0})}, 1});
        c.push_back({"scatternd_index", "ScatterND", 13, {}, {floats({4}), ints({1, 1}, {-5}), floats({1})}, 1});
        c.push_back({"scatter_elements_index", "ScatterElements", 13, {}, {floats({2, 2}), ints({1, 1}, {2}), floats({1, 1})}, 1});
        c.push_back({"reshape_count", "Reshape", 14, {}, {floats({2, 3}), ints({2}, {4, 2})}, 1});
        c.push_back({"reshape_two_minus1", "Reshape", 14, {}, {floats({2, 3}), ints({2}, {-1, -1})}, 1});
        c.push_back({"split_sizes", "Split", 13, {}, {floats({5}), ints({2}, {2, 2})}, 2});
        c.push_back({"squeeze_non_unit", "Squeeze", 13, {}, {floats({2, 3}), ints({1}, {0})}, 1});
        c.push_back({"unsqueeze_duplicate", "Unsqueeze", 13, {}, {floats({2}), ints({2}, {0, 0})}, 1});
        c.push_back({"transpose_perm", "Transpose", 13, {{"perm", intsAttr({0, 0})}}, {floats({2, 3})}, 1});
        c.push_back({"concat_shapes", "Concat", 13, {{"axis", intAttr(0)}}, {floats({2, 3}), floats({2, 4})}, 1});
        c.push_back({"slice_step0", "Slice", 13, {}, {floats({4}), ints({1}, {0}), ints({1}, {4}), ints({1}, {0}), ints({1}, {0})}, 1});
        c.push_back({"slice_axis", "Slice", 13, {}, {floats({4}), ints({1}, {0}), ints({1}, {4}), ints({1}, {1})}, 1});
        c.push_back({"expand_shape", "Expand", 13, {}, {floats({3}), ints({1}, {2})}, 1});
        c.push_back({"tile_repeats", "Tile", 13, {}, {floats({3}), ints({1}, {-1})}, 1});
        c.push_back({"tile_huge", "Tile", 13, {}, {floats({3}), ints({1}, {I64{1} << 50})}, 1});
        c.push_back({"constantofshape_negative", "ConstantOfShape", 9, {}, {ints({2}, {2, -1})}, 1});
        c.push_back({"d2s_channels", "DepthToSpace", 13, {{"blocksize", intAttr(2)}}, {floats({1, 3, 2, 2})}, 1});
        c.push_back({"topk_k", "TopK", 11, {}, {floats({3}), ints({1}, {4})}, 2});
        c.push_back({"cumsum_axis", "CumSum", 14, {}, {floats({3}), ints({}, {1})}, 1});
        c.push_back({"compress_beyond", "Compress", 11, {{"axis", intAttr(0)}},
                     {floats({2}), Tensor::fromVector<bool>({3}, {false, false, true})}, 1});
        c.push_back({"reverse_sequence_len", "ReverseSequence", 10, {}, {floats({3, 2}), ints({2}, {1, 4})}, 1});
        c.push_back({"trilu_rank", "Trilu", 14, {}, {floats({3})}, 1});
        c.push_back({"reduce_axis", "ReduceSum", 13, {}, {floats({3}), ints({1}, {1})}, 1});
        c.push_back({"argmax_empty", "ArgMax", 13, {}, {floats({0, 2})}, 1});
        c.push_back({"range_zero_delta", "Range", 11, {},
                     {Tensor::scalar<float>(0), Tensor::scalar<float>(1), Tensor::scalar<float>(0)}, 1});
        c.push_back({"onehot_depth", "OneHot", 11, {}, {ints({1}, {0}), ints({1}, {0}), floats({2})}, 1});
        return c;
    }();
    return cases;
}

} // namespace

void TestShapeOps::rejectsInvalidInputs_data()
{
    QTest::addColumn<int>("index");
    for (std::size_t i = 0; i < invalidCases().size(); ++i)
        QTest::newRow(invalidCases()[i].name) << static_cast<int>(i);
}

void TestShapeOps::rejectsInvalidInputs()
{
    QFETCH(int, index);
    const InvalidCase& c = invalidCases()[static_cast<std::size_t>(index)];
    std::vector<const Tensor*> in;
    for (const auto& t : c.inputs)
        in.push_back(t.empty() ? nullptr : &t);
    try {
        runOp(c.op, c.opset, c.attrs, in, c.outputs);
    } catch (const UnsupportedError& e) {
        QFAIL(qPrintable(QString("reported as unsupported: ") + e.what()));
    } catch (const Error&) {
        return; // the Executor prefixes the node to messages that do not name it
    }
    QFAIL("no error");
}

QTEST_APPLESS_MAIN(TestShapeOps)
#include "tst_shapeops.moc"
