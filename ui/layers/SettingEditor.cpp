#include "layers/SettingEditor.h"

#include <QCheckBox>
#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QSlider>
#include <algorithm>

#include "compress/Presets.h"

namespace leger::ui {

SettingEditor::SettingEditor(std::function<int()> nextDragId, QWidget* parent)
    : QWidget(parent), nextDragId_(std::move(nextDragId))
{
    format_ = new QComboBox(this);

    bits_ = new QSlider(Qt::Horizontal, this);
    bits_->setRange(2, 8);
    bits_->setPageStep(1);
    bits_->setTickPosition(QSlider::TicksBelow);
    bits_->setTickInterval(1);
    bits_->setToolTip(tr("Bits per integer code: 2^bits levels per scale"));
    bitsLabel_ = new QLabel(this);
    bitsLabel_->setMinimumWidth(bitsLabel_->fontMetrics().horizontalAdvance("8 bits "));

    granularity_ = new QComboBox(this);
    granularity_->addItem(tr("per tensor"), 0);
    granularity_->addItem(tr("per channel"), 1);
    granularity_->addItem(tr("per group of 32"), 32);
    granularity_->addItem(tr("per group of 64"), 64);
    granularity_->addItem(tr("per group of 128"), 128);
    granularity_->setToolTip(tr("Which weights share one scale (and zero point)"));

    symmetric_ = new QCheckBox(tr("Symmetric"), this);
    symmetric_->setToolTip(tr("Symmetric: codes centred on zero, no zero point. Asymmetric: a zero point per scale, "
                              "one more level for skewed weights"));
    clip_ = new QComboBox(this);
    clip_->addItem(tr("min/max range"), static_cast<int>(Clipping::MinMax));
    clip_->addItem(tr("MSE-optimal clipping"), static_cast<int>(Clipping::Mse));
    clip_->setToolTip(tr("The quantization range: the weights' min/max, or the clipping that minimises the squared error "
                         "(slower to compute)"));

    sparsity_ = new QSlider(Qt::Horizontal, this);
    sparsity_->setRange(0, 19); // 0 .. 95 % in steps of 5
    sparsity_->setPageStep(2);
    sparsity_->setTickPosition(QSlider::TicksBelow);
    sparsity_->setTickInterval(2);
    sparsity_->setToolTip(tr("Share of weights (or output channels) pruned to zero, smallest magnitude first"));
    sparsityLabel_ = new QLabel(this);
    sparsityLabel_->setMinimumWidth(sparsityLabel_->fontMetrics().horizontalAdvance("100 % "));
    pattern_ = new QComboBox(this);
    pattern_->addItem(tr("unstructured"), static_cast<int>(SparsityPattern::Unstructured));
    pattern_->addItem(tr("2:4 (50 %)"), static_cast<int>(SparsityPattern::N2M4));
    pattern_->addItem(tr("4:8 (50 %)"), static_cast<int>(SparsityPattern::N4M8));
    pattern_->addItem(tr("whole channels"), static_cast<int>(SparsityPattern::Channel));
    pattern_->setToolTip(tr("Which weights pruning removes"));
    mixed_ = new QLabel(tr("<i>mixed: the chosen layers differ; a change applies to all of them</i>"), this);

    // Label, choice, slider and its value on each row; the sliders get the room.
    bits_->setMinimumWidth(140);
    sparsity_->setMinimumWidth(140);
    auto* grid = new QGridLayout(this);
    grid->setContentsMargins(0, 0, 0, 0);
    auto* formatLabel = new QLabel(tr("&Format"), this);
    formatLabel->setBuddy(format_);
    auto* bitsLabel = new QLabel(tr("&Bits"), this);
    bitsLabel->setBuddy(bits_);
    auto* sparsityLabel = new QLabel(tr("&Sparsity"), this);
    sparsityLabel->setBuddy(sparsity_);
    grid->addWidget(formatLabel, 0, 0);
    grid->addWidget(format_, 0, 1);
    grid->addWidget(bitsLabel, 0, 2, Qt::AlignRight);
    grid->addWidget(bits_, 0, 3);
    grid->addWidget(bitsLabel_, 0, 4);
    grid->addWidget(new QLabel(tr("Scales"), this), 1, 0);
    grid->addWidget(granularity_, 1, 1);
    auto* quant = new QHBoxLayout;
    quant->addWidget(symmetric_);
    quant->addWidget(clip_);
    quant->addStretch(1);
    grid->addLayout(quant, 1, 2, 1, 3);
    grid->addWidget(sparsityLabel, 2, 0);
    grid->addWidget(pattern_, 2, 1);
    grid->addWidget(sparsity_, 2, 3);
    grid->addWidget(sparsityLabel_, 2, 4);
    grid->addWidget(mixed_, 3, 0, 1, 5);
    grid->setColumnStretch(3, 1);

    for (QSlider* s : {bits_, sparsity_})
        connect(s, &QSlider::sliderPressed, this, [this] { dragId_ = nextDragId_(); });
    connect(format_, &QComboBox::activated, this, [this](int i) {
        const auto f = static_cast<WeightFormat>(format_->itemData(i).toInt());
        emitEdit([f](LayerSetting s) { s.format = f; return s; }, tr("Format %1").arg(format_->itemText(i)), nullptr);
    });
    connect(bits_, &QSlider::valueChanged, this, [this](int b) {
        if (languageModel_) {
            const WeightFormat f = languageModelFormatForBits(b);
            bitsLabel_->setText(QString::fromLatin1(toString(f)));
            emitEdit([f](LayerSetting s) { s.format = f; return s; }, tr("Format %1").arg(toString(f)), bits_);
            return;
        }
        bitsLabel_->setText(tr("%1 bits").arg(b));
        emitEdit([b](LayerSetting s) { s.format = WeightFormat::Int; s.bits = b; return s; }, tr("Bits %1").arg(b), bits_);
    });
    connect(granularity_, &QComboBox::activated, this, [this](int i) {
        const int g = granularity_->itemData(i).toInt();
        emitEdit(
            [g](LayerSetting s) {
                s.granularity = g == 0 ? Granularity::Tensor : g == 1 ? Granularity::Channel : Granularity::Group;
                if (g > 1)
                    s.groupSize = g;
                return s;
            },
            tr("Scales %1").arg(granularity_->itemText(i)), nullptr);
    });
    connect(symmetric_, &QCheckBox::toggled, this, [this](bool on) {
        emitEdit([on](LayerSetting s) { s.symmetric = on; return s; }, on ? tr("Symmetric") : tr("Asymmetric"), nullptr);
    });
    connect(clip_, &QComboBox::activated, this, [this](int i) {
        const auto c = static_cast<Clipping>(clip_->itemData(i).toInt());
        emitEdit([c](LayerSetting s) { s.clip = c; return s; }, tr("Clipping %1").arg(clip_->itemText(i)), nullptr);
    });
    connect(sparsity_, &QSlider::valueChanged, this, [this](int v) {
        sparsityLabel_->setText(QStringLiteral("%1 %").arg(v * 5));
        const double f = v * 0.05;
        emitEdit(
            [f](LayerSetting s) {
                if (s.pattern == SparsityPattern::N2M4 || s.pattern == SparsityPattern::N4M8)
                    s.pattern = SparsityPattern::Unstructured;
                s.sparsity = f;
                return s;
            },
            tr("Sparsity %1 %").arg(v * 5), sparsity_);
    });
    connect(pattern_, &QComboBox::activated, this, [this](int i) {
        const auto p = static_cast<SparsityPattern>(pattern_->itemData(i).toInt());
        emitEdit(
            [p](LayerSetting s) {
                s.pattern = p;
                if (p == SparsityPattern::N2M4 || p == SparsityPattern::N4M8)
                    s.sparsity = 0.0;
                return s;
            },
            tr("Pattern %1").arg(pattern_->itemText(i)), nullptr);
    });
    setLanguageModel(false);
}

void SettingEditor::setLanguageModel(bool on)
{
    languageModel_ = on;
    bitsLabel_->setMinimumWidth(bitsLabel_->fontMetrics().horizontalAdvance(on ? "q5_K · 5.5 bits " : "8 bits "));
    const QSignalBlocker block(format_);
    format_->clear();
    if (on) {
        for (WeightFormat f : languageModelFormats())
            format_->addItem(QString::fromLatin1(toString(f)), static_cast<int>(f));
        format_->setToolTip(tr("How weights are stored in the GGUF file: float32, 16-bit floats, or one of GGUF's block "
                               "formats (blocks of 32 or 256 weights with their own scales, as llama.cpp quantizes)"));
        bits_->setToolTip(tr("Bits per weight through GGUF's K-quants: 2 q2_K, 3 q3_K, 4 q4_K, 5 q5_K, 6 q6_K, 7-8 q8_0"));
    } else {
        format_->addItem("float32", static_cast<int>(WeightFormat::Float32));
        format_->addItem("float16", static_cast<int>(WeightFormat::Float16));
        format_->addItem("bfloat16", static_cast<int>(WeightFormat::BFloat16));
        format_->addItem(tr("int"), static_cast<int>(WeightFormat::Int));
        format_->setToolTip(tr("How weights are stored: as they are (float32), as 16-bit floats, or as integer codes with scales"));
        bits_->setToolTip(tr("Bits per integer code: 2^bits levels per scale"));
    }
    showSetting(LayerSetting::none(), false);
}

void SettingEditor::emitEdit(const Edit& e, const QString& text, const QSlider* slider)
{
    // A drag (mouse held on the slider) is one step; keyboard steps are one each.
    const int id = slider && slider->isSliderDown() ? dragId_ : 0;
    emit edited(e, text, id);
}

void SettingEditor::updateEnabled(const LayerSetting& s)
{
    const bool isInt = s.format == WeightFormat::Int;
    granularity_->setEnabled(isInt);
    symmetric_->setEnabled(isInt);
    clip_->setEnabled(isInt);
    const bool nm = s.pattern == SparsityPattern::N2M4 || s.pattern == SparsityPattern::N4M8;
    // GGUF stores every weight: pruning would not make a language model's file smaller.
    sparsity_->setEnabled(!nm && !languageModel_);
    pattern_->setEnabled(!languageModel_);
}

void SettingEditor::showSetting(const LayerSetting& s, bool mixed)
{
    const QSignalBlocker b1(format_), b2(bits_), b3(granularity_), b4(symmetric_), b5(clip_), b6(sparsity_), b7(pattern_);
    format_->setCurrentIndex(format_->findData(static_cast<int>(s.format)));
    if (languageModel_) {
        // The slider stands at the K-quant of the format's bits (q4_0, q4_1 and q4_K at 4).
        const double bits = nominalBits(s);
        bits_->setValue(isBlockFormat(s.format) ? std::clamp(static_cast<int>(bits), 2, 8) : 8);
        bitsLabel_->setText(isBlockFormat(s.format) ? QStringLiteral("%1 · %2 bits").arg(toString(s.format)).arg(bits, 0, 'g', 3)
                                                    : tr("%1 bits").arg(bits));
    } else {
        bits_->setValue(s.bits);
        bitsLabel_->setText(s.format == WeightFormat::Int ? tr("%1 bits").arg(s.bits)
                                                          : tr("%1 bits").arg(s.format == WeightFormat::Float32 ? 32 : 16));
    }
    granularity_->setCurrentIndex(granularity_->findData(
        s.granularity == Granularity::Group ? s.groupSize : static_cast<int>(s.granularity)));
    symmetric_->setChecked(s.symmetric);
    clip_->setCurrentIndex(clip_->findData(static_cast<int>(s.clip)));
    const bool nm = s.pattern == SparsityPattern::N2M4 || s.pattern == SparsityPattern::N4M8;
    sparsity_->setValue(nm ? 10 : static_cast<int>(s.sparsity / 0.05 + 0.5));
    sparsityLabel_->setText(QStringLiteral("%1 %").arg(nm ? 50 : static_cast<int>(s.sparsity * 100 + 0.5)));
    pattern_->setCurrentIndex(pattern_->findData(static_cast<int>(s.pattern)));
    mixed_->setVisible(mixed);
    updateEnabled(s);
}

} // namespace leger::ui
