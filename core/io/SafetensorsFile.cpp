#include "io/SafetensorsFile.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "model/Half.h"
#include "util/AtomicFile.h"
#include "util/Error.h"
#include "util/MappedFile.h"

namespace leger {

namespace {

using Json = nlohmann::json;

// The format caps the header at 100 MB; a larger one is not a safetensors file.
constexpr std::uint64_t kMaxHeader = 100'000'000;

std::int64_t elementSize(const std::string& dtype)
{
    static const std::map<std::string, std::int64_t> sizes = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"U64", 8}, {"I32", 4}, {"U32", 4},
        {"I16", 2}, {"U16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}};
    auto it = sizes.find(dtype);
    return it == sizes.end() ? 0 : it->second;
}

[[noreturn]] void fail(const std::string& source, const std::string& field, const std::string& what)
{
    throw Error(source + ": " + field + ": " + what);
}

/// A non-negative integer of a JSON value that fits the file, or an error naming the field.
std::uint64_t count(const Json& j, const std::string& source, const std::string& field)
{
    if (!j.is_number_unsigned())
        fail(source, field, "expected a non-negative integer, got " + j.dump());
    return j.get<std::uint64_t>();
}

} // namespace

SafetensorsFile SafetensorsFile::parse(std::shared_ptr<const void> owner, std::span<const std::byte> bytes,
                                       const std::string& source)
{
    SafetensorsFile f;
    f.owners_.push_back(std::move(owner));
    if (bytes.size() < 8)
        fail(source, "header length", "the file has " + std::to_string(bytes.size()) + " bytes, fewer than 8");
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    if (n > kMaxHeader || n > bytes.size() - 8)
        fail(source, "header length", std::to_string(n) + " bytes do not fit in a file of " + std::to_string(bytes.size()) +
                                          " bytes (or exceed the format's 100 MB)");
    const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), static_cast<std::size_t>(n));
    Json header;
    try {
        header = Json::parse(text);
    } catch (const Json::exception& e) {
        fail(source, "header", std::string("not valid JSON (") + e.what() + ")");
    }
    if (!header.is_object())
        fail(source, "header", "expected a JSON object");
    const std::span<const std::byte> data = bytes.subspan(static_cast<std::size_t>(8 + n));
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
    for (const auto& [name, entry] : header.items()) {
        if (name == "__metadata__") {
            if (!entry.is_object())
                fail(source, name, "expected an object of strings");
            for (const auto& [k, v] : entry.items()) {
                if (!v.is_string())
                    fail(source, "__metadata__." + k, "expected a string");
                f.metadata_[k] = v.get<std::string>();
            }
            continue;
        }
        if (!entry.is_object())
            fail(source, name, "expected an object with dtype, shape and data_offsets");
        for (const char* key : {"dtype", "shape", "data_offsets"})
            if (!entry.contains(key))
                fail(source, name, std::string("no \"") + key + "\"");
        for (const auto& [k, v] : entry.items())
            if (k != "dtype" && k != "shape" && k != "data_offsets")
                fail(source, name + "." + k, "unknown key");
        SafetensorsTensor t;
        t.name = name;
        t.file = source;
        if (!entry["dtype"].is_string() || elementSize(entry["dtype"].get<std::string>()) == 0)
            fail(source, name + ".dtype", "unknown dtype " + entry["dtype"].dump());
        t.dtype = entry["dtype"].get<std::string>();
        const Json& shape = entry["shape"];
        if (!shape.is_array() || shape.size() > 8)
            fail(source, name + ".shape", "expected an array of at most 8 dimensions");
        std::uint64_t elements = 1;
        for (std::size_t i = 0; i < shape.size(); ++i) {
            const std::uint64_t d = count(shape[i], source, name + ".shape[" + std::to_string(i) + "]");
            if (d != 0 && elements > (std::uint64_t{1} << 62) / d)
                fail(source, name + ".shape", "the element count overflows");
            elements *= d;
            t.shape.push_back(static_cast<std::int64_t>(d));
        }
        const Json& off = entry["data_offsets"];
        if (!off.is_array() || off.size() != 2)
            fail(source, name + ".data_offsets", "expected [begin, end]");
        const std::uint64_t begin = count(off[0], source, name + ".data_offsets[0]");
        const std::uint64_t end = count(off[1], source, name + ".data_offsets[1]");
        if (begin > end || end > data.size())
            fail(source, name + ".data_offsets", "[" + std::to_string(begin) + ", " + std::to_string(end) +
                                                     "] is not inside the data (" + std::to_string(data.size()) + " bytes)");
        const auto size = static_cast<std::uint64_t>(elementSize(t.dtype));
        if (end - begin != elements * size)
            fail(source, name + ".data_offsets", std::to_string(end - begin) + " bytes for " + std::to_string(elements) + " " +
                                                     t.dtype + " values (" + std::to_string(elements * size) + " bytes)");
        t.data = data.subspan(static_cast<std::size_t>(begin), static_cast<std::size_t>(end - begin));
        ranges.emplace_back(begin, end);
        f.tensors_.push_back(std::move(t));
    }
    // The tensors tile the data exactly: no overlap, no hole, nothing after them.
    std::sort(ranges.begin(), ranges.end());
    std::uint64_t at = 0;
    for (const auto& [b, e] : ranges) {
        if (b != at)
            fail(source, "data_offsets", b < at ? "two tensors overlap at byte " + std::to_string(b)
                                                : "bytes " + std::to_string(at) + ".." + std::to_string(b) + " belong to no tensor");
        at = e;
    }
    if (at != data.size())
        fail(source, "data_offsets", std::to_string(data.size() - at) + " bytes after the last tensor belong to no tensor");
    return f;
}

