#include "io/GgufFile.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include "model/Half.h"
#include "util/Error.h"
#include "util/MappedFile.h"

namespace leger {

namespace {

constexpr GgmlTypeTraits kTypes[] = {
    {GgmlType::F32, "F32", 1, 4},       {GgmlType::F16, "F16", 1, 2},       {GgmlType::Q4_0, "Q4_0", 32, 18},
    {GgmlType::Q4_1, "Q4_1", 32, 20},   {GgmlType::Q5_0, "Q5_0", 32, 22},   {GgmlType::Q5_1, "Q5_1", 32, 24},
    {GgmlType::Q8_0, "Q8_0", 32, 34},   {GgmlType::Q8_1, "Q8_1", 32, 36},   {GgmlType::Q2_K, "Q2_K", 256, 84},
    {GgmlType::Q3_K, "Q3_K", 256, 110}, {GgmlType::Q4_K, "Q4_K", 256, 144}, {GgmlType::Q5_K, "Q5_K", 256, 176},
    {GgmlType::Q6_K, "Q6_K", 256, 210}, {GgmlType::Q8_K, "Q8_K", 256, 292}, {GgmlType::I8, "I8", 1, 1},
    {GgmlType::I16, "I16", 1, 2},       {GgmlType::I32, "I32", 1, 4},       {GgmlType::I64, "I64", 1, 8},
    {GgmlType::F64, "F64", 1, 8},       {GgmlType::BF16, "BF16", 1, 2},
};

// ggml allows at most 4 dimensions.
constexpr std::uint32_t kMaxDims = 4;
// Arrays of arrays are allowed by the format; deeper nesting than this is not a model.
constexpr int kMaxArrayDepth = 4;

/// Reads the header fields in order; every read checks the bytes left first.
class Cursor {
public:
    Cursor(std::span<const std::byte> bytes, const std::string& source) : bytes_(bytes), source_(source) {}

    [[noreturn]] void fail(const std::string& field, const std::string& what) const
    {
        throw Error(source_ + ": " + field + ": " + what);
    }
    std::uint64_t left() const { return bytes_.size() - pos_; }
    std::uint64_t pos() const { return pos_; }

