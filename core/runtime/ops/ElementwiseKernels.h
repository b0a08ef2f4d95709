#pragma once
// Loops shared by the elementwise and activation kernels: dtype dispatch that includes the
// 16-bit floats (computed in float and rounded once per result, as numpy does), and row loops
// over contiguous or numpy-broadcast operands.
//
// The row loops compute blocks of kBlock results into a local array before storing them: GCC
// at -O2 (its "very cheap" vectorizer cost model) only vectorizes loops whose trip count is a
// known multiple of the vector width and that need no runtime alias check, and the local block
// gives it both. It also makes in-place use (out == a, for variadic accumulation) safe.

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>

#include "runtime/ops/OpUtil.h"

namespace leger::ops {

// ---------------------------------------------------------------------------------------------
// Compute types

template <class T> inline constexpr bool kIsHalfLike = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

/// The type an element is computed in: float for the 16-bit floats, the type itself otherwise.
template <class T> using Compute = std::conditional_t<kIsHalfLike<T>, float, T>;

template <class T> inline Compute<T> load(T v)
{
    if constexpr (kIsHalfLike<T>)
        return v.toFloat();
    else
        return v;
}

template <class T, class C> inline T store(C v)
{
    if constexpr (kIsHalfLike<T>)
        return T::fromFloat(static_cast<float>(v));
    else
        return static_cast<T>(v);
}

// ---------------------------------------------------------------------------------------------
// Integer arithmetic: signed overflow is undefined in C++ but wraps in every ONNX runtime, so
// integer arithmetic goes through an unsigned type at least as wide as unsigned int (narrower
// types would promote to signed int, where uint16 * uint16 can overflow).

template <class C>
using WideUnsigned = std::conditional_t<(sizeof(C) < sizeof(unsigned)), unsigned, std::make_unsigned_t<C>>;

template <class C> C wrapAdd(C a, C b)
{
    using U = WideUnsigned<C>;
    return static_cast<C>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
}
template <class C> C wrapSub(C a, C b)
{
    using U = WideUnsigned<C>;
    return static_cast<C>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
}
template <class C> C wrapMul(C a, C b)
{
    using U = WideUnsigned<C>;
    return static_cast<C>(static_cast<U>(static_cast<U>(a) * static_cast<U>(b)));
}
template <class C> C wrapNeg(C a)
{
    using U = WideUnsigned<C>;
    return static_cast<C>(static_cast<U>(U{0} - static_cast<U>(a)));
}

// ---------------------------------------------------------------------------------------------
// Dispatch. Each is a functor type so that kernels can take the type set as a template argument.

/// float, double, float16, bfloat16.
struct FloatingTypes {
    template <class F> decltype(auto) operator()(DType dtype, F&& f, const Node& node) const
    {
        switch (dtype) {
        case DType::Float16: return f(Half{});
        case DType::BFloat16: return f(BFloat16{});
        default: return dispatchFloat(dtype, std::forward<F>(f), node);
        }
    }
};

/// Every numeric type, 16-bit floats included.
struct ArithmeticTypes {
    template <class F> decltype(auto) operator()(DType dtype, F&& f, const Node& node) const
    {
        switch (dtype) {
        case DType::Float16: return f(Half{});
        case DType::BFloat16: return f(BFloat16{});
        default: return dispatchNumeric(dtype, std::forward<F>(f), node);
        }
    }
};

/// Floating types and signed integers (ops that are meaningless on unsigned types).
struct SignedTypes {
    template <class F> decltype(auto) operator()(DType dtype, F&& f, const Node& node) const
    {
        switch (dtype) {
        case DType::Int8: return f(std::int8_t{});
        case DType::Int16: return f(std::int16_t{});
        case DType::Int32: return f(std::int32_t{});
        case DType::Int64: return f(std::int64_t{});
        default: return FloatingTypes{}(dtype, std::forward<F>(f), node);
        }
    }
};

/// Every numeric type and bool (Equal).
struct ArithmeticOrBoolTypes {
    template <class F> decltype(auto) operator()(DType dtype, F&& f, const Node& node) const
    {
        if (dtype == DType::Bool)
            return f(bool{});
        return ArithmeticTypes{}(dtype, std::forward<F>(f), node);
    }
};

struct BoolType {
    template <class F> decltype(auto) operator()(DType dtype, F&& f, const Node& node) const
    {
        if (dtype != DType::Bool)
            throw UnsupportedError(node.describe() + ": element type " + std::string(dtypeName(dtype)) +
                                   " is not supported");
        return f(bool{});
    }
};

/// Unsigned integers (BitShift).
struct UnsignedTypes {
    template <class F> decltype(auto) operator()(DType dtype, F&& f, const Node& node) const
    {
        switch (dtype) {
        case DType::UInt8: return f(std::uint8_t{});
        case DType::UInt16: return f(std::uint16_t{});
        case DType::UInt32: return f(std::uint32_t{});
        case DType::UInt64: return f(std::uint64_t{});
        default:
            throw UnsupportedError(node.describe() + ": element type " + std::string(dtypeName(dtype)) +
                                   " is not supported");
        }
    }
};

// ---------------------------------------------------------------------------------------------
// Row loops

inline constexpr std::int64_t kBlock = 16;

/// r[i] = op(x[i]).
template <class T, class R, class Op> inline void unaryRow(const T* x, R* r, std::int64_t n, const Op& op)
{
    std::int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock) {
        R t[kBlock];
        for (std::int64_t j = 0; j < kBlock; ++j)
            t[j] = store<R>(op(load(x[i + j])));
        for (std::int64_t j = 0; j < kBlock; ++j)
            r[i + j] = t[j];
    }
    for (; i < n; ++i)
        r[i] = store<R>(op(load(x[i])));
}

