// Session files: a full session (real plans, real evaluations of the bundled sample, a real
// sensitivity table) survives a write and a read exactly; hostile files are refused with a
// message naming the file and the field; a failed write leaves the old file as it was; the
// model checksum is the one sha256sum prints.
#include <QtTest>

#include <QProcess>
#include <QTemporaryDir>

#include <cmath>
#include <limits>

#include <sys/resource.h>
#include <csignal>

#include <nlohmann/json.hpp>

#include "compress/LayerSetting.h"
#include "compress/Plan.h"
#include "compress/SizeReport.h"
#include "data/Dataset.h"
#include "data/Preprocessing.h"
#include "eval/Evaluator.h"
#include "io/OnnxReader.h"
#include "model/Model.h"
#include "search/Search.h"
#include "session/SessionFile.h"

using namespace leger;
using ui::SessionData;
using ui::SessionFile;
using ui::SessionPoint;
using Json = nlohmann::ordered_json;

Q_DECLARE_METATYPE(leger::ui::SessionData)

namespace {

const QString kSample = LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_cnn.onnx";
const QString kImages = LEGER_SOURCE_DIR "/resources/sample/fashion-mnist-test-2000-images-idx3-ubyte.gz";
// sha256sum resources/sample/fashion_mnist_cnn.onnx
const QByteArray kSampleSha256 = "07a9c3e205cb1e6917c09860166d73939327f3b40948631b33bcd2cf2a826305";
const QString kSmall = LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_small.onnx";

QByteArray readAll(const QString& path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

bool writeAll(const QString& path, const QByteArray& bytes)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(bytes) == bytes.size();
}

SessionPoint point(int id, const char* kind, const char* label, const Plan& plan, const Evaluation& e,
                   const SizeModel& size, bool pareto)
{
    SessionPoint p;
    p.id = id;
    p.kind = kind;
    p.label = label;
    p.planJson = QString::fromStdString(plan.toJson());
    const SizeReport r = size.report(e.settings);
    p.sizeBytes = r.total;
    p.bitsPerWeight = r.bitsPerWeight;
    p.metrics = e.metrics.values;
    p.samples = e.samples;
    p.total = e.total;
    p.pareto = pareto;
    return p;
}

/// A session as the workbench would hold it after some work on the sample: every point
/// evaluated for real.
SessionData realSession()
{
    const Model model = OnnxReader::readModel(kSample.toStdString());
    const Dataset data = Dataset::read(kImages.toStdString());
    Evaluator ev(model, data, *Preprocessing::readSidecar(kSample.toStdString()));
    const SizeModel size(model, ev.layers());
    const auto& layers = ev.layers();

    SessionData d;
    d.modelPath = kSample;
    d.modelSha256 = SessionFile::sha256(kSample);
    d.dataPath = kImages;
    d.dataLimit = -1;
    d.metric = "top1";
    d.xAxis = "bpw";
    d.maxDrop = 0.01;

    const Plan none;
    Plan int8;
    int8.setDefault(parseSettingSpec("int8"));
    Plan mixed = int8;
    mixed.setLayer(layers.front().name, parseSettingSpec("int4-g32-mse"));
    mixed.setEntry("fc*", LayerOverride{.bits = 6, .sparsity = 0.25});
    Plan int4;
    int4.setDefault(parseSettingSpec("int4-g32"));
    Plan int2;
    int2.setDefault(parseSettingSpec("int2-asym"));

    d.points.push_back(point(0, "preset", "Uncompressed", none, ev.evaluate(none.resolve(layers)), size, true));
    d.points.push_back(point(1, "preset", "int8 per channel", int8, ev.evaluate(int8.resolve(layers)), size, true));
    // A point still refining: the first partial result.
    Evaluation partial;
    ev.evaluate(mixed.resolve(layers), nullptr, [&](const Evaluation& e) {
        if (partial.samples == 0)
            partial = e;
    });
    if (partial.samples >= partial.total)
        qFatal("expected a partial result before the last chunk");
    d.points.push_back(point(2, "trail", "layer \"conv\", 4 bits — ändern", mixed, partial, size, false));
    d.points.push_back(point(7, "frontier", "frontier 3", int4, ev.evaluate(int4.resolve(layers)), size, true));
    d.points.push_back(point(9, "fit", "fit: at most 1 point", int2, ev.evaluate(int2.resolve(layers)), size, false));
    d.planJson = QString::fromStdString(mixed.toJson());

    const std::vector<LayerSetting> columns{parseSettingSpec("int4"), parseSettingSpec("int2-g32")};
    const SensitivityTable table = sensitivityScan(ev, columns, "top1");
    d.sensitivityMetric = QString::fromStdString(table.metric);
    for (const LayerSetting& s : table.settings)
        d.sensitivitySettings.push_back(QString::fromStdString(settingSpec(s)));
    for (const Layer& l : layers)
        d.sensitivityLayers.push_back(QString::fromStdString(l.name));
    d.sensitivityDrop = table.drop;
    // Another model compared on the same data, and one saved while it was still being measured.
    d.comparisons = {{kSmall, SessionFile::sha256(kSmall)}, {LEGER_SOURCE_DIR "/tests/fixtures/mlp.onnx", {}}};
    return d;
}

/// Line and column (1-based, in bytes) just past the end of text, as the reader reports it.
QString endPosition(const QByteArray& text)
{
    const qsizetype nl = text.lastIndexOf('\n');
    return QString("line %1, column %2").arg(text.count('\n') + 1).arg(text.size() - (nl + 1) + 1);
}

} // namespace

