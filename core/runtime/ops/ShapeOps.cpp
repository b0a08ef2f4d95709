// Shape and data-movement ops: Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Transpose,
// Concat, Split, Slice, Expand, Tile, Identity, Dropout, ConstantOfShape, Range, EyeLike,
// Constant, DepthToSpace, SpaceToDepth.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
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

/// Reads an optional 1-D integer input (shape, axes, ...) as int64.
std::vector<I64> intsInput(const KernelArgs& a, std::size_t i)
{
    const Tensor& t = a.input(i);
    if (t.dtype() != DType::Int64 && t.dtype() != DType::Int32)
        fail(a.node(), "input " + std::to_string(i) + " must be int32 or int64, got " + std::string(dtypeName(t.dtype())));
    return int64Values(t);
}

/// Copies in, viewed with viewShape and permuted by perm, into out shaped outShape.
void permutedCopy(const Tensor& in, Tensor& out, const Shape& viewShape, const std::vector<int>& perm,
                  Shape outShape, const Node& node)
{
    const auto viewStrides = stridesOf(viewShape);
    Shape dims(perm.size());
    std::vector<I64> strides(perm.size());
    for (std::size_t i = 0; i < perm.size(); ++i) {
        dims[i] = viewShape[static_cast<std::size_t>(perm[i])];
        strides[i] = viewStrides[static_cast<std::size_t>(perm[i])];
    }
    out.resize(in.dtype(), std::move(outShape));
    dispatchMove(
        in.dtype(), [&]<class T>(T) { stridedCopy(elems<T>(in), elems<T>(out), dims, strides); }, node);
}

// ---------------------------------------------------------------------------------------------

Kernel makeShape(const KernelContext& ctx)
{
    const bool ranged = ctx.opset >= 15;
    const I64 start = ranged ? ctx.node.attrInt("start", 0) : 0;
    const std::optional<I64> end =
        ranged && ctx.node.has("end") ? std::optional<I64>(ctx.node.attrInt("end", 0)) : std::nullopt;
    return [start, end](KernelArgs& a) {
        const Tensor& x = a.input(0);
        const I64 r = x.rank();
        // Out-of-range start/end clamp to [0, rank] rather than fail, as the spec says.
        auto clampAxis = [r](I64 v) { return std::clamp<I64>(v < 0 ? v + r : v, 0, r); };
        const I64 s = clampAxis(start);
        const I64 e = end ? clampAxis(*end) : r;
        const I64 n = std::max<I64>(0, e - s);
        Tensor& out = a.output(0);
        out.resize(DType::Int64, {n});
        for (I64 i = 0; i < n; ++i)
            out.data<I64>()[i] = x.shape()[static_cast<std::size_t>(s + i)];
    };
}

Kernel makeSize(const KernelContext&)
{
    return [](KernelArgs& a) {
        Tensor& out = a.output(0);
        out.resize(DType::Int64, {});
        out.data<I64>()[0] = a.input(0).size();
    };
}

/// The output shape of Reshape: 0 copies the input dim (unless allowzero), -1 is inferred.
Shape reshapeTarget(const Shape& in, const std::vector<I64>& spec, bool allowZero, const Node& node)
{
    Shape out(spec.size());
    int inferAt = -1;
    I64 known = 1;
    bool hasZero = false;
    for (std::size_t i = 0; i < spec.size(); ++i) {
        I64 v = spec[i];
        if (v == -1) {
            if (inferAt >= 0)
                fail(node, "shape " + shapeToString(spec) + " has more than one -1");
            inferAt = static_cast<int>(i);
            continue;
        }
        if (v == 0 && !allowZero) {
            if (i >= in.size())
                fail(node, "shape " + shapeToString(spec) + " copies dim " + std::to_string(i) + " of input " +
                               shapeToString(in) + ", which does not exist");
            v = in[i];
        }
        if (v < 0)
            fail(node, "invalid dimension " + std::to_string(v) + " in shape " + shapeToString(spec));
        if (v == 0)
            hasZero = true;
        else if (known > (I64{1} << 50) / v)
            fail(node, "shape " + shapeToString(spec) + " is too large");
        out[i] = v;
        known *= v;
    }
    const I64 total = elementCount(in);
    if (inferAt >= 0) {
        if (hasZero || total % known != 0)
            fail(node, "cannot reshape " + shapeToString(in) + " to " + shapeToString(spec));
        out[static_cast<std::size_t>(inferAt)] = total / known;
    } else if (known != total && !(hasZero && total == 0)) {
        fail(node, "cannot reshape " + shapeToString(in) + " to " + shapeToString(spec));
    }
    if (elementCount(out) != total)
        fail(node, "cannot reshape " + shapeToString(in) + " to " + shapeToString(spec));
    return out;
}

