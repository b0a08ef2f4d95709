#pragma once
// Helpers for the ops that only move data (Transpose, Slice, Concat, Gather, ...): they copy
// elements by size, so one instantiation per element width serves every fixed-size dtype,
// and std::string serves String tensors.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "model/Tensor.h"
#include "runtime/Kernel.h"
#include "util/Error.h"

namespace leger::ops {

/// Calls f(T{}) with an unsigned integer of the element's width, or std::string for String.
template <class F> decltype(auto) dispatchMove(DType dtype, F&& f, const Node& node)
{
    if (dtype == DType::String)
        return f(std::string{});
    switch (dtypeSize(dtype)) {
    case 1: return f(std::uint8_t{});
    case 2: return f(std::uint16_t{});
    case 4: return f(std::uint32_t{});
    case 8: return f(std::uint64_t{});
    default:
        throw UnsupportedError(node.describe() + ": element type " + std::string(dtypeName(dtype)) +
                               " is not supported");
    }
}

/// The elements of t viewed as T (a same-width integer, or std::string for String tensors).
template <class T> const T* elems(const Tensor& t)
{
    if constexpr (std::is_same_v<T, std::string>)
        return t.strings().data();
    else
        return reinterpret_cast<const T*>(t.raw());
}
template <class T> T* elems(Tensor& t)
{
    if constexpr (std::is_same_v<T, std::string>)
        return t.strings().data();
    else
        return reinterpret_cast<T*>(t.raw());
}

template <class T> inline void copyN(T* dst, const T* src, std::int64_t n)
{
    if constexpr (std::is_trivially_copyable_v<T>) {
        if (n > 0)
            std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(T));
    } else {
        std::copy_n(src, n, dst);
    }
}

/// Copies all elements of in into out, which must already have in's element count.
inline void copyElements(const Tensor& in, Tensor& out)
{
    if (in.dtype() == DType::String)
        std::copy_n(in.strings().begin(), in.size(), out.strings().begin());
    else if (in.byteSize())
        std::memcpy(out.raw(), in.raw(), in.byteSize());
}

/// out = in with a new shape (the element count must match).
inline void copyReshaped(const Tensor& in, Tensor& out, Shape shape)
{
    out.resize(in.dtype(), std::move(shape));
    copyElements(in, out);
}

namespace detail {

// dst[r * dstRowStride + c] = src[r + c * srcColStride]: a cache-blocked 2-D transpose.
template <class T>
void transposeBlock(const T* src, T* dst, std::int64_t rows, std::int64_t cols, std::int64_t srcColStride,
                    std::int64_t dstRowStride)
{
    constexpr std::int64_t B = 16;
    for (std::int64_t r0 = 0; r0 < rows; r0 += B) {
        const std::int64_t r1 = std::min(rows, r0 + B);
        for (std::int64_t c0 = 0; c0 < cols; c0 += B) {
            const std::int64_t c1 = std::min(cols, c0 + B);
            std::int64_t r = r0;
#if defined(__SSE2__)
            // 4-byte elements: 4x4 tiles transposed in registers (about 1.4x the scalar speed).
            if constexpr (sizeof(T) == 4 && std::is_trivially_copyable_v<T>) {
                for (; r + 4 <= r1; r += 4) {
                    std::int64_t c = c0;
                    for (; c + 4 <= c1; c += 4) {
                        const T* s = src + r + c * srcColStride;
                        __m128 a = _mm_loadu_ps(reinterpret_cast<const float*>(s));
                        __m128 b = _mm_loadu_ps(reinterpret_cast<const float*>(s + srcColStride));
                        __m128 e = _mm_loadu_ps(reinterpret_cast<const float*>(s + 2 * srcColStride));
                        __m128 f = _mm_loadu_ps(reinterpret_cast<const float*>(s + 3 * srcColStride));
                        _MM_TRANSPOSE4_PS(a, b, e, f);
                        T* d = dst + r * dstRowStride + c;
                        _mm_storeu_ps(reinterpret_cast<float*>(d), a);
                        _mm_storeu_ps(reinterpret_cast<float*>(d + dstRowStride), b);
                        _mm_storeu_ps(reinterpret_cast<float*>(d + 2 * dstRowStride), e);
                        _mm_storeu_ps(reinterpret_cast<float*>(d + 3 * dstRowStride), f);
                    }
                    for (; c < c1; ++c)
                        for (std::int64_t rr = r; rr < r + 4; ++rr)
                            dst[rr * dstRowStride + c] = src[rr + c * srcColStride];
                }
            }
#endif
            for (; r < r1; ++r) {
                T* d = dst + r * dstRowStride;
                const T* s = src + r;
                for (std::int64_t c = c0; c < c1; ++c)
                    d[c] = s[c * srcColStride];
            }
        }
    }
}

} // namespace detail

