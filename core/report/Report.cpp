#include "report/Report.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>

#include <unistd.h>

#include "compress/Presets.h"
#include "compress/Compressor.h"
#include "data/Dataset.h"
#include "io/Exporter.h"
#include "io/GgufFile.h"
#include "llm/LanguageModel.h"
#include "model/Half.h"
#include "model/Model.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

namespace leger {

namespace {

double toDouble(float v) { return v; }
double toDouble(double v) { return v; }
double toDouble(Half v) { return v.toFloat(); }
double toDouble(BFloat16 v) { return v.toFloat(); }

bool isPercent(const std::string& metric)
{
    return metric == "top1" || metric == "top5" || metric == "agreement" || metric.rfind("flips", 0) == 0;
}

std::string format(const char* fmt, double v)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, v);
    return buf;
}

/// 1234567 -> "1,234,567".
std::string grouped(std::int64_t n)
{
    std::string digits = std::to_string(n < 0 ? -n : n), out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0)
            out += ',';
        out += digits[i];
    }
    return (n < 0 ? "-" : "") + out;
}

MeasuredPlan measure(Evaluator& ev, const SizeModel& sizes, std::string label, std::vector<LayerSetting> settings,
                     const CancelToken* cancel)
{
    MeasuredPlan p;
    p.label = std::move(label);
    p.evaluation = ev.evaluate(settings, cancel);
    p.size = sizes.report(settings);
    p.settings = std::move(settings);
    return p;
}

/// NaN/Inf elements of a floating-point tensor (0 for other types).
std::int64_t nonFiniteCount(const Tensor& t)
{
    std::int64_t n = 0;
    auto count = [&](auto span) {
        for (const auto& v : span)
            n += !std::isfinite(static_cast<double>(toDouble(v)));
    };
    switch (t.dtype()) {
    case DType::Float32: count(t.span<float>()); break;
    case DType::Float64: count(t.span<double>()); break;
    case DType::Float16: count(t.span<Half>()); break;
    case DType::BFloat16: count(t.span<BFloat16>()); break;
    default: break;
    }
    return n;
}

std::string stem(const std::string& path)
{
    return std::filesystem::path(path).stem().string();
}

std::int64_t allParameters(const Model& m)
{
    std::int64_t n = 0;
    for (const auto& [name, t] : m.graph.initializers)
        n += t.size();
    return n;
}

std::string describe(const Preprocessing& p)
{
    std::string s = "x = (value";
    if (p.scale != 1.0)
        s += " × " + format("%.6g", p.scale);
    auto list = [](const std::vector<double>& v) {
        std::string out;
        for (double x : v)
            out += (out.empty() ? "" : ", ") + format("%.4g", x);
        return v.size() == 1 ? out : "(" + out + ")";
    };
    s += " − " + list(p.mean) + ") / " + list(p.std);
    if (!p.layout.empty())
        s += ", " + p.layout;
    if (p.resize)
        s += ", resized to " + std::to_string(p.resize->first) + "×" + std::to_string(p.resize->second);
    if (!p.input.empty())
        s += ", into input '" + p.input + "'";
    return s;
}

} // namespace

std::string metricValueText(const std::string& metric, double v)
{
    if (isPercent(metric))
        return format("%.2f %%", 100 * v);
    if (metric == "kl")
        return format("%.4g nats", v);
    if (metric == "nll")
        return format("%.4f nats", v);
    if (metric == "perplexity") // as llama.cpp prints it
        return format("%.3f", v);
    if (metric == "sqnr_db")
        return std::isinf(v) ? (v > 0 ? "∞ dB" : "−∞ dB") : format("%.1f dB", v);
    return format("%.4g", v);
}

std::string metricDropText(const std::string& metric, double drop)
{
    if (isPercent(metric))
        return format("%.2f points", 100 * drop);
    if (metric == "kl")
        return format("%.4g nats", drop);
    if (metric == "nll")
        return format("%.4f nats", drop);
    if (metric == "perplexity")
        return format("%.3f", drop);
    if (metric == "sqnr_db")
        return format("%.1f dB", drop);
    return format("%.4g", drop);
}

const char* toString(CheckItem::Status s)
{
    switch (s) {
    case CheckItem::Status::Passed: return "passed";
    case CheckItem::Status::Failed: return "failed";
    case CheckItem::Status::NotStated: return "not stated";
    }
    return "";
}

