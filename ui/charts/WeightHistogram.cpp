#include "charts/WeightHistogram.h"

#include <QAreaSeries>
#include <QCategoryAxis>
#include <QChart>
#include <QChartView>
#include <QCheckBox>
#include <QCoreApplication>
#include <QLegend>
#include <QLineSeries>
#include <QLocale>
#include <QLogValueAxis>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "charts/ChartStyle.h"
#include "charts/EventHook.h"
#include "charts/ImageExport.h"
#include "charts/NiceScale.h"

namespace leger::ui {

namespace {
constexpr int kBins = 100;
constexpr double kLogFloor = 0.5; // where bars start on a log axis (a count of 0 has no place)
} // namespace

struct WeightHistogram::Private {
    WeightHistogram* q = nullptr;
    QChart* chart = nullptr;
    QChartView* view = nullptr;
    QCheckBox* logBox = nullptr;

    // before: the original's outline over a light fill; after: bars. Each area series fills
    // between its upper line and a baseline.
    QLineSeries* beforeUpper = nullptr;
    QLineSeries* beforeLower = nullptr;
    QAreaSeries* before = nullptr;
    QLineSeries* afterUpper = nullptr;
    QLineSeries* afterLower = nullptr;
    QAreaSeries* after = nullptr;
    QCategoryAxis* axisX = nullptr;
    QCategoryAxis* levelAxis = nullptr; // no labels: its grid lines are the levels
    QCategoryAxis* linearY = nullptr;
    QLogValueAxis* logY = nullptr;
    QAbstractAxis* axisY = nullptr;     // the one in use

    // The data, kept for the log toggle.
    double lo = 0, width = 1;
    std::vector<double> countsBefore, countsAfter; // kBins each
    std::vector<float> levels;

