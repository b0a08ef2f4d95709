#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/Half.h"

namespace leger {

/// Element types of tensors; the numbering is Leger's own, not ONNX's.
enum class DType : std::uint8_t {
    Undefined,
    Float32,
    Float64,
    Float16,
    BFloat16,
    Int8,
    UInt8,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    UInt64,
    Bool,
    String,
};

/// Bytes per element (String: 0, strings live outside the byte buffer).
std::size_t dtypeSize(DType t);
/// Short lower-case name, as ONNX spells it ("float", "int64", ...).
std::string_view dtypeName(DType t);
/// Maps onnx::TensorProto_DataType to DType; Undefined for types Leger does not handle.
DType dtypeFromOnnx(int onnxType);
/// Maps DType to onnx::TensorProto_DataType.
int dtypeToOnnx(DType t);
bool isFloating(DType t);
bool isInteger(DType t);

/// The C++ element type that stores a DType.
template <class T> constexpr DType dtypeOf();
template <> constexpr DType dtypeOf<float>() { return DType::Float32; }
template <> constexpr DType dtypeOf<double>() { return DType::Float64; }
template <> constexpr DType dtypeOf<Half>() { return DType::Float16; }
template <> constexpr DType dtypeOf<BFloat16>() { return DType::BFloat16; }
template <> constexpr DType dtypeOf<std::int8_t>() { return DType::Int8; }
template <> constexpr DType dtypeOf<std::uint8_t>() { return DType::UInt8; }
template <> constexpr DType dtypeOf<std::int16_t>() { return DType::Int16; }
template <> constexpr DType dtypeOf<std::uint16_t>() { return DType::UInt16; }
template <> constexpr DType dtypeOf<std::int32_t>() { return DType::Int32; }
template <> constexpr DType dtypeOf<std::uint32_t>() { return DType::UInt32; }
template <> constexpr DType dtypeOf<std::int64_t>() { return DType::Int64; }
template <> constexpr DType dtypeOf<std::uint64_t>() { return DType::UInt64; }
template <> constexpr DType dtypeOf<bool>() { return DType::Bool; }

} // namespace leger
