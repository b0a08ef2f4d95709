// leger-cli: the engine without a window. Parses arguments and prints; the work is in leger_core.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <cblas.h>
#ifdef LEGER_WITH_REPORT
#include <QApplication>

#include "report/ReportDocument.h"
#endif
#include <unistd.h>

#include "check/ConformanceSuite.h"
#include "compress/Compressor.h"
#include "compress/Plan.h"
#include "compress/Presets.h"
#include "compress/SizeReport.h"
#include "data/Dataset.h"
#include "data/Preprocessing.h"
#include "eval/EngineBenchmark.h"
#include "eval/Evaluator.h"
#include "io/Exporter.h"
#include "llm/LanguageModel.h"
#include "llm/LlmEvaluator.h"
#include "io/NpyIO.h"
#include "io/OnnxReader.h"
#include "model/Layer.h"
#include "model/Model.h"
#include "report/Report.h"
#include "report/ResultJson.h"
#include "runtime/Executor.h"
#include "search/Search.h"
#include "runtime/ShapeInference.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

using namespace leger;

namespace {

constexpr const char* kUsage = R"(Usage: leger-cli COMMAND [OPTIONS]

Commands:
  info MODEL [--shapes [--shape NAME=D0,D1,...]]
                                  inputs/outputs with shapes, op histogram,
                                  compressible layers with shapes and parameters;
                                  --shapes adds every node's output shapes and FLOPs
                                  for concrete input shapes (symbolic dims = 1 unless
                                  --shape gives them), found by one run on zeros
  run MODEL --input NAME=FILE.npy [--input ...] --output-dir DIR [--plan P.json]
                                  runs the model (compressed by the plan, if given);
                                  writes DIR/<output>.npy per output
                                  (characters outside [A-Za-z0-9._-] become '_';
                                  names over 200 bytes are cut and end in a hash)
  eval MODEL --data DATA [--plan P.json] [--json]
                                  evaluates the model compressed by the plan (none:
                                  uncompressed) on the data: exact size and measured
                                  metrics with 95 % intervals; progress on stderr
  sensitivity MODEL --data DATA [--settings LIST] [--metric M] [--json]
                                  each layer alone at each setting: the metric's drop
                                  (top1, agreement, kl or sqnr_db; default top1 with
                                  labels, else agreement, else sqnr_db)
  sweep MODEL --data DATA [--settings LIST] [--points N] [--json]
        [--max-drop X | --budget-bytes N] [--save-plan P.json]
                                  the size/quality frontier (Pareto points marked), or
                                  the smallest plan whose drop is at most X (a fraction:
                                  0.01 = one point of top-1), or the most accurate plan of
                                  at most N bytes; every reported point is measured
  export MODEL --plan P.json --format leger|onnx-qdq|onnx-float|gguf -o OUT
                                  writes the compressed model (gguf: language models)
  report MODEL --data DATA (--plan P.json | --max-drop X | --budget-bytes N)
         [--max-drop X] [--budget-bytes N] [--compare OTHER.onnx ...] [--metric M]
         [--quick] [--export OUT.leger] -o REPORT.html [--pdf REPORT.pdf]
                                  a report to hand on: the plan (given, or the smallest
                                  plan within --max-drop, or the best within
                                  --budget-bytes) against the uncompressed model,
                                  presets, the frontier and other models measured on
                                  the same data, per-layer sensitivity, per-class
                                  accuracy, flips, size breakdown and a production
                                  checklist (the export is written, read back and
                                  evaluated again); a self-contained HTML file, a
                                  PDF (default: REPORT.pdf beside it) and every figure
                                  as JSON (REPORT.json); --quick skips the scan and
                                  sweep when a plan is given
  bench MODEL --data DATA         engine timings as JSON: full_eval_ms, first_partial_ms,
                                  incremental_last_layer_ms, quantize_gbps, size_us
  conformance DIR [--filter TEXT] [--verbose]
                                  runs the ONNX backend node tests under DIR and prints
                                  a table per op and "conformance: N passed, M failed,
                                  K unsupported"; exit status 1 if any failed

MODEL is an ONNX file, or (info, run, eval) a .leger file written by export, or a
language model (info, eval, sensitivity, sweep, export): a GGUF file, or a Hugging Face
model (its folder, config.json or model.safetensors, with tokenizer.json or vocab.json
and merges.txt). A language model's DATA is a UTF-8 text file; its metrics are perplexity,
kl and agreement (same most likely next token) against the uncompressed model, and nll;
its formats are float32, float16, bfloat16 and GGUF's block formats q8_0, q6_K, q5_K,
q5_1, q5_0, q4_K, q4_1, q4_0, q3_K, q2_K; it exports as --format gguf, whose file size is
the size shown.

Language model options:
  --ctx N                         perplexity window (default: the model's context, at
                                  most 512); the second half of each window is scored
  --limit N                       evaluate the first N windows

Data options (eval, sensitivity, sweep, bench):
  --data PATH                     IDX images file (labels found by the standard naming),
                                  .npz with x and optional y, x.npy (+ y.npy), or a folder
                                  with one subfolder of images per class
  --limit N                       evaluate the first N samples
  --preprocess FILE.json          preprocessing (default: MODEL.leger.json when present);
  --scale X  --mean A[,B,C]  --std A[,B,C]  --layout NCHW|NHWC  --resize H,W
  --input-name NAME               override its fields
  --settings LIST                 comma-separated setting specs, mildest first (default
                                  int8,int6,int4-g32,int4,int3-g32,int2-g32); a spec is a
                                  format (float16, bfloat16, int2..int8) and modifiers:
                                  tensor, gNN, asym, mse, 2:4, 4:8, sNN (NN % pruned),
                                  cNN (NN % of channels pruned), e.g. int4-g32-asym-mse

Options:
  --threads N                     OpenBLAS threads (default 1)
  -h, --help                      this help
  --version                       the version
)";

