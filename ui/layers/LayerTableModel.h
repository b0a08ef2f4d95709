#pragma once
// The compressible layers of the open model, one row each, with their settings in the plan:
// the editable columns change the plan only through the Workbench's undoable edits (Tiled's
// rule: a table model never mutates the document directly).

#include <QAbstractTableModel>
#include <vector>

#include "session/CsvExport.h"

namespace leger::ui {

class Workbench;

class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    /// The editable columns come first after the name, then what they give, then the layer's facts.
    enum Column {
        Name, Format, Bits, Granularity, Sparsity, Pattern, Size, Sqnr, Sensitivity, Op, Shape, Parameters,
        ColumnCount
    };
    /// Raw values for export and sorting (bytes as integers, fractions as numbers).
    static constexpr int kExportRole = leger::ui::kExportRole;
    /// The drag id an editor passes with setData so that a slider drag is one undo step.
    static constexpr int kDragRole = Qt::UserRole + 101;

    explicit LayerTableModel(Workbench* workbench, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    /// Edits go to the Workbench as undoable plan changes; value for Format/Granularity/Pattern
    /// is the enum's integer (Granularity: 0 tensor, 1 channel, 32/64/128 groups of that size),
    /// for Bits the bit width, for Sparsity a fraction in [0, 1).
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    /// setData with a drag id: consecutive edits with the same id merge into one undo step.
    bool setValue(const QModelIndex& index, const QVariant& value, int dragId);

    /// The Workbench these rows show.
    Workbench* workbench() const { return workbench_; }

private:
    void rowsChanged(const QList<int>& rows, int firstColumn, int lastColumn);
    double sensitivityOf(int row) const;

    Workbench* workbench_;
    int rows_ = 0;
};

} // namespace leger::ui
