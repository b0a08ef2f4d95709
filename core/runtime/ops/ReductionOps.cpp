// Reductions: ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare, ArgMax, ArgMin,
// TopK, CumSum.
#include <algorithm>
#include <cmath>
#include <limits>
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

template <class T> constexpr bool kIsFloat =
    std::is_floating_point_v<T> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

/// Calls f(T{}) for every numeric type, 16-bit floats included (bool is handled apart).
template <class F> void dispatchReduce(DType dtype, const Node& node, F&& f)
{
    switch (dtype) {
    case DType::Float16: f(Half{}); break;
    case DType::BFloat16: f(BFloat16{}); break;
    default: dispatchNumeric(dtype, std::forward<F>(f), node);
    }
}

template <class T> inline bool isNaN(T v)
{
    if constexpr (kIsFloat<T>)
        return std::isnan(static_cast<double>(toArith(v)));
    else
        return false;
}

// ---------------------------------------------------------------------------------------------
// Reduce*

enum class RKind { Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare };

/// Sums of floats accumulate in double; integers in 64 bits (wrapping back on output).
template <class T> struct SumAcc {
    using type = std::conditional_t<kIsFloat<T>, double, std::conditional_t<std::is_signed_v<T>, I64, std::uint64_t>>;
};

/// The input viewed as alternating runs of reduced and kept axes (unit axes dropped).
struct ReducePlan {
    std::vector<I64> dims;
    std::vector<bool> reduced;
    I64 outSize = 1;
    I64 count = 1; // input elements per output element
};

ReducePlan makePlan(const Shape& shape, const std::vector<bool>& reduced)
{
    ReducePlan p;
    for (std::size_t d = 0; d < shape.size(); ++d) {
        if (reduced[d])
            p.count *= shape[d];
        else
            p.outSize *= shape[d];
        if (shape[d] == 1)
            continue;
        if (!p.dims.empty() && p.reduced.back() == reduced[d]) {
            p.dims.back() *= shape[d];
            continue;
        }
        p.dims.push_back(shape[d]);
        p.reduced.push_back(reduced[d]);
    }
    return p;
}

/// Visits the input once in memory order. A run along a reduced innermost axis goes to
/// row(acc[o], x, n, o); a run along a kept innermost axis to vec(acc + o, x, n, o).
template <class T, class Acc, class Row, class Vec>
void accumulate(const T* in, Acc* acc, const ReducePlan& p, Row&& row, Vec&& vec)
{
    const int k = static_cast<int>(p.dims.size());
    if (p.outSize == 0 || p.count == 0)
        return;
    if (k == 0) {
        row(acc[0], in, I64{1}, I64{0});
        return;
    }
    std::vector<I64> outStride(static_cast<std::size_t>(k));
    I64 s = 1;
    for (int i = k - 1; i >= 0; --i) {
        const auto iu = static_cast<std::size_t>(i);
        outStride[iu] = p.reduced[iu] ? 0 : s;
        if (!p.reduced[iu])
            s *= p.dims[iu];
    }
    const I64 inner = p.dims.back();
    const bool innerReduced = p.reduced.back();
    I64 rows = 1;
    for (int i = 0; i < k - 1; ++i)
        rows *= p.dims[static_cast<std::size_t>(i)];
    std::vector<I64> idx(static_cast<std::size_t>(k), 0);
    I64 outOff = 0;
    for (I64 r = 0; r < rows; ++r) {
        const T* x = in + r * inner;
        if (innerReduced)
            row(acc[outOff], x, inner, outOff);
        else
            vec(acc + outOff, x, inner, outOff);
        for (int d = k - 2; d >= 0; --d) {
            const auto du = static_cast<std::size_t>(d);
            outOff += outStride[du];
            if (++idx[du] < p.dims[du])
                break;
            outOff -= outStride[du] * p.dims[du];
            idx[du] = 0;
        }
    }
}

