// CSV export: RFC 4180 quoting, raw values from the export role, '.' as decimal point in any
// locale, UTF-8; compared byte for byte.
#include <QtTest>

#include <QStandardItemModel>
#include <QTemporaryDir>

#include "session/CsvExport.h"

using leger::ui::kExportRole;
using leger::ui::writeCsv;

namespace {

QByteArray readAll(const QString& path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

QStandardItem* item(const QString& display, const QVariant& exported = {})
{
    auto* i = new QStandardItem(display);
    if (exported.isValid())
        i->setData(exported, kExportRole);
    return i;
}

/// Evaluated points as a results table shows them: formatted for reading, raw for export.
void fill(QStandardItemModel& model)
{
    model.setColumnCount(4);
    model.setHorizontalHeaderLabels({"Label", "Size", "Top-1", "Pareto"});
    // The size column exports under the unit it holds.
    model.setHeaderData(1, Qt::Horizontal, "size_bytes", kExportRole);
    model.appendRow({item("int8, per channel", "int8, per channel"), item("1.2 kB", qint64{1234}),
                     item("92,5 %", 0.925), item("yes", true)});
    model.appendRow({item("say \"hi\""), item("5 GB", qint64{5} << 30), item("10 %", 0.1), item("no", false)});
    model.appendRow({item("two\nlines"), item("0 B", 0), item("1e-7", 1e-7), item("")});
    model.appendRow({item("Größe ✓ 量子化"), item("huge", 1e21), item("-0", -0.5), item("a,b\r\nc")});
}

} // namespace

class TestCsvExport : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void exactBytes_data();
    void exactBytes();
    void headerOnly();
    void failureNamesTheFile();

private:
    QTemporaryDir dir_;
};

void TestCsvExport::initTestCase() { QVERIFY(dir_.isValid()); }

void TestCsvExport::exactBytes_data()
{
    QTest::addColumn<QLocale>("locale");
    QTest::newRow("C") << QLocale::c();
    QTest::newRow("German") << QLocale(QLocale::German, QLocale::Germany);
    QTest::newRow("French") << QLocale(QLocale::French, QLocale::France);
}

void TestCsvExport::exactBytes()
{
    QFETCH(QLocale, locale);
    const QLocale saved;
    QLocale::setDefault(locale);
    QStandardItemModel model;
    fill(model);
    const QString file = dir_.filePath("points.csv");
    QString error;
    const bool ok = writeCsv(model, file, &error);
    QLocale::setDefault(saved);
    QVERIFY2(ok, qPrintable(error));
    const QByteArray expected = "Label,size_bytes,Top-1,Pareto\r\n"
                                "\"int8, per channel\",1234,0.925,true\r\n"
                                "\"say \"\"hi\"\"\",5368709120,0.1,false\r\n"
                                "\"two\nlines\",0,1e-07,\r\n"
                                "Gr\xc3\xb6\xc3\x9f" "e \xe2\x9c\x93 \xe9\x87\x8f\xe5\xad\x90\xe5\x8c\x96,1e+21,-0.5,\"a,b\r\nc\"\r\n";
    QCOMPARE(readAll(file), expected);
}

void TestCsvExport::headerOnly()
{
    QStandardItemModel model(0, 2);
    model.setHorizontalHeaderLabels({"a", "b \"c\""});
    const QString file = dir_.filePath("empty.csv");
    QVERIFY(writeCsv(model, file, nullptr));
    QCOMPARE(readAll(file), QByteArray("a,\"b \"\"c\"\"\"\r\n"));
}

void TestCsvExport::failureNamesTheFile()
{
    QStandardItemModel model;
    fill(model);
    const QString file = dir_.filePath("no/such/folder/points.csv");
    QString error;
    QVERIFY(!writeCsv(model, file, &error));
    QCOMPARE(error, file + ": cannot create a temporary file: No such file or directory");
    QVERIFY(!QFile::exists(file));
}

QTEST_MAIN(TestCsvExport)
#include "tst_csvexport.moc"
