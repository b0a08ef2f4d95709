#include "session/SessionFile.h"

#include "session/SaveFile.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "compress/LayerSetting.h"
#include "compress/Plan.h"
#include "util/Error.h"

namespace leger::ui {

namespace {

// ordered_json: the order of a plan's "layers" decides which pattern wins, so it must survive.
using Json = nlohmann::ordered_json;

constexpr int kVersion = 1;
constexpr qint64 kMaxFileBytes = qint64{1} << 30; // refuse to load more than this into memory
constexpr std::size_t kMaxDepth = 64;             // deeper nesting is not a session

/// A field that does not hold what the format says: "<field path>: <what>".
struct FieldError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw FieldError(path + ": " + what); }

QString fileMessage(const QString& file, const std::string& what)
{
    return QDir::toNativeSeparators(file) + ": " + QString::fromStdString(what);
}

/// The value for a message: scalars as JSON (shortened), containers by kind.
std::string describe(const Json& j)
{
    if (j.is_object())
        return "an object";
    if (j.is_array())
        return "an array";
    std::string s = j.dump();
    if (s.size() > 40)
        s = s.substr(0, 37) + "...";
    return s;
}

/// A member name in a field path; quoted when it is not a plain identifier (metric names come
/// from the file).
std::string member(const std::string& parent, const std::string& key)
{
    bool plain = !key.empty();
    for (char c : key)
        plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
    const std::string k = plain ? key : Json(key).dump();
    return parent.empty() ? k : parent + "." + k;
}

std::string element(const std::string& parent, std::size_t i) { return parent + "[" + std::to_string(i) + "]"; }

/// The members of one object: refuses keys the format does not have, and finds the others.
class Members {
public:
    Members(const Json& j, std::string path, std::initializer_list<const char*> known) : j_(j), path_(std::move(path))
    {
        if (!j.is_object())
            fail(path_, "expected an object, got " + describe(j));
        for (const auto& item : j.items()) {
            bool ok = false;
            for (const char* k : known)
                ok = ok || item.key() == k;
            if (!ok) {
                std::string list;
                for (const char* k : known)
                    list += (list.empty() ? "" : ", ") + std::string(k);
                fail(member(path_, item.key()), "unknown key (expected one of " + list + ")");
            }
        }
    }
    /// The member, or null when it is absent.
    const Json* find(const char* key) const
    {
        auto it = j_.find(key);
        return it == j_.end() ? nullptr : &*it;
    }
    const Json& required(const char* key) const
    {
        const Json* v = find(key);
        if (!v)
            fail(member(path_, key), "missing");
        return *v;
    }
    std::string path(const char* key) const { return member(path_, key); }

private:
    const Json& j_;
    std::string path_;
};

QString toQString(const Json& j, const std::string& path)
{
    if (!j.is_string())
        fail(path, "expected a string, got " + describe(j));
    return QString::fromStdString(j.get<std::string>());
}

/// An integer in [min, max] (JSON integers only: 3.0 is refused).
qint64 toInteger(const Json& j, const std::string& path, qint64 min, qint64 max, const char* expected)
{
    bool ok = false;
    qint64 v = 0;
    if (j.is_number_unsigned()) {
        const auto u = j.get<std::uint64_t>();
        ok = u <= static_cast<std::uint64_t>(max);
        v = ok ? static_cast<qint64>(u) : 0;
    } else if (j.is_number_integer()) {
        v = j.get<std::int64_t>();
        ok = true;
    }
    if (!ok || v < min || v > max)
        fail(path, std::string("expected ") + expected + ", got " + describe(j));
    return v;
}

qint64 toCount(const Json& j, const std::string& path)
{
    return toInteger(j, path, 0, std::numeric_limits<qint64>::max(), "a non-negative integer");
}

/// A finite number >= 0.
double toNonNegative(const Json& j, const std::string& path)
{
    if (!j.is_number() || !(j.get<double>() >= 0.0) || !std::isfinite(j.get<double>()))
        fail(path, "expected a finite non-negative number, got " + describe(j));
    return j.get<double>();
}

// JSON has no NaN or infinity: a measured value that is not finite (SQNR of an unchanged
// output is +inf) is written as the string "inf", "-inf" or "nan".
Json fromMeasured(double v)
{
    if (std::isnan(v))
        return "nan";
    if (std::isinf(v))
        return v > 0 ? "inf" : "-inf";
    return v;
}

double toMeasured(const Json& j, const std::string& path)
{
    if (j.is_number())
        return j.get<double>();
    if (j.is_string()) {
        const std::string& s = j.get_ref<const std::string&>();
        if (s == "inf")
            return std::numeric_limits<double>::infinity();
        if (s == "-inf")
            return -std::numeric_limits<double>::infinity();
        if (s == "nan")
            return std::numeric_limits<double>::quiet_NaN();
    }
    fail(path, "expected a number, \"inf\", \"-inf\" or \"nan\", got " + describe(j));
}

bool isHexDigest(const std::string& s)
{
    if (s.size() != 64)
        return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    return true;
}

/// A file's SHA-256 as hex, or "" (unknown).
QByteArray toSha256(const Json& j, const std::string& path)
{
    const QString hex = toQString(j, path);
    if (!hex.isEmpty() && !isHexDigest(hex.toStdString()))
        fail(path, "expected 64 lowercase hex digits or \"\", got " + describe(j));
    return hex.toLatin1();
}

QString toPath(const Json& j, const std::string& path, bool allowEmpty, bool allowSynthetic = false)
{
    const QString p = toQString(j, path);
    // The workbench's random inputs for models without data: "synthetic:N".
    if (allowSynthetic && p.startsWith(QLatin1String("synthetic:"))) {
        bool ok = false;
        const qint64 n = p.mid(10).toLongLong(&ok);
        if (!ok || n < 1)
            fail(path, "expected synthetic:N with N a positive integer, got " + describe(j));
        return p;
    }
    if (p.isEmpty() && !allowEmpty)
        fail(path, "expected an absolute path, got \"\"");
    if (!p.isEmpty() && !QDir::isAbsolutePath(p))
        fail(path, "expected an absolute path, got " + describe(j));
    return p;
}

/// A plan object, checked by the core's own parser, as Plan::toJson writes it.
QString toPlan(const Json& j, const std::string& path, const std::string& file)
{
    if (!j.is_object())
        fail(path, "expected a plan (an object), got " + describe(j));
    // The source names the session and the field, so the core's message (leger::Error) says where.
    return QString::fromStdString(Plan::fromJson(j.dump(), file + ": " + path).toJson());
}

Json planToJson(const QString& planJson, const std::string& path, const std::string& file)
{
    // fromJson first: it refuses what Json::parse would silently accept (a key given twice).
    Plan::fromJson(planJson.toStdString(), file + ": " + path);
    return Json::parse(planJson.toStdString());
}

Interval toInterval(const Json& j, const std::string& path)
{
    const Members m(j, path, {"value", "low", "high", "n"});
    Interval v;
    v.value = toMeasured(m.required("value"), m.path("value"));
    v.low = toMeasured(m.required("low"), m.path("low"));
    v.high = toMeasured(m.required("high"), m.path("high"));
    v.n = toCount(m.required("n"), m.path("n"));
    return v;
}

QStringList toStringList(const Json& j, const std::string& path)
{
    if (!j.is_array())
        fail(path, "expected an array of strings, got " + describe(j));
    QStringList out;
    for (std::size_t i = 0; i < j.size(); ++i)
        out.push_back(toQString(j[i], element(path, i)));
    return out;
}

SessionPoint toPoint(const Json& j, const std::string& path, const std::string& file)
{
    const Members m(j, path, {"id", "kind", "label", "plan", "size_bytes", "bits_per_weight", "metrics",
                              "samples", "total", "pareto"});
    SessionPoint p;
    p.id = static_cast<int>(toInteger(m.required("id"), m.path("id"), 0, std::numeric_limits<int>::max(),
                                      "a non-negative integer (32 bits)"));
    const Json& kind = m.required("kind");
    p.kind = toQString(kind, m.path("kind"));
    if (p.kind != "trail" && p.kind != "preset" && p.kind != "frontier" && p.kind != "fit")
        fail(m.path("kind"), describe(kind) + " is not one of trail, preset, frontier, fit");
    if (const Json* label = m.find("label"))
        p.label = toQString(*label, m.path("label"));
    p.planJson = toPlan(m.required("plan"), m.path("plan"), file);
    p.sizeBytes = toCount(m.required("size_bytes"), m.path("size_bytes"));
    p.bitsPerWeight = toNonNegative(m.required("bits_per_weight"), m.path("bits_per_weight"));
    const Json& metrics = m.required("metrics");
    if (!metrics.is_object())
        fail(m.path("metrics"), "expected an object, got " + describe(metrics));
    for (const auto& item : metrics.items()) {
        if (item.key().empty())
            fail(m.path("metrics"), "a metric name is empty");
        p.metrics[item.key()] = toInterval(item.value(), member(m.path("metrics"), item.key()));
    }
    p.samples = toCount(m.required("samples"), m.path("samples"));
    p.total = toCount(m.required("total"), m.path("total"));
    if (p.samples > p.total)
        fail(m.path("samples"), std::to_string(p.samples) + " is more than total (" + std::to_string(p.total) + ")");
    if (const Json* pareto = m.find("pareto")) {
        if (!pareto->is_boolean())
            fail(m.path("pareto"), "expected true or false, got " + describe(*pareto));
        p.pareto = pareto->get<bool>();
    }
    return p;
}

/// Everything after the version: the document as the format says.
SessionData toSession(const Json& root, const std::string& file)
{
    const Members top(root, "", {"leger_session", "model", "data", "plan", "chart", "points", "sensitivity", "comparisons"});
    SessionData d;

    const Members model(top.required("model"), "model", {"path", "sha256"});
    d.modelPath = toPath(model.required("path"), model.path("path"), false);
    if (const Json* sha = model.find("sha256"))
        d.modelSha256 = toSha256(*sha, model.path("sha256"));

    if (const Json* data = top.find("data"); data && !data->is_null()) {
        const Members m(*data, "data", {"path", "limit"});
        d.dataPath = toPath(m.required("path"), m.path("path"), true, true);
        if (const Json* limit = m.find("limit"))
            d.dataLimit = toInteger(*limit, m.path("limit"), -1, std::numeric_limits<qint64>::max(),
                                    "-1 (all samples) or a non-negative integer");
    }

    if (const Json& plan = top.required("plan"); !plan.is_null())
        d.planJson = toPlan(plan, "plan", file);

    if (const Json* chart = top.find("chart"); chart && !chart->is_null()) {
        const Members m(*chart, "chart", {"metric", "x_axis", "budget_bytes", "max_drop"});
        if (const Json* metric = m.find("metric"))
            d.metric = toQString(*metric, m.path("metric"));
        if (const Json* x = m.find("x_axis")) {
            d.xAxis = toQString(*x, m.path("x_axis"));
            if (d.xAxis != "mb" && d.xAxis != "bpw")
                fail(m.path("x_axis"), describe(*x) + " is not one of mb, bpw");
        }
        if (const Json* budget = m.find("budget_bytes"); budget && !budget->is_null())
            d.budgetBytes = toCount(*budget, m.path("budget_bytes"));
        if (const Json* drop = m.find("max_drop"); drop && !drop->is_null())
            d.maxDrop = toNonNegative(*drop, m.path("max_drop"));
    }

    if (const Json* points = top.find("points")) {
        if (!points->is_array())
            fail("points", "expected an array, got " + describe(*points));
        std::set<int> ids;
        for (std::size_t i = 0; i < points->size(); ++i) {
            SessionPoint p = toPoint((*points)[i], element("points", i), file);
            if (!ids.insert(p.id).second)
                fail(element("points", i) + ".id", std::to_string(p.id) + " is used by an earlier point");
            d.points.push_back(std::move(p));
        }
    }

    if (const Json* sens = top.find("sensitivity"); sens && !sens->is_null()) {
        const Members m(*sens, "sensitivity", {"metric", "settings", "layers", "drop"});
        d.sensitivityMetric = toQString(m.required("metric"), m.path("metric"));
        d.sensitivitySettings = toStringList(m.required("settings"), m.path("settings"));
        for (qsizetype i = 0; i < d.sensitivitySettings.size(); ++i) {
            try {
                parseSettingSpec(d.sensitivitySettings[i].toStdString());
            } catch (const Error& e) {
                fail(element(m.path("settings"), static_cast<std::size_t>(i)), e.what());
            }
        }
        d.sensitivityLayers = toStringList(m.required("layers"), m.path("layers"));
        const Json& drop = m.required("drop");
        const std::string at = m.path("drop");
        const auto rows = static_cast<std::size_t>(d.sensitivityLayers.size());
        const auto cols = static_cast<std::size_t>(d.sensitivitySettings.size());
        if (!drop.is_array() || drop.size() != rows)
            fail(at, "expected an array of " + std::to_string(rows) + " rows (one per layer), got " +
                         (drop.is_array() ? std::to_string(drop.size()) + " rows" : describe(drop)));
        for (std::size_t r = 0; r < rows; ++r) {
            const Json& row = drop[r];
            if (!row.is_array() || row.size() != cols)
                fail(element(at, r), "expected an array of " + std::to_string(cols) + " values (one per setting), got " +
                                         (row.is_array() ? std::to_string(row.size()) + " values" : describe(row)));
            std::vector<double> values;
            for (std::size_t c = 0; c < cols; ++c)
                values.push_back(toMeasured(row[c], element(element(at, r), c)));
            d.sensitivityDrop.push_back(std::move(values));
        }
    }

    if (const Json* comparisons = top.find("comparisons")) {
        if (!comparisons->is_array())
            fail("comparisons", "expected an array, got " + describe(*comparisons));
        for (std::size_t i = 0; i < comparisons->size(); ++i) {
            const Members m((*comparisons)[i], element("comparisons", i), {"model", "sha256"});
            SessionComparison c;
            c.modelPath = toPath(m.required("model"), m.path("model"), false);
            if (const Json* sha = m.find("sha256"))
                c.sha256 = toSha256(*sha, m.path("sha256"));
            for (const SessionComparison& earlier : std::as_const(d.comparisons))
                if (earlier.modelPath == c.modelPath)
                    fail(m.path("model"), Json(c.modelPath.toStdString()).dump() + " is compared by an earlier entry");
            d.comparisons.push_back(std::move(c));
        }
    }
    return d;
}

/// The whole document; the version first, so that a newer file is not reported as malformed.
SessionData fromDocument(const Json& root, const QString& file)
{
    const std::string f = QDir::toNativeSeparators(file).toStdString();
    if (!root.is_object())
        throw Error(f + ": not a Leger session (expected a JSON object at the top level, got " + describe(root) + ")");
    auto version = root.find("leger_session");
    if (version == root.end())
        throw Error(f + ": not a Leger session (no \"leger_session\" key)");
    if (!version->is_number_integer())
        throw Error(f + ": leger_session: expected the format version (an integer), got " + describe(*version));
    if (*version != kVersion)
        throw Error(f + ": leger_session: version " + version->dump() + " is not supported (this Leger reads version " +
                    std::to_string(kVersion) + ")");
    try {
        return toSession(root, f);
    } catch (const FieldError& e) {
        throw Error(f + ": " + e.what());
    }
}

Json toDocument(const SessionData& d, const std::string& file)
{
    Json root = Json::object();
    root["leger_session"] = kVersion;
    root["model"] = {{"path", d.modelPath.toStdString()}, {"sha256", d.modelSha256.toStdString()}};
    root["data"] = {{"path", d.dataPath.toStdString()}, {"limit", d.dataLimit}};
    root["plan"] = d.planJson.isEmpty() ? Json(nullptr) : planToJson(d.planJson, "plan", file);
    Json chart = Json::object();
    chart["metric"] = d.metric.toStdString();
    chart["x_axis"] = d.xAxis.toStdString();
    chart["budget_bytes"] = d.budgetBytes ? Json(*d.budgetBytes) : Json(nullptr);
    chart["max_drop"] = d.maxDrop ? fromMeasured(*d.maxDrop) : Json(nullptr);
    root["chart"] = std::move(chart);
    Json points = Json::array();
    for (qsizetype i = 0; i < d.points.size(); ++i) {
        const SessionPoint& p = d.points[i];
        Json metrics = Json::object();
        for (const auto& [name, v] : p.metrics)
            metrics[name] = {{"value", fromMeasured(v.value)}, {"low", fromMeasured(v.low)},
                             {"high", fromMeasured(v.high)}, {"n", v.n}};
        Json jp = Json::object();
        jp["id"] = p.id;
        jp["kind"] = p.kind.toStdString();
        jp["label"] = p.label.toStdString();
        jp["plan"] = planToJson(p.planJson, element("points", static_cast<std::size_t>(i)) + ".plan", file);
        jp["size_bytes"] = p.sizeBytes;
        jp["bits_per_weight"] = fromMeasured(p.bitsPerWeight);
        jp["metrics"] = std::move(metrics);
        jp["samples"] = p.samples;
        jp["total"] = p.total;
        jp["pareto"] = p.pareto;
        points.push_back(std::move(jp));
    }
    root["points"] = std::move(points);
    if (d.sensitivityMetric.isEmpty() && d.sensitivitySettings.isEmpty() && d.sensitivityLayers.isEmpty() &&
        d.sensitivityDrop.empty()) {
        root["sensitivity"] = nullptr;
    } else {
        Json settings = Json::array(), layers = Json::array(), drop = Json::array();
        for (const QString& s : d.sensitivitySettings)
            settings.push_back(s.toStdString());
        for (const QString& s : d.sensitivityLayers)
            layers.push_back(s.toStdString());
        for (const auto& row : d.sensitivityDrop) {
            Json r = Json::array();
            for (double v : row)
                r.push_back(fromMeasured(v));
            drop.push_back(std::move(r));
        }
        root["sensitivity"] = {{"metric", d.sensitivityMetric.toStdString()},
                               {"settings", std::move(settings)},
                               {"layers", std::move(layers)},
                               {"drop", std::move(drop)}};
    }
    // Left out when empty: a session without comparisons stays readable by a Leger that predates them.
    if (!d.comparisons.isEmpty()) {
        Json comparisons = Json::array();
        for (const SessionComparison& c : d.comparisons)
            comparisons.push_back({{"model", c.modelPath.toStdString()}, {"sha256", c.sha256.toStdString()}});
        root["comparisons"] = std::move(comparisons);
    }
    return root;
}

/// "[json.exception.parse_error.101] parse error at ..." without the bracketed id.
std::string jsonReason(const char* what)
{
    std::string s = what;
    if (!s.empty() && s[0] == '[') {
        const auto end = s.find("] ");
        if (end != std::string::npos)
            s = s.substr(end + 2);
    }
    return s;
}

/// Parses refusing a key given twice in one object (which would silently keep one of the two)
/// and nesting deeper than any session has; messages name the field.
Json parseStrict(const std::string& text, const std::string& file)
{
    struct Frame {
        bool array = false;
        std::size_t count = 0; // elements begun (arrays)
        std::string key;       // current member (objects)
        std::set<std::string> keys;
    };
    std::vector<Frame> stack;
    auto path = [&] {
        std::string p;
        for (const Frame& f : stack)
            p = f.array ? element(p, f.count - 1) : member(p, f.key);
        return p;
    };
    auto callback = [&](int, Json::parse_event_t event, Json& parsed) {
        using E = Json::parse_event_t;
        if ((event == E::object_start || event == E::array_start || event == E::value) && !stack.empty() &&
            stack.back().array)
            ++stack.back().count;
        if (event == E::object_start || event == E::array_start) {
            if (stack.size() >= kMaxDepth)
                throw FieldError(path() + ": nested more than " + std::to_string(kMaxDepth) + " levels deep");
            stack.push_back({event == E::array_start, 0, {}, {}});
        } else if (event == E::object_end || event == E::array_end) {
            stack.pop_back();
        } else if (event == E::key) {
            Frame& f = stack.back();
            f.key = parsed.get<std::string>();
            if (!f.keys.insert(f.key).second)
                throw FieldError(path() + ": the key is given twice in one object");
        }
        return true;
    };
    try {
        return Json::parse(text, callback);
    } catch (const Json::parse_error& e) {
        // A parse error past the last byte: the text stopped in the middle of a value.
        if (e.byte > text.size()) {
            const auto nl = text.rfind('\n');
            const auto line = 1 + std::count(text.begin(), text.end(), '\n');
            const auto column = 1 + text.size() - (nl == std::string::npos ? 0 : nl + 1);
            throw Error(file + ": the file ends early (truncated?) at line " + std::to_string(line) + ", column " +
                        std::to_string(column));
        }
        throw Error(file + ": not valid JSON: " + jsonReason(e.what()));
    } catch (const Json::exception& e) {
        throw Error(file + ": not valid JSON: " + jsonReason(e.what()));
    } catch (const FieldError& e) {
        throw Error(file + ": " + e.what());
    }
}

bool sameValue(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

bool sameInterval(const Interval& a, const Interval& b)
{
    return sameValue(a.value, b.value) && sameValue(a.low, b.low) && sameValue(a.high, b.high) && a.n == b.n;
}

bool samePoint(const SessionPoint& a, const SessionPoint& b)
{
    if (a.metrics.size() != b.metrics.size())
        return false;
    for (auto i = a.metrics.begin(), j = b.metrics.begin(); i != a.metrics.end(); ++i, ++j)
        if (i->first != j->first || !sameInterval(i->second, j->second))
            return false;
    return a.id == b.id && a.kind == b.kind && a.label == b.label && a.planJson == b.planJson &&
           a.sizeBytes == b.sizeBytes && a.bitsPerWeight == b.bitsPerWeight && a.samples == b.samples &&
           a.total == b.total && a.pareto == b.pareto;
}

} // namespace

bool SessionData::operator==(const SessionData& o) const
{
    if (points.size() != o.points.size() || sensitivityDrop.size() != o.sensitivityDrop.size())
        return false;
    for (qsizetype i = 0; i < points.size(); ++i)
        if (!samePoint(points[i], o.points[i]))
            return false;
    for (std::size_t r = 0; r < sensitivityDrop.size(); ++r) {
        if (sensitivityDrop[r].size() != o.sensitivityDrop[r].size())
            return false;
        for (std::size_t c = 0; c < sensitivityDrop[r].size(); ++c)
            if (!sameValue(sensitivityDrop[r][c], o.sensitivityDrop[r][c]))
                return false;
    }
    return modelPath == o.modelPath && modelSha256 == o.modelSha256 && dataPath == o.dataPath &&
           dataLimit == o.dataLimit && planJson == o.planJson && metric == o.metric && xAxis == o.xAxis &&
           budgetBytes == o.budgetBytes && maxDrop == o.maxDrop && sensitivityMetric == o.sensitivityMetric &&
           sensitivitySettings == o.sensitivitySettings && sensitivityLayers == o.sensitivityLayers &&
           comparisons == o.comparisons;
}

bool SessionFile::write(const QString& path, const SessionData& data, QString* error)
{
    const std::string file = QDir::toNativeSeparators(path).toStdString();
    QByteArray bytes;
    try {
        const Json root = toDocument(data, file);
        // What read() would refuse is not written: a session that cannot be opened again is lost work.
        fromDocument(root, path);
        bytes = QByteArray::fromStdString(root.dump(2) + "\n");
    } catch (const Error& e) {
        if (error)
            *error = QString::fromStdString(e.what());
        return false;
    } catch (const Json::exception& e) { // a string that is not UTF-8
        if (error)
            *error = fileMessage(path, jsonReason(e.what()));
        return false;
    }
    return saveFile(path, bytes, error);
}

std::optional<SessionData> SessionFile::read(const QString& path, QString* error)
{
    auto failed = [&](const QString& message) {
        if (error)
            *error = message;
        return std::nullopt;
    };
    const QFileInfo info(path);
    if (info.isDir())
        return failed(fileMessage(path, "is a folder, not a session file"));
    if (!info.exists())
        return failed(fileMessage(path, "no such file"));
    if (info.size() > kMaxFileBytes)
        return failed(fileMessage(path, std::to_string(info.size()) + " bytes is too large for a session (the limit is " +
                                            std::to_string(kMaxFileBytes) + ")"));
    QFile in(path);
    if (!in.open(QIODevice::ReadOnly))
        return failed(fileMessage(path, "cannot open: " + in.errorString().toStdString()));
    const QByteArray bytes = in.readAll();
    if (in.error() != QFileDevice::NoError)
        return failed(fileMessage(path, "cannot read: " + in.errorString().toStdString()));
    if (bytes.isEmpty())
        return failed(fileMessage(path, "the file is empty (not a Leger session)"));
    try {
        return fromDocument(parseStrict(bytes.toStdString(), QDir::toNativeSeparators(path).toStdString()), path);
    } catch (const Error& e) {
        return failed(QString::fromStdString(e.what()));
    }
}

QByteArray SessionFile::sha256(const QString& path)
{
    QFile f(path);
    if (!QFileInfo(path).isFile() || !f.open(QIODevice::ReadOnly))
        return {};
    QCryptographicHash hash(QCryptographicHash::Sha256);
    if (!hash.addData(&f)) // reads in blocks: a model of gigabytes is never held whole
        return {};
    return hash.result().toHex();
}

} // namespace leger::ui
