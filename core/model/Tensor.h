#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/DType.h"

namespace leger {

using Shape = std::vector<std::int64_t>;

/// Number of elements of a shape (1 for a scalar).
std::int64_t elementCount(const Shape& shape);
/// "[1, 3, 224, 224]"
std::string shapeToString(const Shape& shape);

/// A dense, row-major n-dimensional array that owns its 64-byte-aligned storage.
/// resize() keeps the allocation when it shrinks, so a buffer reused run after run is
/// allocated once.
class Tensor {
public:
    Tensor() = default;
    Tensor(DType dtype, Shape shape);
    Tensor(const Tensor& other);
    Tensor& operator=(const Tensor& other);
    Tensor(Tensor&& other) noexcept = default;
    Tensor& operator=(Tensor&& other) noexcept = default;

    /// A tensor holding a copy of values, shaped as given.
    template <class T> static Tensor fromVector(Shape shape, const std::vector<T>& values)
    {
        Tensor t(dtypeOf<T>(), std::move(shape));
        assert(static_cast<std::size_t>(t.size()) == values.size());
        for (std::size_t i = 0; i < values.size(); ++i)
            t.data<T>()[i] = values[i];
        return t;
    }
    template <class T> static Tensor scalar(T value) { return fromVector<T>({}, {value}); }

    DType dtype() const { return dtype_; }
    const Shape& shape() const { return shape_; }
    int rank() const { return static_cast<int>(shape_.size()); }
    std::int64_t dim(int i) const { return shape_[static_cast<std::size_t>(i < 0 ? i + rank() : i)]; }
    std::int64_t size() const { return size_; }
    std::size_t byteSize() const { return static_cast<std::size_t>(size_) * dtypeSize(dtype_); }
    bool empty() const { return dtype_ == DType::Undefined; }

    /// Gives the tensor this type and shape; contents are unspecified afterwards.
    void resize(DType dtype, Shape shape);
    /// Changes the shape only; the element count must stay the same.
    void reshape(Shape shape);
    /// Sets every byte to zero.
    void zero();

    template <class T> T* data()
    {
        assert(dtypeOf<T>() == dtype_);
        return reinterpret_cast<T*>(bytes_.get());
    }
    template <class T> const T* data() const
    {
        assert(dtypeOf<T>() == dtype_);
        return reinterpret_cast<const T*>(bytes_.get());
    }
    template <class T> std::span<T> span() { return {data<T>(), static_cast<std::size_t>(size_)}; }
    template <class T> std::span<const T> span() const { return {data<T>(), static_cast<std::size_t>(size_)}; }
    std::byte* raw() { return bytes_.get(); }
    const std::byte* raw() const { return bytes_.get(); }

    /// Storage of String tensors.
    std::vector<std::string>& strings() { return strings_; }
    const std::vector<std::string>& strings() const { return strings_; }

    /// Element i converted to double (any numeric or bool dtype); for index-like inputs.
    double at(std::int64_t i) const;
    /// All elements as int64 (any integer or bool dtype); for shape/axes/indices inputs.
    std::vector<std::int64_t> toInt64Vector() const;

private:
    struct FreeDeleter {
        void operator()(std::byte* p) const;
    };
    DType dtype_ = DType::Undefined;
    Shape shape_;
    std::int64_t size_ = 0;
    std::size_t capacity_ = 0;
    std::unique_ptr<std::byte[], FreeDeleter> bytes_;
    std::vector<std::string> strings_;
};

} // namespace leger