struct Args {
    std::vector<std::string> positional;
    std::multimap<std::string, std::string> options;
    std::vector<std::string> flags;

    bool flag(const std::string& f) const
    {
        return std::find(flags.begin(), flags.end(), f) != flags.end();
    }
    std::string option(const std::string& name, const std::string& fallback = {}) const
    {
        auto it = options.find(name);
        return it == options.end() ? fallback : it->second;
    }
};

/// Options that take a value; everything else starting with "--" is a flag.
const std::vector<std::string> kValued = {"--input",  "--output-dir", "--filter",     "--threads",     "--shape",
                                         "--data",   "--limit",      "--plan",       "--preprocess",  "--scale",
                                         "--mean",   "--std",        "--layout",     "--resize",      "--input-name",
                                         "--settings", "--metric",   "--points",     "--max-drop",    "--budget-bytes",
                                         "--save-plan", "--format",  "-o",           "--compare",     "--pdf",
                                         "--export",   "--ctx"};

Args parse(int argc, char** argv, int first)
{
    Args a;
    for (int i = first; i < argc; ++i) {
        std::string s = argv[i];
        if (s.rfind("--", 0) == 0 || s == "-o") {
            const auto eq = s.find('=');
            std::string key = eq == std::string::npos ? s : s.substr(0, eq);
            if (std::find(kValued.begin(), kValued.end(), key) != kValued.end()) {
                if (eq != std::string::npos)
                    a.options.emplace(key, s.substr(eq + 1));
                else if (i + 1 < argc)
                    a.options.emplace(key, argv[++i]);
                else
                    throw Error("option " + key + " needs a value");
            } else if (s == "--verbose" || s == "--shapes" || s == "--json" || s == "--quick") {
                a.flags.push_back(s);
            } else {
                throw Error("unknown option " + s);
            }
        } else {
            a.positional.push_back(s);
        }
    }
    return a;
}

std::string safeFileName(const std::string& name)
{
    std::string out = name;
    for (char& c : out)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
            c = '_';
    if (out.empty() || out == "." || out == "..")
        out = "_" + out;
    // File names are limited to 255 bytes: shorten long names, keeping them distinct by a hash.
    if (out.size() > 200) {
        char hash[17];
        std::snprintf(hash, sizeof hash, "%016zx", std::hash<std::string>{}(name));
        out = out.substr(0, 183) + "_" + hash;
    }
    return out;
}

bool isLanguageModel(const Args& a);
int cmdInfoLlm(const Args& a);

int cmdInfo(const Args& a)
{
    if (a.positional.size() != 1)
        throw Error("usage: leger-cli info MODEL");
    if (isLanguageModel(a))
        return cmdInfoLlm(a);
    const Model m = loadModel(a.positional[0]);
    std::printf("model:    %s\n", m.path.c_str());
    std::printf("producer: %s\n", m.producer.empty() ? "(unknown)" : m.producer.c_str());
    std::printf("opsets:  ");
    for (const auto& [domain, v] : m.opsets)
        std::printf(" %s=%d", domain.empty() ? "ai.onnx" : domain.c_str(), v);
    std::printf("\nsize:     %lld bytes\n\ninputs:\n", static_cast<long long>(m.fileBytes));
    for (const auto& in : m.graph.inputs)
        std::printf("  %-30s %-8s %s\n", in.name.c_str(), std::string(dtypeName(in.dtype)).c_str(),
                    in.shapeString().c_str());
    std::printf("outputs:\n");
    for (const auto& out : m.graph.outputs)
        std::printf("  %-30s %-8s %s\n", out.name.c_str(), std::string(dtypeName(out.dtype)).c_str(),
                    out.shapeString().c_str());
    std::map<std::string, int> hist;
    for (const auto& n : m.graph.nodes)
        ++hist[(n.domain.empty() ? "" : n.domain + ".") + n.opType];
    std::printf("\nops (%zu nodes):\n", m.graph.nodes.size());
    for (const auto& [op, count] : hist)
        std::printf("  %-30s %6d\n", op.c_str(), count);
    const auto layers = Layer::find(m);
    std::int64_t layerParams = 0, allParams = 0;
    std::printf("\ncompressible layers (%zu):\n", layers.size());
    std::printf("  %-40s %-14s %-22s %12s\n", "weight", "op", "shape", "parameters");
    for (const auto& l : layers) {
        std::printf("  %-40s %-14s %-22s %12lld\n", l.name.c_str(), l.opType.c_str(), shapeToString(l.shape).c_str(),
                    static_cast<long long>(l.parameters));
        layerParams += l.parameters;
    }
    for (const auto& [name, t] : m.graph.initializers)
        allParams += t.size();
    std::printf("\ntotals: %lld parameters in compressible layers, %lld in all %zu constant tensors\n",
                static_cast<long long>(layerParams), static_cast<long long>(allParams), m.graph.initializers.size());
    if (!a.flag("--shapes"))
        return 0;
    std::map<std::string, Shape> shapes;
    for (auto [it, end] = a.options.equal_range("--shape"); it != end; ++it) {
        const auto eq = it->second.find('=');
        if (eq == std::string::npos)
            throw Error("--shape expects NAME=D0,D1,..., got '" + it->second + "'");
        Shape s;
        std::string dims = it->second.substr(eq + 1);
        for (std::size_t p = 0; p < dims.size();) {
            std::size_t used = 0;
            try {
                s.push_back(std::stoll(dims.substr(p), &used));
            } catch (...) {
                throw Error("--shape " + it->second + ": dimensions must be integers");
            }
            p += used + (p + used < dims.size() && dims[p + used] == ',' ? 1 : 0);
            if (used == 0)
                break;
        }
        shapes[it->second.substr(0, eq)] = s;
    }
    std::vector<NodeShapes> nodes;
    try {
        nodes = inferShapes(m, shapes);
    } catch (const Error& e) {
        throw Error(m.path + ": " + e.what());
    }
    std::int64_t flops = 0;
    std::printf("\nnode shapes:\n  %-40s %-18s %-28s %14s\n", "node", "op", "output shapes", "FLOPs");
    for (const auto& n : nodes) {
        std::string shapeText;
        for (const auto& s : n.shapes)
            shapeText += (shapeText.empty() ? "" : " ") + shapeToString(s);
        std::printf("  %-40s %-18s %-28s %14lld\n", n.node.c_str(), n.opType.c_str(), shapeText.c_str(),
                    static_cast<long long>(n.flops));
        flops += n.flops;
    }
    std::printf("\ntotal: %.4f GFLOP per run (matrix products and convolutions)\n", static_cast<double>(flops) / 1e9);
    return 0;
}

