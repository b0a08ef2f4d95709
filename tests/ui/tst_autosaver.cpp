// Autosave: a burst of changes is saved once, a delay after the last one; a save by the user
// removes the recovery file; flush saves at once; a second instance (the next run) sees the
// recovery file; failures are reported by a signal, never thrown into the event loop.
#include <QtTest>

#include <QElapsedTimer>
#include <QStandardPaths>
#include <QTemporaryDir>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "compress/Plan.h"
#include "session/Autosaver.h"

using namespace leger;
using ui::Autosaver;
using ui::SessionData;
using ui::SessionFile;

namespace {

const QString kSample = LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_cnn.onnx";

/// A session that changes with every snapshot, counting them (one snapshot per save).
struct Source {
    int snapshots = 0;
    SessionData data;
    Source()
    {
        data.modelPath = kSample;
        data.modelSha256 = SessionFile::sha256(kSample);
        Plan plan;
        plan.setDefault(parseSettingSpec("int4-g32"));
        data.planJson = QString::fromStdString(plan.toJson());
    }
    SessionData operator()()
    {
        ++snapshots;
        data.metric = QString("top%1").arg(snapshots);
        return data;
    }
};

} // namespace

class TestAutosaver : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void debounce_data();
    void debounce();
    void markCleanRemoves();
    void markCleanBeforeTheDelayWritesNothing();
    void flush();
    void recoveryAcrossInstances();
    void defaultPathIsCreated();
    void writeFailure_data();
    void writeFailure();
    void snapshotThrows();

private:
    QTemporaryDir dir_;
};

void TestAutosaver::initTestCase()
{
    QVERIFY(dir_.isValid());
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName("LegerTest");
    QCoreApplication::setApplicationName("tst_autosaver");
}

void TestAutosaver::debounce_data()
{
    QTest::addColumn<int>("delay");
    QTest::addColumn<int>("changes");
    QTest::newRow("400 ms, 12 changes") << 400 << 12;
    QTest::newRow("800 ms, 5 changes") << 800 << 5;
}

// Changes every 30 ms, each within the delay of the one before: one save, `delay` after the last.
void TestAutosaver::debounce()
{
    QFETCH(int, delay);
    QFETCH(int, changes);
    Source source;
    const QString file = dir_.filePath(QString("debounce-%1.leger-session").arg(delay));
    Autosaver saver(std::ref(source), file);
    saver.setDelay(delay);
    QSignalSpy failed(&saver, &Autosaver::saveFailed);
    QElapsedTimer sinceLast;
    for (int i = 0; i < changes; ++i) {
        saver.markDirty();
        sinceLast.start();
        QTest::qWait(30);
        QVERIFY(!QFile::exists(file));
    }
    QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(file), 5000);
    // QTimer's default (coarse) accuracy is 5 % either way.
    QVERIFY2(sinceLast.elapsed() >= delay * 95 / 100, qPrintable(QString::number(sinceLast.elapsed())));
    QCOMPARE(source.snapshots, 1);
    QCOMPARE(SessionFile::read(file, nullptr)->metric, QString("top1"));
    // Nothing changed since: no further save.
    QTest::qWait(2 * delay);
    QCOMPARE(source.snapshots, 1);
    // The next change is saved too, with the session as it is then.
    saver.markDirty();
    QTRY_COMPARE_WITH_TIMEOUT(source.snapshots, 2, 5000);
    QCOMPARE(SessionFile::read(file, nullptr)->metric, QString("top2"));
    QCOMPARE(failed.size(), 0);
    QVERIFY(saver.hasRecovery());
}

void TestAutosaver::markCleanRemoves()
{
    Source source;
    const QString file = dir_.filePath("clean.leger-session");
    Autosaver saver(std::ref(source), file);
    saver.setDelay(50);
    saver.markDirty();
    QTRY_VERIFY(QFile::exists(file));
    saver.markClean();
    QVERIFY(!QFile::exists(file));
    QVERIFY(!saver.hasRecovery());
    saver.markClean(); // nothing to remove: no error
}

void TestAutosaver::markCleanBeforeTheDelayWritesNothing()
{
    Source source;
    const QString file = dir_.filePath("never.leger-session");
    Autosaver saver(std::ref(source), file);
    saver.setDelay(100);
    saver.markDirty();
    saver.markClean();
    QTest::qWait(300);
    QCOMPARE(source.snapshots, 0);
    QVERIFY(!QFile::exists(file));
}