class TestSessionFile : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void realSessionIsRealistic();
    void roundTrip_data();
    void roundTrip();
    void equalityNoticesChanges();
    void hostileFields_data();
    void hostileFields();
    void hostileBytes_data();
    void hostileBytes();
    void truncated_data();
    void truncated();
    void notAFile();
    void failedWriteKeepsOldFile();
    void refusesToWriteWhatItCannotRead();
    void sha256MatchesSha256sum();

private:
    SessionData session_;
    QTemporaryDir dir_;
    QByteArray bytes_; // session_ as written
    QString path(const QString& name) const { return dir_.filePath(name); }
};

void TestSessionFile::initTestCase()
{
    QVERIFY(dir_.isValid());
    session_ = realSession();
    QString error;
    QVERIFY2(SessionFile::write(path("full.leger-session"), session_, &error), qPrintable(error));
    bytes_ = readAll(path("full.leger-session"));
    QVERIFY(bytes_.size() > 1000);
}

// The fixture has what a real session has: an uncompressed point whose output SQNR is +inf,
// a partial point, metrics with intervals.
void TestSessionFile::realSessionIsRealistic()
{
    const SessionPoint& base = session_.points[0];
    QCOMPARE(base.metrics.at("top1").value, 1851.0 / 2000.0);
    QVERIFY(std::isinf(base.metrics.at("sqnr_db").value) && base.metrics.at("sqnr_db").value > 0);
    QVERIFY(std::isfinite(session_.points[1].metrics.at("sqnr_db").value));
    QVERIFY(session_.points[2].samples < session_.points[2].total);
    QCOMPARE(session_.points[1].samples, qint64(2000));
    QVERIFY(session_.points[3].sizeBytes < session_.points[1].sizeBytes);
    QCOMPARE(session_.sensitivityDrop.size(), std::size_t(6));
    QCOMPARE(session_.modelSha256, kSampleSha256);
    QCOMPARE(session_.comparisons.size(), 2);
    QCOMPARE(session_.comparisons[0].sha256.size(), 64);
    // JSON has no infinity: it is written as a string.
    QVERIFY(bytes_.contains("\"value\": \"inf\""));
}

void TestSessionFile::roundTrip_data()
{
    QTest::addColumn<SessionData>("data");
    QTest::newRow("real session") << session_;

    SessionData minimal; // no data, no plan, no points, no sensitivity, no targets
    minimal.modelPath = kSample;
    QTest::newRow("minimal") << minimal;

    SessionData other = session_;
    other.budgetBytes = qint64{5} << 40; // beyond 32 bits
    other.maxDrop.reset();
    other.dataLimit = 500;
    other.xAxis = "mb";
    other.modelSha256.clear();
    auto& m = other.points[4].metrics;
    m["kl"] = {std::numeric_limits<double>::quiet_NaN(), -std::numeric_limits<double>::infinity(),
               std::numeric_limits<double>::infinity(), 0};
    m["sqnr_db"].low = -0.0;
    other.sensitivityDrop[1][0] = std::numeric_limits<double>::quiet_NaN();
    other.sensitivityDrop[2][1] = -std::numeric_limits<double>::infinity();
    other.comparisons.clear(); // the key is left out
    other.points[1].label = QString::fromUtf8("\"quotes\", \\backslash\\, tab\t, newline\n, NUL ") + QChar(u'\0') +
                            QString::fromUtf8(" , 量子化");
    QTest::newRow("non-finite, unicode, budget") << other;
}