int cmdRun(const Args& a)
{
    if (a.positional.size() != 1)
        throw Error("usage: leger-cli run MODEL --input NAME=FILE.npy [--input ...] --output-dir DIR");
    const std::string outDir = a.option("--output-dir");
    if (outDir.empty())
        throw Error("run: --output-dir DIR is required");
    const Model m = loadModel(a.positional[0]);
    // With a plan, the compressed layers' dequantized weights replace the originals.
    std::vector<Tensor> weights;
    Executor::Options options;
    if (const std::string planFile = a.option("--plan"); !planFile.empty()) {
        const auto layers = Layer::find(m);
        const auto settings = Plan::readFile(planFile).resolve(layers);
        weights.reserve(layers.size());
        for (std::size_t i = 0; i < layers.size(); ++i) {
            if (settings[i].isNone())
                continue;
            const Tensor& w = *m.graph.initializer(layers[i].name);
            weights.push_back(evaluatedWeight(layers[i], w, settings[i]));
            options.weights[layers[i].name] = &weights.back();
        }
    }
    std::unique_ptr<Executor> compiled;
    try {
        compiled = std::make_unique<Executor>(m, options);
    } catch (const Error& e) {
        throw Error(m.path + ": " + e.what()); // the executor knows nodes, not files
    }
    Executor& exec = *compiled;
    std::map<std::string, std::string> files;
    for (auto [it, end] = a.options.equal_range("--input"); it != end; ++it) {
        const auto eq = it->second.find('=');
        if (eq == std::string::npos)
            throw Error("--input expects NAME=FILE.npy, got '" + it->second + "'");
        files[it->second.substr(0, eq)] = it->second.substr(eq + 1);
    }
    const auto& names = exec.inputNames();
    for (const auto& [name, file] : files)
        if (std::find(names.begin(), names.end(), name) == names.end())
            throw Error(m.path + ": the model has no input named '" + name + "'");
    std::vector<Tensor> tensors;
    for (const auto& name : names) {
        auto it = files.find(name);
        if (it == files.end())
            throw Error(m.path + ": input '" + name + "' was not given (--input " + name + "=FILE.npy)");
        tensors.push_back(NpyIO::readNpy(it->second));
    }
    std::vector<const Tensor*> inputs;
    for (const auto& t : tensors)
        inputs.push_back(&t);
    try {
        exec.run(inputs);
    } catch (const Error& e) {
        throw Error(m.path + ": " + e.what());
    }
    std::filesystem::create_directories(outDir);
    for (std::size_t i = 0; i < exec.outputNames().size(); ++i) {
        const std::string file = (std::filesystem::path(outDir) / (safeFileName(exec.outputNames()[i]) + ".npy")).string();
        NpyIO::writeNpy(file, exec.output(i));
        std::fprintf(stderr, "wrote %s %s\n", file.c_str(), shapeToString(exec.output(i).shape()).c_str());
    }
    return 0;
}

/// Numbers from a comma-separated option value.
std::vector<double> numbers(const std::string& option, const std::string& text)
{
    std::vector<double> out;
    std::size_t p = 0;
    while (p <= text.size()) {
        const std::size_t comma = std::min(text.find(',', p), text.size());
        try {
            std::size_t used = 0;
            out.push_back(std::stod(text.substr(p, comma - p), &used));
            if (used != comma - p)
                throw std::invalid_argument("trailing");
        } catch (const std::exception&) {
            throw Error(option + ": expected numbers separated by commas, got '" + text + "'");
        }
        p = comma + 1;
    }
    return out;
}

std::int64_t integerOption(const Args& a, const std::string& name, std::int64_t fallback)
{
    const std::string v = a.option(name);
    if (v.empty())
        return fallback;
    try {
        std::size_t used = 0;
        const long long n = std::stoll(v, &used);
        if (used != v.size() || n < 0)
            throw std::invalid_argument("bad");
        return n;
    } catch (const std::exception&) {
        throw Error(name + ": expected a non-negative integer, got '" + v + "'");
    }
}

/// The model, its layers and the plan's settings; the data and preprocessing when asked for.
struct Session {
    Model model;
    std::vector<Layer> layers;
    std::vector<LayerSetting> settings;     // the plan evaluated
    std::vector<LayerSetting> sizeSettings; // the plan the size counts (a .leger file's own)
    Dataset data;
    Preprocessing pre;
};

