// Dataset readers: IDX (the real Fashion-MNIST and crafted files), .npz, .npy pairs, image folders.
#include <QtTest>

#include <filesystem>

#include <stb_image_write.h>
#include <zlib.h>

#include "data/Dataset.h"
#include "io/NpyIO.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

#include "TestUtil.h"

using namespace leger;
using namespace leger::test;
namespace fs = std::filesystem;

namespace {

const std::string kFashion = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";

std::string idxBytes(int typeCode, const std::vector<std::uint32_t>& dims, const std::string& data)
{
    std::string b{'\0', '\0', static_cast<char>(typeCode), static_cast<char>(dims.size())};
    for (auto d : dims)
        for (int k = 3; k >= 0; --k)
            b.push_back(static_cast<char>((d >> (8 * k)) & 0xff));
    return b + data;
}

} // namespace

class TestDataset : public QObject {
    Q_OBJECT
private slots:
    void readsRealFashionMnist();
    void readsCraftedIdx();
    void rejectsBadIdx_data();
    void rejectsBadIdx();
    void readsNpzAndNpyPairs();
    void readsImageFolder();
    void rejectsMixedImageSizes();

private:
    QTemporaryDir tmp_;
    std::string path(const char* name) const { return tmp_.filePath(name).toStdString(); }
};

void TestDataset::readsRealFashionMnist()
{
    if (!fs::exists(kFashion))
        QSKIP("dataset-fashion-mnist is not installed");
    const Dataset d = Dataset::read(kFashion, 500);
    QCOMPARE(d.samples.shape(), (Shape{500, 28, 28}));
    QCOMPARE(d.samples.dtype(), DType::UInt8);
    QVERIFY(d.hasLabels());
    QCOMPARE(d.labels.size(), 500);
    // The first test images of Fashion-MNIST are an ankle boot, a pullover and a trouser.
    QCOMPARE(d.labels.data<std::int64_t>()[0], std::int64_t(9));
    QCOMPARE(d.labels.data<std::int64_t>()[1], std::int64_t(2));
    QCOMPARE(d.labels.data<std::int64_t>()[2], std::int64_t(1));
    QCOMPARE(Dataset::read(kFashion).count(), std::int64_t(10000));
}

void TestDataset::readsCraftedIdx()
{
    // Big-endian int16 values, gzipped, with a labels file found by the standard naming.
    std::string data;
    for (std::int16_t v : {1, -2, 300, 4, 5, -600}) {
        data.push_back(static_cast<char>((v >> 8) & 0xff));
        data.push_back(static_cast<char>(v & 0xff));
    }
    const std::string images = path("tiny-images-idx3-ubyte.gz");
    gzFile f = gzopen(images.c_str(), "wb");
    const std::string bytes = idxBytes(0x0B, {3, 1, 2}, data);
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
    const std::string labels = path("tiny-labels-idx1-ubyte.gz");
    f = gzopen(labels.c_str(), "wb");
    const std::string lb = idxBytes(0x08, {3}, std::string{'\x07', '\x00', '\x02'});
    gzwrite(f, lb.data(), static_cast<unsigned>(lb.size()));
    gzclose(f);
    const Dataset d = Dataset::read(images);
    QCOMPARE(d.samples.shape(), (Shape{3, 1, 2}));
    QCOMPARE(d.samples.data<std::int16_t>()[2], std::int16_t(300));
    QCOMPARE(d.samples.data<std::int16_t>()[5], std::int16_t(-600));
    QCOMPARE(d.labels.data<std::int64_t>()[0], std::int64_t(7));
}

void TestDataset::rejectsBadIdx_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("expected");
    QTest::newRow("bad magic") << QByteArray("\x01\x02\x08\x01", 4) << "bad magic";
    QTest::newRow("truncated header") << QByteArray("\x00\x00\x08\x03\x00\x00", 6) << "truncated";
    const std::string shortData = idxBytes(0x08, {1000, 28, 28}, std::string(100, 'x'));
    QTest::newRow("truncated data") << QByteArray(shortData.data(), qsizetype(shortData.size())) << "truncated";
    const std::string huge = idxBytes(0x0D, {0xffffffffu, 0xffffffffu, 0xffffffffu}, "");
    QTest::newRow("hostile dimensions") << QByteArray(huge.data(), qsizetype(huge.size())) << "implausible";
    QTest::newRow("unknown type") << QByteArray("\x00\x00\x42\x01\x00\x00\x00\x01x", 9) << "element type";
}

