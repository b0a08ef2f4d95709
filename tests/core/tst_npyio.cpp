// .npy/.npz reading and writing, against files NumPy wrote.
#include <QtTest>

#include <cstdio>
#include <filesystem>

#include "io/NpyIO.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

using namespace leger;

namespace {
const std::string kData = std::string(LEGER_SOURCE_DIR) + "/tests/core/data/";
}

class TestNpyIO : public QObject {
    Q_OBJECT
private slots:
    void readsNumpyArchives_data();
    void readsNumpyArchives();
    void readsScalar();
    void roundTrips_data();
    void roundTrips();
    void rejectsTruncated();
    void rejectsGarbage();

private:
    QTemporaryDir tmp_;
};

void TestNpyIO::readsNumpyArchives_data()
{
    QTest::addColumn<QString>("file");
    QTest::newRow("np.savez") << "numpy_stored.npz";
    QTest::newRow("np.savez_compressed") << "numpy_deflated.npz";
}

void TestNpyIO::readsNumpyArchives()
{
    QFETCH(QString, file);
    const auto arrays = NpyIO::readNpz(kData + file.toStdString());
    QCOMPARE(arrays.size(), std::size_t(4));
    const Tensor& a = arrays.at("a");
    QCOMPARE(a.shape(), (Shape{3, 4}));
    QCOMPARE(a.data<float>()[5], 5.0f / 7.0f);
    const Tensor& b = arrays.at("b");
    QCOMPARE(b.dtype(), DType::Int64);
    QCOMPARE(b.data<std::int64_t>()[1], std::int64_t(-2));
    const Tensor& c = arrays.at("c");
    QCOMPARE(c.dtype(), DType::Bool);
    QCOMPARE(c.data<bool>()[1], false);
    const Tensor& d = arrays.at("d");
    QCOMPARE(d.dtype(), DType::Float16);
    QCOMPARE(d.data<Half>()[2].toFloat(), -2.25f);
}

void TestNpyIO::readsScalar()
{
    const Tensor t = NpyIO::readNpy(kData + "numpy_scalar.npy");
    QCOMPARE(t.rank(), 0);
    QCOMPARE(t.data<double>()[0], 3.25);
}

void TestNpyIO::roundTrips_data()
{
    QTest::addColumn<int>("dtype");
    QTest::addColumn<QList<qint64>>("shape");
    QTest::newRow("float 2-D") << int(DType::Float32) << QList<qint64>{5, 7};
    QTest::newRow("int8 1-D") << int(DType::Int8) << QList<qint64>{9};
    QTest::newRow("uint64 3-D") << int(DType::UInt64) << QList<qint64>{2, 1, 3};
    QTest::newRow("empty") << int(DType::Float64) << QList<qint64>{0, 4};
    QTest::newRow("scalar") << int(DType::Int32) << QList<qint64>{};
}

void TestNpyIO::roundTrips()
{
    QFETCH(int, dtype);
    QFETCH(QList<qint64>, shape);
    Tensor t(static_cast<DType>(dtype), Shape(shape.begin(), shape.end()));
    for (std::size_t i = 0; i < t.byteSize(); ++i)
        t.raw()[i] = static_cast<std::byte>(i * 37 + 11);
    const std::string npy = tmp_.filePath("t.npy").toStdString();
    NpyIO::writeNpy(npy, t);
    const Tensor back = NpyIO::readNpy(npy);
    QCOMPARE(back.dtype(), t.dtype());
    QCOMPARE(back.shape(), t.shape());
    QVERIFY(std::equal(t.raw(), t.raw() + t.byteSize(), back.raw()));

    const std::string npz = tmp_.filePath("t.npz").toStdString();
    NpyIO::writeNpz(npz, {{"first", t}, {"second", Tensor::scalar<float>(2.5f)}});
    const auto arrays = NpyIO::readNpz(npz);
    QCOMPARE(arrays.at("first").shape(), t.shape());
    QVERIFY(std::equal(t.raw(), t.raw() + t.byteSize(), arrays.at("first").raw()));
    QCOMPARE(arrays.at("second").data<float>()[0], 2.5f);
}

void TestNpyIO::rejectsTruncated()
{
    const std::string bytes = readFile(kData + "numpy_stored.npz");
    const std::string cut = tmp_.filePath("cut.npz").toStdString();
    for (std::size_t keep : {bytes.size() - 1, bytes.size() / 2, std::size_t(30)}) {
        writeFileAtomically(cut, std::string_view(bytes).substr(0, keep));
        try {
            NpyIO::readNpz(cut);
            QFAIL("a truncated archive was accepted");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find(cut) != std::string::npos, e.what());
        }
    }
    const Tensor t = Tensor::fromVector<float>({4}, {1, 2, 3, 4});
    std::string npy = NpyIO::serializeNpy(t);
    npy.pop_back();
    writeFileAtomically(cut, npy);
    QVERIFY_THROWS_EXCEPTION(Error, NpyIO::readNpy(cut));
}

void TestNpyIO::rejectsGarbage()
{
    const std::string bad = tmp_.filePath("bad.npy").toStdString();
    writeFileAtomically(bad, "this is not numpy");
    QVERIFY_THROWS_EXCEPTION(Error, NpyIO::readNpy(bad));
    QVERIFY_THROWS_EXCEPTION(Error, NpyIO::readNpz(bad));
    QVERIFY_THROWS_EXCEPTION(Error, NpyIO::readNpy(tmp_.filePath("missing.npy").toStdString()));
}

QTEST_APPLESS_MAIN(TestNpyIO)
#include "tst_npyio.moc"
