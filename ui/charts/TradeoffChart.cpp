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

/// How the i-th compared model is drawn: a marker shape none of this model's series uses, in a
/// colour of the palette that none of its points use (the budget and floor are dashed lines).
struct ComparedLook {
    QColor ChartColors::*color;
    QScatterSeries::MarkerShape shape;
};
constexpr ComparedLook kComparedLooks[] = {
    {&ChartColors::vermillion, QScatterSeries::MarkerShapeRotatedRectangle},
    {&ChartColors::purple, QScatterSeries::MarkerShapeRectangle},
    {&ChartColors::sky, QScatterSeries::MarkerShapePentagon},
};
constexpr double kComparedSize = 10, kComparedBaseSize = 17;

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

    /// Another model's points: its presets (with the legend entry) and its uncompressed point,
    /// larger and outlined, in a series of its own (no legend entry).
    struct Compared {
        ComparisonSeries data;
        QScatterSeries* plans = nullptr;
        QScatterSeries* uncompressed = nullptr;
    };
    QVector<Compared> compared;

    QVector<QGraphicsSimpleTextItem*> labels; // the baseline's, each compared model's name, the presets'

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
    void setComparedCount(qsizetype n);
    void styleCompared(const ChartColors& c);
    /// The compared model a point belongs to, or null.
    const Compared* comparedOf(const ChartPoint* p) const;
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
    QString comparedTooltip(const ChartPoint& p, const Compared& c) const;
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
    for (const Compared& c : std::as_const(compared)) {
        c.uncompressed->replace(c.data.points.isEmpty() ? QList<QPointF>{} : QList<QPointF>{pos(c.data.points.front())});
        c.plans->replace(points(c.data.points.mid(1)));
    }

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
    for (const Compared& c : std::as_const(compared))
        for (const ChartPoint& p : c.data.points)
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
    // Each compared model named at its uncompressed point, before the presets take the room.
    for (const Compared& c : std::as_const(compared))
        if (!c.data.points.isEmpty())
            want.append({c.data.name, chart->mapToPosition(pos(c.data.points.front()), c.uncompressed)});
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
    for (const Compared& c : std::as_const(compared))
        for (qsizetype i = 0; i < c.data.points.size(); ++i)
            marker(c.data.points[i], c.plans, i == 0 ? 7 : 5); // as the baseline's and the presets

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
    for (const Compared& c : std::as_const(compared)) {
        show(c.plans, !c.data.points.isEmpty());
        show(c.uncompressed, false); // one entry per model
    }
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
    styleCompared(c);

    apply(); // the current marker, trail shades and labels depend on the palette too
}

void TradeoffChart::Private::styleCompared(const ChartColors& c)
{
    for (qsizetype i = 0; i < compared.size(); ++i) {
        const ComparedLook& look = kComparedLooks[i % std::size(kComparedLooks)];
        const QColor color = c.*look.color;
        for (QScatterSeries* s : {compared[i].plans, compared[i].uncompressed}) {
            s->setMarkerShape(look.shape);
            s->setColor(color);
        }
        compared[i].plans->setMarkerSize(kComparedSize);
        compared[i].plans->setBorderColor(c.background);
        // The uncompressed point stands out as a larger ring: hollow, so that a point of this
        // model at the same place still shows through it.
        compared[i].uncompressed->setMarkerSize(kComparedBaseSize);
        QPen ring(color, 2.5);
        ring.setCosmetic(true);
        compared[i].uncompressed->setPen(ring);
        compared[i].uncompressed->setBrush(Qt::NoBrush);
    }
}

void TradeoffChart::Private::setComparedCount(qsizetype n)
{
    if (n == compared.size())
        return;
    while (compared.size() > n) {
        for (QScatterSeries* s : {compared.back().plans, compared.back().uncompressed}) {
            chart->removeSeries(s);
            delete s;
        }
        compared.removeLast();
    }
    while (compared.size() < n) {
        Compared c;
        c.plans = new QScatterSeries;
        c.uncompressed = new QScatterSeries;
        compared.append(c);
    }
    // Drawing order (the order series were added): the other models' presets under this model's
    // points (a click restores these, and a preset of this model may sit just where another
    // model's point is); their uncompressed rings above them, hollow; the plan being edited on top.
    const auto add = [this](QXYSeries* s) {
        if (s->chart())
            chart->removeSeries(s);
        chart->addSeries(s);
        s->attachAxis(axisX);
        s->attachAxis(axisY);
    };
    for (const Compared& c : std::as_const(compared))
        add(c.plans);
    for (QXYSeries* s : std::initializer_list<QXYSeries*>{trail, frontier, presets, baseline})
        add(s);
    for (const Compared& c : std::as_const(compared))
        add(c.uncompressed);
    add(current);
    add(errorBar);
    applyPalette(); // styles the new series; a series added to the chart takes the theme's colours
}

