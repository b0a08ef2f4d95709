#include "charts/LayerBytesChart.h"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QCoreApplication>
#include <QCursor>
#include <QHorizontalStackedBarSeries>
#include <QLegend>
#include <QLegendMarker>
#include <QLocale>
#include <QSet>
#include <QToolTip>
#include <QVBoxLayout>
#include <QCategoryAxis>
#include <algorithm>
#include <numeric>

#include "charts/ChartStyle.h"
#include "charts/EventHook.h"
#include "charts/ImageExport.h"
#include "charts/NiceScale.h"

namespace leger::ui {

namespace {

constexpr int kMaxBars = 25; // the largest layers shown one by one; the rest share a bar

double total(const LayerBytesBar& b)
{
    return b.codes + b.sparsity + b.scales + b.header;
}

/// The unit that keeps the largest bar's number readable (decimal: 1 kB = 1000 bytes).
struct Unit {
    double divisor;
    const char* name;
};
Unit unitFor(double maxBytes)
{
    if (maxBytes >= 1e6)
        return {1e6, "MB"};
    if (maxBytes >= 1e3)
        return {1e3, "kB"};
    return {1, "bytes"};
}

/// Puts values into a set in place (the set keeps its identity and its connections).
void setValues(QBarSet* set, const QList<qreal>& values)
{
    const qsizetype common = std::min<qsizetype>(set->count(), values.size());
    for (qsizetype i = 0; i < common; ++i)
        if (set->at(i) != values[i])
            set->replace(i, values[i]);
    if (set->count() > values.size())
        set->remove(static_cast<int>(values.size()), static_cast<int>(set->count() - values.size()));
    else if (values.size() > common)
        set->append(values.mid(common));
}

QString bytesText(double bytes)
{
    return QLocale().toString(static_cast<qlonglong>(std::llround(bytes))) + " bytes";
}

} // namespace

struct LayerBytesChart::Private {
    LayerBytesChart* q = nullptr;
    QChart* chart = nullptr;
    QChartView* view = nullptr;
    QHorizontalStackedBarSeries* series = nullptr;
    QBarSet* parts[4] = {};
    QBarCategoryAxis* axisY = nullptr;
    QCategoryAxis* axisX = nullptr;

    QVector<LayerBytesBar> layers;
    /// Per bar, bottom to top (Qt's order for horizontal bars): the layer's index in the
    /// input, or -1 for the bar of the other layers.
    QVector<int> barLayer;
    int otherCount = 0;
    double otherBytes[4] = {};
    bool rebuildQueued = false;
    CategoryFit fit;

