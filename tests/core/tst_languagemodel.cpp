// A language model as Leger compresses it (llm/LanguageModel, llm/LlmEvaluator, io/GgufWriter) on
// the committed test model (resources/llm): the size shown is the exported GGUF's size for any mix
// of types; the exported file holds ggml's blocks of the original weights in llama.cpp's layout and
// measures exactly as the plan did; perplexity, KL and agreement equal direct computations; partial
// results refine and a cancel leaves the model as it was; bad settings and inputs are refused with
// what is wrong.
#include <QtTest>

#include <QTemporaryDir>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "compress/Compressor.h"
#include "compress/GgmlQuants.h"
#include "compress/Plan.h"
#include "io/GgufFile.h"
#include "io/GgufWriter.h"
#include "llm/LanguageModel.h"
#include "llm/LlmEvaluator.h"
#include "llm/Tokenizer.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

using namespace leger;

namespace {
const std::string kDir = LEGER_SOURCE_DIR "/resources/llm/";

/// Every layer at f where f fits it, float16 elsewhere.
std::vector<LayerSetting> allAt(const LanguageModel& m, WeightFormat f)
{
    std::vector<LayerSetting> s(m.layers().size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        s[i].format = f;
        if (!m.whyNot(i, s[i]).empty())
            s[i].format = WeightFormat::Float16;
    }
    return s;
}

/// Layer i at the i-th format of a cycle through every GGUF type that fits it.
std::vector<LayerSetting> mixed(const LanguageModel& m)
{
    const WeightFormat cycle[] = {WeightFormat::Q4_K, WeightFormat::Q8_0, WeightFormat::Q6_K, WeightFormat::Q2_K,
                                  WeightFormat::Q5_0, WeightFormat::Float16, WeightFormat::Q3_K, WeightFormat::Q4_1,
                                  WeightFormat::Q5_K, WeightFormat::BFloat16, WeightFormat::Q4_0, WeightFormat::Q5_1,
                                  WeightFormat::Float32};
    std::vector<LayerSetting> s(m.layers().size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        s[i].format = cycle[i % std::size(cycle)];
        if (!m.whyNot(i, s[i]).empty())
            s[i].format = WeightFormat::Float16;
    }
    return s;
}

std::int64_t fileSize(const std::string& p) { return static_cast<std::int64_t>(std::filesystem::file_size(p)); }
} // namespace

class TestLanguageModel : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void layersAreTheProjectionsAndTheEmbedding();
    void blockSettingsParse();
    void sizeIsTheExportedFileSize();
    void exportHoldsGgmlBlocksInLlamaCppsLayout();
    void exportMeasuresAsThePlan();
    void safetensorsSourceExportsTheSameFile();
    void uncompressedMatchesPerplexity();
    void bosVocabularyStartsTheTextAndEachWindow();
    void exportNamesThePreTokenizer_data();
    void exportNamesThePreTokenizer();
    void llama3GgufAddsBosByDefault();
    void llama3RopeScalingTravelsAsRopeFreqs();
    void klAndAgreementEqualDirectComputation();
    void partialResultsAndCancel();
    void refusals();
    void writerRoundTripsEveryValueType();

private:
    std::unique_ptr<LanguageModel> model_;
    std::vector<std::int32_t> tokens_;
    QTemporaryDir tmp_;
};

void TestLanguageModel::initTestCase()
{
    QVERIFY(tmp_.isValid());
    model_ = std::make_unique<LanguageModel>(LanguageModel::open(kDir + "tiny-llama-f32.gguf"));
    tokens_ = model_->tokenizer().encode(readFile(kDir + "heldout.txt"));
    QVERIFY(tokens_.size() > 4096);
}

void TestLanguageModel::layersAreTheProjectionsAndTheEmbedding()
{
    const LlmConfig& c = model_->decoder().config();
    // Tied embeddings: the embedding, then 7 projections per block; no separate output.
    QCOMPARE(static_cast<std::int64_t>(model_->layers().size()), 1 + 7 * c.layers);
    QCOMPARE(model_->layers()[0].name, std::string("token_embd.weight"));
    QCOMPARE(model_->layers()[0].opType, std::string("Embedding"));
    QCOMPARE(model_->layers()[1].name, std::string("blk.0.attn_q.weight"));
    QCOMPARE(model_->layers()[7].name, std::string("blk.0.ffn_down.weight"));
    QCOMPARE(model_->layers()[7].rows, c.hidden);
    QCOMPARE(model_->layers()[7].cols, c.intermediate);
    std::int64_t params = 0;
    for (const Layer& l : model_->layers())
        params += l.parameters;
    // Everything but the norms.
    QCOMPARE(params, c.parameterCount() - c.hidden * (2 * c.layers + 1));
    // Every block format fits some layer of the test model (rows of a multiple of 256).
    for (WeightFormat f : kAllWeightFormats) {
        if (!isBlockFormat(f))
            continue;
        LayerSetting s;
        s.format = f;
        bool fits = false;
        for (std::size_t i = 0; i < model_->layers().size(); ++i)
            fits = fits || model_->whyNot(i, s).empty();
        QVERIFY2(fits, toString(f));
    }
}