/// Ops with a faster whole-array float path (transcendentals through Eigen's vectorized
/// functions) provide bulk(const float*, float*, n).
template <class Op>
concept HasBulk = requires(const Op& op, const float* x, float* y, std::int64_t n) { op.bulk(x, y, n); };

template <class T, class R, class Op> inline void unaryApply(const T* x, R* r, std::int64_t n, const Op& op)
{
    if constexpr (std::is_same_v<T, float> && std::is_same_v<R, float> && HasBulk<Op>)
        op.bulk(x, r, n);
    else
        unaryRow(x, r, n, op);
}

/// r[i] = op(a[i], b[i]).
template <class TA, class TB, class R, class Op>
inline void binaryRowVV(const TA* a, const TB* b, R* r, std::int64_t n, const Op& op)
{
    std::int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock) {
        R t[kBlock];
        for (std::int64_t j = 0; j < kBlock; ++j)
            t[j] = store<R>(op(load(a[i + j]), load(b[i + j])));
        for (std::int64_t j = 0; j < kBlock; ++j)
            r[i + j] = t[j];
    }
    for (; i < n; ++i)
        r[i] = store<R>(op(load(a[i]), load(b[i])));
}

/// r[i] = op(a[i], b).
template <class TA, class CB, class R, class Op>
inline void binaryRowVS(const TA* a, CB b, R* r, std::int64_t n, const Op& op)
{
    std::int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock) {
        R t[kBlock];
        for (std::int64_t j = 0; j < kBlock; ++j)
            t[j] = store<R>(op(load(a[i + j]), b));
        for (std::int64_t j = 0; j < kBlock; ++j)
            r[i + j] = t[j];
    }
    for (; i < n; ++i)
        r[i] = store<R>(op(load(a[i]), b));
}

/// r[i] = op(a, b[i]).
template <class CA, class TB, class R, class Op>
inline void binaryRowSV(CA a, const TB* b, R* r, std::int64_t n, const Op& op)
{
    std::int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock) {
        R t[kBlock];
        for (std::int64_t j = 0; j < kBlock; ++j)
            t[j] = store<R>(op(a, load(b[i + j])));
        for (std::int64_t j = 0; j < kBlock; ++j)
            r[i + j] = t[j];
    }
    for (; i < n; ++i)
        r[i] = store<R>(op(a, load(b[i])));
}

// ---------------------------------------------------------------------------------------------
// Whole-array float math through Eigen's vectorized functions (2-8x faster than the libm calls,
// within a few ulp). In-place use (x == y) is fine: they are coefficient-wise.

