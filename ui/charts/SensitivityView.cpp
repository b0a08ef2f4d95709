#include "charts/SensitivityView.h"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QCoreApplication>
#include <QCursor>
#include <QHBoxLayout>
#include <QHorizontalBarSeries>
#include <QLegend>
#include <QPainter>
#include <QScrollArea>
#include <QScrollBar>
#include <QSet>
#include <QStackedWidget>
#include <QToolTip>
#include <QVBoxLayout>
#include <QCategoryAxis>
#include <algorithm>
#include <cmath>
#include <numeric>

#include "charts/ChartStyle.h"
#include "charts/ColorBar.h"
#include "charts/EventHook.h"
#include "charts/HeatmapCanvas.h"
#include "charts/ImageExport.h"
#include "charts/NiceScale.h"

namespace leger::ui {

namespace {
constexpr int kMaxBars = 30;        // the most sensitive layers shown as bars
constexpr int kMaxImageHeight = 12000; // a saved heatmap taller than this gets thinner rows, without text
} // namespace

struct SensitivityView::Private {
    SensitivityView* q = nullptr;
    Mode mode = Mode::Heatmap;
    QStringList layers, settings;
    std::vector<std::vector<double>> drop;
    QString unit;
    int barsColumn = 0;

    QStackedWidget* stack = nullptr;
    QWidget* heatmapPage = nullptr;
    QScrollArea* scroll = nullptr;
    HeatmapCanvas* canvas = nullptr;
    ColorBar* colorBar = nullptr;

    QChart* chart = nullptr;
    QChartView* view = nullptr;
    QHorizontalBarSeries* series = nullptr;
    QBarSet* bars = nullptr;
    QBarCategoryAxis* axisY = nullptr;
    QCategoryAxis* axisX = nullptr;
    QVector<int> barRow; // per bar, bottom to top: the layer's row
    bool updateQueued = false;
    CategoryFit fit;

    QString dropTitle() const { return unit.isEmpty() ? QStringLiteral("Drop") : QString("Drop (%1)").arg(unit); }
    /// The `show` most sensitive layers of the bars' column.
    void fillBars(int show);
    /// As many bars as the height can label, at most kMaxBars.
    void updateBars()
    {
        updateQueued = false;
        fit.apply(chart, axisY, view->size(), static_cast<int>(layers.size()), kMaxBars, [this](int show) { fillBars(show); });
    }
    void applyPalette();
};

void SensitivityView::Private::fillBars(int show)
{
    const int col = settings.isEmpty() ? -1 : std::clamp(barsColumn, 0, static_cast<int>(settings.size()) - 1);
    QVector<int> order;
    if (col >= 0) {
        for (int r = 0; r < layers.size(); ++r)
            if (std::isfinite(drop[static_cast<std::size_t>(r)][static_cast<std::size_t>(col)]))
                order.append(r);
        const auto value = [&](int r) { return drop[static_cast<std::size_t>(r)][static_cast<std::size_t>(col)]; };
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return value(a) > value(b); });
    }
    const qsizetype measured = order.size();
    if (order.size() > show)
        order.resize(show);

    // Largest at the top: Qt draws the first category at the bottom.
    barRow.clear();
    QList<qreal> values;
    QStringList categories;
    QSet<QString> used;
    double lo = 0, hi = 0;
    for (auto it = order.crbegin(); it != order.crend(); ++it) {
        const double v = drop[static_cast<std::size_t>(*it)][static_cast<std::size_t>(col)];
        QString name = elideLabel(layers[*it], axisY, view->width() / 3);
        if (used.contains(name))
            name += QString(" #%1").arg(*it);
        used.insert(name);
        barRow.append(*it);
        values.append(v);
        categories.append(name);
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    // In place, so that the set keeps its connections.
    const qsizetype common = std::min<qsizetype>(bars->count(), values.size());
    for (qsizetype i = 0; i < common; ++i)
        bars->replace(i, values[i]);
    if (bars->count() > values.size())
        bars->remove(static_cast<int>(values.size()), static_cast<int>(bars->count() - values.size()));
    else
        bars->append(values.mid(common));
    axisY->setCategories(categories);
    // Headroom on the right for the value labels outside the bars' ends.
    applyNiceScale(axisX, NiceScale::fit(lo, hi > lo ? hi + 0.12 * (hi - lo) : lo + 1, 5));
    axisX->setTitleText(dropTitle());

    if (col < 0) {
        chart->setTitle(QStringLiteral("No sensitivity table yet"));
        return;
    }
    const QString setting = settings[col];
    bars->setLabel(QString("Drop with one layer at %1").arg(setting));
    if (measured > show)
        chart->setTitle(QString("The %1 most sensitive of %2 layers at %3").arg(show).arg(measured).arg(setting));
    else
        chart->setTitle(QString("Layers by sensitivity at %1").arg(setting));
}

void SensitivityView::Private::applyPalette()
{
    applyChartPalette(chart, q->palette());
    const ChartColors c = ChartColors::of(q->palette());
    bars->setColor(c.blue);
    bars->setBorderColor(c.blue);
    bars->setLabelColor(c.text);
    canvas->update();
    colorBar->update();
}

