// The chart widgets fed with data computed from the bundled sample (ChartSampleData): what they
// draw is checked through their Qt Charts children, clicks through real mouse events at the
// points' mapped positions, images by loading what saveImage wrote.
#include <QAreaSeries>
#include <QBarCategoryAxis>
#include <QBarSet>
#include <QCategoryAxis>
#include <QChart>
#include <QChartView>
#include <QCheckBox>
#include <QElapsedTimer>
#include <QHorizontalBarSeries>
#include <QHorizontalStackedBarSeries>
#include <QImage>
#include <QGraphicsSimpleTextItem>
#include <QLegend>
#include <QLegendMarker>
#include <QLineSeries>
#include <QScatterSeries>
#include <QScrollArea>
#include <QScrollBar>
#include <QTemporaryDir>
#include <QToolTip>
#include <QValueAxis>
#include <QtTest>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "ChartSampleData.h"
#include "charts/HeatmapCanvas.h"
#include "charts/LayerBytesChart.h"
#include "charts/SensitivityView.h"
#include "charts/TradeoffChart.h"
#include "charts/WeightHistogram.h"

using namespace leger::ui;

namespace {

QChart* chartOf(QWidget& w)
{
    auto* view = w.findChild<QChartView*>();
    return view ? view->chart() : nullptr;
}

template <class S> S* seriesNamed(QChart* chart, const QString& prefix)
{
    for (QAbstractSeries* s : chart->series())
        if (s->name().startsWith(prefix))
            return qobject_cast<S*>(s);
    return nullptr;
}

/// Where a data point of a series is in the view's viewport.
QPoint viewportPos(QChartView* view, const QPointF& value, QAbstractSeries* series)
{
    QChart* chart = view->chart();
    return view->mapFromScene(chart->mapToScene(chart->mapToPosition(value, series)));
}

void showSized(QWidget& w, QSize size)
{
    w.resize(size);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
}

/// Layers given so that the tests read input order from names.
QStringList categoriesOf(QChart* chart)
{
    for (QAbstractAxis* a : chart->axes(Qt::Vertical))
        if (auto* c = qobject_cast<QBarCategoryAxis*>(a))
            return c->categories();
    return {};
}

void fullTradeoff(TradeoffChart& t, const sample::ChartData& d)
{
    t.setMetricTitle("Top-1 accuracy (%)");
    t.setBaseline(d.baseline);
    t.setTrail(d.trail);
    t.setFrontier(d.frontier);
    t.setPresets(d.presets);
    t.setCurrent(d.current, false);
    t.setBudget(0.12e6);
    t.setFloor(d.baseline.value - 1.0);
}

} // namespace

class TestCharts : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();

    void tradeoffDrawsEverySeries();
    void tradeoffErrorBarNarrowsAsEvaluationRefines();
    void tradeoffAxesHoldStillForPartialResults();
    void tradeoffSwitchesToBitsPerWeight();
    void tradeoffClickEmitsPointId_data();
    void tradeoffClickEmitsPointId();
    void tradeoffFollowsDarkPalette();
    void tooltipsNameTheNumbers();
    void tradeoffDrawsComparedModels();
    void tradeoffComparedPointsAreNotPlans();

    void layerBytesStacksTheSizeReport();
    void layerBytesClickReportsInputIndex();
    void layerBytesManyLayers_data();
    void layerBytesManyLayers();

    void sensitivityHeatmapClickAndRange();
    void sensitivityBarsSortedDescending();
    void sensitivityManyLayers();

    void histogramCountsEveryFiniteWeight();
    void histogramSkipsNonFinite();
    void histogramLogToggle();

    void saveImage_data();
    void saveImage();
    void saveImageFailsNamingTheFile_data();
    void saveImageFailsNamingTheFile();

private:
    const sample::ChartData* d = nullptr;
};

void TestCharts::initTestCase()
{
    QElapsedTimer timer;
    timer.start();
    d = &sample::chartData();
    qInfo("sample data (evaluations, scan, sweep): %lld ms", static_cast<long long>(timer.elapsed()));
    QCOMPARE(d->layers.size(), 6);
    QVERIFY(!d->trail.isEmpty());
    QVERIFY(!d->frontier.isEmpty());
}