Kernel makeReshape(const KernelContext& ctx)
{
    const bool allowZero = ctx.opset >= 14 && ctx.node.attrInt("allowzero", 0) != 0;
    if (ctx.opset < 5) {
        if (!ctx.node.has("shape"))
            ctx.invalid("the shape attribute is missing");
        const auto spec = ctx.node.attrInts("shape");
        return [spec](KernelArgs& a) {
            const Tensor& x = a.input(0);
            copyReshaped(x, a.output(0), reshapeTarget(x.shape(), spec, false, a.node()));
        };
    }
    return [allowZero](KernelArgs& a) {
        const Tensor& x = a.input(0);
        copyReshaped(x, a.output(0), reshapeTarget(x.shape(), intsInput(a, 1), allowZero, a.node()));
    };
}

Kernel makeFlatten(const KernelContext& ctx)
{
    const I64 axis = ctx.node.attrInt("axis", 1);
    return [axis](KernelArgs& a) {
        const Tensor& x = a.input(0);
        const I64 r = x.rank();
        if (axis < -r || axis > r)
            fail(a.node(), "axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(r));
        const I64 ax = axis < 0 ? axis + r : axis;
        I64 outer = 1;
        for (I64 i = 0; i < ax; ++i)
            outer *= x.shape()[static_cast<std::size_t>(i)];
        const I64 inner = outer == 0 ? elementCount(Shape(x.shape().begin() + ax, x.shape().end())) : x.size() / outer;
        copyReshaped(x, a.output(0), {outer, inner});
    };
}

Kernel makeSqueeze(const KernelContext& ctx)
{
    const bool axesInput = ctx.opset >= 13;
    const std::optional<std::vector<I64>> attrAxes =
        !axesInput && ctx.node.has("axes") ? std::optional(ctx.node.attrInts("axes")) : std::nullopt;
    return [axesInput, attrAxes](KernelArgs& a) {
        const Tensor& x = a.input(0);
        const int r = x.rank();
        std::optional<std::vector<I64>> axes = attrAxes;
        if (axesInput && a.hasInput(1))
            axes = intsInput(a, 1);
        std::vector<bool> drop(static_cast<std::size_t>(r), false);
        // An empty axes list squeezes every unit axis, as onnxruntime does.
        if (axes && !axes->empty()) {
            for (I64 axis : *axes) {
                const auto d = static_cast<std::size_t>(normalizeAxis(axis, r, a.node()));
                if (x.shape()[d] != 1)
                    fail(a.node(), "cannot squeeze axis " + std::to_string(axis) + " of shape " + shapeToString(x.shape()));
                drop[d] = true;
            }
        } else {
            for (int d = 0; d < r; ++d)
                drop[static_cast<std::size_t>(d)] = x.shape()[static_cast<std::size_t>(d)] == 1;
        }
        Shape shape;
        for (int d = 0; d < r; ++d)
            if (!drop[static_cast<std::size_t>(d)])
                shape.push_back(x.shape()[static_cast<std::size_t>(d)]);
        copyReshaped(x, a.output(0), std::move(shape));
    };
}

Kernel makeUnsqueeze(const KernelContext& ctx)
{
    const bool axesInput = ctx.opset >= 13;
    if (!axesInput && !ctx.node.has("axes"))
        ctx.invalid("the axes attribute is missing");
    const std::vector<I64> attrAxes = axesInput ? std::vector<I64>{} : ctx.node.attrInts("axes");
    return [axesInput, attrAxes](KernelArgs& a) {
        const Tensor& x = a.input(0);
        const std::vector<I64> axes = axesInput ? intsInput(a, 1) : attrAxes;
        const int outRank = x.rank() + static_cast<int>(axes.size());
        std::vector<bool> inserted(static_cast<std::size_t>(outRank), false);
        for (I64 axis : axes) {
            const auto d = static_cast<std::size_t>(normalizeAxis(axis, outRank, a.node()));
            if (inserted[d])
                fail(a.node(), "axis " + std::to_string(axis) + " appears twice");
            inserted[d] = true;
        }
        Shape shape(static_cast<std::size_t>(outRank));
        std::size_t src = 0;
        for (std::size_t d = 0; d < shape.size(); ++d)
            shape[d] = inserted[d] ? 1 : x.shape()[src++];
        copyReshaped(x, a.output(0), std::move(shape));
    };
}

Kernel makeTranspose(const KernelContext& ctx)
{
    const std::optional<std::vector<I64>> permAttr =
        ctx.node.has("perm") ? std::optional(ctx.node.attrInts("perm")) : std::nullopt;
    return [permAttr](KernelArgs& a) {
        const Tensor& x = a.input(0);
        const int r = x.rank();
        std::vector<int> perm(static_cast<std::size_t>(r));
        if (permAttr) {
            if (permAttr->size() != perm.size())
                fail(a.node(), "perm has " + std::to_string(permAttr->size()) + " entries for rank " + std::to_string(r));
            std::vector<bool> seen(perm.size(), false);
            for (std::size_t i = 0; i < perm.size(); ++i) {
                const int p = normalizeAxis((*permAttr)[i], r, a.node());
                if (seen[static_cast<std::size_t>(p)])
                    fail(a.node(), "perm is not a permutation");
                seen[static_cast<std::size_t>(p)] = true;
                perm[i] = p;
            }
        } else {
            for (int i = 0; i < r; ++i)
                perm[static_cast<std::size_t>(i)] = r - 1 - i;
        }
        Shape outShape(perm.size());
        for (std::size_t i = 0; i < perm.size(); ++i)
            outShape[i] = x.shape()[static_cast<std::size_t>(perm[i])];
        permutedCopy(x, a.output(0), x.shape(), perm, std::move(outShape), a.node());
    };
}

Kernel makeConcat(const KernelContext& ctx)
{
    if (ctx.opset >= 4 && !ctx.node.has("axis"))
        ctx.invalid("the axis attribute is missing");
    const I64 axisAttr = ctx.node.attrInt("axis", 1);
    return [axisAttr](KernelArgs& a) {
        const Node& node = a.node();
        if (a.inputCount() == 0)
            fail(node, "no inputs");
        const Tensor& first = a.input(0);
        const int r = first.rank();
        if (r == 0)
            fail(node, "cannot concatenate scalars");
        const auto axis = static_cast<std::size_t>(normalizeAxis(axisAttr, r, node));
        Shape outShape = first.shape();
        outShape[axis] = 0;
        for (std::size_t i = 0; i < a.inputCount(); ++i) {
            const Tensor& t = a.input(i);
            if (t.dtype() != first.dtype())
                fail(node, "inputs have different types");
            bool ok = t.rank() == r;
            for (std::size_t d = 0; ok && d < static_cast<std::size_t>(r); ++d)
                ok = d == axis || t.shape()[d] == first.shape()[d];
            if (!ok)
                fail(node, "cannot concatenate shapes " + shapeToString(first.shape()) + " and " + shapeToString(t.shape()) +
                               " on axis " + std::to_string(axis));
            outShape[axis] += t.shape()[axis];
        }
        I64 outer = 1, inner = 1;
        for (std::size_t d = 0; d < axis; ++d)
            outer *= outShape[d];
        for (std::size_t d = axis + 1; d < outShape.size(); ++d)
            inner *= outShape[d];
        Tensor& out = a.output(0);
        out.resize(first.dtype(), outShape);
        dispatchMove(
            first.dtype(),
            [&]<class T>(T) {
                T* dst = elems<T>(out);
                for (I64 o = 0; o < outer; ++o)
                    for (std::size_t i = 0; i < a.inputCount(); ++i) {
                        const Tensor& t = a.input(i);
                        const I64 chunk = t.shape()[axis] * inner;
                        copyN(dst, elems<T>(t) + o * chunk, chunk);
                        dst += chunk;
                    }
            },
            node);
    };
}

Kernel makeSplit(const KernelContext& ctx)
{
    const I64 axisAttr = ctx.node.attrInt("axis", 0);
    const bool splitInput = ctx.opset >= 13 || ctx.opset < 2;
    const std::vector<I64> splitAttr = ctx.opset < 13 ? ctx.node.attrInts("split") : std::vector<I64>{};
    const I64 numOutputs = ctx.opset >= 18 ? ctx.node.attrInt("num_outputs", 0) : 0;
    if (ctx.opset >= 18 && ctx.node.has("num_outputs")) {
        if (numOutputs < 1)
            ctx.invalid("num_outputs must be positive");
        if (static_cast<std::size_t>(numOutputs) != ctx.node.outputs.size())
            ctx.invalid("num_outputs does not match the number of outputs");
    }
    return [axisAttr, splitInput, splitAttr, numOutputs](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& x = a.input(0);
        const auto axis = static_cast<std::size_t>(normalizeAxis(axisAttr, x.rank(), node));
        const I64 dim = x.shape()[axis];
        const auto n = static_cast<I64>(a.outputCount());
        std::vector<I64> split = splitAttr;
        if (splitInput && a.hasInput(1))
            split = intsInput(a, 1);
        if (split.empty()) {
            // Equal parts; with num_outputs (opset 18) the last part may be smaller.
            const I64 part = numOutputs > 0 ? (dim + n - 1) / n : dim / std::max<I64>(n, 1);
            if (numOutputs == 0 && part * n != dim)
                fail(node, "cannot split dim " + std::to_string(dim) + " into " + std::to_string(n) + " equal parts");
            for (I64 i = 0; i < n; ++i)
                split.push_back(std::clamp<I64>(dim - i * part, 0, part));
        }
        if (static_cast<I64>(split.size()) != n)
            fail(node, "split has " + std::to_string(split.size()) + " entries for " + std::to_string(n) + " outputs");
        I64 sum = 0;
        for (I64 s : split) {
            if (s < 0)
                fail(node, "negative split size");
            sum += s;
        }
        if (sum != dim)
            fail(node, "split sizes add up to " + std::to_string(sum) + ", not dim " + std::to_string(dim));
        I64 outer = 1, inner = 1;
        for (std::size_t d = 0; d < axis; ++d)
            outer *= x.shape()[d];
        for (std::size_t d = axis + 1; d < x.shape().size(); ++d)
            inner *= x.shape()[d];
        for (I64 i = 0; i < n; ++i) {
            Shape s = x.shape();
            s[axis] = split[static_cast<std::size_t>(i)];
            a.output(static_cast<std::size_t>(i)).resize(x.dtype(), std::move(s));
        }
        dispatchMove(
            x.dtype(),
            [&]<class T>(T) {
                const T* src = elems<T>(x);
                for (I64 o = 0; o < outer; ++o)
                    for (I64 i = 0; i < n; ++i) {
                        const I64 chunk = split[static_cast<std::size_t>(i)] * inner;
                        copyN(elems<T>(a.output(static_cast<std::size_t>(i))) + o * chunk, src, chunk);
                        src += chunk;
                    }
            },
            node);
    };
}

/// Slices x along the given axes exactly as the spec clamps starts and ends.
void sliceRun(KernelArgs& a, const std::vector<I64>& starts, const std::vector<I64>& ends,
              const std::optional<std::vector<I64>>& axesIn, const std::optional<std::vector<I64>>& stepsIn)
{
    const Node& node = a.node();
    const Tensor& x = a.input(0);
    const int r = x.rank();
    const std::size_t n = starts.size();
    if (ends.size() != n || (axesIn && axesIn->size() != n) || (stepsIn && stepsIn->size() != n))
        fail(node, "starts, ends, axes and steps have different lengths");
    Shape dims = x.shape();
    const auto inStrides = stridesOf(x.shape());
    std::vector<I64> strides = inStrides;
    std::vector<bool> seen(static_cast<std::size_t>(r), false);
    I64 offset = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const I64 axisRaw = axesIn ? (*axesIn)[i] : static_cast<I64>(i);
        const auto axis = static_cast<std::size_t>(normalizeAxis(axisRaw, r, node));
        if (seen[axis])
            fail(node, "axis " + std::to_string(axisRaw) + " appears twice");
        seen[axis] = true;
        const I64 step = stepsIn ? (*stepsIn)[i] : 1;
        if (step == 0)
            fail(node, "step 0");
        const I64 dim = x.shape()[axis];
        I64 start = starts[i], end = ends[i];
        if (start < 0)
            start += dim;
        if (end < 0)
            end += dim;
        I64 count;
        if (step > 0) {
            start = std::min(std::max<I64>(start, 0), dim);
            end = std::min(std::max<I64>(end, 0), dim);
            count = end > start ? (end - start - 1) / step + 1 : 0;
        } else {
            start = std::min(std::max<I64>(start, 0), dim - 1);
            end = std::min(std::max<I64>(end, -1), dim - 1);
            const I64 magnitude = step == std::numeric_limits<I64>::min() ? std::numeric_limits<I64>::max() : -step;
            count = start > end ? (start - end - 1) / magnitude + 1 : 0;
        }
        dims[axis] = count;
        // With one element or none the stride is unused, and a huge step must not overflow.
        strides[axis] = count > 1 ? inStrides[axis] * step : inStrides[axis];
        if (count > 0)
            offset += start * inStrides[axis];
    }
    Tensor& out = a.output(0);
    out.resize(x.dtype(), dims);
    if (out.size() == 0)
        return;
    dispatchMove(
        x.dtype(), [&]<class T>(T) { stridedCopy(elems<T>(x) + offset, elems<T>(out), dims, strides); }, node);
}

