#pragma once
// Per-layer views: where the bytes go (stacked by part), the sensitivity table (heatmap or
// bars), and the selected layer's weights before and after compression.

#include <QFutureWatcher>
#include <QWidget>
#include <memory>
#include <vector>

class QComboBox;
class QTabWidget;

namespace leger::ui {

class LayerBytesChart;
class SensitivityView;
class WeightHistogram;
class Workbench;

class LayerViewsPanel : public QWidget {
    Q_OBJECT
public:
    explicit LayerViewsPanel(Workbench* workbench, QWidget* parent = nullptr);
    ~LayerViewsPanel() override;

    /// The layer whose weights the histogram shows (-1: none).
    void setLayer(int row);
    int layer() const { return layer_; }

    QTabWidget* tabs() const { return tabs_; }
    LayerBytesChart* bytesChart() const { return bytes_; }
    SensitivityView* sensitivityView() const { return sensitivity_; }
    WeightHistogram* histogram() const { return histogram_; }

signals:
    void layerClicked(int row);

private:
    struct Histogram;
    void updateBytes();
    void updateSensitivity();
    void updateHistogram();

    Workbench* workbench_;
    QTabWidget* tabs_;
    LayerBytesChart* bytes_;
    SensitivityView* sensitivity_;
    QComboBox* sensitivityMode_;
    QComboBox* sensitivityColumn_;
    WeightHistogram* histogram_;
    int layer_ = -1;
    QFutureWatcher<std::shared_ptr<Histogram>>* watcher_;
    bool histogramPending_ = false;
};

} // namespace leger::ui