void TestCharts::tradeoffDrawsEverySeries()
{
    TradeoffChart t;
    fullTradeoff(t, *d);
    QChart* chart = chartOf(t);
    QVERIFY(chart);
    QCOMPARE(chart->series().size(), 8); // budget, floor, trail, frontier, presets, baseline, current, error bar
    auto* trail = seriesNamed<QScatterSeries>(chart, "Evaluated plans");
    auto* frontier = seriesNamed<QLineSeries>(chart, "Frontier");
    auto* presets = seriesNamed<QScatterSeries>(chart, "Presets");
    auto* baseline = seriesNamed<QScatterSeries>(chart, "Baseline");
    auto* current = seriesNamed<QScatterSeries>(chart, "Current plan");
    auto* budget = seriesNamed<QLineSeries>(chart, "Size budget");
    auto* floor = seriesNamed<QLineSeries>(chart, "Quality floor");
    QVERIFY(trail && frontier && presets && baseline && current && budget && floor);
    // Coalesced: the series follow within a redraw tick.
    QTRY_COMPARE(trail->count(), d->trail.size());
    QCOMPARE(frontier->count(), d->frontier.size());
    QCOMPARE(presets->count(), d->presets.size());
    QCOMPARE(baseline->count(), 1);
    QCOMPARE(current->count(), 1);
    QCOMPARE(baseline->at(0), QPointF(d->baseline.sizeBytes / 1e6, d->baseline.value));
    for (int i = 1; i < frontier->count(); ++i)
        QVERIFY(frontier->at(i - 1).x() <= frontier->at(i).x()); // joined in size order
    // The budget is a vertical line at its size, the floor a horizontal one at its value.
    QCOMPARE(budget->count(), 2);
    QCOMPARE(budget->at(0).x(), 0.12);
    QCOMPARE(budget->at(1).x(), 0.12);
    QCOMPARE(floor->at(0).y(), d->baseline.value - 1.0);

    // Everything lies inside the axes.
    auto* ax = qobject_cast<QValueAxis*>(chart->axes(Qt::Horizontal).value(0));
    auto* ay = qobject_cast<QValueAxis*>(chart->axes(Qt::Vertical).value(0));
    QVERIFY(ax && ay);
    for (const auto* list : {&d->trail, &d->frontier, &d->presets})
        for (const ChartPoint& p : *list) {
            QVERIFY(p.sizeBytes / 1e6 >= ax->min() && p.sizeBytes / 1e6 <= ax->max());
            QVERIFY(p.value >= ay->min() && p.value <= ay->max());
        }

    // Older trail points fainter: the trail is given oldest first.
    const auto fade = trail->pointsConfiguration();
    const auto alpha = [&](int i) { return fade.value(i).value(QXYSeries::PointConfiguration::Color).value<QColor>().alphaF(); };
    QVERIFY(alpha(0) > 0 && alpha(0) < alpha(trail->count() - 1));

    // Clearing hides them.
    t.setTrail({});
    t.setBudget(std::nullopt);
    QTRY_COMPARE(trail->count(), 0);
    QCOMPARE(budget->count(), 0);
}

void TestCharts::tradeoffErrorBarNarrowsAsEvaluationRefines()
{
    TradeoffChart t;
    t.setBaseline(d->baseline);
    QChart* chart = chartOf(t);
    auto* bar = seriesNamed<QLineSeries>(chart, "Interval");
    QVERIFY(bar);
    const auto span = [&] {
        double lo = std::numeric_limits<double>::infinity(), hi = -lo;
        for (const QPointF& p : bar->points()) {
            lo = std::min(lo, p.y());
            hi = std::max(hi, p.y());
        }
        return std::make_pair(lo, hi);
    };

    t.setCurrent(d->currentPartial, true);
    QTRY_VERIFY(bar->count() > 0);
    QCOMPARE(span().first, d->currentPartial.low);
    QCOMPARE(span().second, d->currentPartial.high);
    for (const QPointF& p : bar->points()) // the stem at the plan's size, caps around it
        QVERIFY(std::abs(p.x() - d->currentPartial.sizeBytes / 1e6) < 0.05);

    t.setCurrent(d->current, false);
    QTRY_COMPARE(span().first, d->current.low);
    QCOMPARE(span().second, d->current.high);
    // The full evaluation has ~16 times the images of its first chunk: a narrower interval.
    QVERIFY(d->current.high - d->current.low < d->currentPartial.high - d->currentPartial.low);

    t.setCurrent(std::nullopt, false);
    QTRY_COMPARE(bar->count(), 0);
}

void TestCharts::tradeoffAxesHoldStillForPartialResults()
{
    TradeoffChart t;
    fullTradeoff(t, *d);
    QChart* chart = chartOf(t);
    auto* ax = qobject_cast<QValueAxis*>(chart->axes(Qt::Horizontal).value(0));
    auto* ay = qobject_cast<QValueAxis*>(chart->axes(Qt::Vertical).value(0));
    auto* current = seriesNamed<QScatterSeries>(chart, "Current plan");
    QTRY_COMPARE(current->count(), 1);
    QTest::qWait(60);
    const QPair<double, double> x0(ax->min(), ax->max()), y0(ay->min(), ay->max());

    // A partial result moving around inside the range (as chunks arrive) leaves the axes alone.
    ChartPoint p = d->currentPartial;
    for (int i = 0; i < 10; ++i) {
        p.value = d->current.value + 0.3 * std::sin(i);
        p.low = p.value - 2.0 + 0.1 * i;
        p.high = p.value + 2.0 - 0.1 * i;
        t.setCurrent(p, true);
        QTest::qWait(45);
        QCOMPARE(ax->min(), x0.first);
        QCOMPARE(ax->max(), x0.second);
        QCOMPARE(ay->min(), y0.first);
        QCOMPARE(ay->max(), y0.second);
    }
    // Leaving the range expands it.
    p.sizeBytes = x0.second * 1e6 * 1.5;
    t.setCurrent(p, true);
    QTRY_VERIFY(ax->max() >= p.sizeBytes / 1e6);
}

void TestCharts::tradeoffSwitchesToBitsPerWeight()
{
    TradeoffChart t;
    fullTradeoff(t, *d);
    QChart* chart = chartOf(t);
    auto* trail = seriesNamed<QScatterSeries>(chart, "Evaluated plans");
    auto* budget = seriesNamed<QLineSeries>(chart, "Size budget");
    QTRY_COMPARE(trail->count(), d->trail.size());
    t.setXAxis(TradeoffChart::XAxis::BitsPerWeight);
    QCOMPARE(t.xAxis(), TradeoffChart::XAxis::BitsPerWeight);
    QTRY_COMPARE(trail->at(0).x(), d->trail[0].bitsPerWeight);
    QCOMPARE(budget->count(), 0); // a byte budget has no exact place on a bits axis
    auto* ax = qobject_cast<QValueAxis*>(chart->axes(Qt::Horizontal).value(0));
    QVERIFY(ax->max() >= d->baseline.bitsPerWeight); // rescaled to hold 32 bits
    QVERIFY(ax->titleText().contains("Bits per weight"));
}

