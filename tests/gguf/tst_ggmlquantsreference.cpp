// Leger's GGUF block quantizers (core/compress/GgmlQuants) against ggml's own, bit for bit.
//
// The reference is ggml itself: libggml-base.so of node-llama-cpp's prebuilt Linux x64 binaries
// (tests/gguf/package-lock.json pins them; `npm ci --omit=optional` in tests/gguf), loaded with
// dlopen. Its ggml_quantize_chunk without an importance matrix runs quantize_row_<type>_ref, and
// its dequantize_row_<type> decodes. For each of the 10 types Leger writes, every row must give
// the same bytes (memcmp), and Leger's decoder the same floats as ggml's, on the real weights of
// resources/llm/model.safetensors (rows as stored where their length is a multiple of the block;
// every 2-D tensor cut into rows of 256) and on synthetic rows made for the edge cases (zeros,
// constants, an outlier, tiny, subnormal and huge values, one sign only, rounding ties, ...).
// Leger's quantize speed is printed. Skipped when the npm package is not installed.
#include <QtTest>

#include <dlfcn.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "compress/GgmlQuants.h"
#include "io/SafetensorsFile.h"

using namespace leger;

namespace {

const QString kLibrary = QStringLiteral(LEGER_GGML_BASE_LIB);
const QString kModel = QStringLiteral(LEGER_SOURCE_DIR "/resources/llm/model.safetensors");

// ggml's entry points (ggml.h, ggml-quants.h); ggml_type is an int-sized enum.
using QuantizeChunk = std::size_t (*)(int type, const float* src, void* dst, std::int64_t start, std::int64_t nrows,
                                      std::int64_t nPerRow, const float* imatrix);
using QuantizeInit = void (*)(int type);
using DequantizeRow = void (*)(const void* x, float* y, std::int64_t k);

const GgmlType kTypes[] = {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                           GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

/// Rows of one length, row-major: rows() x rowLength.
struct RowSet {
    std::string name;
    bool real = false; // from the model's weights
    std::int64_t rowLength = 0;
    std::vector<float> values;
    std::int64_t rows() const { return static_cast<std::int64_t>(values.size()) / rowLength; }
};

/// values cut into rows of `length`; a last partial row is completed with the first values.
RowSet cutIntoRows(std::string name, const float* values, std::int64_t n, std::int64_t length)
{
    RowSet s{std::move(name), true, length, std::vector<float>(values, values + n)};
    for (std::int64_t i = 0; s.values.size() % static_cast<std::size_t>(length) != 0; ++i)
        s.values.push_back(values[i % n]);
    return s;
}

/// rows x 256 values from f(row, column).
template <class F> RowSet synthetic(std::string name, std::int64_t rows, F f)
{
    RowSet s{std::move(name), false, 256, {}};
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < 256; ++c)
            s.values.push_back(static_cast<float>(f(r, c)));
    return s;
}

std::vector<RowSet> syntheticRows()
{
    std::mt19937 rng(20240611);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    const auto n = [&] { return normal(rng); };
    std::vector<RowSet> sets;
    sets.push_back(synthetic("zeros", 2, [](auto, auto) { return 0.0; }));
    sets.push_back(synthetic("negative zeros", 1, [](auto, auto) { return -0.0; }));
    sets.push_back(synthetic("constant 0.37", 1, [](auto, auto) { return 0.37; }));
    sets.push_back(synthetic("constant -1.25", 1, [](auto, auto) { return -1.25; }));
    // One huge weight among small ones, at a different place in each row (sub-block and sign).
    sets.push_back(synthetic("one outlier", 8, [&](std::int64_t r, std::int64_t c) {
        return c == r * 37 % 256 ? (r % 2 ? -1000.0 : 1000.0) : 0.01 * n();
    }));
    sets.push_back(synthetic("one outlier, else zeros", 4, [](std::int64_t r, std::int64_t c) {
        return c == r * 71 % 256 ? (r % 2 ? -3.0 : 3.0) : 0.0;
    }));
    sets.push_back(synthetic("tiny 1e-30", 4, [&](auto, auto) { return 1e-30 * n(); }));
    sets.push_back(synthetic("1e-15 and 1e-16 (ggml's all-zero threshold)", 4, [&](std::int64_t r, std::int64_t c) {
        return (r % 2 ? 1e-15 : 1.2e-16) * (c % 3 == 0 ? -1.0 : 1.0) * (1.0 + (c % 7) / 7.0);
    }));
    // Subnormal floats: the inverse scale 1/d overflows to Inf.
    sets.push_back(synthetic("subnormal 1e-40", 4, [&](auto, auto) { return 1e-40 * uniform(rng); }));
    sets.push_back(synthetic("negative only", 8, [&](auto, auto) { return -std::fabs(n()) - 0.001; }));
    sets.push_back(synthetic("positive only", 8, [&](auto, auto) { return std::fabs(n()) + 0.001; }));
    sets.push_back(synthetic("positive only, far from 0", 4, [&](auto, auto) { return 5.0 + 0.1 * n(); }));
    // Multiples of 1/2 and 1/4 on grids where x / d lands on .5 ties for the round-half-up
    // (Q4_0: d = 1 with -8 present), roundf (Q8_0: d = 1 with 127) and nearest-even (K-quants) rules.
    sets.push_back(synthetic("ties, half grid", 4, [](std::int64_t r, std::int64_t c) {
        return c % 32 == 0 ? -8.0 : static_cast<double>((c * 7 + r) % 31 - 15) * 0.5;
    }));
    sets.push_back(synthetic("ties, Q8_0 grid", 2, [](std::int64_t r, std::int64_t c) {
        return c % 32 == 0 ? 127.0 : static_cast<double>((c * 13 + r) % 253 - 126) * 0.5;
    }));
    sets.push_back(synthetic("ties, quarter grid", 4, [](std::int64_t r, std::int64_t c) {
        return static_cast<double>((c * 5 + r * 3) % 33 - 16) * 0.25;
    }));
    sets.push_back(synthetic("small integers", 4, [](std::int64_t r, std::int64_t c) { return static_cast<double>((c + r) % 8 - 4); }));
    sets.push_back(synthetic("large 1e4", 4, [&](auto, auto) { return 1e4 * n(); }));
    sets.push_back(synthetic("large 60000", 4, [&](auto, auto) { return 60000.0 * uniform(rng); }));
    sets.push_back(synthetic("+-60000 and 1", 2, [](std::int64_t r, std::int64_t c) {
        return c % 16 == r ? 60000.0 : c % 16 == r + 1 ? -60000.0 : 1.0;
    }));
    // Beyond float16: the stored scale or minimum overflows to Inf.
    sets.push_back(synthetic("beyond half 1e5", 2, [&](auto, auto) { return 1e5 * uniform(rng); }));
    // Not finite: ggml has no special case, so NaN and Inf flow through its arithmetic and its
    // integer conversions (truncToInt8, nearestInt); the bytes must still be ggml's.
    sets.push_back(synthetic("one NaN", 2, [&](std::int64_t r, std::int64_t c) {
        return c == 5 + 100 * r ? std::numeric_limits<double>::quiet_NaN() : n();
    }));
    sets.push_back(synthetic("one Inf", 2, [&](std::int64_t r, std::int64_t c) {
        return c == 7 + 100 * r ? (r ? -1.0 : 1.0) * std::numeric_limits<double>::infinity() : n();
    }));
    sets.push_back(synthetic("alternating signs", 4, [&](std::int64_t, std::int64_t c) {
        return (c % 2 ? -1.0 : 1.0) * (0.5 + 0.1 * std::fabs(n()));
    }));
    sets.push_back(synthetic("ramp", 2, [](std::int64_t r, std::int64_t c) { return (r ? -1.0 : 1.0) * (static_cast<double>(c) - 100.0) / 64.0; }));
    sets.push_back(synthetic("sparse", 8, [&](auto, auto) { return uniform(rng) > 0.9f ? n() : 0.0; }));
    sets.push_back(synthetic("random normal, std 1", 64, [&](auto, auto) { return n(); }));
    sets.push_back(synthetic("random normal, std 0.02", 64, [&](auto, auto) { return 0.02 * n(); }));
    sets.push_back(synthetic("random normal + 0.3 offset", 32, [&](auto, auto) { return 0.3 + 0.05 * n(); }));
    sets.push_back(synthetic("heavy tails (normal^3)", 32, [&](auto, auto) { const float v = n(); return v * v * v; }));
    return sets;
}

/// Where two byte strings of rows first differ, for the failure message.
QString firstDifference(const std::vector<std::uint8_t>& mine, const std::vector<std::uint8_t>& theirs, std::int64_t rowBytes,
                        std::int64_t blockBytes, const RowSet& set, std::int64_t blockSize)
{
    std::size_t at = 0;
    while (at < mine.size() && mine[at] == theirs[at])
        ++at;
    const std::int64_t row = static_cast<std::int64_t>(at) / rowBytes;
    const std::int64_t block = static_cast<std::int64_t>(at) % rowBytes / blockBytes;
    const std::int64_t byte = static_cast<std::int64_t>(at) % rowBytes % blockBytes;
    QString text = QString("'%1': row %2, block %3, byte %4 of the block: Leger 0x%5, ggml 0x%6\nblock bytes Leger/ggml:\n")
                       .arg(QString::fromStdString(set.name))
                       .arg(row)
                       .arg(block)
                       .arg(byte)
                       .arg(mine[at], 2, 16, QChar('0'))
                       .arg(theirs[at], 2, 16, QChar('0'));
    const std::size_t start = static_cast<std::size_t>(row * rowBytes + block * blockBytes);
    for (const auto* bytes : {&mine, &theirs}) {
        for (std::int64_t k = 0; k < blockBytes; ++k)
            text += QString("%1").arg((*bytes)[start + static_cast<std::size_t>(k)], 2, 16, QChar('0'));
        text += "\n";
    }
    text += "block input:";
    const float* x = set.values.data() + row * set.rowLength + block * blockSize;
    for (std::int64_t k = 0; k < blockSize; ++k)
        text += QString(" %1").arg(static_cast<double>(x[k]), 0, 'g', 9);
    return text;
}

} // namespace