Session openSession(const Args& a, bool withData)
{
    if (a.positional.size() != 1)
        throw Error("expected one MODEL argument");
    Session s;
    std::map<std::string, LayerSetting> stored; // a .leger container's settings
    s.model = loadModel(a.positional[0], &stored);
    s.layers = Layer::find(s.model);
    s.settings.assign(s.layers.size(), LayerSetting::none());
    s.sizeSettings = s.settings;
    for (std::size_t i = 0; i < s.layers.size(); ++i)
        if (auto it = stored.find(s.layers[i].name); it != stored.end())
            s.sizeSettings[i] = it->second;
    if (const std::string plan = a.option("--plan"); !plan.empty()) {
        if (!stored.empty())
            throw Error(a.positional[0] + ": a .leger model is already compressed; give --plan with its ONNX source");
        s.settings = s.sizeSettings = Plan::readFile(plan).resolve(s.layers);
    }
    if (!withData)
        return s;
    const std::string data = a.option("--data");
    if (data.empty())
        throw Error("--data PATH is required");
    s.data = Dataset::read(data, integerOption(a, "--limit", -1));
    if (const std::string file = a.option("--preprocess"); !file.empty())
        s.pre = Preprocessing::fromJson(readFile(file), file);
    else if (auto side = Preprocessing::readSidecar(a.positional[0]))
        s.pre = *side;
    if (const std::string v = a.option("--scale"); !v.empty())
        s.pre.scale = numbers("--scale", v).at(0);
    if (const std::string v = a.option("--mean"); !v.empty())
        s.pre.mean = numbers("--mean", v);
    if (const std::string v = a.option("--std"); !v.empty())
        s.pre.std = numbers("--std", v);
    if (const std::string v = a.option("--layout"); !v.empty()) {
        if (v != "NCHW" && v != "NHWC")
            throw Error("--layout: expected NCHW or NHWC");
        s.pre.layout = v;
    }
    if (const std::string v = a.option("--resize"); !v.empty()) {
        const auto hw = numbers("--resize", v);
        if (hw.size() != 2 || hw[0] < 1 || hw[1] < 1)
            throw Error("--resize: expected H,W");
        s.pre.resize = std::pair{static_cast<std::int64_t>(hw[0]), static_cast<std::int64_t>(hw[1])};
    }
    if (const std::string v = a.option("--input-name"); !v.empty())
        s.pre.input = v;
    return s;
}

std::vector<std::string> classNames(const Session& s)
{
    return s.data.classNames.empty() ? s.pre.labels : s.data.classNames;
}

/// A one-line progress display on stderr, redrawn at most ~10 times a second.
class ProgressLine {
public:
    void show(const std::string& text, bool force = false)
    {
        const auto now = std::chrono::steady_clock::now();
        // A terminal gets one line redrawn ~10 times a second; a log gets a line every 2 s.
        if (!force && now - last_ < std::chrono::milliseconds(tty_ ? 100 : 2000))
            return;
        last_ = now;
        if (tty_)
            std::fprintf(stderr, "\r%-78.78s", text.c_str());
        else
            std::fprintf(stderr, "%s\n", text.c_str());
        shown_ = true;
    }
    ~ProgressLine()
    {
        if (shown_ && tty_)
            std::fprintf(stderr, "\r%78s\r", "");
    }

private:
    std::chrono::steady_clock::time_point last_{};
    bool shown_ = false;
    bool tty_ = isatty(2) != 0;
};

std::string metricText(const Metrics& m, const std::string& name, bool percent)
{
    const Interval* v = m.find(name);
    if (!v)
        return "";
    char buf[128];
    if (percent)
        std::snprintf(buf, sizeof buf, "%-12s %8.2f %%   [%.2f, %.2f]", name.c_str(), 100 * v->value, 100 * v->low,
                      100 * v->high);
    else
        std::snprintf(buf, sizeof buf, "%-12s %10.4g   [%.4g, %.4g]", name.c_str(), v->value, v->low, v->high);
    return buf;
}

// ---- language models -------------------------------------------------------------------------

bool isLanguageModel(const Args& a) { return a.positional.size() == 1 && LanguageModel::isLanguageModelPath(a.positional[0]); }

/// A language model, its plan, and (with data) the text it is measured on.
struct LlmSession {
    std::unique_ptr<LanguageModel> model;
    std::vector<LayerSetting> settings;
    std::string text;
    std::vector<std::int32_t> tokens;
    LlmEvaluator::Options options;
    std::unique_ptr<LlmEvaluator> evaluator;
};

LlmSession openLlm(const Args& a, bool withData)
{
    LlmSession s;
    s.model = std::make_unique<LanguageModel>(LanguageModel::open(a.positional[0]));
    s.settings.assign(s.model->layers().size(), LayerSetting::none());
    if (const std::string plan = a.option("--plan"); !plan.empty()) {
        s.settings = Plan::readFile(plan).resolve(s.model->layers());
        s.model->checkSettings(s.settings);
        s.settings = s.model->fitted(s.settings); // what each layer is stored as
    }
    if (!withData)
        return s;
    s.text = a.option("--data");
    if (s.text.empty())
        throw Error("--data TEXT is required (a UTF-8 text file)");
    s.tokens = s.model->tokenizer().encode(readFile(s.text));
    LlmEvaluator::Options& o = s.options;
    o.nCtx = integerOption(a, "--ctx", 0);
    o.limit = integerOption(a, "--limit", -1);
    try {
        s.evaluator = std::make_unique<LlmEvaluator>(*s.model, s.tokens, o);
    } catch (const Error& e) {
        throw Error(s.text + ": " + e.what());
    }
    return s;
}

/// ", Llama 3 rope scaling x8 (original context 8192)" and the like; "" without scaling.
std::string ropeScalingText(const Decoder& d)
{
    const auto& r = d.config().ropeScaling;
    char buf[128];
    if (r && r->type == "llama3")
        std::snprintf(buf, sizeof buf, ", Llama 3 rope scaling x%g (original context %lld)", r->factor,
                      static_cast<long long>(r->originalContext));
    else if (r)
        std::snprintf(buf, sizeof buf, ", %s rope scaling x%g", r->type.c_str(), r->factor);
    else if (!d.weights().ropeFreqs.empty())
        return ", rope frequency factors (rope_freqs)";
    else
        return "";
    return buf;
}