Kernel makeSlice(const KernelContext& ctx)
{
    if (ctx.opset < 10) {
        const auto starts = ctx.node.attrInts("starts");
        const auto ends = ctx.node.attrInts("ends");
        if (!ctx.node.has("starts") || !ctx.node.has("ends"))
            ctx.invalid("the starts and ends attributes are required");
        const std::optional<std::vector<I64>> axes =
            ctx.node.has("axes") ? std::optional(ctx.node.attrInts("axes")) : std::nullopt;
        return [starts, ends, axes](KernelArgs& a) { sliceRun(a, starts, ends, axes, std::nullopt); };
    }
    return [](KernelArgs& a) {
        std::optional<std::vector<I64>> axes, steps;
        if (a.hasInput(3))
            axes = intsInput(a, 3);
        if (a.hasInput(4))
            steps = intsInput(a, 4);
        sliceRun(a, intsInput(a, 1), intsInput(a, 2), axes, steps);
    };
}

Kernel makeExpand(const KernelContext&)
{
    return [](KernelArgs& a) {
        const Tensor& x = a.input(0);
        const Shape target = intsInput(a, 1);
        const Shape outShape = broadcastShapes(x.shape(), target, a.node());
        const auto strides = broadcastStrides(x.shape(), outShape);
        Tensor& out = a.output(0);
        out.resize(x.dtype(), outShape);
        if (out.size() == 0)
            return;
        dispatchMove(
            x.dtype(), [&]<class T>(T) { stridedCopy(elems<T>(x), elems<T>(out), outShape, strides); }, a.node());
    };
}

