#include "compress/SizeReport.h"

#include <cmath>
#include <unordered_set>

#include "compress/Pruner.h"
#include "io/LegerContainer.h"
#include "model/Layer.h"
#include "model/Model.h"

namespace leger {

namespace {

std::int64_t ceilDiv8(std::int64_t bits) { return (bits + 7) / 8; }

bool isNM(SparsityPattern p) { return p == SparsityPattern::N2M4 || p == SparsityPattern::N4M8; }

} // namespace

LayerBytes layerPayloadBytes(const LayerSetting& s, std::int64_t rows, std::int64_t cols)
{
    LayerBytes b;
    b.weights = rows * cols;
    b.stored = Pruner::keptCount(s, rows, cols);
    switch (s.format) {
    case WeightFormat::Float32: b.codes = 4 * b.stored; break;
    case WeightFormat::Float16:
    case WeightFormat::BFloat16: b.codes = 2 * b.stored; break;
    case WeightFormat::Int: {
        b.codes = ceilDiv8(b.stored * s.bits);
        // As CompressedWeight::scaleCount: one per tensor, per row, or per group of a row.
        std::int64_t scales = 1;
        if (s.granularity == Granularity::Channel)
            scales = rows;
        else if (s.granularity == Granularity::Group)
            scales = rows * (s.groupSize >= cols ? 1 : (cols + s.groupSize - 1) / s.groupSize);
        b.scales = 2 * scales;
        b.zeroPoints = s.symmetric ? 0 : scales;
        break;
    }
    default: // a block format: ggml's blocks, scales inside (never pruned)
        b.codes = rows * (cols / blockWeights(s.format)) * blockBytes(s.format);
        break;
    }
    if (isNM(s.pattern)) {
        const std::int64_t indexBits = s.pattern == SparsityPattern::N2M4 ? 2 : 3; // log2(M)
        b.sparsity = ceilDiv8(Pruner::keptInCompleteGroups(s, rows, cols) * indexBits);
    } else if (s.sparsity > 0.0) {
        b.sparsity = s.pattern == SparsityPattern::Channel ? ceilDiv8(rows) : ceilDiv8(b.weights);
    }
    return b;
}

SizeModel::SizeModel(const Model& model, const std::vector<Layer>& layers)
{
    init(model, layers, static_cast<std::int64_t>(LegerContainer::graphSection(model).size()));
}

SizeModel::SizeModel(const Model& model, const std::vector<Layer>& layers, std::int64_t graphBytes)
{
    init(model, layers, graphBytes);
}

void SizeModel::init(const Model& model, const std::vector<Layer>& layers, std::int64_t graphBytes)
{
    std::unordered_set<std::string_view> names;
    for (const Layer& l : layers) {
        names.insert(l.name);
        rows_.push_back(l.rows);
        cols_.push_back(l.cols);
        headers_.push_back(LegerContainer::layerRecordHeaderBytes(l.name, l.shape.size()));
        layerWeights_ += l.rows * l.cols;
    }
    for (const auto& [name, t] : model.graph.initializers) {
        if (names.count(name))
            continue;
        untouched_ += LegerContainer::tensorPayloadBytes(t);
        tensorHeaders_ += LegerContainer::tensorRecordHeaderBytes(name, t.shape().size());
    }
    graphBytes_ = graphBytes;
    originalBytes_ = model.fileBytes;
    fixed_ = LegerContainer::kHeaderBytes + graphBytes_ + untouched_ + tensorHeaders_;
    for (std::int64_t h : headers_)
        fixed_ += h;
}

std::int64_t SizeModel::total(const std::vector<LayerSetting>& settings) const
{
    std::int64_t sum = fixed_;
    const std::size_t n = std::min(settings.size(), rows_.size());
    for (std::size_t i = 0; i < n; ++i)
        sum += layerPayloadBytes(settings[i], rows_[i], cols_[i]).payload();
    // Layers without a setting are float32, unpruned.
    for (std::size_t i = n; i < rows_.size(); ++i)
        sum += 4 * rows_[i] * cols_[i];
    return sum;
}

SizeReport SizeModel::report(const std::vector<LayerSetting>& settings) const
{
    SizeReport r;
    r.layers.resize(rows_.size());
    r.untouchedTensors = untouched_;
    r.tensorHeaders = tensorHeaders_;
    r.containerHeader = LegerContainer::kHeaderBytes;
    r.graphBytes = graphBytes_;
    r.total = fixed_;
    r.layerWeights = layerWeights_;
    r.originalBytes = originalBytes_;
    r.float32Bytes = fixed_ + 4 * layerWeights_;
    std::int64_t payload = 0;
    for (std::size_t i = 0; i < rows_.size(); ++i) {
        LayerBytes& b = r.layers[i];
        b = layerPayloadBytes(i < settings.size() ? settings[i] : LayerSetting::none(), rows_[i], cols_[i]);
        b.header = headers_[i];
        payload += b.payload();
    }
    r.total += payload;
    r.bitsPerWeight = layerWeights_ > 0 ? 8.0 * static_cast<double>(payload) / static_cast<double>(layerWeights_) : 0.0;
    r.ratioToOriginal = static_cast<double>(r.originalBytes) / static_cast<double>(r.total);
    r.ratioToFloat32 = static_cast<double>(r.float32Bytes) / static_cast<double>(r.total);
    return r;
}

} // namespace leger