class TestGgmlQuantsReference : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void cleanupTestCase();
    void matchesGgml_data();
    void matchesGgml();

private:
    void* library_ = nullptr;
    QuantizeChunk quantizeChunk_ = nullptr;
    std::vector<RowSet> sets_;
};

void TestGgmlQuantsReference::initTestCase()
{
    if (!QFileInfo::exists(kLibrary))
        QSKIP("ggml is not installed: run `npm ci --omit=optional` in tests/gguf (node-llama-cpp's prebuilt binaries)");
    library_ = dlopen(kLibrary.toLocal8Bit().constData(), RTLD_NOW | RTLD_LOCAL);
    QVERIFY2(library_, dlerror());
    quantizeChunk_ = reinterpret_cast<QuantizeChunk>(dlsym(library_, "ggml_quantize_chunk"));
    QVERIFY2(quantizeChunk_, "libggml-base.so has no ggml_quantize_chunk");
    using Text = const char* (*)();
    if (auto version = reinterpret_cast<Text>(dlsym(library_, "ggml_version")))
        qInfo("ggml %s (commit %s)", version(),
              dlsym(library_, "ggml_commit") ? reinterpret_cast<Text>(dlsym(library_, "ggml_commit"))() : "?");

    // The model's weights: rows as stored where their length allows, and every 2-D tensor cut
    // into rows of 256 (a multiple of every block size), so that all of its values are covered.
    const SafetensorsFile model = SafetensorsFile::open(kModel.toStdString());
    RowSet reshaped{"model weights in rows of 256", true, 256, {}};
    for (const SafetensorsTensor& t : model.tensors()) {
        if (t.shape.size() != 2)
            continue;
        const Tensor w = SafetensorsFile::toFloat(t);
        RowSet cut = cutIntoRows(t.name, w.data<float>(), w.size(), 256);
        reshaped.values.insert(reshaped.values.end(), cut.values.begin(), cut.values.end());
        // Stored rows (hidden size 144: only down_proj's rows of 384 are a multiple of 32; none of
        // 256).
        if (t.shape[1] % 32 == 0)
            sets_.push_back(RowSet{t.name + " as stored", true, t.shape[1], std::vector<float>(w.data<float>(), w.data<float>() + w.size())});
    }
    sets_.push_back(std::move(reshaped));
    for (RowSet& s : syntheticRows())
        sets_.push_back(std::move(s));
}

