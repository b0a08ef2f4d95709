#include "charts/ChartStyle.h"

#include <QAbstractAxis>
#include <QCoreApplication>
#include <QFontMetrics>
#include <QChart>
#include <QChartView>
#include <QGraphicsLayout>
#include <QLegend>
#include <QCategoryAxis>
#include <cmath>

#include "charts/NiceScale.h"

namespace leger::ui {

namespace {

QColor mix(const QColor& a, const QColor& b, double t)
{
    return QColor::fromRgbF(static_cast<float>(a.redF() + (b.redF() - a.redF()) * t),
                            static_cast<float>(a.greenF() + (b.greenF() - a.greenF()) * t),
                            static_cast<float>(a.blueF() + (b.blueF() - a.blueF()) * t));
}

} // namespace

bool isDarkPalette(const QPalette& palette)
{
    return palette.color(QPalette::Window).lightness() < 128;
}

ChartColors ChartColors::of(const QPalette& palette)
{
    ChartColors c;
    c.dark = isDarkPalette(palette);
    c.background = palette.color(QPalette::Base);
    c.text = palette.color(QPalette::Text);
    c.grid = mix(c.background, c.text, c.dark ? 0.18 : 0.12);
    c.axisLine = mix(c.background, c.text, 0.45);
    c.muted = mix(c.background, c.text, 0.5);
    if (c.dark) {
        c.blue = QColor(0x56, 0xb4, 0xe9);
        c.orange = QColor(0xf0, 0xb0, 0x30);
        c.green = QColor(0x2e, 0xc4, 0x9a);
        c.vermillion = QColor(0xff, 0x7f, 0x3a);
        c.purple = QColor(0xe0, 0x9a, 0xc4);
        c.sky = QColor(0x9a, 0xd4, 0xf4);
    } else {
        c.blue = QColor(0x00, 0x72, 0xb2);
        c.orange = QColor(0xe6, 0x9f, 0x00);
        c.green = QColor(0x00, 0x9e, 0x73);
        c.vermillion = QColor(0xd5, 0x5e, 0x00);
        c.purple = QColor(0xcc, 0x79, 0xa7);
        c.sky = QColor(0x56, 0xb4, 0xe9);
    }
    return c;
}

void applyAxisPalette(QAbstractAxis* axis, const ChartColors& colors)
{
    axis->setLabelsColor(colors.text);
    axis->setTitleBrush(colors.text);
    axis->setGridLineColor(colors.grid);
    axis->setMinorGridLineColor(colors.grid);
    QPen line(colors.axisLine, 1);
    line.setCosmetic(true);
    axis->setLinePen(line); // the dark theme's is 2 px and bright
    axis->setShadesVisible(false);
}

void applyChartPalette(QChart* chart, const QPalette& palette)
{
    const ChartColors colors = ChartColors::of(palette);
    // The theme picks fonts and series defaults that suit the background; the palette then
    // decides the actual background and text so that the chart matches the application.
    const QChart::ChartTheme theme = colors.dark ? QChart::ChartThemeDark : QChart::ChartThemeLight;
    if (chart->theme() != theme)
        chart->setTheme(theme);
    chart->setBackgroundBrush(colors.background);
    chart->setBackgroundPen(Qt::NoPen);
    chart->setBackgroundRoundness(0);
    chart->setPlotAreaBackgroundVisible(false);
    chart->setDropShadowEnabled(false);
    chart->setTitleBrush(colors.text);
    chart->legend()->setLabelColor(colors.text);
    chart->legend()->setBrush(Qt::NoBrush);
    chart->legend()->setPen(Qt::NoPen);
    for (QAbstractAxis* axis : chart->axes())
        applyAxisPalette(axis, colors);
}

void applyNiceScale(QCategoryAxis* axis, const NiceScale& scale, double min, double max)
{
    QStringList labels;
    QList<double> values;
    const double tolerance = scale.step * 1e-6;
    const auto first = static_cast<long long>(std::ceil((min - tolerance) / scale.step));
    for (long long k = first;; ++k) {
        const double v = static_cast<double>(k) * scale.step;
        if (v > max + tolerance)
            break;
        labels.append(scale.format(v));
        values.append(v);
    }
    if (values.isEmpty() || values.back() < max - tolerance) {
        labels.append(QStringLiteral(" ")); // the rest of the range, unlabelled
        values.append(max);
    }
    if (axis->categoriesLabels() == labels && axis->min() == min && axis->max() == max)
        return; // no change: no relayout
    for (const QString& label : axis->categoriesLabels())
        axis->remove(label);
    // A category is labelled at its end value; starting just below min labels min itself.
    axis->setStartValue(min - (max - min) * 1e-9);
    for (qsizetype i = 0; i < labels.size(); ++i)
        axis->append(labels[i], values[i]);
    axis->setRange(min, max);
}

QCategoryAxis* makeValueAxis()
{
    auto* axis = new QCategoryAxis;
    axis->setLabelsPosition(QCategoryAxis::AxisLabelsPositionOnValue);
    return axis;
}

QChartView* makeChartView(QChart* chart)
{
    // Room on the right and top for the half of the last tick label that overhangs the plot.
    chart->setMargins(QMargins(4, 8, 16, 4));
    chart->layout()->setContentsMargins(0, 0, 0, 0);
    auto* view = new QChartView(chart);
    view->setRenderHint(QPainter::Antialiasing);
    view->setRenderHint(QPainter::TextAntialiasing);
    view->setFrameShape(QFrame::NoFrame);
    view->setMinimumSize(280, 200);
    return view;
}

int fitCategoryCount(QChart* chart, QAbstractAxis* axis, int least, int most, const std::function<void(int)>& fill)
{
    const auto fits = [&](int n) {
        fill(n);
        // Lay the chart out now (it would on a posted event) to read the axis' verdict.
        QCoreApplication::sendPostedEvents(chart, QEvent::LayoutRequest);
        return !axis->labelsTruncated();
    };
    most = std::max(least, most);
    if (fits(most))
        return most;
    int ok = least, bad = most; // labels fit at ok (or ok is the floor), not at bad
    while (bad - ok > 1) {
        const int mid = ok + (bad - ok) / 2;
        (fits(mid) ? ok : bad) = mid;
    }
    fill(ok);
    QCoreApplication::sendPostedEvents(chart, QEvent::LayoutRequest);
    return ok;
}

void CategoryFit::apply(QChart* chart, QAbstractAxis* axis, QSize size, int n, int most, const std::function<void(int)>& fill)
{
    if (size == size_ && n == categories_) {
        fill(count_);
        return;
    }
    count_ = fitCategoryCount(chart, axis, std::min(n, 3), std::min(n, most), fill);
    size_ = size;
    categories_ = n;
}

QString elideLabel(const QString& name, const QAbstractAxis* axis, int width)
{
    return QFontMetrics(axis->labelsFont()).elidedText(name, Qt::ElideMiddle, std::max(width, 40));
}

} // namespace leger::ui
