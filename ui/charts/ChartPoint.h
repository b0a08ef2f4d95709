#pragma once
// What the charts draw, in plain numbers: the charts know nothing of the engine.

#include <QString>
#include <QVector>
#include <cstdint>

namespace leger::ui {

/// One plan on the trade-off chart: its exact size and its measured metric with the 95 % interval.
struct ChartPoint {
    int id = -1;                // the Workbench's point id (clicks report it); -1: not clickable
    double sizeBytes = 0;
    double bitsPerWeight = 0;
    double value = 0, low = 0, high = 0; // metric in its display unit (e.g. percent)
    QString label;              // tooltip / preset name
    QString valueText;          // the value as the tooltip says it ("91.20 % ± 1.2"); empty: the number
};

/// Another model measured on the same data, drawn beside this one's plans: its points are not
/// plans of this model and cannot be restored.
struct ComparisonSeries {
    QString name;               // "fashion_mnist_small"
    QVector<ChartPoint> points; // the first: uncompressed (emphasised), then the presets
};

/// One layer's bytes in the export, by part (SizeReport's LayerBytes).
struct LayerBytesBar {
    QString name;
    double codes = 0, sparsity = 0, scales = 0; // scales includes zero points
    double header = 0;
};

} // namespace leger::ui