void TestGgmlQuantsReference::cleanupTestCase()
{
    if (library_)
        dlclose(library_);
}

void TestGgmlQuantsReference::matchesGgml_data()
{
    QTest::addColumn<int>("type");
    for (GgmlType t : kTypes)
        QTest::newRow(ggmlTypeTraits(static_cast<std::uint32_t>(t))->name) << static_cast<int>(t);
}

void TestGgmlQuantsReference::matchesGgml()
{
    QFETCH(int, type);
    const auto t = static_cast<GgmlType>(type);
    const GgmlTypeTraits& traits = *ggmlTypeTraits(static_cast<std::uint32_t>(type));
    if (auto init = reinterpret_cast<QuantizeInit>(dlsym(library_, "ggml_quantize_init")))
        init(type);
    const std::string dequantName = "dequantize_row_" + QString(traits.name).toLower().replace("_k", "_K").toStdString();
    const auto dequantize = reinterpret_cast<DequantizeRow>(dlsym(library_, dequantName.c_str()));
    QVERIFY2(dequantize, qPrintable(QString("libggml-base.so has no %1").arg(dequantName.c_str())));

    std::int64_t rows[2] = {}, blocks[2] = {}, skipped = 0; // [synthetic, real]
    double seconds = 0.0, ggmlSeconds = 0.0, floats = 0.0;
    for (const RowSet& set : sets_) {
        if (set.rowLength % traits.blockSize != 0) {
            ++skipped;
            continue;
        }
        const std::int64_t rowBytes = ggmlRowBytes(t, set.rowLength);
        const std::int64_t n = set.rows();
        std::vector<std::uint8_t> theirs(static_cast<std::size_t>(n * rowBytes), 0xAA);
        std::vector<std::uint8_t> mine(theirs.size(), 0x55);
        const auto ggmlStart = std::chrono::steady_clock::now();
        const std::size_t written = quantizeChunk_(type, set.values.data(), theirs.data(), 0, n, set.rowLength, nullptr);
        const double ggmlTime = std::chrono::duration<double>(std::chrono::steady_clock::now() - ggmlStart).count();
        QCOMPARE(static_cast<std::int64_t>(written), n * rowBytes);
        const auto start = std::chrono::steady_clock::now();
        for (std::int64_t r = 0; r < n; ++r)
            quantizeGgmlRow(t, set.values.data() + r * set.rowLength, set.rowLength,
                            reinterpret_cast<std::byte*>(mine.data() + r * rowBytes));
        // Speed on the real weights only (subnormal rows are slow on any x86 CPU).
        if (set.real) {
            seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            ggmlSeconds += ggmlTime;
            floats += static_cast<double>(set.values.size());
        }
        if (mine != theirs)
            QFAIL(qPrintable(firstDifference(mine, theirs, rowBytes, traits.blockBytes, set, traits.blockSize)));

        // The decoders, on ggml's bytes: floats compared as bits (NaN and -0 included).
        std::vector<float> decodedTheirs(set.values.size()), decodedMine(set.values.size());
        dequantize(theirs.data(), decodedTheirs.data(), n * set.rowLength);
        for (std::int64_t r = 0; r < n; ++r)
            dequantizeGgmlRow(t, reinterpret_cast<const std::byte*>(theirs.data() + r * rowBytes), set.rowLength,
                              decodedMine.data() + r * set.rowLength);
        if (std::memcmp(decodedMine.data(), decodedTheirs.data(), decodedMine.size() * sizeof(float)) != 0) {
            std::size_t at = 0;
            while (std::memcmp(&decodedMine[at], &decodedTheirs[at], sizeof(float)) == 0)
                ++at;
            QFAIL(qPrintable(QString("'%1': decoded weight %2 (row %3, block %4): Leger %5, ggml %6")
                                 .arg(QString::fromStdString(set.name))
                                 .arg(at)
                                 .arg(static_cast<std::int64_t>(at) / set.rowLength)
                                 .arg(static_cast<std::int64_t>(at) % set.rowLength / traits.blockSize)
                                 .arg(static_cast<double>(decodedMine[at]), 0, 'g', 9)
                                 .arg(static_cast<double>(decodedTheirs[at]), 0, 'g', 9)));
        }
        rows[set.real] += n;
        blocks[set.real] += n * set.rowLength / traits.blockSize;
    }
    QVERIFY(rows[1] > 0 && rows[0] > 0);
    qInfo("%s: identical bytes and decoded floats: real weights %lld rows (%lld blocks), synthetic %lld rows (%lld blocks); "
          "%lld row sets skipped (length not a multiple of %lld); quantizing the real float32 weights: Leger %.1f MB/s, ggml %.1f MB/s",
          traits.name, static_cast<long long>(rows[1]), static_cast<long long>(blocks[1]), static_cast<long long>(rows[0]),
          static_cast<long long>(blocks[0]), static_cast<long long>(skipped), static_cast<long long>(traits.blockSize),
          floats * 4 / seconds / 1e6, floats * 4 / ggmlSeconds / 1e6);
}

QTEST_GUILESS_MAIN(TestGgmlQuantsReference)
#include "tst_ggmlquantsreference.moc"
