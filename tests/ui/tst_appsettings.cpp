// Typed settings: defaults on an empty store, values that survive a new QSettings, unreadable
// values falling back to the default; recent files most recent first, without duplicates, at
// most ten, missing files hidden.
#include <QtTest>

#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>

#include "session/AppSettings.h"

using leger::ui::AppSettings;
using leger::ui::Setting;

class TestAppSettings : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void init();
    void defaults();
    void valuesPersist();
    void unreadableValueGivesDefault_data();
    void unreadableValueGivesDefault();
    void recentOrderDedupCap();
    void recentPrunesMissingFiles();
    void recentModelsAndDataAreSeparate();

private:
    QTemporaryDir dir_;
    QStringList makeFiles(int n, const QString& prefix);
};

void TestAppSettings::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName("LegerTest");
    QCoreApplication::setApplicationName("tst_appsettings");
    QVERIFY(dir_.isValid());
    // Test mode: the settings file is not the user's.
    QVERIFY2(QSettings().fileName().contains("qttest"), qPrintable(QSettings().fileName()));
}

void TestAppSettings::init() { QSettings().clear(); }

QStringList TestAppSettings::makeFiles(int n, const QString& prefix)
{
    QStringList files;
    for (int i = 0; i < n; ++i) {
        files.push_back(dir_.filePath(QString("%1%2.onnx").arg(prefix).arg(i)));
        QFile f(files.back());
        if (!f.open(QIODevice::WriteOnly))
            qFatal("cannot create %s", qPrintable(files.back()));
    }
    return files;
}

void TestAppSettings::defaults()
{
    QCOMPARE(AppSettings::recentModels(), QStringList());
    QCOMPARE(AppSettings::recentData(), QStringList());
    QCOMPARE(AppSettings::lastOpenDir().get(), QString());
    QCOMPARE(AppSettings::lastSaveDir().get(), QString());
    QCOMPARE(AppSettings::windowGeometry().get(), QByteArray());
    QCOMPARE(AppSettings::windowState().get(), QByteArray());
    QCOMPARE(AppSettings::chartXAxis().get(), QString("mb"));
    QCOMPARE(AppSettings::chartMetric().get(), QString("top1"));
    QCOMPARE(AppSettings::maxDrop().get(), std::optional<double>(0.01));
    QCOMPARE(AppSettings::budgetBytes().get(), std::optional<qint64>());
    QCOMPARE(AppSettings::chartMetric().key(), QString("chart/metric"));
}

void TestAppSettings::valuesPersist()
{
    const QByteArray geometry("\x01\xd9\xd0\xcb\x00\x03\x00\x00\xff", 9); // binary, with NUL and invalid UTF-8
    AppSettings::windowGeometry().set(geometry);
    AppSettings::chartXAxis().set("bpw");
    AppSettings::maxDrop().set(std::nullopt);
    AppSettings::budgetBytes().set(qint64{3} << 33);
    AppSettings::lastOpenDir().set(dir_.path());
    QSettings().sync();
    // A new QSettings reads the file, as the next run would.
    QCOMPARE(QSettings().value("mainWindow/geometry").toByteArray(), geometry);
    QCOMPARE(AppSettings::windowGeometry().get(), geometry);
    QCOMPARE(AppSettings::chartXAxis().get(), QString("bpw"));
    QCOMPARE(AppSettings::maxDrop().get(), std::optional<double>());
    QCOMPARE(AppSettings::budgetBytes().get(), std::optional<qint64>(qint64{3} << 33));
    QCOMPARE(AppSettings::lastOpenDir().get(), dir_.path());
    AppSettings::maxDrop().set(0.025);
    QCOMPARE(AppSettings::maxDrop().get(), std::optional<double>(0.025));
    AppSettings::chartXAxis().reset();
    QCOMPARE(AppSettings::chartXAxis().get(), QString("mb"));
}

