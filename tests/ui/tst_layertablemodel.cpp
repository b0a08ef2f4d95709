// The layer table on the sample's real layers: QAbstractItemModelTester throughout opening,
// editing, undo and reopening; edits through setData are undoable plan changes.
#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QUndoStack>
#include <QtTest>

#include "layers/LayerTableModel.h"
#include "workbench/Workbench.h"

using namespace leger;
using namespace leger::ui;

namespace {
const QString kSample = LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_cnn.onnx";
} // namespace

class TestLayerTableModel : public QObject {
    Q_OBJECT
private slots:
    void passesModelTester();
    void editsAreUndoable_data();
    void editsAreUndoable();
    void refusesBadValues();
};

void TestLayerTableModel::passesModelTester()
{
    Workbench w;
    LayerTableModel model(&w);
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(model.rowCount(), 0);
    QString error;
    QVERIFY(w.open(kSample, {}, &error)); // no data: sizes only
    QCOMPARE(model.rowCount(), 6);
    QCOMPARE(model.data(model.index(0, LayerTableModel::Name)).toString(), QString("onnx::Conv_46"));
    QCOMPARE(model.data(model.index(0, LayerTableModel::Op)).toString(), QString("Conv"));
    QCOMPARE(model.data(model.index(0, LayerTableModel::Format)).toString(), QString("float32"));
    QCOMPARE(model.data(model.index(0, LayerTableModel::Bits)).toString(), QString("32"));
    QVERIFY(!(model.flags(model.index(0, LayerTableModel::Bits)) & Qt::ItemIsEditable));
    QVERIFY(model.flags(model.index(0, LayerTableModel::Format)) & Qt::ItemIsEditable);
    // The size column is the SizeReport's bytes for the layer.
    QCOMPARE(model.data(model.index(2, LayerTableModel::Size), LayerTableModel::kExportRole).toLongLong(),
             static_cast<qlonglong>(w.sizeReport().layers[2].total()));
    QVERIFY(w.open(kSample, {}, &error)); // reopening resets the rows
    QCOMPARE(model.rowCount(), 6);
}

void TestLayerTableModel::editsAreUndoable_data()
{
    QTest::addColumn<int>("column");
    QTest::addColumn<QVariant>("value");
    QTest::addColumn<QString>("shown");
    QTest::newRow("format int") << int(LayerTableModel::Format) << QVariant(int(WeightFormat::Int)) << "int";
    QTest::newRow("format fp16") << int(LayerTableModel::Format) << QVariant(int(WeightFormat::Float16)) << "float16";
    QTest::newRow("sparsity") << int(LayerTableModel::Sparsity) << QVariant(0.35) << "35 %";
    QTest::newRow("pattern 2:4") << int(LayerTableModel::Pattern) << QVariant(int(SparsityPattern::N2M4)) << "2:4";
}

void TestLayerTableModel::editsAreUndoable()
{
    QFETCH(int, column);
    QFETCH(QVariant, value);
    QFETCH(QString, shown);
    Workbench w;
    LayerTableModel model(&w);
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QString error;
    QVERIFY(w.open(kSample, {}, &error));
    const qint64 before = w.sizeReport().total;
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    QVERIFY(model.setData(model.index(1, column), value));
    QCOMPARE(model.data(model.index(1, column)).toString(), shown);
    QVERIFY(changed.count() >= 1);
    QVERIFY(w.sizeReport().total < before);
    QCOMPARE(w.undoStack()->count(), 1);
    QVERIFY(w.settings()[0].isNone()); // only the edited row changed
    w.undoStack()->undo();
    QVERIFY(w.settings()[1].isNone());
    QCOMPARE(w.sizeReport().total, before);
}

void TestLayerTableModel::refusesBadValues()
{
    Workbench w;
    LayerTableModel model(&w);
    QString error;
    QVERIFY(w.open(kSample, {}, &error));
    QVERIFY(!model.setData(model.index(0, LayerTableModel::Name), "x"));
    QVERIFY(!model.setData(model.index(0, LayerTableModel::Bits), 4)); // float32: bits do not apply
    QVERIFY(model.setData(model.index(0, LayerTableModel::Format), int(WeightFormat::Int)));
    QVERIFY(!model.setData(model.index(0, LayerTableModel::Bits), 9));
    QVERIFY(!model.setData(model.index(0, LayerTableModel::Bits), "four"));
    QVERIFY(!model.setData(model.index(0, LayerTableModel::Sparsity), 1.0));
    QVERIFY(!model.setData(model.index(0, LayerTableModel::Granularity), 48));
    QVERIFY(model.setData(model.index(0, LayerTableModel::Granularity), 64));
    QCOMPARE(w.settings()[0].groupSize, 64);
    QCOMPARE(w.undoStack()->count(), 2);
}

QTEST_MAIN(TestLayerTableModel)
#include "tst_layertablemodel.moc"
