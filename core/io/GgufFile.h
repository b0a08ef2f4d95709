#pragma once
// A GGUF file (llama.cpp's model format, versions 2 and 3), memory-mapped: its metadata, its
// tensor table, each tensor's bytes, and float32 copies of tensors in the formats Leger reads
// (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K; Q8_1/Q8_K and integers are known by
// size only). Every
// count, length, size and offset in the header is checked against the file before it drives an
// allocation or a read, and a malformed file is refused with the file name and the field.
//
// Layout (little-endian): "GGUF", u32 version, u64 tensor_count, u64 kv_count; kv_count
// metadata entries (string key, u32 type, value); tensor_count entries (string name, u32 n_dims,
// u64 dims[n_dims] (innermost first), u32 ggml type, u64 offset); padding to `general.alignment`
// (default 32); the tensor data, each tensor at its offset from there (aligned). A string is a
// u64 length and that many bytes (no terminator).

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "model/Tensor.h"

namespace leger {

/// ggml's tensor types, with their numbers in the file.
enum class GgmlType : std::uint32_t {
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, BF16 = 30,
};

/// One row of ggml's type table: weights per block and bytes per block.
struct GgmlTypeTraits {
    GgmlType type;
    const char* name;
    std::int64_t blockSize;
    std::int64_t blockBytes;
};
/// The traits of a type number, or null when Leger does not know it.
const GgmlTypeTraits* ggmlTypeTraits(std::uint32_t type);

/// A metadata value: a scalar, a string, or an array of values of one type.
struct GgufValue {
    enum class Type : std::uint32_t {
        U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
        U64 = 10, I64 = 11, F64 = 12,
    };
    Type type = Type::U8;
    Type elementType = Type::U8; // arrays: the type of their elements (kept for empty arrays too)
    // Integers and bools as int64/uint64, floats as double, strings, arrays.
    std::variant<std::uint64_t, std::int64_t, double, std::string, std::vector<GgufValue>> value;

    /// The value as an unsigned integer (any integer type that is not negative); throws Error.
    std::uint64_t toUInt(const std::string& key) const;
    const std::string& toString(const std::string& key) const;
};

struct GgufTensorInfo {
    std::string name;
    std::vector<std::int64_t> dims; // innermost (contiguous) first, as the file stores them
    GgmlType type = GgmlType::F32;
    std::uint64_t offset = 0;       // from the start of the data section
    std::uint64_t bytes = 0;        // its size in the file
    std::int64_t elements() const;
};

class GgufFile {
public:
    /// Maps and parses path; throws Error "<path>: <field>: <what is wrong>".
    static GgufFile open(const std::string& path);
    /// Parses bytes already in memory (kept alive by `owner`); `source` names them in messages.
    static GgufFile parse(std::shared_ptr<const void> owner, std::span<const std::byte> bytes, const std::string& source);

    std::uint32_t version() const { return version_; }
    std::uint64_t alignment() const { return alignment_; }
    std::uint64_t dataOffset() const { return dataOffset_; }
    const std::map<std::string, GgufValue, std::less<>>& metadata() const { return metadata_; }
    const GgufValue* find(std::string_view key) const;
    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
    const GgufTensorInfo* tensor(std::string_view name) const;

    /// The tensor's bytes as stored.
    std::span<const std::byte> data(const GgufTensorInfo& t) const;
    /// The tensor as float32, shaped outermost first (the file's dims reversed). Throws
    /// UnsupportedError for types Leger does not decode (Q8_1, Q8_K, integers).
    Tensor toFloat(const GgufTensorInfo& t) const;

private:
    std::shared_ptr<const void> owner_;
    std::span<const std::byte> bytes_;
    std::string source_;
    std::uint32_t version_ = 0;
    std::uint64_t alignment_ = 32;
    std::uint64_t dataOffset_ = 0;
    std::map<std::string, GgufValue, std::less<>> metadata_;
    std::vector<GgufTensorInfo> tensors_;
};

/// Decodes `blocks` blocks of a block format into 32 * blocks floats (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1).
void dequantizeBlocks(GgmlType type, const std::byte* in, std::int64_t blocks, float* out);
/// Decodes `blocks` super-blocks of a K-quant into 256 * blocks floats (Q2_K, Q3_K, Q4_K, Q5_K,
/// Q6_K), in ggml's order of operations so that the floats are ggml's bit for bit.
void dequantizeSuperBlocks(GgmlType type, const std::byte* in, std::int64_t blocks, float* out);

} // namespace leger