void TestCharts::tradeoffClickEmitsPointId_data()
{
    QTest::addColumn<QString>("series");
    QTest::newRow("trail") << "Evaluated plans";
    QTest::newRow("frontier") << "Frontier";
    QTest::newRow("preset") << "Presets";
}

void TestCharts::tradeoffClickEmitsPointId()
{
    QFETCH(QString, series);
    TradeoffChart t;
    fullTradeoff(t, *d);
    showSized(t, {900, 600});
    QChart* chart = chartOf(t);
    auto* view = t.findChild<QChartView*>();
    auto* s = seriesNamed<QXYSeries>(chart, series);
    QVERIFY(s);
    QTRY_VERIFY(s->count() > 0);
    QTest::qWait(60); // axes and legend laid out

    // Every clickable point on screen, to pick one that no other point crowds.
    const QVector<ChartPoint>& points = series == "Presets" ? d->presets : series == "Frontier" ? d->frontier : d->trail;
    QVector<QPair<QPoint, int>> all;
    for (const auto& [list, name] : {std::pair{&d->trail, "Evaluated plans"}, std::pair{&d->frontier, "Frontier"},
                                     std::pair{&d->presets, "Presets"}})
        for (const ChartPoint& p : *list)
            all.append({viewportPos(view, {p.sizeBytes / 1e6, p.value}, seriesNamed<QXYSeries>(chart, name)), p.id});
    const ChartPoint* target = nullptr;
    QPoint at;
    for (const ChartPoint& p : points) {
        const QPoint pos = viewportPos(view, {p.sizeBytes / 1e6, p.value}, s);
        const bool alone = std::none_of(all.begin(), all.end(), [&](const QPair<QPoint, int>& o) {
            return o.second != p.id && (o.first - pos).manhattanLength() < 12;
        });
        if (alone && view->viewport()->rect().contains(pos)) {
            target = &p;
            at = pos;
            break;
        }
    }
    QVERIFY2(target, "no point stands apart from the others");

    QSignalSpy spy(&t, &TradeoffChart::pointClicked);
    QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, at + QPoint(2, -2)); // a few pixels off still hits
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toInt(), target->id);

    // Empty plot area: nothing.
    const QRectF plot = chart->plotArea();
    const QPoint empty = view->mapFromScene(chart->mapToScene(QPointF(plot.center().x(), plot.bottom() - 5)));
    QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, empty);
    QCOMPARE(spy.count(), 1);
}

void TestCharts::tradeoffFollowsDarkPalette()
{
    TradeoffChart t;
    fullTradeoff(t, *d);
    QPalette dark = t.palette();
    dark.setColor(QPalette::Window, QColor(0x2b, 0x2b, 0x2e));
    dark.setColor(QPalette::Base, QColor(0x1e, 0x1e, 0x20));
    dark.setColor(QPalette::Text, QColor(0xe8, 0xe8, 0xe8));
    dark.setColor(QPalette::WindowText, QColor(0xe8, 0xe8, 0xe8));
    t.setPalette(dark);
    QChart* chart = chartOf(t);
    QTRY_COMPARE(chart->theme(), QChart::ChartThemeDark);
    QCOMPARE(chart->backgroundBrush().color(), QColor(0x1e, 0x1e, 0x20));
    QCOMPARE(chart->axes(Qt::Horizontal).value(0)->labelsColor(), QColor(0xe8, 0xe8, 0xe8));

    // Another model's markers take the dark palette's lighter colours too.
    TradeoffChart light;
    light.setComparisons({d->compared});
    t.setComparisons({d->compared});
    auto* onDark = seriesNamed<QScatterSeries>(chart, "fashion_mnist_small (other model)");
    auto* onLight = seriesNamed<QScatterSeries>(chartOf(light), "fashion_mnist_small (other model)");
    QTRY_VERIFY(onDark->color() != onLight->color());
    QVERIFY(onDark->color().lightness() > onLight->color().lightness());
    QCOMPARE(onDark->borderColor(), QColor(0x1e, 0x1e, 0x20)); // outlined in the background
}

void TestCharts::tooltipsNameTheNumbers()
{
    TradeoffChart t;
    fullTradeoff(t, *d);
    t.setCurrent(d->currentPartial, true);
    showSized(t, {900, 600});
    QChart* chart = chartOf(t);
    auto* view = t.findChild<QChartView*>();
    auto* current = seriesNamed<QScatterSeries>(chart, "Current plan");
    QTRY_COMPARE(current->count(), 1);
    QTest::qWait(60);
    const QPoint at = viewportPos(view, {d->currentPartial.sizeBytes / 1e6, d->currentPartial.value}, current);
    QHelpEvent help(QEvent::ToolTip, at, view->viewport()->mapToGlobal(at));
    QCoreApplication::sendEvent(view->viewport(), &help);
    const QString tip = QToolTip::text();
    QVERIFY2(tip.contains("sample recipe") && tip.contains("still refining"), qPrintable(tip));
    QVERIFY2(tip.contains(QString::number(d->currentPartial.sizeBytes / 1e6, 'g', 4) + " MB"), qPrintable(tip));
    QVERIFY2(tip.contains("Bits per weight: " + QString::number(d->currentPartial.bitsPerWeight, 'f', 2)), qPrintable(tip));
    QVERIFY2(tip.contains(QString("[%1, %2]").arg(QString::number(d->currentPartial.low, 'g', 4),
                                                  QString::number(d->currentPartial.high, 'g', 4))),
             qPrintable(tip));
    QToolTip::hideText();

    SensitivityView v;
    v.setTable(d->layers, d->settings, d->drop, "pp");
    showSized(v, {700, 400});
    auto* canvas = v.findChild<HeatmapCanvas*>();
    QPoint cell;
    for (int y = 0; y < canvas->height() && cell.isNull(); ++y)
        for (int x = 0; x < canvas->width(); x += 4)
            if (canvas->rowAt({x, y}) == 2 && canvas->columnAt({x, y}) == 3) {
                cell = {x + 4, y + 3};
                break;
            }
    QVERIFY(!cell.isNull());
    QHelpEvent cellHelp(QEvent::ToolTip, cell, canvas->mapToGlobal(cell));
    QCoreApplication::sendEvent(canvas, &cellHelp);
    const QString cellTip = QToolTip::text();
    QVERIFY2(cellTip.contains(d->layers[2]) && cellTip.contains(d->settings[3]), qPrintable(cellTip));
    QVERIFY2(cellTip.contains(QString::number(d->drop[2][3], 'g', 6) + " pp"), qPrintable(cellTip));
    QToolTip::hideText();
}

