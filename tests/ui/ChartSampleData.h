#pragma once
// Chart inputs computed from the bundled sample (real model, real Fashion-MNIST images): sizes
// from SizeModel, qualities from the Evaluator and the searches, weights from compressWeight.
// Shared by tst_charts and the chart_gallery dev program.

#include <QStringList>
#include <QVector>
#include <optional>
#include <vector>

#include "charts/ChartPoint.h"

namespace leger::ui::sample {

struct ChartData {
    // TradeoffChart, top-1 accuracy in percent
    ChartPoint baseline;
    ChartPoint current;        // the sample recipe (int8, fc1 int4 g32), complete
    ChartPoint currentPartial; // the same after its first chunk of images
    QVector<ChartPoint> trail, frontier, presets;
    // The smaller sample model (fashion_mnist_small) on the same images: uncompressed, then the
    // uniform presets (measureModel), with the values as the workbench words them.
    ComparisonSeries compared;
    // LayerBytesChart: the sample recipe's SizeReport, one bar per layer
    QVector<LayerBytesBar> layerBytes;
    // SensitivityView: drop in top-1 percentage points, layers x settings
    QStringList layers, settings;
    std::vector<std::vector<double>> drop;
    // WeightHistogram: fc1 before and after int4 per channel, and channel 0's levels
    QString histogramLayer;
    std::vector<float> original, compressed, levels;
};

/// Computes everything once per process (about a second: ~40 evaluations of 2000 images).
const ChartData& chartData();

/// `copies` times the sample's layers (renamed block<i>.<name>, sizes varied by block), for
/// checks with hundreds of layers.
QVector<LayerBytesBar> manyLayerBytes(int copies);
void manySensitivityRows(int copies, QStringList* layers, std::vector<std::vector<double>>* drop);

} // namespace leger::ui::sample