void TestSessionFile::roundTrip()
{
    QFETCH(SessionData, data);
    QString error;
    const QString file = path("roundtrip.leger-session");
    QVERIFY2(SessionFile::write(file, data, &error), qPrintable(error));
    const auto back = SessionFile::read(file, &error);
    QVERIFY2(back, qPrintable(error));
    QVERIFY(*back == data);
    // The plans come back as the core's own recipes.
    for (const SessionPoint& p : back->points)
        QCOMPARE(QString::fromStdString(Plan::fromJson(p.planJson.toStdString()).toJson()), p.planJson);
    // Writing what was read gives the same bytes: nothing drifts from save to save.
    const QByteArray first = readAll(file);
    // No comparisons, no key: such a session stays readable by a Leger that predates them.
    QCOMPARE(first.contains("\"comparisons\""), !data.comparisons.isEmpty());
    QVERIFY(SessionFile::write(file, *back, &error));
    QCOMPARE(readAll(file), first);
}

void TestSessionFile::equalityNoticesChanges()
{
    QVERIFY(session_ == session_);
    auto changed = [&](auto edit) {
        SessionData d = session_;
        edit(d);
        return !(d == session_);
    };
    QVERIFY(changed([](SessionData& d) { d.points[2].metrics["top1"].high += 1e-12; }));
    QVERIFY(changed([](SessionData& d) { d.points[0].metrics["sqnr_db"].value = 300; }));
    QVERIFY(changed([](SessionData& d) { d.points[3].pareto = false; }));
    QVERIFY(changed([](SessionData& d) { d.sensitivityDrop[5][1] = 0.5; }));
    QVERIFY(changed([](SessionData& d) { d.budgetBytes = 1; }));
    QVERIFY(changed([](SessionData& d) { d.points.pop_back(); }));
    QVERIFY(changed([](SessionData& d) { d.planJson += " "; }));
    QVERIFY(changed([](SessionData& d) { d.comparisons[1].sha256 = d.comparisons[0].sha256; }));
    QVERIFY(changed([](SessionData& d) { d.comparisons.removeFirst(); }));
}

