#include "io/LegerContainer.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <type_traits>
#include <unordered_map>

#include <google/protobuf/io/coded_stream.h>
#include <onnx/onnx_pb.h>

#include "compress/Plan.h"
#include "compress/Pruner.h"
#include "compress/SizeReport.h"
#include "io/OnnxReader.h"
#include "model/Half.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

namespace leger {

namespace {

constexpr unsigned char kMagic[8] = {0x89, 'L', 'E', 'G', 'E', 'R', 0x0d, 0x0a};

bool isNM(SparsityPattern p) { return p == SparsityPattern::N2M4 || p == SparsityPattern::N4M8; }
int nmM(SparsityPattern p) { return p == SparsityPattern::N2M4 ? 4 : 8; }
int nmIndexBits(SparsityPattern p) { return p == SparsityPattern::N2M4 ? 2 : 3; }

/// Whether the setting stores sparsity metadata (and so may remove weights).
bool hasMetadata(const LayerSetting& s) { return isNM(s.pattern) || s.sparsity > 0.0; }

/// Weights per scale along a row, as CompressedWeight::groupSize means it.
std::int64_t expectedGroupSize(const LayerSetting& s, std::int64_t rows, std::int64_t cols)
{
    switch (s.granularity) {
    case Granularity::Tensor: return rows * cols;
    case Granularity::Channel: return cols;
    case Granularity::Group: return s.groupSize;
    }
    return cols;
}

// ---- writing --------------------------------------------------------------------------------

struct ByteWriter {
    std::string& out;
    void u8(unsigned v) { out.push_back(static_cast<char>(v & 0xffu)); }
    void u16(std::uint16_t v)
    {
        u8(v);
        u8(v >> 8);
    }
    void u32(std::uint32_t v)
    {
        for (int i = 0; i < 4; ++i)
            u8(v >> (8 * i));
    }
    void u64(std::uint64_t v)
    {
        for (int i = 0; i < 8; ++i)
            u8(static_cast<unsigned>(v >> (8 * i)));
    }
    void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
    void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
    void bytes(const void* p, std::size_t n) { out.append(static_cast<const char*>(p), n); }
    void name(const std::string& s)
    {
        u32(static_cast<std::uint32_t>(s.size()));
        out += s;
    }
};

/// Appends values of `width` bits (1..8), little-endian in bit order; finish() pads with zeros.
struct BitWriter {
    std::string& out;
    std::uint32_t acc = 0;
    int n = 0;
    void put(std::uint32_t v, int width)
    {
        acc |= (v & ((1u << width) - 1u)) << n;
        n += width;
        while (n >= 8) {
            out.push_back(static_cast<char>(acc & 0xffu));
            acc >>= 8;
            n -= 8;
        }
    }
    void finish()
    {
        if (n > 0)
            out.push_back(static_cast<char>(acc & 0xffu));
        acc = 0;
        n = 0;
    }
};

void writeTensorRecord(ByteWriter& w, const std::string& name, const Tensor& t, const std::string& file)
{
    if (t.rank() > 255)
        throw Error(file + ": tensor '" + name + "' has rank " + std::to_string(t.rank()) + ", at most 255 fits");
    w.name(name);
    w.u8(static_cast<unsigned>(dtypeToOnnx(t.dtype())));
    w.u8(static_cast<unsigned>(t.rank()));
    for (std::int64_t d : t.shape())
        w.i64(d);
    if (t.dtype() == DType::String) {
        for (const std::string& s : t.strings()) {
            if (s.size() > std::numeric_limits<std::uint32_t>::max())
                throw Error(file + ": tensor '" + name + "' holds a string longer than 4 GB");
            w.name(s);
        }
    } else if (t.dtype() == DType::Bool) {
        const bool* b = t.data<bool>();
        for (std::int64_t i = 0; i < t.size(); ++i)
            w.u8(b[i] ? 1u : 0u);
    } else {
        static_assert(std::endian::native == std::endian::little, "the container stores little-endian elements");
        w.bytes(t.raw(), t.byteSize());
    }
}

void writeLayerRecord(std::string& out, const Layer& l, const Tensor& tensor, const CompressedWeight& cw,
                      const std::string& file)
{
    const std::string where = file + ": layer '" + l.name + "'";
    const LayerSetting& s = cw.setting;
    validateSetting(s, where + ": setting");
    if (isBlockFormat(s.format))
        throw UnsupportedError(where + ": " + toString(s.format) +
                               " is a GGUF block format, which the .leger container does not store (language models "
                               "export it as GGUF)");
    if (cw.rows != l.rows || cw.cols != l.cols)
        throw Error(where + ": the compressed weight is (" + std::to_string(cw.rows) + ", " + std::to_string(cw.cols) +
                    "), the layer is (" + std::to_string(l.rows) + ", " + std::to_string(l.cols) + ")");
    if (tensor.rank() > 255)
        throw Error(where + ": rank above 255");
    const std::int64_t rows = cw.rows, cols = cw.cols, n = rows * cols;
    const auto count = [&](std::size_t have, std::int64_t want, const char* what) {
        if (static_cast<std::int64_t>(have) != want)
            throw Error(where + ": has " + std::to_string(have) + " " + what + ", expected " + std::to_string(want));
    };
    if (!cw.keep.empty())
        count(cw.keep.size(), (n + 63) / 64, "keep-mask words");
    std::int64_t kept = 0;
    if (cw.keep.empty())
        kept = n;
    else
        for (std::int64_t i = 0; i < n; ++i)
            kept += cw.kept(i) ? 1 : 0;
    const std::int64_t want = Pruner::keptCount(s, rows, cols);
    if (kept != want)
        throw Error(where + ": keeps " + std::to_string(kept) + " weights, its setting (" + s.label() + ") keeps " +
                    std::to_string(want));
    if (!hasMetadata(s) && kept != n)
        throw Error(where + ": weights are removed but the setting does not prune");

    const LayerBytes sizes = layerPayloadBytes(s, rows, cols);
    const std::size_t start = out.size();
    ByteWriter w{out};
    // header
    w.name(l.name);
    w.u8(static_cast<unsigned>(s.format));
    w.u8(static_cast<unsigned>(s.bits));
    w.u8(static_cast<unsigned>(s.granularity));
    w.u8(s.symmetric ? 1u : 0u);
    w.u8(static_cast<unsigned>(s.clip));
    w.u8(static_cast<unsigned>(s.pattern));
    w.u16(static_cast<std::uint16_t>(s.groupSize));
    w.f64(s.sparsity);
    w.u8(static_cast<unsigned>(dtypeToOnnx(tensor.dtype())));
    w.u8(static_cast<unsigned>(tensor.rank()));
    w.u8(l.transposed ? 1u : 0u);
    w.u8(cw.keep.empty() ? 0u : 1u);
    w.i64(rows);
    w.i64(cols);
    w.i64(cw.groupSize);
    for (std::int64_t d : tensor.shape())
        w.i64(d);
    if (static_cast<std::int64_t>(out.size() - start) != LegerContainer::layerRecordHeaderBytes(l.name, l.shape.size()))
        throw Error(where + ": internal error: record header size differs from its specification");

    // 1. sparsity metadata
    BitWriter bits{out};
    if (isNM(s.pattern)) {
        const int m = nmM(s.pattern), ib = nmIndexBits(s.pattern);
        for (std::int64_t r = 0; r < rows; ++r) {
            for (std::int64_t g = 0; g + m <= cols; g += m) {
                int inGroup = 0;
                for (int j = 0; j < m; ++j) {
                    if (cw.kept(r * cols + g + j)) {
                        bits.put(static_cast<std::uint32_t>(j), ib);
                        ++inGroup;
                    }
                }
                if (inGroup != m / 2)
                    throw Error(where + ": row " + std::to_string(r) + " keeps " + std::to_string(inGroup) + " of the " +
                                std::to_string(m) + " weights at column " + std::to_string(g) + ", the pattern " +
                                toString(s.pattern) + " keeps " + std::to_string(m / 2));
            }
            for (std::int64_t c = cols - cols % m; c < cols; ++c)
                if (!cw.kept(r * cols + c))
                    throw Error(where + ": row " + std::to_string(r) + " removes a weight of its trailing partial group");
        }
    } else if (s.sparsity > 0.0 && s.pattern == SparsityPattern::Channel) {
        for (std::int64_t r = 0; r < rows; ++r) {
            const bool k = cols == 0 || cw.kept(r * cols);
            for (std::int64_t c = 1; c < cols; ++c)
                if (cw.kept(r * cols + c) != k)
                    throw Error(where + ": row " + std::to_string(r) + " is partly pruned; the pattern channel removes whole rows");
            bits.put(k ? 1u : 0u, 1);
        }
    } else if (s.sparsity > 0.0) {
        for (std::int64_t i = 0; i < n; ++i)
            bits.put(cw.kept(i) ? 1u : 0u, 1);
    }
    bits.finish();

    // 2-4. scales, zero points, values of the kept weights
    switch (s.format) {
    case WeightFormat::Int: {
        if (cw.groupSize != expectedGroupSize(s, rows, cols))
            throw Error(where + ": group size " + std::to_string(cw.groupSize) + ", the setting needs " +
                        std::to_string(expectedGroupSize(s, rows, cols)));
        const std::int64_t nScales = cw.scaleCount();
        count(cw.scales.size(), nScales, "scales");
        count(cw.zeroPoints.size(), s.symmetric ? 0 : nScales, "zero points");
        count(cw.codes.size(), n, "codes");
        for (float sc : cw.scales) {
            const Half h = Half::fromFloat(sc);
            if (!(sc > 0.0f) || !std::isfinite(sc) || h.toFloat() != sc)
                throw Error(where + ": scale " + std::to_string(sc) + " is not a positive float16 value");
            w.u16(h.bits);
        }
        const int qmaxAsym = (1 << s.bits) - 1, qmax = (1 << (s.bits - 1)) - 1;
        for (std::uint8_t zp : cw.zeroPoints) {
            if (zp > qmaxAsym)
                throw Error(where + ": zero point " + std::to_string(zp) + " is outside 0.." + std::to_string(qmaxAsym));
            w.u8(zp);
        }
        for (std::int64_t r = 0; r < rows; ++r) {
            for (std::int64_t c = 0; c < cols; ++c) {
                const std::int64_t i = r * cols + c;
                const std::uint8_t code = cw.codes[static_cast<std::size_t>(i)];
                if (s.symmetric) {
                    const int v = static_cast<std::int8_t>(code);
                    if (!cw.kept(i)) {
                        if (v != 0)
                            throw Error(where + ": pruned weight " + std::to_string(i) + " has code " + std::to_string(v) + ", not 0");
                        continue;
                    }
                    if (v < -qmax || v > qmax)
                        throw Error(where + ": code " + std::to_string(v) + " of weight " + std::to_string(i) +
                                    " is outside -" + std::to_string(qmax) + ".." + std::to_string(qmax));
                    bits.put(static_cast<std::uint32_t>(v) & ((1u << s.bits) - 1u), s.bits);
                } else {
                    if (!cw.kept(i)) {
                        if (code != cw.zeroPoints[static_cast<std::size_t>(cw.scaleIndex(r, c))])
                            throw Error(where + ": pruned weight " + std::to_string(i) + " does not hold its zero point");
                        continue;
                    }
                    if (code > qmaxAsym)
                        throw Error(where + ": code " + std::to_string(code) + " of weight " + std::to_string(i) +
                                    " is outside 0.." + std::to_string(qmaxAsym));
                    bits.put(code, s.bits);
                }
            }
        }
        bits.finish();
        break;
    }
    case WeightFormat::Float16:
    case WeightFormat::BFloat16:
        count(cw.halves.size(), n, "16-bit values");
        for (std::int64_t i = 0; i < n; ++i) {
            const std::uint16_t h = cw.halves[static_cast<std::size_t>(i)];
            if (cw.kept(i))
                w.u16(h);
            else if (h != 0)
                throw Error(where + ": pruned weight " + std::to_string(i) + " is not +0");
        }
        break;
    case WeightFormat::Float32:
        count(cw.values.size(), n, "values");
        for (std::int64_t i = 0; i < n; ++i) {
            const std::uint32_t v = std::bit_cast<std::uint32_t>(cw.values[static_cast<std::size_t>(i)]);
            if (cw.kept(i))
                w.u32(v);
            else if (v != 0)
                throw Error(where + ": pruned weight " + std::to_string(i) + " is not +0");
        }
        break;
    default: break; // block formats: refused above
    }
    if (static_cast<std::int64_t>(out.size() - start) != sizes.payload() + LegerContainer::layerRecordHeaderBytes(l.name, l.shape.size()))
        throw Error(where + ": internal error: record size differs from SizeReport's");
}

void requireNoExternalData(const onnx::GraphProto& g, const std::string& file);

void requireNoExternalData(const onnx::TensorProto& t, const std::string& file)
{
    if (t.data_location() == onnx::TensorProto::EXTERNAL)
        throw UnsupportedError(file + ": tensor '" + t.name() +
                               "' inside a subgraph keeps its data in an external file; the .leger container cannot hold it");
}

void requireNoExternalData(const onnx::GraphProto& g, const std::string& file)
{
    for (const auto& t : g.initializer())
        requireNoExternalData(t, file);
    for (const auto& n : g.node()) {
        for (const auto& a : n.attribute()) {
            if (a.has_t())
                requireNoExternalData(a.t(), file);
            for (const auto& t : a.tensors())
                requireNoExternalData(t, file);
            if (a.has_g())
                requireNoExternalData(a.g(), file);
            for (const auto& sg : a.graphs())
                requireNoExternalData(sg, file);
        }
    }
}

// ---- reading --------------------------------------------------------------------------------

/// Bounds-checked little-endian reads; every failure names the file, the offset and the field.
struct ByteReader {
    const std::string& bytes;
    const std::string& file;
    std::size_t pos = 0;
    std::string context; // "tensor record 3 ('conv1.bias')"

