#include "layers/LayerTableModel.h"

#include <QLocale>

namespace leger::ui {

LayerTableModel::LayerTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void LayerTableModel::setLayers(std::vector<Layer> layers)
{
    beginResetModel();
    layers_ = std::move(layers);
    endResetModel();
}

int LayerTableModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(layers_.size());
}

int LayerTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant LayerTableModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Layer& l = layers_[static_cast<std::size_t>(index.row())];
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case Name: return QString::fromStdString(l.name);
        case Op: return QString::fromStdString(l.opType);
        case Shape: return QString::fromStdString(shapeToString(l.shape));
        case Parameters: return QLocale().toString(static_cast<qlonglong>(l.parameters));
        }
    } else if (role == Qt::TextAlignmentRole && index.column() == Parameters) {
        return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
    } else if (role == Qt::ToolTipRole && index.column() == Name) {
        return tr("Weight tensor %1, read by node %2")
            .arg(QString::fromStdString(l.name), QString::fromStdString(l.nodeName));
    }
    return {};
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Name: return tr("Layer");
    case Op: return tr("Op");
    case Shape: return tr("Shape");
    case Parameters: return tr("Parameters");
    }
    return {};
}

} // namespace leger::ui
