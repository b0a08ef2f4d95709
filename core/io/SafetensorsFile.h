#pragma once
// Hugging Face safetensors weights, memory-mapped: one file, or a sharded set through its
// `model.safetensors.index.json`. A file is a u64 (little-endian) header length N, N bytes of
// JSON {"__metadata__": {string: string}, NAME: {"dtype", "shape", "data_offsets": [begin, end]}},
// then the data; offsets count from the end of the header. Everything in the header is checked
// against the file before use: the JSON, each tensor's dtype, shape and size, its offsets, that
// the tensors do not overlap and leave no unindexed bytes, as the format requires.

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/Tensor.h"

namespace leger {

class MappedFile;

struct SafetensorsTensor {
    std::string name;
    std::string dtype;              // "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"
    std::vector<std::int64_t> shape;
    std::span<const std::byte> data; // in the mapped file
    std::string file;               // the shard it is in
};

class SafetensorsFile {
public:
    /// A .safetensors file, or a sharded model's .index.json (its shards are opened beside it).
    /// Throws Error "<file>: <field>: <what is wrong>".
    static SafetensorsFile open(const std::string& path);
    /// One file's bytes already in memory (kept alive by `owner`); `source` names it in messages.
    static SafetensorsFile parse(std::shared_ptr<const void> owner, std::span<const std::byte> bytes, const std::string& source);

    const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
    const SafetensorsTensor* tensor(const std::string& name) const;
    /// `__metadata__` of the (first) file.
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    /// A tensor as float32 (F32, F16, BF16; others throw UnsupportedError), shaped as stored.
    static Tensor toFloat(const SafetensorsTensor& t);

private:
    void add(const SafetensorsFile& shard);

    std::vector<std::shared_ptr<const void>> owners_;
    std::vector<SafetensorsTensor> tensors_;
    std::map<std::string, std::string> metadata_;
};

} // namespace leger