void TestLanguageModel::blockSettingsParse()
{
    QCOMPARE(parseSettingSpec("Q4_K").format, WeightFormat::Q4_K);
    QCOMPARE(parseSettingSpec("q8_0").format, WeightFormat::Q8_0);
    QCOMPARE(settingSpec(parseSettingSpec("q5_k")), std::string("q5_K"));
    QCOMPARE(blockBytes(WeightFormat::Q4_K), 144);
    QCOMPARE(blockWeights(WeightFormat::Q4_K), 256);
    QCOMPARE(blockBytes(WeightFormat::Q8_0), 34);
    QCOMPARE(ggmlTypeNumber(WeightFormat::Q6_K), 14u);
    QVERIFY_THROWS_EXCEPTION(Error, parseSettingSpec("q4_K-g32"));
    const Plan p = Plan::fromJson(R"({"default": {"format": "q4_K"}, "layers": {"blk.0.*": {"format": "q8_0"}}})");
    QCOMPARE(p.settingFor("blk.1.attn_q.weight").format, WeightFormat::Q4_K);
    QCOMPARE(p.settingFor("blk.0.attn_q.weight").format, WeightFormat::Q8_0);
    QCOMPARE(Plan::fromJson(p.toJson()), p);
    try {
        Plan::fromJson(R"({"default": {"format": "q4_K", "sparsity": 0.5}})", "p.json");
        QFAIL("a pruned block format was accepted");
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find("cannot be pruned") != std::string::npos, e.what());
    }
}

void TestLanguageModel::sizeIsTheExportedFileSize()
{
    std::vector<std::vector<LayerSetting>> plans = {std::vector<LayerSetting>(model_->layers().size()), mixed(*model_)};
    for (WeightFormat f : {WeightFormat::Float16, WeightFormat::BFloat16, WeightFormat::Q8_0, WeightFormat::Q4_0,
                           WeightFormat::Q4_1, WeightFormat::Q5_0, WeightFormat::Q5_1, WeightFormat::Q2_K,
                           WeightFormat::Q3_K, WeightFormat::Q4_K, WeightFormat::Q5_K, WeightFormat::Q6_K})
        plans.push_back(allAt(*model_, f));
    for (std::size_t k = 0; k < plans.size(); ++k) {
        const std::string out = tmp_.filePath(QStringLiteral("size%1.gguf").arg(k)).toStdString();
        model_->exportGguf(plans[k], out);
        QCOMPARE(model_->ggufBytes(plans[k]), fileSize(out));
        const SizeReport r = model_->sizeReport(plans[k]);
        QCOMPARE(r.total, fileSize(out));
        std::int64_t sum = r.containerHeader + r.untouchedTensors;
        for (const LayerBytes& b : r.layers)
            sum += b.total();
        QCOMPARE(sum, r.total);
    }
    // Smaller types make smaller files: q4_K everywhere it fits is under a third of float32.
    QVERIFY(model_->ggufBytes(allAt(*model_, WeightFormat::Q4_K)) * 3 < model_->ggufBytes(plans[0]));
}

