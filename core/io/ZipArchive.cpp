#include "io/ZipArchive.h"

#include <cstring>

#include <zlib.h>

#include "util/AtomicFile.h"
#include "util/Error.h"

namespace leger {

namespace {

std::uint64_t le(const std::string& b, std::size_t at, int bytes, const std::string& path)
{
    if (at + static_cast<std::size_t>(bytes) > b.size())
        throw Error(path + ": ZIP structure points past the end of the file (truncated?)");
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i)
        v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<std::size_t>(i)]);
    return v;
}

void put(std::string& out, std::uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; ++i)
        out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string inflateRaw(const char* data, std::size_t size, std::size_t expected, const std::string& where)
{
    std::string out(expected, '\0');
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
        throw Error(where + ": cannot initialise zlib");
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    zs.avail_in = static_cast<uInt>(size);
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(expected);
    const int rc = inflate(&zs, Z_FINISH);
    const std::size_t produced = zs.total_out;
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || produced != expected)
        throw Error(where + ": corrupt compressed data");
    return out;
}

} // namespace

std::vector<std::pair<std::string, std::string>> ZipArchive::readAll(const std::string& path)
{
    const std::string b = readFile(path);
    // End of central directory: 22 bytes + comment (at most 65535), found from the end.
    if (b.size() < 22)
        throw Error(path + ": not a ZIP/.npz archive (too short)");
    std::size_t eocd = std::string::npos;
    const std::size_t lowest = b.size() > 22 + 65535 ? b.size() - 22 - 65535 : 0;
    for (std::size_t i = b.size() - 22 + 1; i-- > lowest;) {
        if (le(b, i, 4, path) == 0x06054b50) {
            eocd = i;
            break;
        }
    }
    if (eocd == std::string::npos)
        throw Error(path + ": not a ZIP/.npz archive (no end-of-directory record)");
    std::uint64_t count = le(b, eocd + 10, 2, path);
    std::uint64_t cdOffset = le(b, eocd + 16, 4, path);
    if ((count == 0xffff || cdOffset == 0xffffffff) && eocd >= 20 && le(b, eocd - 20, 4, path) == 0x07064b50) {
        const std::uint64_t z64 = le(b, eocd - 20 + 8, 8, path);
        if (le(b, z64, 4, path) != 0x06064b50)
            throw Error(path + ": corrupt ZIP64 directory");
        count = le(b, z64 + 32, 8, path);
        cdOffset = le(b, z64 + 48, 8, path);
    }
    std::vector<std::pair<std::string, std::string>> members;
    std::size_t p = cdOffset;
    for (std::uint64_t k = 0; k < count; ++k) {
        if (le(b, p, 4, path) != 0x02014b50)
            throw Error(path + ": corrupt ZIP central directory");
        const auto method = le(b, p + 10, 2, path);
        const auto crc = static_cast<std::uint32_t>(le(b, p + 16, 4, path));
        std::uint64_t csize = le(b, p + 20, 4, path);
        std::uint64_t usize = le(b, p + 24, 4, path);
        const auto nameLen = le(b, p + 28, 2, path);
        const auto extraLen = le(b, p + 30, 2, path);
        const auto commentLen = le(b, p + 32, 2, path);
        std::uint64_t local = le(b, p + 42, 4, path);
        if (p + 46 + nameLen > b.size())
            throw Error(path + ": corrupt ZIP central directory");
        const std::string name = b.substr(p + 46, nameLen);
        // ZIP64 extra field: the 0xffffffff values follow in order usize, csize, offset.
        std::size_t e = p + 46 + nameLen;
        const std::size_t eEnd = e + extraLen;
        while (e + 4 <= eEnd) {
            const auto id = le(b, e, 2, path);
            const auto len = le(b, e + 2, 2, path);
            if (id == 0x0001) {
                std::size_t q = e + 4;
                if (usize == 0xffffffff) { usize = le(b, q, 8, path); q += 8; }
                if (csize == 0xffffffff) { csize = le(b, q, 8, path); q += 8; }
                if (local == 0xffffffff) { local = le(b, q, 8, path); q += 8; }
            }
            e += 4 + len;
        }
        const std::string where = path + ": member '" + name + "'";
        if (le(b, local, 4, path) != 0x04034b50)
            throw Error(where + ": corrupt local header");
        const std::size_t dataAt = local + 30 + le(b, local + 26, 2, path) + le(b, local + 28, 2, path);
        if (dataAt > b.size() || csize > b.size() - dataAt)
            throw Error(where + ": data runs past the end of the file (truncated?)");
        if (usize > (std::uint64_t{1} << 40))
            throw Error(where + ": implausible size " + std::to_string(usize));
        std::string data;
        if (method == 0) {
            if (csize != usize)
                throw Error(where + ": stored member with inconsistent sizes");
            data = b.substr(dataAt, csize);
        } else if (method == 8) {
            data = inflateRaw(b.data() + dataAt, csize, usize, where);
        } else {
            throw Error(where + ": compression method " + std::to_string(method) + " is not supported");
        }
        const auto actual = static_cast<std::uint32_t>(
            crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
        if (actual != crc)
            throw Error(where + ": CRC mismatch (corrupt file)");
        members.emplace_back(name, std::move(data));
        p += 46 + nameLen + extraLen + commentLen;
    }
    return members;
}

std::string ZipArchive::write(const std::vector<std::pair<std::string, std::string>>& members)
{
    std::string out, central;
    for (const auto& [name, data] : members) {
        if (data.size() >= 0xffffffffu || out.size() >= 0xffffffffu)
            throw Error("archive member '" + name + "' is too large for a plain ZIP");
        const auto crc = static_cast<std::uint32_t>(
            crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
        const std::size_t offset = out.size();
        put(out, 0x04034b50, 4);
        put(out, 20, 2);  // version needed
        put(out, 0, 2);   // flags
        put(out, 0, 2);   // stored
        put(out, 0, 2);   // time
        put(out, 0x21, 2); // date: 1980-01-01
        put(out, crc, 4);
        put(out, data.size(), 4);
        put(out, data.size(), 4);
        put(out, name.size(), 2);
        put(out, 0, 2);
        out += name;
        out += data;
        put(central, 0x02014b50, 4);
        put(central, 20, 2); // made by
        put(central, 20, 2);
        put(central, 0, 2);
        put(central, 0, 2);
        put(central, 0, 2);
        put(central, 0x21, 2);
        put(central, crc, 4);
        put(central, data.size(), 4);
        put(central, data.size(), 4);
        put(central, name.size(), 2);
        put(central, 0, 2);
        put(central, 0, 2);
        put(central, 0, 2);
        put(central, 0, 2);
        put(central, 0, 4);
        put(central, offset, 4);
        central += name;
    }
    const std::size_t cdOffset = out.size();
    out += central;
    put(out, 0x06054b50, 4);
    put(out, 0, 2);
    put(out, 0, 2);
    put(out, members.size(), 2);
    put(out, members.size(), 2);
    put(out, central.size(), 4);
    put(out, cdOffset, 4);
    put(out, 0, 2);
    return out;
}

} // namespace leger
