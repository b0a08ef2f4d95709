#include "model/DType.h"

#include <onnx/onnx_pb.h>

namespace leger {

std::size_t dtypeSize(DType t)
{
    switch (t) {
    case DType::Float64:
    case DType::Int64:
    case DType::UInt64: return 8;
    case DType::Float32:
    case DType::Int32:
    case DType::UInt32: return 4;
    case DType::Float16:
    case DType::BFloat16:
    case DType::Int16:
    case DType::UInt16: return 2;
    case DType::Int8:
    case DType::UInt8:
    case DType::Bool: return 1;
    case DType::String:
    case DType::Undefined: return 0;
    }
    return 0;
}

std::string_view dtypeName(DType t)
{
    switch (t) {
    case DType::Undefined: return "undefined";
    case DType::Float32: return "float";
    case DType::Float64: return "double";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
    case DType::Int8: return "int8";
    case DType::UInt8: return "uint8";
    case DType::Int16: return "int16";
    case DType::UInt16: return "uint16";
    case DType::Int32: return "int32";
    case DType::UInt32: return "uint32";
    case DType::Int64: return "int64";
    case DType::UInt64: return "uint64";
    case DType::Bool: return "bool";
    case DType::String: return "string";
    }
    return "?";
}

DType dtypeFromOnnx(int onnxType)
{
    using P = onnx::TensorProto;
    switch (onnxType) {
    case P::FLOAT: return DType::Float32;
    case P::DOUBLE: return DType::Float64;
    case P::FLOAT16: return DType::Float16;
    case P::BFLOAT16: return DType::BFloat16;
    case P::INT8: return DType::Int8;
    case P::UINT8: return DType::UInt8;
    case P::INT16: return DType::Int16;
    case P::UINT16: return DType::UInt16;
    case P::INT32: return DType::Int32;
    case P::UINT32: return DType::UInt32;
    case P::INT64: return DType::Int64;
    case P::UINT64: return DType::UInt64;
    case P::BOOL: return DType::Bool;
    case P::STRING: return DType::String;
    default: return DType::Undefined;
    }
}

int dtypeToOnnx(DType t)
{
    using P = onnx::TensorProto;
    switch (t) {
    case DType::Float32: return P::FLOAT;
    case DType::Float64: return P::DOUBLE;
    case DType::Float16: return P::FLOAT16;
    case DType::BFloat16: return P::BFLOAT16;
    case DType::Int8: return P::INT8;
    case DType::UInt8: return P::UINT8;
    case DType::Int16: return P::INT16;
    case DType::UInt16: return P::UINT16;
    case DType::Int32: return P::INT32;
    case DType::UInt32: return P::UINT32;
    case DType::Int64: return P::INT64;
    case DType::UInt64: return P::UINT64;
    case DType::Bool: return P::BOOL;
    case DType::String: return P::STRING;
    case DType::Undefined: return P::UNDEFINED;
    }
    return P::UNDEFINED;
}

bool isFloating(DType t)
{
    return t == DType::Float32 || t == DType::Float64 || t == DType::Float16 || t == DType::BFloat16;
}

bool isInteger(DType t)
{
    switch (t) {
    case DType::Int8:
    case DType::UInt8:
    case DType::Int16:
    case DType::UInt16:
    case DType::Int32:
    case DType::UInt32:
    case DType::Int64:
    case DType::UInt64: return true;
    default: return false;
    }
}

} // namespace leger