/// Copies the strided view (dims, strides in elements, possibly negative or zero) of src
/// into the contiguous, row-major dst. Axes that are contiguous in both are merged first so
/// that the innermost loop copies runs as long as possible; an inner axis that is strided in
/// src while another axis is contiguous (a transpose) goes through a cache-blocked 2-D copy.
template <class T>
void stridedCopy(const T* src, T* dst, const Shape& dimsIn, const std::vector<std::int64_t>& stridesIn)
{
    // Drop unit axes and merge mergeable neighbours.
    std::int64_t dims[64];
    std::int64_t strides[64];
    int k = 0;
    for (std::size_t i = 0; i < dimsIn.size(); ++i) {
        if (dimsIn[i] == 0)
            return;
        if (dimsIn[i] == 1)
            continue;
        if (k > 0 && strides[k - 1] == stridesIn[i] * dimsIn[i]) {
            dims[k - 1] *= dimsIn[i];
            strides[k - 1] = stridesIn[i];
            continue;
        }
        if (k == 64)
            throw Error("tensor rank is too large");
        dims[k] = dimsIn[i];
        strides[k] = stridesIn[i];
        ++k;
    }
    if (k == 0) {
        dst[0] = src[0];
        return;
    }
    const std::int64_t inner = dims[k - 1];
    const std::int64_t innerStride = strides[k - 1];

    // A transpose: some outer axis p reads contiguously while the inner axis does not.
    int p = -1;
    if (innerStride != 1 && inner >= 4) {
        for (int i = k - 2; i >= 0; --i)
            if (strides[i] == 1 && dims[i] >= 4) {
                p = i;
                break;
            }
    }
    std::int64_t idx[64] = {};
    if (p >= 0) {
        std::int64_t dstStrides[64];
        dstStrides[k - 1] = 1;
        for (int i = k - 2; i >= 0; --i)
            dstStrides[i] = dstStrides[i + 1] * dims[i + 1];
        std::int64_t outer = 1;
        for (int i = 0; i < k - 1; ++i)
            if (i != p)
                outer *= dims[i];
        std::int64_t srcOff = 0, dstOff = 0;
        for (std::int64_t o = 0; o < outer; ++o) {
            detail::transposeBlock(src + srcOff, dst + dstOff, dims[p], inner, innerStride, dstStrides[p]);
            for (int d = k - 2; d >= 0; --d) {
                if (d == p)
                    continue;
                srcOff += strides[d];
                dstOff += dstStrides[d];
                if (++idx[d] < dims[d])
                    break;
                srcOff -= strides[d] * dims[d];
                dstOff -= dstStrides[d] * dims[d];
                idx[d] = 0;
            }
        }
        return;
    }

    std::int64_t rows = 1;
    for (int i = 0; i < k - 1; ++i)
        rows *= dims[i];
    std::int64_t srcOff = 0;
    for (std::int64_t row = 0; row < rows; ++row) {
        const T* s = src + srcOff;
        if (innerStride == 1)
            copyN(dst, s, inner);
        else if (innerStride == 0)
            std::fill_n(dst, inner, *s);
        else
            for (std::int64_t j = 0; j < inner; ++j)
                dst[j] = s[j * innerStride];
        dst += inner;
        for (int d = k - 2; d >= 0; --d) {
            srcOff += strides[d];
            if (++idx[d] < dims[d])
                break;
            srcOff -= strides[d] * dims[d];
            idx[d] = 0;
        }
    }
}

/// All elements of an integer tensor as int64; empty tensors are common (axes, shapes).
inline std::vector<std::int64_t> int64Values(const Tensor& t)
{
    if (t.size() == 0) {
        if (!isInteger(t.dtype()) && t.dtype() != DType::Bool)
            throw Error(std::string("expected an integer tensor, got ") + std::string(dtypeName(t.dtype())));
        return {};
    }
    return t.toInt64Vector();
}

/// Reads element i of an integer tensor (int32 or int64) without converting the whole tensor.
inline std::int64_t indexAt(const Tensor& t, std::int64_t i)
{
    if (t.dtype() == DType::Int64)
        return t.data<std::int64_t>()[i];
    if (t.dtype() == DType::Int32)
        return t.data<std::int32_t>()[i];
    return static_cast<std::int64_t>(t.at(i));
}

/// Checks an index tensor's type (int32 or int64) naming the node.
inline void requireIndexType(const Tensor& t, const Node& node, const char* what)
{
    if (t.dtype() != DType::Int64 && t.dtype() != DType::Int32)
        throw Error(node.describe() + ": " + what + " must be int32 or int64, got " + std::string(dtypeName(t.dtype())));
}

/// Calls f(indices) with the index tensor's elements as a typed pointer (int32 or int64).
template <class F> void withIndices(const Tensor& t, const Node& node, const char* what, F&& f)
{
    requireIndexType(t, node, what);
    if (t.dtype() == DType::Int64)
        f(t.data<std::int64_t>());
    else
        f(t.data<std::int32_t>());
}

/// Converts a double to an element type, 16-bit floats and bool included.
template <class T> inline T fromDouble(double v)
{
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
        return T::fromFloat(static_cast<float>(v));
    else if constexpr (std::is_same_v<T, bool>)
        return v != 0;
    else
        return static_cast<T>(v);
}

/// The value type arithmetic uses for an element type: float for 16-bit floats, else itself.
template <class T> struct ArithOf {
    using type = T;
};
template <> struct ArithOf<Half> {
    using type = float;
};
template <> struct ArithOf<BFloat16> {
    using type = float;
};

template <class T> inline typename ArithOf<T>::type toArith(T v)
{
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
        return v.toFloat();
    else
        return v;
}
template <class T> inline T fromArith(typename ArithOf<T>::type v)
{
    if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>)
        return T::fromFloat(v);
    else
        return v;
}

} // namespace leger::ops