namespace eigen {
using ConstArray = Eigen::Map<const Eigen::ArrayXf>;
using Array = Eigen::Map<Eigen::ArrayXf>;
} // namespace eigen

/// exp(x) with results below FLT_MIN flushed to 0: Eigen's exp bottoms out at a tiny denormal
/// instead of reaching 0 (exp(-inf) in a masked softmax must be exactly 0).
inline void expFloat(const float* x, float* y, std::int64_t n)
{
    const eigen::ConstArray xs(x, n);
    eigen::Array ys(y, n);
    ys = (xs < -87.33654f).select(0.0f, xs.exp());
}

inline void tanhFloat(const float* x, float* y, std::int64_t n)
{
    eigen::Array(y, n) = eigen::ConstArray(x, n).tanh();
}

/// 1 / (1 + exp(-x)); exp overflows to inf for very negative x, giving exactly 0.
inline void sigmoidFloat(const float* x, float* y, std::int64_t n)
{
    eigen::Array(y, n) = (1.0f + (-eigen::ConstArray(x, n)).exp()).inverse();
}

inline void erfFloat(const float* x, float* y, std::int64_t n)
{
    eigen::Array(y, n) = eigen::ConstArray(x, n).erf();
}

inline void sqrtFloat(const float* x, float* y, std::int64_t n)
{
    eigen::Array(y, n) = eigen::ConstArray(x, n).sqrt();
}

// ---------------------------------------------------------------------------------------------
// Broadcasting

/// Drops size-1 axes and merges adjacent axes that every operand walks contiguously, so the
/// innermost row is as long as possible (e.g. [N,C,H,W] + [1,C,1,1] becomes rows of H*W).
template <std::size_t N> void coalesceAxes(Shape& shape, std::array<std::vector<std::int64_t>, N>& strides)
{
    Shape outShape;
    std::array<std::vector<std::int64_t>, N> outStrides;
    for (std::size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 1)
            continue;
        bool merge = !outShape.empty();
        for (std::size_t k = 0; k < N && merge; ++k)
            merge = outStrides[k].back() == strides[k][d] * shape[d];
        if (merge) {
            outShape.back() *= shape[d];
            for (std::size_t k = 0; k < N; ++k)
                outStrides[k].back() = strides[k][d];
        } else {
            outShape.push_back(shape[d]);
            for (std::size_t k = 0; k < N; ++k)
                outStrides[k].push_back(strides[k][d]);
        }
    }
    shape = std::move(outShape);
    strides = std::move(outStrides);
}

/// r = op(a, b) with a and b numpy-broadcast to outShape (which may be larger than their
/// own broadcast, as in variadic ops). r may be a when a has outShape.
template <class TA, class TB, class R, class Op>
void binaryBroadcast(const TA* a, const Shape& aShape, const TB* b, const Shape& bShape, R* r, const Shape& outShape,
                     const Op& op)
{
    const std::int64_t n = elementCount(outShape);
    if (n == 0)
        return;
    const std::int64_t na = elementCount(aShape), nb = elementCount(bShape);
    // An operand with as many elements as the output is laid out like it.
    if (na == n && nb == n)
        return binaryRowVV(a, b, r, n, op);
    if (na == n && nb == 1)
        return binaryRowVS(a, load(b[0]), r, n, op);
    if (na == 1 && nb == n)
        return binaryRowSV(load(a[0]), b, r, n, op);
    Shape shape = outShape;
    std::array<std::vector<std::int64_t>, 2> strides{broadcastStrides(aShape, outShape),
                                                     broadcastStrides(bShape, outShape)};
    coalesceAxes(shape, strides);
    forEachBroadcastRow(shape, strides,
                        [&](std::int64_t o, const std::array<std::int64_t, 2>& off, std::int64_t count,
                            const std::array<std::int64_t, 2>& inner) {
                            // The innermost stride of an operand is 1, or 0 where it is broadcast.
                            const TA* pa = a + off[0];
                            const TB* pb = b + off[1];
                            if (inner[0] && inner[1])
                                binaryRowVV(pa, pb, r + o, count, op);
                            else if (inner[0])
                                binaryRowVS(pa, load(*pb), r + o, count, op);
                            else if (inner[1])
                                binaryRowSV(load(*pa), pb, r + o, count, op);
                            else
                                std::fill(r + o, r + o + count, store<R>(op(load(*pa), load(*pb))));
                        });
}

