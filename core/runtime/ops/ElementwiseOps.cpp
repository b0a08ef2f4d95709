// Elementwise ops: arithmetic, comparison and logic with numpy broadcasting, variadic
// Sum/Mean/Max/Min, Where, unary math, Cast/CastLike and Clip.
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "runtime/OpRegistry.h"
#include "runtime/ops/ElementwiseKernels.h"
#include "runtime/ops/OpUtil.h"

namespace leger {

using namespace ops;

namespace {

/// base^e by squaring, wrapping like repeated multiplication; negative exponents give the
/// truncated reciprocal (0 unless |base| is 1).
template <class C, class E> C intPow(C base, E e)
{
    if constexpr (std::is_signed_v<E>) {
        if (e < 0) {
            if (base == 1)
                return 1;
            if constexpr (std::is_signed_v<C>)
                if (base == -1)
                    return (e & 1) ? C(-1) : C(1);
            return 0;
        }
    }
    using U = WideUnsigned<C>;
    auto ue = static_cast<std::make_unsigned_t<E>>(e);
    U result = 1, b = static_cast<U>(base);
    while (ue) {
        if (ue & 1u)
            result = static_cast<U>(result * b);
        b = static_cast<U>(b * b);
        ue >>= 1;
    }
    return static_cast<C>(result);
}

// ---------------------------------------------------------------------------------------------
// Conversions (Cast, and Pow with mixed types)

/// Rounds a double to nearest even in a binary format with E exponent and M mantissa bits
/// (float16: 5/10, bfloat16: 8/7), directly: going through float would round twice.
template <int E, int M> std::uint16_t roundDoubleTo16(double v)
{
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    const auto sign = static_cast<std::uint16_t>((bits >> 48) & 0x8000u);
    const int exp = static_cast<int>((bits >> 52) & 0x7ffu);
    const std::uint64_t mant = bits & ((std::uint64_t{1} << 52) - 1);
    constexpr int bias = (1 << (E - 1)) - 1;
    constexpr std::uint16_t infBits = static_cast<std::uint16_t>(((1u << E) - 1u) << M);
    if (exp == 0x7ff) // NaN stays a quiet NaN
        return static_cast<std::uint16_t>(sign | infBits | (mant ? (1u << (M - 1)) : 0u));
    if (exp == 0) // zero or a double denormal, far below the 16-bit formats' range
        return sign;
    const int e = exp - 1023;
    if (e > bias)
        return static_cast<std::uint16_t>(sign | infBits);
    std::uint64_t m;
    int shift;
    std::uint64_t h;
    if (e >= 1 - bias) { // normal: exponent field, then the top M mantissa bits
        m = mant;
        shift = 52 - M;
        h = (static_cast<std::uint64_t>(e + bias) << M) | (m >> shift);
    } else { // subnormal: the implicit 1 joins the mantissa, shifted further
        m = mant | (std::uint64_t{1} << 52);
        shift = 52 - M + (1 - bias - e);
        if (shift > 53) // below half the smallest subnormal
            return sign;
        h = m >> shift;
    }
    const std::uint64_t rem = m & ((std::uint64_t{1} << shift) - 1);
    const std::uint64_t half = std::uint64_t{1} << (shift - 1);
    if (rem > half || (rem == half && (h & 1u)))
        ++h; // a carry out of the mantissa bumps the exponent, up to infinity: still correct
    return static_cast<std::uint16_t>(sign | h);
}

/// Floating to integer: truncates toward zero. Out-of-range values are undefined in ONNX;
/// like numpy on x86 they wrap through int64 (-1.0 -> 255 as uint8), NaN gives 0.
template <class To, class From> To floatToInt(From v)
{
    constexpr From two63 = From(9223372036854775808.0);
    if (std::isnan(v))
        return To{0};
    if constexpr (std::is_same_v<To, std::uint64_t>)
        if (v >= two63)
            return v < two63 * 2 ? static_cast<To>(static_cast<std::uint64_t>(v - two63) + (std::uint64_t{1} << 63))
                                 : std::numeric_limits<std::uint64_t>::max();
    std::int64_t i;
    if (v >= two63)
        i = std::numeric_limits<std::int64_t>::max();
    else if (v < -two63)
        i = std::numeric_limits<std::int64_t>::min();
    else
        i = static_cast<std::int64_t>(v);
    return static_cast<To>(i);
}

/// An integer as a double for rounding on to 16 bits: 64-bit values beyond 2^53 are rounded
/// to odd (dropped bits stick to the last kept bit), so that the second rounding is correct.
template <class From> double intToDoubleSticky(From v)
{
    if constexpr (sizeof(From) < 8) {
        return static_cast<double>(v);
    } else {
        const bool neg = v < From(0);
        std::uint64_t mag = neg ? std::uint64_t{0} - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
        int shift = 0;
        while ((mag >> shift) >= (std::uint64_t{1} << 53))
            ++shift;
        if (shift) {
            const bool lost = (mag & ((std::uint64_t{1} << shift) - 1)) != 0;
            mag = (mag >> shift) | (lost ? 1u : 0u);
        }
        const double d = std::ldexp(static_cast<double>(mag), shift);
        return neg ? -d : d;
    }
}

template <class To, class From> To convertValue(From v)
{
    if constexpr (std::is_same_v<To, From>)
        return v;
    else if constexpr (kIsHalfLike<From>)
        return convertValue<To>(v.toFloat()); // exact
    else if constexpr (std::is_same_v<To, bool>)
        return v != From(0);
    else if constexpr (std::is_same_v<To, Half>) {
        if constexpr (std::is_same_v<From, float>)
            return Half::fromFloat(v);
        else if constexpr (std::is_integral_v<From>)
            return Half{roundDoubleTo16<5, 10>(intToDoubleSticky(v))};
        else
            return Half{roundDoubleTo16<5, 10>(static_cast<double>(v))};
    } else if constexpr (std::is_same_v<To, BFloat16>) {
        if constexpr (std::is_same_v<From, float>)
            return BFloat16::fromFloat(v);
        else if constexpr (std::is_integral_v<From>)
            return BFloat16{roundDoubleTo16<8, 7>(intToDoubleSticky(v))};
        else
            return BFloat16{roundDoubleTo16<8, 7>(static_cast<double>(v))};
    } else if constexpr (std::is_floating_point_v<To>)
        return static_cast<To>(v);
    else if constexpr (std::is_floating_point_v<From>)
        return floatToInt<To>(v);
    else
        return static_cast<To>(v); // integer to integer wraps (C++20 defines it)
}

/// Shortest text that reads back to the same value, in numpy's layout (which ONNX's reference
/// uses): positional for 1e-4 <= |v| < 1e16 with ".0" on integers, else "1.5e-05".
template <class F> std::string floatToText(F v)
{
    if (std::isnan(v))
        return "NaN";
    if (std::isinf(v))
        return v > 0 ? "INF" : "-INF";
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    const std::string sci(buf, res.ptr);
    // sci is "[-]d[.ddd]e[+-]XX"
    const std::size_t ePos = sci.find('e');
    const bool neg = sci[0] == '-';
    std::string digits;
    for (std::size_t i = neg ? 1 : 0; i < ePos; ++i)
        if (sci[i] != '.')
            digits += sci[i];
    const int exp10 = std::stoi(sci.substr(ePos + 1));
    const double a = std::abs(static_cast<double>(v)); // numpy compares in double
    std::string out = neg ? "-" : "";
    if (a == 0 || (a >= 1e-4 && a < 1e16)) {
        const int point = exp10 + 1; // digits before the decimal point
        if (point <= 0)
            out += "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
        else if (point >= static_cast<int>(digits.size()))
            out += digits + std::string(static_cast<std::size_t>(point) - digits.size(), '0') + ".0";
        else
            out += digits.substr(0, static_cast<std::size_t>(point)) + "." + digits.substr(static_cast<std::size_t>(point));
        return out;
    }
    out += digits.substr(0, 1);
    if (digits.size() > 1)
        out += "." + digits.substr(1);
    const int ae = std::abs(exp10);
    out += std::string(exp10 < 0 ? "e-" : "e+") + (ae < 10 ? "0" : "") + std::to_string(ae);
    return out;
}

template <class T> std::string toText(T v)
{
    if constexpr (std::is_floating_point_v<T>)
        return floatToText(v);
    else
        return std::to_string(v);
}

/// Parses a number with from_chars (locale-independent, unlike strtod under a Qt app that set
/// the user's locale); a leading '+' is accepted, as in "+INF".
template <class T> T fromText(const std::string& s, const Node& node)
{
    const char* begin = s.data();
    const char* end = s.data() + s.size();
    if (begin != end && *begin == '+' && end - begin > 1 && begin[1] != '-' && begin[1] != '+')
        ++begin;
    using P = std::conditional_t<kIsHalfLike<T>, double, T>; // 16-bit floats round from double
    P v{};
    auto [ptr, ec] = std::from_chars(begin, end, v);
    if constexpr (std::is_floating_point_v<P>) {
        if (ec == std::errc::result_out_of_range) {
            // Overflow reads as infinity and underflow as zero, as numpy does; strtod knows which.
            char* stop = nullptr;
            v = static_cast<P>(std::strtod(std::string(begin, end).c_str(), &stop));
            ec = std::errc{};
        }
    }
    if (ec != std::errc{} || ptr != end)
        throw Error(node.describe() + ": cannot convert the string '" + s + "' to " +
                    std::string(dtypeName(dtypeOf<T>())));
    return convertValue<T>(v);
}

/// float -> bfloat16 rounds to nearest even, as ONNX Runtime, PyTorch and ONNX's own helper do
/// (ONNX 1.12's backend test data truncates; the conformance runner lists that erratum).
void castTensor(const Tensor& x, Tensor& y, DType to, const Node& node)
{
    const DType from = x.dtype();
    y.resize(to, x.shape());
    const std::int64_t n = x.size();
    if (from == DType::String && to == DType::String) {
        y.strings() = x.strings();
        return;
    }
    if (from == DType::String) {
        if (to == DType::Bool)
            throw UnsupportedError(node.describe() + ": Cast from string to bool is not supported");
        dispatchAny(
            to,
            [&](auto toTag) {
                using To = decltype(toTag);
                if constexpr (!std::is_same_v<To, bool>) {
                    To* out = y.data<To>();
                    for (std::int64_t i = 0; i < n; ++i)
                        out[i] = fromText<To>(x.strings()[static_cast<std::size_t>(i)], node);
                }
            },
            node);
        return;
    }
    if (to == DType::String) {
        if (from == DType::Bool || from == DType::Float16 || from == DType::BFloat16)
            throw UnsupportedError(node.describe() + ": Cast from " + std::string(dtypeName(from)) +
                                   " to string is not supported");
        dispatchNumeric(
            from,
            [&](auto fromTag) {
                using From = decltype(fromTag);
                const From* in = x.data<From>();
                for (std::int64_t i = 0; i < n; ++i)
                    y.strings()[static_cast<std::size_t>(i)] = toText(in[i]);
            },
            node);
        return;
    }
    dispatchAny(
        from,
        [&](auto fromTag) {
            using From = decltype(fromTag);
            dispatchAny(
                to,
                [&](auto toTag) {
                    using To = decltype(toTag);
                    const From* in = x.data<From>();
                    To* out = y.data<To>();
                    if constexpr (std::is_same_v<From, To>) {
                        std::copy(in, in + n, out);
                    } else {
                        std::int64_t i = 0;
                        for (; i + kBlock <= n; i += kBlock) {
                            To t[kBlock];
                            for (std::int64_t j = 0; j < kBlock; ++j)
                                t[j] = convertValue<To>(in[i + j]);
                            for (std::int64_t j = 0; j < kBlock; ++j)
                                out[i + j] = t[j];
                        }
                        for (; i < n; ++i)
                            out[i] = convertValue<To>(in[i]);
                    }
                },
                node);
        },
        node);
}

/// Opset 1 spells Cast's target type as a string.
DType castTargetFromName(const std::string& name)
{
    static const std::pair<const char*, DType> names[] = {
        {"FLOAT", DType::Float32}, {"DOUBLE", DType::Float64}, {"FLOAT16", DType::Float16},
        {"BFLOAT16", DType::BFloat16}, {"INT8", DType::Int8},   {"UINT8", DType::UInt8},
        {"INT16", DType::Int16},      {"UINT16", DType::UInt16}, {"INT32", DType::Int32},
        {"UINT32", DType::UInt32},    {"INT64", DType::Int64},   {"UINT64", DType::UInt64},
        {"BOOL", DType::Bool},        {"STRING", DType::String},
    };
    for (const auto& [n, t] : names)
        if (name == n)
            return t;
    return DType::Undefined;
}

Kernel makeCast(const KernelContext& ctx)
{
    const Attribute* a = ctx.node.find("to");
    if (!a)
        ctx.invalid("the 'to' attribute is missing");
    const DType to = a->kind == Attribute::Kind::String ? castTargetFromName(a->s)
                                                        : dtypeFromOnnx(static_cast<int>(ctx.node.attrInt("to", 0)));
    if (to == DType::Undefined)
        ctx.unsupported("the target type of Cast");
    return [to](KernelArgs& args) { castTensor(args.input(0), args.output(0), to, args.node()); };
}

Kernel makeCastLike(const KernelContext&)
{
    return [](KernelArgs& args) { castTensor(args.input(0), args.output(0), args.input(1).dtype(), args.node()); };
}

// ---------------------------------------------------------------------------------------------
// Binary functors. Each takes compute-type values (float for the 16-bit floats).

struct AddOp {
    template <class C> C operator()(C a, C b) const
    {
        if constexpr (std::is_integral_v<C>)
            return wrapAdd(a, b);
        else
            return a + b;
    }
};

struct SubOp {
    template <class C> C operator()(C a, C b) const
    {
        if constexpr (std::is_integral_v<C>)
            return wrapSub(a, b);
        else
            return a - b;
    }
};

struct MulOp {
    template <class C> C operator()(C a, C b) const
    {
        if constexpr (std::is_integral_v<C>)
            return wrapMul(a, b);
        else
            return a * b;
    }
};

struct DivOp {
    template <class C> C operator()(C a, C b) const
    {
        if constexpr (std::is_integral_v<C>) {
            if (b == 0)
                return 0; // undefined in ONNX; avoids the division trap
            if constexpr (std::is_signed_v<C>)
                if (b == -1)
                    return wrapNeg(a); // MIN / -1 traps too
            return static_cast<C>(a / b);
        } else {
            return a / b;
        }
    }
};

/// fmod: the sign of the dividend (C's % and fmod); otherwise the divisor's (Python, np.mod).
struct ModOp {
    bool fmod = false;
    template <class C> C operator()(C a, C b) const
    {
        if constexpr (std::is_floating_point_v<C>) {
            C r = std::fmod(a, b);
            if (!fmod && r != 0 && ((r < 0) != (b < 0)))
                r += b;
            return r;
        } else {
            if (b == 0)
                return 0;
            if constexpr (std::is_signed_v<C>) {
                if (b == -1)
                    return 0;
                C r = static_cast<C>(a % b);
                if (!fmod && r != 0 && ((r < 0) != (b < 0)))
                    r = static_cast<C>(r + b);
                return r;
            } else {
                return static_cast<C>(a % b);
            }
        }
    }
};

struct PowOp {
    template <class C> C operator()(C a, C b) const
    {
        if constexpr (std::is_integral_v<C>)
            return intPow(a, b);
        else
            return std::pow(a, b);
    }
};

struct BitShiftOp {
    bool left = true;
    template <class C> C operator()(C a, C b) const
    {
        if (b >= C(sizeof(C) * 8))
            return 0; // shifting out every bit; the C++ shift would be undefined
        using U = WideUnsigned<C>;
        return static_cast<C>(left ? static_cast<U>(static_cast<U>(a) << b) : static_cast<U>(static_cast<U>(a) >> b));
    }
};

template <class C> bool isNaN(C v)
{
    if constexpr (std::is_floating_point_v<C>)
        return std::isnan(v);
    else
        return false;
}

/// Max/Min propagate NaN, as numpy's maximum/minimum (the ONNX reference) do.
struct MaxOp {
    template <class C> C operator()(C a, C b) const { return (a >= b || isNaN(a)) ? a : b; }
};
struct MinOp {
    template <class C> C operator()(C a, C b) const { return (a <= b || isNaN(a)) ? a : b; }
};

Kernel makePow(const KernelContext& ctx)
{
    const LegacyBroadcast lb = LegacyBroadcast::of(ctx);
    const Kernel same = binaryKernel<ArithmeticTypes, false>(ctx, PowOp{});
    // Pow-12 allows an exponent type that differs from the base's: the exponent is converted
    // once to int64 (both integer: exact integer power) or double (numpy computes in double).
    Tensor exponent;
    return [same, lb, exponent](KernelArgs& args) mutable {
        const Tensor& a = args.input(0);
        const Tensor& b = args.input(1);
        if (a.dtype() == b.dtype())
            return same(args);
        const Node& node = args.node();
        const bool intPowers = isInteger(a.dtype()) && isInteger(b.dtype());
        const DType eType = intPowers ? DType::Int64 : DType::Float64;
        castTensor(b, exponent, eType, node);
        const BinaryShapes s = binaryShapes(node, a.shape(), b.shape(), lb);
        Tensor& out = args.output(0);
        ArithmeticTypes{}(
            a.dtype(),
            [&](auto tag) {
                using T = decltype(tag);
                using C = Compute<T>;
                out.resize(a.dtype(), s.out);
                if constexpr (std::is_integral_v<C>) {
                    if (intPowers) {
                        binaryBroadcast(a.data<T>(), s.a, exponent.data<std::int64_t>(), s.b, out.data<T>(), s.out,
                                        [](C x, std::int64_t e) { return intPow(x, e); });
                        return;
                    }
                }
                binaryBroadcast(a.data<T>(), s.a, exponent.data<double>(), s.b, out.data<T>(), s.out,
                                [](C x, double e) { return convertValue<C>(std::pow(static_cast<double>(x), e)); });
            },
            node);
    };
}

// ---------------------------------------------------------------------------------------------
// Variadic ops

template <class Types, class Op> Kernel variadicKernel(Op op, bool mean)
{
    return [op, mean](KernelArgs& args) {
        const Node& node = args.node();
        const std::size_t count = args.inputCount();
        if (count == 0)
            throw Error(node.describe() + ": needs at least one input");
        const Tensor& first = args.input(0);
        Shape shape = first.shape();
        for (std::size_t k = 1; k < count; ++k) {
            const Tensor& t = args.input(k);
            if (t.dtype() != first.dtype())
                throw Error(node.describe() + ": inputs have different types (" +
                            std::string(dtypeName(first.dtype())) + " and " + std::string(dtypeName(t.dtype())) + ")");
            shape = broadcastShapes(shape, t.shape(), node);
        }
        Tensor& out = args.output(0);
        Types{}(
            first.dtype(),
            [&](auto tag) {
                using T = decltype(tag);
                using C = Compute<T>;
                out.resize(first.dtype(), shape);
                T* r = out.data<T>();
                if (count == 1) {
                    std::copy(first.data<T>(), first.data<T>() + first.size(), r);
                } else {
                    const Tensor& second = args.input(1);
                    binaryBroadcast(first.data<T>(), first.shape(), second.data<T>(), second.shape(), r, shape, op);
                    for (std::size_t k = 2; k < count; ++k) {
                        const Tensor& t = args.input(k);
                        binaryBroadcast(static_cast<const T*>(r), shape, t.data<T>(), t.shape(), r, shape, op);
                    }
                }
                if constexpr (!std::is_integral_v<C>) {
                    if (mean) {
                        const C scale = C(1) / static_cast<C>(count);
                        unaryRow(static_cast<const T*>(r), r, out.size(), [scale](C v) { return v * scale; });
                    }
                }
            },
            node);
    };
}

// ---------------------------------------------------------------------------------------------
// Where

Kernel makeWhere(const KernelContext&)
{
    return [](KernelArgs& args) {
        const Node& node = args.node();
        const Tensor& c = args.input(0);
        const Tensor& x = args.input(1);
        const Tensor& y = args.input(2);
        if (c.dtype() != DType::Bool)
            throw Error(node.describe() + ": the condition must be bool");
        if (x.dtype() != y.dtype())
            throw Error(node.describe() + ": inputs have different types (" + std::string(dtypeName(x.dtype())) +
                        " and " + std::string(dtypeName(y.dtype())) + ")");
        const Shape shape = broadcastShapes(broadcastShapes(c.shape(), x.shape(), node), y.shape(), node);
        Tensor& out = args.output(0);
        dispatchAny(
            x.dtype(),
            [&](auto tag) {
                using T = decltype(tag);
                out.resize(x.dtype(), shape);
                const bool* pc = c.data<bool>();
                const T* px = x.data<T>();
                const T* py = y.data<T>();
                T* r = out.data<T>();
                const std::int64_t n = out.size();
                if (c.size() == n && x.size() == n && y.size() == n) {
                    for (std::int64_t i = 0; i < n; ++i)
                        r[i] = pc[i] ? px[i] : py[i];
                    return;
                }
                Shape s = shape;
                std::array<std::vector<std::int64_t>, 3> strides{
                    broadcastStrides(c.shape(), shape), broadcastStrides(x.shape(), shape),
                    broadcastStrides(y.shape(), shape)};
                coalesceAxes(s, strides);
                forEachBroadcastRow(s, strides,
                                    [&](std::int64_t o, const std::array<std::int64_t, 3>& off, std::int64_t len,
                                        const std::array<std::int64_t, 3>& inner) {
                                        const bool* rc = pc + off[0];
                                        const T* rx = px + off[1];
                                        const T* ry = py + off[2];
                                        for (std::int64_t i = 0; i < len; ++i)
                                            r[o + i] = rc[i * inner[0]] ? rx[i * inner[1]] : ry[i * inner[2]];
                                    });
            },
            node);
    };
}

// ---------------------------------------------------------------------------------------------
// Clip

template <class T> struct ClipOp {
    Compute<T> lo, hi;
    Compute<T> operator()(Compute<T> x) const
    {
        // min(max(x, lo), hi): when lo > hi everything becomes hi, as the spec says; NaN stays.
        const Compute<T> y = x < lo ? lo : x;
        return y > hi ? hi : y;
    }
};

Kernel makeClip(const KernelContext& ctx)
{
    if (ctx.opset < 11) {
        // Bounds are attributes, with the spec's defaults of -/+FLT_MAX.
        const float lo = ctx.node.attrFloat("min", std::numeric_limits<float>::lowest());
        const float hi = ctx.node.attrFloat("max", std::numeric_limits<float>::max());
        return [lo, hi](KernelArgs& args) {
            const Tensor& x = args.input(0);
            Tensor& y = args.output(0);
            FloatingTypes{}(
                x.dtype(),
                [&](auto tag) {
                    using T = decltype(tag);
                    using C = Compute<T>;
                    y.resize(x.dtype(), x.shape());
                    unaryRow(x.data<T>(), y.data<T>(), x.size(), ClipOp<T>{static_cast<C>(lo), static_cast<C>(hi)});
                },
                args.node());
        };
    }
    return [](KernelArgs& args) {
        const Node& node = args.node();
        const Tensor& x = args.input(0);
        const Tensor* minT = args.optionalInput(1);
        const Tensor* maxT = args.optionalInput(2);
        Tensor& y = args.output(0);
        ArithmeticTypes{}(
            x.dtype(),
            [&](auto tag) {
                using T = decltype(tag);
                using C = Compute<T>;
                // Absent bounds leave values alone (infinities included).
                C lo = std::numeric_limits<C>::has_infinity ? -std::numeric_limits<C>::infinity()
                                                            : std::numeric_limits<C>::lowest();
                C hi = std::numeric_limits<C>::has_infinity ? std::numeric_limits<C>::infinity()
                                                            : std::numeric_limits<C>::max();
                auto bound = [&](const Tensor* t, C& v) {
                    if (!t)
                        return;
                    if (t->dtype() != x.dtype())
                        throw Error(node.describe() + ": bounds must have the input's type");
                    if (t->size() != 1)
                        throw Error(node.describe() + ": bounds must be scalars, got shape " +
                                    shapeToString(t->shape()));
                    v = load(t->data<T>()[0]);
                };
                bound(minT, lo);
                bound(maxT, hi);
                y.resize(x.dtype(), x.shape());
                unaryRow(x.data<T>(), y.data<T>(), x.size(), ClipOp<T>{lo, hi});
            },
            node);
    };
}

// ---------------------------------------------------------------------------------------------
// Unary functors with a vectorized float path

struct ExpOp {
    template <class C> C operator()(C x) const { return std::exp(x); }
    void bulk(const float* x, float* y, std::int64_t n) const { expFloat(x, y, n); }
};

struct SqrtOp {
    template <class C> C operator()(C x) const { return std::sqrt(x); }
    void bulk(const float* x, float* y, std::int64_t n) const { sqrtFloat(x, y, n); }
};

struct ErfOp {
    template <class C> C operator()(C x) const { return std::erf(x); }
    void bulk(const float* x, float* y, std::int64_t n) const { erfFloat(x, y, n); }
};

struct AbsOp {
    template <class C> C operator()(C x) const
    {
        if constexpr (std::is_unsigned_v<C>)
            return x;
        else if constexpr (std::is_integral_v<C>)
            return x < 0 ? wrapNeg(x) : x;
        else
            return std::abs(x);
    }
};

struct NegOp {
    template <class C> C operator()(C x) const
    {
        if constexpr (std::is_integral_v<C>)
            return wrapNeg(x);
        else
            return -x;
    }
};

struct SignOp {
    template <class C> C operator()(C x) const
    {
        if constexpr (std::is_floating_point_v<C>)
            return x > 0 ? C(1) : x < 0 ? C(-1) : x; // 0 stays 0, NaN stays NaN
        else
            return static_cast<C>((C(0) < x) - (x < C(0)));
    }
};

template <class Types, class Op> KernelFactory unary(Op op)
{
    return [op](const KernelContext&) { return unaryKernel<Types, false>(op); };
}

template <class Types, bool BoolResult, class Op> KernelFactory binary(Op op)
{
    return [op](const KernelContext& ctx) { return binaryKernel<Types, BoolResult>(ctx, op); };
}

} // namespace

void registerElementwiseOps(OpRegistry& r)
{
    // Arithmetic. Before opset 7 the `broadcast`/`axis` attributes select legacy broadcasting.
    r.add("Add", 1, binary<ArithmeticTypes, false>(AddOp{}));
    r.add("Sub", 1, binary<ArithmeticTypes, false>(SubOp{}));
    r.add("Mul", 1, binary<ArithmeticTypes, false>(MulOp{}));
    r.add("Div", 1, binary<ArithmeticTypes, false>(DivOp{}));
    r.add("Pow", 1, makePow);
    r.add("Mod", 10, [](const KernelContext& ctx) {
        return binaryKernel<ArithmeticTypes, false>(ctx, ModOp{ctx.node.attrInt("fmod", 0) != 0}, false);
    });
    r.add("BitShift", 11, [](const KernelContext& ctx) {
        const std::string dir = ctx.node.attrString("direction");
        if (dir != "LEFT" && dir != "RIGHT")
            ctx.invalid("direction must be LEFT or RIGHT, not '" + dir + "'");
        return binaryKernel<UnsignedTypes, false>(ctx, BitShiftOp{dir == "LEFT"}, false);
    });

    // Comparison and logic (bool results).
    r.add("Equal", 1, binary<ArithmeticOrBoolTypes, true>([](auto a, auto b) { return a == b; }));
    r.add("Greater", 1, binary<ArithmeticTypes, true>([](auto a, auto b) { return a > b; }));
    r.add("Less", 1, binary<ArithmeticTypes, true>([](auto a, auto b) { return a < b; }));
    r.add("GreaterOrEqual", 12, binary<ArithmeticTypes, true>([](auto a, auto b) { return a >= b; }));
    r.add("LessOrEqual", 12, binary<ArithmeticTypes, true>([](auto a, auto b) { return a <= b; }));
    r.add("And", 1, binary<BoolType, false>([](bool a, bool b) { return a && b; }));
    r.add("Or", 1, binary<BoolType, false>([](bool a, bool b) { return a || b; }));
    r.add("Xor", 1, binary<BoolType, false>([](bool a, bool b) { return a != b; }));
    r.add("Not", 1, unary<BoolType>([](bool x) { return !x; }));

    // Variadic, with numpy broadcasting (before opset 8 the shapes must match, a special case).
    r.add("Sum", 1, [](const KernelContext&) { return variadicKernel<FloatingTypes>(AddOp{}, false); });
    r.add("Mean", 1, [](const KernelContext&) { return variadicKernel<FloatingTypes>(AddOp{}, true); });
    r.add("Max", 1, [](const KernelContext&) { return variadicKernel<ArithmeticTypes>(MaxOp{}, false); });
    r.add("Min", 1, [](const KernelContext&) { return variadicKernel<ArithmeticTypes>(MinOp{}, false); });

    r.add("Where", 9, makeWhere);
    r.add("Clip", 1, makeClip);
    r.add("Cast", 1, makeCast);
    r.add("CastLike", 15, makeCastLike);

    // Unary math.
    r.add("Abs", 1, unary<ArithmeticTypes>(AbsOp{}));
    r.add("Neg", 1, unary<SignedTypes>(NegOp{}));
    r.add("Sign", 9, unary<ArithmeticTypes>(SignOp{}));
    r.add("Sqrt", 1, unary<FloatingTypes>(SqrtOp{}));
    r.add("Exp", 1, unary<FloatingTypes>(ExpOp{}));
    r.add("Erf", 9, unary<FloatingTypes>(ErfOp{}));
    r.add("Log", 1, unary<FloatingTypes>([](auto x) { return std::log(x); }));
    r.add("Reciprocal", 1, unary<FloatingTypes>([](auto x) { return decltype(x)(1) / x; }));
    r.add("Floor", 1, unary<FloatingTypes>([](auto x) { return std::floor(x); }));
    r.add("Ceil", 1, unary<FloatingTypes>([](auto x) { return std::ceil(x); }));
    // Half to even: nearbyint rounds in the default (to-nearest-even) mode.
    r.add("Round", 11, unary<FloatingTypes>([](auto x) { return std::nearbyint(x); }));
    r.add("Sin", 7, unary<FloatingTypes>([](auto x) { return std::sin(x); }));
    r.add("Cos", 7, unary<FloatingTypes>([](auto x) { return std::cos(x); }));
    r.add("Tan", 7, unary<FloatingTypes>([](auto x) { return std::tan(x); }));
    r.add("Asin", 7, unary<FloatingTypes>([](auto x) { return std::asin(x); }));
    r.add("Acos", 7, unary<FloatingTypes>([](auto x) { return std::acos(x); }));
    r.add("Atan", 7, unary<FloatingTypes>([](auto x) { return std::atan(x); }));
    r.add("Sinh", 9, unary<FloatingTypes>([](auto x) { return std::sinh(x); }));
    r.add("Cosh", 9, unary<FloatingTypes>([](auto x) { return std::cosh(x); }));
    r.add("Asinh", 9, unary<FloatingTypes>([](auto x) { return std::asinh(x); }));
    r.add("Acosh", 9, unary<FloatingTypes>([](auto x) { return std::acosh(x); }));
    r.add("Atanh", 9, unary<FloatingTypes>([](auto x) { return std::atanh(x); }));

    r.add("IsNaN", 9, [](const KernelContext&) {
        return unaryKernel<FloatingTypes, true>([](auto x) { return std::isnan(x); });
    });
    r.add("IsInf", 10, [](const KernelContext& ctx) {
        const bool pos = ctx.node.attrInt("detect_positive", 1) != 0;
        const bool neg = ctx.node.attrInt("detect_negative", 1) != 0;
        return unaryKernel<FloatingTypes, true>(
            [pos, neg](auto x) { return std::isinf(x) && (x > 0 ? pos : neg); });
    });
}

} // namespace leger