Kernel makeTile(const KernelContext&)
{
    return [](KernelArgs& a) {
        const Tensor& x = a.input(0);
        const auto repeats = intsInput(a, 1);
        if (repeats.size() != static_cast<std::size_t>(x.rank()))
            fail(a.node(), "repeats has " + std::to_string(repeats.size()) + " entries for rank " + std::to_string(x.rank()));
        // Output axis d, of size r*n, is the row-major pair (r, n): read it with strides (0, s).
        const auto inStrides = stridesOf(x.shape());
        Shape outShape, dims;
        std::vector<I64> strides;
        for (std::size_t d = 0; d < repeats.size(); ++d) {
            if (repeats[d] < 0)
                fail(a.node(), "negative repeat count");
            outShape.push_back(x.shape()[d] * repeats[d]);
            dims.insert(dims.end(), {repeats[d], x.shape()[d]});
            strides.insert(strides.end(), {0, inStrides[d]});
        }
        Tensor& out = a.output(0);
        out.resize(x.dtype(), outShape);
        if (out.size() == 0)
            return;
        dispatchMove(
            x.dtype(), [&]<class T>(T) { stridedCopy(elems<T>(x), elems<T>(out), dims, strides); }, a.node());
    };
}

Kernel makeIdentity(const KernelContext&)
{
    return [](KernelArgs& a) {
        const Tensor& x = a.input(0);
        copyReshaped(x, a.output(0), x.shape());
    };
}

