// Indexing ops: Gather, GatherElements, GatherND, Scatter, ScatterElements, ScatterND, Trilu,
// OneHot, Compress, NonZero, ReverseSequence, Unique.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "runtime/OpRegistry.h"
#include "runtime/ops/OpUtil.h"
#include "runtime/ops/ShapeUtil.h"

namespace leger {

namespace {

using namespace ops;
using I64 = std::int64_t;

[[noreturn]] void fail(const Node& node, const std::string& what)
{
    throw Error(node.describe() + ": " + what);
}

/// An index read from data, made non-negative and checked against dim.
inline I64 checkedIndex(I64 v, I64 dim, const Node& node)
{
    const I64 w = v < 0 ? v + dim : v;
    if (w < 0 || w >= dim)
        fail(node, "index " + std::to_string(v) + " is out of range for a dimension of size " + std::to_string(dim));
    return w;
}

/// Calls f(outerIndexOffset, innerCount, innerStride) for each row (all axes but the last)
/// of shape, where the offset is sum of idx[d] * strides[d] over those axes except `skip`.
template <class F> void forEachRow(const Shape& shape, const std::vector<I64>& strides, int skip, F&& f)
{
    const int r = static_cast<int>(shape.size());
    if (elementCount(shape) == 0)
        return;
    if (r == 0) {
        f(I64{0}, I64{1}, I64{0});
        return;
    }
    const I64 inner = shape.back();
    const I64 innerStride = skip == r - 1 ? 0 : strides.back();
    const I64 rows = elementCount(shape) / inner;
    std::vector<I64> idx(static_cast<std::size_t>(r), 0);
    I64 off = 0;
    for (I64 row = 0; row < rows; ++row) {
        f(off, inner, innerStride);
        for (int d = r - 2; d >= 0; --d) {
            const auto du = static_cast<std::size_t>(d);
            const I64 s = d == skip ? 0 : strides[du];
            off += s;
            if (++idx[du] < shape[du])
                break;
            off -= s * shape[du];
            idx[du] = 0;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Gather family

Kernel makeGather(const KernelContext& ctx)
{
    const I64 axisAttr = ctx.node.attrInt("axis", 0);
    return [axisAttr](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& data = a.input(0);
        const Tensor& indices = a.input(1);
        if (data.rank() == 0)
            fail(node, "data must have rank 1 or more");
        const auto axis = static_cast<std::size_t>(normalizeAxis(axisAttr, data.rank(), node));
        const Shape& ds = data.shape();
        Shape outShape(ds.begin(), ds.begin() + static_cast<std::ptrdiff_t>(axis));
        outShape.insert(outShape.end(), indices.shape().begin(), indices.shape().end());
        outShape.insert(outShape.end(), ds.begin() + static_cast<std::ptrdiff_t>(axis) + 1, ds.end());
        const I64 dim = ds[axis];
        I64 outer = 1, inner = 1;
        for (std::size_t d = 0; d < axis; ++d)
            outer *= ds[d];
        for (std::size_t d = axis + 1; d < ds.size(); ++d)
            inner *= ds[d];
        const I64 n = indices.size();
        Tensor& out = a.output(0);
        out.resize(data.dtype(), std::move(outShape));
        withIndices(indices, node, "indices", [&](const auto* idx) {
            for (I64 j = 0; j < n; ++j)
                checkedIndex(static_cast<I64>(idx[j]), dim, node);
            dispatchMove(
                data.dtype(),
                [&]<class T>(T) {
                    const T* src = elems<T>(data);
                    T* dst = elems<T>(out);
                    for (I64 o = 0; o < outer; ++o) {
                        const T* base = src + o * dim * inner;
                        for (I64 j = 0; j < n; ++j) {
                            const I64 v = idx[j] < 0 ? idx[j] + dim : idx[j];
                            if (inner == 1)
                                *dst = base[v];
                            else
                                copyN(dst, base + v * inner, inner);
                            dst += inner;
                        }
                    }
                },
                node);
        });
    };
}

/// Checks that indices has data's rank and fits inside data on every axis but `axis`.
void checkElementsShape(const Tensor& data, const Tensor& indices, std::size_t axis, const Node& node)
{
    bool ok = indices.rank() == data.rank();
    for (std::size_t d = 0; ok && d < data.shape().size(); ++d)
        ok = d == axis || indices.shape()[d] <= data.shape()[d];
    if (!ok)
        fail(node, "indices of shape " + shapeToString(indices.shape()) + " do not fit data of shape " +
                       shapeToString(data.shape()));
}

Kernel makeGatherElements(const KernelContext& ctx)
{
    const I64 axisAttr = ctx.node.attrInt("axis", 0);
    return [axisAttr](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& data = a.input(0);
        const Tensor& indices = a.input(1);
        if (data.rank() == 0)
            fail(node, "data must have rank 1 or more");
        const int axis = normalizeAxis(axisAttr, data.rank(), node);
        checkElementsShape(data, indices, static_cast<std::size_t>(axis), node);
        const auto ds = stridesOf(data.shape());
        const I64 dim = data.shape()[static_cast<std::size_t>(axis)];
        const I64 axisStride = ds[static_cast<std::size_t>(axis)];
        Tensor& out = a.output(0);
        out.resize(data.dtype(), indices.shape());
        withIndices(indices, node, "indices", [&](const auto* idx) {
            for (I64 j = 0; j < indices.size(); ++j)
                checkedIndex(static_cast<I64>(idx[j]), dim, node);
            dispatchMove(
                data.dtype(),
                [&]<class T>(T) {
                    const T* src = elems<T>(data);
                    T* dst = elems<T>(out);
                    I64 pos = 0;
                    forEachRow(indices.shape(), ds, axis, [&](I64 base, I64 inner, I64 innerStride) {
                        for (I64 j = 0; j < inner; ++j, ++pos) {
                            const I64 v = idx[pos] < 0 ? idx[pos] + dim : idx[pos];
                            dst[pos] = src[base + j * innerStride + v * axisStride];
                        }
                    });
                },
                node);
        });
    };
}

/// Shapes and strides shared by GatherND and ScatterND.
struct NdLayout {
    I64 batches = 1;      // product of the batch dims
    I64 tuplesPerBatch = 1;
    I64 k = 0;            // index tuple length
    I64 slice = 1;        // elements per gathered slice
    I64 dataBatchStride = 1;
    std::vector<I64> tupleStrides; // data strides of the k indexed axes
    std::vector<I64> tupleDims;
};

NdLayout ndLayout(const Tensor& data, const Tensor& indices, I64 b, const Node& node)
{
    const int r = data.rank(), q = indices.rank();
    if (q < 1)
        fail(node, "indices must have rank 1 or more");
    if (b < 0 || b >= std::min(r, q))
        fail(node, "batch_dims " + std::to_string(b) + " is out of range");
    NdLayout l;
    l.k = indices.shape().back();
    if (l.k > r - b)
        fail(node, "index tuples of length " + std::to_string(l.k) + " are too long for data of shape " +
                       shapeToString(data.shape()));
    const auto ds = stridesOf(data.shape());
    for (I64 d = 0; d < b; ++d) {
        const auto du = static_cast<std::size_t>(d);
        if (indices.shape()[du] != data.shape()[du])
            fail(node, "batch dims of data " + shapeToString(data.shape()) + " and indices " +
                           shapeToString(indices.shape()) + " differ");
        l.batches *= data.shape()[du];
    }
    for (I64 d = b; d < q - 1; ++d)
        l.tuplesPerBatch *= indices.shape()[static_cast<std::size_t>(d)];
    for (I64 d = b + l.k; d < r; ++d)
        l.slice *= data.shape()[static_cast<std::size_t>(d)];
    for (I64 d = b; d < r; ++d)
        l.dataBatchStride *= data.shape()[static_cast<std::size_t>(d)];
    for (I64 i = 0; i < l.k; ++i) {
        l.tupleStrides.push_back(ds[static_cast<std::size_t>(b + i)]);
        l.tupleDims.push_back(data.shape()[static_cast<std::size_t>(b + i)]);
    }
    return l;
}

/// Data offsets of every index tuple (batch offset included), bounds-checked.
std::vector<I64> ndOffsets(const NdLayout& l, const Tensor& indices, const Node& node)
{
    std::vector<I64> offs(static_cast<std::size_t>(l.batches * l.tuplesPerBatch));
    withIndices(indices, node, "indices", [&](const auto* idx) {
        for (I64 bt = 0; bt < l.batches; ++bt)
            for (I64 t = 0; t < l.tuplesPerBatch; ++t) {
                const I64 tuple = bt * l.tuplesPerBatch + t;
                I64 off = bt * l.dataBatchStride;
                for (I64 i = 0; i < l.k; ++i) {
                    const auto iu = static_cast<std::size_t>(i);
                    off += checkedIndex(static_cast<I64>(idx[tuple * l.k + i]), l.tupleDims[iu], node) * l.tupleStrides[iu];
                }
                offs[static_cast<std::size_t>(tuple)] = off;
            }
    });
    return offs;
}

Kernel makeGatherND(const KernelContext& ctx)
{
    const I64 b = ctx.opset >= 12 ? ctx.node.attrInt("batch_dims", 0) : 0;
    return [b](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& data = a.input(0);
        const Tensor& indices = a.input(1);
        const NdLayout l = ndLayout(data, indices, b, node);
        Shape outShape(indices.shape().begin(), indices.shape().end() - 1);
        outShape.insert(outShape.end(), data.shape().begin() + b + l.k, data.shape().end());
        const auto offs = ndOffsets(l, indices, node);
        Tensor& out = a.output(0);
        out.resize(data.dtype(), std::move(outShape));
        dispatchMove(
            data.dtype(),
            [&]<class T>(T) {
                const T* src = elems<T>(data);
                T* dst = elems<T>(out);
                for (I64 off : offs) {
                    copyN(dst, src + off, l.slice);
                    dst += l.slice;
                }
            },
            node);
    };
}

// ---------------------------------------------------------------------------------------------
// Scatter family

enum class Reduction { None, Add, Mul, Max, Min };

Reduction parseReduction(const KernelContext& ctx, int addMulSince, int maxMinSince)
{
    if (ctx.opset < addMulSince)
        return Reduction::None;
    const std::string s = ctx.node.attrString("reduction", "none");
    if (s == "none")
        return Reduction::None;
    if (s == "add")
        return Reduction::Add;
    if (s == "mul")
        return Reduction::Mul;
    if (ctx.opset >= maxMinSince && s == "max")
        return Reduction::Max;
    if (ctx.opset >= maxMinSince && s == "min")
        return Reduction::Min;
    ctx.invalid("unknown reduction '" + s + "'");
}

template <class T, Reduction R> inline void combine(T& d, const T& s)
{
    if constexpr (R == Reduction::None) {
        d = s;
    } else {
        using A = typename ArithOf<T>::type;
        const A x = toArith(d), y = toArith(s);
        if constexpr (R == Reduction::Add)
            d = fromArith<T>(static_cast<A>(x + y));
        else if constexpr (R == Reduction::Mul)
            d = fromArith<T>(static_cast<A>(x * y));
        else if constexpr (R == Reduction::Max)
            d = fromArith<T>(y > x ? y : x);
        else
            d = fromArith<T>(y < x ? y : x);
    }
}

/// Calls f.template operator()<T, R>() with the element type and reduction; reductions other
/// than none need the real element type, plain assignment only its width.
template <class F> void dispatchScatter(DType dtype, Reduction r, const Node& node, F&& f)
{
    if (r == Reduction::None) {
        dispatchMove(dtype, [&]<class T>(T) { f.template operator()<T, Reduction::None>(); }, node);
        return;
    }
    if (dtype == DType::Bool)
        throw UnsupportedError(node.describe() + ": reductions on bool are not supported");
    dispatchAny(
        dtype,
        [&]<class T>(T) {
            switch (r) {
            case Reduction::Add: f.template operator()<T, Reduction::Add>(); break;
            case Reduction::Mul: f.template operator()<T, Reduction::Mul>(); break;
            case Reduction::Max: f.template operator()<T, Reduction::Max>(); break;
            case Reduction::Min: f.template operator()<T, Reduction::Min>(); break;
            case Reduction::None: break;
            }
        },
        node);
}

Kernel makeScatterElements(const KernelContext& ctx)
{
    const I64 axisAttr = ctx.node.attrInt("axis", 0);
    const Reduction red = ctx.node.opType == "Scatter" ? Reduction::None : parseReduction(ctx, 16, 18);
    return [axisAttr, red](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& data = a.input(0);
        const Tensor& indices = a.input(1);
        const Tensor& updates = a.input(2);
        if (data.rank() == 0)
            fail(node, "data must have rank 1 or more");
        if (updates.shape() != indices.shape() || updates.dtype() != data.dtype())
            fail(node, "updates must have the shape of indices and the type of data");
        const int axis = normalizeAxis(axisAttr, data.rank(), node);
        checkElementsShape(data, indices, static_cast<std::size_t>(axis), node);
        const auto ds = stridesOf(data.shape());
        const I64 dim = data.shape()[static_cast<std::size_t>(axis)];
        const I64 axisStride = ds[static_cast<std::size_t>(axis)];
        Tensor& out = a.output(0);
        copyReshaped(data, out, data.shape());
        withIndices(indices, node, "indices", [&](const auto* idx) {
            for (I64 j = 0; j < indices.size(); ++j)
                checkedIndex(static_cast<I64>(idx[j]), dim, node);
            dispatchScatter(data.dtype(), red, node, [&]<class T, Reduction R>() {
                const T* upd = elems<T>(updates);
                T* dst = elems<T>(out);
                I64 pos = 0;
                forEachRow(indices.shape(), ds, axis, [&](I64 base, I64 inner, I64 innerStride) {
                    for (I64 j = 0; j < inner; ++j, ++pos) {
                        const I64 v = idx[pos] < 0 ? idx[pos] + dim : idx[pos];
                        combine<T, R>(dst[base + j * innerStride + v * axisStride], upd[pos]);
                    }
                });
            });
        });
    };
}

Kernel makeScatterND(const KernelContext& ctx)
{
    const Reduction red = parseReduction(ctx, 16, 18);
    return [red](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& data = a.input(0);
        const Tensor& indices = a.input(1);
        const Tensor& updates = a.input(2);
        if (data.rank() == 0)
            fail(node, "data must have rank 1 or more");
        const NdLayout l = ndLayout(data, indices, 0, node);
        Shape updShape(indices.shape().begin(), indices.shape().end() - 1);
        updShape.insert(updShape.end(), data.shape().begin() + l.k, data.shape().end());
        if (updates.shape() != updShape || updates.dtype() != data.dtype())
            fail(node, "updates have shape " + shapeToString(updates.shape()) + ", expected " + shapeToString(updShape));
        const auto offs = ndOffsets(l, indices, node);
        Tensor& out = a.output(0);
        copyReshaped(data, out, data.shape());
        dispatchScatter(data.dtype(), red, node, [&]<class T, Reduction R>() {
            const T* upd = elems<T>(updates);
            T* dst = elems<T>(out);
            for (I64 off : offs) {
                if constexpr (R == Reduction::None)
                    copyN(dst + off, upd, l.slice);
                else
                    for (I64 j = 0; j < l.slice; ++j)
                        combine<T, R>(dst[off + j], upd[j]);
                upd += l.slice;
            }
        });
    };
}

// ---------------------------------------------------------------------------------------------

Kernel makeTrilu(const KernelContext& ctx)
{
    const bool upper = ctx.node.attrInt("upper", 1) != 0;
    return [upper](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& x = a.input(0);
        if (x.rank() < 2)
            fail(node, "input must have rank 2 or more");
        I64 k = 0;
        if (a.hasInput(1)) {
            const Tensor& kt = a.input(1);
            if (kt.size() != 1)
                fail(node, "k must be a scalar");
            k = int64Values(kt)[0];
        }
        const I64 rows = x.dim(-2), cols = x.dim(-1);
        k = std::clamp<I64>(k, -rows - 1, cols + 1); // keeps i + k from overflowing
        const I64 mats = rows * cols == 0 ? 0 : x.size() / (rows * cols);
        Tensor& out = a.output(0);
        out.resize(x.dtype(), x.shape());
        dispatchMove(
            x.dtype(),
            [&]<class T>(T) {
                const T* src = elems<T>(x);
                T* dst = elems<T>(out);
                for (I64 m = 0; m < mats; ++m)
                    for (I64 i = 0; i < rows; ++i) {
                        const I64 off = (m * rows + i) * cols;
                        // Upper keeps j >= i + k; lower keeps j <= i + k.
                        const I64 lo = upper ? std::clamp<I64>(i + k, 0, cols) : 0;
                        const I64 hi = upper ? cols : std::clamp<I64>(i + k + 1, 0, cols);
                        std::fill(dst + off, dst + off + lo, T{});
                        copyN(dst + off + lo, src + off + lo, hi - lo);
                        std::fill(dst + off + hi, dst + off + cols, T{});
                    }
            },
            node);
    };
}

Kernel makeOneHot(const KernelContext& ctx)
{
    const I64 axisAttr = ctx.node.attrInt("axis", -1);
    return [axisAttr](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& indices = a.input(0);
        const Tensor& depthT = a.input(1);
        const Tensor& values = a.input(2);
        if (depthT.size() != 1)
            fail(node, "depth must have one element");
        if (values.size() != 2)
            fail(node, "values must have two elements [off, on]");
        const double depthD = depthT.at(0);
        if (!(depthD >= 1) || depthD > static_cast<double>(I64{1} << 40))
            fail(node, "invalid depth " + std::to_string(depthD));
        const auto depth = static_cast<I64>(depthD);
        const int outRank = indices.rank() + 1;
        const auto axis = static_cast<std::size_t>(normalizeAxis(axisAttr, outRank, node));
        Shape outShape = indices.shape();
        outShape.insert(outShape.begin() + static_cast<std::ptrdiff_t>(axis), depth);
        I64 outer = 1;
        for (std::size_t d = 0; d < axis; ++d)
            outer *= indices.shape()[d];
        const I64 inner = outer == 0 ? 0 : indices.size() / outer;
        Tensor& out = a.output(0);
        out.resize(values.dtype(), std::move(outShape));
        dispatchMove(
            values.dtype(),
            [&]<class T>(T) {
                const T off = elems<T>(values)[0], on = elems<T>(values)[1];
                T* dst = elems<T>(out);
                std::fill_n(dst, out.size(), off);
                for (I64 o = 0; o < outer; ++o)
                    for (I64 i = 0; i < inner; ++i) {
                        const double vd = indices.at(o * inner + i);
                        if (!(std::abs(vd) < static_cast<double>(depth) + 1))
                            continue;
                        I64 v = static_cast<I64>(vd);
                        if (v < 0)
                            v += depth;
                        // Out-of-range indices give an all-off row, as the spec says.
                        if (v >= 0 && v < depth)
                            dst[(o * depth + v) * inner + i] = on;
                    }
            },
            node);
    };
}

Kernel makeCompress(const KernelContext& ctx)
{
    const std::optional<I64> axisAttr = ctx.node.has("axis") ? std::optional(ctx.node.attrInt("axis", 0)) : std::nullopt;
    return [axisAttr](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& x = a.input(0);
        const Tensor& cond = a.input(1);
        if (cond.rank() != 1)
            fail(node, "condition must be 1-D");
        Shape shape = axisAttr ? x.shape() : Shape{x.size()};
        const auto axis = axisAttr ? static_cast<std::size_t>(normalizeAxis(*axisAttr, x.rank(), node)) : 0;
        const I64 dim = shape[axis];
        std::vector<I64> keep;
        for (I64 j = 0; j < cond.size(); ++j) {
            if (cond.at(j) == 0)
                continue;
            if (j >= dim)
                fail(node, "condition selects index " + std::to_string(j) + " beyond dim " + std::to_string(dim));
            keep.push_back(j);
        }
        I64 outer = 1, inner = 1;
        for (std::size_t d = 0; d < axis; ++d)
            outer *= shape[d];
        for (std::size_t d = axis + 1; d < shape.size(); ++d)
            inner *= shape[d];
        shape[axis] = static_cast<I64>(keep.size());
        Tensor& out = a.output(0);
        out.resize(x.dtype(), shape);
        dispatchMove(
            x.dtype(),
            [&]<class T>(T) {
                const T* src = elems<T>(x);
                T* dst = elems<T>(out);
                for (I64 o = 0; o < outer; ++o)
                    for (I64 j : keep) {
                        copyN(dst, src + (o * dim + j) * inner, inner);
                        dst += inner;
                    }
            },
            node);
    };
}

Kernel makeNonZero(const KernelContext&)
{
    return [](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& x = a.input(0);
        // A scalar counts as a 1-element vector, as numpy and onnxruntime do.
        const Shape shape = x.rank() == 0 ? Shape{1} : x.shape();
        const auto r = static_cast<I64>(shape.size());
        Tensor& out = a.output(0);
        dispatchAny(
            x.dtype(),
            [&]<class T>(T) {
                const T* p = x.data<T>();
                I64 nnz = 0;
                for (I64 i = 0; i < x.size(); ++i)
                    nnz += toArith(p[i]) != 0;
                out.resize(DType::Int64, {r, nnz});
                I64* o = out.data<I64>();
                std::vector<I64> idx(static_cast<std::size_t>(r), 0);
                I64 col = 0;
                for (I64 i = 0; i < x.size(); ++i) {
                    if (toArith(p[i]) != 0) {
                        for (I64 d = 0; d < r; ++d)
                            o[d * nnz + col] = idx[static_cast<std::size_t>(d)];
                        ++col;
                    }
                    for (I64 d = r - 1; d >= 0; --d) {
                        const auto du = static_cast<std::size_t>(d);
                        if (++idx[du] < shape[du])
                            break;
                        idx[du] = 0;
                    }
                }
            },
            node);
    };
}

Kernel makeReverseSequence(const KernelContext& ctx)
{
    const I64 batchAxis = ctx.node.attrInt("batch_axis", 1);
    const I64 timeAxis = ctx.node.attrInt("time_axis", 0);
    if (!((batchAxis == 0 && timeAxis == 1) || (batchAxis == 1 && timeAxis == 0)))
        ctx.invalid("batch_axis and time_axis must be 0 and 1 in some order");
    return [timeAxis](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& x = a.input(0);
        const Tensor& lensT = a.input(1);
        if (x.rank() < 2)
            fail(node, "input must have rank 2 or more");
        const I64 steps = x.dim(static_cast<int>(timeAxis));
        const I64 batch = x.dim(static_cast<int>(1 - timeAxis));
        const auto lens = int64Values(lensT);
        if (static_cast<I64>(lens.size()) != batch)
            fail(node, "sequence_lens has " + std::to_string(lens.size()) + " entries for batch " + std::to_string(batch));
        for (I64 len : lens)
            if (len < 0 || len > steps)
                fail(node, "sequence length " + std::to_string(len) + " is out of range [0, " + std::to_string(steps) + "]");
        const I64 inner = batch * steps == 0 ? 0 : x.size() / (batch * steps);
        auto offset = [&](I64 t, I64 b) { return (timeAxis == 0 ? t * batch + b : b * steps + t) * inner; };
        Tensor& out = a.output(0);
        out.resize(x.dtype(), x.shape());
        dispatchMove(
            x.dtype(),
            [&]<class T>(T) {
                const T* src = elems<T>(x);
                T* dst = elems<T>(out);
                for (I64 b = 0; b < batch; ++b) {
                    const I64 len = lens[static_cast<std::size_t>(b)];
                    for (I64 t = 0; t < steps; ++t)
                        copyN(dst + offset(t, b), src + offset(t < len ? len - 1 - t : t, b), inner);
                }
            },
            node);
    };
}

// ---------------------------------------------------------------------------------------------
// Unique

/// A strict total order on element values: NaN sorts after every number and equals NaN.
template <class T> inline bool valueLess(const T& x, const T& y)
{
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool> || std::is_integral_v<T>) {
        return x < y;
    } else {
        const auto a = toArith(x), b = toArith(y);
        if (std::isnan(a))
            return false;
        return std::isnan(b) || a < b;
    }
}

template <class T> inline bool valueEqual(const T& x, const T& y) { return !valueLess(x, y) && !valueLess(y, x); }

Kernel makeUnique(const KernelContext& ctx)
{
    const bool sorted = ctx.node.attrInt("sorted", 1) != 0;
    const std::optional<I64> axisAttr = ctx.node.has("axis") ? std::optional(ctx.node.attrInt("axis", 0)) : std::nullopt;
    return [sorted, axisAttr](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& x = a.input(0);
        // View x as [outer, n, inner] with the unique axis in the middle; slices are (outer, inner).
        const Shape shape = axisAttr ? x.shape() : Shape{x.size()};
        const auto axis = axisAttr ? static_cast<std::size_t>(normalizeAxis(*axisAttr, x.rank(), node)) : 0;
        const I64 n = shape[axis];
        I64 outer = 1, inner = 1;
        for (std::size_t d = 0; d < axis; ++d)
            outer *= shape[d];
        for (std::size_t d = axis + 1; d < shape.size(); ++d)
            inner *= shape[d];
        const I64 sliceLen = outer * inner;

        auto run = [&]<class TT>(TT) {
            // bool is handled as its bytes, which avoids std::vector<bool>.
            using T = std::conditional_t<std::is_same_v<TT, bool>, std::uint8_t, TT>;
            const T* src = elems<T>(x);
            // Slice j, element (o, i), is src[(o * n + j) * inner + i]; gather slices contiguously.
            std::vector<T> keys(static_cast<std::size_t>(n * sliceLen));
            for (I64 o = 0; o < outer; ++o)
                for (I64 j = 0; j < n; ++j)
                    for (I64 i = 0; i < inner; ++i)
                        keys[static_cast<std::size_t>(j * sliceLen + o * inner + i)] = src[(o * n + j) * inner + i];
            auto sliceLess = [&](I64 p, I64 q) {
                const T* kp = keys.data() + p * sliceLen;
                const T* kq = keys.data() + q * sliceLen;
                for (I64 e = 0; e < sliceLen; ++e) {
                    if (valueLess(kp[e], kq[e]))
                        return true;
                    if (valueLess(kq[e], kp[e]))
                        return false;
                }
                return false;
            };
            std::vector<I64> order(static_cast<std::size_t>(n));
            std::iota(order.begin(), order.end(), I64{0});
            std::stable_sort(order.begin(), order.end(), sliceLess);
            // Groups of equal slices: the first member (in stable order) is the first occurrence.
            std::vector<I64> firstOf, countOf, groupOf(static_cast<std::size_t>(n));
            for (std::size_t i = 0; i < order.size(); ++i) {
                if (i == 0 || sliceLess(order[i - 1], order[i])) {
                    firstOf.push_back(order[i]);
                    countOf.push_back(0);
                }
                groupOf[static_cast<std::size_t>(order[i])] = static_cast<I64>(firstOf.size()) - 1;
                ++countOf.back();
            }
            const auto u = static_cast<I64>(firstOf.size());
            // Output position of each group: sorted order, or order of first occurrence.
            std::vector<I64> groups(static_cast<std::size_t>(u));
            std::iota(groups.begin(), groups.end(), I64{0});
            if (!sorted)
                std::sort(groups.begin(), groups.end(),
                          [&](I64 g, I64 h) { return firstOf[static_cast<std::size_t>(g)] < firstOf[static_cast<std::size_t>(h)]; });
            std::vector<I64> posOf(static_cast<std::size_t>(u));
            for (I64 p = 0; p < u; ++p)
                posOf[static_cast<std::size_t>(groups[static_cast<std::size_t>(p)])] = p;

            Shape yShape = shape;
            yShape[axis] = u;
            Tensor& y = a.output(0);
            y.resize(x.dtype(), yShape);
            T* yd = elems<T>(y);
            for (I64 o = 0; o < outer; ++o)
                for (I64 p = 0; p < u; ++p) {
                    const I64 j = firstOf[static_cast<std::size_t>(groups[static_cast<std::size_t>(p)])];
                    for (I64 i = 0; i < inner; ++i)
                        yd[(o * u + p) * inner + i] = keys[static_cast<std::size_t>(j * sliceLen + o * inner + i)];
                }
            auto writeInts = [&](std::size_t k, I64 len, auto value) {
                if (!a.wantsOutput(k))
                    return;
                Tensor& t = a.output(k);
                t.resize(DType::Int64, {len});
                for (I64 i = 0; i < len; ++i)
                    t.data<I64>()[i] = value(i);
            };
            writeInts(1, u, [&](I64 p) { return firstOf[static_cast<std::size_t>(groups[static_cast<std::size_t>(p)])]; });
            writeInts(2, n, [&](I64 j) { return posOf[static_cast<std::size_t>(groupOf[static_cast<std::size_t>(j)])]; });
            writeInts(3, u, [&](I64 p) { return countOf[static_cast<std::size_t>(groups[static_cast<std::size_t>(p)])]; });
        };
        if (x.dtype() == DType::String)
            run(std::string{});
        else
            dispatchAny(x.dtype(), run, node);
    };
}

} // namespace

void registerTensorOps(OpRegistry& r)
{
    r.add("Gather", 1, makeGather);
    r.add("GatherElements", 11, makeGatherElements);
    r.add("GatherND", 11, makeGatherND);
    r.add("Scatter", 9, makeScatterElements);
    r.add("ScatterElements", 11, makeScatterElements);
    r.add("ScatterND", 11, makeScatterND);
    r.add("Trilu", 14, makeTrilu);
    r.add("OneHot", 9, makeOneHot);
    r.add("Compress", 9, makeCompress);
    r.add("NonZero", 9, makeNonZero);
    r.add("ReverseSequence", 10, makeReverseSequence);
    r.add("Unique", 11, makeUnique);
}

} // namespace leger