// What a hand-edited or older settings file may hold.
void TestAppSettings::unreadableValueGivesDefault_data()
{
    QTest::addColumn<QString>("key");
    QTest::addColumn<QVariant>("stored");
    QTest::newRow("drop a word") << "target/maxDrop" << QVariant("a lot");
    QTest::newRow("budget a word") << "target/budgetBytes" << QVariant("big");
    QTest::newRow("budget a list") << "target/budgetBytes" << QVariant(QStringList{"1", "2"});
}

void TestAppSettings::unreadableValueGivesDefault()
{
    QFETCH(QString, key);
    QFETCH(QVariant, stored);
    QSettings().setValue(key, stored);
    QCOMPARE(AppSettings::maxDrop().get(), std::optional<double>(0.01));
    QCOMPARE(AppSettings::budgetBytes().get(), std::optional<qint64>());
    QVERIFY(key == AppSettings::maxDrop().key() || key == AppSettings::budgetBytes().key());
    QCOMPARE(QSettings().value(key), stored); // read, not overwritten
}

void TestAppSettings::recentOrderDedupCap()
{
    const QStringList files = makeFiles(12, "m");
    for (const QString& f : files)
        AppSettings::addRecentModel(f);
    // Most recent first, the two oldest dropped.
    QStringList expected;
    for (int i = 11; i >= 2; --i)
        expected.push_back(files[i]);
    QCOMPARE(AppSettings::recentModels(), expected);
    QCOMPARE(AppSettings::recentModelsSetting().get(), expected);

    // Opening a listed file again moves it to the front; the same file by another spelling too.
    AppSettings::addRecentModel(files[5]);
    expected.removeOne(files[5]);
    expected.prepend(files[5]);
    QCOMPARE(AppSettings::recentModels(), expected);
    AppSettings::addRecentModel(dir_.path() + "/./sub/../m7.onnx");
    expected.removeOne(files[7]);
    expected.prepend(files[7]);
    QCOMPARE(AppSettings::recentModels(), expected);
    // A dropped file comes back at the front, pushing the oldest out.
    AppSettings::addRecentModel(files[0]);
    expected.prepend(files[0]);
    expected.removeLast();
    QCOMPARE(AppSettings::recentModels(), expected);
    QCOMPARE(AppSettings::recentModels().size(), AppSettings::kMaxRecent);
    // A file that does not exist is not added.
    AppSettings::addRecentModel(dir_.filePath("ghost.onnx"));
    QCOMPARE(AppSettings::recentModels(), expected);
}

void TestAppSettings::recentPrunesMissingFiles()
{
    const QStringList files = makeFiles(4, "p");
    for (const QString& f : files)
        AppSettings::addRecentModel(f);
    QVERIFY(QFile::remove(files[2]));
    QCOMPARE(AppSettings::recentModels(), (QStringList{files[3], files[1], files[0]}));
    // Reading only hides it: restored (a remounted drive), it is listed again.
    QCOMPARE(AppSettings::recentModelsSetting().get().size(), 4);
    QFile f(files[2]);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.close();
    QCOMPARE(AppSettings::recentModels(), (QStringList{files[3], files[2], files[1], files[0]}));
    // A hand-edited list with duplicates and a relative path is cleaned when read.
    AppSettings::recentModelsSetting().set({files[0], files[0], dir_.path() + "//p1.onnx", "", files[1]});
    QCOMPARE(AppSettings::recentModels(), (QStringList{files[0], files[1]}));
}

void TestAppSettings::recentModelsAndDataAreSeparate()
{
    const QStringList models = makeFiles(2, "model");
    const QStringList data = makeFiles(3, "data");
    AppSettings::addRecentModel(models[0]);
    AppSettings::addRecentData(data[0]);
    AppSettings::addRecentData(data[1]);
    AppSettings::addRecentData(dir_.path()); // a folder of images is data too
    AppSettings::addRecentModel(models[1]);
    QCOMPARE(AppSettings::recentModels(), (QStringList{models[1], models[0]}));
    QCOMPARE(AppSettings::recentData(), (QStringList{QDir::cleanPath(dir_.path()), data[1], data[0]}));
}

QTEST_GUILESS_MAIN(TestAppSettings)
#include "tst_appsettings.moc"
