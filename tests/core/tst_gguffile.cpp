// The GGUF reader on files written here byte by byte: metadata of every value type, tensors in
// every format it decodes (block formats checked against values worked out from the format's
// definition, weight by weight), and malformed headers: every truncation point and each field
// made wrong, each refused with the file and the field before it drives an allocation.
#include <QTemporaryDir>
#include <QtTest>
#include <cstring>

#include "io/GgufFile.h"
#include "model/Half.h"
#include "util/Error.h"

using namespace leger;

namespace {

/// Writes GGUF bytes field by field (little-endian, as the format says).
class Writer {
public:
    template <class T> Writer& put(T v)
    {
        const auto* p = reinterpret_cast<const std::byte*>(&v);
        bytes.insert(bytes.end(), p, p + sizeof(T));
        return *this;
    }
    Writer& str(const std::string& s)
    {
        put<std::uint64_t>(s.size());
        const auto* p = reinterpret_cast<const std::byte*>(s.data());
        bytes.insert(bytes.end(), p, p + s.size());
        return *this;
    }
    Writer& raw(const std::vector<std::uint8_t>& b)
    {
        for (std::uint8_t x : b)
            bytes.push_back(std::byte{x});
        return *this;
    }
    void padTo(std::size_t alignment)
    {
        while (bytes.size() % alignment)
            bytes.push_back(std::byte{0});
    }
    std::vector<std::byte> bytes;
};

std::uint16_t f16(float x) { return Half::fromFloat(x).bits; }

struct TensorSpec {
    std::string name;
    std::vector<std::uint64_t> dims;
    std::uint32_t type;
    std::vector<std::uint8_t> data;
};

/// A whole file: header, metadata (written by `meta`), tensor table, aligned data.
std::vector<std::byte> file(const std::vector<TensorSpec>& tensors, const std::function<void(Writer&)>& meta,
                            std::uint64_t kvCount, std::uint32_t alignment = 32)
{
    Writer w;
    w.raw({'G', 'G', 'U', 'F'}).put<std::uint32_t>(3).put<std::uint64_t>(tensors.size()).put<std::uint64_t>(kvCount);
    meta(w);
    std::uint64_t offset = 0;
    std::vector<std::uint64_t> offsets;
    for (const TensorSpec& t : tensors) {
        w.str(t.name).put<std::uint32_t>(static_cast<std::uint32_t>(t.dims.size()));
        for (std::uint64_t d : t.dims)
            w.put<std::uint64_t>(d);
        w.put<std::uint32_t>(t.type).put<std::uint64_t>(offset);
        offsets.push_back(offset);
        offset += (t.data.size() + alignment - 1) / alignment * alignment;
    }
    w.padTo(alignment);
    for (const TensorSpec& t : tensors) {
        w.raw(t.data);
        w.padTo(alignment);
    }
    return w.bytes;
}

GgufFile parse(const std::vector<std::byte>& b)
{
    auto owner = std::make_shared<std::vector<std::byte>>(b);
    return GgufFile::parse(owner, std::span<const std::byte>(owner->data(), owner->size()), "m.gguf");
}

/// Expected values of one 32-weight block, weight by weight from the format definitions:
/// weight i's 4-bit code is the low nibble of byte i (i < 16) or the high nibble of byte i - 16;
/// its fifth bit (Q5) is bit i of qh.
float expected(std::uint32_t type, const std::vector<std::uint8_t>& qs, std::uint32_t qh, float d, float m, int i)
{
    const int nibble = i < 16 ? (qs[static_cast<std::size_t>(i)] & 0x0F) : (qs[static_cast<std::size_t>(i - 16)] >> 4);
    const int five = nibble | static_cast<int>(((qh >> i) & 1u) << 4);
    switch (type) {
    case 2: return static_cast<float>(nibble - 8) * d;  // Q4_0
    case 3: return static_cast<float>(nibble) * d + m;  // Q4_1
    case 6: return static_cast<float>(five - 16) * d;   // Q5_0
    case 7: return static_cast<float>(five) * d + m;    // Q5_1
    }
    return 0;
}

std::vector<std::uint8_t> le16(std::uint16_t v) { return {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8)}; }
std::vector<std::uint8_t> le32(std::uint32_t v)
{
    return {static_cast<std::uint8_t>(v), static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v >> 16),
            static_cast<std::uint8_t>(v >> 24)};
}
std::vector<std::uint8_t> cat(std::initializer_list<std::vector<std::uint8_t>> parts)
{
    std::vector<std::uint8_t> out;
    for (const auto& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

const std::function<void(Writer&)> kMeta = [](Writer& w) {
    w.str("general.architecture").put<std::uint32_t>(8).str("llama");
    w.str("general.alignment").put<std::uint32_t>(4).put<std::uint32_t>(32);
    w.str("llama.context_length").put<std::uint32_t>(10).put<std::uint64_t>(2048);
    w.str("x.i8").put<std::uint32_t>(1).put<std::int8_t>(-5);
    w.str("x.f32").put<std::uint32_t>(6).put<float>(1.5f);
    w.str("x.bool").put<std::uint32_t>(7).put<std::uint8_t>(1);
    w.str("x.f64").put<std::uint32_t>(12).put<double>(-2.25);
    w.str("tokenizer.ggml.tokens").put<std::uint32_t>(9).put<std::uint32_t>(8).put<std::uint64_t>(3).str("a").str("bc").str("");
};
constexpr std::uint64_t kMetaCount = 8;

} // namespace

class TestGgufFile : public QObject {
    Q_OBJECT
private slots:
    void readsMetadataAndTensors();
    void blockFormatsFollowTheirDefinitions_data();
    void blockFormatsFollowTheirDefinitions();
    void kQuantsFollowTheirDefinitions_data();
    void kQuantsFollowTheirDefinitions();
    void everyTruncationIsRefused();
    void malformedHeadersAreRefused_data();
    void malformedHeadersAreRefused();
    void opensAFileByMapping();
};

void TestGgufFile::readsMetadataAndTensors()
{
    std::vector<std::uint8_t> f32, f16s, bf16;
    const float values[] = {0.5f, -1.25f, 3.0f, 1e-3f};
    for (float v : values) {
        std::uint32_t bits;
        std::memcpy(&bits, &v, 4);
        for (auto b : le32(bits))
            f32.push_back(b);
        for (auto b : le16(f16(v)))
            f16s.push_back(b);
        for (auto b : le16(BFloat16::fromFloat(v).bits))
            bf16.push_back(b);
    }
    const auto bytes = file({{"a.weight", {2, 2}, 0, f32}, {"b.weight", {4}, 1, f16s}, {"c.weight", {1, 4}, 30, bf16}},
                            kMeta, kMetaCount);
    const GgufFile g = parse(bytes);
    QCOMPARE(g.version(), 3u);
    QCOMPARE(g.alignment(), std::uint64_t(32));
    QCOMPARE(g.metadata().size(), std::size_t(kMetaCount));
    QCOMPARE(g.find("general.architecture")->toString("k"), std::string("llama"));
    QCOMPARE(g.find("llama.context_length")->toUInt("k"), std::uint64_t(2048));
    QCOMPARE(std::get<std::int64_t>(g.find("x.i8")->value), std::int64_t(-5));
    QCOMPARE(std::get<double>(g.find("x.f32")->value), 1.5);
    QCOMPARE(std::get<std::uint64_t>(g.find("x.bool")->value), std::uint64_t(1));
    QCOMPARE(std::get<double>(g.find("x.f64")->value), -2.25);
    const auto& tokens = std::get<std::vector<GgufValue>>(g.find("tokenizer.ggml.tokens")->value);
    QCOMPARE(tokens.size(), std::size_t(3));
    QCOMPARE(tokens[1].toString("t"), std::string("bc"));
    QCOMPARE(g.tensors().size(), std::size_t(3));
    const Tensor a = g.toFloat(*g.tensor("a.weight"));
    QCOMPARE(a.shape(), (Shape{2, 2}));
    for (int i = 0; i < 4; ++i) {
        QCOMPARE(a.data<float>()[i], values[i]);
        QCOMPARE(g.toFloat(*g.tensor("b.weight")).data<float>()[i], Half::fromFloat(values[i]).toFloat());
        QCOMPARE(g.toFloat(*g.tensor("c.weight")).data<float>()[i], BFloat16::fromFloat(values[i]).toFloat());
    }
    QCOMPARE(g.toFloat(*g.tensor("c.weight")).shape(), (Shape{4, 1})); // outermost first
    QCOMPARE(g.data(*g.tensor("b.weight")).size(), std::size_t(8));
}

void TestGgufFile::blockFormatsFollowTheirDefinitions_data()
{
    QTest::addColumn<quint32>("type");
    QTest::newRow("Q4_0") << quint32(2);
    QTest::newRow("Q4_1") << quint32(3);
    QTest::newRow("Q5_0") << quint32(6);
    QTest::newRow("Q5_1") << quint32(7);
    QTest::newRow("Q8_0") << quint32(8);
}

void TestGgufFile::blockFormatsFollowTheirDefinitions()
{
    QFETCH(quint32, type);
    // Two blocks (64 weights) with varied codes, scales and minimums.
    std::vector<std::uint8_t> data;
    std::vector<float> want;
    for (int b = 0; b < 2; ++b) {
        const float d = b ? 0.375f : -0.0625f, m = b ? -1.5f : 0.25f;
        const float dh = Half::fromFloat(d).toFloat(), mh = Half::fromFloat(m).toFloat();
        const std::uint32_t qh = b ? 0xA5C3F00Fu : 0x12345678u;
        std::vector<std::uint8_t> qs(16);
        for (int j = 0; j < 16; ++j)
            qs[static_cast<std::size_t>(j)] = static_cast<std::uint8_t>((j * 7 + b * 3) & 0xFF) ^ static_cast<std::uint8_t>(j << 4);
        if (type == 8) {
            std::vector<std::uint8_t> q8(32);
            for (int j = 0; j < 32; ++j) {
                q8[static_cast<std::size_t>(j)] = static_cast<std::uint8_t>(static_cast<std::int8_t>(j * 9 - 127 + b));
                want.push_back(static_cast<float>(static_cast<std::int8_t>(q8[static_cast<std::size_t>(j)])) * dh);
            }
            data = cat({data, le16(f16(d)), q8});
            continue;
        }
        for (int i = 0; i < 32; ++i)
            want.push_back(expected(type, qs, qh, dh, mh, i));
        switch (type) {
        case 2: data = cat({data, le16(f16(d)), qs}); break;
        case 3: data = cat({data, le16(f16(d)), le16(f16(m)), qs}); break;
        case 6: data = cat({data, le16(f16(d)), le32(qh), qs}); break;
        case 7: data = cat({data, le16(f16(d)), le16(f16(m)), le32(qh), qs}); break;
        }
    }
    const GgmlTypeTraits* traits = ggmlTypeTraits(type);
    QVERIFY(traits);
    QCOMPARE(static_cast<std::int64_t>(data.size()), 2 * traits->blockBytes);
    const GgufFile g = parse(file({{"w", {64}, type, data}}, kMeta, kMetaCount));
    QCOMPARE(g.tensor("w")->bytes, std::uint64_t(data.size()));
    const Tensor t = g.toFloat(*g.tensor("w"));
    for (int i = 0; i < 64; ++i)
        QVERIFY2(t.data<float>()[i] == want[static_cast<std::size_t>(i)],
                 qPrintable(QString("weight %1: %2 vs %3").arg(i).arg(t.data<float>()[i]).arg(want[static_cast<std::size_t>(i)])));
}

void TestGgufFile::kQuantsFollowTheirDefinitions_data()
{
    QTest::addColumn<quint32>("type");
    QTest::newRow("Q2_K") << quint32(10);
    QTest::newRow("Q3_K") << quint32(11);
    QTest::newRow("Q4_K") << quint32(12);
    QTest::newRow("Q5_K") << quint32(13);
    QTest::newRow("Q6_K") << quint32(14);
}

void TestGgufFile::kQuantsFollowTheirDefinitions()
{
    // Two super-blocks of pseudo-random bytes with chosen float16 scales; every weight's value is
    // worked out from where the format puts its bits (weight w of a super-block: sub-block w/32 or
    // w/16, half w/128, position w%32 in its group of 32), not by running the decoder's loops.
    QFETCH(quint32, type);
    const GgmlTypeTraits* traits = ggmlTypeTraits(type);
    std::vector<std::uint8_t> data;
    std::vector<float> want;
    std::uint32_t state = 12345;
    const auto next = [&] {
        state = state * 1664525u + 1013904223u;
        return static_cast<std::uint8_t>(state >> 24);
    };
    for (int sb = 0; sb < 2; ++sb) {
        std::vector<std::uint8_t> b(static_cast<std::size_t>(traits->blockBytes));
        for (auto& x : b)
            x = next();
        const auto setHalf = [&](std::size_t at, float v) {
            const std::uint16_t h = Half::fromFloat(v).bits;
            b[at] = static_cast<std::uint8_t>(h);
            b[at + 1] = static_cast<std::uint8_t>(h >> 8);
        };
        const auto halfAt = [&](std::size_t at) {
            return Half{static_cast<std::uint16_t>(b[at] | (b[at + 1] << 8))}.toFloat();
        };
        const float dv = sb ? 0.0123f : -0.0456f, mv = sb ? 0.0078f : 0.0311f;
        switch (type) {
        case 10: setHalf(80, dv); setHalf(82, mv); break;
        case 11: setHalf(108, dv); break;
        case 12:
        case 13: setHalf(0, dv); setHalf(2, mv); break;
        case 14: setHalf(208, dv); break;
        }
        for (int w = 0; w < 256; ++w) {
            const int h = w / 128, r = w % 128, g = r / 32, l = r % 32;
            float v = 0;
            switch (type) {
            case 10: { // Q2_K: 16 scales (low nibble scale, high nibble min), 2-bit codes
                const int q = (b[static_cast<std::size_t>(16 + h * 32 + l)] >> (2 * g)) & 3;
                const std::uint8_t s = b[static_cast<std::size_t>(w / 16)];
                v = halfAt(80) * static_cast<float>(s & 0x0F) * static_cast<float>(q) - halfAt(82) * static_cast<float>(s >> 4);
                break;
            }
            case 11: { // Q3_K: 2 low bits, high bit in hmask[w % 32] bit w / 32, 6-bit signed scales
                const int low = (b[static_cast<std::size_t>(32 + h * 32 + l)] >> (2 * g)) & 3;
                const int high = (b[static_cast<std::size_t>(w % 32)] >> (w / 32)) & 1;
                const int j = w / 16;
                const std::uint8_t* s = b.data() + 96;
                const int sc = ((j < 8 ? s[j] & 0x0F : s[j - 8] >> 4) | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
                v = halfAt(108) * static_cast<float>(sc) * static_cast<float>(low + 4 * high - 4);
                break;
            }
            case 12:
            case 13: { // Q4_K/Q5_K: sub-block j = w / 32, its byte at (w / 64) * 32 + w % 32, low nibble for even j
                const int j = w / 32;
                const std::uint8_t* s = b.data() + 4;
                const int sc = j < 4 ? s[j] & 63 : (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
                const int mn = j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
                const std::size_t qs = type == 13 ? 48 : 16;
                const std::uint8_t byte = b[qs + static_cast<std::size_t>((w / 64) * 32 + w % 32)];
                int q = j % 2 ? byte >> 4 : byte & 0x0F;
                if (type == 13)
                    q += ((b[16 + static_cast<std::size_t>(w % 32)] >> j) & 1) * 16;
                v = halfAt(0) * static_cast<float>(sc) * static_cast<float>(q) - halfAt(2) * static_cast<float>(mn);
                break;
            }
            case 14: { // Q6_K: 4 low bits in ql (groups 0, 2 low nibbles; 1, 3 high), 2 high bits in qh
                const std::uint8_t lo = b[static_cast<std::size_t>(h * 64 + (g % 2) * 32 + l)];
                const int nibble = g < 2 ? lo & 0x0F : lo >> 4;
                const int hi = (b[static_cast<std::size_t>(128 + h * 32 + l)] >> (2 * g)) & 3;
                const auto sc = static_cast<std::int8_t>(b[static_cast<std::size_t>(192 + w / 16)]);
                v = halfAt(208) * static_cast<float>(sc) * static_cast<float>((nibble | (hi << 4)) - 32);
                break;
            }
            }
            want.push_back(v);
        }
        data.insert(data.end(), b.begin(), b.end());
    }
    const GgufFile g = parse(file({{"w", {512}, type, data}}, kMeta, kMetaCount));
    const Tensor t = g.toFloat(*g.tensor("w"));
    for (int i = 0; i < 512; ++i)
        QVERIFY2(t.data<float>()[i] == want[static_cast<std::size_t>(i)],
                 qPrintable(QString("weight %1: %2 vs %3").arg(i).arg(t.data<float>()[i]).arg(want[static_cast<std::size_t>(i)])));
}

void TestGgufFile::everyTruncationIsRefused()
{
    const auto whole = file({{"w", {32}, 8, std::vector<std::uint8_t>(34, 1)}, {"v", {4}, 0, std::vector<std::uint8_t>(16, 0)}},
                            kMeta, kMetaCount);
    QVERIFY(parse(whole).tensors().size() == 2);
    for (std::size_t n = 0; n < whole.size(); ++n) {
        const std::vector<std::byte> cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n));
        try {
            parse(cut);
            // Only cuts inside the last tensor's padding may still parse.
            QVERIFY2(n >= whole.size() - 16, qPrintable(QString("a cut at %1 of %2 bytes parsed").arg(n).arg(whole.size())));
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).startsWith("m.gguf: "), e.what());
        }
    }
}