void TestLanguageModel::exportHoldsGgmlBlocksInLlamaCppsLayout()
{
    const std::vector<LayerSetting> plan = mixed(*model_);
    const std::string out = tmp_.filePath("mixed.gguf").toStdString();
    model_->exportGguf(plan, out);
    const GgufFile g = GgufFile::open(out);
    const GgufFile src = GgufFile::open(kDir + "tiny-llama-f32.gguf");
    QCOMPARE(g.version(), 3u);
    QVERIFY(!g.find("general.file_type"));
    QCOMPARE(g.find("general.quantization_version")->toUInt("q"), 2u);
    QCOMPARE(g.find("general.architecture")->toString("a"), std::string("llama"));
    QCOMPARE(std::get<std::vector<GgufValue>>(g.find("tokenizer.ggml.tokens")->value).size(), std::size_t{2048});
    QCOMPARE(g.tensors().size(), src.tensors().size());
    const LlmConfig& c = model_->decoder().config();
    for (std::size_t i = 0; i < model_->layers().size(); ++i) {
        const GgufTensorInfo* t = g.tensor(model_->ggufName(i));
        QVERIFY(t);
        QCOMPARE(static_cast<std::uint32_t>(t->type), ggmlTypeNumber(plan[i].format));
        // The source file's rows (llama.cpp's permuted q/k rows included), each quantized by ggml's rule.
        const Tensor orig = src.toFloat(*src.tensor(model_->ggufName(i)));
        const std::int64_t rows = orig.dim(0), cols = orig.dim(1);
        const auto bytes = g.data(*t);
        QCOMPARE(static_cast<std::int64_t>(bytes.size()), rows * (static_cast<std::int64_t>(t->bytes) / rows));
        const std::int64_t rowBytes = static_cast<std::int64_t>(bytes.size()) / rows;
        std::vector<std::byte> want(static_cast<std::size_t>(rowBytes));
        for (std::int64_t r = 0; r < rows; ++r) {
            const float* x = orig.data<float>() + r * cols;
            if (isBlockFormat(plan[i].format)) {
                quantizeGgmlRow(static_cast<GgmlType>(t->type), x, cols, want.data());
            } else if (plan[i].format == WeightFormat::Float32) {
                std::memcpy(want.data(), x, static_cast<std::size_t>(rowBytes));
            } else {
                for (std::int64_t k = 0; k < cols; ++k) {
                    const std::uint16_t h = plan[i].format == WeightFormat::Float16 ? Half::fromFloat(x[k]).bits
                                                                                    : BFloat16::fromFloat(x[k]).bits;
                    std::memcpy(want.data() + 2 * k, &h, 2);
                }
            }
            if (std::memcmp(want.data(), bytes.data() + r * rowBytes, want.size()) != 0)
                QFAIL(qPrintable(QStringLiteral("%1 row %2 differs").arg(QString::fromStdString(model_->ggufName(i))).arg(r)));
        }
    }
    // Norms: float32, as in the source.
    const auto* n = g.tensor("blk.2.ffn_norm.weight");
    QCOMPARE(n->type, GgmlType::F32);
    QVERIFY(std::memcmp(g.data(*n).data(), src.data(*src.tensor("blk.2.ffn_norm.weight")).data(), 4 * c.hidden) == 0);
}

void TestLanguageModel::exportMeasuresAsThePlan()
{
    const std::vector<LayerSetting> plan = mixed(*model_);
    const std::string out = tmp_.filePath("measured.gguf").toStdString();
    model_->exportGguf(plan, out);
    LlmEvaluator ev(*model_, tokens_, LlmEvaluator::Options{.limit = 6});
    const Evaluation planned = ev.evaluate(plan);
    LanguageModel exported = LanguageModel::open(out);
    LlmEvaluator ev2(exported, tokens_, LlmEvaluator::Options{.limit = 6});
    const Evaluation read = ev2.evaluate(std::vector<LayerSetting>(exported.layers().size()));
    // The file holds exactly the weights evaluated: the same perplexity to the last bit.
    QCOMPARE(read.metrics.find("perplexity")->value, planned.metrics.find("perplexity")->value);
    QVERIFY(planned.metrics.find("perplexity")->value > ev.evaluate(std::vector<LayerSetting>(plan.size())).metrics.find("perplexity")->value);
}

void TestLanguageModel::safetensorsSourceExportsTheSameFile()
{
    // From safetensors + config.json + tokenizer files, the export has llama.cpp's names,
    // permutation and vocabulary: the same tensors as the committed GGUF, and it measures the same.
    LanguageModel hf = LanguageModel::open(kDir);
    QCOMPARE(hf.layers()[1].name, std::string("model.layers.0.self_attn.q_proj.weight"));
    const std::vector<LayerSetting> plan = mixed(hf);
    QCOMPARE(plan, mixed(*model_));
    const std::string a = tmp_.filePath("from-hf.gguf").toStdString(), b = tmp_.filePath("from-gguf.gguf").toStdString();
    hf.exportGguf(plan, a);
    model_->exportGguf(plan, b);
    QCOMPARE(hf.ggufBytes(plan), fileSize(a));
    const GgufFile ga = GgufFile::open(a), gb = GgufFile::open(b);
    QCOMPARE(ga.tensors().size(), gb.tensors().size());
    for (const GgufTensorInfo& t : gb.tensors()) {
        const GgufTensorInfo* u = ga.tensor(t.name);
        QVERIFY2(u, t.name.c_str());
        QCOMPARE(u->type, t.type);
        QVERIFY2(std::memcmp(ga.data(*u).data(), gb.data(t).data(), t.bytes) == 0, t.name.c_str());
    }
    const Tokenizer ta = Tokenizer::fromGguf(ga, a);
    const std::string text = readFile(kDir + "heldout.txt").substr(0, 20000);
    QCOMPARE(ta.encode(text), model_->tokenizer().encode(text));
}

