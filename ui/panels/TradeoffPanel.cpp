#include "panels/TradeoffPanel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QToolButton>
#include <QVBoxLayout>
#include <cmath>

#include "charts/TradeoffChart.h"
#include "eval/Evaluator.h"
#include "report/Report.h"
#include "workbench/MetricInfo.h"
#include "workbench/Workbench.h"

namespace leger::ui {

TradeoffPanel::TradeoffPanel(Workbench* workbench, QWidget* parent) : QWidget(parent), workbench_(workbench)
{
    chart_ = new TradeoffChart(this);
    metric_ = new QComboBox(this);
    metric_->setToolTip(tr("The metric on the y axis, the summary and the searches"));
    metric_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    metric_->setMinimumContentsLength(12);
    axis_ = new QComboBox(this);
    axis_->addItem(tr("MB"), QStringLiteral("mb"));
    axis_->addItem(tr("bits/weight"), QStringLiteral("bpw"));
    axis_->setToolTip(tr("The x axis: the exact export size, or the bits per weight of the layers"));
    budgetOn_ = new QCheckBox(tr("Budget"), this);
    budgetOn_->setToolTip(tr("Draw a size budget on the chart; \"Fit to budget\" finds the best plan under it"));
    budget_ = new QDoubleSpinBox(this);
    budget_->setDecimals(3);
    budget_->setRange(0.001, 1e6);
    budget_->setSuffix(QStringLiteral(" MB"));
    budget_->setValue(0.1);
    budget_->setMaximumWidth(budget_->fontMetrics().horizontalAdvance(QStringLiteral("0000.000 MB")) + 30);
    dropOn_ = new QCheckBox(tr("Max drop"), this);
    dropOn_->setToolTip(tr("Draw the accuracy floor (baseline minus this drop); \"Fit to floor\" finds the smallest plan "
                           "above it"));
    drop_ = new QDoubleSpinBox(this);
    drop_->setDecimals(2);
    drop_->setRange(0.0, 100.0);
    drop_->setSingleStep(0.1);
    drop_->setValue(0.5);
    drop_->setMaximumWidth(drop_->fontMetrics().horizontalAdvance(QStringLiteral("00.00 points")) + 30);
    auto* clear = new QToolButton(this);
    clear->setText(tr("Clear trail"));
    clear->setToolTip(tr("Forget the plans measured while editing (presets and the sweep stay)"));
    connect(clear, &QToolButton::clicked, workbench_, &Workbench::clearTrail);

    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Metric"), this));
    bar->addWidget(metric_);
    bar->addWidget(new QLabel(tr("x"), this));
    bar->addWidget(axis_);
    bar->addSpacing(12);
    bar->addWidget(budgetOn_);
    bar->addWidget(budget_);
    bar->addWidget(dropOn_);
    bar->addWidget(drop_);
    bar->addStretch(1);
    bar->addWidget(clear);
    auto* l = new QVBoxLayout(this);
    l->setContentsMargins(4, 4, 4, 4);
    l->addLayout(bar);
    l->addWidget(chart_, 1);

    connect(metric_, &QComboBox::activated, this, [this](int i) { workbench_->setMetric(metric_->itemData(i).toString()); });
    connect(axis_, &QComboBox::activated, this, [this](int i) { workbench_->setXAxis(axis_->itemData(i).toString()); });
    for (QCheckBox* c : {budgetOn_, dropOn_})
        connect(c, &QCheckBox::toggled, this, &TradeoffPanel::pushLines);
    for (QDoubleSpinBox* s : {budget_, drop_})
        connect(s, &QDoubleSpinBox::valueChanged, this, &TradeoffPanel::pushLines);
    connect(chart_, &TradeoffChart::pointClicked, workbench_, &Workbench::restorePoint);

    connect(workbench_, &Workbench::pointsChanged, this, &TradeoffPanel::updatePoints);
    connect(workbench_, &Workbench::comparisonsChanged, this, &TradeoffPanel::updateComparisons);
    connect(workbench_, &Workbench::currentChanged, this, &TradeoffPanel::updateCurrent);
    connect(workbench_, &Workbench::baselineChanged, this, [this] {
        updateMetrics();
        updateBaseline();
        updateLines();
    });
    connect(workbench_, &Workbench::metricChanged, this, [this] {
        updateMetrics();
        updateBaseline();
        updatePoints();
        updateCurrent();
        updateComparisons();
        updateLines();
    });
    connect(workbench_, &Workbench::chartSettingsChanged, this, &TradeoffPanel::updateLines);
    connect(workbench_, &Workbench::modelChanged, this, [this] {
        updateMetrics();
        updateBaseline();
        updatePoints();
        updateCurrent();
        updateLines();
    });
    updateLines();
}

void TradeoffPanel::pushLines()
{
    const MetricInfo m = MetricInfo::of(workbench_->metric());
    workbench_->setBudgetBytes(budgetOn_->isChecked() ? std::optional<qint64>(std::llround(budget_->value() * 1e6))
                                                      : std::nullopt);
    workbench_->setMaxDrop(dropOn_->isChecked() ? std::optional<double>(drop_->value() / m.scale) : std::nullopt);
}

void TradeoffPanel::updateMetrics()
{
    const QSignalBlocker block(metric_);
    metric_->clear();
    for (const QString& name : workbench_->availableMetrics()) {
        const MetricInfo m = MetricInfo::of(name);
        metric_->addItem(m.title, name);
        metric_->setItemData(metric_->count() - 1, m.definition, Qt::ToolTipRole);
    }
    metric_->setCurrentIndex(metric_->findData(workbench_->metric()));
    metric_->setEnabled(metric_->count() > 0);
    chart_->setMetricTitle(MetricInfo::of(workbench_->metric()).axisTitle());
}

void TradeoffPanel::updateBaseline()
{
    const MetricInfo m = MetricInfo::of(workbench_->metric());
    const auto b = workbench_->baseline();
    if (!b || !workbench_->isOpen()) {
        chart_->setBaseline(std::nullopt);
        return;
    }
    const std::vector<LayerSetting> none(workbench_->layers().size());
    chart_->setBaseline(m.point(*b, workbench_->sizeOf(none), workbench_->bitsPerWeightOf(none), -1,
                                tr("uncompressed (float32)")));
}

void TradeoffPanel::updateCurrent()
{
    const MetricInfo m = MetricInfo::of(workbench_->metric());
    const auto c = workbench_->current();
    if (!c) {
        chart_->setCurrent(std::nullopt, true);
        return;
    }
    chart_->setCurrent(m.point(*c, workbench_->sizeReport().total, workbench_->sizeReport().bitsPerWeight, -1,
                               tr("current plan")),
                       !c->complete());
}

void TradeoffPanel::updatePoints()
{
    const MetricInfo m = MetricInfo::of(workbench_->metric());
    QVector<ChartPoint> trail, frontier, presets;
    for (const PlanPoint& p : workbench_->points()) {
        auto c = m.point(*p.evaluation, p.sizeBytes, p.bitsPerWeight, p.id, p.label);
        if (!c)
            continue;
        switch (p.kind) {
        case PointKind::Trail:
        case PointKind::Fit: trail << *c; break;
        case PointKind::Preset: presets << *c; break;
        case PointKind::Frontier:
            if (p.pareto)
                frontier << *c;
            else
                trail << *c;
            break;
        }
    }
    chart_->setTrail(trail);
    chart_->setFrontier(frontier);
    chart_->setPresets(presets);
}

void TradeoffPanel::updateComparisons()
{
    const MetricInfo m = MetricInfo::of(workbench_->metric());
    QVector<ComparisonSeries> models;
    for (const auto& c : workbench_->comparisons())
        if (ComparisonSeries s = m.series(*c); !s.points.isEmpty())
            models << s;
    chart_->setComparisons(models);
}

void TradeoffPanel::updateLines()
{
    const MetricInfo m = MetricInfo::of(workbench_->metric());
    {
        const QSignalBlocker b1(axis_), b2(budgetOn_), b3(budget_), b4(dropOn_), b5(drop_);
        axis_->setCurrentIndex(std::max(0, axis_->findData(workbench_->xAxis())));
        budgetOn_->setChecked(workbench_->budgetBytes().has_value());
        if (workbench_->budgetBytes())
            budget_->setValue(static_cast<double>(*workbench_->budgetBytes()) / 1e6);
        dropOn_->setChecked(workbench_->maxDrop().has_value());
        if (workbench_->maxDrop())
            drop_->setValue(*workbench_->maxDrop() * m.scale);
        drop_->setSuffix(m.unit.isEmpty() ? QString() : QStringLiteral(" ") + (m.unit == "%" ? tr("points") : m.unit));
    }
    chart_->setXAxis(workbench_->xAxis() == "bpw" ? TradeoffChart::XAxis::BitsPerWeight : TradeoffChart::XAxis::Megabytes);
    chart_->setBudget(workbench_->budgetBytes() ? std::optional<double>(static_cast<double>(*workbench_->budgetBytes()))
                                                : std::nullopt);
    const auto b = workbench_->baseline();
    const Interval* bv = b && b->complete() ? b->metrics.find(m.name.toStdString()) : nullptr;
    if (bv && workbench_->maxDrop())
        chart_->setFloor((bv->value + (m.higherIsBetter ? -1 : 1) * *workbench_->maxDrop()) * m.scale);
    else
        chart_->setFloor(std::nullopt);
}

} // namespace leger::ui
