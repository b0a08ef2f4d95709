#include "io/NpyIO.h"

#include <cstring>

#include "io/ZipArchive.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

namespace leger {

namespace {

struct Descr {
    const char* code;
    DType dtype;
};
constexpr Descr kDescrs[] = {
    {"<f4", DType::Float32}, {"<f8", DType::Float64}, {"<f2", DType::Float16}, {"|i1", DType::Int8},
    {"|u1", DType::UInt8},   {"<i2", DType::Int16},   {"<u2", DType::UInt16},  {"<i4", DType::Int32},
    {"<u4", DType::UInt32},  {"<i8", DType::Int64},   {"<u8", DType::UInt64},  {"|b1", DType::Bool},
};

/// The value text after 'key': in a .npy header dict.
std::string field(const std::string& header, const std::string& key, const std::string& what)
{
    const std::size_t k = header.find("'" + key + "'");
    if (k == std::string::npos)
        throw Error(what + ": .npy header has no '" + key + "'");
    std::size_t p = header.find(':', k);
    if (p == std::string::npos)
        throw Error(what + ": malformed .npy header");
    ++p;
    while (p < header.size() && header[p] == ' ')
        ++p;
    if (p < header.size() && header[p] == '(') {
        const std::size_t e = header.find(')', p);
        if (e == std::string::npos)
            throw Error(what + ": malformed .npy shape");
        return header.substr(p + 1, e - p - 1);
    }
    if (p < header.size() && header[p] == '\'') {
        const std::size_t e = header.find('\'', p + 1);
        if (e == std::string::npos)
            throw Error(what + ": malformed .npy header");
        return header.substr(p + 1, e - p - 1);
    }
    std::size_t e = p;
    while (e < header.size() && header[e] != ',' && header[e] != '}')
        ++e;
    return header.substr(p, e - p);
}

} // namespace

Tensor NpyIO::parseNpy(const std::string& b, const std::string& what)
{
    if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0)
        throw Error(what + ": not a .npy file (bad magic)");
    const int major = static_cast<unsigned char>(b[6]);
    std::size_t headerLen, headerAt;
    if (major == 1) {
        headerLen = static_cast<unsigned char>(b[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(b[9])) << 8);
        headerAt = 10;
    } else if (major == 2 || major == 3) {
        if (b.size() < 12)
            throw Error(what + ": truncated .npy header");
        headerLen = 0;
        for (int i = 3; i >= 0; --i)
            headerLen = (headerLen << 8) | static_cast<unsigned char>(b[8 + static_cast<std::size_t>(i)]);
        headerAt = 12;
    } else {
        throw Error(what + ": unsupported .npy version " + std::to_string(major));
    }
    if (headerAt + headerLen > b.size())
        throw Error(what + ": truncated .npy header");
    const std::string header = b.substr(headerAt, headerLen);
    const std::string descr = field(header, "descr", what);
    DType dtype = DType::Undefined;
    for (const auto& d : kDescrs)
        if (descr == d.code || (descr.size() == 3 && descr[0] == '=' && descr.substr(1) == std::string(d.code).substr(1)))
            dtype = d.dtype;
    if (dtype == DType::Undefined)
        throw UnsupportedError(what + ": .npy element type '" + descr + "' is not supported (expected little-endian "
                                      "numbers or bool)");
    if (field(header, "fortran_order", what).find("True") != std::string::npos)
        throw UnsupportedError(what + ": Fortran-ordered arrays are not supported; save with np.ascontiguousarray");
    Shape shape;
    const std::string dims = field(header, "shape", what);
    std::size_t p = 0;
    while (p < dims.size()) {
        while (p < dims.size() && (dims[p] == ' ' || dims[p] == ','))
            ++p;
        if (p >= dims.size())
            break;
        std::size_t used = 0;
        long long v = 0;
        try {
            v = std::stoll(dims.substr(p), &used);
        } catch (...) {
            throw Error(what + ": malformed .npy shape '" + dims + "'");
        }
        if (v < 0)
            throw Error(what + ": negative dimension in .npy shape");
        shape.push_back(v);
        p += used;
    }
    Tensor t(dtype, shape);
    const std::size_t dataAt = headerAt + headerLen;
    if (b.size() - dataAt != t.byteSize())
        throw Error(what + ": .npy data has " + std::to_string(b.size() - dataAt) + " bytes, shape " +
                    shapeToString(shape) + " needs " + std::to_string(t.byteSize()) + " (truncated?)");
    if (t.byteSize())
        std::memcpy(t.raw(), b.data() + dataAt, t.byteSize());
    return t;
}

Tensor NpyIO::readNpy(const std::string& path) { return parseNpy(readFile(path), path); }

std::map<std::string, Tensor> NpyIO::readNpz(const std::string& path)
{
    std::map<std::string, Tensor> out;
    for (auto& [name, bytes] : ZipArchive::readAll(path)) {
        std::string key = name;
        if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0)
            key.resize(key.size() - 4);
        out.emplace(key, parseNpy(bytes, path + ": array '" + key + "'"));
    }
    return out;
}

std::string NpyIO::serializeNpy(const Tensor& t)
{
    const char* code = nullptr;
    for (const auto& d : kDescrs)
        if (d.dtype == t.dtype())
            code = d.code;
    if (!code)
        throw UnsupportedError(std::string("cannot write a ") + std::string(dtypeName(t.dtype())) + " tensor as .npy");
    std::string dict = std::string("{'descr': '") + code + "', 'fortran_order': False, 'shape': (";
    for (std::size_t i = 0; i < t.shape().size(); ++i)
        dict += std::to_string(t.shape()[i]) + (t.shape().size() == 1 ? "," : (i + 1 < t.shape().size() ? ", " : ""));
    dict += "), }";
    // Pad with spaces so that the data starts on a 64-byte boundary, ending with '\n'.
    const std::size_t total = (10 + dict.size() + 1 + 63) / 64 * 64;
    dict.append(total - 10 - dict.size() - 1, ' ');
    dict += '\n';
    std::string out("\x93NUMPY\x01\x00", 8);
    out.push_back(static_cast<char>(dict.size() & 0xff));
    out.push_back(static_cast<char>(dict.size() >> 8));
    out += dict;
    out.append(reinterpret_cast<const char*>(t.raw()), t.byteSize());
    return out;
}

void NpyIO::writeNpy(const std::string& path, const Tensor& t) { writeFileAtomically(path, serializeNpy(t)); }

void NpyIO::writeNpz(const std::string& path, const std::map<std::string, Tensor>& arrays)
{
    std::vector<std::pair<std::string, std::string>> members;
    for (const auto& [name, t] : arrays)
        members.emplace_back(name + ".npy", serializeNpy(t));
    writeFileAtomically(path, ZipArchive::write(members));
}

} // namespace leger