void TestLanguageModel::uncompressedMatchesPerplexity()
{
    // The first 24 windows (tst_tinyllama checks the whole text against PyTorch).
    const std::vector<std::int32_t> text(tokens_.begin(), tokens_.begin() + 24 * 256 + 100);
    LlmEvaluator ev(*model_, text, LlmEvaluator::Options{.nCtx = 256});
    const Evaluation e = ev.evaluate(std::vector<LayerSetting>(model_->layers().size()));
    const PerplexityResult r = perplexity(model_->decoder(), text, 256, model_->windowBos());
    QCOMPARE(e.samples, r.windows);
    QCOMPARE(e.metrics.samples, r.scored);
    QVERIFY(std::abs(e.metrics.find("perplexity")->value / r.perplexity - 1) < 1e-6);
    QCOMPARE(e.metrics.find("kl")->value, 0.0);
    QCOMPARE(e.metrics.find("agreement")->value, 1.0);
    const Interval* p = e.metrics.find("perplexity");
    QVERIFY(p->low < p->value && p->value < p->high);
}

void TestLanguageModel::bosVocabularyStartsTheTextAndEachWindow()
{
    // The test model's GGUF rewritten with tokenizer.ggml.add_bos_token = true (metadata and
    // tensors copied as they are): as llama.cpp's perplexity tool, one BOS before the whole text
    // and each window's first token replaced by it.
    const GgufFile src = GgufFile::open(kDir + "tiny-llama-f32.gguf");
    GgufWriter w(src.alignment());
    for (const auto& [key, value] : src.metadata())
        w.set(key, key == "tokenizer.ggml.add_bos_token" ? ggufBool(true) : value);
    for (const GgufTensorInfo& t : src.tensors())
        w.addTensor(t.name, std::vector<std::int64_t>(t.dims.rbegin(), t.dims.rend()), t.type);
    const std::string out = tmp_.filePath("bos.gguf").toStdString();
    w.write(out, [&](std::size_t i, std::byte* o) {
        const auto bytes = src.data(src.tensors()[i]);
        std::memcpy(o, bytes.data(), bytes.size());
    });
    LanguageModel m = LanguageModel::open(out);
    QCOMPARE(m.windowBos(), std::optional<std::int32_t>(2047));
    const std::vector<std::int32_t> text(tokens_.begin(), tokens_.begin() + 8 * 256);
    LlmEvaluator ev(m, text, LlmEvaluator::Options{.nCtx = 256});
    const Evaluation e = ev.evaluate(std::vector<LayerSetting>(m.layers().size()));
    std::vector<std::int32_t> withBos{2047};
    withBos.insert(withBos.end(), text.begin(), text.end());
    const PerplexityResult r = perplexity(m.decoder(), withBos, 256, 2047);
    QCOMPARE(e.samples, r.windows);
    QVERIFY(std::abs(e.metrics.find("perplexity")->value / r.perplexity - 1) < 1e-6);
    // Not the same as without the BOS.
    QVERIFY(std::abs(r.perplexity / perplexity(m.decoder(), text, 256).perplexity - 1) > 1e-4);
}

void TestLanguageModel::exportNamesThePreTokenizer_data()
{
    QTest::addColumn<QString>("regex"); // the Split pattern; empty: the test model's own ByteLevel
    QTest::addColumn<bool>("ignoreMerges");
    QTest::addColumn<QString>("pre"); // tokenizer.ggml.pre; empty: the export is refused
    const QString llama3 = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
    const QString qwen2 = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
    QTest::newRow("GPT-2") << QString() << false << "gpt-2";
    QTest::newRow("Llama 3") << llama3 << true << "llama-bpe";
    QTest::newRow("Qwen2") << qwen2 << false << "qwen2";
    // llama.cpp ignores merges for all of its Llama 3 names and for none of its Qwen2 ones.
    QTest::newRow("Llama 3 with merges") << llama3 << false << QString();
    QTest::newRow("Qwen2 without merges") << qwen2 << true << QString();
}