    std::size_t left() const { return bytes.size() - pos; }
    [[noreturn]] void fail(const std::string& what) const
    {
        throw Error(file + ": " + (context.empty() ? std::string() : context + ": ") + what + " (at byte " +
                    std::to_string(pos) + ")");
    }
    void need(std::uint64_t n, const char* what) const
    {
        if (n > left())
            fail(std::string("truncated: ") + what + " needs " + std::to_string(n) + " bytes, the file has " +
                 std::to_string(left()) + " left");
    }
    const unsigned char* take(std::size_t n, const char* what)
    {
        need(n, what);
        const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + pos;
        pos += n;
        return p;
    }
    std::uint64_t le(int n, const char* what)
    {
        const unsigned char* p = take(static_cast<std::size_t>(n), what);
        std::uint64_t v = 0;
        for (int i = 0; i < n; ++i)
            v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
        return v;
    }
    unsigned u8(const char* what) { return static_cast<unsigned>(le(1, what)); }
    std::uint16_t u16(const char* what) { return static_cast<std::uint16_t>(le(2, what)); }
    std::uint32_t u32(const char* what) { return static_cast<std::uint32_t>(le(4, what)); }
    std::uint64_t u64(const char* what) { return le(8, what); }
    std::int64_t i64(const char* what) { return static_cast<std::int64_t>(le(8, what)); }
    double f64(const char* what) { return std::bit_cast<double>(le(8, what)); }
    std::string name(const char* what)
    {
        const std::uint32_t n = u32(what);
        const unsigned char* p = take(n, what);
        return std::string(reinterpret_cast<const char*>(p), n);
    }
};

/// Reads `width`-bit values (1..8) from a bounds-checked section.
struct BitReader {
    const unsigned char* p;
    std::uint64_t nbytes;
    std::uint64_t pos = 0; // in bits
    std::uint32_t get(int width)
    {
        const std::uint64_t byte = pos >> 3;
        std::uint32_t v = p[byte];
        if (byte + 1 < nbytes)
            v |= static_cast<std::uint32_t>(p[byte + 1]) << 8;
        v = (v >> (pos & 7)) & ((1u << width) - 1u);
        pos += static_cast<std::uint64_t>(width);
        return v;
    }
    /// Whether the bits after the last value are zero (and the section has no extra byte).
    bool paddingIsZero() const
    {
        if ((pos + 7) / 8 != nbytes)
            return false;
        return (pos & 7) == 0 || (p[pos >> 3] >> (pos & 7)) == 0;
    }
};

/// a * b, or -1 if it would exceed limit (both >= 0).
std::int64_t boundedProduct(std::int64_t a, std::int64_t b, std::int64_t limit)
{
    if (a == 0 || b == 0)
        return 0;
    if (a > limit / b)
        return -1;
    return a * b;
}

std::int64_t shapeCount(ByteReader& r, const Shape& dims, std::int64_t limit)
{
    std::int64_t count = 1;
    for (std::int64_t d : dims) {
        if (d < 0)
            r.fail("negative dimension " + std::to_string(d));
        count = boundedProduct(count, d, limit);
        if (count < 0)
            r.fail("shape " + shapeToString(dims) + " is too large for the file");
    }
    return count;
}

Tensor readTensorRecord(ByteReader& r, std::string& name)
{
    name = r.name("tensor name");
    r.context += " ('" + name + "')";
    const unsigned code = r.u8("element type");
    const DType dtype = dtypeFromOnnx(static_cast<int>(code));
    if (dtype == DType::Undefined)
        r.fail("unknown element type " + std::to_string(code));
    const unsigned rank = r.u8("rank");
    r.need(8ull * rank, "dimensions");
    Shape dims(rank);
    for (auto& d : dims)
        d = r.i64("dimension");
    if (dtype == DType::String) {
        const std::int64_t count = shapeCount(r, dims, static_cast<std::int64_t>(r.left() / 4));
        Tensor t(dtype, dims);
        for (std::int64_t i = 0; i < count; ++i)
            t.strings()[static_cast<std::size_t>(i)] = r.name("string element");
        return t;
    }
    const std::int64_t size = static_cast<std::int64_t>(dtypeSize(dtype));
    const std::int64_t count = shapeCount(r, dims, static_cast<std::int64_t>(r.left()) / size);
    const unsigned char* p = r.take(static_cast<std::size_t>(count * size), "tensor payload");
    Tensor t(dtype, dims);
    if (dtype == DType::Bool) {
        for (std::int64_t i = 0; i < count; ++i) {
            if (p[i] > 1)
                r.fail("boolean element " + std::to_string(i) + " is " + std::to_string(p[i]) + ", not 0 or 1");
            t.data<bool>()[i] = p[i] != 0;
        }
    } else if (count) {
        std::memcpy(t.raw(), p, static_cast<std::size_t>(count * size));
    }
    return t;
}

struct LayerRecord {
    Layer layer; // name, shape, rows, cols, transposed
    DType dtype = DType::Float32;
    CompressedWeight weight;
};

LayerRecord readLayerRecord(ByteReader& r, std::int64_t fileSize)
{
    LayerRecord rec;
    Layer& l = rec.layer;
    CompressedWeight& cw = rec.weight;
    l.name = r.name("layer name");
    r.context += " ('" + l.name + "')";
    LayerSetting& s = cw.setting;
    const unsigned format = r.u8("format"), bits = r.u8("bits"), gran = r.u8("granularity"), sym = r.u8("symmetric"),
                   clip = r.u8("clip"), pattern = r.u8("pattern");
    const unsigned groupSize = r.u16("group size");
    s.sparsity = r.f64("sparsity");
    if (format > 3)
        r.fail("format " + std::to_string(format) + " is not 0..3");
    if (gran > 2)
        r.fail("granularity " + std::to_string(gran) + " is not 0..2");
    if (sym > 1)
        r.fail("symmetric flag " + std::to_string(sym) + " is not 0 or 1");
    if (clip > 1)
        r.fail("clipping " + std::to_string(clip) + " is not 0 or 1");
    if (pattern > 3)
        r.fail("sparsity pattern " + std::to_string(pattern) + " is not 0..3");
    s.format = static_cast<WeightFormat>(format);
    s.bits = static_cast<int>(bits);
    s.granularity = static_cast<Granularity>(gran);
    s.symmetric = sym != 0;
    s.clip = static_cast<Clipping>(clip);
    s.pattern = static_cast<SparsityPattern>(pattern);
    s.groupSize = static_cast<int>(groupSize);
    try {
        validateSetting(s, "setting");
    } catch (const Error& e) {
        r.fail(e.what());
    }
    const unsigned typeCode = r.u8("element type");
    rec.dtype = dtypeFromOnnx(static_cast<int>(typeCode));
    if (!isFloating(rec.dtype))
        r.fail("element type " + std::to_string(typeCode) + " is not a floating-point type");
    const unsigned rank = r.u8("rank"), transposed = r.u8("transposed flag"), hasKeep = r.u8("keep flag");
    if (transposed > 1 || hasKeep > 1)
        r.fail("a flag is not 0 or 1");
    l.transposed = transposed != 0;
    cw.rows = l.rows = r.i64("rows");
    cw.cols = l.cols = r.i64("cols");
    cw.groupSize = r.i64("group size");
    r.need(8ull * rank, "dimensions");
    l.shape.resize(rank);
    for (auto& d : l.shape)
        d = r.i64("dimension");
    // A compressed layer may store far fewer bytes than it has weights (pruned rows store
    // nothing), but never absurdly many: cap the weights by the file's size.
    const std::int64_t cap = 64 * fileSize + (1 << 20);
    const std::int64_t n = shapeCount(r, l.shape, cap);
    // A transposed tensor holds the matrix as (..., cols, n): fillTensor's indexing needs that.
    if (l.rows < 0 || l.cols < 0 || l.rows > cap || l.cols > cap || boundedProduct(l.rows, l.cols, cap) != n ||
        l.shape.size() < 2 ||
        (l.transposed && l.shape[l.shape.size() - 2] != l.cols))
        r.fail("matrix view (" + std::to_string(l.rows) + ", " + std::to_string(l.cols) + ") does not fit the shape " +
               shapeToString(l.shape));
    l.parameters = n;
    const std::int64_t rows = l.rows, cols = l.cols;
    if (s.format == WeightFormat::Int ? cw.groupSize != expectedGroupSize(s, rows, cols) : cw.groupSize < 0)
        r.fail("group size " + std::to_string(cw.groupSize) + " does not fit the setting");

    const LayerBytes sizes = layerPayloadBytes(s, rows, cols);
    r.need(static_cast<std::uint64_t>(sizes.payload()), "the layer's weights");

    // 1. sparsity metadata -> keep mask
    std::vector<std::uint64_t> keep(static_cast<std::size_t>((n + 63) / 64), 0);
    const auto setKept = [&](std::int64_t i) { keep[static_cast<std::size_t>(i >> 6)] |= std::uint64_t{1} << (i & 63); };
    std::int64_t kept = 0;
    {
        BitReader br{r.take(static_cast<std::size_t>(sizes.sparsity), "sparsity metadata"),
                     static_cast<std::uint64_t>(sizes.sparsity)};
        if (isNM(s.pattern)) {
            const int m = nmM(s.pattern), ib = nmIndexBits(s.pattern);
            for (std::int64_t row = 0; row < rows; ++row) {
                for (std::int64_t g = 0; g + m <= cols; g += m) {
                    int last = -1;
                    for (int j = 0; j < m / 2; ++j) {
                        const int idx = static_cast<int>(br.get(ib));
                        if (idx <= last || idx >= m)
                            r.fail("N:M indices of row " + std::to_string(row) + " are not ascending offsets below " +
                                   std::to_string(m));
                        last = idx;
                        setKept(row * cols + g + idx);
                    }
                }
                for (std::int64_t c = cols - cols % m; c < cols; ++c)
                    setKept(row * cols + c);
            }
            kept = sizes.stored;
        } else if (s.sparsity > 0.0 && s.pattern == SparsityPattern::Channel) {
            for (std::int64_t row = 0; row < rows; ++row) {
                if (br.get(1)) {
                    for (std::int64_t c = 0; c < cols; ++c)
                        setKept(row * cols + c);
                    kept += cols;
                }
            }
        } else if (s.sparsity > 0.0) {
            for (std::int64_t i = 0; i < n; ++i) {
                if (br.get(1)) {
                    setKept(i);
                    ++kept;
                }
            }
        } else {
            for (std::int64_t i = 0; i < n; ++i)
                setKept(i);
            kept = n;
        }
        if (sizes.sparsity && !br.paddingIsZero())
            r.fail("sparsity metadata has non-zero padding bits");
    }
    if (kept != sizes.stored)
        r.fail("the mask keeps " + std::to_string(kept) + " weights, the setting keeps " + std::to_string(sizes.stored));
    cw.keep = std::move(keep);
    const auto isKept = [&](std::int64_t i) { return ((cw.keep[static_cast<std::size_t>(i >> 6)] >> (i & 63)) & 1u) != 0; };

    // 2-4. scales, zero points, values
    switch (s.format) {
    case WeightFormat::Int: {
        const std::int64_t nScales = cw.scaleCount();
        const unsigned char* sp = r.take(static_cast<std::size_t>(2 * nScales), "scales");
        cw.scales.resize(static_cast<std::size_t>(nScales));
        for (std::int64_t i = 0; i < nScales; ++i) {
            const Half h{static_cast<std::uint16_t>(sp[2 * i] | (sp[2 * i + 1] << 8))};
            if ((h.bits & 0x8000u) || (h.bits & 0x7fffu) == 0 || (h.bits & 0x7c00u) == 0x7c00u)
                r.fail("scale " + std::to_string(i) + " (float16 bits " + std::to_string(h.bits) + ") is not finite and positive");
            cw.scales[static_cast<std::size_t>(i)] = h.toFloat();
        }
        const int qmaxAsym = (1 << s.bits) - 1, qmax = (1 << (s.bits - 1)) - 1;
        if (!s.symmetric) {
            const unsigned char* zp = r.take(static_cast<std::size_t>(nScales), "zero points");
            cw.zeroPoints.assign(zp, zp + nScales);
            for (std::int64_t i = 0; i < nScales; ++i)
                if (zp[i] > qmaxAsym)
                    r.fail("zero point " + std::to_string(i) + " is " + std::to_string(zp[i]) + ", above " + std::to_string(qmaxAsym));
        }
        BitReader br{r.take(static_cast<std::size_t>(sizes.codes), "codes"), static_cast<std::uint64_t>(sizes.codes)};
        cw.codes.resize(static_cast<std::size_t>(n));
        for (std::int64_t row = 0; row < rows; ++row) {
            for (std::int64_t c = 0; c < cols; ++c) {
                const std::int64_t i = row * cols + c;
                std::uint8_t& out = cw.codes[static_cast<std::size_t>(i)];
                if (!isKept(i)) {
                    out = s.symmetric ? 0 : cw.zeroPoints[static_cast<std::size_t>(cw.scaleIndex(row, c))];
                    continue;
                }
                const std::uint32_t v = br.get(s.bits);
                if (s.symmetric) {
                    const int code = static_cast<int>(v) - ((v >> (s.bits - 1)) ? (1 << s.bits) : 0);
                    if (code < -qmax)
                        r.fail("code of weight " + std::to_string(i) + " is " + std::to_string(code) + ", below -" +
                               std::to_string(qmax));
                    out = static_cast<std::uint8_t>(static_cast<std::int8_t>(code));
                } else {
                    out = static_cast<std::uint8_t>(v);
                }
            }
        }
        if (sizes.codes && !br.paddingIsZero())
            r.fail("codes have non-zero padding bits");
        break;
    }
    case WeightFormat::Float16:
    case WeightFormat::BFloat16: {
        const unsigned char* p = r.take(static_cast<std::size_t>(sizes.codes), "16-bit values");
        cw.halves.assign(static_cast<std::size_t>(n), 0);
        std::int64_t k = 0;
        for (std::int64_t i = 0; i < n; ++i)
            if (isKept(i)) {
                cw.halves[static_cast<std::size_t>(i)] = static_cast<std::uint16_t>(p[2 * k] | (p[2 * k + 1] << 8));
                ++k;
            }
        break;
    }
    case WeightFormat::Float32: {
        const unsigned char* p = r.take(static_cast<std::size_t>(sizes.codes), "float32 values");
        cw.values.assign(static_cast<std::size_t>(n), 0.0f);
        std::int64_t k = 0;
        for (std::int64_t i = 0; i < n; ++i)
            if (isKept(i)) {
                std::uint32_t v;
                std::memcpy(&v, p + 4 * k, 4);
                cw.values[static_cast<std::size_t>(i)] = std::bit_cast<float>(v);
                ++k;
            }
        break;
    }
    default: r.fail("unknown format"); // not reached: the header's format is checked
    }
    if (!hasKeep) {
        if (kept != n)
            r.fail("weights are removed but the record says the weight has no keep mask");
        cw.keep.clear();
    }
    return rec;
}

/// Weight (r, c) of the matrix view as a float: what the quantizer's dequantize gives.
float dequantized(const CompressedWeight& cw, std::int64_t r, std::int64_t c)
{
    const std::size_t i = static_cast<std::size_t>(r * cw.cols + c);
    switch (cw.setting.format) {
    case WeightFormat::Float32: return cw.values[i];
    case WeightFormat::Float16: return Half{cw.halves[i]}.toFloat();
    case WeightFormat::BFloat16: return BFloat16{cw.halves[i]}.toFloat();
    case WeightFormat::Int: {
        const std::size_t g = static_cast<std::size_t>(cw.scaleIndex(r, c));
        const float scale = cw.scales[g];
        if (cw.setting.symmetric)
            return static_cast<float>(static_cast<std::int8_t>(cw.codes[i])) * scale;
        return static_cast<float>(static_cast<int>(cw.codes[i]) - static_cast<int>(cw.zeroPoints[g])) * scale;
    }
    default: break; // block formats are not stored in containers
    }
    return 0.0f;
}

template <class T> void fillTensor(Tensor& t, const LayerRecord& rec)
{
    // Matrix (rows, cols); transposed tensors hold it column-major: (..., cols, n), row = b * n + j.
    const Layer& l = rec.layer;
    T* out = t.data<T>();
    const std::int64_t n = l.transposed ? l.shape.back() : 1;
    for (std::int64_t r = 0; r < l.rows; ++r) {
        for (std::int64_t c = 0; c < l.cols; ++c) {
            const float v = dequantized(rec.weight, r, c);
            const std::int64_t idx = l.transposed ? (r / n) * l.cols * n + c * n + r % n : r * l.cols + c;
            if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
                out[idx] = static_cast<T>(v);
            else
                out[idx] = T::fromFloat(v);
        }
    }
}

} // namespace

std::int64_t LegerContainer::tensorPayloadBytes(const Tensor& t)
{
    if (t.dtype() != DType::String)
        return static_cast<std::int64_t>(t.byteSize());
    std::int64_t n = 0;
    for (const std::string& s : t.strings())
        n += 4 + static_cast<std::int64_t>(s.size());
    return n;
}

std::string LegerContainer::graphSection(const Model& model)
{
    const std::string bytes = readFile(model.path);
    if (bytes.size() >= kHeaderBytes && std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0) {
        // Re-exporting a model read from a container: its graph section is already stripped.
        const std::string& file = model.path;
        ByteReader r{bytes, file};
        r.pos = 16;
        const std::uint64_t graphBytes = r.u64("graph length");
        r.pos = kHeaderBytes;
        r.need(graphBytes, "graph section");
        return bytes.substr(kHeaderBytes, graphBytes);
    }
    if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        throw Error(model.path + ": file is larger than 2 GB");
    onnx::ModelProto proto;
    google::protobuf::io::CodedInputStream stream(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                                  static_cast<int>(bytes.size()));
    stream.SetTotalBytesLimit(std::numeric_limits<int>::max());
    if (!proto.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage() || !proto.has_graph())
        throw Error(model.path + ": not a valid ONNX model");
    onnx::GraphProto* g = proto.mutable_graph();
    g->clear_initializer();
    // Constant nodes the reader folded into tensors become tensor or layer records.
    google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
    for (onnx::NodeProto& n : *g->mutable_node()) {
        const bool folded = n.op_type() == "Constant" && (n.domain().empty() || n.domain() == "ai.onnx") &&
                            n.output_size() == 1 && model.graph.initializers.count(n.output(0));
        if (!folded)
            nodes.Add()->Swap(&n);
    }
    g->mutable_node()->Swap(&nodes);
    requireNoExternalData(*g, model.path);
    std::string out;
    if (!proto.SerializeToString(&out))
        throw Error(model.path + ": cannot serialize the graph");
    return out;
}

std::string serializeLegerContainer(const std::string& graphSection, const Model& model, const std::vector<Layer>& layers,
                                    const std::vector<CompressedWeight>& weights)
{
    const std::string file = model.path.empty() ? std::string("model") : model.path;
    if (layers.size() != weights.size())
        throw Error(file + ": " + std::to_string(layers.size()) + " layers but " + std::to_string(weights.size()) +
                    " compressed weights");
    std::set<std::string, std::less<>> layerNames;
    for (const Layer& l : layers) {
        if (!layerNames.insert(l.name).second)
            throw Error(file + ": layer '" + l.name + "' is listed twice");
        if (!model.graph.initializer(l.name))
            throw Error(file + ": layer '" + l.name + "' is not a tensor of the model");
    }
    std::string out;
    ByteWriter w{out};
    std::uint32_t tensorCount = 0;
    for (const auto& [name, t] : model.graph.initializers)
        tensorCount += layerNames.count(name) ? 0u : 1u;
    w.bytes(kMagic, sizeof kMagic);
    w.u32(LegerContainer::kVersion);
    w.u32(0);
    w.u64(graphSection.size());
    w.u32(tensorCount);
    w.u32(static_cast<std::uint32_t>(layers.size()));
    out += graphSection;
    for (const auto& [name, t] : model.graph.initializers)
        if (!layerNames.count(name))
            writeTensorRecord(w, name, t, file);
    for (std::size_t i = 0; i < layers.size(); ++i)
        writeLayerRecord(out, layers[i], *model.graph.initializer(layers[i].name), weights[i], file);
    return out;
}

void writeLegerContainer(const std::string& path, const std::string& graphSection, const Model& model,
                         const std::vector<Layer>& layers, const std::vector<CompressedWeight>& weights)
{
    writeFileAtomically(path, serializeLegerContainer(graphSection, model, layers, weights));
}

void writeLegerContainer(const std::string& path, const Model& model, const std::vector<Layer>& layers,
                         const std::vector<CompressedWeight>& weights)
{
    writeLegerContainer(path, LegerContainer::graphSection(model), model, layers, weights);
}

LegerContainer readLegerContainer(const std::string& path) { return parseLegerContainer(readFile(path), path); }

LegerContainer parseLegerContainer(const std::string& bytes, const std::string& path)
{
    ByteReader r{bytes, path};
    r.context = "header";
    const unsigned char* magic = r.take(sizeof kMagic, "magic");
    if (std::memcmp(magic, kMagic, sizeof kMagic) != 0)
        throw Error(path + ": not a Leger container (the file does not start with the .leger magic bytes)");
    const std::uint32_t version = r.u32("version");
    if (version != LegerContainer::kVersion)
        throw UnsupportedError(path + ": container version " + std::to_string(version) + " is not supported (this build reads version " +
                               std::to_string(LegerContainer::kVersion) + ")");
    if (const std::uint32_t flags = r.u32("flags"); flags != 0)
        r.fail("unknown flags " + std::to_string(flags));
    const std::uint64_t graphBytes = r.u64("graph length");
    const std::uint32_t tensorCount = r.u32("tensor count");
    const std::uint32_t layerCount = r.u32("layer count");
    r.need(graphBytes, "graph section");
    // Every record takes at least its fixed header: counts beyond what the file holds are corrupt.
    const std::uint64_t rest = r.left() - graphBytes;
    if (tensorCount > rest / 6 || layerCount > rest / 48 || 6ull * tensorCount + 48ull * layerCount > rest)
        r.fail(std::to_string(tensorCount) + " tensor and " + std::to_string(layerCount) +
               " layer records cannot fit in the file's " + std::to_string(rest) + " remaining bytes");
    const std::string graph = bytes.substr(r.pos, graphBytes);
    r.pos += graphBytes;

    std::map<std::string, Tensor, std::less<>> tensors;
    for (std::uint32_t i = 0; i < tensorCount; ++i) {
        r.context = "tensor record " + std::to_string(i);
        std::string name;
        Tensor t = readTensorRecord(r, name);
        if (!tensors.emplace(name, std::move(t)).second)
            r.fail("a tensor named '" + name + "' was stored before");
    }
    std::vector<LayerRecord> records;
    records.reserve(layerCount);
    for (std::uint32_t i = 0; i < layerCount; ++i) {
        r.context = "layer record " + std::to_string(i);
        LayerRecord rec = readLayerRecord(r, static_cast<std::int64_t>(bytes.size()));
        Tensor t(rec.dtype, rec.layer.shape);
        switch (rec.dtype) {
        case DType::Float32: fillTensor<float>(t, rec); break;
        case DType::Float64: fillTensor<double>(t, rec); break;
        case DType::Float16: fillTensor<Half>(t, rec); break;
        case DType::BFloat16: fillTensor<BFloat16>(t, rec); break;
        default: r.fail("unsupported element type");
        }
        if (!tensors.emplace(rec.layer.name, std::move(t)).second)
            r.fail("a tensor named '" + rec.layer.name + "' was stored before");
        records.push_back(std::move(rec));
    }
    r.context.clear();
    if (r.left() != 0)
        r.fail(std::to_string(r.left()) + " unexpected bytes after the last record");

    LegerContainer c;
    c.model = OnnxReader::readModelFromMemory(graph, path, std::move(tensors));
    c.model.fileBytes = static_cast<std::int64_t>(bytes.size());
    // Each record must be a layer of the graph, seen the same way (rows, cols, layout).
    std::unordered_map<std::string, Layer> found;
    for (Layer& l : Layer::find(c.model))
        found.emplace(l.name, std::move(l));
    for (LayerRecord& rec : records) {
        auto it = found.find(rec.layer.name);
        if (it == found.end())
            throw Error(path + ": layer record '" + rec.layer.name + "' is not a compressible layer of the graph");
        const Layer& l = it->second;
        if (l.rows != rec.layer.rows || l.cols != rec.layer.cols || l.transposed != rec.layer.transposed)
            throw Error(path + ": layer record '" + rec.layer.name + "' describes a (" + std::to_string(rec.layer.rows) +
                        ", " + std::to_string(rec.layer.cols) + ") matrix, the graph's " + l.opType + " '" + l.nodeName +
                        "' reads it as (" + std::to_string(l.rows) + ", " + std::to_string(l.cols) + ")");
        c.layers.push_back(l);
        c.weights.push_back(std::move(rec.weight));
    }
    return c;
}

} // namespace leger
