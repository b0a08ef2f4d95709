#pragma once
// Sliders and choices for one compression setting, applied at once to the layers chosen by
// the panel (the selection, or every layer). Each control changes only its own field of each
// layer's setting; a slider drag is one undo step.

#include <QWidget>
#include <functional>

#include "compress/LayerSetting.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QSlider;

namespace leger::ui {

class SettingEditor : public QWidget {
    Q_OBJECT
public:
    using Edit = std::function<LayerSetting(LayerSetting)>;
    /// nextDragId: a new undo-merge id for each slider drag.
    SettingEditor(std::function<int()> nextDragId, QWidget* parent = nullptr);

    /// Offers a language model's choices: GGUF's types, the bits slider moving through the
    /// K-quants (q2_K .. q6_K, then q8_0); scales, clipping and sparsity do not apply.
    void setLanguageModel(bool on);
    /// Shows a setting (the first chosen layer's); mixed: the chosen layers differ.
    void showSetting(const LayerSetting& s, bool mixed);

    QSlider* bitsSlider() const { return bits_; }
    QSlider* sparsitySlider() const { return sparsity_; }
    QComboBox* formatBox() const { return format_; }

signals:
    /// A control changed: apply `edit` to the chosen layers (text for the undo stack).
    void edited(const leger::ui::SettingEditor::Edit& edit, const QString& text, int dragId);

private:
    void emitEdit(const Edit& e, const QString& text, const QSlider* slider);
    void updateEnabled(const LayerSetting& s);

    std::function<int()> nextDragId_;
    bool languageModel_ = false;
    int dragId_ = 0;
    QComboBox* format_;
    QSlider* bits_;
    QLabel* bitsLabel_;
    QComboBox* granularity_;
    QCheckBox* symmetric_;
    QComboBox* clip_;
    QSlider* sparsity_;
    QLabel* sparsityLabel_;
    QComboBox* pattern_;
    QLabel* mixed_;
};

} // namespace leger::ui
