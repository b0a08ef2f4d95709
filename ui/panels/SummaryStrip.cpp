#include "panels/SummaryStrip.h"

#include <QHBoxLayout>
#include <QVBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QProgressBar>
#include <QToolButton>
#include <cmath>

#include "eval/Evaluator.h"
#include "workbench/MetricInfo.h"
#include "workbench/Workbench.h"

namespace leger::ui {

namespace {
QLabel* cell(QWidget* parent, const QString& tip)
{
    auto* l = new QLabel(parent);
    l->setToolTip(tip);
    l->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return l;
}

QFrame* separator(QWidget* parent)
{
    auto* f = new QFrame(parent);
    f->setFrameShape(QFrame::VLine);
    f->setFrameShadow(QFrame::Sunken);
    return f;
}
} // namespace

SummaryStrip::SummaryStrip(Workbench* workbench, QWidget* parent) : QWidget(parent), workbench_(workbench)
{
    size_ = cell(this, tr("Exact size of the compressed model as a .leger file (the export writes exactly this many bytes)"));
    ratio_ = cell(this, tr("How many times smaller than the original model file, and than the same export with every "
                           "layer float32"));
    bits_ = cell(this, tr("Bits per weight: 8 × the bytes encoding the layers' weights (codes, sparsity metadata, scales, "
                          "zero points) / the number of weights"));
    metric_ = cell(this, {});
    delta_ = cell(this, tr("Change of the metric against the uncompressed model on the same samples"));
    flips_ = cell(this, tr("Flips: samples the uncompressed model got right and the compressed one gets wrong (lost), "
                           "and the reverse (gained)"));
    samples_ = cell(this, tr("Samples the shown result covers, of those in the data: the interval narrows as it grows"));
    engine_ = cell(this, tr("What the background engine is doing"));
    progress_ = new QProgressBar(this);
    progress_->setMaximumWidth(220);
    progress_->setTextVisible(true);
    progress_->hide();
    cancel_ = new QToolButton(this);
    cancel_->setText(tr("Cancel"));
    cancel_->setToolTip(tr("Stop the running search (Esc)"));
    cancel_->setShortcut(Qt::Key_Escape);
    cancel_->hide();
    connect(cancel_, &QToolButton::clicked, workbench_, &Workbench::cancelJob);

    QFont big = font();
    big.setPointSizeF(big.pointSizeF() * 1.25);
    big.setBold(true);
    size_->setFont(big);
    metric_->setFont(big);

    // Two rows, so that the strip never makes the window wider than a laptop screen: the plan's
    // size and measured metric first, then the details and what the engine is doing.
    auto* top = new QHBoxLayout;
    top->addWidget(size_);
    top->addWidget(ratio_);
    top->addWidget(bits_);
    top->addSpacing(16);
    top->addWidget(separator(this));
    top->addSpacing(16);
    top->addWidget(metric_);
    top->addWidget(delta_);
    top->addStretch(1);
    auto* bottom = new QHBoxLayout;
    bottom->addWidget(samples_);
    bottom->addWidget(flips_);
    bottom->addStretch(1);
    bottom->addWidget(engine_);
    bottom->addWidget(progress_);
    bottom->addWidget(cancel_);
    auto* l = new QVBoxLayout(this);
    l->setContentsMargins(8, 4, 8, 4);
    l->setSpacing(2);
    l->addLayout(top);
    l->addLayout(bottom);

    connect(workbench_, &Workbench::settingsChanged, this, [this] {
        updateSize();
        updateMetric();
    });
    connect(workbench_, &Workbench::modelChanged, this, &SummaryStrip::updateSize);
    for (auto sig : {&Workbench::currentChanged, &Workbench::baselineChanged, &Workbench::metricChanged})
        connect(workbench_, sig, this, &SummaryStrip::updateMetric);
    connect(workbench_, &Workbench::engineStateChanged, this, &SummaryStrip::updateEngine);
    connect(workbench_, &Workbench::jobChanged, this, [this](bool running, qint64 done, qint64 total, const QString& what) {
        progress_->setVisible(running);
        cancel_->setVisible(running);
        if (running) {
            progress_->setRange(0, total > 0 ? static_cast<int>(total) : 0);
            progress_->setValue(static_cast<int>(done));
            progress_->setFormat(total > 0 ? QStringLiteral("%v / %m") : QString());
            progress_->setToolTip(what);
            engine_->setText(what.size() > 48 ? what.left(47) + QChar(0x2026) : what);
        } else {
            updateEngine();
        }
    });
    updateSize();
    updateMetric();
    updateEngine();
}

void SummaryStrip::updateSize()
{
    if (!workbench_->isOpen()) {
        size_->setText(tr("No model"));
        ratio_->clear();
        bits_->clear();
        return;
    }
    const SizeReport& r = workbench_->sizeReport();
    const QLocale loc;
    size_->setText(loc.formattedDataSize(r.total, 2, QLocale::DataSizeSIFormat));
    size_->setToolTip(tr("%1 bytes exactly, as %2")
                          .arg(loc.toString(static_cast<qlonglong>(r.total)),
                               workbench_->isLanguageModel() ? tr("a GGUF file") : tr("a .leger file")));
    // Against the original file: a float16 source is smaller than its float32 export.
    const QString vsOriginal = r.ratioToOriginal >= 1.0 || r.ratioToOriginal <= 0.0
                                   ? tr("%1× smaller").arg(r.ratioToOriginal, 0, 'f', 2)
                                   : tr("%1× larger").arg(1.0 / r.ratioToOriginal, 0, 'f', 2);
    ratio_->setText(tr("%1 · %2× vs float32").arg(vsOriginal).arg(r.ratioToFloat32, 0, 'f', 2));
    bits_->setText(tr("%1 bits/weight").arg(r.bitsPerWeight, 0, 'f', 2));
}

void SummaryStrip::updateMetric()
{
    const MetricInfo m = MetricInfo::of(workbench_->metric());
    metric_->setToolTip(m.definition);
    const auto cur = workbench_->current();
    const auto base = workbench_->baseline();
    if (!workbench_->hasData()) {
        metric_->setText(tr("No evaluation data"));
        delta_->setText(tr("open data to measure the compressed model"));
        flips_->clear();
        samples_->clear();
        return;
    }
    const Interval* v = cur ? cur->metrics.find(m.name.toStdString()) : nullptr;
    if (!v) {
        metric_->setText(m.title.isEmpty() ? tr("Measuring…") : QStringLiteral("%1: %2").arg(m.title, tr("measuring…")));
        delta_->clear();
        flips_->clear();
        samples_->clear();
        return;
    }
    const double half = (v->high - v->low) / 2 * m.scale;
    if (std::isfinite(half))
        metric_->setText(QStringLiteral("%1 %2 ± %3")
                             .arg(m.title, m.format(v->value * m.scale), QString::number(half, 'f', m.name == "kl" ? 5 : 2)));
    else // e.g. an output SQNR of ∞: the output is unchanged
        metric_->setText(QStringLiteral("%1 %2").arg(m.title, m.format(v->value * m.scale)));
    const Interval* b = base && base->complete() ? base->metrics.find(m.name.toStdString()) : nullptr;
    // The change is taken on the same samples: not while the current result covers only part of them.
    if (b && cur->samples == base->samples && m.name != "agreement" && m.name != "kl" && m.name != "sqnr_db") {
        const double d = (v->value - b->value) * m.scale;
        const QString unit = m.unit == "%" ? tr("points") : m.unit;
        delta_->setText(tr("%1%2%3 vs baseline")
                            .arg(d >= 0 ? "+" : "−")
                            .arg(std::abs(d), 0, 'f', 2)
                            .arg(unit.isEmpty() ? QString() : QStringLiteral(" ") + unit));
    } else {
        delta_->setText(b ? tr("baseline %1").arg(m.format(b->value * m.scale)) : QString());
    }
    if (cur->metrics.find("flips_lost"))
        flips_->setText(tr("flips −%1 / +%2").arg(cur->metrics.lost).arg(cur->metrics.gained));
    else
        flips_->clear();
    samples_->setText((workbench_->isLanguageModel() ? tr("%1 / %2 windows") : tr("%1 / %2 samples"))
                          .arg(cur->samples)
                          .arg(cur->total));
}

void SummaryStrip::updateEngine()
{
    if (workbench_->jobRunning())
        return;
    switch (workbench_->engine()->state()) {
    case EngineState::NoSource: engine_->setText(workbench_->hasData() ? tr("engine stopped") : tr("sizes only")); break;
    case EngineState::Loading: engine_->setText(tr("preparing the engine…")); break;
    case EngineState::Idle: engine_->setText(tr("up to date")); break;
    case EngineState::Evaluating: engine_->setText(tr("measuring…")); break;
    case EngineState::Job: engine_->setText(tr("searching…")); break;
    }
}

QString SummaryStrip::sizeText() const { return size_->text(); }
QString SummaryStrip::metricText() const { return metric_->text(); }
QString SummaryStrip::samplesText() const { return samples_->text(); }

} // namespace leger::ui