bool ReportData::ready() const
{
    for (const CheckItem& c : checklist)
        if (c.status == CheckItem::Status::Failed)
            return false;
    return !checklist.empty();
}

ComparedModel measureModel(const std::string& path, const Dataset& data, const Preprocessing& fallback,
                           const std::vector<Preset>& presets, const CancelToken* cancel, const SearchProgress& progress)
{
    ComparedModel c;
    c.path = path;
    c.name = stem(path);
    const Model model = loadModel(path);
    c.layers = Layer::find(model);
    c.parameters = allParameters(model);
    const Preprocessing pre = Preprocessing::readSidecar(path).value_or(fallback);
    std::unique_ptr<Evaluator> ev;
    try {
        ev = std::make_unique<Evaluator>(model, data, pre);
    } catch (const CancelledError&) {
        throw;
    } catch (const Error& e) {
        const std::string what = e.what();
        throw Error(what.find(path) == std::string::npos ? path + ": " + what : what);
    }
    const SizeModel sizes(model, c.layers);
    const std::int64_t total = static_cast<std::int64_t>(presets.size()) + 1;
    if (progress)
        progress(0, total, c.name + " uncompressed");
    c.points.push_back(measure(*ev, sizes, "uncompressed", std::vector<LayerSetting>(c.layers.size()), cancel));
    for (std::size_t i = 0; i < presets.size(); ++i) {
        if (progress)
            progress(static_cast<std::int64_t>(i) + 1, total, c.name + " " + presets[i].name);
        c.points.push_back(measure(*ev, sizes, presets[i].name,
                                   std::vector<LayerSetting>(c.layers.size(), presets[i].setting), cancel));
    }
    return c;
}

