#include "data/Dataset.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <stb_image.h>
#include <zlib.h>

#include "io/NpyIO.h"
#include "util/Error.h"

namespace leger {

namespace fs = std::filesystem;

namespace {

/// Reads a file through zlib, which passes uncompressed files through unchanged.
std::string readMaybeGzip(const std::string& path)
{
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        throw Error(path + ": no such file");
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f)
        throw Error(path + ": cannot open file");
    std::string out;
    char buf[1 << 16];
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0)
        out.append(buf, static_cast<std::size_t>(n));
    int err = Z_OK;
    const char* msg = gzerror(f, &err);
    const std::string why = msg ? msg : "";
    gzclose(f);
    if (n < 0 || (err != Z_OK && err != Z_STREAM_END))
        throw Error(path + ": corrupt or truncated gzip data (" + why + ")");
    return out;
}

std::uint32_t bigEndian32(const std::string& b, std::size_t at)
{
    return (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) << 24) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8) |
           static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3]));
}

Tensor firstRows(const Tensor& t, std::int64_t limit)
{
    if (limit <= 0 || t.rank() == 0 || limit >= t.dim(0))
        return t;
    Shape s = t.shape();
    s[0] = limit;
    Tensor out(t.dtype(), s);
    std::memcpy(out.raw(), t.raw(), out.byteSize());
    return out;
}

Tensor labelsAsInt64(const Tensor& y, const std::string& what)
{
    if (!isInteger(y.dtype()))
        throw Error(what + ": labels must be integers, got " + std::string(dtypeName(y.dtype())));
    if (y.rank() != 1)
        throw Error(what + ": labels must be one-dimensional, got shape " + shapeToString(y.shape()));
    Tensor out(DType::Int64, y.shape());
    const auto v = y.toInt64Vector();
    std::copy(v.begin(), v.end(), out.data<std::int64_t>());
    return out;
}

void checkSameCount(const Dataset& d, const std::string& what)
{
    if (d.samples.rank() == 0)
        throw Error(what + ": samples must have a first (sample) axis");
    if (d.hasLabels() && d.labels.dim(0) != d.samples.dim(0))
        throw Error(what + ": " + std::to_string(d.samples.dim(0)) + " samples but " +
                    std::to_string(d.labels.dim(0)) + " labels");
}

