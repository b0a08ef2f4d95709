#pragma once
// The layers panel: the layer table (filterable, multi-select, inline editors), and below it
// the setting editor that applies to the selected layers or to all, with uniform presets.

#include <QList>
#include <QWidget>

class QButtonGroup;
class QComboBox;
class QLabel;
class QLineEdit;
class QSortFilterProxyModel;
class QTableView;

namespace leger::ui {

class LayerTableModel;
class SettingEditor;
class Workbench;

class LayersPanel : public QWidget {
    Q_OBJECT
public:
    explicit LayersPanel(Workbench* workbench, QWidget* parent = nullptr);

    LayerTableModel* model() const { return model_; }
    QTableView* view() const { return view_; }
    SettingEditor* editor() const { return editor_; }
    QLineEdit* filter() const { return filter_; }
    /// Rows (in the layer order) the editor applies to: the selection, or all layers.
    QList<int> targetRows() const;
    /// Whether the editor applies to every layer (else to the selection).
    bool applyToAll() const;
    void setApplyToAll(bool all);
    /// Applies a preset (by Workbench::presets() name) to the target layers.
    void applyPreset(const QString& name);
    /// The uniform presets of the open model's kind (ONNX, or a language model's GGUF types).
    void fillPresets();
    /// Selects the layer at this row (in layer order) and scrolls to it.
    void selectLayer(int row);

signals:
    /// The current layer (for the per-layer views), -1 when none.
    void currentLayerChanged(int row);

private:
    void refreshEditor();

    Workbench* workbench_;
    LayerTableModel* model_;
    QSortFilterProxyModel* proxy_;
    QTableView* view_;
    QLineEdit* filter_;
    SettingEditor* editor_;
    QButtonGroup* scope_;
    QComboBox* presets_;
    QLabel* scopeLabel_;
};

} // namespace leger::ui