void SafetensorsFile::add(const SafetensorsFile& shard)
{
    owners_.insert(owners_.end(), shard.owners_.begin(), shard.owners_.end());
    tensors_.insert(tensors_.end(), shard.tensors_.begin(), shard.tensors_.end());
    if (metadata_.empty())
        metadata_ = shard.metadata_;
}

SafetensorsFile SafetensorsFile::open(const std::string& path)
{
    if (path.size() < 5 || path.substr(path.size() - 5) != ".json") {
        auto file = MappedFile::open(path);
        const auto bytes = file->bytes();
        return parse(std::move(file), bytes, path);
    }
    // A sharded model: {"metadata": {...}, "weight_map": {tensor: shard file}}.
    Json index;
    try {
        index = Json::parse(readFile(path));
    } catch (const Json::exception& e) {
        fail(path, "index", std::string("not valid JSON (") + e.what() + ")");
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
        fail(path, "weight_map", "expected an object of tensor: file");
    const std::filesystem::path dir = std::filesystem::path(path).parent_path();
    std::map<std::string, std::string> expected; // tensor -> shard
    std::set<std::string> shards;
    for (const auto& [tensor, file] : index["weight_map"].items()) {
        if (!file.is_string())
            fail(path, "weight_map." + tensor, "expected a file name");
        const std::string name = file.get<std::string>();
        if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
            fail(path, "weight_map." + tensor, "'" + name + "' is not a file name beside the index");
        expected[tensor] = name;
        shards.insert(name);
    }
    SafetensorsFile all;
    for (const std::string& shard : shards) {
        const SafetensorsFile s = open((dir / shard).string());
        for (const SafetensorsTensor& t : s.tensors()) {
            auto it = expected.find(t.name);
            if (it == expected.end() || it->second != shard)
                fail(path, "weight_map", "tensor '" + t.name + "' is in " + shard + " but the index does not say so");
        }
        all.add(s);
    }
    if (all.tensors_.size() != expected.size())
        for (const auto& [tensor, shard] : expected)
            if (!all.tensor(tensor))
                fail(path, "weight_map." + tensor, "not in " + shard);
    return all;
}

const SafetensorsTensor* SafetensorsFile::tensor(const std::string& name) const
{
    for (const SafetensorsTensor& t : tensors_)
        if (t.name == name)
            return &t;
    return nullptr;
}

Tensor SafetensorsFile::toFloat(const SafetensorsTensor& t)
{
    Tensor out(DType::Float32, Shape(t.shape.begin(), t.shape.end()));
    float* y = out.data<float>();
    const std::byte* p = t.data.data();
    const std::int64_t n = out.size();
    if (t.dtype == "F32") {
        std::memcpy(y, p, static_cast<std::size_t>(n) * 4);
    } else if (t.dtype == "F16") {
        for (std::int64_t i = 0; i < n; ++i) {
            Half h;
            std::memcpy(&h.bits, p + 2 * i, 2);
            y[i] = h.toFloat();
        }
    } else if (t.dtype == "BF16") {
        for (std::int64_t i = 0; i < n; ++i) {
            BFloat16 b;
            std::memcpy(&b.bits, p + 2 * i, 2);
            y[i] = b.toFloat();
        }
    } else {
        throw UnsupportedError(t.file + ": tensor '" + t.name + "' is " + t.dtype + ", not a floating-point weight");
    }
    return out;
}

} // namespace leger