void TestCharts::tradeoffDrawsComparedModels()
{
    const ComparisonSeries& small = d->compared;
    QCOMPARE(small.name, QString("fashion_mnist_small"));
    QVERIFY(small.points.size() > 2);
    TradeoffChart t;
    fullTradeoff(t, *d);
    showSized(t, {900, 600});
    QChart* chart = chartOf(t);
    const QColor currentColor = seriesNamed<QScatterSeries>(chart, "Current plan")->color();
    t.setComparisons({small});
    QCOMPARE(chart->series().size(), 10); // the model's presets and its uncompressed point besides the 8
    // Under this model's points (drawn in series order), above the budget and floor lines.
    QCOMPARE(chart->series().indexOf(seriesNamed<QScatterSeries>(chart, "fashion_mnist_small")), 2);
    auto* plans = seriesNamed<QScatterSeries>(chart, "fashion_mnist_small (other model)");
    auto* base = seriesNamed<QScatterSeries>(chart, "fashion_mnist_small uncompressed");
    QVERIFY(plans && base);
    QTRY_COMPARE(plans->count(), small.points.size() - 1);
    QCOMPARE(base->count(), 1);
    QCOMPARE(base->at(0), QPointF(small.points[0].sizeBytes / 1e6, small.points[0].value));
    for (int i = 0; i < plans->count(); ++i)
        QCOMPARE(plans->at(i), QPointF(small.points[i + 1].sizeBytes / 1e6, small.points[i + 1].value));
    // A marker shape and a colour that no series of this model has.
    for (QAbstractSeries* a : chart->series())
        if (auto* other = qobject_cast<QScatterSeries*>(a); other && other != plans && other != base) {
            QVERIFY2(other->markerShape() != plans->markerShape(), qPrintable(other->name()));
            QVERIFY2(other->color() != plans->color(), qPrintable(other->name()));
        }
    QCOMPARE(base->markerShape(), plans->markerShape());
    QVERIFY(base->markerSize() > plans->markerSize()); // the uncompressed point stands out
    // One legend entry, naming it.
    QTest::qWait(60);
    const auto markers = chart->legend()->markers(plans);
    QCOMPARE(markers.size(), 1);
    QVERIFY(markers[0]->isVisible());
    QCOMPARE(markers[0]->label(), QString("fashion_mnist_small (other model)"));
    QVERIFY(!chart->legend()->markers(base).value(0)->isVisible());
    // Its name is written at its uncompressed point when there is room for it (here: beside the
    // baseline alone; among many points the greedy placement may leave it to the tooltip).
    {
        TradeoffChart bare;
        bare.setBaseline(d->baseline);
        bare.setComparisons({small});
        showSized(bare, {900, 600});
        QTest::qWait(60);
        QStringList shown;
        for (QGraphicsItem* item : chartOf(bare)->childItems())
            if (auto* text = dynamic_cast<QGraphicsSimpleTextItem*>(item); text && text->isVisible())
                shown << text->text();
        QVERIFY2(shown.contains(small.name), qPrintable(shown.join(", ")));
    }
    // The axes hold every one of its points, on either x axis.
    auto* ax = qobject_cast<QValueAxis*>(chart->axes(Qt::Horizontal).value(0));
    auto* ay = qobject_cast<QValueAxis*>(chart->axes(Qt::Vertical).value(0));
    for (const ChartPoint& p : small.points) {
        QVERIFY(p.sizeBytes / 1e6 >= ax->min() && p.sizeBytes / 1e6 <= ax->max());
        QVERIFY2(p.value >= ay->min() && p.value <= ay->max(), qPrintable(p.label));
    }
    t.setXAxis(TradeoffChart::XAxis::BitsPerWeight);
    QTRY_COMPARE(base->at(0).x(), small.points[0].bitsPerWeight);
    for (int i = 0; i < plans->count(); ++i)
        QCOMPARE(plans->at(i).x(), small.points[i + 1].bitsPerWeight);
    for (const ChartPoint& p : small.points)
        QVERIFY(p.bitsPerWeight >= ax->min() && p.bitsPerWeight <= ax->max());

    // A second model gets a look of its own; removing them removes their series.
    ComparisonSeries other = small;
    other.name = "other";
    t.setComparisons({small, other});
    auto* plans2 = seriesNamed<QScatterSeries>(chart, "other (other model)");
    QVERIFY(plans2);
    QVERIFY(plans2->markerShape() != plans->markerShape() && plans2->color() != plans->color());
    QTRY_COMPARE(plans2->count(), other.points.size() - 1);
    t.setComparisons({});
    QCOMPARE(chart->series().size(), 8);
    // This model's points are drawn over the other models' markers, keeping their look.
    auto* current = seriesNamed<QScatterSeries>(chart, "Current plan");
    QCOMPARE(chart->series().at(6), current);
    QCOMPARE(current->color(), currentColor);
}

