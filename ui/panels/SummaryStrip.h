#pragma once
// The summary strip: the current plan's exact size, ratio and bits per weight, its measured
// metric with the interval and the change against the baseline, flips, how many samples the
// result covers, what the engine is doing, and the progress (with cancel) of a search.

#include <QWidget>

class QLabel;
class QProgressBar;
class QToolButton;

namespace leger::ui {

class Workbench;

class SummaryStrip : public QWidget {
    Q_OBJECT
public:
    explicit SummaryStrip(Workbench* workbench, QWidget* parent = nullptr);

    /// The texts shown, for tests.
    QString sizeText() const;
    QString metricText() const;
    QString samplesText() const;

private:
    void updateSize();
    void updateMetric();
    void updateEngine();

    Workbench* workbench_;
    QLabel* size_;
    QLabel* ratio_;
    QLabel* bits_;
    QLabel* metric_;
    QLabel* delta_;
    QLabel* flips_;
    QLabel* samples_;
    QLabel* engine_;
    QProgressBar* progress_;
    QToolButton* cancel_;
};

} // namespace leger::ui