Kernel makeDropout(const KernelContext& ctx)
{
    // Before opset 7 the mask has the input's type; from 10 it is bool. Opsets before 12 have no
    // training_mode input and are always run as inference (is_test only matters when training).
    const bool boolMask = ctx.opset >= 10;
    const bool trainingInput = ctx.opset >= 12;
    return [boolMask, trainingInput](KernelArgs& a) {
        const Tensor& x = a.input(0);
        if (trainingInput && a.hasInput(2) && a.input(2).size() > 0 && a.input(2).at(0) != 0) {
            const double ratio = a.hasInput(1) ? a.input(1).at(0) : 0.5;
            if (ratio != 0)
                throw UnsupportedError(a.node().describe() + ": Dropout in training mode is not supported");
        }
        copyReshaped(x, a.output(0), x.shape());
        if (!a.wantsOutput(1))
            return;
        Tensor& mask = a.output(1);
        if (boolMask) {
            mask.resize(DType::Bool, x.shape());
            std::fill_n(mask.data<bool>(), mask.size(), true);
            return;
        }
        mask.resize(x.dtype(), x.shape());
        dispatchAny(
            x.dtype(), [&]<class T>(T) { std::fill_n(mask.data<T>(), mask.size(), fromDouble<T>(1)); }, a.node());
    };
}