void TestCharts::tradeoffComparedPointsAreNotPlans()
{
    TradeoffChart t;
    fullTradeoff(t, *d);
    t.setComparisons({d->compared});
    showSized(t, {900, 600});
    QChart* chart = chartOf(t);
    auto* view = t.findChild<QChartView*>();
    auto* plans = seriesNamed<QScatterSeries>(chart, "fashion_mnist_small (other model)");
    QTRY_COMPARE(plans->count(), d->compared.points.size() - 1);
    QTest::qWait(60);
    // A point that no other crowds: its tooltip names the model, the plan, its size and its value.
    QVector<QPoint> all;
    for (const auto* list : {&d->trail, &d->frontier, &d->presets, &d->compared.points})
        for (const ChartPoint& p : *list)
            all << viewportPos(view, {p.sizeBytes / 1e6, p.value}, plans);
    all << viewportPos(view, {d->current.sizeBytes / 1e6, d->current.value}, plans)
        << viewportPos(view, {d->baseline.sizeBytes / 1e6, d->baseline.value}, plans);
    const ChartPoint* alone = nullptr;
    QPoint at;
    for (const ChartPoint& p : d->compared.points) {
        const QPoint pos = viewportPos(view, {p.sizeBytes / 1e6, p.value}, plans);
        if (std::count_if(all.begin(), all.end(), [&](const QPoint& o) { return (o - pos).manhattanLength() < 14; }) == 1) {
            alone = &p;
            at = pos;
            break;
        }
    }
    QVERIFY2(alone, "no point of the other model stands apart");
    const ChartPoint& target = *alone;
    QHelpEvent help(QEvent::ToolTip, at, view->viewport()->mapToGlobal(at));
    QCoreApplication::sendEvent(view->viewport(), &help);
    const QString tip = QToolTip::text();
    const QString expected = QString("fashion_mnist_small — %1: %2, %3")
                                 .arg(target.label)
                                 .arg(QLocale().formattedDataSize(std::llround(target.sizeBytes), 1, QLocale::DataSizeSIFormat),
                                      target.valueText);
    QVERIFY2(tip.contains(expected), qPrintable(tip + " / " + expected));
    QVERIFY2(tip.contains("not a plan of this one"), qPrintable(tip));
    QToolTip::hideText();
    // A click on it restores nothing.
    QSignalSpy spy(&t, &TradeoffChart::pointClicked);
    for (const ChartPoint& p : d->compared.points)
        QTest::mouseClick(view->viewport(), Qt::LeftButton, {},
                          viewportPos(view, {p.sizeBytes / 1e6, p.value}, plans));
    QCOMPARE(spy.count(), 0);
}

void TestCharts::layerBytesStacksTheSizeReport()
{
    LayerBytesChart c;
    c.setLayers(d->layerBytes);
    showSized(c, {800, 500});
    auto* series = chartOf(c)->findChild<QHorizontalStackedBarSeries*>();
    QVERIFY(series);
    QCOMPARE(series->count(), 4); // codes, sparsity metadata, scales + zero points, header
    const QList<QBarSet*> sets = series->barSets();
    const qsizetype n = d->layerBytes.size();
    for (QBarSet* s : sets)
        QCOMPARE(s->count(), n);
    // Bars run top to bottom in the given order: Qt's category 0 is the bottom bar.
    const QStringList categories = categoriesOf(chartOf(c));
    QCOMPARE(categories.size(), n);
    QCOMPARE(categories.front(), d->layerBytes.back().name);
    QCOMPARE(categories.back(), d->layerBytes.front().name);
    // The sample's layers are under a megabyte: kB, and each bar's parts add up to the layer.
    auto* axis = qobject_cast<QValueAxis*>(chartOf(c)->axes(Qt::Horizontal).value(0));
    QVERIFY(axis->titleText().contains("kB"));
    for (qsizetype i = 0; i < n; ++i) {
        const LayerBytesBar& l = d->layerBytes[n - 1 - i];
        const double sum = sets[0]->at(i) + sets[1]->at(i) + sets[2]->at(i) + sets[3]->at(i);
        QCOMPARE(sum * 1e3, l.codes + l.sparsity + l.scales + l.header);
    }
}

void TestCharts::layerBytesClickReportsInputIndex()
{
    LayerBytesChart c;
    c.setLayers(d->layerBytes);
    showSized(c, {800, 500});
    QTest::qWait(60);
    auto* view = c.findChild<QChartView*>();
    auto* series = chartOf(c)->findChild<QHorizontalStackedBarSeries*>();
    const qsizetype n = d->layerBytes.size();
    // fc1 (the largest, index 4 in the sample) in the middle of its codes part.
    const int layer = 4;
    const int bar = static_cast<int>(n - 1 - layer);
    const QPoint at = viewportPos(view, {series->barSets()[0]->at(bar) / 2, double(bar)}, series);
    QSignalSpy spy(&c, &LayerBytesChart::layerClicked);
    QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, at);
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toInt(), layer);
}

