#pragma once
// How a metric is shown: its title, unit, scale to display units, direction, and the
// definition the tooltips give (DESIGN.md "Definitions").

#include <QString>
#include <cstdint>
#include <optional>

#include "charts/ChartPoint.h"
#include <QStringList>

namespace leger {
struct Interval;
struct Evaluation;
struct ComparedModel;
} // namespace leger

namespace leger::ui {

struct MetricInfo {
    QString name;        // the engine's name: top1 top5 agreement kl sqnr_db
    QString title;       // "Top-1 accuracy"
    QString unit;        // "%", "nats", "dB"
    double scale = 1.0;  // display value = value * scale
    bool higherIsBetter = true;
    QString definition;  // for tooltips

    /// The metric's value, interval and change in display units, e.g. "91.5 % ± 0.6".
    QString format(double displayValue, int decimals = -1) const;
    QString axisTitle() const { return unit.isEmpty() ? title : QStringLiteral("%1 (%2)").arg(title, unit); }
    /// Whether two models' values can be set side by side: measured against the labels (top-1,
    /// top-5) or the text itself (perplexity, NLL: the models compared share one vocabulary), not
    /// against each model's own uncompressed output (agreement, KL, SQNR, flips).
    bool comparesModels() const { return name == "top1" || name == "top5" || name == "perplexity" || name == "nll"; }
    /// Another model's measured points as a chart series (empty when the metric does not
    /// compare models, or none of its points has it).
    ComparisonSeries series(const ComparedModel& model) const;

    /// An evaluation as a chart point in this metric's display units (nullopt when the metric
    /// is missing or not finite).
    std::optional<ChartPoint> point(const Evaluation& e, std::int64_t bytes, double bitsPerWeight, int id,
                                    const QString& label) const;

    static MetricInfo of(const QString& name);
    /// The metrics an evaluation offers, in display order.
    static QStringList available(const Evaluation& e);
};

} // namespace leger::ui