int cmdInfoLlm(const Args& a)
{
    const LlmSession s = openLlm(a, false);
    const LanguageModel& m = *s.model;
    const LlmConfig& c = m.decoder().config();
    std::printf("model:        %s (%s, %lld bytes)\n", m.path().c_str(), m.sourceFormat(), static_cast<long long>(m.sourceBytes()));
    std::printf("architecture: %s, %lld block%s, width %lld, feed-forward %lld, %lld heads (%lld key/value) of %lld,"
                " context %lld%s, rope theta %g%s%s\n",
                c.architecture.c_str(), static_cast<long long>(c.layers), c.layers == 1 ? "" : "s", static_cast<long long>(c.hidden),
                static_cast<long long>(c.intermediate), static_cast<long long>(c.heads), static_cast<long long>(c.kvHeads),
                static_cast<long long>(c.headDim), static_cast<long long>(c.context),
                c.slidingWindow ? (" (sliding attention over " + std::to_string(*c.slidingWindow) + ")").c_str() : "",
                c.ropeTheta, ropeScalingText(m.decoder()).c_str(), c.tieEmbeddings ? ", tied embeddings" : "");
    std::printf("vocabulary:   %d tokens (%s)%s\n", m.tokenizer().vocabSize(),
                m.tokenizer().kind() == Tokenizer::Kind::ByteLevelBpe ? "byte-level BPE" : "SentencePiece BPE",
                m.windowBos() ? ", windows start with BOS" : "");
    std::int64_t params = 0;
    std::printf("\ncompressible layers (%zu):\n  %-40s %-10s %-14s %12s\n", m.layers().size(), "weight", "op", "shape",
                "parameters");
    for (const Layer& l : m.layers()) {
        std::printf("  %-40s %-10s %-14s %12lld\n", l.name.c_str(), l.opType.c_str(), shapeToString(l.shape).c_str(),
                    static_cast<long long>(l.parameters));
        params += l.parameters;
    }
    std::printf("\ntotals: %lld parameters in compressible layers, %lld in all; GGUF float32 export: %lld bytes\n",
                static_cast<long long>(params), static_cast<long long>(c.parameterCount()),
                static_cast<long long>(m.ggufBytes(s.settings)));
    return 0;
}

std::string llmProgressText(const Evaluation& p)
{
    const Interval* ppl = p.metrics.find("perplexity");
    char buf[160];
    std::snprintf(buf, sizeof buf, "eval: %lld/%lld windows, perplexity %.3f", static_cast<long long>(p.samples),
                  static_cast<long long>(p.total), ppl ? ppl->value : 0.0);
    return buf;
}

int cmdEvalLlm(const Args& a)
{
    LlmSession s = openLlm(a, true);
    ProgressLine line;
    const Evaluation e = s.evaluator->evaluate(s.settings, nullptr, [&](const Evaluation& p) { line.show(llmProgressText(p)); });
    const SizeReport size = s.model->sizeReport(s.settings);
    if (a.flag("--json")) {
        std::printf("%s\n", evaluationJson(e, size, s.model->layers(), {}).c_str());
        return 0;
    }
    std::printf("model:   %s\ntext:    %s (%zu tokens; %lld windows of %lld, %lld tokens scored)\n", s.model->path().c_str(),
                s.text.c_str(), s.tokens.size(), static_cast<long long>(e.samples),
                static_cast<long long>(s.evaluator->windowLength()), static_cast<long long>(e.metrics.samples));
    std::printf("size:    %lld bytes as GGUF, %.3f bits per weight, %.2fx smaller than float32, %.2fx than the original\n\n",
                static_cast<long long>(size.total), size.bitsPerWeight, size.ratioToFloat32, size.ratioToOriginal);
    for (const char* name : {"perplexity", "nll", "kl", "agreement"})
        std::printf("  %s\n", metricText(e.metrics, name, std::string(name) == "agreement").c_str());
    std::printf("\n  %-40s %-10s %12s %10s\n", "layer", "setting", "bytes", "SQNR dB");
    for (std::size_t i = 0; i < s.model->layers().size(); ++i)
        std::printf("  %-40s %-10s %12lld %10.1f\n", s.model->layers()[i].name.c_str(), settingSpec(s.settings[i]).c_str(),
                    static_cast<long long>(size.layers[i].total()), e.layers[i].weightSqnrDb);
    std::printf("  %-40s %-10s %12lld\n  %-40s %-10s %12lld\n", "norms and biases", "float32",
                static_cast<long long>(size.untouchedTensors), "header, metadata, tensor table", "",
                static_cast<long long>(size.containerHeader));
    std::printf("\nevaluated in %.2f s\n", e.seconds);
    return 0;
}

int cmdExportLlm(const Args& a, const std::string& out)
{
    if (a.option("--format") != "gguf")
        throw Error("a language model exports as --format gguf");
    const LlmSession s = openLlm(a, false);
    const std::int64_t expected = s.model->ggufBytes(s.settings);
    s.model->exportGguf(s.settings, out);
    const auto bytes = static_cast<std::int64_t>(std::filesystem::file_size(out));
    std::printf("wrote %s: %lld bytes%s\n", out.c_str(), static_cast<long long>(bytes),
                expected == bytes ? " (= the computed size)" : " (!= the computed size)");
    return expected == bytes ? 0 : 1;
}

/// The model a search runs on: an ONNX model on its data or a language model on a text.
struct Workload {
    std::unique_ptr<Session> onnx;
    std::unique_ptr<SizeModel> sizes;
    LlmSession llm;
    std::unique_ptr<PlanEvaluator> onnxEvaluator;

