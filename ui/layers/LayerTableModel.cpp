#include "layers/LayerTableModel.h"

#include "compress/Presets.h"

#include <QLocale>
#include <cmath>

#include "model/Layer.h"
#include "search/Search.h"
#include "workbench/MetricInfo.h"
#include "workbench/Workbench.h"

namespace leger::ui {

LayerTableModel::LayerTableModel(Workbench* workbench, QObject* parent)
    : QAbstractTableModel(parent), workbench_(workbench)
{
    connect(workbench_, &Workbench::modelChanged, this, [this] {
        beginResetModel();
        rows_ = static_cast<int>(workbench_->layers().size());
        endResetModel();
    });
    connect(workbench_, &Workbench::settingsChanged, this,
            [this](const QList<int>& rows) { rowsChanged(rows, Format, Sensitivity); });
    static_assert(Format < Sensitivity && Sqnr < Sensitivity, "the columns a setting changes are contiguous");
    connect(workbench_, &Workbench::currentChanged, this, [this] { rowsChanged({}, Sqnr, Sqnr); });
    connect(workbench_, &Workbench::sensitivityChanged, this, [this] { rowsChanged({}, Sensitivity, Sensitivity); });
    connect(workbench_, &Workbench::metricChanged, this, [this] {
        emit headerDataChanged(Qt::Horizontal, Sensitivity, Sensitivity);
        rowsChanged({}, Sensitivity, Sensitivity);
    });
    rows_ = static_cast<int>(workbench_->layers().size());
}

void LayerTableModel::rowsChanged(const QList<int>& rows, int first, int last)
{
    if (rows_ == 0)
        return;
    if (rows.isEmpty()) {
        emit dataChanged(index(0, first), index(rows_ - 1, last));
        return;
    }
    int lo = rows.front(), hi = rows.front();
    for (int r : rows) {
        lo = std::min(lo, r);
        hi = std::max(hi, r);
    }
    emit dataChanged(index(lo, first), index(hi, last));
}

int LayerTableModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : rows_; }

int LayerTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

double LayerTableModel::sensitivityOf(int row) const
{
    const auto t = workbench_->sensitivity();
    if (!t || static_cast<std::size_t>(row) >= t->drop.size())
        return std::nan("");
    const LayerSetting& s = workbench_->settings()[static_cast<std::size_t>(row)];
    for (std::size_t c = 0; c < t->settings.size(); ++c)
        if (t->settings[c] == s)
            return t->drop[static_cast<std::size_t>(row)][c];
    return std::nan("");
}

namespace {

QString formatName(const LayerSetting& s) { return QString::fromLatin1(toString(s.format)); }

QString granularityName(const LayerSetting& s)
{
    if (s.format != WeightFormat::Int)
        return QStringLiteral("—");
    switch (s.granularity) {
    case Granularity::Tensor: return QObject::tr("tensor");
    case Granularity::Channel: return QObject::tr("channel");
    case Granularity::Group: return QObject::tr("group %1").arg(s.groupSize);
    }
    return {};
}

QString patternName(SparsityPattern p)
{
    switch (p) {
    case SparsityPattern::Unstructured: return QObject::tr("unstructured");
    case SparsityPattern::N2M4: return QStringLiteral("2:4");
    case SparsityPattern::N4M8: return QStringLiteral("4:8");
    case SparsityPattern::Channel: return QObject::tr("channels");
    }
    return {};
}

} // namespace