bool endsWith(const std::string& s, const std::string& suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

Tensor Dataset::readIdxTensor(const std::string& path, std::int64_t limit)
{
    const std::string b = readMaybeGzip(path);
    if (b.size() < 4 || b[0] != 0 || b[1] != 0)
        throw Error(path + ": not an IDX file (bad magic)");
    const int typeCode = static_cast<unsigned char>(b[2]);
    const int rank = static_cast<unsigned char>(b[3]);
    DType dtype;
    switch (typeCode) {
    case 0x08: dtype = DType::UInt8; break;
    case 0x09: dtype = DType::Int8; break;
    case 0x0B: dtype = DType::Int16; break;
    case 0x0C: dtype = DType::Int32; break;
    case 0x0D: dtype = DType::Float32; break;
    case 0x0E: dtype = DType::Float64; break;
    default: throw Error(path + ": unknown IDX element type 0x" + std::to_string(typeCode));
    }
    if (rank < 1 || b.size() < 4 + 4 * static_cast<std::size_t>(rank))
        throw Error(path + ": truncated IDX header");
    Shape shape;
    for (int i = 0; i < rank; ++i)
        shape.push_back(bigEndian32(b, 4 + 4 * static_cast<std::size_t>(i)));
    const std::size_t header = 4 + 4 * static_cast<std::size_t>(rank);
    const std::size_t elem = dtypeSize(dtype);
    // Check the size before allocating: a hostile header must not drive a huge allocation.
    std::int64_t perSample = 1;
    for (int i = 1; i < rank; ++i) {
        if (shape[static_cast<std::size_t>(i)] != 0 && perSample > (std::int64_t{1} << 40) / shape[static_cast<std::size_t>(i)])
            throw Error(path + ": implausible IDX dimensions");
        perSample *= shape[static_cast<std::size_t>(i)];
    }
    const auto available = static_cast<std::int64_t>(b.size() - header);
    if (perSample > 0 && shape[0] > available / (perSample * static_cast<std::int64_t>(elem)))
        throw Error(path + ": IDX data is shorter than its header says (truncated?)");
    if (static_cast<std::int64_t>(b.size() - header) != shape[0] * perSample * static_cast<std::int64_t>(elem))
        throw Error(path + ": IDX data size does not match its header");
    if (limit > 0 && limit < shape[0])
        shape[0] = limit;
    Tensor t(dtype, shape);
    const unsigned char* src = reinterpret_cast<const unsigned char*>(b.data() + header);
    // IDX stores multi-byte values big-endian.
    for (std::size_t i = 0; i < t.byteSize(); i += elem)
        for (std::size_t k = 0; k < elem; ++k)
            reinterpret_cast<unsigned char*>(t.raw())[i + k] = src[i + elem - 1 - k];
    return t;
}

Dataset Dataset::readIdx(const std::string& imagesPath, std::int64_t limit)
{
    Dataset d;
    d.source = imagesPath;
    d.samples = readIdxTensor(imagesPath, limit);
    const std::string marker = "-images-idx3-ubyte";
    const auto at = imagesPath.rfind(marker);
    if (at != std::string::npos) {
        const std::string labelsPath =
            imagesPath.substr(0, at) + "-labels-idx1-ubyte" + imagesPath.substr(at + marker.size());
        if (fs::exists(labelsPath))
            d.labels = labelsAsInt64(readIdxTensor(labelsPath, limit), labelsPath);
    }
    checkSameCount(d, imagesPath);
    return d;
}

Dataset Dataset::readNpz(const std::string& path, std::int64_t limit)
{
    auto arrays = NpyIO::readNpz(path);
    auto x = arrays.find("x");
    if (x == arrays.end())
        throw Error(path + ": the archive has no array named 'x' (samples)");
    Dataset d;
    d.source = path;
    d.samples = firstRows(x->second, limit);
    if (auto y = arrays.find("y"); y != arrays.end())
        d.labels = labelsAsInt64(firstRows(y->second, limit), path + ": array 'y'");
    checkSameCount(d, path);
    return d;
}

Dataset Dataset::readNpyPair(const std::string& xPath, const std::string& yPath, std::int64_t limit)
{
    Dataset d;
    d.source = xPath;
    d.samples = firstRows(NpyIO::readNpy(xPath), limit);
    if (!yPath.empty())
        d.labels = labelsAsInt64(firstRows(NpyIO::readNpy(yPath), limit), yPath);
    checkSameCount(d, xPath);
    return d;
}

Dataset Dataset::readImageFolder(const std::string& dir, std::int64_t limit)
{
    std::vector<fs::path> classes;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_directory())
            classes.push_back(e.path());
    std::sort(classes.begin(), classes.end());
    if (classes.empty())
        throw Error(dir + ": expected one subfolder of images per label, found none");
    struct Item {
        fs::path file;
        std::int64_t label;
    };
    std::vector<Item> items;
    Dataset d;
    d.source = dir;
    for (std::size_t c = 0; c < classes.size(); ++c) {
        d.classNames.push_back(classes[c].filename().string());
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(classes[c]))
            if (e.is_regular_file())
                files.push_back(e.path());
        std::sort(files.begin(), files.end());
        for (auto& f : files)
            items.push_back({f, static_cast<std::int64_t>(c)});
    }
    if (items.empty())
        throw Error(dir + ": the label folders contain no images");
    if (limit > 0 && static_cast<std::size_t>(limit) < items.size()) {
        // Keep the classes mixed: take every k-th image rather than the first folder only.
        std::vector<Item> kept;
        const double step = static_cast<double>(items.size()) / static_cast<double>(limit);
        for (std::int64_t i = 0; i < limit; ++i)
            kept.push_back(items[static_cast<std::size_t>(static_cast<double>(i) * step)]);
        items = std::move(kept);
    }
    int w0 = 0, h0 = 0, c0 = 0;
    d.labels = Tensor(DType::Int64, {static_cast<std::int64_t>(items.size())});
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string file = items[i].file.string();
        int w, h, c;
        if (!stbi_info(file.c_str(), &w, &h, &c))
            throw Error(file + ": not a readable image (" + stbi_failure_reason() + ")");
        if (i == 0) {
            w0 = w;
            h0 = h;
            c0 = c == 2 ? 1 : c == 4 ? 3 : c; // alpha is dropped
            d.samples = Tensor(DType::UInt8, {static_cast<std::int64_t>(items.size()), h0, w0, c0});
        } else if (w != w0 || h != h0) {
            throw Error(file + ": image is " + std::to_string(w) + "x" + std::to_string(h) + ", the first image is " +
                        std::to_string(w0) + "x" + std::to_string(h0) + " (all images must have one size)");
        }
        int got;
        unsigned char* px = stbi_load(file.c_str(), &w, &h, &got, c0);
        if (!px)
            throw Error(file + ": cannot decode image (" + stbi_failure_reason() + ")");
        std::memcpy(d.samples.data<std::uint8_t>() + i * static_cast<std::size_t>(h0 * w0 * c0), px,
                    static_cast<std::size_t>(h0 * w0 * c0));
        stbi_image_free(px);
        d.labels.data<std::int64_t>()[i] = items[i].label;
    }
    return d;
}

Dataset Dataset::read(const std::string& path, std::int64_t limit)
{
    std::error_code ec;
    if (fs::is_directory(path, ec))
        return readImageFolder(path, limit);
    if (!fs::exists(path, ec))
        throw Error(path + ": no such file or folder");
    if (endsWith(path, ".npz"))
        return readNpz(path, limit);
    if (endsWith(path, ".npy")) {
        // x.npy pairs with y.npy; any other name with <name>-labels.npy or none.
        const fs::path p(path);
        fs::path y = p.filename() == "x.npy" ? p.parent_path() / "y.npy"
                                             : p.parent_path() / (p.stem().string() + "-labels.npy");
        return readNpyPair(path, fs::exists(y, ec) ? y.string() : std::string(), limit);
    }
    if (path.find("idx") != std::string::npos || endsWith(path, "-ubyte") || endsWith(path, "-ubyte.gz"))
        return readIdx(path, limit);
    throw Error(path + ": unknown data format (expected IDX, .npz, .npy, or a folder of label subfolders)");
}

} // namespace leger
