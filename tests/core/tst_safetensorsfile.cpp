// The safetensors reader on files written here: values in F32/F16/BF16, __metadata__, a sharded
// model through its index, and malformed files each refused with the file and the field.
#include <QTemporaryDir>
#include <QtTest>
#include <cstring>

#include "io/SafetensorsFile.h"
#include "model/Half.h"
#include "util/Error.h"

using namespace leger;

namespace {

/// header JSON + data -> the file's bytes.
std::vector<std::byte> file(const std::string& header, const std::vector<std::uint8_t>& data)
{
    std::vector<std::byte> b(8);
    const std::uint64_t n = header.size();
    std::memcpy(b.data(), &n, 8);
    for (char c : header)
        b.push_back(std::byte(static_cast<unsigned char>(c)));
    for (std::uint8_t x : data)
        b.push_back(std::byte{x});
    return b;
}

SafetensorsFile parse(const std::vector<std::byte>& b)
{
    auto owner = std::make_shared<std::vector<std::byte>>(b);
    return SafetensorsFile::parse(owner, std::span<const std::byte>(owner->data(), owner->size()), "m.safetensors");
}

std::vector<std::uint8_t> floats(const std::vector<float>& v)
{
    std::vector<std::uint8_t> out(v.size() * 4);
    std::memcpy(out.data(), v.data(), out.size());
    return out;
}

void write(const QString& path, const std::vector<std::byte>& b)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<qint64>(b.size()));
}

} // namespace

class TestSafetensorsFile : public QObject {
    Q_OBJECT
private slots:
    void readsTensorsAndMetadata();
    void readsAShardedModel();
    void malformedFilesAreRefused_data();
    void malformedFilesAreRefused();
    void everyTruncationIsRefused();
};

void TestSafetensorsFile::readsTensorsAndMetadata()
{
    const std::vector<float> a{1.0f, -2.5f, 0.125f, 3e-5f, 7.0f, -0.0f};
    std::vector<std::uint8_t> data = floats(a);
    for (float v : {0.5f, -1.0f}) {
        const std::uint16_t h = Half::fromFloat(v).bits;
        data.push_back(static_cast<std::uint8_t>(h));
        data.push_back(static_cast<std::uint8_t>(h >> 8));
    }
    for (float v : {3.0f, -0.375f}) {
        const std::uint16_t h = BFloat16::fromFloat(v).bits;
        data.push_back(static_cast<std::uint8_t>(h));
        data.push_back(static_cast<std::uint8_t>(h >> 8));
    }
    const std::string header =
        R"({"__metadata__": {"format": "pt"}, "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},)"
        R"( "h": {"dtype": "F16", "shape": [2], "data_offsets": [24, 28]}, "b": {"dtype": "BF16", "shape": [1, 2], "data_offsets": [28, 32]}})";
    const SafetensorsFile f = parse(file(header, data));
    QCOMPARE(f.tensors().size(), std::size_t(3));
    QCOMPARE(f.metadata().at("format"), std::string("pt"));
    const Tensor ta = SafetensorsFile::toFloat(*f.tensor("a"));
    QCOMPARE(ta.shape(), (Shape{2, 3}));
    for (int i = 0; i < 6; ++i)
        QCOMPARE(ta.data<float>()[i], a[static_cast<std::size_t>(i)]);
    QCOMPARE(SafetensorsFile::toFloat(*f.tensor("h")).data<float>()[1], -1.0f);
    QCOMPARE(SafetensorsFile::toFloat(*f.tensor("b")).data<float>()[1], -0.375f);
    QCOMPARE(SafetensorsFile::toFloat(*f.tensor("b")).shape(), (Shape{1, 2}));
}

void TestSafetensorsFile::readsAShardedModel()
{
    QTemporaryDir dir;
    write(dir.filePath("model-00001-of-00002.safetensors"),
          file(R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", floats({1, 2})));
    write(dir.filePath("model-00002-of-00002.safetensors"),
          file(R"({"y": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", floats({3})));
    const QString index = dir.filePath("model.safetensors.index.json");
    QFile f(index);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(R"({"metadata": {"total_size": 12}, "weight_map": {"x": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}})");
    f.close();
    const SafetensorsFile s = SafetensorsFile::open(index.toStdString());
    QCOMPARE(s.tensors().size(), std::size_t(2));
    QCOMPARE(SafetensorsFile::toFloat(*s.tensor("y")).data<float>()[0], 3.0f);
    QVERIFY(s.tensor("x")->file.ends_with("model-00001-of-00002.safetensors"));

    // An index naming a tensor its shard does not have, or a path out of the folder.
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    f.write(R"({"weight_map": {"x": "model-00001-of-00002.safetensors", "z": "model-00001-of-00002.safetensors", "y": "model-00002-of-00002.safetensors"}})");
    f.close();
    try {
        SafetensorsFile::open(index.toStdString());
        QFAIL("opened");
    } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains("weight_map.z: not in model-00001-of-00002.safetensors"), e.what());
    }
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    f.write(R"({"weight_map": {"x": "../etc/passwd"}})");
    f.close();
    try {
        SafetensorsFile::open(index.toStdString());
        QFAIL("opened");
    } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains("is not a file name beside the index"), e.what());
    }
}