namespace {

/// Progress through a report's stages, and progress within one (a scan's, a sweep's).
class Stages {
public:
    Stages(const SearchProgress& progress, std::int64_t steps) : progress_(progress), steps_(steps) {}
    void next(const std::string& what)
    {
        if (progress_)
            progress_(step_, steps_, what);
        ++step_;
    }
    SearchProgress nested(const std::string& what) const
    {
        return [this, what](std::int64_t done, std::int64_t total, const std::string& item) {
            if (progress_)
                progress_(step_ - 1, steps_, what + " " + std::to_string(done) + "/" + std::to_string(total) +
                                                 (item.empty() ? "" : ": " + item));
        };
    }
    void done() const
    {
        if (progress_)
            progress_(steps_, steps_, "done");
    }

private:
    const SearchProgress& progress_;
    std::int64_t steps_, step_ = 0;
};

/// What the part of a report common to every kind of model needs of the model.
struct Subject {
    PlanEvaluator& ev;
    std::function<SizeReport(const std::vector<LayerSetting>&)> size;
    std::vector<Preset> presets;
    std::vector<LayerSetting> scanSettings;
    /// The exported file's extension (".leger", ".gguf") and its format's name in the checklist.
    std::string extension, formatName;
    /// Writes the plan to a file, reads it back and evaluates it on the same data.
    struct Exported {
        std::int64_t bytes = 0;
        Evaluation evaluation;
        std::string sidecar; // a file written beside it, removed with a temporary export
        std::string note;    // more evidence, in words ("its vocabulary ...")
    };
    std::function<Exported(const std::string& path, std::string& sidecar)> exportAndReload;
    /// NaN/Inf in layer i's weight as evaluated under a setting.
    std::function<std::int64_t(std::size_t layer, const LayerSetting& s)> compressedNonFinite;
};

std::string utcNow()
{
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

void startReport(ReportData& r, const ReportRequest& rq, const std::string& path, const std::string& name)
{
    r.created = utcNow();
    r.legerVersion = rq.legerVersion;
    r.modelPath = path;
    r.modelName = name;
    r.title = "Compression report: " + r.modelName;
    r.maxDrop = rq.maxDrop;
    r.budgetBytes = rq.budgetBytes;
}

/// The uncompressed model, the plan, the presets, the sensitivity scan and the frontier: what the
/// request brings, else measured.
void measurePlans(ReportData& r, const ReportRequest& rq, Subject& s, Stages& stages, const CancelToken* cancel)
{
    const std::size_t L = r.layers.size();
    auto measure = [&](std::string label, std::vector<LayerSetting> settings) {
        MeasuredPlan p;
        p.label = std::move(label);
        p.evaluation = s.ev.evaluate(settings, cancel);
        p.size = s.size(settings);
        p.settings = std::move(settings);
        return p;
    };
    stages.next("uncompressed model");
    r.baseline.label = "uncompressed";
    r.baseline.settings.assign(L, LayerSetting::none());
    r.baseline.size = s.size(r.baseline.settings);
    r.baseline.evaluation = rq.baseline && rq.baseline->complete() ? *rq.baseline : s.ev.evaluate(r.baseline.settings, cancel);
    r.metric = rq.metric.empty() ? defaultMetric(r.baseline.evaluation) : rq.metric;
    quality(r.baseline.evaluation, r.metric); // an Error, naming it, when the data cannot give this metric
    r.classes = r.baseline.evaluation.metrics.classes;

    stages.next(rq.planLabel);
    r.plan.label = rq.planLabel;
    r.plan.size = s.size(r.plan.settings);
    r.plan.evaluation = rq.planEvaluation && rq.planEvaluation->complete() && rq.planEvaluation->settings == r.plan.settings
                            ? *rq.planEvaluation
                            : s.ev.evaluate(r.plan.settings, cancel);

    stages.next("uniform presets");
    r.presets = rq.presets;
    if (r.presets.empty() && rq.runPresets)
        for (const Preset& p : s.presets)
            r.presets.push_back(measure(p.name, std::vector<LayerSetting>(L, p.setting)));

    stages.next("sensitivity scan");
    if (rq.sensitivity)
        r.sensitivity = *rq.sensitivity;
    else if (rq.runSensitivity && L > 0)
        r.sensitivity = sensitivityScan(s.ev, s.scanSettings, r.metric, cancel, stages.nested("sensitivity"));

    stages.next("frontier sweep");
    r.frontier = rq.frontier;
    if (r.frontier.empty() && rq.runFrontier && r.sensitivity) {
        const SizeFunction size = [&](const std::vector<LayerSetting>& p) { return s.size(p).total; };
        for (FrontierPoint& f : frontierSweep(s.ev, *r.sensitivity, size, rq.frontierPoints, cancel, stages.nested("sweep"))) {
            MeasuredPlan m;
            m.label = "frontier";
            m.size = s.size(f.plan);
            m.settings = std::move(f.plan);
            m.evaluation = std::move(f.evaluation);
            m.pareto = f.pareto;
            r.frontier.push_back(std::move(m));
        }
    }
}

/// The export check (the plan written, read back, evaluated again) and the production checklist.
/// dataSource: the data in words, for the evidence.
void exportAndDecide(ReportData& r, const ReportRequest& rq, Subject& s, Stages& stages, const std::string& dataSource,
                     const CancelToken* cancel)
{
    stages.next("export check");
    const std::size_t L = r.layers.size();
    const bool temporary = rq.exportPath.empty();
    std::string exportPath = rq.exportPath;
    if (temporary) {
        const auto dir = std::filesystem::temp_directory_path();
        // Unique per process and report: two reports may be built at once (the GUI's are in the background).
        static std::atomic<unsigned> serial{0};
        exportPath = (dir / ("leger-report-" + std::to_string(::getpid()) + "-" + std::to_string(++serial) + "-" +
                             r.modelName + s.extension))
                         .string();
    }
    r.exportPath = temporary ? "" : exportPath;
    std::string exportError, sidecar, exportNote;
    auto removeTemporary = [&] {
        if (!temporary)
            return;
        std::error_code ec;
        std::filesystem::remove(exportPath, ec);
        if (!sidecar.empty())
            std::filesystem::remove(sidecar, ec);
    };
    try {
        Subject::Exported written = s.exportAndReload(exportPath, sidecar);
        r.exportBytes = written.bytes;
        r.reloaded = std::move(written.evaluation);
        exportNote = written.note;
    } catch (const CancelledError&) {
        removeTemporary();
        throw;
    } catch (const Error& e) {
        exportError = e.what();
    }
    removeTemporary();
    if (cancel && cancel->isCancelled())
        throw CancelledError();

    // Non-finite values: the original weights, the compressed weights as evaluated, the outputs.
    std::int64_t badOriginal = 0, badCompressed = 0;
    for (std::size_t i = 0; i < L; ++i) {
        if (i < r.plan.evaluation.layers.size())
            badOriginal += r.plan.evaluation.layers[i].nonFinite;
        if (!r.plan.settings[i].isNone())
            badCompressed += s.compressedNonFinite(i, r.plan.settings[i]);
    }
    const std::int64_t badOutputs = r.plan.evaluation.metrics.nonFinite;
    const std::int64_t badBaseline = r.baseline.evaluation.metrics.nonFinite;
    const std::int64_t badReloaded = r.reloaded ? r.reloaded->metrics.nonFinite : 0;
    // What a sample is, in the evidence: an input, or (language models) a window's scored token.
    const std::string outputs = r.languageModel ? "scored tokens" : "samples";
    const std::int64_t outputCount = r.languageModel ? r.plan.evaluation.metrics.samples : r.plan.evaluation.samples;

    using S = CheckItem::Status;
    const std::string& m = r.metric;
    const double qBase = quality(r.baseline.evaluation, m), qPlan = quality(r.plan.evaluation, m);
    const double drop = qBase - qPlan;
    const Interval* planValue = r.plan.evaluation.metrics.find(m);
    {
        CheckItem c{"Quality drop within the stated limit", S::NotStated, {}};
        c.evidence = m + ": " + metricValueText(m, r.baseline.evaluation.metrics.find(m)->value) + " uncompressed, " +
                     metricValueText(m, planValue->value) + " [" + metricValueText(m, planValue->low) + ", " +
                     metricValueText(m, planValue->high) + "] compressed: " +
                     (drop > 0    ? "a drop of " + metricDropText(m, drop)
                      : drop < 0 ? "no drop (" + metricDropText(m, -drop) + " better)"
                                 : std::string("no change"));
        if (r.plan.evaluation.metrics.find("flips_lost"))
            c.evidence += " (" + grouped(r.plan.evaluation.metrics.lost) + " samples lost, " +
                          grouped(r.plan.evaluation.metrics.gained) + " gained)";
        if (rq.maxDrop) {
            c.status = drop <= *rq.maxDrop + 1e-12 ? S::Passed : S::Failed;
            c.evidence += "; the limit is " + metricDropText(m, *rq.maxDrop) + ".";
        } else {
            c.evidence += "; no limit was stated.";
        }
        r.checklist.push_back(c);
    }
    {
        CheckItem c{"No NaN or Inf anywhere", S::Passed, {}};
        c.evidence = grouped(badOriginal) + " non-finite original weights, " + grouped(badCompressed) +
                     " in the compressed weights; " + outputs + " with a non-finite output: " + grouped(badBaseline) +
                     " uncompressed, " + grouped(badOutputs) + " compressed" +
                     (r.reloaded ? ", " + grouped(badReloaded) + " from the exported file" : std::string()) + ", of " +
                     grouped(outputCount) + ".";
        if (badOriginal + badCompressed + badOutputs + badBaseline + badReloaded > 0)
            c.status = S::Failed;
        r.checklist.push_back(c);
    }
    {
        CheckItem c{"The exported file gives the numbers shown", S::Failed, {}};
        if (!r.reloaded) {
            c.evidence = "the export could not be written or read back: " + exportError;
        } else {
            const bool sameSize = r.exportBytes == r.plan.size.total;
            bool sameMetrics = r.reloaded->samples == r.plan.evaluation.samples;
            double worst = 0;
            std::string worstName;
            for (const auto& [name, v] : r.plan.evaluation.metrics.values) {
                const Interval* w = r.reloaded->metrics.find(name);
                if (!w) {
                    sameMetrics = false;
                    continue;
                }
                const double d = std::isinf(v.value) && v.value == w->value ? 0.0 : std::abs(w->value - v.value);
                if (!(d == 0.0))
                    sameMetrics = false;
                if (!(d <= worst)) {
                    worst = d;
                    worstName = name;
                }
            }
            const bool noteOk = exportNote.rfind("!", 0) != 0; // a note starting with "!" is a failure
            c.status = sameSize && sameMetrics && noteOk ? S::Passed : S::Failed;
            c.evidence = "written as " + s.formatName + ": " + grouped(r.exportBytes) + " bytes " + (sameSize ? "= " : "≠ ") +
                         grouped(r.plan.size.total) + " shown; read back and evaluated on " +
                         grouped(r.reloaded->samples) + " " + r.sampleNoun() + ": " + m + " " +
                         metricValueText(m, r.reloaded->metrics.find(m) ? r.reloaded->metrics.find(m)->value : NAN) +
                         " (shown " + metricValueText(m, planValue->value) + "), " +
                         (sameMetrics ? "every metric identical."
                                      : "the largest difference is " + format("%.3g", worst) + " in " + worstName + ".") +
                         (exportNote.empty() ? "" : " " + exportNote.substr(noteOk ? 0 : 1));
        }
        r.checklist.push_back(c);
    }
    {
        CheckItem c{"Size within the stated budget", S::NotStated, {}};
        c.evidence = grouped(r.plan.size.total) + " bytes (" + format("%.2f", r.plan.size.ratioToFloat32) +
                     "× smaller than float32, " + format("%.3f", r.plan.size.bitsPerWeight) + " bits per weight)";
        if (rq.budgetBytes) {
            c.status = r.plan.size.total <= *rq.budgetBytes ? S::Passed : S::Failed;
            c.evidence += "; the budget is " + grouped(*rq.budgetBytes) + " bytes.";
        } else {
            c.evidence += "; no budget was stated.";
        }
        r.checklist.push_back(c);
    }
    {
        CheckItem c{"Evaluation data named, with its sample count and interval", S::Passed, {}};
        const Interval* bv = r.baseline.evaluation.metrics.find(m);
        c.evidence = (r.synthetic ? "random inputs (" + dataSource + ")" : dataSource) + ": " +
                     grouped(r.plan.evaluation.samples) + " of " + grouped(r.samples) + " " + r.sampleNoun() +
                     (r.languageModel ? " (" + grouped(r.plan.evaluation.metrics.samples) + " tokens scored)"
                                      : r.labelled ? ", labelled"
                                                   : ", without labels") +
                     "; the 95 % interval of " + m + " is [" + metricValueText(m, planValue->low) + ", " +
                     metricValueText(m, planValue->high) + "] (uncompressed [" + metricValueText(m, bv->low) + ", " +
                     metricValueText(m, bv->high) + "]).";
        if (r.synthetic) {
            c.status = S::Failed;
            c.evidence += " Random inputs measure agreement with the uncompressed model, not accuracy on real data.";
        } else if (r.plan.evaluation.samples != r.samples || r.samples == 0) {
            c.status = S::Failed;
            c.evidence += " Not every sample was evaluated.";
        }
        r.checklist.push_back(c);
    }
    stages.done();
}

/// "GGUF, llama architecture, 4 layers": what a language model is, for the report's model table.
std::string describeLanguageModel(const LanguageModel& m)
{
    const LlmConfig& c = m.decoder().config();
    return std::string(m.sourceFormat()) + ", " + c.architecture + " architecture: " + std::to_string(c.layers) +
           " blocks of width " + std::to_string(c.hidden) + ", " + std::to_string(c.heads) + " heads" +
           (c.kvHeads != c.heads ? " (" + std::to_string(c.kvHeads) + " key/value)" : "") + ", context " +
           std::to_string(c.context);
}

ReportData buildLanguageModelReport(const ReportRequest& rq, const CancelToken* cancel, const SearchProgress& progress)
{
    if (!rq.tokens)
        throw Error("a report on a language model needs the tokens of its text");
    auto model = std::make_shared<LanguageModel>(LanguageModel::open(rq.languageModelPath));
    std::unique_ptr<LlmEvaluator> ev;
    try {
        ev = std::make_unique<LlmEvaluator>(model, *rq.tokens, rq.windows);
    } catch (const Error& e) {
        throw Error((rq.textPath.empty() ? std::string("the text") : rq.textPath) + ": " + e.what());
    }
    ReportData r;
    namespace fs = std::filesystem;
    const fs::path p(rq.languageModelPath);
    std::error_code ec;
    const bool folder = p.extension() != ".gguf";
    startReport(r, rq, rq.languageModelPath,
                folder ? (fs::is_directory(p, ec) ? p : p.parent_path()).filename().string() : p.stem().string());
    r.languageModel = true;
    r.exportFormat = "GGUF";
    r.producer = describeLanguageModel(*model);
    r.modelFileBytes = model->sourceBytes();
    r.parameters = model->decoder().config().parameterCount();
    r.layers = model->layers();
    for (const Layer& l : r.layers)
        r.layerParameters += l.parameters;
    if (rq.plan.size() != r.layers.size())
        throw Error("the plan has " + std::to_string(rq.plan.size()) + " settings for " + std::to_string(r.layers.size()) +
                    " layers");
    model->checkSettings(rq.plan);
    r.plan.settings = model->fitted(rq.plan); // what each layer is stored as
    r.dataSource = rq.textPath.empty() ? "a text" : rq.textPath;
    r.samples = ev->sampleCount();
    r.windowTokens = ev->windowLength();
    const Tokenizer& tok = model->tokenizer();
    const std::int64_t allWindows = static_cast<std::int64_t>(rq.tokens->size() + (model->windowBos() ? 1 : 0)) / r.windowTokens;
    r.preprocessing = std::string(tok.kind() == Tokenizer::Kind::ByteLevelBpe ? "byte-level BPE" : "SentencePiece BPE") +
                      " tokenizer of " + grouped(tok.vocabSize()) + " tokens; the text is " + grouped(static_cast<std::int64_t>(rq.tokens->size())) +
                      " tokens, " + (r.samples < allWindows ? "the first " + grouped(r.samples) + " of " : "") +
                      grouped(allWindows) + " windows of " + grouped(r.windowTokens) + " measured, each scored on its second half (" +
                      grouped(ev->scoredPerWindow()) + " tokens) as llama.cpp's perplexity tool does" +
                      (model->windowBos() ? ", a BOS token at the start of each" : "");

    Subject s{*ev,
              [&](const std::vector<LayerSetting>& plan) { return model->sizeReport(plan); },
              languageModelPresets(),
              languageModelScanSettings(),
              ".gguf",
              "GGUF",
              {},
              {}};
    s.exportAndReload = [&](const std::string& path, std::string&) {
        Subject::Exported x;
        model->exportGguf(r.plan.settings, path, cancel);
        x.bytes = static_cast<std::int64_t>(fs::file_size(path));
        Decoder back = Decoder::fromGguf(path);
        x.evaluation = ev->evaluateModel(back, r.plan.settings, cancel);
        // The file's own vocabulary, as llama.cpp reads it, must give the text the same tokens.
        if (!rq.textPath.empty()) {
            const Tokenizer exported = Tokenizer::fromGguf(GgufFile::open(path), path);
            const bool same = exported.encode(readFile(rq.textPath)) == *rq.tokens;
            x.note = same ? "Its vocabulary gives the text's " + grouped(static_cast<std::int64_t>(rq.tokens->size())) +
                                " tokens identically."
                          : "!Its vocabulary tokenizes the text differently.";
        }
        return x;
    };
    s.compressedNonFinite = [&](std::size_t i, const LayerSetting& setting) {
        return nonFiniteCount(evaluatedWeight(r.layers[i], model->original(i), setting));
    };
    Stages stages(progress, 6 + static_cast<std::int64_t>(rq.compare.size()));
    measurePlans(r, rq, s, stages, cancel);
    r.scoredTokens = r.plan.evaluation.metrics.samples;
    r.comparisons = rq.comparisons;
    for (const std::string& path : rq.compare) {
        stages.next("comparing with " + stem(path));
        r.comparisons.push_back(measureLanguageModel(path, *rq.tokens, rq.windows, model->tokenizer(),
                                                     languageModelPresets(), cancel, stages.nested(stem(path))));
    }
    exportAndDecide(r, rq, s, stages, r.dataSource, cancel);
    return r;
}

} // namespace

std::string ReportData::sampleNoun() const
{
    return languageModel ? "windows of " + std::to_string(windowTokens) + " tokens" : "samples";
}

ComparedModel measureLanguageModel(const std::string& path, const std::vector<std::int32_t>& tokens,
                                   const LlmEvaluator::Options& windows, const Tokenizer& vocabulary,
                                   const std::vector<Preset>& presets, const CancelToken* cancel,
                                   const SearchProgress& progress)
{
    ComparedModel c;
    c.path = path;
    namespace fs = std::filesystem;
    const fs::path p(path);
    std::error_code ec;
    c.name = p.extension() == ".gguf" ? p.stem().string() : (fs::is_directory(p, ec) ? p : p.parent_path()).filename().string();
    auto model = std::make_shared<LanguageModel>(LanguageModel::open(path));
    const Tokenizer& tok = model->tokenizer();
    if (tok.vocabSize() != vocabulary.vocabSize())
        throw Error(path + ": its vocabulary has " + std::to_string(tok.vocabSize()) + " tokens, the open model's " +
                    std::to_string(vocabulary.vocabSize()) + ": perplexities over other tokens cannot be compared");
    for (std::int32_t id = 0; id < tok.vocabSize(); ++id)
        if (tok.tokenText(id) != vocabulary.tokenText(id))
            throw Error(path + ": its vocabulary differs from the open model's at token " + std::to_string(id) +
                        ": perplexities over other tokens cannot be compared");
    c.layers = model->layers();
    c.parameters = model->decoder().config().parameterCount();
    LlmEvaluator ev(model, tokens, windows);
    const std::int64_t total = static_cast<std::int64_t>(presets.size()) + 1;
    auto measure = [&](const std::string& label, const std::vector<LayerSetting>& asked) {
        const std::vector<LayerSetting> settings = model->fitted(asked);
        MeasuredPlan m;
        m.label = label;
        m.evaluation = ev.evaluate(settings, cancel);
        m.size = model->sizeReport(settings);
        m.settings = settings;
        return m;
    };
    if (progress)
        progress(0, total, c.name + " uncompressed");
    c.points.push_back(measure("uncompressed", std::vector<LayerSetting>(c.layers.size())));
    for (std::size_t i = 0; i < presets.size(); ++i) {
        if (progress)
            progress(static_cast<std::int64_t>(i) + 1, total, c.name + " " + presets[i].name);
        c.points.push_back(measure(presets[i].name, std::vector<LayerSetting>(c.layers.size(), presets[i].setting)));
    }
    return c;
}

ReportData buildReport(const ReportRequest& rq, const CancelToken* cancel, const SearchProgress& progress)
{
    if (!rq.languageModelPath.empty())
        return buildLanguageModelReport(rq, cancel, progress);
    if (!rq.model || !rq.data)
        throw Error("a report needs a model and data");
    const Model& model = *rq.model;
    const Dataset& data = *rq.data;
    ReportData r;
    startReport(r, rq, model.path, stem(model.path));
    r.producer = model.producer;
    r.modelFileBytes = model.fileBytes;
    r.parameters = allParameters(model);
    r.layers = Layer::find(model);
    for (const Layer& l : r.layers)
        r.layerParameters += l.parameters;
    if (rq.plan.size() != r.layers.size())
        throw Error("the plan has " + std::to_string(rq.plan.size()) + " settings for " +
                    std::to_string(r.layers.size()) + " layers");
    r.plan.settings = rq.plan;
    r.dataSource = data.source;
    r.samples = data.count();
    r.labelled = data.hasLabels();
    r.synthetic = rq.synthetic;
    r.classNames = data.classNames.empty() ? rq.pre.labels : data.classNames;
    r.preprocessing = describe(rq.pre);

    const SizeModel sizes(model, r.layers);
    Evaluator ev(model, data, rq.pre);
    Subject s{ev,
              [&](const std::vector<LayerSetting>& plan) { return sizes.report(plan); },
              uniformPresets(),
              defaultScanSettings(),
              ".leger",
              ".leger",
              {},
              {}};
    s.exportAndReload = [&](const std::string& path, std::string& sidecar) {
        Subject::Exported x;
        const ExportResult written = exportModel(model, r.layers, rq.plan, ExportFormat::Leger, path);
        x.bytes = written.bytes;
        sidecar = written.sidecar;
        const Model back = loadModel(path);
        x.evaluation = ev.evaluateModel(back, cancel);
        return x;
    };
    s.compressedNonFinite = [&](std::size_t i, const LayerSetting& setting) { return nonFiniteCount(*ev.weight(i, setting)); };
    // Stages: baseline, plan, presets, scan, sweep, comparisons, export check.
    Stages stages(progress, 6 + static_cast<std::int64_t>(rq.compare.size()));
    measurePlans(r, rq, s, stages, cancel);
    r.comparisons = rq.comparisons;
    for (const std::string& path : rq.compare) {
        stages.next("comparing with " + stem(path));
        r.comparisons.push_back(measureModel(path, data, rq.pre, uniformPresets(), cancel, stages.nested(stem(path))));
    }
    exportAndDecide(r, rq, s, stages, data.source, cancel);
    return r;
}

} // namespace leger