/// Sum of f(x[j]) over a contiguous run: eight independent lanes of type L (which the
/// compiler vectorises) over blocks of 4096, the block sums added in S so that long float
/// runs stay accurate.
template <class L, class S, class T, class F> inline S laneSum(const T* x, I64 n, F&& f)
{
    S total{};
    for (I64 b0 = 0; b0 < n; b0 += 4096) {
        const I64 b1 = std::min(n, b0 + 4096);
        L s[8] = {};
        I64 j = b0;
        for (; j + 8 <= b1; j += 8)
            for (int u = 0; u < 8; ++u)
                s[u] += f(x[j + u]);
        L t{};
        for (; j < b1; ++j)
            t += f(x[j]);
        total += static_cast<S>(((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + t);
    }
    return total;
}

template <class A> inline bool nanValue(A v)
{
    if constexpr (std::is_floating_point_v<A>)
        return std::isnan(v);
    else
        return false;
}

/// Max (or min) of a contiguous run into a; NaN propagates, as numpy's max and min do.
/// Written as a select plus a NaN flag, which compiles without branches.
template <bool IsMax, class A, class T> inline void extremeRow(A& a, const T* x, I64 n)
{
    A m = a;
    bool nan = nanValue(m);
    for (I64 j = 0; j < n; ++j) {
        const A y = toArith(x[j]);
        m = (IsMax ? y > m : y < m) ? y : m;
        nan |= nanValue(y);
    }
    if constexpr (std::is_floating_point_v<A>)
        a = nan ? std::numeric_limits<A>::quiet_NaN() : m;
    else
        a = m;
}

template <bool IsMax, class A, class T> inline void extremeVec(A* a, const T* x, I64 n)
{
    for (I64 j = 0; j < n; ++j) {
        const A y = toArith(x[j]);
        a[j] = ((IsMax ? y > a[j] : y < a[j]) || nanValue(y)) ? y : a[j];
    }
}

template <class T, class A> inline T castOut(A v)
{
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
        return T::fromFloat(static_cast<float>(v));
    else
        return static_cast<T>(v);
}

template <bool IsMax, class T> std::vector<typename ArithOf<T>::type> extremes(const T* in, const ReducePlan& p)
{
    using A = typename ArithOf<T>::type;
    A init;
    if constexpr (std::is_floating_point_v<A>)
        init = IsMax ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::infinity();
    else
        init = IsMax ? std::numeric_limits<A>::lowest() : std::numeric_limits<A>::max();
    std::vector<A> acc(static_cast<std::size_t>(p.outSize), init);
    accumulate(
        in, acc.data(), p, [](A& a, const T* x, I64 n, I64) { extremeRow<IsMax>(a, x, n); },
        [](A* a, const T* x, I64 n, I64) { extremeVec<IsMax>(a, x, n); });
    return acc;
}

template <class T> void reduceTyped(RKind kind, const Tensor& x, Tensor& out, const ReducePlan& p)
{
    const T* in = x.data<T>();
    T* o = out.data<T>();
    const I64 n = p.outSize;
    using S = typename SumAcc<T>::type;
    // Lanes of float sums stay in float (double for double) for speed; laneSum bounds the error.
    using L = std::conditional_t<kIsFloat<T>, std::conditional_t<std::is_same_v<T, double>, double, float>, S>;
    auto sumLike = [&](auto elem, auto post) {
        std::vector<S> acc(static_cast<std::size_t>(n), S{});
        accumulate(
            in, acc.data(), p, [&](S& a, const T* v, I64 len, I64) { a += laneSum<L, S>(v, len, elem); },
            [&](S* a, const T* v, I64 len, I64) {
                for (I64 j = 0; j < len; ++j)
                    a[j] += static_cast<S>(elem(v[j]));
            });
        for (I64 i = 0; i < n; ++i)
            o[i] = post(acc[static_cast<std::size_t>(i)]);
    };
    auto asL = [](T v) { return static_cast<L>(toArith(v)); };
    auto square = [](T v) {
        const auto y = static_cast<L>(toArith(v));
        return static_cast<L>(y * y);
    };
    auto plain = [](S a) { return castOut<T>(a); };
    const auto cnt = static_cast<S>(p.count);
    switch (kind) {
    case RKind::Sum: sumLike(asL, plain); break;
    case RKind::Mean:
        // An empty mean is NaN for floats; integers give 0 rather than divide by zero.
        sumLike(asL, [&](S a) { return castOut<T>(p.count == 0 && !kIsFloat<T> ? S{} : a / cnt); });
        break;
    case RKind::SumSquare: sumLike(square, plain); break;
    case RKind::L1:
        sumLike(
            [](T v) {
                const auto y = static_cast<L>(toArith(v));
                if constexpr (std::is_unsigned_v<L>)
                    return y;
                else
                    return y < 0 ? static_cast<L>(-y) : y;
            },
            plain);
        break;
    case RKind::L2: sumLike(square, [](S a) { return castOut<T>(std::sqrt(static_cast<double>(a))); }); break;
    case RKind::LogSum: sumLike(asL, [](S a) { return castOut<T>(std::log(static_cast<double>(a))); }); break;
    case RKind::Prod: {
        std::vector<S> acc(static_cast<std::size_t>(n), S{1});
        accumulate(
            in, acc.data(), p,
            [](S& a, const T* v, I64 len, I64) {
                for (I64 j = 0; j < len; ++j)
                    a *= static_cast<S>(toArith(v[j]));
            },
            [](S* a, const T* v, I64 len, I64) {
                for (I64 j = 0; j < len; ++j)
                    a[j] *= static_cast<S>(toArith(v[j]));
            });
        for (I64 i = 0; i < n; ++i)
            o[i] = castOut<T>(acc[static_cast<std::size_t>(i)]);
        break;
    }
    case RKind::Max:
    case RKind::Min: {
        const auto acc = kind == RKind::Max ? extremes<true>(in, p) : extremes<false>(in, p);
        for (I64 i = 0; i < n; ++i)
            o[i] = fromArith<T>(acc[static_cast<std::size_t>(i)]);
        break;
    }
    case RKind::LogSumExp: {
        // log(sum(exp(x - m))) + m with m the maximum, so that large inputs do not overflow.
        const auto mx = extremes<true>(in, p);
        std::vector<double> m(mx.begin(), mx.end());
        for (double& v : m)
            if (std::isinf(v))
                v = 0;
        std::vector<double> acc(static_cast<std::size_t>(n), 0.0);
        const double* mp = m.data();
        accumulate(
            in, acc.data(), p,
            [mp](double& a, const T* v, I64 len, I64 i) {
                for (I64 j = 0; j < len; ++j)
                    a += std::exp(static_cast<double>(toArith(v[j])) - mp[i]);
            },
            [mp](double* a, const T* v, I64 len, I64 i) {
                for (I64 j = 0; j < len; ++j)
                    a[j] += std::exp(static_cast<double>(toArith(v[j])) - mp[i + j]);
            });
        for (I64 i = 0; i < n; ++i)
            o[i] = castOut<T>(std::log(acc[static_cast<std::size_t>(i)]) + m[static_cast<std::size_t>(i)]);
        break;
    }
    }
}

Kernel makeReduce(const KernelContext& ctx, RKind kind)
{
    const int axesInputSince = kind == RKind::Sum ? 13 : 18;
    const bool axesInput = ctx.opset >= axesInputSince;
    const bool keepDims = ctx.node.attrInt("keepdims", 1) != 0;
    const bool noop = axesInput && ctx.node.attrInt("noop_with_empty_axes", 0) != 0;
    const std::vector<I64> attrAxes = axesInput ? std::vector<I64>{} : ctx.node.attrInts("axes");
    return [kind, axesInput, keepDims, noop, attrAxes](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& x = a.input(0);
        std::vector<I64> axes = attrAxes;
        if (axesInput && a.hasInput(1)) {
            const Tensor& t = a.input(1);
            if (t.dtype() != DType::Int64 && t.dtype() != DType::Int32)
                fail(node, "axes must be int64");
            axes = int64Values(t);
        }
        Tensor& out = a.output(0);
        if (axes.empty() && noop) {
            // No reduction; the reference still squares for ReduceSumSquare.
            if (kind != RKind::SumSquare) {
                copyReshaped(x, out, x.shape());
                return;
            }
            out.resize(x.dtype(), x.shape());
            dispatchReduce(x.dtype(), node, [&]<class T>(T) {
                for (I64 i = 0; i < x.size(); ++i) {
                    const auto v = toArith(x.data<T>()[i]);
                    out.data<T>()[i] = fromArith<T>(static_cast<typename ArithOf<T>::type>(v * v));
                }
            });
            return;
        }
        const int r = x.rank();
        std::vector<bool> reduced(static_cast<std::size_t>(r), axes.empty());
        for (I64 axis : axes)
            reduced[static_cast<std::size_t>(normalizeAxis(axis, r, node))] = true;
        Shape outShape;
        for (int d = 0; d < r; ++d) {
            const auto du = static_cast<std::size_t>(d);
            if (!reduced[du])
                outShape.push_back(x.shape()[du]);
            else if (keepDims)
                outShape.push_back(1);
        }
        const ReducePlan plan = makePlan(x.shape(), reduced);
        out.resize(x.dtype(), std::move(outShape));
        if (x.dtype() == DType::Bool) {
            if (kind != RKind::Max && kind != RKind::Min)
                throw UnsupportedError(node.describe() + ": element type bool is not supported");
            // Max is any, Min is all.
            std::vector<std::uint8_t> acc(static_cast<std::size_t>(plan.outSize), kind == RKind::Min);
            const auto* in = reinterpret_cast<const std::uint8_t*>(x.raw());
            using U8 = std::uint8_t;
            if (kind == RKind::Max)
                accumulate(
                    in, acc.data(), plan,
                    [](U8& s, const U8* v, I64 len, I64) {
                        for (I64 j = 0; j < len; ++j)
                            s |= v[j];
                    },
                    [](U8* s, const U8* v, I64 len, I64) {
                        for (I64 j = 0; j < len; ++j)
                            s[j] |= v[j];
                    });
            else
                accumulate(
                    in, acc.data(), plan,
                    [](U8& s, const U8* v, I64 len, I64) {
                        for (I64 j = 0; j < len; ++j)
                            s &= v[j];
                    },
                    [](U8* s, const U8* v, I64 len, I64) {
                        for (I64 j = 0; j < len; ++j)
                            s[j] &= v[j];
                    });
            for (I64 i = 0; i < plan.outSize; ++i)
                out.data<bool>()[i] = acc[static_cast<std::size_t>(i)] != 0;
            return;
        }
        dispatchReduce(x.dtype(), node, [&]<class T>(T) { reduceTyped<T>(kind, x, out, plan); });
    };
}

// ---------------------------------------------------------------------------------------------
// ArgMax / ArgMin

template <bool IsMax, bool Last, class A> inline bool argBetter(A v, A best)
{
    if constexpr (std::is_floating_point_v<A>) {
        // NaN wins, as in numpy (the first NaN, or the last with select_last_index).
        if (std::isnan(v))
            return Last || !std::isnan(best);
        if (std::isnan(best))
            return false;
    }
    if constexpr (IsMax)
        return Last ? v >= best : v > best;
    else
        return Last ? v <= best : v < best;
}

template <class T, bool IsMax, bool Last>
void argReduce(const T* in, I64* out, I64 outer, I64 dim, I64 inner)
{
    using A = typename ArithOf<T>::type;
    if (inner == 1) {
        // Contiguous rows: find the extreme value without branches, then its first (last) index.
        for (I64 o = 0; o < outer; ++o) {
            const T* row = in + o * dim;
            A m = toArith(row[0]);
            extremeRow<IsMax>(m, row, dim);
            const bool nan = nanValue(m);
            auto match = [&](I64 j) {
                const A y = toArith(row[j]);
                return nan ? nanValue(y) : y == m;
            };
            I64 found = 0;
            if constexpr (Last) {
                for (found = dim - 1; found > 0 && !match(found); --found) {
                }
            } else {
                while (found < dim - 1 && !match(found))
                    ++found;
            }
            out[o] = found;
        }
        return;
    }
    std::vector<A> best(static_cast<std::size_t>(inner));
    for (I64 o = 0; o < outer; ++o) {
        const T* base = in + o * dim * inner;
        I64* res = out + o * inner;
        for (I64 i = 0; i < inner; ++i) {
            best[static_cast<std::size_t>(i)] = toArith(base[i]);
            res[i] = 0;
        }
        for (I64 j = 1; j < dim; ++j) {
            const T* row = base + j * inner;
            for (I64 i = 0; i < inner; ++i) {
                const A v = toArith(row[i]);
                if (argBetter<IsMax, Last>(v, best[static_cast<std::size_t>(i)])) {
                    best[static_cast<std::size_t>(i)] = v;
                    res[i] = j;
                }
            }
        }
    }
}

Kernel makeArg(const KernelContext& ctx, bool isMax)
{
    const I64 axisAttr = ctx.node.attrInt("axis", 0);
    const bool keepDims = ctx.node.attrInt("keepdims", 1) != 0;
    const bool last = ctx.opset >= 12 && ctx.node.attrInt("select_last_index", 0) != 0;
    return [axisAttr, keepDims, last, isMax](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& x = a.input(0);
        if (x.rank() == 0)
            fail(node, "input must have rank 1 or more");
        const auto axis = static_cast<std::size_t>(normalizeAxis(axisAttr, x.rank(), node));
        const I64 dim = x.shape()[axis];
        Shape outShape = x.shape();
        if (keepDims)
            outShape[axis] = 1;
        else
            outShape.erase(outShape.begin() + static_cast<std::ptrdiff_t>(axis));
        I64 outer = 1, inner = 1;
        for (std::size_t d = 0; d < axis; ++d)
            outer *= x.shape()[d];
        for (std::size_t d = axis + 1; d < x.shape().size(); ++d)
            inner *= x.shape()[d];
        Tensor& out = a.output(0);
        out.resize(DType::Int64, std::move(outShape));
        if (out.size() == 0)
            return;
        if (dim == 0)
            fail(node, "cannot take the arg" + std::string(isMax ? "max" : "min") + " of an empty axis");
        dispatchReduce(x.dtype(), node, [&]<class T>(T) {
            const T* in = x.data<T>();
            I64* o = out.data<I64>();
            if (isMax)
                last ? argReduce<T, true, true>(in, o, outer, dim, inner) : argReduce<T, true, false>(in, o, outer, dim, inner);
            else
                last ? argReduce<T, false, true>(in, o, outer, dim, inner) : argReduce<T, false, false>(in, o, outer, dim, inner);
        });
    };
}

// ---------------------------------------------------------------------------------------------
// TopK

Kernel makeTopK(const KernelContext& ctx)
{
    const I64 axisAttr = ctx.node.attrInt("axis", -1);
    const bool kInput = ctx.opset >= 10;
    const I64 kAttr = ctx.node.attrInt("k", -1);
    if (!kInput && kAttr < 0)
        ctx.invalid("the k attribute is missing");
    const bool largest = ctx.opset < 11 || ctx.node.attrInt("largest", 1) != 0;
    return [axisAttr, kInput, kAttr, largest](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& x = a.input(0);
        if (x.rank() == 0)
            fail(node, "input must have rank 1 or more");
        I64 k = kAttr;
        if (kInput) {
            const Tensor& kt = a.input(1);
            if (kt.size() != 1)
                fail(node, "K must have one element");
            k = int64Values(kt)[0];
        }
        const auto axis = static_cast<std::size_t>(normalizeAxis(axisAttr, x.rank(), node));
        const I64 dim = x.shape()[axis];
        if (k < 0 || k > dim)
            fail(node, "k = " + std::to_string(k) + " is out of range for an axis of size " + std::to_string(dim));
        Shape outShape = x.shape();
        outShape[axis] = k;
        I64 outer = 1, inner = 1;
        for (std::size_t d = 0; d < axis; ++d)
            outer *= x.shape()[d];
        for (std::size_t d = axis + 1; d < x.shape().size(); ++d)
            inner *= x.shape()[d];
        Tensor& values = a.output(0);
        Tensor& indices = a.output(1);
        values.resize(x.dtype(), outShape);
        indices.resize(DType::Int64, outShape);
        if (values.size() == 0)
            return;
        dispatchReduce(x.dtype(), node, [&]<class T>(T) {
            using A = typename ArithOf<T>::type;
            struct Item {
                A v;
                I64 i;
            };
            // Ties keep the lower index first; NaN counts as the largest value.
            auto before = [largest](const Item& p, const Item& q) {
                const bool pn = isNaN(p.v), qn = isNaN(q.v);
                if (pn || qn) {
                    if (pn != qn)
                        return largest ? pn : qn;
                    return p.i < q.i;
                }
                if (p.v != q.v)
                    return largest ? p.v > q.v : p.v < q.v;
                return p.i < q.i;
            };
            std::vector<Item> items(static_cast<std::size_t>(dim));
            const T* in = x.data<T>();
            T* vo = values.data<T>();
            I64* io = indices.data<I64>();
            for (I64 o = 0; o < outer; ++o)
                for (I64 i = 0; i < inner; ++i) {
                    const T* base = in + o * dim * inner + i;
                    if (k <= 32) {
                        // Small k: keep the best k in order, inserting the rare newcomer.
                        I64 cnt = 0;
                        for (I64 j = 0; j < dim; ++j) {
                            const Item it{toArith(base[j * inner]), j};
                            if (cnt == k && !before(it, items[static_cast<std::size_t>(k - 1)]))
                                continue;
                            I64 pos = cnt < k ? cnt++ : k - 1;
                            for (; pos > 0 && before(it, items[static_cast<std::size_t>(pos - 1)]); --pos)
                                items[static_cast<std::size_t>(pos)] = items[static_cast<std::size_t>(pos - 1)];
                            items[static_cast<std::size_t>(pos)] = it;
                        }
                    } else {
                        for (I64 j = 0; j < dim; ++j)
                            items[static_cast<std::size_t>(j)] = {toArith(base[j * inner]), j};
                        std::partial_sort(items.begin(), items.begin() + k, items.end(), before);
                    }
                    const I64 outBase = o * k * inner + i;
                    for (I64 j = 0; j < k; ++j) {
                        const Item& it = items[static_cast<std::size_t>(j)];
                        vo[outBase + j * inner] = base[it.i * inner];
                        io[outBase + j * inner] = it.i;
                    }
                }
        });
    };
}

// ---------------------------------------------------------------------------------------------
// CumSum

Kernel makeCumSum(const KernelContext& ctx)
{
    const bool exclusive = ctx.node.attrInt("exclusive", 0) != 0;
    const bool reverse = ctx.node.attrInt("reverse", 0) != 0;
    return [exclusive, reverse](KernelArgs& a) {
        const Node& node = a.node();
        const Tensor& x = a.input(0);
        const Tensor& axisT = a.input(1);
        if (axisT.size() != 1 || (axisT.dtype() != DType::Int64 && axisT.dtype() != DType::Int32))
            fail(node, "axis must be an int32 or int64 scalar");
        if (x.rank() == 0)
            fail(node, "input must have rank 1 or more");
        const auto axis = static_cast<std::size_t>(normalizeAxis(int64Values(axisT)[0], x.rank(), node));
        const I64 dim = x.shape()[axis];
        I64 outer = 1, inner = 1;
        for (std::size_t d = 0; d < axis; ++d)
            outer *= x.shape()[d];
        for (std::size_t d = axis + 1; d < x.shape().size(); ++d)
            inner *= x.shape()[d];
        Tensor& out = a.output(0);
        out.resize(x.dtype(), x.shape());
        dispatchReduce(x.dtype(), node, [&]<class T>(T) {
            using A = typename ArithOf<T>::type;
            std::vector<A> acc(static_cast<std::size_t>(inner));
            const T* in = x.data<T>();
            T* o = out.data<T>();
            for (I64 b = 0; b < outer; ++b) {
                std::fill(acc.begin(), acc.end(), A{});
                for (I64 s = 0; s < dim; ++s) {
                    const I64 j = reverse ? dim - 1 - s : s;
                    const I64 off = (b * dim + j) * inner;
                    for (I64 i = 0; i < inner; ++i) {
                        A& c = acc[static_cast<std::size_t>(i)];
                        if (exclusive) {
                            o[off + i] = fromArith<T>(c);
                            c = static_cast<A>(c + toArith(in[off + i]));
                        } else {
                            c = static_cast<A>(c + toArith(in[off + i]));
                            o[off + i] = fromArith<T>(c);
                        }
                    }
                }
            }
        });
    };
}

} // namespace

void registerReductionOps(OpRegistry& r)
{
    const std::pair<const char*, RKind> reduces[] = {
        {"ReduceSum", RKind::Sum},       {"ReduceMean", RKind::Mean},     {"ReduceMax", RKind::Max},
        {"ReduceMin", RKind::Min},       {"ReduceProd", RKind::Prod},     {"ReduceL1", RKind::L1},
        {"ReduceL2", RKind::L2},         {"ReduceLogSum", RKind::LogSum}, {"ReduceLogSumExp", RKind::LogSumExp},
        {"ReduceSumSquare", RKind::SumSquare},
    };
    for (const auto& reduce : reduces)
        r.add(reduce.first, 1, [kind = reduce.second](const KernelContext& ctx) { return makeReduce(ctx, kind); });
    r.add("ArgMax", 1, [](const KernelContext& ctx) { return makeArg(ctx, true); });
    r.add("ArgMin", 1, [](const KernelContext& ctx) { return makeArg(ctx, false); });
    r.add("TopK", 1, makeTopK);
    r.add("CumSum", 11, makeCumSum);
}

} // namespace leger
