#pragma once
// Writes a GGUF v3 file (the layout GgufFile.h describes): metadata in the order given, then the
// tensor table, padding to the alignment, and each tensor's data at an aligned offset. The
// layout is known before any data is produced, so fileSize() is the exact size of the file that
// write() makes — what Leger shows as a language model's size.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "io/GgufFile.h"
#include "util/CancelToken.h"

namespace leger {

class GgufWriter {
public:
    explicit GgufWriter(std::uint64_t alignment = 32);

    /// Sets a metadata value (replacing one with the same key in place; else appended).
    void set(const std::string& key, GgufValue value);
    void remove(const std::string& key);
    const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }

    /// Appends a tensor: dims outermost first (a [out, in] matrix), stored in `type`. Throws Error
    /// when the innermost dimension is not a multiple of the type's block.
    void addTensor(const std::string& name, const std::vector<std::int64_t>& dims, GgmlType type);
    /// Changes a tensor's type (the layout after it moves).
    void setType(std::size_t tensor, GgmlType type);
    std::size_t tensorCount() const { return tensors_.size(); }
    const GgufTensorInfo& tensor(std::size_t i) const { return tensors_[i]; }

    /// Bytes before the data section (header, metadata, tensor table, padding).
    std::uint64_t headerBytes() const;
    /// The exact file size.
    std::uint64_t fileSize() const;
    /// The size of a tensor of this shape and type with its padding to the alignment.
    std::uint64_t paddedBytes(std::uint64_t bytes) const { return (bytes + alignment_ - 1) / alignment_ * alignment_; }

    /// Writes the file atomically (a temporary file beside it, renamed over path when complete).
    /// fill(i, out) writes tensor i's tensor(i).bytes bytes. Throws Error naming path, and
    /// CancelledError when cancelled between tensors (the temporary file is removed).
    using Fill = std::function<void(std::size_t tensor, std::byte* out)>;
    void write(const std::string& path, const Fill& fill, const CancelToken* cancel = nullptr) const;

    /// The bytes of one metadata value as GGUF encodes it (type tag not included).
    static void encodeValue(std::string& out, const GgufValue& v);

private:
    /// Sets t's type and size; throws (leaving t as it was) when the type does not fit its rows.
    static void typeTensor(GgufTensorInfo& t, GgmlType type);

    std::uint64_t alignment_;
    std::vector<std::pair<std::string, GgufValue>> metadata_;
    std::vector<GgufTensorInfo> tensors_;
};

/// Metadata values, for building files.
GgufValue ggufString(std::string s);
GgufValue ggufU32(std::uint32_t v);
GgufValue ggufF32(float v);
GgufValue ggufBool(bool v);
GgufValue ggufArray(GgufValue::Type elementType, std::vector<GgufValue> items);

} // namespace leger