void TestGgufFile::malformedHeadersAreRefused_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("message");
    const auto bytes = [](const std::vector<std::byte>& b) {
        return QByteArray(reinterpret_cast<const char*>(b.data()), static_cast<qsizetype>(b.size()));
    };
    const std::vector<std::uint8_t> q8(34, 0);
    const auto header = [](std::uint32_t version, std::uint64_t tensors, std::uint64_t kvs) {
        Writer w;
        w.raw({'G', 'G', 'U', 'F'}).put<std::uint32_t>(version).put<std::uint64_t>(tensors).put<std::uint64_t>(kvs);
        return w;
    };
    QTest::newRow("not gguf") << QByteArray("PK\x03\x04 zip file") << "m.gguf: magic: not a GGUF file";
    QTest::newRow("version 1") << bytes(header(1, 0, 0).bytes) << "m.gguf: version: GGUF version 1";
    QTest::newRow("huge kv count") << bytes(header(3, 0, std::uint64_t{1} << 60).bytes)
                                   << "m.gguf: metadata_kv_count: 1152921504606846976 entries do not fit";
    QTest::newRow("huge tensor count") << bytes(header(3, std::uint64_t{1} << 40, 0).bytes)
                                       << "m.gguf: tensor_count: 1099511627776 tensors do not fit";
    {
        Writer w = header(3, 0, 1);
        w.put<std::uint64_t>(~std::uint64_t{0}).put<std::uint64_t>(0);
        QTest::newRow("huge key length") << bytes(w.bytes) << "m.gguf: metadata[0].key: length 18446744073709551615 is beyond";
    }
    {
        Writer w = header(3, 0, 1);
        w.str("a").put<std::uint32_t>(9).put<std::uint32_t>(10).put<std::uint64_t>(std::uint64_t{1} << 50);
        QTest::newRow("huge array") << bytes(w.bytes) << "m.gguf: a: count 1125899906842624 does not fit";
    }
    {
        Writer w = header(3, 0, 1);
        w.str("a").put<std::uint32_t>(13).put<std::uint64_t>(0);
        QTest::newRow("unknown value type") << bytes(w.bytes) << "m.gguf: a: unknown value type 13";
    }
    {
        Writer w = header(3, 0, 1);
        w.str("a").put<std::uint32_t>(7).put<std::uint8_t>(2);
        QTest::newRow("bool 2") << bytes(w.bytes) << "m.gguf: a: a bool must be 0 or 1, got 2";
    }
    {
        Writer w = header(3, 0, 2);
        w.str("a").put<std::uint32_t>(4).put<std::uint32_t>(1).str("a").put<std::uint32_t>(4).put<std::uint32_t>(2);
        QTest::newRow("duplicate key") << bytes(w.bytes) << "m.gguf: metadata[1]: the key 'a' is given twice";
    }
    {
        Writer w = header(3, 0, 1);
        w.str("general.alignment").put<std::uint32_t>(4).put<std::uint32_t>(24);
        QTest::newRow("alignment 24") << bytes(w.bytes) << "m.gguf: general.alignment: 24 is not a power of two";
    }
    {
        Writer w = header(3, 0, 1);
        w.str("a").put<std::uint32_t>(9);
        for (int i = 0; i < 5; ++i)
            w.put<std::uint32_t>(9).put<std::uint64_t>(1);
        w.put<std::uint32_t>(4).put<std::uint64_t>(1).put<std::uint32_t>(0);
        QTest::newRow("arrays nested 5 deep") << bytes(w.bytes) << "arrays nested deeper than 4";
    }
    const auto tensorFile = [&](std::uint32_t nDims, std::vector<std::uint64_t> dims, std::uint32_t type, std::uint64_t offset,
                                std::size_t dataBytes) {
        Writer w = header(3, 1, 0);
        w.str("w").put<std::uint32_t>(nDims);
        for (std::uint64_t d : dims)
            w.put<std::uint64_t>(d);
        w.put<std::uint32_t>(type).put<std::uint64_t>(offset);
        w.padTo(32);
        w.raw(std::vector<std::uint8_t>(dataBytes, 0));
        return bytes(w.bytes);
    };
    QTest::newRow("n_dims 0") << tensorFile(0, {}, 0, 0, 0) << "m.gguf: tensors[0] (w).n_dims: 0 is outside 1..4";
    QTest::newRow("n_dims 5") << tensorFile(5, {1, 1, 1, 1, 1}, 0, 0, 4) << "m.gguf: tensors[0] (w).n_dims: 5 is outside 1..4";
    QTest::newRow("dim 0") << tensorFile(1, {0}, 0, 0, 0) << "m.gguf: tensors[0] (w).dims[0]: 0 is not a usable dimension";
    QTest::newRow("dims overflow") << tensorFile(3, {std::uint64_t{1} << 40, std::uint64_t{1} << 40, 4}, 0, 0, 0)
                                   << "m.gguf: tensors[0] (w).dims[1]: 1099511627776 is not a usable dimension";
    QTest::newRow("unknown type") << tensorFile(1, {4}, 99, 0, 16) << "m.gguf: tensors[0] (w).type: ggml type 99 is not known";
    QTest::newRow("not whole blocks") << tensorFile(1, {48}, 8, 0, 68)
                                      << "m.gguf: tensors[0] (w).dims[0]: 48 is not a multiple of Q8_0's block of 32";
    QTest::newRow("misaligned") << tensorFile(1, {4}, 0, 8, 64) << "m.gguf: tensor 'w'.offset: 8 is not a multiple of the alignment 32";
    QTest::newRow("beyond the file") << tensorFile(1, {32}, 8, 0, 33)
                                     << "m.gguf: tensor 'w'.offset: its 34 bytes at 0 go beyond the data section (33 bytes)";
    QTest::newRow("far beyond") << tensorFile(1, {4}, 0, std::uint64_t{1} << 62, 16) << "m.gguf: tensor 'w'.offset:";
    {
        Writer w = header(3, 2, 0);
        for (const char* name : {"a", "a"})
            w.str(name).put<std::uint32_t>(1).put<std::uint64_t>(4).put<std::uint32_t>(0).put<std::uint64_t>(0);
        w.padTo(32);
        w.raw(std::vector<std::uint8_t>(16, 0));
        QTest::newRow("duplicate tensor") << bytes(w.bytes) << "m.gguf: tensors[1] (a): a tensor of this name is listed twice";
    }
    {
        Writer w = header(3, 2, 0);
        for (const char* name : {"a", "b"})
            w.str(name).put<std::uint32_t>(1).put<std::uint64_t>(16).put<std::uint32_t>(0).put<std::uint64_t>(0);
        w.padTo(32);
        w.raw(std::vector<std::uint8_t>(64, 0));
        QTest::newRow("overlapping tensors") << bytes(w.bytes) << "m.gguf: tensors: two tensors overlap at data offset 0";
    }
}

