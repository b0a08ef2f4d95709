#pragma once
// A compression report (DESIGN.md "Data flow": report): everything a team needs to show a
// decision — the model and data, the chosen plan with its exact size and measured quality, the
// uncompressed baseline, uniform presets, the frontier, per-layer sensitivity, per-class
// accuracy and flips, other models measured on the same data, and a production checklist whose
// every item carries its evidence. For ONNX models on their data and for language models on a
// text (perplexity and KL instead of accuracy, GGUF instead of .leger). Built here (no Qt);
// rendered to HTML and PDF by ui/report.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compress/LayerSetting.h"
#include "compress/Presets.h"
#include "compress/SizeReport.h"
#include "data/Preprocessing.h"
#include "eval/Evaluator.h"
#include "llm/LlmEvaluator.h"
#include "model/Layer.h"
#include "search/Search.h"
#include "util/CancelToken.h"

namespace leger {

class Dataset;
class Model;
class Tokenizer;

/// One plan measured completely on the data.
struct MeasuredPlan {
    std::string label;                  // "uncompressed", "int8", "chosen plan", "frontier 3"...
    std::vector<LayerSetting> settings; // one per layer
    SizeReport size;                    // exact
    Evaluation evaluation;              // complete
    bool pareto = false;                // a frontier point no other point beats
};

/// Another model measured on the same data: uncompressed first, then the uniform presets.
struct ComparedModel {
    std::string path, name;
    std::int64_t parameters = 0;
    std::vector<Layer> layers;
    std::vector<MeasuredPlan> points;
};

/// Measures the model at `path` (ONNX or .leger) on `data` uncompressed and under each preset.
/// Preprocessing: the model's own sidecar, else `fallback` (the main model's). Throws Error naming
/// the file when it cannot be read or the data does not fit it.
ComparedModel measureModel(const std::string& path, const Dataset& data, const Preprocessing& fallback,
                           const std::vector<Preset>& presets, const CancelToken* cancel = nullptr,
                           const SearchProgress& progress = {});

/// Measures another language model at `path` on the same tokens and windows, uncompressed and under
/// `presets` (llama.cpp's fallback where a block does not fit its rows). Its vocabulary must be
/// `vocabulary`'s token for token — perplexities over other tokens are not comparable — else an
/// Error naming the file says so.
ComparedModel measureLanguageModel(const std::string& path, const std::vector<std::int32_t>& tokens,
                                   const LlmEvaluator::Options& windows, const Tokenizer& vocabulary,
                                   const std::vector<Preset>& presets, const CancelToken* cancel = nullptr,
                                   const SearchProgress& progress = {});

struct CheckItem {
    enum class Status { Passed, Failed, NotStated };
    std::string title;    // "Accuracy drop within the limit"
    Status status = Status::NotStated;
    std::string evidence; // the figures that decide it, in words
};
const char* toString(CheckItem::Status s); // "passed" "failed" "not stated"

struct ReportData {
    std::string title, created, legerVersion; // created: ISO 8601, UTC
    std::string modelPath, modelName, producer;
    std::int64_t modelFileBytes = 0, parameters = 0, layerParameters = 0;
    std::vector<Layer> layers;
    std::string dataSource;
    std::int64_t samples = 0, classes = 0;
    bool labelled = false, synthetic = false;
    std::vector<std::string> classNames;
    std::string preprocessing; // in words (language models: the tokenization and the windows)
    std::string metric;        // the metric plans are judged by (Search's quality())
    // Language models: samples are windows of windowTokens tokens, scoredTokens scored in all.
    bool languageModel = false;
    std::int64_t windowTokens = 0, scoredTokens = 0;
    std::string exportFormat = ".leger"; // what the export check writes: ".leger" or "GGUF"

    MeasuredPlan baseline, plan;
    std::vector<MeasuredPlan> presets, frontier;
    std::optional<SensitivityTable> sensitivity;
    std::vector<ComparedModel> comparisons;

    std::optional<double> maxDrop;           // in the metric's units (0.01 = one point of top-1)
    std::optional<std::int64_t> budgetBytes;

    // The export check: the plan written (as .leger or GGUF), read back and evaluated again.
    std::string exportPath;
    std::int64_t exportBytes = 0;
    std::optional<Evaluation> reloaded;
    std::vector<CheckItem> checklist;
    bool ready() const; // every stated check passed
    /// What a sample is, in words: "samples", or "windows of 256 tokens".
    std::string sampleNoun() const;
};

struct ReportRequest {
    std::shared_ptr<const Model> model;
    std::shared_ptr<const Dataset> data;
    Preprocessing pre;
    bool synthetic = false;             // the data are random inputs (no accuracy)

    // Or a language model (model and data left null): its file, opened here as an instance of
    // the report's own (evaluation swaps its weights, so a running engine's cannot be shared),
    // the tokens of the text it is measured on, the text's file, and the windows.
    std::string languageModelPath;
    std::shared_ptr<const std::vector<std::int32_t>> tokens;
    std::string textPath;
    LlmEvaluator::Options windows;
    std::vector<LayerSetting> plan;
    std::string planLabel = "chosen plan";
    std::string metric;                 // empty: Search's default for the data
    std::optional<double> maxDrop;
    std::optional<std::int64_t> budgetBytes;
    std::vector<std::string> compare;   // other models to measure on the same data

    // What the caller has already measured (the workbench) is used as it is; what is missing is
    // measured here. Evaluations must be complete and of the same data.
    std::shared_ptr<const Evaluation> baseline, planEvaluation;
    std::vector<MeasuredPlan> presets;
    std::shared_ptr<const SensitivityTable> sensitivity;
    std::vector<MeasuredPlan> frontier;
    std::vector<ComparedModel> comparisons;
    bool runPresets = true;             // measure the uniform presets when none are given
    bool runSensitivity = true;         // scan when none is given (needed for the frontier)
    bool runFrontier = true;            // sweep when none is given
    int frontierPoints = 10;

    /// Where the exported .leger (language models: .gguf) goes; empty: a temporary file, removed
    /// afterwards.
    std::string exportPath;
    std::string legerVersion;
};

/// Builds the report: measures what is missing, exports the plan, reads the export back and
/// evaluates it again, and decides the checklist. Throws CancelledError when cancelled, Error
/// naming the file when the model or data cannot be read or do not fit together.
ReportData buildReport(const ReportRequest& request, const CancelToken* cancel = nullptr,
                       const SearchProgress& progress = {});

} // namespace leger

namespace leger {
/// A metric's value in its display unit: "92.55 %", "0.0123 nats", "31.2 dB", "86.996" (perplexity).
std::string metricValueText(const std::string& metric, double value);
/// A difference of the metric: "0.45 points", "0.0123 nats", "3.1 dB".
std::string metricDropText(const std::string& metric, double drop);
} // namespace leger