// Each row changes one value of the real session's JSON (a JSON pointer; "remove" deletes it)
// and gives the message expected after "<file>: ".
void TestSessionFile::hostileFields_data()
{
    QTest::addColumn<QString>("pointer");
    QTest::addColumn<QString>("value");
    QTest::addColumn<QString>("message");
    const QString layer0 = session_.sensitivityLayers[0];
    auto row = [](const char* name, const QString& pointer, const QString& value, const QString& message) {
        QTest::newRow(name) << pointer << value << message;
    };
    row("version 2", "/leger_session", "2", "leger_session: version 2 is not supported (this Leger reads version 1)");
    row("version as string", "/leger_session", "\"1\"",
        "leger_session: expected the format version (an integer), got \"1\"");
    row("version 1.0", "/leger_session", "1.0", "leger_session: expected the format version (an integer), got 1.0");
    row("no version", "/leger_session", "remove", "not a Leger session (no \"leger_session\" key)");
    row("top level array", "", "[1, 2]", "not a Leger session (expected a JSON object at the top level, got an array)");
    row("unknown top key", "/extra", "1",
        "extra: unknown key (expected one of leger_session, model, data, plan, chart, points, sensitivity, comparisons)");
    row("model not object", "/model", "[]", "model: expected an object, got an array");
    row("no model", "/model", "remove", "model: missing");
    row("model path number", "/model/path", "5", "model.path: expected a string, got 5");
    row("model path relative", "/model/path", "\"models/a.onnx\"",
        "model.path: expected an absolute path, got \"models/a.onnx\"");
    row("model path empty", "/model/path", "\"\"", "model.path: expected an absolute path, got \"\"");
    row("no model path", "/model/path", "remove", "model.path: missing");
    row("sha256 short", "/model/sha256", "\"abc\"", "model.sha256: expected 64 lowercase hex digits or \"\", got \"abc\"");
    row("sha256 null", "/model/sha256", "null", "model.sha256: expected a string, got null");
    row("unknown model key", "/model/size", "1", "model.size: unknown key (expected one of path, sha256)");
    row("data not object", "/data", "\"x\"", "data: expected an object, got \"x\"");
    row("data path relative", "/data/path", "\"x.idx\"", "data.path: expected an absolute path, got \"x.idx\"");
    row("data limit -2", "/data/limit", "-2", "data.limit: expected -1 (all samples) or a non-negative integer, got -2");
    row("data limit float", "/data/limit", "1.5",
        "data.limit: expected -1 (all samples) or a non-negative integer, got 1.5");
    row("plan string", "/plan", "\"int8\"", "plan: expected a plan (an object), got \"int8\"");
    row("plan bits 9", "/plan/default/bits", "9", "plan: default.bits: 9 is outside 2..8");
    row("plan unknown key", "/plan/layerz", "{}", "plan: layerz: unknown key (expected \"default\" or \"layers\")");
    row("no plan", "/plan", "remove", "plan: missing");
    row("chart x axis", "/chart/x_axis", "\"log\"", "chart.x_axis: \"log\" is not one of mb, bpw");
    row("chart metric", "/chart/metric", "1", "chart.metric: expected a string, got 1");
    row("budget negative", "/chart/budget_bytes", "-1", "chart.budget_bytes: expected a non-negative integer, got -1");
    row("budget huge", "/chart/budget_bytes", "9223372036854775808",
        "chart.budget_bytes: expected a non-negative integer, got 9223372036854775808");
    row("max drop inf", "/chart/max_drop", "\"inf\"", "chart.max_drop: expected a finite non-negative number, got \"inf\"");
    row("max drop negative", "/chart/max_drop", "-0.5", "chart.max_drop: expected a finite non-negative number, got -0.5");
    row("points object", "/points", "{}", "points: expected an array, got an object");
    row("point not object", "/points/1", "3", "points[1]: expected an object, got 3");
    row("size negative", "/points/3/size_bytes", "-5", "points[3].size_bytes: expected a non-negative integer, got -5");
    row("size string", "/points/3/size_bytes", "\"12\"",
        "points[3].size_bytes: expected a non-negative integer, got \"12\"");
    row("size 1e30", "/points/3/size_bytes", "1e30", "points[3].size_bytes: expected a non-negative integer, got 1e+30");
    row("samples 2^64-1", "/points/3/samples", "18446744073709551615",
        "points[3].samples: expected a non-negative integer, got 18446744073709551615");
    row("samples over total", "/points/3/samples", "2001", "points[3].samples: 2001 is more than total (2000)");
    row("total bool", "/points/3/total", "true", "points[3].total: expected a non-negative integer, got true");
    row("id twice", "/points/1/id", "0", "points[1].id: 0 is used by an earlier point");
    row("id beyond int", "/points/1/id", "4294967296",
        "points[1].id: expected a non-negative integer (32 bits), got 4294967296");
    row("kind unknown", "/points/0/kind", "\"best\"", "points[0].kind: \"best\" is not one of trail, preset, frontier, fit");
    row("no kind", "/points/0/kind", "remove", "points[0].kind: missing");
    row("label number", "/points/4/label", "4", "points[4].label: expected a string, got 4");
    row("bits per weight negative", "/points/2/bits_per_weight", "-1",
        "points[2].bits_per_weight: expected a finite non-negative number, got -1");
    row("bits per weight nan", "/points/2/bits_per_weight", "\"nan\"",
        "points[2].bits_per_weight: expected a finite non-negative number, got \"nan\"");
    row("point plan bits 9", "/points/2/plan/layers/" + layer0 + "/bits", "9",
        "points[2].plan: layers.\"" + layer0 + "\".bits: 9 is outside 2..8");
    row("point plan format", "/points/1/plan/default/format", "\"int3\"",
        "points[1].plan: default.format: \"int3\" is not one of float32, float16, bfloat16, int, q8_0, q6_K, q5_K, q5_1, q5_0, q4_K, q4_1, q4_0, q3_K, q2_K");
    row("point plan array", "/points/1/plan", "[]", "points[1].plan: expected a plan (an object), got an array");
    row("metrics array", "/points/0/metrics", "[]", "points[0].metrics: expected an object, got an array");
    row("metric value word", "/points/0/metrics/top1/value", "\"high\"",
        "points[0].metrics.top1.value: expected a number, \"inf\", \"-inf\" or \"nan\", got \"high\"");
    row("metric value null", "/points/0/metrics/kl/value", "null",
        "points[0].metrics.kl.value: expected a number, \"inf\", \"-inf\" or \"nan\", got null");
    row("metric n negative", "/points/0/metrics/top1/n", "-1", "points[0].metrics.top1.n: expected a non-negative integer, got -1");
    row("metric low missing", "/points/0/metrics/top1/low", "remove", "points[0].metrics.top1.low: missing");
    row("metric empty name", "/points/0/metrics/", "{}", "points[0].metrics: a metric name is empty");
    row("metric odd name", "/points/0/metrics/a.b", "1", "points[0].metrics.\"a.b\": expected an object, got 1");
    row("metric unknown key", "/points/0/metrics/top1/mean", "1",
        "points[0].metrics.top1.mean: unknown key (expected one of value, low, high, n)");
    row("pareto string", "/points/0/pareto", "\"yes\"", "points[0].pareto: expected true or false, got \"yes\"");
    row("sensitivity array", "/sensitivity", "[]", "sensitivity: expected an object, got an array");
    row("sensitivity setting", "/sensitivity/settings/1", "\"int9\"", "sensitivity.settings[1]: " +
        QString::fromStdString([] {
            try {
                parseSettingSpec("int9");
            } catch (const std::exception& e) {
                return std::string(e.what());
            }
            return std::string("accepted");
        }()));
    row("sensitivity layer number", "/sensitivity/layers/2", "2", "sensitivity.layers[2]: expected a string, got 2");
    row("sensitivity fewer layers", "/sensitivity/layers", "[]",
        "sensitivity.drop: expected an array of 0 rows (one per layer), got 6 rows");
    row("sensitivity short row", "/sensitivity/drop/0", "[1]",
        "sensitivity.drop[0]: expected an array of 2 values (one per setting), got 1 values");
    row("sensitivity drop null", "/sensitivity/drop/2/1", "null",
        "sensitivity.drop[2][1]: expected a number, \"inf\", \"-inf\" or \"nan\", got null");
    row("sensitivity no metric", "/sensitivity/metric", "remove", "sensitivity.metric: missing");
    row("comparisons object", "/comparisons", "{}", "comparisons: expected an array, got an object");
    row("comparisons null", "/comparisons", "null", "comparisons: expected an array, got null");
    row("comparison string", "/comparisons/0", "\"/a.onnx\"", "comparisons[0]: expected an object, got \"/a.onnx\"");
    row("comparison no model", "/comparisons/1/model", "remove", "comparisons[1].model: missing");
    row("comparison model number", "/comparisons/0/model", "7", "comparisons[0].model: expected a string, got 7");
    row("comparison model relative", "/comparisons/1/model", "\"small.onnx\"",
        "comparisons[1].model: expected an absolute path, got \"small.onnx\"");
    row("comparison model empty", "/comparisons/0/model", "\"\"", "comparisons[0].model: expected an absolute path, got \"\"");
    row("comparison model twice", "/comparisons/1/model", "\"" + kSmall + "\"",
        "comparisons[1].model: \"" + kSmall + "\" is compared by an earlier entry");
    row("comparison sha256 short", "/comparisons/0/sha256", "\"5f\"",
        "comparisons[0].sha256: expected 64 lowercase hex digits or \"\", got \"5f\"");
    row("comparison sha256 number", "/comparisons/1/sha256", "0", "comparisons[1].sha256: expected a string, got 0");
    row("comparison unknown key", "/comparisons/0/path", "\"/a.onnx\"",
        "comparisons[0].path: unknown key (expected one of model, sha256)");
}