/// Legacy broadcasting of the binary ops before opset 7: B broadcasts to A's shape only when
/// the `broadcast` attribute is set, aligned to the trailing axes or to `axis`.
struct LegacyBroadcast {
    bool legacy = false;
    bool broadcast = false;
    bool hasAxis = false;
    std::int64_t axis = 0;

    static LegacyBroadcast of(const KernelContext& ctx)
    {
        LegacyBroadcast lb;
        lb.legacy = ctx.opset < 7;
        lb.broadcast = ctx.node.attrInt("broadcast", 0) != 0;
        lb.hasAxis = ctx.node.has("axis");
        lb.axis = ctx.node.attrInt("axis", 0);
        return lb;
    }
};

struct BinaryShapes {
    Shape a, b, out;
};

/// The shapes to read a and b with, and the output shape; throws naming the node on mismatch.
inline BinaryShapes binaryShapes(const Node& node, const Shape& a, const Shape& b, const LegacyBroadcast& lb)
{
    if (!lb.legacy)
        return {a, b, broadcastShapes(a, b, node)};
    if (!lb.broadcast) {
        if (a != b)
            throw Error(node.describe() + ": shapes " + shapeToString(a) + " and " + shapeToString(b) +
                        " differ and the broadcast attribute is not set");
        return {a, b, a};
    }
    Shape bb = b;
    if (lb.hasAxis) {
        const int rank = static_cast<int>(a.size());
        const int axis = normalizeAxis(lb.axis, rank, node);
        if (axis + static_cast<int>(b.size()) > rank)
            throw Error(node.describe() + ": cannot broadcast " + shapeToString(b) + " to " + shapeToString(a) +
                        " from axis " + std::to_string(axis));
        bb.resize(a.size() - static_cast<std::size_t>(axis), 1); // trailing 1s align B at axis
    }
    const Shape out = broadcastShapes(a, bb, node);
    if (out != a)
        throw Error(node.describe() + ": cannot broadcast " + shapeToString(b) + " to " + shapeToString(a));
    return {a, bb, out};
}

/// Kernel of a binary op whose inputs share one type from Types; the result has that type, or
/// bool when BoolResult. Legacy broadcast attributes apply before opset 7 when legacyAttrs.
template <class Types, bool BoolResult, class Op>
Kernel binaryKernel(const KernelContext& ctx, Op op, bool legacyAttrs = true)
{
    LegacyBroadcast lb;
    if (legacyAttrs)
        lb = LegacyBroadcast::of(ctx);
    return [op, lb](KernelArgs& args) {
        const Tensor& a = args.input(0);
        const Tensor& b = args.input(1);
        const Node& node = args.node();
        if (a.dtype() != b.dtype())
            throw Error(node.describe() + ": inputs have different types (" + std::string(dtypeName(a.dtype())) +
                        " and " + std::string(dtypeName(b.dtype())) + ")");
        const BinaryShapes s = binaryShapes(node, a.shape(), b.shape(), lb);
        Tensor& out = args.output(0);
        Types{}(
            a.dtype(),
            [&](auto tag) {
                using T = decltype(tag);
                using R = std::conditional_t<BoolResult, bool, T>;
                out.resize(dtypeOf<R>(), s.out);
                binaryBroadcast(a.data<T>(), s.a, b.data<T>(), s.b, out.data<R>(), s.out, op);
            },
            node);
    };
}

/// Kernel of a unary op on Types; the result has the input's type, or bool when BoolResult.
template <class Types, bool BoolResult, class Op> Kernel unaryKernel(Op op)
{
    return [op](KernelArgs& args) {
        const Tensor& x = args.input(0);
        Tensor& y = args.output(0);
        Types{}(
            x.dtype(),
            [&](auto tag) {
                using T = decltype(tag);
                using R = std::conditional_t<BoolResult, bool, T>;
                y.resize(dtypeOf<R>(), x.shape());
                unaryApply(x.data<T>(), y.data<R>(), x.size(), op);
            },
            args.node());
    };
}

} // namespace leger::ops
