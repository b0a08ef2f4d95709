#include "panels/LayerViewsPanel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QTabWidget>
#include <QVBoxLayout>
#include <QtConcurrent>
#include <algorithm>
#include <cmath>

#include "charts/LayerBytesChart.h"
#include "charts/SensitivityView.h"
#include "charts/WeightHistogram.h"
#include "compress/Compressor.h"
#include "llm/LanguageModel.h"
#include "model/Model.h"
#include "search/Search.h"
#include "workbench/MetricInfo.h"
#include "workbench/Workbench.h"

namespace leger::ui {

/// The histogram's inputs, computed off the GUI thread.
struct LayerViewsPanel::Histogram {
    QString layer;
    std::vector<float> original, compressed, levels;
    QString levelsOf;
};

namespace {

// Histograms of very large layers use an even sample of their weights.
constexpr std::size_t kMaxHistogramValues = std::size_t{1} << 21;

std::vector<float> sample(std::vector<float> v)
{
    if (v.size() <= kMaxHistogramValues)
        return v;
    const std::size_t step = (v.size() + kMaxHistogramValues - 1) / kMaxHistogramValues;
    std::vector<float> out;
    out.reserve(v.size() / step + 1);
    for (std::size_t i = 0; i < v.size(); i += step)
        out.push_back(v[i]);
    return out;
}

/// The values one scale group of c can take: the group holding the largest |weight|.
std::vector<float> levelsOf(const CompressedWeight& c, const std::vector<float>& matrix, QString* where)
{
    if (c.setting.format != WeightFormat::Int || c.scales.empty())
        return {};
    std::size_t arg = 0;
    for (std::size_t i = 0; i < matrix.size(); ++i)
        if (std::isfinite(matrix[i]) && std::abs(matrix[i]) > std::abs(matrix[arg]))
            arg = i;
    const std::int64_t r = static_cast<std::int64_t>(arg) / c.cols, col = static_cast<std::int64_t>(arg) % c.cols;
    const auto k = static_cast<std::size_t>(c.scaleIndex(r, col));
    const float scale = c.scales[k];
    const int b = c.setting.bits;
    std::vector<float> levels;
    if (c.setting.symmetric) {
        const int q = (1 << (b - 1)) - 1;
        for (int i = -q; i <= q; ++i)
            levels.push_back(static_cast<float>(i) * scale);
    } else {
        const int zp = c.zeroPoints.empty() ? 0 : c.zeroPoints[k];
        for (int i = 0; i < (1 << b); ++i)
            levels.push_back(static_cast<float>(i - zp) * scale);
    }
    // 7 and 8 bits have 127-255 levels: drawn, they would hide the histogram.
    if (levels.size() > 63)
        return {};
    if (c.perTensor())
        *where = QObject::tr("the tensor");
    else if (c.setting.granularity == Granularity::Channel)
        *where = QObject::tr("channel %1 (holds the largest weight)").arg(r);
    else
        *where = QObject::tr("group %1 of channel %2 (holds the largest weight)").arg(col / c.groupSize).arg(r);
    return levels;
}

} // namespace

LayerViewsPanel::LayerViewsPanel(Workbench* workbench, QWidget* parent)
    : QWidget(parent), workbench_(workbench), watcher_(new QFutureWatcher<std::shared_ptr<Histogram>>(this))
{
    tabs_ = new QTabWidget(this);
    bytes_ = new LayerBytesChart(tabs_);
    tabs_->addTab(bytes_, tr("Bytes per layer"));
    tabs_->setTabToolTip(0, tr("Where the export's bytes go, per layer: codes, sparsity metadata, scales and zero points, "
                               "record header"));

    auto* sensPage = new QWidget(tabs_);
    sensitivity_ = new SensitivityView(sensPage);
    sensitivityMode_ = new QComboBox(sensPage);
    sensitivityMode_->addItem(tr("Heatmap"));
    sensitivityMode_->addItem(tr("Bars"));
    sensitivityColumn_ = new QComboBox(sensPage);
    sensitivityColumn_->setToolTip(tr("The setting whose drops the bars show"));
    auto* sensBar = new QHBoxLayout;
    sensBar->addWidget(new QLabel(tr("Show as"), sensPage));
    sensBar->addWidget(sensitivityMode_);
    sensBar->addWidget(sensitivityColumn_);
    sensBar->addStretch(1);
    auto* sensLayout = new QVBoxLayout(sensPage);
    sensLayout->setContentsMargins(0, 4, 0, 0);
    sensLayout->addLayout(sensBar);
    sensLayout->addWidget(sensitivity_, 1);
    tabs_->addTab(sensPage, tr("Sensitivity"));
    tabs_->setTabToolTip(1, tr("Drop of the metric with one layer alone compressed at each setting (run Search → "
                               "Sensitivity scan)"));

    histogram_ = new WeightHistogram(tabs_);
    tabs_->addTab(histogram_, tr("Weights"));
    tabs_->setTabToolTip(2, tr("The selected layer's weights before and after compression, with the quantization levels"));

    auto* l = new QVBoxLayout(this);
    l->setContentsMargins(0, 0, 0, 0);
    l->addWidget(tabs_);

    connect(sensitivityMode_, &QComboBox::activated, this, [this](int i) {
        sensitivity_->setMode(i == 0 ? SensitivityView::Mode::Heatmap : SensitivityView::Mode::Bars);
        sensitivityColumn_->setEnabled(i == 1);
    });
    sensitivityColumn_->setEnabled(false);
    connect(sensitivityColumn_, &QComboBox::activated, sensitivity_, &SensitivityView::setBarsColumn);
    connect(bytes_, &LayerBytesChart::layerClicked, this, &LayerViewsPanel::layerClicked);
    connect(sensitivity_, &SensitivityView::layerClicked, this, &LayerViewsPanel::layerClicked);

    connect(workbench_, &Workbench::settingsChanged, this, [this](const QList<int>& rows) {
        updateBytes();
        if (rows.isEmpty() || rows.contains(layer_))
            updateHistogram();
    });
    connect(workbench_, &Workbench::modelChanged, this, [this] {
        layer_ = -1;
        updateBytes();
        updateHistogram();
    });
    connect(workbench_, &Workbench::sensitivityChanged, this, &LayerViewsPanel::updateSensitivity);
    connect(workbench_, &Workbench::metricChanged, this, &LayerViewsPanel::updateSensitivity);
    connect(watcher_, &QFutureWatcher<std::shared_ptr<Histogram>>::finished, this, [this] {
        const auto h = watcher_->result();
        if (h && !histogramPending_)
            histogram_->setWeights(h->layer, h->original, h->compressed, h->levels, h->levelsOf);
        if (histogramPending_) { // the layer or its setting changed meanwhile: the newest wins
            histogramPending_ = false;
            updateHistogram();
        }
    });
    updateBytes();
    updateSensitivity();
}

LayerViewsPanel::~LayerViewsPanel() { watcher_->waitForFinished(); }

void LayerViewsPanel::setLayer(int row)
{
    if (row == layer_)
        return;
    layer_ = row;
    updateHistogram();
}

void LayerViewsPanel::updateBytes()
{
    // A language model's size is its GGUF file's: tensor data (ggml's blocks hold their scales)
    // and each tensor's padding to the alignment.
    if (workbench_->isLanguageModel())
        bytes_->setPartLabels({tr("Tensor data (codes and scales)"), QString(), QString(), tr("Alignment padding")});
    else
        bytes_->setPartLabels({tr("Codes"), tr("Sparsity metadata"), tr("Scales and zero points"), tr("Record header")});
    QVector<LayerBytesBar> bars;
    const SizeReport& r = workbench_->sizeReport();
    const auto& layers = workbench_->layers();
    for (std::size_t i = 0; i < layers.size() && i < r.layers.size(); ++i) {
        const LayerBytes& b = r.layers[i];
        bars.push_back({QString::fromStdString(layers[i].name), static_cast<double>(b.codes),
                        static_cast<double>(b.sparsity), static_cast<double>(b.scales + b.zeroPoints),
                        static_cast<double>(b.header)});
    }
    bytes_->setLayers(bars);
}

void LayerViewsPanel::updateSensitivity()
{
    const auto t = workbench_->sensitivity();
    const QSignalBlocker block(sensitivityColumn_);
    sensitivityColumn_->clear();
    if (!t || t->drop.empty()) {
        sensitivity_->setTable({}, {}, {}, {});
        return;
    }
    const MetricInfo m = MetricInfo::of(QString::fromStdString(t->metric));
    QStringList layers, settings;
    for (const Layer& l : workbench_->layers())
        layers << QString::fromStdString(l.name);
    for (const LayerSetting& s : t->settings) {
        settings << QString::fromStdString(settingSpec(s));
        sensitivityColumn_->addItem(QString::fromStdString(s.label()));
    }
    std::vector<std::vector<double>> drop = t->drop;
    for (auto& row : drop)
        for (double& d : row)
            d *= m.scale;
    sensitivity_->setTable(layers, settings, drop, m.unit == "%" ? tr("points") : m.unit);
}

void LayerViewsPanel::updateHistogram()
{
    if (watcher_->isRunning()) {
        histogramPending_ = true;
        return;
    }
    const auto& layers = workbench_->layers();
    if (layer_ < 0 || static_cast<std::size_t>(layer_) >= layers.size() || !workbench_->isOpen()) {
        histogram_->setWeights({}, {}, {}, {}, {});
        return;
    }
    const Layer layer = layers[static_cast<std::size_t>(layer_)];
    const LayerSetting setting = workbench_->settings()[static_cast<std::size_t>(layer_)];
    // The lambda holds the model, so opening another one meanwhile is safe. A language model's
    // original weights are never touched by the engine's worker (it swaps in copies).
    const std::shared_ptr<const Model> model = workbench_->sharedModel();
    const std::shared_ptr<const LanguageModel> llm = workbench_->languageModel();
    const Tensor* w = llm ? &llm->original(static_cast<std::size_t>(layer_)) : model->graph.initializer(layer.name);
    if (!w) {
        histogram_->setWeights({}, {}, {}, {}, {});
        return;
    }
    watcher_->setFuture(QtConcurrent::run([layer, setting, model, llm, w]() -> std::shared_ptr<Histogram> {
        auto h = std::make_shared<Histogram>();
        h->layer = QStringLiteral("%1 — %2").arg(QString::fromStdString(layer.name), QString::fromStdString(setting.label()));
        try { // an exception must not cross into the GUI thread through the future
            Tensor deq;
            const CompressedWeight c = compressWeight(layer, *w, setting, deq);
            std::vector<float> orig = layerMatrix(layer, *w);
            h->levels = levelsOf(c, orig, &h->levelsOf);
            h->original = sample(std::move(orig));
            h->compressed = sample(layerMatrix(layer, deq));
        } catch (const std::exception&) {
            return nullptr;
        }
        return h;
    }));
}

} // namespace leger::ui
