#include "charts/TradeoffChart.h"

#include <QChart>
#include <QChartView>
#include <QCoreApplication>
#include <QEvent>
#include <QGraphicsSimpleTextItem>
#include <QHelpEvent>
#include <QLegend>
#include <QLegendMarker>
#include <QLineSeries>
#include <QLocale>
#include <QMouseEvent>
#include <QScatterSeries>
#include <QTimer>
#include <QToolTip>
#include <QVBoxLayout>
#include <QCategoryAxis>
#include <algorithm>
#include <cmath>
#include <limits>

#include "charts/ChartStyle.h"
#include "charts/EventHook.h"
#include "charts/ImageExport.h"
#include "charts/NiceScale.h"

namespace leger::ui {

namespace {

constexpr int kRedrawMs = 40;         // at most 25 redraws per second
constexpr double kPickRadius = 8.0;   // pixels around a point that still select it
constexpr double kMarginFraction = 0.05;
// A range is kept while the data fills at least this share of it; below, the axes zoom in.
constexpr double kMinFill = 0.35;

struct Bounds {
    double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin;
    double ymin = xmin, ymax = -xmin;
    bool hasX() const { return xmin <= xmax; }
    bool hasY() const { return ymin <= ymax; }
    void addX(double x)
    {
        if (std::isfinite(x)) {
            xmin = std::min(xmin, x);
            xmax = std::max(xmax, x);
        }
    }
    void addY(double y)
    {
        if (std::isfinite(y)) {
            ymin = std::min(ymin, y);
            ymax = std::max(ymax, y);
        }
    }
};

QString formatNumber(double v)
{
    return QString::number(v, 'g', 4);
}

} // namespace

struct TradeoffChart::Private {
    TradeoffChart* q = nullptr;
    QChart* chart = nullptr;
    QChartView* view = nullptr;
    QCategoryAxis* axisX = nullptr;
    QCategoryAxis* axisY = nullptr;

    // In drawing order (Qt Charts draws series in the order they were added).
    QLineSeries* budget = nullptr;
    QLineSeries* floor = nullptr;
    QScatterSeries* trail = nullptr;
    QLineSeries* frontier = nullptr;
    QScatterSeries* presets = nullptr;
    QScatterSeries* baseline = nullptr;
    QScatterSeries* current = nullptr;
    QLineSeries* errorBar = nullptr;

    QVector<QGraphicsSimpleTextItem*> labels; // [0]: the baseline's, then one per preset

    XAxis xAxis = XAxis::Megabytes;
    std::optional<ChartPoint> baselinePoint, currentPoint;
    bool partial = false;
    QString currentName = QStringLiteral("Current plan");
    QVector<ChartPoint> trailPoints, frontierPoints, presetPoints;
    std::optional<double> budgetBytes, floorValue;

    QTimer redraw;
    bool rescaleAll = true; // next redraw chooses the range afresh (e.g. after an x-axis switch)
    NiceScale scaleX, scaleY;

    double x(const ChartPoint& p) const { return xAxis == XAxis::Megabytes ? p.sizeBytes / 1e6 : p.bitsPerWeight; }
    QPointF pos(const ChartPoint& p) const { return {x(p), p.value}; }

    void schedule()
    {
        if (!redraw.isActive())
            redraw.start();
    }
    /// Applies a pending redraw now, and lets the chart lay out its axes and legend for it
    /// (they do so on a posted event), e.g. before an image is saved.
    void flush()
    {
        if (redraw.isActive()) {
            redraw.stop();
            apply();
        }
        QCoreApplication::sendPostedEvents(nullptr, QEvent::LayoutRequest);
    }

    void apply();
    void rescale();
    void placeDecorations();
    void placeLabels();
    void updateLegend();
    void applyPalette();
    QString xTitle() const
    {
        return xAxis == XAxis::Megabytes ? QStringLiteral("Size (MB, 1 MB = 10\u2076 bytes)")
                                         : QStringLiteral("Bits per weight");
    }