void TestLanguageModel::exportNamesThePreTokenizer()
{
    // The test model with its tokenizer.json's pre-tokenizer replaced: the export must name the one
    // llama.cpp splits (and merges) the same way, or be refused.
    QFETCH(QString, regex);
    QFETCH(bool, ignoreMerges);
    QFETCH(QString, pre);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    for (const char* f : {"config.json", "model.safetensors", "tokenizer_config.json"})
        QVERIFY(QFile::copy(QString::fromStdString(kDir + f), dir.filePath(f)));
    auto j = nlohmann::json::parse(readFile(kDir + "tokenizer.json"));
    if (!regex.isEmpty())
        j["pre_tokenizer"] = {{"type", "Sequence"},
                              {"pretokenizers",
                               {{{"type", "Split"}, {"pattern", {{"Regex", regex.toStdString()}}}, {"behavior", "Isolated"}, {"invert", false}},
                                {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
    j["model"]["ignore_merges"] = ignoreMerges;
    writeFileAtomically(dir.filePath("tokenizer.json").toStdString(), j.dump());
    if (pre.isEmpty()) {
        // Refused on opening, as other models Leger cannot export: its sizes are those of the export.
        try {
            LanguageModel::open(dir.path().toStdString());
            QFAIL("opened");
        } catch (const UnsupportedError& e) {
            QVERIFY2(QString(e.what()).startsWith(dir.path() + ": GGUF export of "), e.what());
            QVERIFY2(QString(e.what()).contains("ignore_merges is not implemented"), e.what());
        }
        return;
    }
    LanguageModel m = LanguageModel::open(dir.path().toStdString());
    const std::string out = dir.filePath("out.gguf").toStdString();
    m.exportGguf(std::vector<LayerSetting>(m.layers().size()), out);
    const GgufFile g = GgufFile::open(out);
    QCOMPARE(QString::fromStdString(std::get<std::string>(g.find("tokenizer.ggml.pre")->value)), pre);
    const Tokenizer t = Tokenizer::fromGguf(g, out);
    QCOMPARE(t.preTokenizer(), m.tokenizer().preTokenizer());
    QCOMPARE(t.ignoresMerges(), m.tokenizer().ignoresMerges());
    const std::string text = readFile(kDir + "heldout.txt").substr(0, 20000) + " 12345 DON'T!!\n\n  x";
    QCOMPARE(t.encode(text), m.tokenizer().encode(text));
}

void TestLanguageModel::llama3GgufAddsBosByDefault()
{
    // llama.cpp adds a BOS for Llama 3's pre-tokenizer names when tokenizer.ggml.add_bos_token is
    // absent: the test model's GGUF with "llama-bpe" and without the key.
    const GgufFile src = GgufFile::open(kDir + "tiny-llama-f32.gguf");
    GgufWriter w(src.alignment());
    for (const auto& [key, value] : src.metadata())
        if (key != "tokenizer.ggml.add_bos_token")
            w.set(key, key == "tokenizer.ggml.pre" ? ggufString("llama-bpe") : value);
    for (const GgufTensorInfo& t : src.tensors())
        w.addTensor(t.name, std::vector<std::int64_t>(t.dims.rbegin(), t.dims.rend()), t.type);
    const std::string out = tmp_.filePath("llama3.gguf").toStdString();
    w.write(out, [&](std::size_t i, std::byte* o) {
        const auto bytes = src.data(src.tensors()[i]);
        std::memcpy(o, bytes.data(), bytes.size());
    });
    LanguageModel m = LanguageModel::open(out);
    QCOMPARE(m.tokenizer().preTokenizer(), Tokenizer::PreTokenizer::Llama3);
    QCOMPARE(m.windowBos(), std::optional<std::int32_t>(2047));
    QCOMPARE(model_->windowBos(), std::nullopt);
}

void TestLanguageModel::llama3RopeScalingTravelsAsRopeFreqs()
{
    // The test model's config.json with Llama 3.1's rotary scaling (factor 8, context extended from
    // 256 to 2048): it changes what is measured, the export carries it as llama.cpp's converter does
    // (the tensor rope_freqs.weight, no scaling metadata), and the export reads back the same.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    for (const char* f : {"model.safetensors", "tokenizer.json", "tokenizer_config.json"})
        QVERIFY(QFile::copy(QString::fromStdString(kDir + f), dir.filePath(f)));
    auto j = nlohmann::json::parse(readFile(kDir + "config.json"));
    j["max_position_embeddings"] = 2048;
    j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                         {"original_max_position_embeddings", 256}};
    writeFileAtomically(dir.filePath("config.json").toStdString(), j.dump());
    LanguageModel hf = LanguageModel::open(dir.path().toStdString());
    const Tensor& factors = hf.decoder().weights().ropeFreqs;
    QCOMPARE(factors.shape(), Shape({32}));
    QCOMPARE(factors.data<float>()[0], 1.0f);  // wavelength 2 pi: unchanged
    QCOMPARE(factors.data<float>()[31], 8.0f); // the longest: divided by the factor
    const std::vector<std::int32_t> text(tokens_.begin(), tokens_.begin() + 6 * 256);
    const double scaled = perplexity(hf.decoder(), text, 256, hf.windowBos()).perplexity,
                 plain = perplexity(model_->decoder(), text, 256, model_->windowBos()).perplexity;
    QVERIFY2(std::abs(scaled / plain - 1) > 1e-3, qPrintable(QString("%1 vs %2").arg(scaled).arg(plain)));

    const std::vector<LayerSetting> plan = mixed(hf);
    const std::string out = dir.filePath("llama3.gguf").toStdString();
    hf.exportGguf(plan, out);
    QCOMPARE(hf.ggufBytes(plan), fileSize(out));
    const GgufFile g = GgufFile::open(out);
    QVERIFY(!g.find("llama.rope.scaling.type") && !g.find("llama.rope.scaling.factor"));
    QCOMPARE(g.find("llama.context_length")->toUInt("context_length"), std::uint64_t(2048));
    const GgufTensorInfo* t = g.tensor("rope_freqs.weight");
    QVERIFY(t);
    QCOMPARE(t->type, GgmlType::F32);
    QCOMPARE(t->bytes, std::uint64_t(32 * 4));
    QVERIFY(std::memcmp(g.data(*t).data(), factors.raw(), t->bytes) == 0);

    LlmEvaluator ev(hf, text, LlmEvaluator::Options{.nCtx = 256});
    LanguageModel exported = LanguageModel::open(out);
    LlmEvaluator ev2(exported, text, LlmEvaluator::Options{.nCtx = 256});
    QCOMPARE(ev2.evaluate(std::vector<LayerSetting>(exported.layers().size())).metrics.find("perplexity")->value,
             ev.evaluate(plan).metrics.find("perplexity")->value);
}

void TestLanguageModel::klAndAgreementEqualDirectComputation()
{
    std::vector<LayerSetting> plan = allAt(*model_, WeightFormat::Q2_K);
    const std::int64_t windows = 3, n = 128;
    LlmEvaluator ev(*model_, tokens_, LlmEvaluator::Options{.nCtx = n, .limit = windows});
    const Evaluation e = ev.evaluate(plan);

    // Directly: both models' logits in double, window by window.
    Decoder& d = model_->decoder();
    const std::int64_t V = d.config().vocabSize;
    std::vector<float> base, comp;
    double kl = 0, nll = 0;
    std::int64_t agree = 0, scored = 0;
    std::vector<Tensor> planned;
    for (std::size_t i = 0; i < plan.size(); ++i)
        planned.push_back(evaluatedWeight(model_->layers()[i], model_->original(i), plan[i]));
    Decoder::Substitutes substitutes;
    for (std::size_t i = 0; i < plan.size(); ++i)
        substitutes.emplace_back(&model_->original(i), &planned[i]);
    for (std::int64_t w = 0; w < windows; ++w) {
        const std::span<const std::int32_t> win(tokens_.data() + w * n, static_cast<std::size_t>(n));
        d.forward(win, base);
        d.forward(win, comp, nullptr, &substitutes);
        for (std::int64_t j = n / 2; j + 1 < n; ++j) {
            const float* p = base.data() + j * V;
            const float* q = comp.data() + j * V;
            double zp = 0, zq = 0;
            for (std::int64_t v = 0; v < V; ++v) {
                zp += std::exp(static_cast<double>(p[v]));
                zq += std::exp(static_cast<double>(q[v]));
            }
            const double lzp = std::log(zp), lzq = std::log(zq);
            std::int64_t tp = 0, tq = 0;
            for (std::int64_t v = 0; v < V; ++v) {
                const double lp = p[v] - lzp, lq = q[v] - lzq;
                kl += std::exp(lp) * (lp - lq);
                tp = p[v] > p[tp] ? v : tp;
                tq = q[v] > q[tq] ? v : tq;
            }
            agree += tp == tq;
            nll += lzq - q[win[static_cast<std::size_t>(j + 1)]];
            ++scored;
        }
    }
    QCOMPARE(e.metrics.samples, scored);
    const double klWant = kl / static_cast<double>(scored);
    QVERIFY2(std::abs(e.metrics.find("kl")->value - klWant) < 1e-5 * klWant + 1e-9,
             qPrintable(QStringLiteral("%1 vs %2").arg(e.metrics.find("kl")->value).arg(klWant)));
    QVERIFY(klWant > 0.01); // q2_K changes the model measurably
    QCOMPARE(e.metrics.find("agreement")->value, static_cast<double>(agree) / static_cast<double>(scored));
    QVERIFY(std::abs(e.metrics.find("nll")->value - nll / static_cast<double>(scored)) < 1e-5);
    QVERIFY(std::abs(e.metrics.find("perplexity")->value - std::exp(nll / static_cast<double>(scored))) < 1e-3);
}

void TestLanguageModel::partialResultsAndCancel()
{
    LlmEvaluator ev(*model_, tokens_, LlmEvaluator::Options{.limit = 5});
    const std::vector<LayerSetting> none(model_->layers().size());
    const Evaluation base = ev.evaluate(none);
    const std::vector<LayerSetting> plan = allAt(*model_, WeightFormat::Q4_K);
    std::vector<std::int64_t> seen;
    const Evaluation full = ev.evaluate(plan, nullptr, [&](const Evaluation& p) {
        seen.push_back(p.samples);
        QVERIFY(!p.complete());
        QVERIFY(p.metrics.find("perplexity"));
    });
    QCOMPARE(seen, (std::vector<std::int64_t>{1, 2, 3, 4}));
    QVERIFY(full.complete());
    CancelToken cancel;
    bool thrown = false;
    try {
        ev.evaluate(allAt(*model_, WeightFormat::Q2_K), &cancel, [&](const Evaluation&) { cancel.cancel(); });
    } catch (const CancelledError&) {
        thrown = true;
    }
    QVERIFY(thrown);
    // The decoder holds the original weights again: the uncompressed model measures as before.
    QCOMPARE(ev.evaluate(none).metrics.find("perplexity")->value, base.metrics.find("perplexity")->value);
    QCOMPARE(ev.evaluate(plan).metrics.find("perplexity")->value, full.metrics.find("perplexity")->value);
}

void TestLanguageModel::refusals()
{
    std::vector<LayerSetting> plan(model_->layers().size());
    plan[3] = parseSettingSpec("int4-g32");
    try {
        model_->checkSettings(plan);
        QFAIL("int4 accepted");
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find("blk.0.attn_v.weight") != std::string::npos, e.what());
        QVERIFY2(std::string(e.what()).find("no GGUF type") != std::string::npos, e.what());
    }
    plan[3] = parseSettingSpec("float16-s50");
    QVERIFY(model_->whyNot(3, plan[3]).find("pruning") != std::string::npos);
    QVERIFY_THROWS_EXCEPTION(Error, model_->exportGguf(plan, tmp_.filePath("refused.gguf").toStdString()));
    QVERIFY(!QFile::exists(tmp_.filePath("refused.gguf")));
    // A text shorter than one window.
    try {
        LlmEvaluator ev(*model_, std::vector<std::int32_t>(100, 5), LlmEvaluator::Options{.nCtx = 256});
        QFAIL("a short text accepted");
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find("fewer than one window") != std::string::npos, e.what());
    }
    // Token ids beyond the vocabulary.
    QVERIFY_THROWS_EXCEPTION(Error, LlmEvaluator(*model_, std::vector<std::int32_t>(600, 5000)));
    // Files: missing, truncated.
    QVERIFY_THROWS_EXCEPTION(Error, LanguageModel::open(tmp_.filePath("missing.gguf").toStdString()));
    // A tensor the decoder would not run (here, an old converter's rotary buffer): refused, not left out.
    {
        const GgufFile src = GgufFile::open(kDir + "tiny-llama-f32.gguf");
        GgufWriter w(src.alignment());
        for (const auto& [key, value] : src.metadata())
            w.set(key, value);
        for (const GgufTensorInfo& t : src.tensors())
            w.addTensor(t.name, std::vector<std::int64_t>(t.dims.rbegin(), t.dims.rend()), t.type);
        w.addTensor("blk.0.attn_rot_embd", {32}, GgmlType::F32);
        const std::string extra = tmp_.filePath("extra.gguf").toStdString();
        w.write(extra, [&](std::size_t i, std::byte* o) {
            if (i < src.tensors().size()) {
                const auto bytes = src.data(src.tensors()[i]);
                std::memcpy(o, bytes.data(), bytes.size());
            } else {
                std::memset(o, 0, 32 * 4);
            }
        });
        try {
            LanguageModel::open(extra);
            QFAIL("an unknown tensor accepted");
        } catch (const UnsupportedError& e) {
            QCOMPARE(QString(e.what()), QString::fromStdString(extra + ": tensor 'blk.0.attn_rot_embd' is not a weight of a llama "
                                                                        "model as Leger runs it"));
        }
    }
    const std::string cut = tmp_.filePath("cut.gguf").toStdString();
    writeFileAtomically(cut, readFile(kDir + "tiny-llama-f32.gguf").substr(0, 100000));
    try {
        LanguageModel::open(cut);
        QFAIL("a truncated GGUF accepted");
    } catch (const Error& e) {
        QVERIFY2(std::string(e.what()).find("cut.gguf") != std::string::npos, e.what());
    }
}

void TestLanguageModel::writerRoundTripsEveryValueType()
{
    GgufWriter w(64);
    w.set("general.alignment", ggufU32(64));
    w.set("u8", {GgufValue::Type::U8, GgufValue::Type::U8, std::uint64_t{200}});
    w.set("i16", {GgufValue::Type::I16, GgufValue::Type::U8, std::int64_t{-1234}});
    w.set("f32", ggufF32(1.5f));
    w.set("f64", {GgufValue::Type::F64, GgufValue::Type::U8, 0.1});
    w.set("b", ggufBool(true));
    w.set("s", ggufString("é\n"));
    w.set("empty", ggufArray(GgufValue::Type::I32, {}));
    w.set("nested", ggufArray(GgufValue::Type::Array, {ggufArray(GgufValue::Type::String, {ggufString("x")})}));
    w.set("u8", {GgufValue::Type::U8, GgufValue::Type::U8, std::uint64_t{7}}); // replaced in place
    w.addTensor("a", {3, 32}, GgmlType::Q8_0);
    w.addTensor("b", {5}, GgmlType::F32);
    QVERIFY_THROWS_EXCEPTION(Error, w.addTensor("c", {2, 48}, GgmlType::Q4_0));
    const std::string out = tmp_.filePath("writer.gguf").toStdString();
    w.write(out, [&](std::size_t i, std::byte* o) { std::memset(o, static_cast<int>(i + 1), w.tensor(i).bytes); });
    QCOMPARE(static_cast<std::uint64_t>(fileSize(out)), w.fileSize());
    const GgufFile g = GgufFile::open(out);
    QCOMPARE(g.alignment(), std::uint64_t{64});
    QCOMPARE(g.find("u8")->toUInt("u8"), std::uint64_t{7});
    QCOMPARE(std::get<std::int64_t>(g.find("i16")->value), std::int64_t{-1234});
    QCOMPARE(std::get<double>(g.find("f64")->value), 0.1);
    QCOMPARE(g.find("s")->toString("s"), std::string("é\n"));
    QCOMPARE(g.find("empty")->elementType, GgufValue::Type::I32);
    QCOMPARE(g.tensor("a")->bytes, std::uint64_t{3 * 34});
    QCOMPARE(g.tensor("a")->dims, (std::vector<std::int64_t>{32, 3}));
    QCOMPARE(static_cast<int>(g.data(*g.tensor("b"))[19]), 2);
    QCOMPARE(g.tensor("b")->offset % 64, std::uint64_t{0});
    // A cancelled write leaves nothing behind.
    CancelToken cancel;
    cancel.cancel();
    const std::string gone = tmp_.filePath("cancelled.gguf").toStdString();
    QVERIFY_THROWS_EXCEPTION(CancelledError, w.write(gone, [](std::size_t, std::byte*) {}, &cancel));
    QCOMPARE(QDir(tmp_.path()).entryList(QStringList{"*cancelled*"}, QDir::Files | QDir::Hidden).size(), 0);
}

QTEST_GUILESS_MAIN(TestLanguageModel)
#include "tst_languagemodel.moc"
