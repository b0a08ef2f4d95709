#include <QtTest>
class TestCharts : public QObject {
    Q_OBJECT
};
QTEST_MAIN(TestCharts)
#include "tst_charts.moc"