void TestDataset::rejectsBadIdx()
{
    QFETCH(QByteArray, bytes);
    QFETCH(QString, expected);
    const std::string file = path("bad-images-idx3-ubyte");
    writeFileAtomically(file, std::string_view(bytes.constData(), std::size_t(bytes.size())));
    const std::string err = errorOf([&] { Dataset::read(file); });
    QVERIFY2(err.find(file) == 0 && err.find(expected.toStdString()) != std::string::npos, err.c_str());
}

void TestDataset::readsNpzAndNpyPairs()
{
    Tensor x = Tensor::fromVector<float>({4, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
    Tensor y = Tensor::fromVector<std::int32_t>({4}, {3, 2, 1, 0});
    NpyIO::writeNpz(path("d.npz"), {{"x", x}, {"y", y}});
    Dataset d = Dataset::read(path("d.npz"), 3);
    QCOMPARE(d.samples.shape(), (Shape{3, 2}));
    QCOMPARE(d.labels.data<std::int64_t>()[2], std::int64_t(1));

    fs::create_directories(path("pair"));
    NpyIO::writeNpy(path("pair/x.npy"), x);
    NpyIO::writeNpy(path("pair/y.npy"), y);
    d = Dataset::read(path("pair/x.npy"));
    QCOMPARE(d.count(), std::int64_t(4));
    QCOMPARE(d.labels.data<std::int64_t>()[0], std::int64_t(3));

    NpyIO::writeNpz(path("nolabels.npz"), {{"x", x}});
    QVERIFY(!Dataset::read(path("nolabels.npz")).hasLabels());
    NpyIO::writeNpz(path("mismatch.npz"), {{"x", x}, {"y", Tensor::fromVector<std::int64_t>({2}, {0, 1})}});
    QVERIFY(errorOf([&] { Dataset::read(path("mismatch.npz")); }).find("4 samples but 2 labels") != std::string::npos);
    NpyIO::writeNpz(path("noX.npz"), {{"images", x}});
    QVERIFY(errorOf([&] { Dataset::read(path("noX.npz")); }).find("'x'") != std::string::npos);
}

void TestDataset::readsImageFolder()
{
    // Two classes of 3x2 RGB images; the label is the subfolder's index in sorted order.
    for (const char* cls : {"cat", "dog"}) {
        fs::create_directories(path("imgs/") + cls);
        for (int i = 0; i < 2; ++i) {
            unsigned char px[3 * 2 * 3];
            for (int k = 0; k < 18; ++k)
                px[k] = static_cast<unsigned char>(k + (cls[0] == 'd' ? 100 : 0) + i);
            const std::string file = path("imgs/") + cls + "/" + std::to_string(i) + ".png";
            QVERIFY(stbi_write_png(file.c_str(), 3, 2, 3, px, 3 * 3));
        }
    }
    const Dataset d = Dataset::read(path("imgs"));
    QCOMPARE(d.samples.shape(), (Shape{4, 2, 3, 3}));
    QCOMPARE(d.classNames, (std::vector<std::string>{"cat", "dog"}));
    QCOMPARE(d.labels.data<std::int64_t>()[3], std::int64_t(1));
    QCOMPARE(int(d.samples.data<std::uint8_t>()[3 * 18 + 5]), 100 + 1 + 5);
}

void TestDataset::rejectsMixedImageSizes()
{
    fs::create_directories(path("mixed/a"));
    unsigned char px[16] = {};
    const std::string big = path("mixed/a/2.png");
    QVERIFY(stbi_write_png(path("mixed/a/1.png").c_str(), 2, 2, 1, px, 2));
    QVERIFY(stbi_write_png(big.c_str(), 4, 4, 1, px, 4));
    const std::string err = errorOf([&] { Dataset::read(path("mixed")); });
    QVERIFY2(err.find(big) == 0 && err.find("one size") != std::string::npos, err.c_str());
    writeFileAtomically(path("mixed/a/3.png"), "not a png");
    fs::remove(big);
    QVERIFY(errorOf([&] { Dataset::read(path("mixed")); }).find("3.png") != std::string::npos);
}

QTEST_APPLESS_MAIN(TestDataset)
#include "tst_dataset.moc"
