#pragma once
// A workbench session on disk (JSON, written atomically): which model (path and SHA-256) and
// data, the plan, every evaluated point, the sensitivity table, the chart settings and the other
// models compared with it (path and SHA-256). The
// format is documented in session-format.md beside this file.

#include <QByteArray>
#include <QString>
#include <QStringList>
#include <QVector>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "eval/Metrics.h"

namespace leger::ui {

/// One evaluated plan as a session keeps it.
struct SessionPoint {
    int id = 0;
    QString kind;               // "trail" "preset" "frontier" "fit"
    QString label;
    QString planJson;           // the plan as a recipe (Plan::toJson), exact per layer
    qint64 sizeBytes = 0;
    double bitsPerWeight = 0;
    std::map<std::string, Interval> metrics; // Metrics::values
    qint64 samples = 0, total = 0;
    bool pareto = false;
};

/// Another model compared on the same data; measured again when the session is opened.
struct SessionComparison {
    QString modelPath;          // absolute
    QByteArray sha256;          // hex, of the file as measured; empty: unknown
    bool operator==(const SessionComparison&) const = default;
};

struct SessionData {
    QString modelPath;          // absolute
    QByteArray modelSha256;     // hex
    QString dataPath;           // absolute, empty: none
    qint64 dataLimit = -1;
    QString planJson;           // the current plan (Plan::toJson)
    QVector<SessionPoint> points;
    // The chart's settings.
    QString metric;             // e.g. "top1"
    QString xAxis = "mb";       // "mb" or "bpw"
    std::optional<qint64> budgetBytes;
    std::optional<double> maxDrop; // in the metric's own unit (e.g. 0.01 = 1 point of top-1)
    // The sensitivity table, if one was computed.
    QString sensitivityMetric;
    QStringList sensitivitySettings;   // settingSpec of each column
    QStringList sensitivityLayers;     // layer names (rows)
    std::vector<std::vector<double>> sensitivityDrop;
    QVector<SessionComparison> comparisons;

    bool operator==(const SessionData&) const;
};

class SessionFile {
public:
    /// Writes atomically; returns false and sets *error (naming the file) on failure.
    static bool write(const QString& path, const SessionData& data, QString* error);
    /// Reads and validates; on failure returns nullopt and sets *error naming the file and
    /// what was wrong (e.g. "s.leger-session: points[3].size_bytes: expected an integer").
    static std::optional<SessionData> read(const QString& path, QString* error);
    /// SHA-256 of a file as hex (streamed), empty on failure.
    static QByteArray sha256(const QString& path);
};

} // namespace leger::ui