void TestSessionFile::hostileFields()
{
    QFETCH(QString, pointer);
    QFETCH(QString, value);
    QFETCH(QString, message);
    Json doc = Json::parse(bytes_.toStdString());
    const Json::json_pointer ptr(pointer.toStdString());
    if (value == "remove") {
        QVERIFY(doc.contains(ptr));
        doc[ptr.parent_pointer()].erase(ptr.back());
    } else {
        doc[ptr] = Json::parse(value.toStdString());
    }
    const QString file = path("hostile.leger-session");
    QVERIFY(writeAll(file, QByteArray::fromStdString(doc.dump(2))));
    QString error;
    QVERIFY(!SessionFile::read(file, &error));
    QCOMPARE(error, file + ": " + message);
}

void TestSessionFile::hostileBytes_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("message");
    QTest::newRow("empty") << QByteArray() << "the file is empty (not a Leger session)";
    QTest::newRow("not JSON") << QByteArray("PK\x03\x04 a zip file") << "not valid JSON: parse error at line 1, column 1: "
                                  "syntax error while parsing value - invalid literal; last read: 'P'";
    QTest::newRow("a plan, not a session") << readAll(LEGER_SOURCE_DIR "/resources/sample/fashion_mnist_cnn.plan.json")
                                             << "not a Leger session (no \"leger_session\" key)";
    QTest::newRow("number") << QByteArray("1") << "not a Leger session (expected a JSON object at the top level, got 1)";
    QTest::newRow("trailing garbage") << QByteArray(bytes_ + "}") << "not valid JSON: parse error at line " +
        QString::number(bytes_.count('\n') + 1) + ", column 1: syntax error while parsing value - unexpected '}'; expected end of input";
    QTest::newRow("number overflow") << QByteArray("{\"leger_session\": 1e999}")
                                     << "not valid JSON: number overflow parsing '1e999'";
    QTest::newRow("bad UTF-8") << QByteArray("{\"leger_session\": 1, \"model\": {\"path\": \"/a\xff\"}}")
                               << "not valid JSON: parse error at line 1, column 43: syntax error while parsing value - "
                                  "invalid string: ill-formed UTF-8 byte; last read: '\"/a\xef\xbf\xbd'";
    QByteArray twice = bytes_;
    twice.replace("\"pareto\": true", "\"pareto\": true, \"pareto\": false");
    QTest::newRow("key twice in a point") << twice << "points[0].pareto: the key is given twice in one object";
    QTest::newRow("key twice at the top") << QByteArray("{\"leger_session\": 1, \"leger_session\": 2}")
                                          << "leger_session: the key is given twice in one object";
    QByteArray planTwice = bytes_;
    const qsizetype at = planTwice.indexOf("\"layers\": {") + 11;
    planTwice.insert(at, "\"conv*\": {}, \"conv*\": {\"bits\": 2},");
    QTest::newRow("plan key twice") << planTwice << "plan.layers.\"conv*\": the key is given twice in one object";
    // A million open brackets must not overflow the stack (of the parser, or of a recursive dump).
    QTest::newRow("deep nesting") << QByteArray("{\"leger_session\": 1, \"x\": ") + QByteArray(1000000, '[')
                                  << "x" + QString("[0]").repeated(63) + ": nested more than 64 levels deep";
}

