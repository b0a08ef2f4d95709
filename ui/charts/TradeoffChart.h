#pragma once
// Size against quality (DESIGN.md "Definitions"): the baseline, the current plan with its
// interval as an error bar, the trail of evaluated plans, the measured frontier, uniform
// presets, other models measured on the same data, and the user's lines for a size budget and
// an acceptable drop. Qt Charts stays inside ui/charts (it is deprecated from Qt 6.10): this
// header does not include it.

#include <QWidget>
#include <memory>
#include <optional>

#include "charts/ChartPoint.h"

namespace leger::ui {

class TradeoffChart : public QWidget {
    Q_OBJECT
public:
    enum class XAxis { Megabytes, BitsPerWeight };

    explicit TradeoffChart(QWidget* parent = nullptr);
    ~TradeoffChart() override;

    /// The y axis: the metric's title (e.g. "Top-1 accuracy (%)").
    void setMetricTitle(const QString& title);
    void setXAxis(XAxis axis);
    XAxis xAxis() const;

    void setBaseline(std::optional<ChartPoint> p);
    /// The plan being edited; its interval is drawn as an error bar (it narrows as the
    /// evaluation refines). `partial` draws it hollow.
    void setCurrent(std::optional<ChartPoint> p, bool partial);
    void setTrail(const QVector<ChartPoint>& points);
    /// The measured frontier (Pareto points), joined by a line in size order.
    void setFrontier(const QVector<ChartPoint>& points);
    void setPresets(const QVector<ChartPoint>& points);
    /// Other models measured on the same data, each in a marker and colour of its own with a
    /// legend entry; their points are not clickable.
    void setComparisons(const QVector<ComparisonSeries>& models);
    /// A vertical line at this size (bytes); nullopt hides it.
    void setBudget(std::optional<double> bytes);
    /// A horizontal line at this metric value (e.g. baseline minus the acceptable drop).
    void setFloor(std::optional<double> value);

    /// The current plan's name in the legend and tooltips ("Current plan"; a report says
    /// "Chosen plan").
    void setCurrentName(const QString& name);
    /// Where the legend goes (below the plot by default; a report puts it on the right, where
    /// many entries keep their full names).
    void setLegendAlignment(Qt::Alignment alignment);
    /// The chart as laid out now, encoded as "png" or "svg" (for reports).
    QByteArray image(const QString& format) const;
    /// Writes the chart as PNG or SVG (by the extension), atomically. Returns false and sets
    /// *error (naming the file) on failure.
    bool saveImage(const QString& path, QString* error) const;

signals:
    /// A trail, frontier or preset point with this id was clicked.
    void pointClicked(int id);

private:
    struct Private;
    std::unique_ptr<Private> d_;
};

} // namespace leger::ui
