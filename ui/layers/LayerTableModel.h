#pragma once

#include <QAbstractTableModel>
#include <vector>

#include "model/Layer.h"

namespace leger::ui {

/// The compressible layers of the open model, one row each (read-only for now).
class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Name, Op, Shape, Parameters, ColumnCount };

    explicit LayerTableModel(QObject* parent = nullptr);
    void setLayers(std::vector<Layer> layers);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    std::vector<Layer> layers_;
};

} // namespace leger::ui