void TestCharts::layerBytesManyLayers_data()
{
    QTest::addColumn<int>("copies");
    QTest::newRow("504 layers") << 84;
    QTest::newRow("1008 layers") << 168;
}

void TestCharts::layerBytesManyLayers()
{
    QFETCH(int, copies);
    const QVector<LayerBytesBar> layers = sample::manyLayerBytes(copies);
    LayerBytesChart c;
    showSized(c, {800, 640});
    QElapsedTimer timer;
    timer.start();
    c.setLayers(layers);
    QCoreApplication::processEvents();
    const qint64 ms = timer.elapsed();
    qInfo("LayerBytesChart with %lld layers: %lld ms", static_cast<long long>(layers.size()), static_cast<long long>(ms));
    QVERIFY2(ms < 400, qPrintable(QString::number(ms)));

    const QStringList categories = categoriesOf(chartOf(c));
    QVERIFY(categories.size() >= 10 && categories.size() <= 26);
    QVERIFY(categories.front().contains("other layers")); // the bottom bar
    QVERIFY(!chartOf(c)->axes(Qt::Vertical).value(0)->labelsTruncated());

    // The shown layers are the largest ones.
    auto* series = chartOf(c)->findChild<QHorizontalStackedBarSeries*>();
    std::vector<double> totals;
    for (const LayerBytesBar& l : layers)
        totals.push_back(l.codes + l.sparsity + l.scales + l.header);
    std::sort(totals.rbegin(), totals.rend());
    const double threshold = totals[static_cast<std::size_t>(categories.size() - 2)];
    const QList<QBarSet*> sets = series->barSets();
    const double divisor = qobject_cast<QValueAxis*>(chartOf(c)->axes(Qt::Horizontal).value(0))->titleText().contains("MB") ? 1e6 : 1e3;
    for (int i = 1; i < categories.size(); ++i) {
        const double total = (sets[0]->at(i) + sets[1]->at(i) + sets[2]->at(i) + sets[3]->at(i)) * divisor;
        QVERIFY(total >= threshold * (1 - 1e-9));
    }

    // A click on a shown bar names that layer's index in the input.
    auto* view = c.findChild<QChartView*>();
    QTest::qWait(60);
    const int bar = static_cast<int>(categories.size()) - 1; // the top bar
    QSignalSpy spy(&c, &LayerBytesChart::layerClicked);
    QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, viewportPos(view, {sets[0]->at(bar) / 2, double(bar)}, series));
    QCOMPARE(spy.count(), 1);
    QCOMPARE(layers[spy.at(0).at(0).toInt()].name, categories[bar]);
    // The others' bar is no layer.
    const double inside = qobject_cast<QValueAxis*>(chartOf(c)->axes(Qt::Horizontal).value(0))->max() / 2;
    QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, viewportPos(view, {inside, 0.0}, series));
    QCOMPARE(spy.count(), 1);
}

void TestCharts::sensitivityHeatmapClickAndRange()
{
    SensitivityView v;
    v.setTable(d->layers, d->settings, d->drop, "pp");
    showSized(v, {700, 400});
    QCOMPARE(v.mode(), SensitivityView::Mode::Heatmap);
    auto* canvas = v.findChild<HeatmapCanvas*>();
    QVERIFY(canvas && canvas->isVisible());
    // The colour range holds every drop (int2 drops are the largest).
    double hi = 0;
    for (const auto& row : d->drop)
        for (double x : row)
            hi = std::max(hi, x);
    QVERIFY(canvas->low() <= 0);
    QVERIFY(canvas->high() >= hi);

    for (int row : {0, 3, 5}) {
        // Find the row's centre by probing (the layout is the canvas' business).
        QPoint at;
        for (int y = 0; y < canvas->height(); ++y)
            if (canvas->rowAt({canvas->width() / 2, y}) == row) {
                at = {canvas->width() / 2, y + 3};
                break;
            }
        QVERIFY(!at.isNull());
        QSignalSpy spy(&v, &SensitivityView::layerClicked);
        QTest::mouseClick(canvas, Qt::LeftButton, {}, at);
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.at(0).at(0).toInt(), row);
    }
    // "-0.0" never shows: a tiny negative drop reads 0.
    QVERIFY(!canvas->formatValue(-1e-9).startsWith('-'));
}

void TestCharts::sensitivityBarsSortedDescending()
{
    SensitivityView v;
    v.setTable(d->layers, d->settings, d->drop, "pp");
    v.setMode(SensitivityView::Mode::Bars);
    const int column = 3; // int2-g32: the drops that differ most
    v.setBarsColumn(column);
    showSized(v, {700, 450});
    QTest::qWait(60);
    auto* series = chartOf(v)->findChild<QHorizontalBarSeries*>();
    QVERIFY(series);
    QBarSet* set = series->barSets().value(0);
    QCOMPARE(set->count(), d->layers.size());
    for (int i = 1; i < set->count(); ++i)
        QVERIFY(set->at(i - 1) <= set->at(i)); // ascending from the bottom: largest on top
    const QStringList categories = categoriesOf(chartOf(v));
    int worst = 0;
    for (int r = 1; r < d->layers.size(); ++r)
        if (d->drop[std::size_t(r)][column] > d->drop[std::size_t(worst)][column])
            worst = r;
    QCOMPARE(categories.back(), d->layers[worst]);
    QCOMPARE(set->at(set->count() - 1), d->drop[std::size_t(worst)][column]);

    auto* view = v.findChild<QChartView*>();
    QSignalSpy spy(&v, &SensitivityView::layerClicked);
    const int top = set->count() - 1;
    QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, viewportPos(view, {set->at(top) / 2, double(top)}, series));
    QCOMPARE(spy.count(), 1);
    QCOMPARE(spy.at(0).at(0).toInt(), worst);
}

