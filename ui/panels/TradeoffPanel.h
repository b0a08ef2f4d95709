#pragma once
// The trade-off chart and its controls: the metric and x axis, the user's size budget and
// acceptable drop (drawn as lines and used by the fits), and clearing the trail. Clicking an
// evaluated point restores its plan. Other models compared on the same data are drawn beside
// this one's plans for the metrics that compare models (top-1, top-5).

#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;

namespace leger::ui {

class TradeoffChart;
class Workbench;
struct ChartPoint;
struct PlanPoint;

class TradeoffPanel : public QWidget {
    Q_OBJECT
public:
    explicit TradeoffPanel(Workbench* workbench, QWidget* parent = nullptr);

    TradeoffChart* chart() const { return chart_; }
    QComboBox* metricBox() const { return metric_; }

private:
    void updatePoints();
    void updateComparisons();
    void updateCurrent();
    void updateBaseline();
    void updateLines();
    void updateMetrics();
    void pushLines();

    Workbench* workbench_;
    TradeoffChart* chart_;
    QComboBox* metric_;
    QComboBox* axis_;
    QCheckBox* budgetOn_;
    QDoubleSpinBox* budget_;
    QCheckBox* dropOn_;
    QDoubleSpinBox* drop_;
};

} // namespace leger::ui
