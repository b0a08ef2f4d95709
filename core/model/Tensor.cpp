#include "model/Tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "util/Error.h"

namespace leger {

std::int64_t elementCount(const Shape& shape)
{
    std::int64_t n = 1;
    for (std::int64_t d : shape)
        n *= d;
    return n;
}

std::string shapeToString(const Shape& shape)
{
    // Messages stay readable even for a hostile rank: at most 16 dimensions are spelled out.
    constexpr std::size_t kShown = 16;
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size() && i < kShown; ++i) {
        if (i)
            s += ", ";
        s += std::to_string(shape[i]);
    }
    if (shape.size() > kShown)
        s += ", ... (" + std::to_string(shape.size()) + " dimensions)";
    return s + "]";
}

void Tensor::FreeDeleter::operator()(std::byte* p) const { std::free(p); }

Tensor::Tensor(DType dtype, Shape shape) { resize(dtype, std::move(shape)); }

Tensor::Tensor(const Tensor& other) { *this = other; }

Tensor& Tensor::operator=(const Tensor& other)
{
    if (this == &other)
        return *this;
    resize(other.dtype_, other.shape_);
    if (other.byteSize())
        std::memcpy(bytes_.get(), other.bytes_.get(), other.byteSize());
    strings_ = other.strings_;
    return *this;
}

void Tensor::resize(DType dtype, Shape shape)
{
    std::int64_t n = 1;
    for (std::int64_t d : shape) {
        if (d < 0)
            throw Error("negative dimension in shape " + shapeToString(shape));
        if (d != 0 && n > (std::int64_t{1} << 40) / d)
            throw Error("tensor of shape " + shapeToString(shape) + " is too large");
        n *= d;
    }
    dtype_ = dtype;
    shape_ = std::move(shape);
    size_ = n;
    if (dtype == DType::String) {
        strings_.resize(static_cast<std::size_t>(n));
        return;
    }
    const std::size_t bytes = static_cast<std::size_t>(n) * dtypeSize(dtype);
    if (bytes > capacity_) {
        // 64-byte alignment for vector loads; round the size up as aligned_alloc requires.
        const std::size_t rounded = (bytes + 63) / 64 * 64;
        void* p = std::aligned_alloc(64, rounded);
        if (!p)
            throw std::bad_alloc();
        bytes_.reset(static_cast<std::byte*>(p));
        capacity_ = rounded;
    }
}

void Tensor::reshape(Shape shape)
{
    if (elementCount(shape) != size_)
        throw Error("cannot reshape " + shapeToString(shape_) + " to " + shapeToString(shape));
    shape_ = std::move(shape);
}

void Tensor::zero()
{
    if (byteSize())
        std::memset(bytes_.get(), 0, byteSize());
}

double Tensor::at(std::int64_t i) const
{
    switch (dtype_) {
    case DType::Float32: return data<float>()[i];
    case DType::Float64: return data<double>()[i];
    case DType::Float16: return data<Half>()[i].toFloat();
    case DType::BFloat16: return data<BFloat16>()[i].toFloat();
    case DType::Int8: return data<std::int8_t>()[i];
    case DType::UInt8: return data<std::uint8_t>()[i];
    case DType::Int16: return data<std::int16_t>()[i];
    case DType::UInt16: return data<std::uint16_t>()[i];
    case DType::Int32: return data<std::int32_t>()[i];
    case DType::UInt32: return data<std::uint32_t>()[i];
    case DType::Int64: return static_cast<double>(data<std::int64_t>()[i]);
    case DType::UInt64: return static_cast<double>(data<std::uint64_t>()[i]);
    case DType::Bool: return data<bool>()[i] ? 1.0 : 0.0;
    default: throw Error(std::string("tensor of type ") + std::string(dtypeName(dtype_)) + " has no numeric value");
    }
}

std::vector<std::int64_t> Tensor::toInt64Vector() const
{
    std::vector<std::int64_t> v(static_cast<std::size_t>(size_));
    switch (dtype_) {
    case DType::Int64:
        if (byteSize())
            std::memcpy(v.data(), raw(), byteSize());
        break;
    case DType::Int32: for (std::int64_t i = 0; i < size_; ++i) v[i] = data<std::int32_t>()[i]; break;
    case DType::Int8:
    case DType::UInt8:
    case DType::Int16:
    case DType::UInt16:
    case DType::UInt32:
    case DType::UInt64:
    case DType::Bool:
        for (std::int64_t i = 0; i < size_; ++i) v[i] = static_cast<std::int64_t>(at(i));
        break;
    default:
        throw Error(std::string("expected an integer tensor, got ") + std::string(dtypeName(dtype_)));
    }
    return v;
}

} // namespace leger