Kernel makeConstantOfShape(const KernelContext& ctx)
{
    auto value = std::make_shared<Tensor>(Tensor::scalar<float>(0.0f));
    if (const Tensor* t = ctx.node.attrTensor("value")) {
        if (t->size() != 1)
            ctx.invalid("value must have exactly one element");
        if (t->dtype() == DType::String || t->dtype() == DType::Undefined)
            ctx.unsupported("value of type " + std::string(dtypeName(t->dtype())));
        *value = *t;
    }
    return [value](KernelArgs& a) {
        const Shape shape = intsInput(a, 0);
        for (I64 d : shape)
            if (d < 0)
                fail(a.node(), "negative dimension in shape " + shapeToString(shape));
        Tensor& out = a.output(0);
        out.resize(value->dtype(), shape);
        dispatchMove(
            value->dtype(), [&]<class T>(T) { std::fill_n(elems<T>(out), out.size(), elems<T>(*value)[0]); }, a.node());
    };
}

Kernel makeRange(const KernelContext&)
{
    return [](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& start = a.input(0);
        const Tensor& limit = a.input(1);
        const Tensor& delta = a.input(2);
        if (start.size() != 1 || limit.size() != 1 || delta.size() != 1)
            fail(node, "start, limit and delta must be scalars");
        if (limit.dtype() != start.dtype() || delta.dtype() != start.dtype())
            fail(node, "start, limit and delta have different types");
        Tensor& out = a.output(0);
        auto run = [&]<class T>(T) {
            const T s = start.data<T>()[0], l = limit.data<T>()[0], d = delta.data<T>()[0];
            if (d == T(0))
                fail(node, "delta is zero");
            I64 n;
            if constexpr (std::is_floating_point_v<T>) {
                const double c = std::ceil((static_cast<double>(l) - static_cast<double>(s)) / static_cast<double>(d));
                if (!std::isfinite(c) || c > static_cast<double>(I64{1} << 40))
                    fail(node, "the range has too many elements");
                n = std::max<I64>(0, static_cast<I64>(c));
            } else {
                const I64 diff = static_cast<I64>(l) - static_cast<I64>(s);
                const I64 step = static_cast<I64>(d);
                // Ceiling division that is exact for either sign.
                n = diff / step + ((diff % step != 0 && ((diff < 0) == (step < 0))) ? 1 : 0);
                n = std::max<I64>(0, n);
            }
            out.resize(start.dtype(), {n});
            T* o = out.data<T>();
            for (I64 i = 0; i < n; ++i) {
                if constexpr (std::is_floating_point_v<T>)
                    o[i] = static_cast<T>(static_cast<double>(s) + static_cast<double>(i) * static_cast<double>(d));
                else
                    o[i] = static_cast<T>(static_cast<I64>(s) + i * static_cast<I64>(d));
            }
        };
        switch (start.dtype()) {
        case DType::Float32: run(float{}); break;
        case DType::Float64: run(double{}); break;
        case DType::Int16: run(std::int16_t{}); break;
        case DType::Int32: run(std::int32_t{}); break;
        case DType::Int64: run(I64{}); break;
        default:
            throw UnsupportedError(node.describe() + ": element type " + std::string(dtypeName(start.dtype())) +
                                   " is not supported");
        }
    };
}