    PlanEvaluator& evaluator() { return onnx ? *onnxEvaluator : *llm.evaluator; }
    const std::vector<Layer>& layers() const { return onnx ? onnx->layers : llm.model->layers(); }
    SizeFunction size() const
    {
        if (onnx)
            return [this](const std::vector<LayerSetting>& p) { return sizes->total(p); };
        return [this](const std::vector<LayerSetting>& p) { return llm.model->ggufBytes(p); };
    }
};

Workload openWorkload(const Args& a)
{
    Workload w;
    if (isLanguageModel(a)) {
        w.llm = openLlm(a, true);
        return w;
    }
    w.onnx = std::make_unique<Session>(openSession(a, true));
    w.onnxEvaluator = std::make_unique<Evaluator>(w.onnx->model, w.onnx->data, w.onnx->pre);
    w.sizes = std::make_unique<SizeModel>(w.onnx->model, w.onnx->layers);
    return w;
}


int cmdEval(const Args& a)
{
    if (isLanguageModel(a))
        return cmdEvalLlm(a);
    Session s = openSession(a, true);
    Evaluator ev(s.model, s.data, s.pre);
    const SizeModel sizes(s.model, s.layers);
    ProgressLine line;
    Evaluation e = ev.evaluate(s.settings, nullptr, [&](const Evaluation& p) {
        const Interval* top1 = p.metrics.find("top1");
        char buf[160];
        std::snprintf(buf, sizeof buf, "eval: %lld/%lld samples%s", static_cast<long long>(p.samples),
                      static_cast<long long>(p.total),
                      top1 ? (", top-1 " + std::to_string(100 * top1->value).substr(0, 5) + " %").c_str() : "");
        line.show(buf);
    });
    const SizeReport size = sizes.report(s.sizeSettings);
    e.settings = s.sizeSettings; // a .leger file's layers show how they are stored
    if (a.flag("--json")) {
        std::printf("%s\n", evaluationJson(e, size, s.layers, classNames(s)).c_str());
        return 0;
    }
    std::printf("model:   %s\ndata:    %s (%lld samples)\n", s.model.path.c_str(), s.data.source.c_str(),
                static_cast<long long>(e.samples));
    std::printf("size:    %lld bytes, %.3f bits per weight, %.2fx smaller than float32, %.2fx than the original\n\n",
                static_cast<long long>(size.total), size.bitsPerWeight, size.ratioToFloat32, size.ratioToOriginal);
    for (const auto& [name, v] : e.metrics.values) {
        const bool percent = name != "kl" && name != "sqnr_db";
        std::printf("  %s\n", metricText(e.metrics, name, percent).c_str());
    }
    std::printf("\n  %-32s %-16s %10s %10s %8s %8s %6s %10s\n", "layer", "setting", "bytes", "codes", "sparsity",
                "scales", "zp", "SQNR dB");
    for (std::size_t i = 0; i < s.layers.size(); ++i) {
        const LayerBytes& b = size.layers[i];
        std::printf("  %-32s %-16s %10lld %10lld %8lld %8lld %6lld %10.1f\n", s.layers[i].name.c_str(),
                    settingSpec(s.sizeSettings[i]).c_str(), static_cast<long long>(b.total()),
                    static_cast<long long>(b.codes), static_cast<long long>(b.sparsity),
                    static_cast<long long>(b.scales), static_cast<long long>(b.zeroPoints), e.layers[i].weightSqnrDb);
    }
    std::printf("  %-32s %-16s %10lld\n  %-32s %-16s %10lld\n", "other tensors", "as stored",
                static_cast<long long>(size.untouchedTensors + size.tensorHeaders), "graph + header", "",
                static_cast<long long>(size.graphBytes + size.containerHeader));
    std::printf("\nevaluated in %.2f s\n", e.seconds);
    return 0;
}


std::vector<LayerSetting> settingList(const Args& a, bool languageModel = false)
{
    const std::string text = a.option("--settings", languageModel ? languageModelScanSettingsText() : defaultScanSettingsText());
    std::vector<LayerSetting> out;
    std::size_t p = 0;
    while (p <= text.size()) {
        const std::size_t comma = std::min(text.find(',', p), text.size());
        out.push_back(parseSettingSpec(text.substr(p, comma - p)));
        p = comma + 1;
    }
    return out;
}

SearchProgress searchProgress(ProgressLine& line, const char* what)
{
    return [&line, what](std::int64_t done, std::int64_t total, const std::string& item) {
        char buf[200];
        if (total > 0)
            std::snprintf(buf, sizeof buf, "%s: %lld/%lld %s", what, static_cast<long long>(done),
                          static_cast<long long>(total), item.c_str());
        else
            std::snprintf(buf, sizeof buf, "%s: %s", what, item.c_str());
        line.show(buf);
    };
}

void printSensitivity(const SensitivityTable& t, const std::vector<Layer>& layers)
{
    std::printf("sensitivity: drop of %s from %.4f, each layer alone at each setting\n\n  %-40s", t.metric.c_str(),
                t.baseline, "layer");
    for (const auto& st : t.settings)
        std::printf(" %10s", settingSpec(st).c_str());
    std::printf("\n");
    for (std::size_t i = 0; i < t.drop.size(); ++i) {
        std::printf("  %-40s", layers[i].name.c_str());
        for (double d : t.drop[i])
            std::printf(" %10.4f", d);
        std::printf("\n");
    }
}

int cmdSensitivity(const Args& a)
{
    Workload w = openWorkload(a);
    ProgressLine line;
    const SensitivityTable t = sensitivityScan(w.evaluator(), settingList(a, !w.onnx), a.option("--metric"), nullptr,
                                               searchProgress(line, "sensitivity"));
    if (a.flag("--json"))
        std::printf("%s\n", sensitivityJson(t, w.layers()).c_str());
    else
        printSensitivity(t, w.layers());
    return 0;
}

