#pragma once
// The charts' look, taken from the widget palette (light or dark), and the few colours the charts
// share. Internal to ui/charts: it includes Qt Charts.

#include <QColor>
#include <QPalette>
#include <QSize>
#include <QString>
#include <functional>

#include "charts/NiceScale.h"

class QChart;
class QChartView;
class QAbstractAxis;
class QCategoryAxis;

namespace leger::ui {

/// Colours for one palette. The data colours are the Okabe-Ito set (distinguishable with the
/// common colour-vision deficiencies), in lighter variants on a dark background.
struct ChartColors {
    bool dark = false;
    QColor background, text, grid, axisLine, muted;
    QColor blue, orange, green, vermillion, purple, sky;

    static ChartColors of(const QPalette& palette);
};

/// Whether the palette is a dark one (by its window colour).
bool isDarkPalette(const QPalette& palette);
/// Theme, background, title, legend and every attached axis from the palette. QChart::setTheme
/// resets series colours: restyle the series after this.
void applyChartPalette(QChart* chart, const QPalette& palette);
void applyAxisPalette(QAbstractAxis* axis, const ChartColors& colors);
/// The axis over [min, max] with labels and grid lines on the scale's round values. A
/// QCategoryAxis with labels on values rather than a QValueAxis: Qt Charts computes dynamic
/// ticks by repeated addition, so the tick at zero of a range such as [-0.3, 0.3] comes out as
/// -5e-17 and is printed "-0.0"; here every label is formatted from the round value itself.
void applyNiceScale(QCategoryAxis* axis, const NiceScale& scale, double min, double max);
inline void applyNiceScale(QCategoryAxis* axis, const NiceScale& scale)
{
    applyNiceScale(axis, scale, scale.min, scale.max);
}
/// A value axis for applyNiceScale.
QCategoryAxis* makeValueAxis();
/// A QChartView set up as the charts here want it: antialiased, no frame, small margins.
QChartView* makeChartView(QChart* chart);
/// The largest count in [least, most] for which fill(count) leaves the labels of the category
/// axis whole, found by bisection over real layouts (Qt Charts elides a category label that is
/// taller than its row, so a bar chart shows only as many bars as it can label). The chart is
/// left filled with that count.
int fitCategoryCount(QChart* chart, QAbstractAxis* axis, int least, int most, const std::function<void(int)>& fill);
/// fitCategoryCount remembered: the count found for a chart size and a number of categories is
/// reused while both stay (a label is cut when it is taller than its row, which new values of the
/// same categories do not change), so refilling at each step of a slider drag fills the chart once
/// instead of laying it out for every step of the search.
class CategoryFit {
public:
    /// Fills the chart (fill(count)) with as many of n categories as fit, at most `most`.
    void apply(QChart* chart, QAbstractAxis* axis, QSize size, int n, int most, const std::function<void(int)>& fill);

private:
    QSize size_;
    int categories_ = -1, count_ = 0;
};
/// name shortened in the middle to fit `width` pixels in the axis' label font.
QString elideLabel(const QString& name, const QAbstractAxis* axis, int width);

} // namespace leger::ui