SensitivityView::SensitivityView(QWidget* parent)
    : QWidget(parent), d_(std::make_unique<Private>())
{
    d_->q = this;

    d_->canvas = new HeatmapCanvas;
    d_->canvas->onRowClicked = [this](int row) { emit layerClicked(row); };
    d_->scroll = new QScrollArea;
    d_->scroll->setWidget(d_->canvas);
    d_->scroll->setWidgetResizable(true);
    d_->scroll->setFrameShape(QFrame::NoFrame);
    d_->scroll->setBackgroundRole(QPalette::Base);
    // The canvas repaints its sticky headers: a scrolled canvas is otherwise blitted.
    connect(d_->scroll->verticalScrollBar(), &QScrollBar::valueChanged, d_->canvas, qOverload<>(&QWidget::update));
    d_->colorBar = new ColorBar;
    d_->heatmapPage = new QWidget;
    auto* heat = new QHBoxLayout(d_->heatmapPage);
    heat->setContentsMargins(0, 0, 0, 0);
    heat->setSpacing(4);
    heat->addWidget(d_->scroll, 1);
    heat->addWidget(d_->colorBar);

    d_->chart = new QChart;
    d_->chart->legend()->hide(); // one set: the title and axis say what it is
    d_->view = makeChartView(d_->chart);
    d_->series = new QHorizontalBarSeries;
    d_->series->setBarWidth(0.7);
    d_->series->setLabelsVisible(true);
    d_->series->setLabelsPosition(QAbstractBarSeries::LabelsOutsideEnd);
    d_->series->setLabelsPrecision(3);
    d_->bars = new QBarSet(QString());
    d_->series->append(d_->bars);
    d_->chart->addSeries(d_->series);
    d_->axisY = new QBarCategoryAxis;
    d_->axisY->setGridLineVisible(false);
    d_->axisX = makeValueAxis();
    d_->chart->addAxis(d_->axisY, Qt::AlignLeft);
    d_->chart->addAxis(d_->axisX, Qt::AlignBottom);
    d_->series->attachAxis(d_->axisY);
    d_->series->attachAxis(d_->axisX);
    connect(d_->series, &QAbstractBarSeries::clicked, this, [this](int bar, QBarSet*) {
        if (bar >= 0 && bar < d_->barRow.size())
            emit layerClicked(d_->barRow[bar]);
    });
    connect(d_->series, &QAbstractBarSeries::hovered, this, [this](bool on, int bar, QBarSet*) {
        if (!on || bar < 0 || bar >= d_->barRow.size()) {
            QToolTip::hideText();
            return;
        }
        const int row = d_->barRow[bar];
        QToolTip::showText(QCursor::pos(),
                           QString("<b>%1</b><br>drop %2 %3")
                               .arg(d_->layers[row].toHtmlEscaped(),
                                    QString::number(d_->bars->at(bar), 'g', 6), d_->unit.toHtmlEscaped()),
                           d_->view);
    });

    new EventHook(d_->view, [this](QEvent* e) {
        if (e->type() == QEvent::Resize && !d_->updateQueued) {
            d_->updateQueued = true;
            QMetaObject::invokeMethod(this, [this] { d_->updateBars(); }, Qt::QueuedConnection);
        }
        return false;
    });

    d_->stack = new QStackedWidget;
    d_->stack->addWidget(d_->heatmapPage);
    d_->stack->addWidget(d_->view);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(d_->stack);
    setMinimumSize(320, 200);

    new EventHook(this, [this](QEvent* e) {
        if (EventHook::isPaletteChange(e))
            QMetaObject::invokeMethod(this, [this] { d_->applyPalette(); }, Qt::QueuedConnection);
        return false;
    });
    d_->applyPalette();
    setTable({}, {}, {}, {});
}

SensitivityView::~SensitivityView() = default;

void SensitivityView::setTable(const QStringList& layers, const QStringList& settings,
                               const std::vector<std::vector<double>>& drop, const QString& unit)
{
    d_->layers = layers;
    d_->settings = settings;
    d_->unit = unit;
    // Rows and columns as given; missing cells read as not measured.
    d_->drop = drop;
    d_->drop.resize(static_cast<std::size_t>(layers.size()));
    for (auto& row : d_->drop)
        row.resize(static_cast<std::size_t>(settings.size()), std::nan(""));
    d_->canvas->setTable(layers, settings, d_->drop, unit);
    d_->colorBar->setRange(d_->canvas->low(), d_->canvas->high(), d_->dropTitle());
    d_->colorBar->setVisible(!layers.isEmpty());
    d_->updateBars();
}

void SensitivityView::setMode(Mode mode)
{
    d_->mode = mode;
    d_->stack->setCurrentIndex(mode == Mode::Heatmap ? 0 : 1);
}

SensitivityView::Mode SensitivityView::mode() const
{
    return d_->mode;
}

void SensitivityView::setBarsColumn(int column)
{
    d_->barsColumn = column;
    d_->updateBars();
}

bool SensitivityView::saveImage(const QString& path, QString* error) const
{
    QCoreApplication::sendPostedEvents(nullptr, QEvent::LayoutRequest);
    if (d_->mode == Mode::Bars)
        return saveWidgetImage(d_->view, path, error);

    // The whole table, not just the scrolled-to part, with its colour bar on the right.
    const HeatmapCanvas* canvas = d_->canvas;
    const ColorBar* bar = d_->colorBar;
    const QSize table = canvas->naturalSize(kMaxImageHeight);
    const int barWidth = d_->layers.isEmpty() ? 0 : bar->sizeHint().width();
    const QSize size(table.width() + barWidth, table.height());
    return ui::saveImage(path, size, palette().color(QPalette::Base),
                         [&](QPainter& p) {
                             canvas->paintTable(p, table, QRect(QPoint(0, 0), table), 0);
                             if (barWidth > 0)
                                 bar->paint(p, QRectF(table.width(), 0, barWidth, std::min(table.height(), 420)));
                         },
                         error);
}

} // namespace leger::ui