void TestCharts::sensitivityManyLayers()
{
    QStringList layers;
    std::vector<std::vector<double>> drop;
    sample::manySensitivityRows(84, &layers, &drop);
    QCOMPARE(layers.size(), 504);
    SensitivityView v;
    showSized(v, {700, 500});
    QElapsedTimer timer;
    timer.start();
    v.setTable(layers, d->settings, drop, "pp");
    QCoreApplication::processEvents();
    const qint64 heat = timer.elapsed();
    auto* canvas = v.findChild<HeatmapCanvas*>();
    QVERIFY(canvas->height() > v.height()); // it scrolls
    auto* scroll = v.findChild<QScrollArea*>();
    scroll->verticalScrollBar()->setValue(scroll->verticalScrollBar()->maximum());
    QCoreApplication::processEvents();
    timer.restart();
    v.setMode(SensitivityView::Mode::Bars);
    v.setBarsColumn(1);
    QCoreApplication::processEvents();
    const qint64 bars = timer.elapsed();
    qInfo("SensitivityView with 504 layers: heatmap %lld ms, bars %lld ms", static_cast<long long>(heat),
          static_cast<long long>(bars));
    QVERIFY2(heat < 400, qPrintable(QString::number(heat)));
    QVERIFY2(bars < 400, qPrintable(QString::number(bars)));
    const QStringList categories = categoriesOf(chartOf(v));
    QVERIFY(categories.size() >= 10 && categories.size() <= 30);
    QVERIFY(chartOf(v)->title().contains("of 504 layers"));
}

void TestCharts::histogramCountsEveryFiniteWeight()
{
    WeightHistogram h;
    h.setWeights(d->histogramLayer, d->original, d->compressed, d->levels, "channel 0");
    QChart* chart = chartOf(h);
    const QList<QAbstractSeries*> series = chart->series();
    QCOMPARE(series.size(), 2);
    auto* after = qobject_cast<QAreaSeries*>(series[0]);
    auto* before = qobject_cast<QAreaSeries*>(series[1]);
    QVERIFY(before && after);
    QCOMPARE(before->name(), QString("Original"));
    // The outline: a start, two points per bin (its count across it), an end.
    const QList<QPointF> outline = before->upperSeries()->points();
    QCOMPARE(outline.size(), 2 * 100 + 2);
    double countBefore = 0;
    for (int b = 0; b < 100; ++b)
        countBefore += outline[1 + 2 * b].y();
    QCOMPARE(countBefore, double(d->original.size()));
    // The bars: four points per non-empty bin, the count at the second and third.
    const QList<QPointF> bars = after->upperSeries()->points();
    QCOMPARE((bars.size() - 2) % 4, 0);
    double countAfter = 0;
    for (qsizetype i = 1; i + 3 < bars.size(); i += 4)
        countAfter += bars[i + 1].y();
    QCOMPARE(countAfter, double(d->compressed.size()));
    // Bins span the original's range.
    const auto [mn, mx] = std::minmax_element(d->original.begin(), d->original.end());
    QCOMPARE(outline.front().x(), double(*mn));
    QVERIFY(std::abs(outline.back().x() - double(*mx)) < 1e-6);
    // One grid line per level (int4 symmetric: 15): the category axis' start and its categories.
    QCategoryAxis* levels = nullptr;
    for (QAbstractAxis* a : chart->axes(Qt::Horizontal))
        if (a->alignment() == Qt::AlignTop)
            levels = qobject_cast<QCategoryAxis*>(a);
    QVERIFY(levels && levels->isVisible());
    QCOMPARE(levels->count() + 1, qsizetype(d->levels.size()));
    QCOMPARE(levels->startValue(), double(d->levels.front()));
    // Axis labels are formatted from round values: "0.0", never "-0.0".
    auto* x = qobject_cast<QCategoryAxis*>(chart->axes(Qt::Horizontal).value(0));
    QVERIFY(x->categoriesLabels().contains("0.0"));
    QVERIFY(!x->categoriesLabels().contains("-0.0"));
}

void TestCharts::histogramSkipsNonFinite()
{
    std::vector<float> original = d->original, compressed = d->compressed;
    original[3] = std::numeric_limits<float>::quiet_NaN();
    original[10] = -std::numeric_limits<float>::infinity();
    compressed[3] = std::numeric_limits<float>::quiet_NaN();
    compressed[10] = -std::numeric_limits<float>::infinity();
    WeightHistogram h;
    h.setWeights(d->histogramLayer, original, compressed, {}, {});
    QChart* chart = chartOf(h);
    QVERIFY2(chart->title().contains("2 NaN/Inf skipped"), qPrintable(chart->title()));
    auto* before = qobject_cast<QAreaSeries*>(chart->series()[1]);
    double count = 0;
    const QList<QPointF> outline = before->upperSeries()->points();
    for (int b = 0; b < 100; ++b)
        count += outline[1 + 2 * b].y();
    QCOMPARE(count, double(original.size() - 2));
    for (const QPointF& p : outline)
        QVERIFY(std::isfinite(p.x()) && std::isfinite(p.y()));

    h.setWeights({}, {}, {}, {}, {});
    QCOMPARE(chart->title(), QString("No layer selected"));
    QCOMPARE(before->upperSeries()->count(), 0);
}

