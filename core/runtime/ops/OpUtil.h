#pragma once
// Helpers shared by the op kernels: dtype dispatch, axis normalisation, broadcasting.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "model/Tensor.h"
#include "runtime/Kernel.h"
#include "util/Error.h"

namespace leger::ops {

/// Calls f(T{}) with the C++ type of dtype, for every numeric type (not bool/string/16-bit floats).
template <class F> decltype(auto) dispatchNumeric(DType dtype, F&& f, const Node& node)
{
    switch (dtype) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int8: return f(std::int8_t{});
    case DType::UInt8: return f(std::uint8_t{});
    case DType::Int16: return f(std::int16_t{});
    case DType::UInt16: return f(std::uint16_t{});
    case DType::Int32: return f(std::int32_t{});
    case DType::UInt32: return f(std::uint32_t{});
    case DType::Int64: return f(std::int64_t{});
    case DType::UInt64: return f(std::uint64_t{});
    default:
        throw UnsupportedError(node.describe() + ": element type " + std::string(dtypeName(dtype)) +
                               " is not supported");
    }
}

/// Calls f(T{}) for float and double only.
template <class F> decltype(auto) dispatchFloat(DType dtype, F&& f, const Node& node)
{
    switch (dtype) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    default:
        throw UnsupportedError(node.describe() + ": element type " + std::string(dtypeName(dtype)) +
                               " is not supported");
    }
}

/// Calls f(T{}) for every type with a fixed-size element, bool and 16-bit floats included
/// (for ops that only move data: Transpose, Gather, Concat, ...).
template <class F> decltype(auto) dispatchAny(DType dtype, F&& f, const Node& node)
{
    switch (dtype) {
    case DType::Bool: return f(bool{});
    case DType::Float16: return f(Half{});
    case DType::BFloat16: return f(BFloat16{});
    default: return dispatchNumeric(dtype, std::forward<F>(f), node);
    }
}

/// Normalises a possibly negative axis into [0, rank); throws naming the node if out of range.
inline int normalizeAxis(std::int64_t axis, int rank, const Node& node)
{
    if (axis < -rank || axis >= rank)
        throw Error(node.describe() + ": axis " + std::to_string(axis) + " is out of range for rank " +
                    std::to_string(rank));
    return static_cast<int>(axis < 0 ? axis + rank : axis);
}

/// Row-major strides of a shape, in elements.
inline std::vector<std::int64_t> stridesOf(const Shape& shape)
{
    std::vector<std::int64_t> s(shape.size(), 1);
    for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i)
        s[static_cast<std::size_t>(i)] = s[static_cast<std::size_t>(i) + 1] * shape[static_cast<std::size_t>(i) + 1];
    return s;
}

/// Multidirectional (numpy) broadcast of two shapes; throws naming the node if incompatible.
inline Shape broadcastShapes(const Shape& a, const Shape& b, const Node& node)
{
    const std::size_t r = std::max(a.size(), b.size());
    Shape out(r);
    for (std::size_t i = 0; i < r; ++i) {
        const std::int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
        const std::int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
        if (da != db && da != 1 && db != 1)
            throw Error(node.describe() + ": shapes " + shapeToString(a) + " and " + shapeToString(b) +
                        " cannot be broadcast");
        out[i] = da == 1 ? db : da;
    }
    return out;
}

/// Strides for reading a tensor of shape `in` as if broadcast to `out` (0 on broadcast axes).
inline std::vector<std::int64_t> broadcastStrides(const Shape& in, const Shape& out)
{
    std::vector<std::int64_t> s(out.size(), 0);
    const auto inStrides = stridesOf(in);
    const std::size_t off = out.size() - in.size();
    for (std::size_t i = 0; i < in.size(); ++i)
        s[off + i] = in[i] == 1 ? 0 : inStrides[i];
    return s;
}

/// Visits every element of an n-d broadcast of several inputs to `out`: calls
/// f(outIndex, offsets) with each input's element offset. The innermost axis is looped
/// by the caller for speed: f receives (outStart, offsets, innerCount, innerStrides).
template <std::size_t N, class F>
void forEachBroadcastRow(const Shape& out, const std::array<std::vector<std::int64_t>, N>& strides, F&& f)
{
    const int rank = static_cast<int>(out.size());
    if (elementCount(out) == 0)
        return;
    if (rank == 0) {
        std::array<std::int64_t, N> off{};
        std::array<std::int64_t, N> inner{};
        f(std::int64_t{0}, off, std::int64_t{1}, inner);
        return;
    }
    const std::int64_t innerCount = out[static_cast<std::size_t>(rank - 1)];
    std::array<std::int64_t, N> inner{};
    for (std::size_t k = 0; k < N; ++k)
        inner[k] = strides[k][static_cast<std::size_t>(rank - 1)];
    std::vector<std::int64_t> idx(static_cast<std::size_t>(rank), 0);
    std::array<std::int64_t, N> off{};
    const std::int64_t rows = elementCount(out) / innerCount;
    for (std::int64_t row = 0; row < rows; ++row) {
        f(row * innerCount, off, innerCount, inner);
        // Advance the outer index (all axes but the last).
        for (int d = rank - 2; d >= 0; --d) {
            const auto du = static_cast<std::size_t>(d);
            ++idx[du];
            for (std::size_t k = 0; k < N; ++k)
                off[k] += strides[k][du];
            if (idx[du] < out[du])
                break;
            for (std::size_t k = 0; k < N; ++k)
                off[k] -= strides[k][du] * out[du];
            idx[du] = 0;
        }
    }
}

} // namespace leger::ops
