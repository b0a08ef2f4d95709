#include "io/GgufWriter.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "util/AtomicFile.h"
#include "util/Error.h"

namespace leger {

namespace {

template <class T> void put(std::string& out, T v)
{
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.append(b, sizeof(T));
}

void putString(std::string& out, const std::string& s)
{
    put<std::uint64_t>(out, s.size());
    out += s;
}

/// Bytes of one tensor-table entry: name, n_dims, dims, type, offset.
std::uint64_t tableEntryBytes(const GgufTensorInfo& t) { return 8 + t.name.size() + 4 + 8 * t.dims.size() + 4 + 8; }

std::uint64_t valueBytes(const GgufValue& v)
{
    std::string s;
    GgufWriter::encodeValue(s, v);
    return s.size();
}

} // namespace

GgufValue ggufString(std::string s) { return {GgufValue::Type::String, GgufValue::Type::U8, std::move(s)}; }
GgufValue ggufU32(std::uint32_t v) { return {GgufValue::Type::U32, GgufValue::Type::U8, std::uint64_t{v}}; }
GgufValue ggufF32(float v) { return {GgufValue::Type::F32, GgufValue::Type::U8, double{v}}; }
GgufValue ggufBool(bool v) { return {GgufValue::Type::Bool, GgufValue::Type::U8, std::uint64_t{v ? 1u : 0u}}; }
GgufValue ggufArray(GgufValue::Type elementType, std::vector<GgufValue> items)
{
    return {GgufValue::Type::Array, elementType, std::move(items)};
}

GgufWriter::GgufWriter(std::uint64_t alignment) : alignment_(alignment)
{
    if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        throw Error("GGUF alignment " + std::to_string(alignment) + " is not a power of two");
}

void GgufWriter::set(const std::string& key, GgufValue value)
{
    for (auto& [k, v] : metadata_)
        if (k == key) {
            v = std::move(value);
            return;
        }
    metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::remove(const std::string& key)
{
    std::erase_if(metadata_, [&](const auto& kv) { return kv.first == key; });
}

void GgufWriter::addTensor(const std::string& name, const std::vector<std::int64_t>& dims, GgmlType type)
{
    GgufTensorInfo t;
    t.name = name;
    t.dims.assign(dims.rbegin(), dims.rend()); // the file stores the innermost dimension first
    typeTensor(t, type);
    tensors_.push_back(std::move(t));
}

void GgufWriter::setType(std::size_t i, GgmlType type) { typeTensor(tensors_.at(i), type); }

void GgufWriter::typeTensor(GgufTensorInfo& t, GgmlType type)
{
    const GgmlTypeTraits* traits = ggmlTypeTraits(static_cast<std::uint32_t>(type));
    if (!traits)
        throw Error("GGUF tensor '" + t.name + "': unknown type " + std::to_string(static_cast<std::uint32_t>(type)));
    const std::int64_t inner = t.dims.empty() ? 1 : t.dims[0];
    if (inner % traits->blockSize != 0)
        throw Error("GGUF tensor '" + t.name + "': " + traits->name + " needs rows of a multiple of " +
                    std::to_string(traits->blockSize) + " values; its rows have " + std::to_string(inner));
    t.type = type;
    t.bytes = static_cast<std::uint64_t>(t.elements() / traits->blockSize * traits->blockBytes);
}

std::uint64_t GgufWriter::headerBytes() const
{
    std::uint64_t n = 4 + 4 + 8 + 8; // magic, version, tensor count, metadata count
    for (const auto& [k, v] : metadata_)
        n += 8 + k.size() + 4 + valueBytes(v);
    for (const GgufTensorInfo& t : tensors_)
        n += tableEntryBytes(t);
    return paddedBytes(n);
}

std::uint64_t GgufWriter::fileSize() const
{
    std::uint64_t n = headerBytes();
    for (const GgufTensorInfo& t : tensors_)
        n += paddedBytes(t.bytes);
    return n;
}

void GgufWriter::encodeValue(std::string& out, const GgufValue& v)
{
    using T = GgufValue::Type;
    const auto u = [&] { return std::get<std::uint64_t>(v.value); };
    const auto i = [&] { return std::get<std::int64_t>(v.value); };
    const auto f = [&] { return std::get<double>(v.value); };
    switch (v.type) {
    case T::U8: put<std::uint8_t>(out, static_cast<std::uint8_t>(u())); break;
    case T::I8: put<std::int8_t>(out, static_cast<std::int8_t>(i())); break;
    case T::U16: put<std::uint16_t>(out, static_cast<std::uint16_t>(u())); break;
    case T::I16: put<std::int16_t>(out, static_cast<std::int16_t>(i())); break;
    case T::U32: put<std::uint32_t>(out, static_cast<std::uint32_t>(u())); break;
    case T::I32: put<std::int32_t>(out, static_cast<std::int32_t>(i())); break;
    case T::F32: put<float>(out, static_cast<float>(f())); break;
    case T::Bool: put<std::uint8_t>(out, u() ? 1 : 0); break;
    case T::String: putString(out, std::get<std::string>(v.value)); break;
    case T::U64: put<std::uint64_t>(out, u()); break;
    case T::I64: put<std::int64_t>(out, i()); break;
    case T::F64: put<double>(out, f()); break;
    case T::Array: {
        const auto& items = std::get<std::vector<GgufValue>>(v.value);
        put<std::uint32_t>(out, static_cast<std::uint32_t>(v.elementType));
        put<std::uint64_t>(out, items.size());
        for (const GgufValue& item : items) {
            if (item.type != v.elementType)
                throw Error("GGUF array of type " + std::to_string(static_cast<int>(v.elementType)) +
                            " holds an element of type " + std::to_string(static_cast<int>(item.type)));
            encodeValue(out, item);
        }
        break;
    }
    }
}

void GgufWriter::write(const std::string& path, const Fill& fill, const CancelToken* cancel) const
{
    std::string head;
    put<std::uint32_t>(head, 0x46554747u); // "GGUF"
    put<std::uint32_t>(head, 3);
    put<std::uint64_t>(head, tensors_.size());
    put<std::uint64_t>(head, metadata_.size());
    for (const auto& [k, v] : metadata_) {
        putString(head, k);
        put<std::uint32_t>(head, static_cast<std::uint32_t>(v.type));
        encodeValue(head, v);
    }
    std::uint64_t offset = 0;
    for (const GgufTensorInfo& t : tensors_) {
        putString(head, t.name);
        put<std::uint32_t>(head, static_cast<std::uint32_t>(t.dims.size()));
        for (std::int64_t d : t.dims)
            put<std::uint64_t>(head, static_cast<std::uint64_t>(d));
        put<std::uint32_t>(head, static_cast<std::uint32_t>(t.type));
        put<std::uint64_t>(head, offset);
        offset += paddedBytes(t.bytes);
    }
    head.resize(paddedBytes(head.size()), '\0');
    if (head.size() != headerBytes())
        throw Error(path + ": internal error: the GGUF header is not the size computed");

    AtomicFileWriter out(path);
    out.write(head);
    std::string buffer;
    for (std::size_t i = 0; i < tensors_.size(); ++i) {
        if (cancel && cancel->isCancelled())
            throw CancelledError();
        buffer.assign(paddedBytes(tensors_[i].bytes), '\0');
        fill(i, reinterpret_cast<std::byte*>(buffer.data()));
        out.write(buffer);
    }
    out.commit();
}

} // namespace leger