void TestCharts::histogramLogToggle()
{
    WeightHistogram h;
    h.setWeights(d->histogramLayer, d->original, d->compressed, d->levels, "channel 0");
    auto* box = h.findChild<QCheckBox*>();
    QVERIFY(box);
    QTest::failOnWarning(QRegularExpression("Logarithm")); // nothing at zero reaches the log axis
    box->setChecked(true);
    QChart* chart = chartOf(h);
    QAbstractAxis* y = nullptr;
    for (QAbstractAxis* a : chart->series()[0]->attachedAxes())
        if (a->orientation() == Qt::Vertical)
            y = a;
    QVERIFY(y && y->type() == QAbstractAxis::AxisTypeLogValue && y->isVisible());
    // No point at or below zero on the log axis.
    for (QAbstractSeries* s : chart->series())
        for (const QPointF& p : static_cast<QAreaSeries*>(s)->upperSeries()->points())
            QVERIFY(p.y() > 0);
    box->setChecked(false);
    for (QAbstractAxis* a : chart->series()[0]->attachedAxes())
        if (a->orientation() == Qt::Vertical) {
            QVERIFY(a->type() != QAbstractAxis::AxisTypeLogValue);
            QVERIFY(a->isVisible());
        }
    QVERIFY(!y->isVisible());
}

void TestCharts::saveImage_data()
{
    QTest::addColumn<QString>("widget");
    QTest::addColumn<QString>("format");
    for (const char* w : {"tradeoff", "layerbytes", "heatmap", "bars", "histogram"})
        for (const char* f : {"png", "svg"})
            QTest::newRow(qPrintable(QString("%1 %2").arg(w, f))) << QString(w) << QString(f);
}

void TestCharts::saveImage()
{
    QFETCH(QString, widget);
    QFETCH(QString, format);
    QTemporaryDir dir;
    const QString path = dir.filePath(widget + "." + format);
    QString error;
    bool ok = false;
    QSize shown;
    if (widget == "tradeoff") {
        TradeoffChart t;
        fullTradeoff(t, *d);
        showSized(t, {640, 420});
        shown = t.findChild<QChartView*>()->size();
        ok = t.saveImage(path, &error);
    } else if (widget == "layerbytes") {
        LayerBytesChart c;
        c.setLayers(d->layerBytes);
        showSized(c, {640, 420});
        shown = c.findChild<QChartView*>()->size();
        ok = c.saveImage(path, &error);
    } else if (widget == "heatmap" || widget == "bars") {
        SensitivityView v;
        v.setTable(d->layers, d->settings, d->drop, "pp");
        if (widget == "bars")
            v.setMode(SensitivityView::Mode::Bars);
        showSized(v, {640, 420});
        shown = widget == "bars" ? v.findChild<QChartView*>()->size() : QSize();
        ok = v.saveImage(path, &error);
    } else {
        WeightHistogram h;
        h.setWeights(d->histogramLayer, d->original, d->compressed, d->levels, "channel 0");
        showSized(h, {640, 420});
        shown = h.findChild<QChartView*>()->size();
        ok = h.saveImage(path, &error);
    }
    QVERIFY2(ok, qPrintable(error));
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray bytes = file.readAll();
    if (format == "png") {
        QImage image;
        QVERIFY(image.loadFromData(bytes, "PNG"));
        QVERIFY(!image.isNull() && image.width() > 0 && image.height() > 0);
        if (shown.isValid())
            QCOMPARE(image.size(), shown * 2); // device pixel ratio 2
        // Not a blank canvas: the chart drew something besides the background.
        const QRgb corner = image.pixel(0, 0);
        int other = 0;
        for (int y = 0; y < image.height(); y += 7)
            for (int x = 0; x < image.width(); x += 7)
                other += image.pixel(x, y) != corner;
        QVERIFY(other > 100);
    } else {
        QVERIFY(bytes.startsWith("<?xml"));
        QVERIFY(bytes.contains("<svg"));
        QVERIFY(bytes.contains("</svg>"));
    }
    QVERIFY(QDir(dir.path()).entryList(QDir::Files).size() == 1); // no temporary left behind
}

void TestCharts::saveImageFailsNamingTheFile_data()
{
    QTest::addColumn<QString>("path");
    QTest::newRow("missing folder") << "/nonexistent-leger-dir/chart.png";
    QTest::newRow("missing folder svg") << "/nonexistent-leger-dir/chart.svg";
    QTest::newRow("unknown format") << QDir::temp().filePath("leger-chart.bmpx");
}

void TestCharts::saveImageFailsNamingTheFile()
{
    QFETCH(QString, path);
    TradeoffChart t;
    fullTradeoff(t, *d);
    LayerBytesChart c;
    c.setLayers(d->layerBytes);
    SensitivityView v;
    v.setTable(d->layers, d->settings, d->drop, "pp");
    WeightHistogram h;
    h.setWeights(d->histogramLayer, d->original, d->compressed, d->levels, "channel 0");
    for (const std::function<bool(QString*)>& save :
         {std::function<bool(QString*)>([&](QString* e) { return t.saveImage(path, e); }),
          std::function<bool(QString*)>([&](QString* e) { return c.saveImage(path, e); }),
          std::function<bool(QString*)>([&](QString* e) { return v.saveImage(path, e); }),
          std::function<bool(QString*)>([&](QString* e) { return h.saveImage(path, e); })}) {
        QString error;
        QVERIFY(!save(&error));
        QVERIFY2(error.contains(path), qPrintable(error));
        QVERIFY(!QFile::exists(path));
    }
}

QTEST_MAIN(TestCharts)
#include "tst_charts.moc"