void TestSessionFile::hostileBytes()
{
    QFETCH(QByteArray, bytes);
    QFETCH(QString, message);
    const QString file = path("bytes.leger-session");
    QVERIFY(writeAll(file, bytes));
    QString error;
    QVERIFY(!SessionFile::read(file, &error));
    QCOMPARE(error, file + ": " + message);
}

// Every prefix of the first 64 bytes and every 61st of the rest (a crash while writing without
// atomic saves, a partial download): the message says where the file stops.
void TestSessionFile::truncated_data()
{
    QTest::addColumn<int>("length");
    const qsizetype last = bytes_.lastIndexOf('}'); // bytes_[0, last] is the smallest whole document
    for (qsizetype n = 1; n < last; n += n < 64 ? 1 : 61)
        QTest::addRow("%d bytes", int(n)) << int(n);
    QTest::addRow("all but the last brace") << int(last);
}

void TestSessionFile::truncated()
{
    QFETCH(int, length);
    const QByteArray cut = bytes_.left(length);
    const QString file = path("truncated.leger-session");
    QVERIFY(writeAll(file, cut));
    QString error;
    QVERIFY(!SessionFile::read(file, &error));
    QCOMPARE(error, file + ": the file ends early (truncated?) at " + endPosition(cut));
}

void TestSessionFile::notAFile()
{
    QString error;
    QVERIFY(!SessionFile::read(dir_.path(), &error));
    QCOMPARE(error, dir_.path() + ": is a folder, not a session file");
    QVERIFY(!SessionFile::read(path("missing.leger-session"), &error));
    QCOMPARE(error, path("missing.leger-session") + ": no such file");
    // Too large to be a session: refused before anything is read (a sparse file, no disk used).
    const QString huge = path("huge.leger-session");
    {
        QFile f(huge);
        QVERIFY(f.open(QIODevice::WriteOnly) && f.resize((qint64{1} << 30) + 1));
    }
    QVERIFY(!SessionFile::read(huge, &error));
    QCOMPARE(error, huge + ": 1073741825 bytes is too large for a session (the limit is 1073741824)");
    QFile::remove(huge);
}

