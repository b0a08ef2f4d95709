#pragma once
// Bytes per layer in the export, stacked by part (codes, sparsity metadata, scales and zero
// points, record header), so that one sees where the size goes.

#include <QWidget>
#include <memory>

#include "charts/ChartPoint.h"

namespace leger::ui {

class LayerBytesChart : public QWidget {
    Q_OBJECT
public:
    explicit LayerBytesChart(QWidget* parent = nullptr);
    ~LayerBytesChart() override;

    /// One bar per layer in the order given (hundreds of layers stay readable: the largest are
    /// shown and the rest summed into one bar).
    void setLayers(const QVector<LayerBytesBar>& layers);
    /// Names of the four parts of a bar (codes, sparsity metadata, scales and zero points,
    /// header) in the legend and tooltips; an empty name hides that part's legend entry (a GGUF
    /// file has no separate sparsity metadata nor scales, and pads tensors instead of headers).
    void setPartLabels(const QStringList& labels);
    /// The chart as laid out now, encoded as "png" or "svg" (for reports).
    QByteArray image(const QString& format) const;
    bool saveImage(const QString& path, QString* error) const;

signals:
    /// A layer's bar was clicked (its index in setLayers' order).
    void layerClicked(int index);

private:
    struct Private;
    std::unique_ptr<Private> d_;
};

} // namespace leger::ui
