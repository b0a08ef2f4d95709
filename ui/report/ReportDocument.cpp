#include "report/ReportDocument.h"

#include <QBuffer>
#include <QDateTime>
#include <QFileInfo>
#include <QImage>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocale>
#include <QPageLayout>
#include <QPageSize>
#include <QPdfWriter>
#include <QTextDocument>
#include <QUrl>
#include <algorithm>
#include <cmath>

#include "charts/ChartPoint.h"
#include "charts/LayerBytesChart.h"
#include "charts/TradeoffChart.h"
#include "compress/Plan.h"
#include "report/Report.h"
#include "report/ResultJson.h"
#include "search/Search.h"
#include "session/SaveFile.h"
#include "workbench/MetricInfo.h"

namespace leger::ui {

namespace {

constexpr QSize kTradeoffSize(900, 500);
constexpr QSize kBytesSize(760, 340);

QString esc(const std::string& s) { return QString::fromStdString(s).toHtmlEscaped(); }
QString num(std::int64_t n) { return QLocale(QLocale::English).toString(static_cast<qlonglong>(n)); }
QString fixed(double v, int decimals) { return QString::number(v, 'f', decimals); }

QString kilobytes(std::int64_t bytes)
{
    if (bytes >= 10'000'000)
        return fixed(static_cast<double>(bytes) / 1e6, 2) + " MB";
    return fixed(static_cast<double>(bytes) / 1e3, 2) + " kB";
}

QString valueText(const std::string& metric, double v) { return QString::fromStdString(metricValueText(metric, v)); }

QString intervalText(const std::string& metric, const Interval& v)
{
    return valueText(metric, v.value) + QStringLiteral(" <span class=\"dim\">[") + valueText(metric, v.low) + ", " +
           valueText(metric, v.high) + "]</span>";
}

QString metricCell(const std::string& metric, const Evaluation& e)
{
    const Interval* v = e.metrics.find(metric);
    return v ? intervalText(metric, *v) : QStringLiteral("—");
}

/// Signed change in points (or the metric's unit), coloured: worse red, better green.
QString changeText(const std::string& metric, double change, bool higherIsBetter)
{
    const bool worse = higherIsBetter ? change < 0 : change > 0;
    const QString text = (change > 0 ? "+" : change < 0 ? "−" : "±") +
                         QString::fromStdString(metricDropText(metric, std::abs(change)));
    if (std::abs(change) < 1e-12)
        return text;
    return QStringLiteral("<span class=\"%1\">%2</span>").arg(worse ? "bad" : "good", text);
}

/// White to red by t in [0, 1] (for the sensitivity table).
QString heat(double t)
{
    t = std::clamp(t, 0.0, 1.0);
    const int g = static_cast<int>(std::lround(255 - t * (255 - 80))), b = static_cast<int>(std::lround(255 - t * (255 - 70)));
    return QStringLiteral("#%1%2%3").arg(255, 2, 16, QChar('0')).arg(g, 2, 16, QChar('0')).arg(b, 2, 16, QChar('0'));
}

/// A table; header cells may carry a width ("Status|14%"); an all-empty header is left out.
QString table(const QStringList& header, const QList<QStringList>& rows, const QList<int>& rightAligned = {})
{
    QString h = QStringLiteral("<table class=\"grid\" border=\"1\" cellspacing=\"0\" cellpadding=\"4\" width=\"100%\">");
    const auto label = [](const QString& c) { return c.left(c.lastIndexOf('|') < 0 ? c.size() : c.lastIndexOf('|')); };
    if (std::any_of(header.begin(), header.end(), [&](const QString& c) { return !label(c).isEmpty(); })) {
        h += "<tr>";
        for (const QString& c : header) {
            const int bar = c.lastIndexOf('|');
            h += bar < 0 ? "<th>" + c + "</th>" : QStringLiteral("<th width=\"%1\">%2</th>").arg(c.mid(bar + 1), c.left(bar));
        }
        h += "</tr>";
    }
    for (const QStringList& row : rows) {
        h += "<tr>";
        for (int i = 0; i < row.size(); ++i)
            h += (rightAligned.contains(i) ? "<td align=\"right\">" : "<td>") + row[i] + "</td>";
        h += "</tr>";
    }
    return h + "</table>";
}

QString settingName(const LayerSetting& s) { return QString::fromStdString(settingSpec(s)); }

const char* kCss = R"(
body { font-family: "DejaVu Sans", "Helvetica", sans-serif; font-size: 10pt; color: #1b1f24; }
h1 { font-size: 18pt; margin-bottom: 2pt; }
h2 { font-size: 13pt; margin-top: 16pt; border-bottom: 1px solid #b0b7c0; }
.dim { color: #6a737d; }
.good { color: #1a7f37; }
.bad { color: #c62828; }
.passed { color: #1a7f37; font-weight: bold; }
.failed { color: #c62828; font-weight: bold; }
.notstated { color: #6a737d; font-weight: bold; }
table.grid { border-collapse: collapse; margin-top: 4pt; margin-bottom: 4pt; }
table.grid th { background-color: #eef1f4; text-align: left; }
table.grid td, table.grid th { border: 1px solid #c8cdd3; padding-left: 5px; padding-right: 5px; padding-top: 2px; padding-bottom: 2px; }
table.grid { font-size: 9pt; }
.verdict-ok { background-color: #e6f4ea; border: 1px solid #1a7f37; padding: 6pt; }
.verdict-no { background-color: #fdecea; border: 1px solid #c62828; padding: 6pt; }
.figure { margin-top: 6pt; }
.caption { color: #4a525c; font-size: 9pt; }
pre { white-space: pre-wrap; font-family: "DejaVu Sans Mono", monospace; font-size: 8pt; background-color: #f4f6f8; padding: 6pt; }
.page { page-break-before: always; }
)";

} // namespace

struct ReportDocument::Private {
    const ReportData& r;
    MetricInfo metric;
    QByteArray tradeoffSvg, bytesSvg;
    QImage tradeoffImage, bytesImage;

    explicit Private(const ReportData& data) : r(data), metric(MetricInfo::of(QString::fromStdString(data.metric))) {}

    void drawCharts()
    {
        const std::string& m = r.metric;
        TradeoffChart chart;
        chart.resize(kTradeoffSize);
        chart.setMetricTitle(metric.axisTitle());
        chart.setCurrentName(QStringLiteral("Chosen plan"));
        chart.setLegendAlignment(Qt::AlignRight);
        chart.setBaseline(metric.point(r.baseline.evaluation, r.baseline.size.total, r.baseline.size.bitsPerWeight, -1,
                                       QStringLiteral("uncompressed")));
        chart.setCurrent(metric.point(r.plan.evaluation, r.plan.size.total, r.plan.size.bitsPerWeight, -1,
                                      QString::fromStdString(r.plan.label)),
                         false);
        QVector<ChartPoint> presets, frontier, trail;
        for (const MeasuredPlan& p : r.presets)
            if (auto c = metric.point(p.evaluation, p.size.total, p.size.bitsPerWeight, -1, QString::fromStdString(p.label)))
                presets << *c;
        for (const MeasuredPlan& p : r.frontier)
            if (auto c = metric.point(p.evaluation, p.size.total, p.size.bitsPerWeight, -1, QStringLiteral("frontier")))
                (p.pareto ? frontier : trail) << *c;
        chart.setPresets(presets);
        QVector<ComparisonSeries> models;
        for (const ComparedModel& c : r.comparisons)
            if (ComparisonSeries s = metric.series(c); !s.points.isEmpty())
                models << s;
        chart.setComparisons(models);
        chart.setFrontier(frontier);
        chart.setTrail(trail);
        if (r.budgetBytes)
            chart.setBudget(static_cast<double>(*r.budgetBytes));
        if (r.maxDrop)
            if (const Interval* b = r.baseline.evaluation.metrics.find(m))
                chart.setFloor((b->value + (metric.higherIsBetter ? -1 : 1) * *r.maxDrop) * metric.scale);
        tradeoffSvg = chart.image("svg");
        tradeoffImage = QImage::fromData(chart.image("png"));

        LayerBytesChart bytes;
        bytes.resize(kBytesSize);
        QVector<LayerBytesBar> bars;
        for (std::size_t i = 0; i < r.layers.size() && i < r.plan.size.layers.size(); ++i) {
            const LayerBytes& b = r.plan.size.layers[i];
            bars.push_back({QString::fromStdString(r.layers[i].name), static_cast<double>(b.codes),
                            static_cast<double>(b.sparsity), static_cast<double>(b.scales + b.zeroPoints),
                            static_cast<double>(b.header)});
        }
        bytes.setLayers(bars);
        if (r.languageModel) // as the workbench labels a GGUF's parts
            bytes.setPartLabels({QStringLiteral("Tensor data (codes and scales)"), QString(), QString(),
                                 QStringLiteral("Alignment padding")});
        bytesSvg = bytes.image("svg");
        bytesImage = QImage::fromData(bytes.image("png"));
    }

    QString figure(const QByteArray& svg, const QString& resource, int width, bool forPdf, const QString& caption) const
    {
        const QString src = forPdf ? resource : QStringLiteral("data:image/svg+xml;base64,") + QString::fromLatin1(svg.toBase64());
        return QStringLiteral("<div class=\"figure\"><img src=\"%1\" width=\"%2\" alt=\"%3\"/></div><p class=\"caption\">%3</p>")
            .arg(src)
            .arg(width)
            .arg(caption.toHtmlEscaped());
    }

    QString html(bool forPdf) const;
    QString summary() const;
    QString checklist() const;
    QString modelAndData() const;
    QString comparison() const;
    QString planTable(bool forPdf) const;
    QString sizeBreakdown() const;
    QString sensitivity() const;
    QString classes() const;
    QString searches() const;
    QString recipe() const;
};

ReportDocument::ReportDocument(const ReportData& data) : d_(std::make_unique<Private>(data))
{
    d_->drawCharts();
}

ReportDocument::~ReportDocument() = default;

QString ReportDocument::Private::summary() const
{
    const std::string& m = r.metric;
    int failed = 0, notStated = 0;
    for (const CheckItem& c : r.checklist) {
        failed += c.status == CheckItem::Status::Failed;
        notStated += c.status == CheckItem::Status::NotStated;
    }
    QString verdict = failed == 0
                          ? QStringLiteral("<b>Ready:</b> every stated check passed")
                          : QStringLiteral("<b>Not ready:</b> %1 of %2 checks failed").arg(failed).arg(r.checklist.size());
    if (notStated > 0)
        verdict += QStringLiteral(" (%1 with no limit stated)").arg(notStated);
    const Interval* b = r.baseline.evaluation.metrics.find(m);
    const Interval* p = r.plan.evaluation.metrics.find(m);
    QString h = QStringLiteral("<p class=\"%1\">%2.</p>").arg(failed == 0 ? "verdict-ok" : "verdict-no", verdict);
    h += QStringLiteral("<p>The chosen plan makes <b>%1</b> a file of <b>%2 bytes</b> (%3), <b>%4×</b> smaller than "
                        "float32 at %5 bits per weight. %6: <b>%7</b> compressed against %8 uncompressed, a change of "
                        "%9, measured on %10")
             .arg(esc(r.modelName), num(r.plan.size.total), kilobytes(r.plan.size.total),
                  fixed(r.plan.size.ratioToFloat32, 2), fixed(r.plan.size.bitsPerWeight, 3), metric.title,
                  p ? valueText(m, p->value) : "—", b ? valueText(m, b->value) : "—",
                  b && p ? changeText(m, p->value - b->value, metric.higherIsBetter) : QStringLiteral("—"),
                  r.languageModel ? QStringLiteral("%1 %2 (%3 tokens scored)")
                                        .arg(num(r.plan.evaluation.samples), esc(r.sampleNoun()),
                                             num(r.plan.evaluation.metrics.samples))
                                  : num(r.plan.evaluation.samples) + " samples");
    if (r.plan.evaluation.metrics.find("flips_lost"))
        h += QStringLiteral(" (%1 samples lost, %2 gained against the uncompressed model)")
                 .arg(num(r.plan.evaluation.metrics.lost), num(r.plan.evaluation.metrics.gained));
    return h + ".</p>";
}

QString ReportDocument::Private::checklist() const
{
    QList<QStringList> rows;
    for (const CheckItem& c : r.checklist) {
        const QString cls = c.status == CheckItem::Status::Passed   ? "passed"
                            : c.status == CheckItem::Status::Failed ? "failed"
                                                                    : "notstated";
        const QString mark = c.status == CheckItem::Status::Passed   ? QStringLiteral("✔&nbsp;passed")
                             : c.status == CheckItem::Status::Failed ? QStringLiteral("✘&nbsp;failed")
                                                                     : QStringLiteral("–&nbsp;not&nbsp;stated");
        rows << QStringList{QStringLiteral("<span class=\"%1\">%2</span>").arg(cls, mark), esc(c.title), esc(c.evidence)};
    }
    return "<h2>Production checklist</h2>" + table({"Status|13%", "Check|25%", "Evidence"}, rows);
}

QString ReportDocument::Private::modelAndData() const
{
    QList<QStringList> rows;
    rows << QStringList{"Model", esc(r.modelPath)};
    if (!r.producer.empty())
        rows << QStringList{r.languageModel ? "Language model" : "Producer", esc(r.producer)};
    rows << QStringList{"Model file", num(r.modelFileBytes) + " bytes"};
    rows << QStringList{"Parameters", QStringLiteral("%1, of which %2 in %3 compressible layers")
                                          .arg(num(r.parameters), num(r.layerParameters))
                                          .arg(r.layers.size())};
    rows << QStringList{"Evaluation data", (r.synthetic ? QStringLiteral("random inputs: ") : QString()) + esc(r.dataSource)};
    if (r.languageModel)
        rows << QStringList{"Windows", QStringLiteral("%1 %2, %3 tokens scored")
                                           .arg(num(r.samples), esc(r.sampleNoun()), num(r.scoredTokens))};
    else
        rows << QStringList{"Samples", num(r.samples) + (r.labelled ? QStringLiteral(", labelled") : QStringLiteral(", no labels"))};
    if (r.classes > 0) {
        QStringList names;
        for (const auto& n : r.classNames)
            names << esc(n);
        rows << QStringList{"Classes", QString::number(r.classes) + (names.isEmpty() ? QString() : ": " + names.join(", "))};
    }
    rows << QStringList{r.languageModel ? "Tokenization" : "Preprocessing", esc(r.preprocessing)};
    rows << QStringList{"Judged by", metric.title.toHtmlEscaped() + " <span class=\"dim\">(" + metric.definition.toHtmlEscaped() + ")</span>"};
    if (r.maxDrop)
        rows << QStringList{"Acceptable drop", QString::fromStdString(metricDropText(r.metric, *r.maxDrop))};
    if (r.budgetBytes)
        rows << QStringList{"Size budget", num(*r.budgetBytes) + " bytes"};
    return "<h2>Model and data</h2>" + table({"|20%", ""}, rows);
}

QString ReportDocument::Private::comparison() const
{
    if (r.comparisons.empty())
        return {};
    const std::string& m = r.metric;
    QString h = "<h2>Compress, or choose another model?</h2>";
    if (!metric.comparesModels())
        h += QStringLiteral("<p class=\"dim\">%1 is measured against each model's own uncompressed output, so it "
                            "cannot compare two models; the table shows it for each model alone. Judge by top-1 "
                            "accuracy (labelled data) to compare them.</p>")
                 .arg(metric.title);
    const double planQ = quality(r.plan.evaluation, m);
    const Interval* planV = r.plan.evaluation.metrics.find(m);
    for (const ComparedModel& c : r.comparisons) {
        // The other model's best point no larger than the chosen plan, and whether any point of
        // it is both smaller (or equal) and at least as good.
        const MeasuredPlan* best = nullptr;
        for (const MeasuredPlan& p : c.points)
            if (p.evaluation.metrics.find(m) && p.size.total <= r.plan.size.total &&
                (!best || quality(p.evaluation, m) > quality(best->evaluation, m)))
                best = &p;
        QString verdict;
        if (!best) {
            verdict = QStringLiteral("Every measured form of %1 is larger than the chosen plan.").arg(esc(c.name));
        } else {
            const double q = quality(best->evaluation, m);
            const Interval* v = best->evaluation.metrics.find(m);
            const bool overlap = v && planV && v->low <= planV->high && planV->low <= v->high;
            verdict = q >= planQ
                          ? QStringLiteral("<b>%1 %2</b> (%3) is no larger than the chosen plan and at least as good "
                                           "(%4 against %5): consider using it instead.")
                          : QStringLiteral("The best form of %1 no larger than the chosen plan, <b>%2</b> (%3), reaches "
                                           "%4 against the chosen plan's %5: compressing %6 is better.");
            verdict = verdict.arg(esc(c.name), esc(best->label), kilobytes(best->size.total),
                                  v ? valueText(m, v->value) : "—", planV ? valueText(m, planV->value) : "—");
            if (q < planQ)
                verdict = verdict.arg(esc(r.modelName));
            if (overlap)
                verdict += QStringLiteral(" <span class=\"dim\">Their 95 % intervals overlap: on %1 %2 the "
                                          "difference is within measurement noise.</span>")
                               .arg(num(r.plan.evaluation.samples), esc(r.sampleNoun()));
        }
        if (metric.comparesModels())
            h += "<p>" + verdict + "</p>";
        QList<QStringList> rows;
        rows << QStringList{"<b>" + esc(r.modelName) + "</b>", "<b>" + esc(r.plan.label) + "</b>",
                            num(r.plan.size.total), metricCell(m, r.plan.evaluation)};
        rows << QStringList{esc(r.modelName), "uncompressed", num(r.baseline.size.total), metricCell(m, r.baseline.evaluation)};
        for (const MeasuredPlan& p : c.points)
            rows << QStringList{esc(c.name), esc(p.label), num(p.size.total), metricCell(m, p.evaluation)};
        h += table({"Model", "Form", "Bytes", metric.title.toHtmlEscaped()}, rows, {2});
        h += QStringLiteral("<p class=\"caption\">%1: %2 parameters (%3 for %4), measured on the same %5 %6.</p>")
                 .arg(esc(c.path), num(c.parameters), num(r.parameters), esc(r.modelName), num(r.samples),
                      r.languageModel ? esc(r.sampleNoun()) + QStringLiteral(" of the text, with the same vocabulary")
                                      : QStringLiteral("samples with its own preprocessing"));
    }
    return h;
}

QString ReportDocument::Private::planTable(bool forPdf) const
{
    QList<QStringList> rows;
    for (std::size_t i = 0; i < r.layers.size(); ++i) {
        const Layer& l = r.layers[i];
        const LayerBytes& b = r.plan.size.layers[i];
        QString shape;
        for (std::int64_t d : l.shape)
            shape += (shape.isEmpty() ? "" : r.languageModel ? " × " : "×") + QString::number(d); // (2-D: room to wrap)
        const double sqnr = i < r.plan.evaluation.layers.size() ? r.plan.evaluation.layers[i].weightSqnrDb : NAN;
        rows << QStringList{esc(l.name), esc(l.opType), shape, num(l.parameters), settingName(r.plan.settings[i]),
                            num(b.total()),
                            l.parameters > 0 ? fixed(8.0 * static_cast<double>(b.payload()) / static_cast<double>(l.parameters), 2)
                                             : QStringLiteral("—"),
                            std::isinf(sqnr) ? QStringLiteral("exact") : std::isnan(sqnr) ? "—" : fixed(sqnr, 1)};
    }
    return (forPdf ? "<h2 class=\"page\">The chosen plan</h2>" : "<h2>The chosen plan</h2>") +
           table({r.languageModel ? "Layer|24%" : "Layer", "Op", "Shape", "Parameters", "Setting", "Bytes", "Bits/weight",
                  "Weight SQNR (dB)"},
                 rows,
                 {3, 5, 6, 7}) +
           (r.languageModel
                ? QStringLiteral("<p class=\"caption\">Settings: the layer's GGUF type (float32, float16, bfloat16, or a "
                                 "block format: q8_0 .. q4_0 in blocks of 32 weights, the K-quants q6_K .. q2_K in "
                                 "blocks of 256, as llama.cpp quantizes them). Bytes: the layer's tensor in the GGUF "
                                 "file, with its alignment padding. ")
                : QStringLiteral("<p class=\"caption\">Settings: format and bits, then scales (per channel unless "
                                 "<i>tensor</i> or <i>gNN</i> groups), <i>asym</i> for zero points, sparsity. Bytes: "
                                 "the layer's record in the .leger file. ")) +
           "Weight SQNR: 10·log10(Σw² / Σ(w − ŵ)²) of the layer's weights. The plan as a recipe is in the "
           "appendix.</p>";
}

QString ReportDocument::Private::sizeBreakdown() const
{
    const SizeReport& s = r.plan.size;
    std::int64_t codes = 0, sparsity = 0, scales = 0, zeros = 0, headers = 0;
    for (const LayerBytes& b : s.layers) {
        codes += b.codes;
        sparsity += b.sparsity;
        scales += b.scales;
        zeros += b.zeroPoints;
        headers += b.header;
    }
    auto row = [&](const QString& part, std::int64_t n) {
        return QStringList{part, num(n), s.total > 0 ? fixed(100.0 * static_cast<double>(n) / static_cast<double>(s.total), 1) + " %" : "—"};
    };
    QList<QStringList> rows;
    if (r.languageModel)
        rows = {row("Layers' tensor data (quantized values with their block scales)", codes),
                row("Layers' alignment padding", headers),
                row("Norms, biases and position embeddings (float32), padded", s.untouchedTensors + s.tensorHeaders),
                row("GGUF header, metadata, vocabulary and tensor table", s.containerHeader)};
    else
        rows = {row("Weight codes", codes),
                row("Sparsity metadata", sparsity),
                row("Scales", scales),
                row("Zero points", zeros),
                row("Layer record headers", headers),
                row("Other tensors (biases...) and their headers", s.untouchedTensors + s.tensorHeaders),
                row("Graph", s.graphBytes),
                row("Container header", s.containerHeader)};
    rows << QStringList{"<b>Total</b>", "<b>" + num(s.total) + "</b>", "100 %"};
    return "<h2>Size</h2>" + table({"Part", "Bytes", "Share"}, rows, {1, 2}) +
           QStringLiteral("<p>%1 bytes against %2 for float32 (<b>%3×</b> smaller) and %4 for the original file "
                          "(%5×); %6 bits per weight over the compressible layers. Exact: the %7 export of this "
                          "plan has this size to the byte.</p>")
               .arg(num(s.total), num(s.float32Bytes), fixed(s.ratioToFloat32, 2), num(s.originalBytes),
                    fixed(s.ratioToOriginal, 2), fixed(s.bitsPerWeight, 3), esc(r.exportFormat));
}

QString ReportDocument::Private::sensitivity() const
{
    if (!r.sensitivity || r.sensitivity->drop.empty())
        return "<h2>Sensitivity per layer</h2><p class=\"dim\">No sensitivity scan was run for this report" +
               QString(r.languageModel ? " (run Search → Sensitivity Scan in the workbench, or leger-cli report "
                                         "without --quick, to include one)."
                                       : ".") +
               "</p>";
    const SensitivityTable& t = *r.sensitivity;
    const MetricInfo tm = MetricInfo::of(QString::fromStdString(t.metric));
    double worst = 0;
    for (const auto& row : t.drop)
        for (double d : row)
            if (std::isfinite(d))
                worst = std::max(worst, d);
    QStringList header{"Layer"};
    for (const LayerSetting& s : t.settings)
        header << settingName(s);
    QString h = QStringLiteral("<h2>Sensitivity per layer</h2><p>The drop of %1 with one layer alone compressed "
                               "(every other layer uncompressed), in %2; darker is more sensitive.</p>")
                    .arg(tm.title, tm.unit == "%" ? QStringLiteral("points") : tm.unit.isEmpty() ? tm.title.toLower() : tm.unit);
    h += "<table class=\"grid\" border=\"1\" cellspacing=\"0\" cellpadding=\"3\" width=\"100%\"><tr>";
    for (const QString& c : header)
        h += "<th>" + c.toHtmlEscaped() + "</th>";
    h += "</tr>";
    for (std::size_t i = 0; i < t.drop.size() && i < r.layers.size(); ++i) {
        h += "<tr><td>" + esc(r.layers[i].name) + "</td>";
        for (double d : t.drop[i]) {
            const QString colour = heat(worst > 0 && std::isfinite(d) ? d / worst : 0);
            h += QStringLiteral("<td align=\"right\" bgcolor=\"%1\" style=\"background-color:%1\">%2</td>")
                     .arg(colour, std::isfinite(d) ? fixed(std::abs(d * tm.scale) < 0.005 ? 0.0 : d * tm.scale, 2)
                                                   : QStringLiteral("—"));
        }
        h += "</tr>";
    }
    return h + "</table>";
}

QString ReportDocument::Private::classes() const
{
    const Metrics& b = r.baseline.evaluation.metrics;
    const Metrics& p = r.plan.evaluation.metrics;
    if (b.perClass.empty() || p.perClass.size() != b.perClass.size())
        return {};
    const std::size_t n = b.perClass.size();
    std::vector<std::size_t> order(n);
    for (std::size_t c = 0; c < n; ++c)
        order[c] = c;
    auto change = [&](std::size_t c) { return p.perClass[c].value - b.perClass[c].value; };
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return change(x) < change(y); });
    auto name = [&](std::size_t c) {
        return c < r.classNames.size() ? esc(r.classNames[c]) : QString::number(c);
    };
    QStringList hurt;
    for (std::size_t k = 0; k < n && hurt.size() < 3; ++k)
        if (change(order[k]) < 0)
            hurt << QStringLiteral("%1 (%2)").arg(name(order[k]), changeText("top1", change(order[k]), true));
    QString h = "<h2>Per class</h2><p>" +
                (hurt.isEmpty() ? QStringLiteral("No class lost accuracy.")
                                : QStringLiteral("Classes hurt most: ") + hurt.join(", ") + ".") +
                "</p>";
    QList<QStringList> rows;
    for (std::size_t c : order) {
        std::int64_t count = 0;
        for (auto v : b.confusion[c])
            count += v;
        rows << QStringList{name(c), num(count), valueText("top1", b.perClass[c].value), valueText("top1", p.perClass[c].value),
                            changeText("top1", change(c), true),
                            "<span class=\"dim\">[" + valueText("top1", p.perClass[c].low) + ", " +
                                valueText("top1", p.perClass[c].high) + "]</span>"};
    }
    h += table({"Class", "Samples", "Top-1 uncompressed", "Top-1 compressed", "Change", "95 % interval, compressed"}, rows,
               {1, 2, 3, 4});

    // Flips and the confusions that grew most.
    h += QStringLiteral("<h2>Flips</h2><p>Of %1 samples, <b>%2</b> the uncompressed model classified right are wrong "
                        "after compression and <b>%3</b> it got wrong are now right (net %4).</p>")
             .arg(num(p.samples), num(p.lost), num(p.gained), num(p.gained - p.lost));
    struct Pair {
        std::size_t label, predicted;
        std::int64_t before, after;
    };
    std::vector<Pair> pairs;
    for (std::size_t l = 0; l < n; ++l)
        for (std::size_t q = 0; q < n; ++q)
            if (l != q && p.confusion[l][q] != b.confusion[l][q])
                pairs.push_back({l, q, b.confusion[l][q], p.confusion[l][q]});
    std::stable_sort(pairs.begin(), pairs.end(),
                     [](const Pair& x, const Pair& y) { return x.after - x.before > y.after - y.before; });
    QList<QStringList> cr;
    for (const Pair& x : pairs) {
        if (cr.size() == 6 || x.after <= x.before)
            break;
        cr << QStringList{name(x.label), name(x.predicted), num(x.before), num(x.after)};
    }
    if (!cr.isEmpty())
        h += "<p>Confusions that grew most:</p>" +
             table({"Label", "Taken for", "Uncompressed", "Compressed"}, cr, {2, 3});
    return h;
}

QString ReportDocument::Private::searches() const
{
    const std::string& m = r.metric;
    QString h;
    QList<QStringList> rows;
    for (const MeasuredPlan& p : r.presets)
        rows << QStringList{esc(p.label), num(p.size.total), fixed(p.size.bitsPerWeight, 2), metricCell(m, p.evaluation),
                            changeText(m, p.evaluation.metrics.find(m) && r.baseline.evaluation.metrics.find(m)
                                              ? p.evaluation.metrics.find(m)->value - r.baseline.evaluation.metrics.find(m)->value
                                              : 0,
                                      metric.higherIsBetter)};
    if (!rows.isEmpty())
        h += "<h2>Uniform presets</h2><p>Every layer at the same setting, measured on the same data.</p>" +
             table({"Preset", "Bytes", "Bits/weight", metric.title.toHtmlEscaped(), "Change"}, rows, {1, 2, 4});
    rows.clear();
    for (const MeasuredPlan& p : r.frontier)
        if (p.pareto)
            rows << QStringList{num(p.size.total), fixed(p.size.bitsPerWeight, 2), metricCell(m, p.evaluation)};
    if (!rows.isEmpty())
        h += "<h2>Frontier</h2><p>Plans found by the frontier sweep that no other measured plan beats in both size "
             "and quality (each measured, not predicted).</p>" +
             table({"Bytes", "Bits/weight", metric.title.toHtmlEscaped()}, rows, {0, 1});
    return h;
}

QString ReportDocument::Private::recipe() const
{
    // The recipe with one line per entry, so that a plan of hundreds of layers stays readable.
    const QJsonObject plan = QJsonDocument::fromJson(QByteArray::fromStdString(Plan::compact(r.layers, r.plan.settings).toJson())).object();
    QString recipe = "{\n  \"default\": " + QString::fromUtf8(QJsonDocument(plan["default"].toObject()).toJson(QJsonDocument::Compact));
    const QJsonObject entries = plan["layers"].toObject();
    if (!entries.isEmpty()) {
        recipe += ",\n  \"layers\": {";
        bool first = true;
        for (auto it = entries.begin(); it != entries.end(); ++it, first = false)
            recipe += (first ? "\n    " : ",\n    ") + QString::fromUtf8(QJsonDocument(QJsonObject{{it.key(), it.value()}}).toJson(QJsonDocument::Compact)).mid(1).chopped(1);
        recipe += "\n  }";
    }
    recipe += "\n}";
    return "<h2>Appendix: the plan as a recipe</h2><p>For <code>leger-cli eval MODEL --data DATA --plan "
           "plan.json</code>, <code>leger-cli export</code>, or File → Import Plan Recipe in the workbench.</p><pre>" +
           recipe.toHtmlEscaped() + "</pre>";
}

QString ReportDocument::Private::html(bool forPdf) const
{
    QString h = QStringLiteral("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>%1</title>"
                               "<meta name=\"generator\" content=\"Leger %2\"/>")
                    .arg(esc(r.title), esc(r.legerVersion));
    if (!forPdf)
        h += QStringLiteral("<style>%1 body { max-width: 60em; margin: 2em auto; padding: 0 1em; }</style>").arg(kCss);
    h += "</head><body>";
    const QDateTime created = QDateTime::fromString(QString::fromStdString(r.created), Qt::ISODate);
    h += "<h1>" + esc(r.title) + "</h1>";
    h += QStringLiteral("<p class=\"dim\">Made by Leger %1 on %2 UTC. Every figure below is measured by running the "
                        "compressed model on the data named, or is an exact byte count of the exported file.</p>")
             .arg(esc(r.legerVersion), created.isValid() ? created.toUTC().toString("yyyy-MM-dd HH:mm") : esc(r.created));
    h += summary();
    h += modelAndData();
    h += checklist();
    h += forPdf ? "<h2 class=\"page\">Trade-off</h2>" : "<h2>Trade-off</h2>";
    h += figure(tradeoffSvg, "chart:tradeoff", forPdf ? 640 : 900, forPdf,
                QStringLiteral("Size against %1: the uncompressed model (star), the chosen plan with its 95 % interval, "
                               "the uniform presets%2%3%4.")
                    .arg(metric.title.toLower(), r.frontier.empty() ? QString() : QStringLiteral(", the measured frontier"),
                         r.comparisons.empty() ? QString() : QStringLiteral(", other models measured on the same data"),
                         r.budgetBytes || r.maxDrop ? QStringLiteral(", and the stated limits as lines") : QString()));
    h += comparison();
    h += planTable(forPdf);
    h += sizeBreakdown();
    h += figure(bytesSvg, "chart:bytes", forPdf ? 620 : 760, forPdf,
                QStringLiteral("Bytes per layer in the export, by part."));
    h += sensitivity();
    h += classes();
    h += searches();
    h += recipe();
    h += "</body></html>\n";
    return h;
}

QString ReportDocument::html(bool forPdf) const
{
    return d_->html(forPdf);
}

bool ReportDocument::writeHtml(const QString& path, QString* error) const
{
    return saveFile(path, html(false).toUtf8(), error);
}

bool ReportDocument::writeJson(const QString& path, QString* error) const
{
    return saveFile(path, QByteArray::fromStdString(reportJson(d_->r)), error);
}

bool ReportDocument::writePdf(const QString& path, QString* error) const
{
    QByteArray bytes;
    {
        QBuffer buffer(&bytes);
        buffer.open(QIODevice::WriteOnly);
        QPdfWriter pdf(&buffer);
        pdf.setTitle(QString::fromStdString(d_->r.title));
        pdf.setCreator(QStringLiteral("Leger %1").arg(QString::fromStdString(d_->r.legerVersion)));
        pdf.setPageLayout(QPageLayout(QPageSize(QPageSize::A4), QPageLayout::Portrait, QMarginsF(0, 0, 0, 0), // QTextDocument::print sets 2 cm margins of its own
                                      
                                      QPageLayout::Millimeter));
        pdf.setResolution(300);
        QTextDocument doc;
        doc.setDefaultStyleSheet(QString::fromLatin1(kCss));
        doc.addResource(QTextDocument::ImageResource, QUrl("chart:tradeoff"), d_->tradeoffImage);
        doc.addResource(QTextDocument::ImageResource, QUrl("chart:bytes"), d_->bytesImage);
        doc.setHtml(d_->html(true));
        doc.print(&pdf);
    }
    if (bytes.size() < 100 || !bytes.startsWith("%PDF"))
        return error ? (*error = QStringLiteral("Cannot write %1: the PDF could not be made").arg(path), false) : false;
    return saveFile(path, bytes, error);
}

} // namespace leger::ui