void TestSessionFile::failedWriteKeepsOldFile()
{
    QTemporaryDir dir;
    const QString file = dir.filePath("s.leger-session");
    SessionData small;
    small.modelPath = kSample;
    QString error;
    QVERIFY(SessionFile::write(file, small, &error));
    const QByteArray old = readAll(file);

    // The disk fills up in the middle of the write: a file size limit makes write() fail
    // with EFBIG (works as root too, unlike a read-only folder).
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit saved{};
    QVERIFY(getrlimit(RLIMIT_FSIZE, &saved) == 0);
    rlimit limited = saved;
    limited.rlim_cur = static_cast<rlim_t>(bytes_.size() / 2);
    QVERIFY(setrlimit(RLIMIT_FSIZE, &limited) == 0);
    const bool written = SessionFile::write(file, session_, &error);
    QVERIFY(setrlimit(RLIMIT_FSIZE, &saved) == 0);
    QVERIFY(!written);
    QCOMPARE(error, file + ": write failed: File too large");
    QCOMPARE(readAll(file), old);
    QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden), QStringList{"s.leger-session"}); // no temporary left

    // A folder that does not exist, a "folder" that is a file, a target that is a folder.
    const QString paths[] = {dir.filePath("no/such/folder/s.leger-session"), file + "/s.leger-session", dir.path()};
    for (const QString& p : paths) {
        QVERIFY(!SessionFile::write(p, session_, &error));
        QVERIFY2(error.startsWith(p + ": ") && error.size() > p.size() + 10, qPrintable(error));
    }
    QCOMPARE(readAll(file), old);
    QVERIFY(QFileInfo(dir.path()).isDir());
}

void TestSessionFile::refusesToWriteWhatItCannotRead()
{
    const QString file = path("refused.leger-session");
    SessionData small;
    small.modelPath = kSample;
    QString error;
    QVERIFY(SessionFile::write(file, small, &error));
    const QByteArray old = readAll(file);

    SessionData bad = session_;
    bad.points[1].bitsPerWeight = std::numeric_limits<double>::quiet_NaN();
    QVERIFY(!SessionFile::write(file, bad, &error));
    QCOMPARE(error, file + ": points[1].bits_per_weight: expected a finite non-negative number, got \"nan\"");
    bad = session_;
    bad.points[3].planJson = "{\"default\": {\"bits\": 1}}";
    QVERIFY(!SessionFile::write(file, bad, &error));
    QCOMPARE(error, file + ": points[3].plan: default.bits: 1 is outside 2..8");
    bad = session_;
    bad.sensitivityDrop.pop_back();
    QVERIFY(!SessionFile::write(file, bad, &error));
    QCOMPARE(error, file + ": sensitivity.drop: expected an array of 6 rows (one per layer), got 5 rows");
    bad = session_;
    bad.comparisons[1].modelPath = "small.onnx";
    QVERIFY(!SessionFile::write(file, bad, &error));
    QCOMPARE(error, file + ": comparisons[1].model: expected an absolute path, got \"small.onnx\"");
    bad = session_;
    bad.modelPath = "relative.onnx";
    QVERIFY(!SessionFile::write(file, bad, &error));
    QCOMPARE(error, file + ": model.path: expected an absolute path, got \"relative.onnx\"");
    QCOMPARE(readAll(file), old);
}

void TestSessionFile::sha256MatchesSha256sum()
{
    QCOMPARE(SessionFile::sha256(kSample), kSampleSha256);
    // A file of several read blocks with an odd tail, against the system's sha256sum.
    QByteArray bytes;
    for (int i = 0; i < (3 << 20) + 7; ++i)
        bytes.push_back(static_cast<char>((i * 2654435761u) >> 24));
    const QString file = path("blocks.bin");
    QVERIFY(writeAll(file, bytes));
    QProcess p;
    p.start("sha256sum", {file});
    QVERIFY(p.waitForFinished(30000));
    QCOMPARE(p.exitCode(), 0);
    const QByteArray expected = p.readAllStandardOutput().left(64);
    QCOMPARE(SessionFile::sha256(file), expected);
    QCOMPARE(SessionFile::sha256(path("missing.bin")), QByteArray());
    QCOMPARE(SessionFile::sha256(dir_.path()), QByteArray());
}

QTEST_GUILESS_MAIN(TestSessionFile)
#include "tst_sessionfile.moc"
