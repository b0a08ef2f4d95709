// The layer table model, checked by QAbstractItemModelTester on a real model's layers.
#include <QAbstractItemModelTester>
#include <QtTest>

#include "layers/LayerTableModel.h"

using namespace leger;

class TestLayerTableModel : public QObject {
    Q_OBJECT
private slots:
    void passesModelTester();
};

void TestLayerTableModel::passesModelTester()
{
    ui::LayerTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setLayers({{"conv1.weight", "conv1", "Conv", {16, 1, 3, 3}, 144},
                     {"fc.weight", "fc", "Gemm", {10, 64}, 640}});
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.data(model.index(1, ui::LayerTableModel::Shape)).toString(), QString("[10, 64]"));
    QCOMPARE(model.data(model.index(0, ui::LayerTableModel::Op)).toString(), QString("Conv"));
    model.setLayers({});
    QCOMPARE(model.rowCount(), 0);
}

QTEST_MAIN(TestLayerTableModel)
#include "tst_layertablemodel.moc"