int cmdSweep(const Args& a)
{
    if (!a.option("--max-drop").empty() && !a.option("--budget-bytes").empty())
        throw Error("--max-drop and --budget-bytes are alternatives: give one");
    Workload w = openWorkload(a);
    PlanEvaluator& ev = w.evaluator();
    const std::vector<Layer>& layers = w.layers();
    const SizeFunction size = w.size();
    ProgressLine line;
    const SensitivityTable t = sensitivityScan(ev, settingList(a, !w.onnx), a.option("--metric"), nullptr,
                                               searchProgress(line, "sensitivity"));
    const std::string savePlan = a.option("--save-plan");
    auto save = [&](const std::vector<LayerSetting>& plan) {
        if (savePlan.empty())
            return;
        Plan p(savePlan);
        for (std::size_t i = 0; i < plan.size(); ++i)
            p.setLayer(layers[i].name, plan[i]);
        p.writeFile(savePlan);
        std::fprintf(stderr, "wrote %s\n", savePlan.c_str());
    };
    if (!a.option("--max-drop").empty() || !a.option("--budget-bytes").empty()) {
        BudgetResult r;
        if (!a.option("--max-drop").empty())
            r = fitMaxDrop(ev, t, size, numbers("--max-drop", a.option("--max-drop")).at(0), nullptr,
                           searchProgress(line, "fit"));
        else
            r = fitBudget(ev, t, size, integerOption(a, "--budget-bytes", 0), nullptr, searchProgress(line, "fit"));
        if (r.found)
            save(r.best.plan);
        if (a.flag("--json")) {
            std::printf("%s\n", budgetJson(r, layers, t.metric).c_str());
        } else {
            std::printf("%s\n", r.message.c_str());
            if (r.found) {
                std::printf("best: %lld bytes, %s %.4f (drop %.4f), measured on %lld samples\n",
                            static_cast<long long>(r.best.sizeBytes), t.metric.c_str(), r.best.quality,
                            t.baseline - r.best.quality, static_cast<long long>(r.best.evaluation.samples));
                for (std::size_t i = 0; i < layers.size(); ++i)
                    std::printf("  %-40s %s\n", layers[i].name.c_str(), settingSpec(r.best.plan[i]).c_str());
            }
        }
        return r.found ? 0 : 1;
    }
    const auto points = frontierSweep(ev, t, size, static_cast<int>(integerOption(a, "--points", 12)), nullptr,
                                      searchProgress(line, "sweep"));
    if (a.flag("--json")) {
        std::printf("%s\n", frontierJson(points, layers, t.metric).c_str());
    } else {
        std::printf("frontier (%s; * = Pareto-optimal):\n  %14s %10s\n", t.metric.c_str(), "bytes", t.metric.c_str());
        for (const auto& p : points)
            std::printf("  %14lld %10.4f %s\n", static_cast<long long>(p.sizeBytes), p.quality, p.pareto ? "*" : "");
    }
    return 0;
}

int cmdExport(const Args& a)
{
    const std::string out = a.option("-o");
    if (out.empty() || a.option("--plan").empty() || a.option("--format").empty())
        throw Error("usage: leger-cli export MODEL --plan P.json --format leger|onnx-qdq|onnx-float|gguf -o OUT");
    if (isLanguageModel(a))
        return cmdExportLlm(a, out);
    Session s = openSession(a, false);
    const ExportFormat format = parseExportFormat(a.option("--format"));
    const ExportResult r = exportModel(s.model, s.layers, s.settings, format, out);
    for (const auto& w : r.warnings)
        std::fprintf(stderr, "warning: %s\n", w.c_str());
    if (!r.sidecar.empty())
        std::fprintf(stderr, "wrote %s (the preprocessing, beside the model)\n", r.sidecar.c_str());
    std::int64_t expected = -1;
    if (format == ExportFormat::Leger)
        expected = SizeModel(s.model, s.layers).total(s.settings);
    std::printf("wrote %s: %lld bytes%s\n", out.c_str(), static_cast<long long>(r.bytes),
                expected < 0 ? "" : (expected == r.bytes ? " (= the computed size)" : " (!= the computed size)"));
    return expected >= 0 && expected != r.bytes ? 1 : 0;
}

