#include <QtTest>
#include "model/Tensor.h"
class TestNpy : public QObject { Q_OBJECT private slots: void t() {} };
QTEST_APPLESS_MAIN(TestNpy)
#include "tst_npyio.moc"