void TestSafetensorsFile::malformedFilesAreRefused_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("message");
    const auto bytes = [](const std::vector<std::byte>& b) {
        return QByteArray(reinterpret_cast<const char*>(b.data()), static_cast<qsizetype>(b.size()));
    };
    const auto one = [&](const std::string& entry, std::size_t dataBytes) {
        return bytes(file("{\"w\": " + entry + "}", std::vector<std::uint8_t>(dataBytes, 0)));
    };
    QTest::newRow("short") << QByteArray("abc") << "m.safetensors: header length: the file has 3 bytes";
    {
        std::vector<std::byte> b(16, std::byte{0xff});
        QTest::newRow("huge header") << bytes(b) << "m.safetensors: header length: 18446744073709551615 bytes do not fit";
    }
    QTest::newRow("not json") << bytes(file("{nope", {})) << "m.safetensors: header: not valid JSON";
    QTest::newRow("array") << bytes(file("[1]", {})) << "m.safetensors: header: expected a JSON object";
    QTest::newRow("unknown dtype") << one(R"({"dtype": "F8", "shape": [1], "data_offsets": [0, 1]})", 1)
                                   << "m.safetensors: w.dtype: unknown dtype \"F8\"";
    QTest::newRow("no shape") << one(R"({"dtype": "F32", "data_offsets": [0, 4]})", 4) << "m.safetensors: w: no \"shape\"";
    QTest::newRow("unknown key") << one(R"({"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "x": 1})", 4)
                                 << "m.safetensors: w.x: unknown key";
    QTest::newRow("negative dim") << one(R"({"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]})", 4)
                                  << "m.safetensors: w.shape[0]: expected a non-negative integer, got -1";
    QTest::newRow("overflowing shape") << one(R"({"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]})", 4)
                                       << "m.safetensors: w.shape: the element count overflows";
    QTest::newRow("beyond the data") << one(R"({"dtype": "F32", "shape": [2], "data_offsets": [0, 8]})", 4)
                                     << "m.safetensors: w.data_offsets: [0, 8] is not inside the data (4 bytes)";
    QTest::newRow("size mismatch") << one(R"({"dtype": "F32", "shape": [2], "data_offsets": [0, 4]})", 4)
                                   << "m.safetensors: w.data_offsets: 4 bytes for 2 F32 values (8 bytes)";
    QTest::newRow("trailing bytes") << one(R"({"dtype": "F32", "shape": [1], "data_offsets": [0, 4]})", 8)
                                    << "m.safetensors: data_offsets: 4 bytes after the last tensor belong to no tensor";
    QTest::newRow("hole") << one(R"({"dtype": "F32", "shape": [1], "data_offsets": [4, 8]})", 8)
                          << "m.safetensors: data_offsets: bytes 0..4 belong to no tensor";
    QTest::newRow("overlap")
        << bytes(file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                      std::vector<std::uint8_t>(8, 0)))
        << "m.safetensors: data_offsets: two tensors overlap at byte 4";
    QTest::newRow("metadata not strings") << bytes(file(R"({"__metadata__": {"a": 1}})", {}))
                                          << "m.safetensors: __metadata__.a: expected a string";
}

void TestSafetensorsFile::malformedFilesAreRefused()
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

void TestSafetensorsFile::everyTruncationIsRefused()
{
    const auto whole = file(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}})", floats({1, 2, 3}));
    for (std::size_t n = 0; n < whole.size(); ++n) {
        try {
            parse(std::vector<std::byte>(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n)));
            QFAIL(qPrintable(QString("a cut at %1 parsed").arg(n)));
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).startsWith("m.safetensors: "), e.what());
        }
    }
}

QTEST_APPLESS_MAIN(TestSafetensorsFile)
#include "tst_safetensorsfile.moc"