    void fill();
    void setLog(bool log);
    void applyPalette();
};

void WeightHistogram::Private::fill()
{
    const bool log = logBox->isChecked();
    const double base = log ? kLogFloor : 0.0;
    QList<QPointF> outline, barsPath;
    double maxCount = 0;
    if (!countsBefore.empty()) {
        const double first = lo, last = lo + width * kBins;
        // The original as a step outline: up and across each bin.
        outline.reserve(2 * kBins + 2);
        outline.append({first, base});
        for (int b = 0; b < kBins; ++b) {
            const double c = std::max(countsBefore[static_cast<std::size_t>(b)], base);
            outline.append({lo + b * width, c});
            outline.append({lo + (b + 1) * width, c});
            maxCount = std::max(maxCount, countsBefore[static_cast<std::size_t>(b)]);
        }
        outline.append({last, base});
        // The compressed weights as separate bars (a comb along the baseline).
        const double gap = width * 0.12;
        barsPath.append({first, base});
        for (int b = 0; b < kBins; ++b) {
            const double c = countsAfter[static_cast<std::size_t>(b)];
            maxCount = std::max(maxCount, c);
            if (c <= 0)
                continue;
            const double l = lo + b * width + gap, r = lo + (b + 1) * width - gap;
            barsPath.append({{l, base}, {l, std::max(c, base)}, {r, std::max(c, base)}, {r, base}});
        }
        barsPath.append({last, base});
        beforeLower->replace({{first, base}, {last, base}});
        afterLower->replace({{first, base}, {last, base}});
    } else {
        beforeLower->replace(QList<QPointF>{});
        afterLower->replace(QList<QPointF>{});
    }
    beforeUpper->replace(outline);
    afterUpper->replace(barsPath);

    // x: the bins, widened to show every level.
    double xmin = lo, xmax = lo + width * kBins;
    for (float l : levels) {
        xmin = std::min(xmin, double(l));
        xmax = std::max(xmax, double(l));
    }
    const double pad = (xmax - xmin) * 0.02;
    applyNiceScale(axisX, NiceScale::fit(xmin - pad, xmax + pad, 8), xmin - pad, xmax + pad);

    // The level lines: category boundaries at each level (sorted, distinct).
    const QStringList old = levelAxis->categoriesLabels();
    for (const QString& label : old)
        levelAxis->remove(label);
    std::vector<float> sorted = levels;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    if (!sorted.empty()) {
        levelAxis->setStartValue(sorted.front());
        for (std::size_t i = 1; i < sorted.size(); ++i)
            levelAxis->append(QString("level %1").arg(i), sorted[i]);
    }
    levelAxis->setRange(xmin - pad, xmax + pad);
    levelAxis->setVisible(!sorted.empty()); // an empty category axis still draws stale lines

    if (!axisY)
        return;
    if (log) {
        auto* y = static_cast<QLogValueAxis*>(axisY);
        y->setRange(kLogFloor, std::max(10.0, std::pow(10.0, std::ceil(std::log10(std::max(maxCount, 1.0)) + 0.05))));
    } else {
        applyNiceScale(linearY, NiceScale::fit(0, std::max(maxCount, 1.0), 5));
    }
}

void WeightHistogram::Private::setLog(bool log)
{
    // Both axes live in the chart for good; the series move to the one in use and the other
    // hides (an axis removed from a chart leaves its items until the event loop runs).
    QAbstractAxis* from = log ? static_cast<QAbstractAxis*>(linearY) : logY;
    QAbstractAxis* to = log ? static_cast<QAbstractAxis*>(logY) : linearY;
    if (log) {
        // The data on its new baseline first, and no zero in the range the series' domain
        // carries over: a log axis rejects both.
        axisY = nullptr;
        fill();
        linearY->setRange(kLogFloor, std::max(linearY->max(), 10.0));
    }
    // Going back, the data keep their positive baseline until the linear axis is attached.
    before->detachAxis(from);
    after->detachAxis(from);
    from->setVisible(false);
    to->setVisible(true);
    before->attachAxis(to);
    after->attachAxis(to);
    axisY = to;
    fill();
}

void WeightHistogram::Private::applyPalette()
{
    applyChartPalette(chart, q->palette());
    const ChartColors c = ChartColors::of(q->palette());
    QColor fillBefore = c.muted;
    fillBefore.setAlphaF(0.22f);
    QPen outline(c.text, 1.2);
    outline.setCosmetic(true);
    before->setPen(outline);
    before->setBrush(fillBefore);
    QColor bar = c.blue;
    bar.setAlphaF(0.85f);
    after->setPen(Qt::NoPen);
    after->setBrush(bar);
    after->setColor(bar);
    QColor level = c.vermillion;
    level.setAlphaF(0.55f);
    QPen levelPen(level, 1);
    levelPen.setCosmetic(true);
    levelAxis->setGridLinePen(levelPen);
    levelAxis->setLineVisible(false);
    levelAxis->setLabelsVisible(false);
}

WeightHistogram::WeightHistogram(QWidget* parent)
    : QWidget(parent), d_(std::make_unique<Private>())
{
    d_->q = this;
    d_->chart = new QChart;
    d_->chart->legend()->setAlignment(Qt::AlignRight);
    d_->view = makeChartView(d_->chart);
    d_->view->setMinimumSize(360, 240);

    d_->beforeUpper = new QLineSeries(d_->chart);
    d_->beforeLower = new QLineSeries(d_->chart);
    d_->afterUpper = new QLineSeries(d_->chart);
    d_->afterLower = new QLineSeries(d_->chart);
    d_->after = new QAreaSeries(d_->afterUpper, d_->afterLower);
    d_->after->setName(QStringLiteral("Compressed"));
    d_->before = new QAreaSeries(d_->beforeUpper, d_->beforeLower);
    d_->before->setName(QStringLiteral("Original"));
    d_->chart->addSeries(d_->after);  // bars below,
    d_->chart->addSeries(d_->before); // the original's outline on top

    d_->axisX = makeValueAxis();
    d_->axisX->setTitleText(QStringLiteral("Weight value"));
    d_->levelAxis = new QCategoryAxis;
    d_->levelAxis->setLabelsPosition(QCategoryAxis::AxisLabelsPositionOnValue);
    d_->chart->addAxis(d_->axisX, Qt::AlignBottom);
    d_->chart->addAxis(d_->levelAxis, Qt::AlignTop);
    for (QAbstractSeries* s : {static_cast<QAbstractSeries*>(d_->after), static_cast<QAbstractSeries*>(d_->before)}) {
        s->attachAxis(d_->axisX);
        s->attachAxis(d_->levelAxis);
    }

    d_->linearY = makeValueAxis();
    d_->linearY->setTitleText(QStringLiteral("Weights per bin"));
    d_->logY = new QLogValueAxis;
    d_->logY->setBase(10);
    d_->logY->setLabelFormat("%g");
    d_->logY->setMinorTickCount(0);
    d_->logY->setTitleText(QStringLiteral("Weights per bin (log scale)"));
    d_->logY->setRange(kLogFloor, 10);
    d_->logY->setVisible(false);
    d_->chart->addAxis(d_->linearY, Qt::AlignLeft);
    d_->chart->addAxis(d_->logY, Qt::AlignLeft);
    d_->axisY = d_->linearY;
    d_->after->attachAxis(d_->linearY);
    d_->before->attachAxis(d_->linearY);

    d_->logBox = new QCheckBox(tr("Log scale for counts"));
    connect(d_->logBox, &QCheckBox::toggled, this, [this](bool on) { d_->setLog(on); });

    new EventHook(this, [this](QEvent* e) {
        if (EventHook::isPaletteChange(e))
            QMetaObject::invokeMethod(this, [this] { d_->applyPalette(); }, Qt::QueuedConnection);
        // Qt Charts elides category labels laid out while the widget was hidden (e.g. in a tab
        // not shown yet) and keeps them elided: lay the labels out afresh when it shows.
        if (e->type() == QEvent::Show)
            QMetaObject::invokeMethod(this, [this] {
                for (const QString& label : d_->axisX->categoriesLabels())
                    d_->axisX->remove(label);
                d_->fill();
            }, Qt::QueuedConnection);
        return false;
    });

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addWidget(d_->view, 1);
    layout->addWidget(d_->logBox, 0, Qt::AlignRight);
    d_->applyPalette();
    setWeights({}, {}, {}, {}, {});
}

WeightHistogram::~WeightHistogram() = default;

void WeightHistogram::setWeights(const QString& layer, const std::vector<float>& original,
                                 const std::vector<float>& compressed, const std::vector<float>& levels,
                                 const QString& levelsOf)
{
    d_->countsBefore.clear();
    d_->countsAfter.clear();
    d_->levels.clear();
    std::int64_t skippedBefore = 0, skippedAfter = 0, finite = 0;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (float v : original) {
        if (!std::isfinite(v)) {
            ++skippedBefore;
            continue;
        }
        ++finite;
        lo = std::min(lo, double(v));
        hi = std::max(hi, double(v));
    }
    if (finite == 0) {
        d_->lo = 0;
        d_->width = 1.0 / kBins;
        d_->axisX->setTitleText(QStringLiteral("Weight value"));
        d_->chart->setTitle(original.empty() ? QStringLiteral("No layer selected")
                                             : QString("%1: no finite weights (%2 NaN/Inf)").arg(layer).arg(skippedBefore));
        d_->fill();
        return;
    }
    if (hi <= lo) {
        // A constant weight: one bin's worth of range around it.
        const double pad = lo == 0 ? 1e-3 : std::abs(lo) * 0.01;
        lo -= pad;
        hi += pad;
    }
    d_->lo = lo;
    d_->width = (hi - lo) / kBins;
    d_->countsBefore.assign(kBins, 0.0);
    d_->countsAfter.assign(kBins, 0.0);
    const auto bin = [&](float v) {
        // The top edge belongs to the last bin; compressed values just outside the original's
        // range (rounding of a float16 scale) count in the edge bins.
        const auto b = static_cast<std::int64_t>(std::floor((double(v) - d_->lo) / d_->width));
        return static_cast<std::size_t>(std::clamp<std::int64_t>(b, 0, kBins - 1));
    };
    for (float v : original)
        if (std::isfinite(v))
            d_->countsBefore[bin(v)] += 1;
    for (float v : compressed) {
        if (!std::isfinite(v)) {
            ++skippedAfter;
            continue;
        }
        d_->countsAfter[bin(v)] += 1;
    }
    for (float l : levels)
        if (std::isfinite(l))
            d_->levels.push_back(l);

    QString title = QString("%1: %2 weights").arg(layer, QLocale().toString(static_cast<qlonglong>(original.size())));
    if (skippedBefore > 0 || skippedAfter > 0) {
        title += skippedBefore == skippedAfter
                     ? QString(", %1 NaN/Inf skipped").arg(skippedBefore)
                     : QString(", NaN/Inf skipped: %1 original, %2 compressed").arg(skippedBefore).arg(skippedAfter);
    }
    d_->chart->setTitle(title);
    d_->axisX->setTitleText(d_->levels.empty() ? QStringLiteral("Weight value")
                                               : QString("Weight value (thin lines: the %1 levels of %2)")
                                                     .arg(d_->levels.size())
                                                     .arg(levelsOf.isEmpty() ? QStringLiteral("the quantizer") : levelsOf));
    d_->fill();
}

bool WeightHistogram::saveImage(const QString& path, QString* error) const
{
    QCoreApplication::sendPostedEvents(nullptr, QEvent::LayoutRequest);
    return saveWidgetImage(d_->view, path, error);
}

} // namespace leger::ui
