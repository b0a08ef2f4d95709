#include "llm/LanguageModel.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "compress/Compressor.h"
#include "compress/GgmlQuants.h"
#include "io/GgufFile.h"
#include "io/GgufWriter.h"
#include "model/Half.h"
#include "util/AtomicFile.h"
#include "util/Error.h"
#include "util/Memory.h"

namespace leger {

namespace fs = std::filesystem;

/// One tensor of the exported file: a decoder weight, which layer it is (or -1), GGUF's row order.
struct ExportTensor {
    std::string gguf;
    const Tensor* tensor;
    int layer;
    std::int64_t ropeHeads;
};

struct LanguageModel::Impl {
    std::string path;
    bool gguf = false;
    std::int64_t sourceBytes = 0;
    std::unique_ptr<Decoder> decoder;
    std::unique_ptr<Tokenizer> tokenizer;
    std::optional<std::int32_t> bos;
    std::vector<Layer> layers;
    std::vector<std::string> ggufNames;
    std::vector<const Tensor*> originals; // the decoder's own, which evaluation never changes
    std::vector<ExportTensor> exportTensors;
    // The exported file's metadata, and its size without the layers' data.
    std::vector<std::pair<std::string, GgufValue>> metadata;
    std::uint64_t alignment = 32;
    // The exported file's header (metadata and tensor table, padded) without and with
    // general.quantization_version, and its norms and biases with their padding: the bytes that
    // do not depend on the layers' types, computed once so that sizes take microseconds.
    std::uint64_t headerBytes[2] = {0, 0};
    std::uint64_t otherBytes = 0;
    std::uint64_t padded(std::uint64_t n) const { return (n + alignment - 1) / alignment * alignment; }
};

namespace {

constexpr const char* kQuantizationVersion = "general.quantization_version";

std::int64_t fileBytes(const fs::path& p)
{
    std::error_code ec;
    const auto n = fs::file_size(p, ec);
    return ec ? 0 : static_cast<std::int64_t>(n);
}

/// llama.cpp's row order of a q/k projection: within each head of d rows, GGUF row 2j + r is
/// Hugging Face row r * d/2 + j (its rotary embedding pairs neighbouring rows).
std::int64_t sourceRow(std::int64_t ggufRow, std::int64_t rows, std::int64_t heads)
{
    if (heads == 0)
        return ggufRow;
    const std::int64_t d = rows / heads, h = ggufRow / d, w = ggufRow % d;
    return h * d + (w % 2) * (d / 2) + w / 2;
}

/// The metadata llama.cpp's converter writes for a Hugging Face model: the architecture's keys and
/// the vocabulary.
std::vector<std::pair<std::string, GgufValue>> huggingFaceMetadata(const LlmConfig& c, const Tokenizer& tok,
                                                                   std::optional<std::int32_t> bos, const std::string& name,
                                                                   const std::string& source)
{
    if (c.architecture != "llama" && c.architecture != "qwen2" && c.architecture != "gpt2")
        throw UnsupportedError(source + ": GGUF export of the " + c.architecture + " architecture is not implemented");
    // Llama 3's scaling travels as the tensor rope_freqs.weight (the decoder's ropeFreqs), which
    // llama.cpp reads for llama models only; dynamic scaling is none within the context (Decoder).
    const std::string scaling = c.ropeScaling ? c.ropeScaling->type : "";
    if (!scaling.empty() && scaling != "linear" && scaling != "dynamic" && !(scaling == "llama3" && c.architecture == "llama"))
        throw UnsupportedError(source + ": GGUF export of rope scaling '" + scaling + "' for " + c.architecture +
                               " is not implemented");
    const std::string a = c.architecture;
    const auto u32 = [](std::int64_t v) { return ggufU32(static_cast<std::uint32_t>(v)); };
    std::vector<std::pair<std::string, GgufValue>> m = {
        {"general.architecture", ggufString(a)},
        {"general.name", ggufString(name)},
        {a + ".vocab_size", u32(c.vocabSize)},
        {a + ".context_length", u32(c.context)},
        {a + ".embedding_length", u32(c.hidden)},
        {a + ".block_count", u32(c.layers)},
        {a + ".feed_forward_length", u32(c.intermediate)},
        {a + ".attention.head_count", u32(c.heads)},
    };
    if (a == "gpt2") {
        m.emplace_back(a + ".attention.layer_norm_epsilon", ggufF32(static_cast<float>(c.normEps)));
    } else {
        m.emplace_back(a + ".attention.head_count_kv", u32(c.kvHeads));
        m.emplace_back(a + ".rope.dimension_count", u32(c.headDim));
        m.emplace_back(a + ".rope.freq_base", ggufF32(static_cast<float>(c.ropeTheta)));
        m.emplace_back(a + ".attention.layer_norm_rms_epsilon", ggufF32(static_cast<float>(c.normEps)));
    }
    if (a != "gpt2" && c.headDim * c.heads != c.hidden) {
        m.emplace_back(a + ".attention.key_length", u32(c.headDim));
        m.emplace_back(a + ".attention.value_length", u32(c.headDim));
    }
    if (scaling == "linear") {
        m.emplace_back(a + ".rope.scaling.type", ggufString("linear"));
        m.emplace_back(a + ".rope.scaling.factor", ggufF32(static_cast<float>(c.ropeScaling->factor)));
    }
    for (auto& entry : tok.ggufVocabulary(source))
        m.push_back(std::move(entry));
    if (c.bos)
        m.emplace_back("tokenizer.ggml.bos_token_id", u32(*c.bos));
    if (c.eos)
        m.emplace_back("tokenizer.ggml.eos_token_id", u32(*c.eos));
    m.emplace_back("tokenizer.ggml.add_bos_token", ggufBool(bos.has_value()));
    return m;
}

/// tokenizer_config.json's add_bos_token, when the folder has one.
bool addsBosToken(const fs::path& dir)
{
    const fs::path p = dir / "tokenizer_config.json";
    if (!fs::exists(p))
        return false;
    const auto j = nlohmann::json::parse(readFile(p.string()), nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw Error(p.string() + ": not a JSON object");
    const auto it = j.find("add_bos_token");
    if (it == j.end() || it->is_null())
        return false;
    if (!it->is_boolean())
        throw Error(p.string() + ": add_bos_token: expected a boolean");
    return it->get<bool>();
}

} // namespace

bool LanguageModel::isLanguageModelPath(const std::string& path)
{
    const fs::path p(path);
    const std::string ext = p.extension().string();
    std::error_code ec;
    if (fs::is_directory(p, ec))
        return fs::exists(p / "config.json", ec);
    return ext == ".gguf" || ext == ".safetensors" || p.filename() == "config.json";
}

LanguageModel::LanguageModel(std::unique_ptr<Impl> d) : d_(std::move(d)) {}
LanguageModel::LanguageModel(LanguageModel&&) noexcept = default;
LanguageModel& LanguageModel::operator=(LanguageModel&&) noexcept = default;
LanguageModel::~LanguageModel() = default;

LanguageModel LanguageModel::open(const std::string& path)
{
    auto d = std::make_unique<Impl>();
    d->path = path;
    const fs::path p(path);
    std::error_code ec;
    if (!fs::exists(p, ec))
        throw Error(path + ": no such file or folder");
    if (p.extension() == ".gguf") {
        d->gguf = true;
        d->sourceBytes = fileBytes(p);
        const GgufFile g = GgufFile::open(path);
        d->tokenizer = std::make_unique<Tokenizer>(Tokenizer::fromGguf(g, path));
        d->decoder = std::make_unique<Decoder>(Decoder::fromGguf(path));
        // llama.cpp's default: SentencePiece vocabularies and those of Llama 3's pre-tokenizer add one.
        bool addBos = d->tokenizer->kind() == Tokenizer::Kind::SentencePieceBpe ||
                      d->tokenizer->preTokenizer() == Tokenizer::PreTokenizer::Llama3;
        if (const GgufValue* v = g.find("tokenizer.ggml.add_bos_token")) {
            const auto* b = std::get_if<std::uint64_t>(&v->value);
            if (v->type != GgufValue::Type::Bool || !b)
                throw Error(path + ": tokenizer.ggml.add_bos_token: expected a bool");
            addBos = *b != 0;
        }
        if (addBos) {
            if (!d->tokenizer->special().bos)
                throw Error(path + ": tokenizer.ggml.add_bos_token is set but the vocabulary names no BOS token");
            d->bos = d->tokenizer->special().bos;
        }
        d->alignment = g.alignment();
        for (const auto& [key, value] : g.metadata())
            if (key != "general.file_type" && key != "general.quantization_version" && key != "general.alignment")
                d->metadata.emplace_back(key, value);
    } else {
        const fs::path dir = fs::is_directory(p, ec) ? p : p.parent_path();
        d->decoder = std::make_unique<Decoder>(Decoder::fromHuggingFace(dir.string()));
        for (const auto& f : fs::directory_iterator(dir, ec))
            if (f.path().extension() == ".safetensors")
                d->sourceBytes += fileBytes(f.path());
        if (fs::exists(dir / "tokenizer.json"))
            d->tokenizer = std::make_unique<Tokenizer>(Tokenizer::fromHuggingFace((dir / "tokenizer.json").string()));
        else if (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt"))
            d->tokenizer = std::make_unique<Tokenizer>(
                Tokenizer::fromGpt2Files((dir / "vocab.json").string(), (dir / "merges.txt").string()));
        else
            throw Error(dir.string() + ": no tokenizer.json, nor vocab.json and merges.txt");
        if (addsBosToken(dir)) {
            const auto& c = d->decoder->config();
            if (!c.bos)
                throw Error((dir / "tokenizer_config.json").string() + ": add_bos_token is set but config.json has no bos_token_id");
            d->bos = static_cast<std::int32_t>(*c.bos);
        }
        d->metadata = huggingFaceMetadata(d->decoder->config(), *d->tokenizer, d->bos, dir.filename().string(), path);
    }
    if (d->tokenizer->vocabSize() > d->decoder->config().vocabSize)
        throw Error(path + ": the vocabulary has " + std::to_string(d->tokenizer->vocabSize()) +
                    " tokens, the model's embedding " + std::to_string(d->decoder->config().vocabSize));
    const bool llamaRows = d->decoder->config().architecture == "llama";
    for (const Decoder::NamedWeight& w : d->decoder->namedWeights()) {
        const int layerIndex = w.matrix ? static_cast<int>(d->layers.size()) : -1;
        d->exportTensors.push_back({w.gguf, w.tensor, layerIndex, llamaRows ? w.ropeHeads : 0});
        if (!w.matrix)
            continue;
        Layer l;
        l.name = d->gguf ? w.gguf : w.hf;
        l.nodeName = l.name;
        l.opType = w.gguf == "token_embd.weight" ? "Embedding" : "Linear";
        l.shape = w.tensor->shape();
        l.rows = w.tensor->dim(0);
        l.cols = w.tensor->dim(1);
        l.parameters = l.rows * l.cols;
        d->layers.push_back(std::move(l));
        d->ggufNames.push_back(w.gguf);
        d->originals.push_back(w.tensor);
    }
    LanguageModel m(std::move(d));
    GgufWriter all = m.layout(std::vector<LayerSetting>(m.d_->layers.size()));
    std::uint64_t others = 0;
    for (const ExportTensor& t : m.d_->exportTensors)
        if (t.layer < 0)
            others += all.paddedBytes(t.tensor->byteSize());
    m.d_->otherBytes = others;
    m.d_->headerBytes[0] = all.headerBytes();
    all.set(kQuantizationVersion, ggufU32(2));
    m.d_->headerBytes[1] = all.headerBytes();
    return m;
}

const std::string& LanguageModel::path() const { return d_->path; }
const char* LanguageModel::sourceFormat() const { return d_->gguf ? "GGUF" : "safetensors"; }
std::int64_t LanguageModel::sourceBytes() const { return d_->sourceBytes; }
Decoder& LanguageModel::decoder() { return *d_->decoder; }
const Decoder& LanguageModel::decoder() const { return *d_->decoder; }
const Tokenizer& LanguageModel::tokenizer() const { return *d_->tokenizer; }
std::optional<std::int32_t> LanguageModel::windowBos() const { return d_->bos; }
const std::vector<Layer>& LanguageModel::layers() const { return d_->layers; }
const Tensor& LanguageModel::original(std::size_t layer) const { return *d_->originals.at(layer); }
const std::string& LanguageModel::ggufName(std::size_t layer) const { return d_->ggufNames.at(layer); }

std::string LanguageModel::whyNot(std::size_t layer, const LayerSetting& s) const
{
    const Layer& l = d_->layers.at(layer);
    if (s.format == WeightFormat::Int)
        return "int" + std::to_string(s.bits) + " has no GGUF type: language models use float16, bfloat16 or a "
               "block format (q8_0 is int8 in groups of 32 with a float16 scale, q4_0 int4 likewise, q4_1 with a minimum)";
    if (s.pruned())
        return "GGUF stores every weight: pruning would not make the file smaller";
    if (isBlockFormat(s.format) && l.cols % blockWeights(s.format) != 0)
        return std::string(toString(s.format)) + " needs rows of a multiple of " + std::to_string(blockWeights(s.format)) +
               " weights; the rows of " + l.name + " have " + std::to_string(l.cols);
    return {};
}

LayerSetting LanguageModel::fitted(std::size_t layer, const LayerSetting& s) const
{
    const std::int64_t cols = d_->layers.at(layer).cols;
    if (!isBlockFormat(s.format) || cols % blockWeights(s.format) == 0)
        return s;
    LayerSetting f = s;
    switch (s.format) {
    case WeightFormat::Q2_K:
    case WeightFormat::Q3_K: f.format = WeightFormat::Q4_0; break;
    case WeightFormat::Q4_K: f.format = WeightFormat::Q5_0; break;
    case WeightFormat::Q5_K: f.format = WeightFormat::Q5_1; break;
    case WeightFormat::Q6_K: f.format = WeightFormat::Q8_0; break;
    default: break;
    }
    if (cols % blockWeights(f.format) != 0)
        f.format = WeightFormat::Float16;
    return f;
}

std::vector<LayerSetting> LanguageModel::fitted(const std::vector<LayerSetting>& settings) const
{
    std::vector<LayerSetting> out(settings.size());
    for (std::size_t i = 0; i < settings.size() && i < d_->layers.size(); ++i)
        out[i] = fitted(i, settings[i]);
    return out;
}

void LanguageModel::checkSettings(const std::vector<LayerSetting>& settings) const
{
    if (settings.size() != d_->layers.size())
        throw Error(d_->path + ": " + std::to_string(settings.size()) + " settings for " +
                    std::to_string(d_->layers.size()) + " layers");
    for (std::size_t i = 0; i < settings.size(); ++i)
        if (const std::string why = whyNot(i, fitted(i, settings[i])); !why.empty())
            throw Error(d_->path + ": layer '" + d_->layers[i].name + "' (" + settings[i].label() + "): " + why);
}

GgufWriter LanguageModel::layout(const std::vector<LayerSetting>& settings) const
{
    GgufWriter w(d_->alignment);
    if (d_->alignment != 32)
        w.set("general.alignment", ggufU32(static_cast<std::uint32_t>(d_->alignment)));
    for (const auto& [k, v] : d_->metadata)
        w.set(k, v);
    bool quantized = false;
    for (const ExportTensor& t : d_->exportTensors) {
        GgmlType type = GgmlType::F32;
        if (t.layer >= 0) {
            const WeightFormat f = settings[static_cast<std::size_t>(t.layer)].format;
            type = static_cast<GgmlType>(ggmlTypeNumber(f));
            quantized = quantized || isBlockFormat(f);
        }
        w.addTensor(t.gguf, t.tensor->shape(), type);
    }
    if (quantized)
        w.set(kQuantizationVersion, ggufU32(2)); // ggml's GGML_QNT_VERSION
    return w;
}

namespace {

/// Bytes of a layer's tensor in a GGUF type.
std::int64_t tensorBytes(const Layer& l, WeightFormat f)
{
    const std::int64_t rowBytes = isBlockFormat(f)                ? l.cols / blockWeights(f) * blockBytes(f)
                                  : f == WeightFormat::Float32 ? 4 * l.cols
                                                                 : 2 * l.cols;
    return l.rows * rowBytes;
}

} // namespace

std::int64_t LanguageModel::ggufBytes(const std::vector<LayerSetting>& settings) const
{
    checkSettings(settings);
    std::uint64_t layers = 0;
    bool quantized = false;
    for (std::size_t i = 0; i < settings.size(); ++i) {
        const WeightFormat f = fitted(i, settings[i]).format;
        layers += d_->padded(static_cast<std::uint64_t>(tensorBytes(d_->layers[i], f)));
        quantized = quantized || isBlockFormat(f);
    }
    return static_cast<std::int64_t>(d_->headerBytes[quantized ? 1 : 0] + d_->otherBytes + layers);
}

SizeReport LanguageModel::sizeReport(const std::vector<LayerSetting>& settings) const
{
    checkSettings(settings);
    SizeReport r;
    std::int64_t payload = 0;
    bool quantized = false;
    for (std::size_t i = 0; i < settings.size(); ++i) {
        const Layer& l = d_->layers[i];
        const WeightFormat f = fitted(i, settings[i]).format;
        LayerBytes b;
        b.weights = b.stored = l.parameters;
        b.codes = tensorBytes(l, f);
        b.header = static_cast<std::int64_t>(d_->padded(static_cast<std::uint64_t>(b.codes))) - b.codes;
        r.layers.push_back(b);
        r.layerWeights += b.weights;
        payload += b.codes;
        quantized = quantized || isBlockFormat(f);
    }
    r.containerHeader = static_cast<std::int64_t>(d_->headerBytes[quantized ? 1 : 0]);
    r.untouchedTensors = static_cast<std::int64_t>(d_->otherBytes);
    r.total = r.containerHeader + r.untouchedTensors;
    for (const LayerBytes& b : r.layers)
        r.total += b.total();
    r.bitsPerWeight = r.layerWeights ? 8.0 * static_cast<double>(payload) / static_cast<double>(r.layerWeights) : 0.0;
    r.originalBytes = d_->sourceBytes;
    r.float32Bytes = ggufBytes(std::vector<LayerSetting>(settings.size()));
    r.ratioToOriginal = static_cast<double>(r.originalBytes) / static_cast<double>(r.total);
    r.ratioToFloat32 = static_cast<double>(r.float32Bytes) / static_cast<double>(r.total);
    return r;
}

void LanguageModel::exportGguf(const std::vector<LayerSetting>& asked, const std::string& outPath,
                               const CancelToken* cancel) const
{
    checkSettings(asked);
    const std::vector<LayerSetting> settings = fitted(asked);
    const GgufWriter w = layout(settings);
    std::vector<float> row;
    w.write(outPath, [&](std::size_t i, std::byte* out) {
        const ExportTensor& t = d_->exportTensors[i];
        const Tensor& src = *t.tensor;
        if (t.layer < 0) {
            std::memcpy(out, src.raw(), src.byteSize());
            return;
        }
        const LayerSetting& s = settings[static_cast<std::size_t>(t.layer)];
        const std::int64_t rows = src.dim(0), cols = src.dim(1);
        const GgmlType type = static_cast<GgmlType>(ggmlTypeNumber(s.format));
        const std::int64_t rowBytes = static_cast<std::int64_t>(w.tensor(i).bytes) / rows;
        for (std::int64_t r = 0; r < rows; ++r) {
            const float* x = src.data<float>() + sourceRow(r, rows, t.ropeHeads) * cols;
            std::byte* o = out + r * rowBytes;
            // NaN and infinities are quantized as 0, as the quantizer does for evaluation.
            row.assign(x, x + cols);
            if (isBlockFormat(s.format)) {
                for (float& v : row)
                    v = std::isfinite(v) ? v : 0.0f;
                quantizeGgmlRow(type, row.data(), cols, o);
            } else if (s.format == WeightFormat::Float16) {
                for (std::int64_t c = 0; c < cols; ++c) {
                    const std::uint16_t h = Half::fromFloat(row[static_cast<std::size_t>(c)]).bits;
                    std::memcpy(o + 2 * c, &h, 2);
                }
            } else if (s.format == WeightFormat::BFloat16) {
                for (std::int64_t c = 0; c < cols; ++c) {
                    const std::uint16_t h = BFloat16::fromFloat(row[static_cast<std::size_t>(c)]).bits;
                    std::memcpy(o + 2 * c, &h, 2);
                }
            } else {
                std::memcpy(o, row.data(), static_cast<std::size_t>(4 * cols));
            }
        }
    }, cancel);
}

} // namespace leger