    /// Fills the chart with the `show` largest layers (and the others in one bar).
    void fill(int show);
    /// As many bars as the height can label, at most kMaxBars.
    void rebuild()
    {
        rebuildQueued = false;
        fit.apply(chart, axisY, view->size(), static_cast<int>(layers.size()), kMaxBars, [this](int show) { fill(show); });
    }
    void applyPalette();
    QString tooltip(int bar) const;
    void hideUnnamedParts();
    /// The four parts of a bar (layer index, or -1 for the other layers summed) and its name.
    QString barValues(int layer, double v[4]) const;
};

void LayerBytesChart::Private::fill(int show)
{
    const int n = static_cast<int>(layers.size());
    QVector<int> shown(n);
    std::iota(shown.begin(), shown.end(), 0);
    otherCount = 0;
    std::fill(std::begin(otherBytes), std::end(otherBytes), 0.0);
    if (n > show + 1) {
        // The largest by total, kept in the given order (the model's order reads best).
        std::partial_sort(shown.begin(), shown.begin() + show, shown.end(), [this](int a, int b) {
            const double ta = total(layers[a]), tb = total(layers[b]);
            return ta != tb ? ta > tb : a < b;
        });
        QVector<bool> isShown(n, false);
        for (int i = 0; i < show; ++i)
            isShown[shown[i]] = true;
        shown.resize(show);
        std::sort(shown.begin(), shown.end());
        for (int i = 0; i < n; ++i) {
            if (isShown[i])
                continue;
            ++otherCount;
            otherBytes[0] += layers[i].codes;
            otherBytes[1] += layers[i].sparsity;
            otherBytes[2] += layers[i].scales;
            otherBytes[3] += layers[i].header;
        }
    }

    // Top to bottom in the given order, the others last; Qt stacks categories bottom-up.
    barLayer.clear();
    if (otherCount > 0)
        barLayer.append(-1);
    for (auto it = shown.crbegin(); it != shown.crend(); ++it)
        barLayer.append(*it);

    double maxBytes = 0, sum = 0;
    for (const LayerBytesBar& l : std::as_const(layers))
        sum += total(l);
    QList<qreal> values[4];
    QStringList categories;
    QSet<QString> used;
    for (int layer : std::as_const(barLayer)) {
        double v[4];
        QString name = barValues(layer, v);
        if (layer >= 0) // Qt Charts gives the labels at most 40 % of the width; shorten in the middle.
            name = elideLabel(name.isEmpty() ? QString("layer %1").arg(layer) : name, axisY, view->width() / 3);
        // Categories must be unique: shortened or repeated names get the layer's index.
        if (used.contains(name))
            name += QString(" #%1").arg(layer);
        used.insert(name);
        categories.append(name);
        maxBytes = std::max(maxBytes, v[0] + v[1] + v[2] + v[3]);
        for (int p = 0; p < 4; ++p)
            values[p].append(v[p]);
    }

    // When the others together dwarf every layer shown, the axis ends after the largest layer
    // and the others' bar runs off the edge with its total in its label: otherwise the layers
    // would be slivers next to it.
    double axisMax = maxBytes;
    if (otherCount > 0) {
        const double others = otherBytes[0] + otherBytes[1] + otherBytes[2] + otherBytes[3];
        double largestLayer = 0;
        for (int i = 0; i < categories.size(); ++i)
            if (barLayer[i] >= 0)
                largestLayer = std::max(largestLayer, values[0][i] + values[1][i] + values[2][i] + values[3][i]);
        if (others > 1.5 * largestLayer) {
            axisMax = largestLayer * 1.1;
            const Unit u = unitFor(others);
            categories[0] = QString("%1 other layers (%2 %3) \u25b8")
                                .arg(otherCount)
                                .arg(QString::number(others / u.divisor, 'g', 3), u.name);
        }
    }
    const Unit unit = unitFor(axisMax);
    for (int p = 0; p < 4; ++p) {
        for (qreal& v : values[p])
            v /= unit.divisor;
        setValues(parts[p], values[p]);
    }
    axisY->setCategories(categories);
    // No layers: an axis of 0..1 rather than ticks of a billionth of a byte.
    applyNiceScale(axisX, NiceScale::fit(0, axisMax > 0 ? axisMax / unit.divisor : 1.0, 5));
    axisX->setTitleText(unit.divisor == 1 ? QStringLiteral("Bytes in the export")
                                          : QString("Bytes in the export (%1, 1 %1 = %2 bytes)")
                                                .arg(unit.name, QLocale().toString(static_cast<qlonglong>(unit.divisor))));
    const Unit sumUnit = unitFor(sum);
    const QString sumText = QString("%1 %2").arg(QString::number(sum / sumUnit.divisor, 'g', 4), sumUnit.name);
    if (layers.isEmpty())
        chart->setTitle(QStringLiteral("No layers"));
    else if (otherCount > 0)
        chart->setTitle(QString("Bytes per layer: the %1 largest of %2 layers (%3 in all)")
                            .arg(barLayer.size() - 1)
                            .arg(n)
                            .arg(sumText));
    else
        chart->setTitle(QString("Bytes per layer (%1 layers, %2 in all)").arg(n).arg(sumText));
}

QString LayerBytesChart::Private::barValues(int layer, double v[4]) const
{
    if (layer < 0) {
        std::copy(std::begin(otherBytes), std::end(otherBytes), v);
        return QString("%1 other layers").arg(otherCount);
    }
    const LayerBytesBar& l = layers[layer];
    v[0] = l.codes;
    v[1] = l.sparsity;
    v[2] = l.scales;
    v[3] = l.header;
    return l.name;
}

QString LayerBytesChart::Private::tooltip(int bar) const
{
    if (bar < 0 || bar >= barLayer.size())
        return {};
    const int layer = barLayer[bar];
    double v[4];
    const QString title = barValues(layer, v);
    QString s = QString("<b>%1</b>").arg(title.toHtmlEscaped());
    for (int p = 0; p < 4; ++p)
        if (!parts[p]->label().isEmpty())
            s += QString("<br>%1: %2").arg(parts[p]->label(), bytesText(v[p]));
    s += QString("<br>Total: %1").arg(bytesText(v[0] + v[1] + v[2] + v[3]));
    return s;
}

void LayerBytesChart::Private::applyPalette()
{
    applyChartPalette(chart, q->palette());
    const ChartColors c = ChartColors::of(q->palette());
    const QColor colors[4] = {c.blue, c.orange, c.green, c.muted};
    for (int p = 0; p < 4; ++p) {
        parts[p]->setColor(colors[p]);
        parts[p]->setBorderColor(colors[p]);
        parts[p]->setPen(Qt::NoPen);
    }
}

LayerBytesChart::LayerBytesChart(QWidget* parent)
    : QWidget(parent), d_(std::make_unique<Private>())
{
    d_->q = this;
    d_->chart = new QChart;
    d_->chart->legend()->setAlignment(Qt::AlignBottom);
    d_->view = makeChartView(d_->chart);
    d_->view->setMinimumSize(360, 260);

    d_->series = new QHorizontalStackedBarSeries;
    d_->series->setBarWidth(0.75);
    const char* names[4] = {"Codes", "Sparsity metadata", "Scales and zero points", "Record header"};
    for (int p = 0; p < 4; ++p) {
        d_->parts[p] = new QBarSet(names[p]);
        d_->series->append(d_->parts[p]);
    }
    d_->chart->addSeries(d_->series);
    d_->axisY = new QBarCategoryAxis;
    d_->axisY->setGridLineVisible(false);
    d_->axisX = makeValueAxis();
    d_->chart->addAxis(d_->axisY, Qt::AlignLeft);
    d_->chart->addAxis(d_->axisX, Qt::AlignBottom);
    d_->series->attachAxis(d_->axisY);
    d_->series->attachAxis(d_->axisX);

    connect(d_->series, &QAbstractBarSeries::clicked, this, [this](int bar, QBarSet*) {
        if (bar >= 0 && bar < d_->barLayer.size() && d_->barLayer[bar] >= 0)
            emit layerClicked(d_->barLayer[bar]);
    });
    connect(d_->series, &QAbstractBarSeries::hovered, this, [this](bool on, int bar, QBarSet*) {
        if (on)
            QToolTip::showText(QCursor::pos(), d_->tooltip(bar), d_->view);
        else
            QToolTip::hideText();
    });

    // The number of bars follows the height; palette changes arrive after the event.
    new EventHook(d_->view, [this](QEvent* e) {
        if (e->type() == QEvent::Resize && !d_->rebuildQueued) {
            d_->rebuildQueued = true;
            QMetaObject::invokeMethod(this, [this] { d_->rebuild(); }, Qt::QueuedConnection);
        }
        return false;
    });
    new EventHook(this, [this](QEvent* e) {
        if (EventHook::isPaletteChange(e))
            QMetaObject::invokeMethod(this, [this] { d_->applyPalette(); }, Qt::QueuedConnection);
        return false;
    });

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(d_->view);
    d_->applyPalette();
    d_->rebuild();
}

LayerBytesChart::~LayerBytesChart() = default;

void LayerBytesChart::setPartLabels(const QStringList& labels)
{
    for (int p = 0; p < 4 && p < labels.size(); ++p)
        d_->parts[p]->setLabel(labels[p]);
    d_->hideUnnamedParts();
}

void LayerBytesChart::Private::hideUnnamedParts()
{
    const QList<QLegendMarker*> markers = chart->legend()->markers(series);
    for (int p = 0; p < 4 && p < markers.size(); ++p)
        markers[p]->setVisible(!parts[p]->label().isEmpty());
}

void LayerBytesChart::setLayers(const QVector<LayerBytesBar>& layers)
{
    d_->layers = layers;
    d_->rebuild();
    d_->hideUnnamedParts(); // the legend may have made its markers anew
}

QByteArray LayerBytesChart::image(const QString& format) const
{
    // A chart never shown (a report's) has not laid its view out: give it the chart's size.
    if (!isVisible())
        d_->view->resize(size());
    QCoreApplication::sendPostedEvents(nullptr, QEvent::LayoutRequest);
    // The number of bars follows the size just given (a rebuild the resize queued would come
    // too late for this image: bars as many as at the old size, their labels cut to "…").
    if (d_->rebuildQueued) {
        d_->rebuild();
        d_->hideUnnamedParts();
    }
    return widgetImage(d_->view, format);
}

bool LayerBytesChart::saveImage(const QString& path, QString* error) const
{
    QCoreApplication::sendPostedEvents(nullptr, QEvent::LayoutRequest);
    return saveWidgetImage(d_->view, path, error);
}

} // namespace leger::ui
