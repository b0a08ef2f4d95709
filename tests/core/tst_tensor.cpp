#include <QtTest>
#include "model/Tensor.h"
class TestTensor : public QObject { Q_OBJECT private slots: void t() {} };
QTEST_APPLESS_MAIN(TestTensor)
#include "tst_tensor.moc"