    template <class T> T read(const std::string& field)
    {
        if (left() < sizeof(T))
            fail(field, "the file ends at byte " + std::to_string(bytes_.size()) + ", inside this field");
        T v;
        std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    std::string string(const std::string& field)
    {
        const auto n = read<std::uint64_t>(field + " (length)");
        if (n > left())
            fail(field, "length " + std::to_string(n) + " is beyond the end of the file (" + std::to_string(left()) +
                            " bytes left)");
        std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<std::size_t>(n));
        pos_ += n;
        return s;
    }

private:
    std::span<const std::byte> bytes_;
    const std::string& source_;
    std::uint64_t pos_ = 0;
};

/// Smallest encoding of a value of a type (for bounding counts before allocating).
std::uint64_t minBytes(GgufValue::Type t)
{
    switch (t) {
    case GgufValue::Type::U8:
    case GgufValue::Type::I8:
    case GgufValue::Type::Bool: return 1;
    case GgufValue::Type::U16:
    case GgufValue::Type::I16: return 2;
    case GgufValue::Type::U32:
    case GgufValue::Type::I32:
    case GgufValue::Type::F32: return 4;
    case GgufValue::Type::U64:
    case GgufValue::Type::I64:
    case GgufValue::Type::F64:
    case GgufValue::Type::String: return 8; // its length
    case GgufValue::Type::Array: return 12; // element type + count
    }
    return 1;
}

GgufValue readValue(Cursor& c, std::uint32_t rawType, const std::string& field, int depth)
{
    if (rawType > 12)
        c.fail(field, "unknown value type " + std::to_string(rawType));
    GgufValue v;
    v.type = static_cast<GgufValue::Type>(rawType);
    switch (v.type) {
    case GgufValue::Type::U8: v.value = std::uint64_t{c.read<std::uint8_t>(field)}; break;
    case GgufValue::Type::I8: v.value = std::int64_t{c.read<std::int8_t>(field)}; break;
    case GgufValue::Type::U16: v.value = std::uint64_t{c.read<std::uint16_t>(field)}; break;
    case GgufValue::Type::I16: v.value = std::int64_t{c.read<std::int16_t>(field)}; break;
    case GgufValue::Type::U32: v.value = std::uint64_t{c.read<std::uint32_t>(field)}; break;
    case GgufValue::Type::I32: v.value = std::int64_t{c.read<std::int32_t>(field)}; break;
    case GgufValue::Type::F32: v.value = double{c.read<float>(field)}; break;
    case GgufValue::Type::Bool: {
        const auto b = c.read<std::uint8_t>(field);
        if (b > 1)
            c.fail(field, "a bool must be 0 or 1, got " + std::to_string(b));
        v.value = std::uint64_t{b};
        break;
    }
    case GgufValue::Type::String: v.value = c.string(field); break;
    case GgufValue::Type::U64: v.value = c.read<std::uint64_t>(field); break;
    case GgufValue::Type::I64: v.value = c.read<std::int64_t>(field); break;
    case GgufValue::Type::F64: v.value = c.read<double>(field); break;
    case GgufValue::Type::Array: {
        if (depth >= kMaxArrayDepth)
            c.fail(field, "arrays nested deeper than " + std::to_string(kMaxArrayDepth));
        const auto elemType = c.read<std::uint32_t>(field + " (element type)");
        if (elemType > 12)
            c.fail(field, "unknown element type " + std::to_string(elemType));
        const auto n = c.read<std::uint64_t>(field + " (count)");
        // Bounded by the bytes left before anything is allocated for it.
        if (n > c.left() / minBytes(static_cast<GgufValue::Type>(elemType)))
            c.fail(field, "count " + std::to_string(n) + " does not fit in the " + std::to_string(c.left()) +
                              " bytes left");
        std::vector<GgufValue> items;
        items.reserve(static_cast<std::size_t>(n));
        for (std::uint64_t i = 0; i < n; ++i)
            items.push_back(readValue(c, elemType, field + "[" + std::to_string(i) + "]", depth + 1));
        v.value = std::move(items);
        v.elementType = static_cast<GgufValue::Type>(elemType);
        break;
    }
    }
    return v;
}

} // namespace

const GgmlTypeTraits* ggmlTypeTraits(std::uint32_t type)
{
    for (const GgmlTypeTraits& t : kTypes)
        if (static_cast<std::uint32_t>(t.type) == type)
            return &t;
    return nullptr;
}

std::uint64_t GgufValue::toUInt(const std::string& key) const
{
    if (const auto* u = std::get_if<std::uint64_t>(&value); u && type != Type::Bool)
        return *u;
    if (const auto* i = std::get_if<std::int64_t>(&value); i && *i >= 0)
        return static_cast<std::uint64_t>(*i);
    throw Error(key + ": expected a non-negative integer");
}

const std::string& GgufValue::toString(const std::string& key) const
{
    if (const auto* s = std::get_if<std::string>(&value))
        return *s;
    throw Error(key + ": expected a string");
}

std::int64_t GgufTensorInfo::elements() const
{
    std::int64_t n = 1;
    for (std::int64_t d : dims)
        n *= d;
    return n;
}

GgufFile GgufFile::open(const std::string& path)
{
    auto file = MappedFile::open(path);
    const std::span<const std::byte> bytes = file->bytes();
    return parse(std::move(file), bytes, path);
}

GgufFile GgufFile::parse(std::shared_ptr<const void> owner, std::span<const std::byte> bytes, const std::string& source)
{
    GgufFile f;
    f.owner_ = std::move(owner);
    f.bytes_ = bytes;
    f.source_ = source;
    Cursor c(bytes, f.source_);
    if (bytes.size() < 4 || std::memcmp(bytes.data(), "GGUF", 4) != 0)
        c.fail("magic", "not a GGUF file (it does not start with \"GGUF\")");
    c.read<std::uint32_t>("magic");
    f.version_ = c.read<std::uint32_t>("version");
    if (f.version_ != 2 && f.version_ != 3)
        throw UnsupportedError(source + ": version: GGUF version " + std::to_string(f.version_) +
                               " (Leger reads versions 2 and 3)");
    const auto tensorCount = c.read<std::uint64_t>("tensor_count");
    const auto kvCount = c.read<std::uint64_t>("metadata_kv_count");
    // Each metadata entry takes at least 8 + 4 + 1 bytes, each tensor entry 8 + 4 + 8 + 4 + 8.
    if (kvCount > c.left() / 13)
        c.fail("metadata_kv_count", std::to_string(kvCount) + " entries do not fit in a file of " +
                                        std::to_string(bytes.size()) + " bytes");
    if (tensorCount > c.left() / 32)
        c.fail("tensor_count", std::to_string(tensorCount) + " tensors do not fit in a file of " +
                                   std::to_string(bytes.size()) + " bytes");
    for (std::uint64_t i = 0; i < kvCount; ++i) {
        const std::string where = "metadata[" + std::to_string(i) + "]";
        std::string key = c.string(where + ".key");
        const auto type = c.read<std::uint32_t>(where + " (" + key + ").type");
        GgufValue v = readValue(c, type, key, 0);
        if (!f.metadata_.emplace(key, std::move(v)).second)
            c.fail(where, "the key '" + key + "' is given twice");
    }
    if (const GgufValue* a = f.find("general.alignment")) {
        if (a->type != GgufValue::Type::U32)
            c.fail("general.alignment", "expected a u32");
        f.alignment_ = a->toUInt("general.alignment");
        if (f.alignment_ == 0 || (f.alignment_ & (f.alignment_ - 1)) != 0)
            c.fail("general.alignment", std::to_string(f.alignment_) + " is not a power of two");
    }
    std::set<std::string, std::less<>> names;
    f.tensors_.reserve(static_cast<std::size_t>(tensorCount));
    for (std::uint64_t i = 0; i < tensorCount; ++i) {
        GgufTensorInfo t;
        const std::string where = "tensors[" + std::to_string(i) + "]";
        t.name = c.string(where + ".name");
        const std::string field = where + " (" + t.name + ")";
        if (!names.insert(t.name).second)
            c.fail(field, "a tensor of this name is listed twice");
        const auto nDims = c.read<std::uint32_t>(field + ".n_dims");
        if (nDims == 0 || nDims > kMaxDims)
            c.fail(field + ".n_dims", std::to_string(nDims) + " is outside 1.." + std::to_string(kMaxDims));
        std::uint64_t elements = 1;
        for (std::uint32_t d = 0; d < nDims; ++d) {
            const auto n = c.read<std::uint64_t>(field + ".dims[" + std::to_string(d) + "]");
            if (n == 0 || n > (std::uint64_t{1} << 40) || elements > (std::uint64_t{1} << 62) / n)
                c.fail(field + ".dims[" + std::to_string(d) + "]", std::to_string(n) + " is not a usable dimension");
            elements *= n;
            t.dims.push_back(static_cast<std::int64_t>(n));
        }
        const auto type = c.read<std::uint32_t>(field + ".type");
        const GgmlTypeTraits* traits = ggmlTypeTraits(type);
        if (!traits)
            throw UnsupportedError(source + ": " + field + ".type: ggml type " + std::to_string(type) +
                                   " is not known to Leger");
        t.type = traits->type;
        if (t.dims[0] % traits->blockSize != 0)
            c.fail(field + ".dims[0]", std::to_string(t.dims[0]) + " is not a multiple of " + traits->name +
                                           "'s block of " + std::to_string(traits->blockSize));
        t.bytes = elements / static_cast<std::uint64_t>(traits->blockSize) * static_cast<std::uint64_t>(traits->blockBytes);
        t.offset = c.read<std::uint64_t>(field + ".offset");
        f.tensors_.push_back(std::move(t));
    }
    // The data section starts at the next multiple of the alignment.
    f.dataOffset_ = (c.pos() + f.alignment_ - 1) / f.alignment_ * f.alignment_;
    const std::uint64_t dataBytes = bytes.size() >= f.dataOffset_ ? bytes.size() - f.dataOffset_ : 0;
    if (!f.tensors_.empty() && bytes.size() < f.dataOffset_)
        c.fail("data", "the file ends before its data section (byte " + std::to_string(f.dataOffset_) + ")");
    // Tensors: aligned, inside the data section, not overlapping.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
    for (const GgufTensorInfo& t : f.tensors_) {
        const std::string field = "tensor '" + t.name + "'.offset";
        if (t.offset % f.alignment_ != 0)
            c.fail(field, std::to_string(t.offset) + " is not a multiple of the alignment " + std::to_string(f.alignment_));
        if (t.offset > dataBytes || t.bytes > dataBytes - t.offset)
            c.fail(field, "its " + std::to_string(t.bytes) + " bytes at " + std::to_string(t.offset) +
                              " go beyond the data section (" + std::to_string(dataBytes) + " bytes)");
        ranges.emplace_back(t.offset, t.offset + t.bytes);
    }
    std::sort(ranges.begin(), ranges.end());
    for (std::size_t i = 1; i < ranges.size(); ++i)
        if (ranges[i].first < ranges[i - 1].second)
            c.fail("tensors", "two tensors overlap at data offset " + std::to_string(ranges[i].first));
    return f;
}

const GgufValue* GgufFile::find(std::string_view key) const
{
    auto it = metadata_.find(key);
    return it == metadata_.end() ? nullptr : &it->second;
}

const GgufTensorInfo* GgufFile::tensor(std::string_view name) const
{
    for (const GgufTensorInfo& t : tensors_)
        if (t.name == name)
            return &t;
    return nullptr;
}

std::span<const std::byte> GgufFile::data(const GgufTensorInfo& t) const
{
    return bytes_.subspan(static_cast<std::size_t>(dataOffset_ + t.offset), static_cast<std::size_t>(t.bytes));
}

namespace {

float half(const std::byte* p)
{
    Half h;
    std::memcpy(&h.bits, p, 2);
    return h.toFloat();
}

} // namespace

void dequantizeBlocks(GgmlType type, const std::byte* in, std::int64_t blocks, float* out)
{
    const auto* q = reinterpret_cast<const std::uint8_t*>(in);
    for (std::int64_t b = 0; b < blocks; ++b, out += 32) {
        switch (type) {
        case GgmlType::Q8_0: { // f16 d, i8 qs[32]: x = q * d
            const float d = half(in);
            for (int j = 0; j < 32; ++j)
                out[j] = static_cast<float>(static_cast<std::int8_t>(q[2 + j])) * d;
            in += 34;
            q += 34;
            break;
        }
        case GgmlType::Q4_0: { // f16 d, u8 qs[16]: low nibbles are weights 0..15, high 16..31; x = (q - 8) * d
            const float d = half(in);
            for (int j = 0; j < 16; ++j) {
                out[j] = static_cast<float>((q[2 + j] & 0x0F) - 8) * d;
                out[j + 16] = static_cast<float>((q[2 + j] >> 4) - 8) * d;
            }
            in += 18;
            q += 18;
            break;
        }
        case GgmlType::Q4_1: { // f16 d, f16 m, u8 qs[16]: x = q * d + m
            const float d = half(in), m = half(in + 2);
            for (int j = 0; j < 16; ++j) {
                out[j] = static_cast<float>(q[4 + j] & 0x0F) * d + m;
                out[j + 16] = static_cast<float>(q[4 + j] >> 4) * d + m;
            }
            in += 20;
            q += 20;
            break;
        }
        case GgmlType::Q5_0: { // f16 d, u32 qh (fifth bits), u8 qs[16]: x = (q - 16) * d
            const float d = half(in);
            std::uint32_t qh;
            std::memcpy(&qh, in + 2, 4);
            for (int j = 0; j < 16; ++j) {
                const int lo = (q[6 + j] & 0x0F) | static_cast<int>(((qh >> j) << 4) & 0x10);
                const int hi = (q[6 + j] >> 4) | static_cast<int>((qh >> (j + 12)) & 0x10);
                out[j] = static_cast<float>(lo - 16) * d;
                out[j + 16] = static_cast<float>(hi - 16) * d;
            }
            in += 22;
            q += 22;
            break;
        }
        case GgmlType::Q5_1: { // f16 d, f16 m, u32 qh, u8 qs[16]: x = q * d + m
            const float d = half(in), m = half(in + 2);
            std::uint32_t qh;
            std::memcpy(&qh, in + 4, 4);
            for (int j = 0; j < 16; ++j) {
                const int lo = (q[8 + j] & 0x0F) | static_cast<int>(((qh >> j) << 4) & 0x10);
                const int hi = (q[8 + j] >> 4) | static_cast<int>((qh >> (j + 12)) & 0x10);
                out[j] = static_cast<float>(lo) * d + m;
                out[j + 16] = static_cast<float>(hi) * d + m;
            }
            in += 24;
            q += 24;
            break;
        }
        default: throw UnsupportedError(std::string("dequantizing ggml type ") + ggmlTypeTraits(static_cast<std::uint32_t>(type))->name);
        }
    }
}

namespace {

/// The 6-bit scale and minimum of sub-block j of a Q4_K/Q5_K super-block (12 packed bytes).
void scaleMin(int j, const std::uint8_t* s, int& scale, int& min)
{
    if (j < 4) {
        scale = s[j] & 63;
        min = s[j + 4] & 63;
    } else {
        scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

} // namespace

void dequantizeSuperBlocks(GgmlType type, const std::byte* in, std::int64_t blocks, float* y)
{
    const auto* b = reinterpret_cast<const std::uint8_t*>(in);
    for (std::int64_t i = 0; i < blocks; ++i) {
        switch (type) {
        case GgmlType::Q2_K: { // scales[16] (scale | min << 4), qs[64] (2 bits), f16 d, f16 dmin
            const std::uint8_t* sc = b;
            const std::uint8_t* q = b + 16;
            const float d = half(in + 80), min = half(in + 82);
            int is = 0;
            for (int n = 0; n < 256; n += 128, q += 32)
                for (int shift = 0; shift < 8; shift += 2)
                    for (int part = 0; part < 2; ++part, ++is) {
                        const float dl = d * static_cast<float>(sc[is] & 0x0F), ml = min * static_cast<float>(sc[is] >> 4);
                        for (int l = 0; l < 16; ++l)
                            *y++ = dl * static_cast<float>((q[l + 16 * part] >> shift) & 3) - ml;
                    }
            b += 84;
            in += 84;
            break;
        }
        case GgmlType::Q3_K: { // hmask[32], qs[64] (2 low bits), scales[12] (6 bits, packed), f16 d
            const std::uint8_t* hm = b;
            const std::uint8_t* q = b + 32;
            const std::uint8_t* s = b + 96;
            const float d = half(in + 108);
            int scales[16];
            for (int j = 0; j < 16; ++j)
                scales[j] = ((j < 8 ? s[j] & 0x0F : s[j - 8] >> 4) | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
            int is = 0;
            std::uint8_t m = 1;
            for (int n = 0; n < 256; n += 128, q += 32)
                for (int shift = 0; shift < 8; shift += 2, m = static_cast<std::uint8_t>(m << 1))
                    for (int part = 0; part < 2; ++part, ++is) {
                        const float dl = d * static_cast<float>(scales[is]);
                        for (int l = 0; l < 16; ++l) {
                            const int k = l + 16 * part;
                            *y++ = dl * static_cast<float>(((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4));
                        }
                    }
            b += 110;
            in += 110;
            break;
        }
        case GgmlType::Q4_K:
        case GgmlType::Q5_K: { // f16 d, f16 dmin, scales[12], (Q5_K: qh[32]), qs[128]
            const bool five = type == GgmlType::Q5_K;
            const float d = half(in), min = half(in + 2);
            const std::uint8_t* s = b + 4;
            const std::uint8_t* qh = b + 16;
            const std::uint8_t* q = b + (five ? 48 : 16);
            for (int j = 0; j < 8; j += 2, q += 32) {
                int sc1, m1, sc2, m2;
                scaleMin(j, s, sc1, m1);
                scaleMin(j + 1, s, sc2, m2);
                const float d1 = d * static_cast<float>(sc1), mm1 = min * static_cast<float>(m1);
                const float d2 = d * static_cast<float>(sc2), mm2 = min * static_cast<float>(m2);
                for (int l = 0; l < 32; ++l)
                    *y++ = d1 * static_cast<float>((q[l] & 0x0F) + (five && (qh[l] >> j) & 1 ? 16 : 0)) - mm1;
                for (int l = 0; l < 32; ++l)
                    *y++ = d2 * static_cast<float>((q[l] >> 4) + (five && (qh[l] >> (j + 1)) & 1 ? 16 : 0)) - mm2;
            }
            b += five ? 176 : 144;
            in += five ? 176 : 144;
            break;
        }
        case GgmlType::Q6_K: { // ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], f16 d
            const std::uint8_t* ql = b;
            const std::uint8_t* qh = b + 128;
            const auto* sc = reinterpret_cast<const std::int8_t*>(b + 192);
            const float d = half(in + 208);
            for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8)
                for (int l = 0; l < 32; ++l) {
                    const int is = l / 16;
                    const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
                    y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
                    y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
                    y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
                }
            b += 210;
            in += 210;
            break;
        }
        default: throw UnsupportedError(std::string("dequantizing ggml type ") + ggmlTypeTraits(static_cast<std::uint32_t>(type))->name);
        }
    }
}

Tensor GgufFile::toFloat(const GgufTensorInfo& t) const
{
    Shape shape(t.dims.rbegin(), t.dims.rend());
    Tensor out(DType::Float32, shape);
    float* y = out.data<float>();
    const std::byte* p = data(t).data();
    const std::int64_t n = t.elements();
    switch (t.type) {
    case GgmlType::F32: std::memcpy(y, p, static_cast<std::size_t>(n) * 4); break;
    case GgmlType::F16:
        for (std::int64_t i = 0; i < n; ++i)
            y[i] = half(p + 2 * i);
        break;
    case GgmlType::BF16:
        for (std::int64_t i = 0; i < n; ++i) {
            std::uint32_t bits = 0;
            std::memcpy(reinterpret_cast<std::byte*>(&bits) + 2, p + 2 * i, 2);
            std::memcpy(&y[i], &bits, 4);
        }
        break;
    case GgmlType::Q8_0:
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q5_0:
    case GgmlType::Q5_1: dequantizeBlocks(t.type, p, n / 32, y); break;
    case GgmlType::Q2_K:
    case GgmlType::Q3_K:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K: dequantizeSuperBlocks(t.type, p, n / 256, y); break;
    default:
        throw UnsupportedError(source_ + ": tensor '" + t.name + "' is " + ggmlTypeTraits(static_cast<std::uint32_t>(t.type))->name +
                               ", which Leger does not decode yet");
    }
    return out;
}

} // namespace leger