QVariant LayerTableModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const auto row = static_cast<std::size_t>(index.row());
    if (row >= workbench_->layers().size())
        return {};
    const Layer& l = workbench_->layers()[row];
    const LayerSetting& s = workbench_->settings()[row];
    const SizeReport& size = workbench_->sizeReport();
    const LayerBytes bytes = row < size.layers.size() ? size.layers[row] : LayerBytes{};
    // Only the columns that show them look up the measurement, the scan and the metric: data()
    // runs for every cell and role on each repaint while a slider moves.
    const int column = index.column();
    double sqnr = std::nan(""), sens = std::nan("");
    MetricInfo metric;
    if (column == Sqnr) {
        if (const auto current = workbench_->current(); current && row < current->layers.size())
            sqnr = current->layers[row].weightSqnrDb;
    } else if (column == Sensitivity) {
        sens = sensitivityOf(index.row());
        metric = MetricInfo::of(workbench_->metric());
    }
    const bool isInt = s.format == WeightFormat::Int;
    const bool nm = s.pattern == SparsityPattern::N2M4 || s.pattern == SparsityPattern::N4M8;

    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case Name: return QString::fromStdString(l.name);
        case Op: return QString::fromStdString(l.opType);
        case Shape: return QString::fromStdString(shapeToString(l.shape));
        case Parameters: return QLocale().toString(static_cast<qlonglong>(l.parameters));
        case Format: return formatName(s);
        case Bits: return QString::number(nominalBits(s), 'g', 3);
        case Granularity: return granularityName(s);
        case Sparsity:
            return nm ? QStringLiteral("50 %") : QStringLiteral("%1 %").arg(s.sparsity * 100.0, 0, 'f', 0);
        case Pattern: return patternName(s.pattern);
        case Size: return QLocale().formattedDataSize(bytes.total(), 1, QLocale::DataSizeSIFormat);
        case Sqnr:
            if (std::isnan(sqnr))
                return QString();
            return std::isinf(sqnr) ? QStringLiteral("∞") : QStringLiteral("%1 dB").arg(sqnr, 0, 'f', 1);
        case Sensitivity: return std::isnan(sens) ? QString() : metric.format(sens * metric.scale);
        }
    } else if (role == Qt::EditRole) {
        switch (index.column()) {
        case Format: return static_cast<int>(s.format);
        case Bits: return s.bits;
        case Granularity: return s.granularity == leger::Granularity::Group ? s.groupSize : static_cast<int>(s.granularity);
        case Sparsity: return s.sparsity;
        case Pattern: return static_cast<int>(s.pattern);
        }
    } else if (role == kExportRole) {
        switch (index.column()) {
        case Name: return QString::fromStdString(l.name);
        case Op: return QString::fromStdString(l.opType);
        case Shape: return QString::fromStdString(shapeToString(l.shape));
        case Parameters: return static_cast<qlonglong>(l.parameters);
        case Format: return formatName(s);
        case Bits: return nominalBits(s);
        case Granularity: return isInt ? granularityName(s) : QString();
        case Sparsity: return nm ? 0.5 : s.sparsity;
        case Pattern: return patternName(s.pattern);
        case Size: return static_cast<qlonglong>(bytes.total());
        case Sqnr: return std::isfinite(sqnr) ? QVariant(sqnr) : QVariant(QString(std::isinf(sqnr) ? "inf" : ""));
        case Sensitivity: return std::isnan(sens) ? QVariant(QString()) : QVariant(sens);
        }
    } else if (role == Qt::TextAlignmentRole) {
        switch (index.column()) {
        case Parameters:
        case Bits:
        case Sparsity:
        case Size:
        case Sqnr:
        case Sensitivity: return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        }
    } else if (role == Qt::ToolTipRole) {
        switch (index.column()) {
        case Name:
            return tr("Weight tensor %1, read by node %2 (%3 × %4 as a matrix)")
                .arg(QString::fromStdString(l.name), QString::fromStdString(l.nodeName))
                .arg(l.rows)
                .arg(l.cols);
        case Format: return tr("%1 — double-click to change").arg(QString::fromStdString(s.label()));
        case Size:
            return tr("Bytes in the export: codes %1, sparsity metadata %2, scales %3, zero points %4, record header %5")
                .arg(bytes.codes)
                .arg(bytes.sparsity)
                .arg(bytes.scales)
                .arg(bytes.zeroPoints)
                .arg(bytes.header);
        case Sqnr:
            return tr("Weight SQNR: 10·log10(‖W‖² / ‖W − Ŵ‖²) of this layer's compressed weight Ŵ, in dB "
                      "(∞: unchanged). Measured with the current plan.");
        case Sensitivity:
            return tr("Drop of %1 with this layer alone at its current setting and every other layer "
                      "uncompressed, from the sensitivity scan (blank: the scan did not try this setting).")
                .arg(metric.title);
        }
    }
    return {};
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case Name: return tr("Layer");
        case Op: return tr("Op");
        case Shape: return tr("Shape");
        case Parameters: return tr("Parameters");
        case Format: return tr("Format");
        case Bits: return tr("Bits");
        case Granularity: return tr("Scales per");
        case Sparsity: return tr("Sparsity");
        case Pattern: return tr("Pattern");
        case Size: return tr("Size");
        case Sqnr: return tr("Weight SQNR");
        case Sensitivity: return tr("Sensitivity");
        }
    } else if (role == Qt::ToolTipRole) {
        switch (section) {
        case Format: return tr("How weights are stored: float32 (as is), float16, bfloat16, or integer codes with scales");
        case Bits: return tr("Bits per integer code (2–8); drag the slider, or use ← → when editing");
        case Granularity: return tr("Which weights share a scale: the whole tensor, each output channel, or groups of 32/64/128 inputs");
        case Sparsity: return tr("Fraction of weights (or output channels) pruned to exactly zero, smallest magnitude first");
        case Pattern: return tr("Which weights pruning removes: any, 2 of every 4, 4 of every 8, or whole output channels");
        case Size: return tr("Exact bytes of this layer's record in the .leger export");
        case Sqnr: return tr("Weight SQNR of each layer under the current plan, in dB (higher: closer to the original)");
        case Sensitivity: return tr("Metric drop with this layer alone compressed at its setting (sensitivity scan)");
        }
    }
    return {};
}

