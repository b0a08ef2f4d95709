#include "workbench/MetricInfo.h"

#include <QCoreApplication>
#include <cmath>

#include "eval/Evaluator.h"
#include "report/Report.h"

namespace leger::ui {

namespace {
QString tr(const char* s) { return QCoreApplication::translate("MetricInfo", s); }
} // namespace

MetricInfo MetricInfo::of(const QString& name)
{
    MetricInfo m;
    m.name = name;
    if (name == "top1") {
        m = {name, tr("Top-1 accuracy"), "%", 100.0, true,
             tr("Share of samples whose highest-scoring class is the label. The interval is the 95 % Wilson "
                "interval over the samples evaluated.")};
    } else if (name == "top5") {
        m = {name, tr("Top-5 accuracy"), "%", 100.0, true,
             tr("Share of samples whose label is among the five highest-scoring classes (95 % Wilson interval).")};
    } else if (name == "perplexity") {
        m = {name, tr("Perplexity"), "", 1.0, false,
             tr("exp of the mean negative log-likelihood of each next token of the text, measured as llama.cpp's "
                "perplexity tool does (windows of the context length, the second half of each scored); lower is "
                "better. Interval: exp(mean ± 1.96 standard errors) over the tokens scored.")};
    } else if (name == "nll") {
        m = {name, tr("Negative log-likelihood"), tr("nats"), 1.0, false,
             tr("Mean negative log-likelihood of the next token, in nats per token (log of the perplexity).")};
    } else if (name == "agreement") {
        m = {name, tr("Agreement"), "%", 100.0, true,
             tr("Share of samples on which the compressed model predicts the same class as the uncompressed "
                "model (needs no labels; 95 % Wilson interval). For a language model: share of the scored "
                "tokens whose most likely next token is the uncompressed model's.")};
    } else if (name == "kl") {
        m = {name, tr("KL divergence"), tr("nats"), 1.0, false,
             tr("Mean over samples of KL(p_uncompressed ‖ p_compressed), the class distributions being the "
                "softmax of the scores, in nats; 0 means identical. Interval: mean ± 1.96 standard errors.")};
    } else if (name == "sqnr_db") {
        m = {name, tr("Output SQNR"), "dB", 1.0, true,
             tr("Signal-to-quantization-noise ratio of the model's output: 10·log10(Σ y² / Σ (y − ŷ)²) against "
                "the uncompressed model's output, in dB; higher is closer.")};
    } else if (name == "flips_lost") {
        m = {name, tr("Flips lost"), "%", 100.0, false,
             tr("Share of samples the uncompressed model got right and the compressed model gets wrong.")};
    } else if (name == "flips_gained") {
        m = {name, tr("Flips gained"), "%", 100.0, true,
             tr("Share of samples the uncompressed model got wrong and the compressed model gets right.")};
    } else {
        m.title = name;
    }
    return m;
}

std::optional<ChartPoint> MetricInfo::point(const Evaluation& e, std::int64_t bytes, double bitsPerWeight, int id,
                                            const QString& label) const
{
    const Interval* v = e.metrics.find(name.toStdString());
    if (!v || !std::isfinite(v->value))
        return std::nullopt;
    ChartPoint p;
    p.id = id;
    p.sizeBytes = static_cast<double>(bytes);
    p.bitsPerWeight = bitsPerWeight;
    p.value = v->value * scale;
    p.low = (std::isfinite(v->low) ? v->low : v->value) * scale;
    p.high = (std::isfinite(v->high) ? v->high : v->value) * scale;
    p.label = label;
    return p;
}

ComparisonSeries MetricInfo::series(const ComparedModel& c) const
{
    ComparisonSeries s;
    if (!comparesModels())
        return s;
    s.name = QString::fromStdString(c.name);
    for (const MeasuredPlan& p : c.points) {
        auto point = this->point(p.evaluation, p.size.total, p.size.bitsPerWeight, -1, QString::fromStdString(p.label));
        if (!point)
            continue;
        const double half = (point->high - point->low) / 2;
        point->valueText = format(point->value) + QStringLiteral(" ± ") + QString::number(half, 'f', 1);
        s.points << *point;
    }
    return s;
}

QString MetricInfo::format(double v, int decimals) const
{
    if (!std::isfinite(v))
        return v > 0 ? QStringLiteral("∞") : QStringLiteral("—");
    if (decimals < 0)
        decimals = name == "kl" ? 5 : name == "perplexity" || name == "nll" ? 3 : (unit == "%" ? 2 : 1);
    QString s = QString::number(v, name == "kl" ? 'g' : 'f', name == "kl" ? 3 : decimals);
    return unit.isEmpty() ? s : s + (unit == "%" ? QStringLiteral(" %") : QStringLiteral(" ") + unit);
}

QStringList MetricInfo::available(const Evaluation& e)
{
    QStringList out;
    for (const char* n : {"perplexity", "top1", "top5", "agreement", "kl", "nll", "sqnr_db"})
        if (e.metrics.find(n))
            out << QString::fromLatin1(n);
    return out;
}

} // namespace leger::ui