void TestAutosaver::flush()
{
    Source source;
    const QString file = dir_.filePath("flush.leger-session");
    Autosaver saver(std::ref(source), file);
    saver.setDelay(60 * 1000);
    saver.flush(); // not dirty: nothing to write
    QCOMPARE(source.snapshots, 0);
    QVERIFY(!QFile::exists(file));
    saver.markDirty();
    saver.flush();
    QCOMPARE(source.snapshots, 1);
    QVERIFY(QFile::exists(file));
    saver.flush(); // clean again
    QCOMPARE(source.snapshots, 1);
    // The pending timer was stopped by the flush: no second save later.
    QTest::qWait(100);
    QCOMPARE(source.snapshots, 1);
}

// The first instance is a run that ended without saving; the second, the next start.
void TestAutosaver::recoveryAcrossInstances()
{
    const QString file = dir_.filePath("recovery.leger-session");
    Source source;
    SessionData saved;
    {
        Autosaver crashed([&] { return saved = source(); }, file);
        QVERIFY(!crashed.hasRecovery());
        crashed.setDelay(20);
        crashed.markDirty();
        QTRY_VERIFY(crashed.hasRecovery());
    } // destroyed without markClean, as a crash would leave it
    Source next;
    Autosaver restarted(std::ref(next), file);
    QVERIFY(restarted.hasRecovery());
    QString error;
    const auto recovered = SessionFile::read(restarted.path(), &error);
    QVERIFY2(recovered, qPrintable(error));
    QVERIFY(*recovered == saved);
    restarted.markClean(); // the user recovered (or discarded) it
    QVERIFY(!restarted.hasRecovery());
    Autosaver third(std::ref(next), file);
    QVERIFY(!third.hasRecovery());
}

void TestAutosaver::defaultPathIsCreated()
{
    const QString expected =
        QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/recovery.leger-session";
    QCOMPARE(Autosaver::recoveryPath(), expected);
    QVERIFY(expected.contains("qttest")); // test mode: not the user's own folder
    QDir(QFileInfo(expected).absolutePath()).removeRecursively();
    Source source;
    Autosaver saver(std::ref(source));
    QCOMPARE(saver.path(), expected);
    QVERIFY(!saver.hasRecovery());
    saver.markDirty();
    saver.flush();
    QVERIFY(QFileInfo(expected).isFile());
    saver.markClean();
    QVERIFY(!QFile::exists(expected));
}

void TestAutosaver::writeFailure_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<bool>("validData");
    QTest::addColumn<QString>("message");
    const QString blocker = dir_.filePath("a-file");
    QFile f(blocker);
    QVERIFY(f.open(QIODevice::WriteOnly));
    QTest::newRow("folder is a file") << blocker + "/sub/recovery.leger-session" << true
                                      << blocker + "/sub: cannot create the folder for the recovery file";
    QTest::newRow("target is a folder") << dir_.path() << true << dir_.path() + ": cannot replace the file: Is a directory";
    const QString ok = dir_.filePath("invalid.leger-session");
    QTest::newRow("session refused") << ok << false
                                     << ok + ": points[0].bits_per_weight: expected a finite non-negative number, got \"inf\"";
}

void TestAutosaver::writeFailure()
{
    QFETCH(QString, file);
    QFETCH(bool, validData);
    QFETCH(QString, message);
    Source source;
    if (!validData) {
        ui::SessionPoint p;
        p.kind = "trail";
        p.planJson = source.data.planJson;
        p.bitsPerWeight = std::numeric_limits<double>::infinity();
        source.data.points.push_back(p);
    }
    Autosaver saver(std::ref(source), file);
    saver.setDelay(10);
    QSignalSpy failed(&saver, &Autosaver::saveFailed);
    saver.markDirty();
    QVERIFY(failed.wait(5000));
    const QString got = failed.at(0).at(0).toString();
    QVERIFY2(got.startsWith(message), qPrintable(got));
    // Still dirty: an explicit flush tries (and fails) again.
    saver.flush();
    QCOMPARE(failed.size(), 2);
}

void TestAutosaver::snapshotThrows()
{
    const QString file = dir_.filePath("throws.leger-session");
    Autosaver saver([]() -> SessionData { throw std::runtime_error("the engine went away"); }, file);
    saver.setDelay(10);
    QSignalSpy failed(&saver, &Autosaver::saveFailed);
    saver.markDirty();
    QVERIFY(failed.wait(5000));
    QCOMPARE(failed.at(0).at(0).toString(), file + ": the engine went away");
    QVERIFY(!QFile::exists(file));
}

QTEST_GUILESS_MAIN(TestAutosaver)
#include "tst_autosaver.moc"