#ifdef LEGER_WITH_REPORT
int cmdReport(const Args& a, int argc, char** argv)
{
    const std::string out = a.option("-o");
    if (out.empty())
        throw Error("report: -o REPORT.html is required");
    std::string pdf = a.option("--pdf");
    if (pdf.empty())
        pdf = (std::filesystem::path(out).replace_extension(".pdf")).string();
    if (pdf == out)
        throw Error("report: -o and --pdf name the same file");
    const bool fit = a.option("--plan").empty();
    if (fit && a.option("--max-drop").empty() && a.option("--budget-bytes").empty())
        throw Error("report: give --plan P.json, or --max-drop X or --budget-bytes N to find the plan");
    if (fit && !a.option("--max-drop").empty() && !a.option("--budget-bytes").empty())
        throw Error("report: without --plan, give one of --max-drop and --budget-bytes (the plan to find)");
    Workload w = openWorkload(a);
    ReportRequest rq;
    if (w.onnx) {
        rq.pre = w.onnx->pre;
        rq.plan = w.onnx->settings;
    } else {
        rq.languageModelPath = a.positional[0];
        rq.tokens = std::make_shared<const std::vector<std::int32_t>>(w.llm.tokens);
        rq.textPath = w.llm.text;
        rq.windows = w.llm.options;
        rq.plan = w.llm.settings;
    }
    rq.metric = a.option("--metric");
    if (const std::string v = a.option("--max-drop"); !v.empty())
        rq.maxDrop = numbers("--max-drop", v).at(0);
    if (!a.option("--budget-bytes").empty())
        rq.budgetBytes = integerOption(a, "--budget-bytes", 0);
    for (auto [it, end] = a.options.equal_range("--compare"); it != end; ++it)
        rq.compare.push_back(it->second);
    rq.exportPath = a.option("--export");
    rq.legerVersion = LEGER_VERSION;
    rq.runSensitivity = rq.runFrontier = !a.flag("--quick");
    ProgressLine line;
    if (fit) {
        // The plan is the search's answer: scan, then fit the stated limit; the report reuses both.
        PlanEvaluator& ev = w.evaluator();
        const SizeFunction size = w.size();
        auto table = std::make_shared<SensitivityTable>(
            sensitivityScan(ev, settingList(a, !w.onnx), rq.metric, nullptr, searchProgress(line, "sensitivity")));
        const BudgetResult r = rq.maxDrop ? fitMaxDrop(ev, *table, size, *rq.maxDrop, nullptr, searchProgress(line, "fit"))
                                          : fitBudget(ev, *table, size, *rq.budgetBytes, nullptr, searchProgress(line, "fit"));
        std::fprintf(stderr, "%s\n", r.message.c_str());
        if (!r.found)
            return 1;
        rq.plan = r.best.plan;
        rq.planLabel = rq.maxDrop ? "smallest plan within the limit" : "best plan within the budget";
        rq.planEvaluation = std::make_shared<const Evaluation>(r.best.evaluation);
        rq.sensitivity = table;
        rq.metric = table->metric;
        if (!w.onnx) // the plan as each layer is stored (llama.cpp's fallback where a block does not fit)
            rq.plan = w.llm.model->fitted(rq.plan);
    }
    // The report makes its own evaluator (and opens its own instance of a language model).
    w.onnxEvaluator.reset();
    w.llm.evaluator.reset();
    if (w.onnx) {
        rq.model = std::make_shared<const Model>(std::move(w.onnx->model));
        rq.data = std::make_shared<const Dataset>(std::move(w.onnx->data));
    }
    const ReportData data = buildReport(rq, nullptr, searchProgress(line, "report"));
    // The charts are the workbench's, drawn offscreen: no display is needed.
    qputenv("QT_QPA_PLATFORM", "offscreen");
    // Qt's warnings about the offscreen platform (no runtime dir, no size hints) are not the user's concern.
    qInstallMessageHandler([](QtMsgType type, const QMessageLogContext&, const QString& text) {
        if (type == QtCriticalMsg || type == QtFatalMsg)
            std::fprintf(stderr, "%s\n", qPrintable(text));
    });
    QApplication app(argc, argv);
    const leger::ui::ReportDocument doc(data);
    QString error;
    const std::string json = std::filesystem::path(pdf).replace_extension(".json").string();
    if (!doc.writeHtml(QString::fromStdString(out), &error) || !doc.writePdf(QString::fromStdString(pdf), &error) ||
        !doc.writeJson(QString::fromStdString(json), &error))
        throw Error(error.toStdString());
    std::printf("wrote %s, %s and %s\n", out.c_str(), pdf.c_str(), json.c_str());
    int failed = 0;
    for (const CheckItem& c : data.checklist) {
        std::printf("  %-12s %s: %s\n", toString(c.status), c.title.c_str(), c.evidence.c_str());
        failed += c.status == CheckItem::Status::Failed;
    }
    std::printf("%s\n", failed ? "not ready: a check failed" : "ready: every stated check passed");
    return failed ? 3 : 0;
}
#endif

int cmdBench(const Args& a)
{
    Session s = openSession(a, true);
    std::printf("%s\n", engineBenchmarkJson(s.model, s.data, s.pre).c_str());
    return 0;
}

int cmdConformance(const Args& a)
{
    if (a.positional.size() != 1)
        throw Error("usage: leger-cli conformance DIR [--filter TEXT]");
    const bool verbose = a.flag("--verbose");
    const auto results = ConformanceSuite::runAll(a.positional[0], a.option("--filter"), {},
                                                  [verbose](const ConformanceSuite::Result& r) {
                                                      if (verbose)
                                                          std::fprintf(stderr, "%-60s %s\n", r.test.c_str(),
                                                                       r.status == ConformanceSuite::Status::Passed ? "ok"
                                                                       : r.status == ConformanceSuite::Status::Failed
                                                                           ? "FAILED"
                                                                           : "unsupported");
                                                  });
    std::fputs(ConformanceSuite::report(results).c_str(), stdout);
    for (const auto& r : results)
        if (r.status == ConformanceSuite::Status::Failed)
            return 1;
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!std::strcmp(argv[1], "--version")) {
        std::printf("leger-cli %s\n", LEGER_VERSION);
        return 0;
    }
    const std::string cmd = argv[1];
    try {
        const Args args = parse(argc, argv, 2);
        openblas_set_num_threads(std::max(1, std::stoi(args.option("--threads", "1"))));
        if (cmd == "info")
            return cmdInfo(args);
        if (cmd == "run")
            return cmdRun(args);
        if (cmd == "conformance")
            return cmdConformance(args);
        if (cmd == "eval")
            return cmdEval(args);
        if (cmd == "sensitivity")
            return cmdSensitivity(args);
        if (cmd == "sweep")
            return cmdSweep(args);
        if (cmd == "export")
            return cmdExport(args);
        if (cmd == "bench")
            return cmdBench(args);
        if (cmd == "report") {
#ifdef LEGER_WITH_REPORT
            return cmdReport(args, argc, argv);
#else
            throw Error("this leger-cli was built without the GUI libraries (LEGER_BUILD_GUI=OFF), which draw reports");
#endif
        }
        std::fprintf(stderr, "leger-cli: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "leger-cli %s: error: %s\n", cmd.c_str(), e.what());
        return 1;
    }
}