Kernel makeEyeLike(const KernelContext& ctx)
{
    DType dtype = DType::Undefined;
    if (ctx.node.has("dtype")) {
        dtype = dtypeFromOnnx(static_cast<int>(ctx.node.attrInt("dtype", 0)));
        if (dtype == DType::Undefined || dtype == DType::String)
            ctx.unsupported("dtype " + std::to_string(ctx.node.attrInt("dtype", 0)));
    }
    const I64 k = ctx.node.attrInt("k", 0);
    return [dtype, k](KernelArgs& a) {
        const Tensor& x = a.input(0);
        if (x.rank() != 2)
            fail(a.node(), "input must be 2-D, got shape " + shapeToString(x.shape()));
        const DType t = dtype == DType::Undefined ? x.dtype() : dtype;
        Tensor& out = a.output(0);
        out.resize(t, x.shape());
        out.zero();
        const I64 rows = x.dim(0), cols = x.dim(1);
        dispatchAny(
            t,
            [&]<class T>(T) {
                T* o = out.data<T>();
                for (I64 i = std::max<I64>(0, -k); i < rows && i + k < cols; ++i)
                    o[i * cols + i + k] = fromDouble<T>(1);
            },
            a.node());
    };
}

Kernel makeConstant(const KernelContext& ctx)
{
    const Node& n = ctx.node;
    auto value = std::make_shared<Tensor>();
    if (const Tensor* t = n.attrTensor("value")) {
        *value = *t;
    } else if (const Attribute* f = n.find("value_float")) {
        *value = Tensor::scalar<float>(f->f);
    } else if (const Attribute* fs = n.find("value_floats")) {
        *value = Tensor::fromVector<float>({static_cast<I64>(fs->floats.size())}, fs->floats);
    } else if (const Attribute* i = n.find("value_int")) {
        *value = Tensor::scalar<I64>(i->i);
    } else if (const Attribute* is = n.find("value_ints")) {
        *value = Tensor::fromVector<I64>({static_cast<I64>(is->ints.size())}, is->ints);
    } else if (const Attribute* s = n.find("value_string")) {
        *value = Tensor(DType::String, {});
        value->strings()[0] = s->s;
    } else if (const Attribute* ss = n.find("value_strings")) {
        *value = Tensor(DType::String, {static_cast<I64>(ss->strings.size())});
        value->strings() = ss->strings;
    } else if (n.has("sparse_value")) {
        ctx.unsupported("a sparse value");
    } else {
        ctx.invalid("no value attribute");
    }
    return [value](KernelArgs& a) { copyReshaped(*value, a.output(0), value->shape()); };
}

