#include "layers/SettingDelegate.h"

#include "compress/Presets.h"

#include <QAbstractProxyModel>
#include <QApplication>
#include <QComboBox>
#include <QPainter>
#include <QSlider>

#include "compress/LayerSetting.h"
#include "layers/LayerTableModel.h"
#include "workbench/Workbench.h"

namespace leger::ui {

namespace {

/// The layer model behind a (possibly proxied) index, and the index in it.
std::pair<LayerTableModel*, QModelIndex> source(const QModelIndex& index)
{
    const QAbstractItemModel* m = index.model();
    QModelIndex i = index;
    while (const auto* proxy = qobject_cast<const QAbstractProxyModel*>(m)) {
        i = proxy->mapToSource(i);
        m = proxy->sourceModel();
    }
    return {const_cast<LayerTableModel*>(qobject_cast<const LayerTableModel*>(m)), i};
}

void fillCombo(QComboBox* c, int column, bool languageModel)
{
    switch (column) {
    case LayerTableModel::Format:
        if (languageModel) { // GGUF's types
            for (WeightFormat f : languageModelFormats())
                c->addItem(QString::fromLatin1(toString(f)), static_cast<int>(f));
            break;
        }
        c->addItem("float32", static_cast<int>(WeightFormat::Float32));
        c->addItem("float16", static_cast<int>(WeightFormat::Float16));
        c->addItem("bfloat16", static_cast<int>(WeightFormat::BFloat16));
        c->addItem(QObject::tr("int (codes + scales)"), static_cast<int>(WeightFormat::Int));
        break;
    case LayerTableModel::Granularity:
        c->addItem(QObject::tr("tensor"), 0);
        c->addItem(QObject::tr("channel"), 1);
        c->addItem(QObject::tr("group 32"), 32);
        c->addItem(QObject::tr("group 64"), 64);
        c->addItem(QObject::tr("group 128"), 128);
        break;
    case LayerTableModel::Pattern:
        c->addItem(QObject::tr("unstructured"), static_cast<int>(SparsityPattern::Unstructured));
        c->addItem("2:4", static_cast<int>(SparsityPattern::N2M4));
        c->addItem("4:8", static_cast<int>(SparsityPattern::N4M8));
        c->addItem(QObject::tr("channels"), static_cast<int>(SparsityPattern::Channel));
        break;
    }
}

} // namespace

QWidget* SettingDelegate::createEditor(QWidget* parent, const QStyleOptionViewItem& option, const QModelIndex& index) const
{
    auto [model, src] = source(index);
    if (!model)
        return QStyledItemDelegate::createEditor(parent, option, index);
    const int column = src.column();
    const QPersistentModelIndex target(src);
    if (column == LayerTableModel::Bits || column == LayerTableModel::Sparsity) {
        auto* slider = new QSlider(Qt::Horizontal, parent);
        slider->setAutoFillBackground(true);
        if (column == LayerTableModel::Bits) {
            slider->setRange(2, 8);
            slider->setPageStep(1);
        } else {
            slider->setRange(0, 19); // 0 .. 95 % in steps of 5
            slider->setPageStep(2);
        }
        const int dragId = model->workbench()->newDragId(); // one editor session = one undo step
        connect(slider, &QSlider::valueChanged, this, [model, target, column, dragId](int v) {
            if (target.isValid())
                model->setValue(target, column == LayerTableModel::Bits ? QVariant(v) : QVariant(v * 0.05), dragId);
        });
        return slider;
    }
    if (column == LayerTableModel::Format || column == LayerTableModel::Granularity || column == LayerTableModel::Pattern) {
        auto* combo = new QComboBox(parent);
        fillCombo(combo, column, model->workbench()->isLanguageModel());
        connect(combo, &QComboBox::activated, this, [model, target, combo](int i) {
            if (target.isValid())
                model->setValue(target, combo->itemData(i), 0);
        });
        return combo;
    }
    return QStyledItemDelegate::createEditor(parent, option, index);
}

void SettingDelegate::setEditorData(QWidget* editor, const QModelIndex& index) const
{
    const QVariant v = index.data(Qt::EditRole);
    if (auto* slider = qobject_cast<QSlider*>(editor)) {
        const QSignalBlocker block(slider);
        const int column = source(index).second.column();
        slider->setValue(column == LayerTableModel::Bits ? v.toInt() : static_cast<int>(v.toDouble() / 0.05 + 0.5));
    } else if (auto* combo = qobject_cast<QComboBox*>(editor)) {
        const QSignalBlocker block(combo);
        combo->setCurrentIndex(std::max(0, combo->findData(v.toInt())));
    } else {
        QStyledItemDelegate::setEditorData(editor, index);
    }
}

void SettingDelegate::setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const
{
    // Sliders and combo boxes have already applied every change as it happened.
    if (qobject_cast<QSlider*>(editor) || qobject_cast<QComboBox*>(editor))
        return;
    QStyledItemDelegate::setModelData(editor, model, index);
}

void SettingDelegate::updateEditorGeometry(QWidget* editor, const QStyleOptionViewItem& option, const QModelIndex&) const
{
    editor->setGeometry(option.rect);
}

void SettingDelegate::paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const
{
    const int column = source(index).second.column();
    const bool editable = index.flags() & Qt::ItemIsEditable;
    if (!editable || (column != LayerTableModel::Bits && column != LayerTableModel::Sparsity)) {
        QStyledItemDelegate::paint(painter, option, index);
        return;
    }
    // Background and selection as usual, then a thin bar under the text showing the value.
    QStyleOptionViewItem opt = option;
    initStyleOption(&opt, index);
    const QString text = opt.text;
    opt.text.clear();
    const QWidget* w = opt.widget;
    QStyle* style = w ? w->style() : QApplication::style();
    style->drawControl(QStyle::CE_ItemViewItem, &opt, painter, w);
    double fraction = 0;
    if (column == LayerTableModel::Bits)
        fraction = (index.data(Qt::EditRole).toInt() - 2) / 6.0;
    else
        fraction = index.data(Qt::EditRole).toDouble() / 0.95;
    const QRect r = opt.rect.adjusted(4, 3, -4, -3);
    const QRect track(r.left(), r.bottom() - 3, r.width(), 3);
    painter->save();
    const QPalette& pal = opt.palette;
    painter->fillRect(track, pal.color(QPalette::Mid));
    painter->fillRect(QRect(track.left(), track.top(), static_cast<int>(track.width() * std::clamp(fraction, 0.0, 1.0)),
                            track.height()),
                      pal.color(QPalette::Highlight));
    painter->setPen(pal.color(opt.state & QStyle::State_Selected ? QPalette::HighlightedText : QPalette::Text));
    painter->drawText(r.adjusted(0, 0, 0, -4), Qt::AlignRight | Qt::AlignVCenter, text);
    painter->restore();
}

} // namespace leger::ui
