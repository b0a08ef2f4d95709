#pragma once
// Inline editors for the layer table (Qt's spinboxdelegate example): combo boxes for the
// format, scales and pattern, sliders for bits and sparsity. Every change goes to the model at
// once, so the size and the measured point follow the slider; one editor session is one undo step.

#include <QStyledItemDelegate>

namespace leger::ui {

class SettingDelegate : public QStyledItemDelegate {
    Q_OBJECT
public:
    using QStyledItemDelegate::QStyledItemDelegate;

    QWidget* createEditor(QWidget* parent, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
    void setEditorData(QWidget* editor, const QModelIndex& index) const override;
    void setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const override;
    void updateEditorGeometry(QWidget* editor, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
    /// Bits and sparsity are drawn as small bars, so the table reads like a row of sliders.
    void paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
};

} // namespace leger::ui