/// N, C, H, W of a 4-D input, or an error naming the node.
std::array<I64, 4> nchw(const Tensor& x, const Node& node)
{
    if (x.rank() != 4)
        fail(node, "input must be 4-D, got shape " + shapeToString(x.shape()));
    return {x.dim(0), x.dim(1), x.dim(2), x.dim(3)};
}

Kernel makeDepthToSpace(const KernelContext& ctx)
{
    const I64 b = ctx.node.attrInt("blocksize", 0);
    if (b < 1)
        ctx.invalid("blocksize must be positive");
    const std::string mode = ctx.opset >= 11 ? ctx.node.attrString("mode", "DCR") : "DCR";
    if (mode != "DCR" && mode != "CRD")
        ctx.invalid("unknown mode '" + mode + "'");
    const bool crd = mode == "CRD";
    return [b, crd](KernelArgs& a) {
        const Tensor& x = a.input(0);
        const auto [n, c, h, w] = nchw(x, a.node());
        if (c % (b * b) != 0)
            fail(a.node(), "channels " + std::to_string(c) + " are not a multiple of blocksize squared");
        const I64 c2 = c / (b * b);
        // DCR: [N, b, b, C', H, W] -> [N, C', H, b, W, b]; CRD: [N, C', b, b, H, W] -> same.
        if (crd)
            permutedCopy(x, a.output(0), {n, c2, b, b, h, w}, {0, 1, 4, 2, 5, 3}, {n, c2, h * b, w * b}, a.node());
        else
            permutedCopy(x, a.output(0), {n, b, b, c2, h, w}, {0, 3, 4, 1, 5, 2}, {n, c2, h * b, w * b}, a.node());
    };
}

Kernel makeSpaceToDepth(const KernelContext& ctx)
{
    const I64 b = ctx.node.attrInt("blocksize", 0);
    if (b < 1)
        ctx.invalid("blocksize must be positive");
    return [b](KernelArgs& a) {
        const Tensor& x = a.input(0);
        const auto [n, c, h, w] = nchw(x, a.node());
        if (h % b != 0 || w % b != 0)
            fail(a.node(), "spatial size " + shapeToString(x.shape()) + " is not a multiple of the blocksize");
        // [N, C, H', b, W', b] -> [N, b, b, C, H', W']
        permutedCopy(x, a.output(0), {n, c, h / b, b, w / b, b}, {0, 3, 5, 1, 2, 4}, {n, c * b * b, h / b, w / b},
                     a.node());
    };
}

} // namespace

void registerShapeOps(OpRegistry& r)
{
    r.add("Shape", 1, makeShape);
    r.add("Size", 1, makeSize);
    r.add("Reshape", 1, makeReshape);
    r.add("Flatten", 1, makeFlatten);
    r.add("Squeeze", 1, makeSqueeze);
    r.add("Unsqueeze", 1, makeUnsqueeze);
    r.add("Transpose", 1, makeTranspose);
    r.add("Concat", 1, makeConcat);
    r.add("Split", 1, makeSplit);
    r.add("Slice", 1, makeSlice);
    r.add("Expand", 8, makeExpand);
    r.add("Tile", 6, makeTile);
    r.add("Identity", 1, makeIdentity);
    r.add("Dropout", 1, makeDropout);
    r.add("ConstantOfShape", 9, makeConstantOfShape);
    r.add("Range", 11, makeRange);
    r.add("EyeLike", 9, makeEyeLike);
    r.add("Constant", 1, makeConstant);
    r.add("DepthToSpace", 1, makeDepthToSpace);
    r.add("SpaceToDepth", 1, makeSpaceToDepth);
}

} // namespace leger