void TestGgufFile::malformedHeadersAreRefused()
{
    QFETCH(QByteArray, bytes);
    QFETCH(QString, message);
    std::vector<std::byte> b(static_cast<std::size_t>(bytes.size()));
    std::memcpy(b.data(), bytes.constData(), b.size());
    try {
        parse(b);
        QFAIL("parsed");
    } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains(message), e.what());
    }
}

void TestGgufFile::opensAFileByMapping()
{
    QTemporaryDir dir;
    const QString path = dir.filePath("m.gguf");
    const auto bytes = file({{"w", {32}, 8, std::vector<std::uint8_t>(34, 2)}}, kMeta, kMetaCount);
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<qint64>(bytes.size()));
    f.close();
    const GgufFile g = GgufFile::open(path.toStdString());
    QCOMPARE(g.tensors().size(), std::size_t(1));
    // d = f16 bits 0x0202, every code 2.
    const float d = Half{0x0202}.toFloat();
    QCOMPARE(g.toFloat(g.tensors()[0]).data<float>()[31], 2 * d);
    try {
        GgufFile::open(dir.filePath("missing.gguf").toStdString());
        QFAIL("opened");
    } catch (const Error& e) {
        QVERIFY(QString(e.what()).contains("missing.gguf: cannot open"));
    }
    try {
        GgufFile::open(dir.path().toStdString());
        QFAIL("opened a folder");
    } catch (const Error& e) {
        QVERIFY(QString(e.what()).contains("not a regular file"));
    }
}

QTEST_APPLESS_MAIN(TestGgufFile)
#include "tst_gguffile.moc"