Qt::ItemFlags LayerTableModel::flags(const QModelIndex& index) const
{
    Qt::ItemFlags f = QAbstractTableModel::flags(index);
    if (!index.isValid())
        return f;
    const LayerSetting& s = workbench_->settings()[static_cast<std::size_t>(index.row())];
    switch (index.column()) {
    case Format: return f | Qt::ItemIsEditable;
    case Sparsity:
    case Pattern: return workbench_->isLanguageModel() ? f : f | Qt::ItemIsEditable; // GGUF stores every weight
    case Bits:
    case Granularity: return s.format == WeightFormat::Int ? f | Qt::ItemIsEditable : f;
    }
    return f;
}

bool LayerTableModel::setData(const QModelIndex& index, const QVariant& value, int role)
{
    if (role != Qt::EditRole && role != kDragRole)
        return false;
    return setValue(index, value, 0);
}

bool LayerTableModel::setValue(const QModelIndex& index, const QVariant& value, int dragId)
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid) ||
        !(flags(index) & Qt::ItemIsEditable))
        return false;
    bool ok = false;
    const int column = index.column();
    const double v = value.toDouble(&ok);
    if (!ok)
        return false;
    const int i = static_cast<int>(v);
    std::function<LayerSetting(LayerSetting)> edit;
    QString text;
    const QString layer = QString::fromStdString(workbench_->layers()[static_cast<std::size_t>(index.row())].name);
    switch (column) {
    case Format:
        // A format the layer cannot take is fitted or ignored by Workbench::editLayers.
        if (i < 0 || i > static_cast<int>(WeightFormat::Q6_K))
            return false;
        edit = [i](LayerSetting s) { s.format = static_cast<WeightFormat>(i); return s; };
        text = tr("Format of %1").arg(layer);
        break;
    case Bits:
        if (i < 2 || i > 8)
            return false;
        edit = [i](LayerSetting s) { s.bits = i; return s; };
        text = tr("Bits of %1").arg(layer);
        break;
    case Granularity:
        // 0 tensor, 1 channel, else groups of that size (32, 64, 128).
        if (i != 0 && i != 1 && i != 32 && i != 64 && i != 128)
            return false;
        edit = [i](LayerSetting s) {
            s.granularity = i == 0 ? leger::Granularity::Tensor : i == 1 ? leger::Granularity::Channel : leger::Granularity::Group;
            if (i > 1)
                s.groupSize = i;
            return s;
        };
        text = tr("Scales of %1").arg(layer);
        break;
    case Sparsity:
        if (!(v >= 0.0 && v < 1.0))
            return false;
        edit = [v](LayerSetting s) {
            s.sparsity = v;
            if (s.pattern == SparsityPattern::N2M4 || s.pattern == SparsityPattern::N4M8)
                s.pattern = SparsityPattern::Unstructured;
            return s;
        };
        text = tr("Sparsity of %1").arg(layer);
        break;
    case Pattern:
        if (i < 0 || i > static_cast<int>(SparsityPattern::Channel))
            return false;
        edit = [i](LayerSetting s) { s.pattern = static_cast<SparsityPattern>(i); return s; };
        text = tr("Pruning pattern of %1").arg(layer);
        break;
    default: return false;
    }
    workbench_->editLayers({index.row()}, edit, text, dragId);
    return true;
}

} // namespace leger::ui