const TradeoffChart::Private::Compared* TradeoffChart::Private::comparedOf(const ChartPoint* p) const
{
    for (const Compared& c : compared)
        if (p >= c.data.points.constData() && p < c.data.points.constData() + c.data.points.size())
            return &c;
    return nullptr;
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
        for (const Compared& c : compared)
            for (const ChartPoint& p : c.data.points)
                consider(p, c.plans);
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

QString TradeoffChart::Private::comparedTooltip(const ChartPoint& p, const Compared& c) const
{
    QString value = p.valueText;
    if (value.isEmpty()) {
        value = formatNumber(p.value);
        if (p.low != p.value || p.high != p.value)
            value += QStringLiteral(" ± ") + formatNumber((p.high - p.low) / 2);
    }
    const QLocale locale;
    QString s = QStringLiteral("<b>%1 — %2: %3, %4</b>")
                    .arg(c.data.name.toHtmlEscaped(), p.label.toHtmlEscaped(),
                         locale.formattedDataSize(std::llround(p.sizeBytes), 1, QLocale::DataSizeSIFormat),
                         value.toHtmlEscaped());
    s += QStringLiteral("<br><i>Another model, measured on the same data: not a plan of this one</i>");
    s += QString("<br>Size: %1 bytes").arg(locale.toString(static_cast<qlonglong>(std::llround(p.sizeBytes))));
    s += QString("<br>Bits per weight: %1").arg(QString::number(p.bitsPerWeight, 'f', 2));
    return s;
}

bool TradeoffChart::Private::viewportEvent(QEvent* event)
{
    switch (event->type()) {
    case QEvent::ToolTip: {
        auto* help = static_cast<QHelpEvent*>(event);
        if (const ChartPoint* p = pointAt(help->pos(), false)) {
            const Compared* c = comparedOf(p);
            QToolTip::showText(help->globalPos(), c ? comparedTooltip(*p, *c) : tooltip(*p, roleOf(p)), view);
        } else
            QToolTip::hideText();
        return true;
    }
    case QEvent::MouseMove: {
        const QPointF at = static_cast<QMouseEvent*>(event)->position();
        const bool over = !comparedOf(pointAt(at, false)) && pointAt(at, true) != nullptr;
        view->viewport()->setCursor(over ? Qt::PointingHandCursor : Qt::ArrowCursor);
        return false;
    }
    case QEvent::MouseButtonRelease: {
        auto* mouse = static_cast<QMouseEvent*>(event);
        if (mouse->button() == Qt::LeftButton) {
            flush(); // pick among what is on screen
            // Another model's point is not a plan of this one: a click on it does nothing (and
            // does not fall through to a plan of this model nearby).
            if (comparedOf(pointAt(mouse->position(), false)))
                return false;
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
    d_->chart->legend()->setShowToolTips(true); // an entry shortened to fit says itself in full
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

void TradeoffChart::setComparisons(const QVector<ComparisonSeries>& models)
{
    d_->setComparedCount(models.size());
    for (qsizetype i = 0; i < models.size(); ++i) {
        Private::Compared& c = d_->compared[i];
        c.data = models[i];
        for (ChartPoint& p : c.data.points)
            p.id = -1; // never restored: they are not plans of this model
        c.plans->setName(QStringLiteral("%1 (other model)").arg(c.data.name));
        c.uncompressed->setName(QStringLiteral("%1 uncompressed").arg(c.data.name));
    }
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

void TradeoffChart::setLegendAlignment(Qt::Alignment alignment)
{
    d_->chart->legend()->setAlignment(alignment);
}

QByteArray TradeoffChart::image(const QString& format) const
{
    // A chart never shown (a report's) has not laid its view out: give it the chart's size.
    if (!isVisible())
        d_->view->resize(size());
    d_->flush();
    // The legend makes its markers anew on posted events: hide the ones that must not show again.
    d_->updateLegend();
    QCoreApplication::sendPostedEvents(nullptr, QEvent::LayoutRequest);
    return widgetImage(d_->view, format);
}

bool TradeoffChart::saveImage(const QString& path, QString* error) const
{
    d_->flush();
    return saveWidgetImage(d_->view, path, error);
}

} // namespace leger::ui