    /// Viewport position of a data point of a series.
    QPointF viewPos(const QPointF& value, QAbstractSeries* series) const
    {
        const QPointF inChart = chart->mapToPosition(value, series);
        return view->mapFromScene(chart->mapToScene(inChart));
    }
    /// The point nearest to pos (viewport pixels) within the pick radius; clickable ones only
    /// when `clickableOnly`.
    const ChartPoint* pointAt(const QPointF& pos, bool clickableOnly) const;
    QString tooltip(const ChartPoint& p, const QString& role) const;
    QString roleOf(const ChartPoint* p) const;
    bool viewportEvent(QEvent* event);
};

void TradeoffChart::Private::apply()
{
    auto points = [this](const QVector<ChartPoint>& in) {
        QList<QPointF> out;
        out.reserve(in.size());
        for (const ChartPoint& p : in)
            out.append(pos(p));
        return out;
    };

    baseline->replace(baselinePoint ? QList<QPointF>{pos(*baselinePoint)} : QList<QPointF>{});
    current->replace(currentPoint ? QList<QPointF>{pos(*currentPoint)} : QList<QPointF>{});
    trail->replace(points(trailPoints));
    presets->replace(points(presetPoints));

    QList<QPointF> front = points(frontierPoints);
    std::sort(front.begin(), front.end(), [](const QPointF& a, const QPointF& b) { return a.x() < b.x(); });
    frontier->replace(front);

    // Older trail points fainter: the trail is given oldest first.
    const ChartColors colors = ChartColors::of(q->palette());
    QHash<int, QHash<QXYSeries::PointConfiguration, QVariant>> fade;
    const qsizetype n = trailPoints.size();
    for (qsizetype i = 0; i < n; ++i) {
        QColor c = colors.muted;
        c.setAlphaF(static_cast<float>(0.25 + 0.65 * static_cast<double>(i + 1) / static_cast<double>(n)));
        fade[static_cast<int>(i)][QXYSeries::PointConfiguration::Color] = c;
    }
    trail->setPointsConfiguration(fade);

    QColor currentColor = colors.blue;
    current->setColor(currentColor);
    current->setBrush(partial ? QBrush(colors.background) : QBrush(currentColor));
    current->setBorderColor(currentColor);
    QPen currentPen(currentColor, partial ? 2.0 : 1.0);
    current->setPen(currentPen);

    rescale();
    placeDecorations();
    updateLegend();
}

void TradeoffChart::Private::rescale()
{
    Bounds b;
    auto add = [&](const ChartPoint& p, bool interval) {
        b.addX(x(p));
        b.addY(p.value);
        if (interval) {
            b.addY(p.low);
            b.addY(p.high);
        }
    };
    if (baselinePoint)
        add(*baselinePoint, false);
    if (currentPoint)
        add(*currentPoint, true);
    for (const auto* list : {&trailPoints, &frontierPoints, &presetPoints})
        for (const ChartPoint& p : *list)
            add(p, false);
    if (budgetBytes && xAxis == XAxis::Megabytes)
        b.addX(*budgetBytes / 1e6);
    if (floorValue)
        b.addY(*floorValue);
    if (!b.hasX() || !b.hasY())
        return; // nothing to show: keep the axes where they are

    // Sizes and bits start at zero so that the eye reads ratios right.
    b.xmin = std::min(b.xmin, 0.0);

    auto choose = [this](double lo, double hi, const NiceScale& now, bool fromZero) {
        const double span = hi - lo;
        const double pad = span > 0 ? span * kMarginFraction : std::max(std::abs(hi) * kMarginFraction, 1e-9);
        const double plo = fromZero && lo >= 0 ? lo : lo - pad;
        const double phi = hi + pad;
        const bool inside = now.contains(lo, hi);
        const bool fillsEnough = (phi - plo) >= kMinFill * (now.max - now.min);
        if (!rescaleAll && inside && fillsEnough)
            return now; // stable: a partial result moving inside the range does not move the axes
        return NiceScale::fit(plo, phi, 6);
    };
    const NiceScale nx = choose(b.xmin, b.xmax, scaleX, true);
    const NiceScale ny = choose(b.ymin, b.ymax, scaleY, false);
    rescaleAll = false;
    if (nx.min != scaleX.min || nx.max != scaleX.max || nx.step != scaleX.step || axisX->min() != nx.min
        || axisX->max() != nx.max) {
        scaleX = nx;
        applyNiceScale(axisX, scaleX);
    }
    if (ny.min != scaleY.min || ny.max != scaleY.max || ny.step != scaleY.step || axisY->min() != ny.min
        || axisY->max() != ny.max) {
        scaleY = ny;
        applyNiceScale(axisY, scaleY);
    }
}

void TradeoffChart::Private::placeDecorations()
{
    // Error bar: one polyline (cap, stem, cap) so that it stays a single series; the caps'
    // half-width is a few pixels whatever the zoom.
    const QRectF plot = chart->plotArea();
    const double xSpan = axisX->max() - axisX->min();
    const double cap = plot.width() > 100 ? 4.0 * xSpan / plot.width() : xSpan * 0.01; // not laid out yet
    if (currentPoint) {
        const double cx = x(*currentPoint), lo = currentPoint->low, hi = currentPoint->high;
        errorBar->replace({{cx - cap, hi}, {cx + cap, hi}, {cx, hi}, {cx, lo}, {cx - cap, lo}, {cx + cap, lo}});
    } else {
        errorBar->replace(QList<QPointF>{});
    }

    if (budgetBytes && xAxis == XAxis::Megabytes) {
        const double bx = *budgetBytes / 1e6;
        budget->replace({{bx, axisY->min()}, {bx, axisY->max()}});
    } else {
        budget->replace(QList<QPointF>{}); // a byte budget has no exact place on a bits axis
    }
    if (floorValue)
        floor->replace({{axisX->min(), *floorValue}, {axisX->max(), *floorValue}});
    else
        floor->replace(QList<QPointF>{});

    placeLabels();
}

void TradeoffChart::Private::placeLabels()
{
    struct Want {
        QString text;
        QPointF at;
    };
    QVector<Want> want;
    if (baselinePoint)
        want.append({baselinePoint->label.isEmpty() ? QStringLiteral("baseline") : baselinePoint->label,
                     chart->mapToPosition(pos(*baselinePoint), baseline)});
    for (const ChartPoint& p : std::as_const(presetPoints))
        if (!p.label.isEmpty())
            want.append({p.label, chart->mapToPosition(pos(p), presets)});

    while (labels.size() < want.size()) {
        auto* item = new QGraphicsSimpleTextItem(chart);
        item->setZValue(20);
        labels.append(item);
    }
    const ChartColors colors = ChartColors::of(q->palette());
    QFont font = chart->legend()->font();
    const QRectF plot = chart->plotArea();

    // Greedy placement: right, above, left, below the marker; the first spot inside the plot
    // that overlaps no label placed so far and no marker wins, else the label is left out
    // (the tooltip still names the point).
    QVector<QRectF> taken;
    const auto marker = [&](const ChartPoint& p, QAbstractSeries* s, double r) {
        taken.append(QRectF(chart->mapToPosition(pos(p), s) - QPointF(r, r), QSizeF(2 * r, 2 * r)));
    };
    if (baselinePoint)
        marker(*baselinePoint, baseline, 7);
    if (currentPoint)
        marker(*currentPoint, current, 6);
    for (const ChartPoint& p : std::as_const(presetPoints))
        marker(p, presets, 5);
    for (const ChartPoint& p : std::as_const(frontierPoints))
        marker(p, frontier, 3);
    for (const ChartPoint& p : std::as_const(trailPoints))
        marker(p, trail, 3);

    for (qsizetype i = 0; i < labels.size(); ++i) {
        QGraphicsSimpleTextItem* item = labels[i];
        if (i >= want.size() || !plot.contains(want[i].at)) {
            item->setVisible(false);
            continue;
        }
        item->setFont(font);
        item->setBrush(colors.text);
        item->setText(want[i].text);
        const QSizeF s = item->boundingRect().size();
        const QPointF p = want[i].at;
        constexpr double gap = 7;
        const QPointF candidates[] = {{p.x() + gap, p.y() - s.height() / 2},
                                      {p.x() - s.width() / 2, p.y() - gap - s.height()},
                                      {p.x() - gap - s.width(), p.y() - s.height() / 2},
                                      {p.x() - s.width() / 2, p.y() + gap},
                                      {p.x() + gap * 0.7, p.y() - gap * 0.7 - s.height()},
                                      {p.x() + gap * 0.7, p.y() + gap * 0.7},
                                      {p.x() - gap * 0.7 - s.width(), p.y() - gap * 0.7 - s.height()},
                                      {p.x() - gap * 0.7 - s.width(), p.y() + gap * 0.7}};
        bool placed = false;
        for (const QPointF& c : candidates) {
            const QRectF r(c, s);
            if (!plot.contains(r))
                continue;
            if (std::any_of(taken.begin(), taken.end(), [&](const QRectF& t) { return t.intersects(r); }))
                continue;
            item->setPos(c);
            taken.append(r);
            placed = true;
            break;
        }
        item->setVisible(placed);
    }
}

void TradeoffChart::Private::updateLegend()
{
    bool changed = false;
    const auto show = [this, &changed](QAbstractSeries* s, bool visible) {
        for (QLegendMarker* m : chart->legend()->markers(s))
            if (m->isVisible() != visible) {
                m->setVisible(visible);
                changed = true;
            }
    };
    show(errorBar, false);
    show(baseline, baselinePoint.has_value());
    show(current, currentPoint.has_value());
    show(trail, !trailPoints.isEmpty());
    show(frontier, !frontierPoints.isEmpty());
    show(presets, !presetPoints.isEmpty());
    show(budget, budgetBytes.has_value() && xAxis == XAxis::Megabytes);
    show(floor, floorValue.has_value());
    current->setName(partial ? currentName + QStringLiteral(" (refining)") : currentName);
    // Qt Charts 6.4 does not lay the legend out again when a marker becomes visible (it is drawn
    // without its text, or outside the legend): hiding and showing the legend does.
    if (changed) {
        chart->legend()->hide();
        chart->legend()->show();
    }
}

void TradeoffChart::Private::applyPalette()
{
    applyChartPalette(chart, q->palette());
    const ChartColors c = ChartColors::of(q->palette());

    QPen dashed(c.vermillion, 1.5, Qt::DashLine);
    dashed.setCosmetic(true);
    budget->setPen(dashed);
    dashed.setColor(c.purple);
    floor->setPen(dashed);

    trail->setColor(c.muted);
    trail->setBorderColor(Qt::transparent);

    QPen frontierPen(c.orange, 2);
    frontierPen.setCosmetic(true);
    frontier->setPen(frontierPen);
    frontier->setColor(c.orange);

    presets->setColor(c.green);
    presets->setBorderColor(c.background);
    baseline->setColor(c.text);
    baseline->setBorderColor(c.text);

    QPen barPen(c.blue, 1.5);
    barPen.setCosmetic(true);
    errorBar->setPen(barPen);

    apply(); // the current marker, trail shades and labels depend on the palette too
}

QString TradeoffChart::Private::roleOf(const ChartPoint* p) const
{
    if (baselinePoint && p == &*baselinePoint)
        return "Baseline";
    if (currentPoint && p == &*currentPoint)
        return partial ? currentName + " (still refining)" : currentName;
    if (p >= frontierPoints.constData() && p < frontierPoints.constData() + frontierPoints.size())
        return "Frontier";
    if (p >= presetPoints.constData() && p < presetPoints.constData() + presetPoints.size())
        return "Preset";
    return "Evaluated plan";
}

const ChartPoint* TradeoffChart::Private::pointAt(const QPointF& at, bool clickableOnly) const
{
    const ChartPoint* best = nullptr;
    double bestDist = kPickRadius;
    auto consider = [&](const ChartPoint& p, QAbstractSeries* series) {
        if (clickableOnly && p.id < 0)
            return;
        const double d = QLineF(viewPos(pos(p), series), at).length();
        if (d <= bestDist) {
            bestDist = d;
            best = &p;
        }
    };
    for (const ChartPoint& p : trailPoints)
        consider(p, trail);
    for (const ChartPoint& p : frontierPoints)
        consider(p, frontier);
    for (const ChartPoint& p : presetPoints)
        consider(p, presets);
    if (!clickableOnly) {
        if (baselinePoint)
            consider(*baselinePoint, baseline);
        if (currentPoint)
            consider(*currentPoint, current);
    }
    return best;
}

QString TradeoffChart::Private::tooltip(const ChartPoint& p, const QString& role) const
{
    QString s = QString("<b>%1</b>").arg((p.label.isEmpty() ? role : p.label).toHtmlEscaped());
    if (!p.label.isEmpty())
        s += QString(" <i>(%1)</i>").arg(role.toHtmlEscaped());
    s += QString("<br>Size: %1 MB (%2 bytes)")
             .arg(formatNumber(p.sizeBytes / 1e6), QLocale().toString(static_cast<qlonglong>(std::llround(p.sizeBytes))));
    s += QString("<br>Bits per weight: %1").arg(QString::number(p.bitsPerWeight, 'f', 2));
    const QString metric = axisY->titleText().isEmpty() ? QStringLiteral("Value") : axisY->titleText();
    s += QString("<br>%1: %2").arg(metric.toHtmlEscaped(), formatNumber(p.value));
    if (p.low != p.value || p.high != p.value)
        s += QString(" [%1, %2] (95 %)").arg(formatNumber(p.low), formatNumber(p.high));
    return s;
}

bool TradeoffChart::Private::viewportEvent(QEvent* event)
{
    switch (event->type()) {
    case QEvent::ToolTip: {
        auto* help = static_cast<QHelpEvent*>(event);
        if (const ChartPoint* p = pointAt(help->pos(), false))
            QToolTip::showText(help->globalPos(), tooltip(*p, roleOf(p)), view);
        else
            QToolTip::hideText();
        return true;
    }
    case QEvent::MouseMove: {
        const bool over = pointAt(static_cast<QMouseEvent*>(event)->position(), true) != nullptr;
        view->viewport()->setCursor(over ? Qt::PointingHandCursor : Qt::ArrowCursor);
        return false;
    }
    case QEvent::MouseButtonRelease: {
        auto* mouse = static_cast<QMouseEvent*>(event);
        if (mouse->button() == Qt::LeftButton) {
            flush(); // pick among what is on screen
            if (const ChartPoint* p = pointAt(mouse->position(), true))
                emit q->pointClicked(p->id);
        }
        return false;
    }
    default:
        return false;
    }
}

TradeoffChart::TradeoffChart(QWidget* parent)
    : QWidget(parent), d_(std::make_unique<Private>())
{
    d_->q = this;
    d_->chart = new QChart;
    d_->chart->legend()->setAlignment(Qt::AlignBottom);
    d_->chart->legend()->setMarkerShape(QLegend::MarkerShapeFromSeries);
    d_->view = makeChartView(d_->chart);
    d_->view->setMinimumSize(360, 260);

    d_->axisX = makeValueAxis();
    d_->axisY = makeValueAxis();
    d_->axisX->setTitleText(d_->xTitle());
    d_->chart->addAxis(d_->axisX, Qt::AlignBottom);
    d_->chart->addAxis(d_->axisY, Qt::AlignLeft);

    auto scatter = [](const QString& name, QScatterSeries::MarkerShape shape, double size) {
        auto* s = new QScatterSeries;
        s->setName(name);
        s->setMarkerShape(shape);
        s->setMarkerSize(size);
        return s;
    };
    auto line = [](const QString& name) {
        auto* s = new QLineSeries;
        s->setName(name);
        return s;
    };
    d_->budget = line("Size budget");
    d_->floor = line("Quality floor");
    d_->trail = scatter("Evaluated plans", QScatterSeries::MarkerShapeCircle, 7);
    d_->frontier = line("Frontier");
    d_->frontier->setPointsVisible(true);
    d_->frontier->setMarkerSize(5);
    d_->presets = scatter("Presets", QScatterSeries::MarkerShapeTriangle, 11);
    d_->baseline = scatter("Baseline", QScatterSeries::MarkerShapeStar, 16);
    d_->errorBar = line("Interval (95 %)");
    d_->current = scatter("Current plan", QScatterSeries::MarkerShapeCircle, 11);
    // The error bar above the current marker: a complete result's interval may be shorter
    // than the marker, and its caps must still show.
    for (QXYSeries* s : std::initializer_list<QXYSeries*>{d_->budget, d_->floor, d_->trail, d_->frontier, d_->presets,
                                                          d_->baseline, d_->current, d_->errorBar}) {
        d_->chart->addSeries(s);
        s->attachAxis(d_->axisX);
        s->attachAxis(d_->axisY);
    }
    applyNiceScale(d_->axisX, d_->scaleX);
    applyNiceScale(d_->axisY, d_->scaleY);

    d_->redraw.setSingleShot(true);
    d_->redraw.setInterval(kRedrawMs);
    connect(&d_->redraw, &QTimer::timeout, this, [this] { d_->apply(); });
    // The caps, lines and labels are placed in pixels: follow the plot area when it moves.
    connect(d_->chart, &QChart::plotAreaChanged, this, [this] { d_->placeDecorations(); });

    d_->view->viewport()->setMouseTracking(true);
    new EventHook(d_->view->viewport(), [this](QEvent* e) { return d_->viewportEvent(e); });
    // Deferred: when the application palette changes, the widget's own is updated after the
    // event reaches it.
    new EventHook(this, [this](QEvent* e) {
        if (EventHook::isPaletteChange(e))
            QMetaObject::invokeMethod(this, [this] { d_->applyPalette(); }, Qt::QueuedConnection);
        return false;
    });

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(d_->view);
    d_->applyPalette();
}

TradeoffChart::~TradeoffChart() = default;

void TradeoffChart::setMetricTitle(const QString& title)
{
    d_->axisY->setTitleText(title);
}

void TradeoffChart::setXAxis(XAxis axis)
{
    if (axis == d_->xAxis)
        return;
    d_->xAxis = axis;
    d_->axisX->setTitleText(d_->xTitle());
    d_->rescaleAll = true;
    d_->schedule();
}

TradeoffChart::XAxis TradeoffChart::xAxis() const
{
    return d_->xAxis;
}

void TradeoffChart::setBaseline(std::optional<ChartPoint> p)
{
    d_->baselinePoint = std::move(p);
    d_->schedule();
}

void TradeoffChart::setCurrent(std::optional<ChartPoint> p, bool partial)
{
    d_->currentPoint = std::move(p);
    d_->partial = partial;
    d_->schedule();
}

void TradeoffChart::setTrail(const QVector<ChartPoint>& points)
{
    d_->trailPoints = points;
    d_->schedule();
}

void TradeoffChart::setFrontier(const QVector<ChartPoint>& points)
{
    d_->frontierPoints = points;
    d_->schedule();
}

void TradeoffChart::setPresets(const QVector<ChartPoint>& points)
{
    d_->presetPoints = points;
    d_->schedule();
}

void TradeoffChart::setBudget(std::optional<double> bytes)
{
    d_->budgetBytes = bytes;
    d_->schedule();
}

void TradeoffChart::setFloor(std::optional<double> value)
{
    d_->floorValue = value;
    d_->schedule();
}

void TradeoffChart::setCurrentName(const QString& name)
{
    d_->currentName = name;
    d_->current->setName(name);
    d_->schedule();
}

QByteArray TradeoffChart::image(const QString& format) const
{
    // A chart never shown (a report's) has not laid its view out: give it the chart's size.
    if (!isVisible())
        d_->view->resize(size());
    d_->flush();
    return widgetImage(d_->view, format);
}

bool TradeoffChart::saveImage(const QString& path, QString* error) const
{
    d_->flush();
    return saveWidgetImage(d_->view, path, error);
}

} // namespace leger::ui
