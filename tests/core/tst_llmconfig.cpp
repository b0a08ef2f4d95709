// Language-model hyperparameters from real Hugging Face configs (their published parameter counts
// are the check), from GGUF metadata, and refused when they do not make a model.
#include <QtTest>
#include <cstring>

#include "io/GgufFile.h"
#include "io/SafetensorsFile.h"
#include "llm/LlmConfig.h"
#include "util/Error.h"

using namespace leger;

namespace {

// The config.json files of TinyLlama-1.1B, GPT-2 (124M) and Qwen2-0.5B (the keys that matter).
const char* kTinyLlama = R"({"architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
  "hidden_act": "silu", "hidden_size": 2048, "intermediate_size": 5632, "max_position_embeddings": 2048,
  "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 22, "num_key_value_heads": 4,
  "rms_norm_eps": 1e-05, "rope_scaling": null, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "vocab_size": 32000})";
const char* kGpt2 = R"({"model_type": "gpt2", "vocab_size": 50257, "n_embd": 768, "n_layer": 12, "n_head": 12,
  "n_positions": 1024, "n_ctx": 1024, "layer_norm_epsilon": 1e-05, "bos_token_id": 50256, "eos_token_id": 50256})";
const char* kQwen2 = R"({"model_type": "qwen2", "hidden_act": "silu", "hidden_size": 896, "intermediate_size": 4864,
  "max_position_embeddings": 32768, "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "tie_word_embeddings": true, "vocab_size": 151936,
  "bos_token_id": 151643, "eos_token_id": 151643})";

// Mistral-7B-v0.1's: attention over the last 4,096 tokens of its 32,768.
const char* kMistral = R"({"architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
  "hidden_act": "silu", "hidden_size": 4096, "intermediate_size": 14336, "max_position_embeddings": 32768,
  "model_type": "mistral", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096, "tie_word_embeddings": false,
  "torch_dtype": "bfloat16", "vocab_size": 32000})";

std::vector<std::byte> ggufWith(const std::function<void(std::vector<std::byte>&, std::uint64_t&)>& meta)
{
    std::vector<std::byte> b;
    const auto put = [&](const void* p, std::size_t n) {
        b.insert(b.end(), static_cast<const std::byte*>(p), static_cast<const std::byte*>(p) + n);
    };
    std::vector<std::byte> body;
    std::uint64_t count = 0;
    meta(body, count);
    put("GGUF", 4);
    const std::uint32_t version = 3;
    const std::uint64_t tensors = 0;
    put(&version, 4);
    put(&tensors, 8);
    put(&count, 8);
    b.insert(b.end(), body.begin(), body.end());
    return b;
}

void putString(std::vector<std::byte>& b, const std::string& s)
{
    const std::uint64_t n = s.size();
    b.insert(b.end(), reinterpret_cast<const std::byte*>(&n), reinterpret_cast<const std::byte*>(&n) + 8);
    b.insert(b.end(), reinterpret_cast<const std::byte*>(s.data()), reinterpret_cast<const std::byte*>(s.data()) + s.size());
}

template <class T> void putKv(std::vector<std::byte>& b, std::uint64_t& count, const std::string& key, std::uint32_t type, T v)
{
    putString(b, key);
    b.insert(b.end(), reinterpret_cast<const std::byte*>(&type), reinterpret_cast<const std::byte*>(&type) + 4);
    b.insert(b.end(), reinterpret_cast<const std::byte*>(&v), reinterpret_cast<const std::byte*>(&v) + sizeof(T));
    ++count;
}

void putStringKv(std::vector<std::byte>& b, std::uint64_t& count, const std::string& key, const std::string& value)
{
    putString(b, key);
    const std::uint32_t stringType = 8;
    b.insert(b.end(), reinterpret_cast<const std::byte*>(&stringType), reinterpret_cast<const std::byte*>(&stringType) + 4);
    putString(b, value);
    ++count;
}

} // namespace

class TestLlmConfig : public QObject {
    Q_OBJECT
private slots:
    void realConfigsGiveTheirPublishedSizes_data();
    void realConfigsGiveTheirPublishedSizes();
    void readsLlama3RopeScaling();
    void readsSlidingAttention();
    void readsGgufMetadata();
    void readsGgufRopeScaling_data();
    void readsGgufRopeScaling();
    void readsTheTinyLlamaTestModel();
    void refusesConfigsThatMakeNoModel_data();
    void refusesConfigsThatMakeNoModel();
};

void TestLlmConfig::realConfigsGiveTheirPublishedSizes_data()
{
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("architecture");
    QTest::addColumn<qint64>("parameters");
    QTest::addColumn<qint64>("kvHeads");
    QTest::addColumn<bool>("tied");
    QTest::newRow("TinyLlama-1.1B") << kTinyLlama << "llama" << qint64(1'100'048'384) << qint64(4) << false;
    QTest::newRow("GPT-2") << kGpt2 << "gpt2" << qint64(124'439'808) << qint64(12) << true;
    QTest::newRow("Qwen2-0.5B") << kQwen2 << "qwen2" << qint64(494'032'768) << qint64(2) << true;
    QTest::newRow("Mistral-7B-v0.1") << kMistral << "llama" << qint64(7'241'732'096) << qint64(8) << false;
}

void TestLlmConfig::readsSlidingAttention()
{
    // Mistral attends over its sliding window: windows up to it are plain causal attention, longer
    // ones are not run. Qwen2's sliding_window applies only with use_sliding_window.
    const LlmConfig m = LlmConfig::fromHuggingFaceJson(kMistral, "config.json");
    QCOMPARE(m.slidingWindow, std::optional<std::int64_t>(4096));
    QCOMPARE(m.context, std::int64_t(32768));
    QCOMPARE(m.longestWindow(), std::int64_t(4096));
    const QString qwen = QString(kQwen2).replace("}", R"(, "use_sliding_window": false, "sliding_window": 4096})");
    const LlmConfig q = LlmConfig::fromHuggingFaceJson(qwen.toStdString(), "config.json");
    QVERIFY(!q.slidingWindow);
    QCOMPARE(q.longestWindow(), std::int64_t(32768));
    const QString sliding = QString(qwen).replace(R"("use_sliding_window": false)", R"("use_sliding_window": true)");
    QCOMPARE(LlmConfig::fromHuggingFaceJson(sliding.toStdString(), "config.json").longestWindow(), std::int64_t(4096));
}

void TestLlmConfig::realConfigsGiveTheirPublishedSizes()
{
    QFETCH(QString, json);
    QFETCH(QString, architecture);
    QFETCH(qint64, parameters);
    QFETCH(qint64, kvHeads);
    QFETCH(bool, tied);
    const LlmConfig c = LlmConfig::fromHuggingFaceJson(json.toStdString(), "config.json");
    QCOMPARE(QString::fromStdString(c.architecture), architecture);
    QCOMPARE(c.parameterCount(), parameters);
    QCOMPARE(c.kvHeads, kvHeads);
    QCOMPARE(c.tieEmbeddings, tied);
    QCOMPARE(c.headDim, c.hidden / c.heads);
}

void TestLlmConfig::readsLlama3RopeScaling()
{
    const std::string json = R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
      "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 131072, "vocab_size": 100,
      "rope_theta": 500000.0, "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
      "original_max_position_embeddings": 8192, "rope_type": "llama3"}})";
    const LlmConfig c = LlmConfig::fromHuggingFaceJson(json, "config.json");
    QVERIFY(c.ropeScaling);
    QCOMPARE(c.ropeScaling->type, std::string("llama3"));
    QCOMPARE(c.ropeScaling->factor, 8.0);
    QCOMPARE(c.ropeScaling->originalContext, std::int64_t(8192));
    QCOMPARE(c.ropeTheta, 500000.0);
}

void TestLlmConfig::readsGgufMetadata()
{
    const auto bytes = ggufWith([](std::vector<std::byte>& b, std::uint64_t& n) {
        putStringKv(b, n, "general.architecture", "llama");
        putKv<std::uint32_t>(b, n, "llama.embedding_length", 4, 2048);
        putKv<std::uint32_t>(b, n, "llama.block_count", 4, 22);
        putKv<std::uint32_t>(b, n, "llama.feed_forward_length", 4, 5632);
        putKv<std::uint32_t>(b, n, "llama.attention.head_count", 4, 32);
        putKv<std::uint32_t>(b, n, "llama.attention.head_count_kv", 4, 4);
        putKv<std::uint32_t>(b, n, "llama.context_length", 4, 2048);
        putKv<float>(b, n, "llama.attention.layer_norm_rms_epsilon", 6, 1e-5f);
        putKv<float>(b, n, "llama.rope.freq_base", 6, 10000.0f);
        putKv<std::uint32_t>(b, n, "llama.vocab_size", 4, 32000);
        putKv<std::uint32_t>(b, n, "tokenizer.ggml.bos_token_id", 4, 1);
    });
    auto owner = std::make_shared<std::vector<std::byte>>(bytes);
    const GgufFile f = GgufFile::parse(owner, std::span<const std::byte>(owner->data(), owner->size()), "m.gguf");
    const LlmConfig c = LlmConfig::fromGguf(f, "m.gguf");
    const LlmConfig hf = LlmConfig::fromHuggingFaceJson(kTinyLlama, "config.json");
    QCOMPARE(c.hidden, hf.hidden);
    QCOMPARE(c.layers, hf.layers);
    QCOMPARE(c.kvHeads, hf.kvHeads);
    QCOMPARE(c.vocabSize, hf.vocabSize);
    QCOMPARE(c.bos, hf.bos);
    QVERIFY(c.tieEmbeddings); // no output.weight tensor in this file
    QCOMPARE(c.parameterCount(), hf.parameterCount() - hf.vocabSize * hf.hidden);
}

void TestLlmConfig::readsGgufRopeScaling_data()
{
    QTest::addColumn<QString>("type");           // llama.rope.scaling.type; empty: absent
    QTest::addColumn<QString>("factorKey");      // rope.scaling.factor or the older rope.scale_linear (4.0), "zero"; empty: absent
    QTest::addColumn<int>("rotated");            // llama.rope.dimension_count
    QTest::addColumn<double>("linear");          // the linear factor read; 0: no scaling
    QTest::addColumn<QString>("refusal");
    // As llama.cpp reads them: a factor without a type is linear; "none" never scales.
    QTest::newRow("no scaling") << "" << "" << 64 << 0.0 << "";
    QTest::newRow("factor without a type") << "" << "rope.scaling.factor" << 64 << 4.0 << "";
    QTest::newRow("linear") << "linear" << "rope.scaling.factor" << 64 << 4.0 << "";
    QTest::newRow("older key") << "" << "rope.scale_linear" << 64 << 4.0 << "";
    QTest::newRow("none") << "none" << "rope.scaling.factor" << 64 << 0.0 << "";
    QTest::newRow("factor 0") << "linear" << "zero" << 64 << 0.0 << ""; // llama.cpp: 0 is no scaling
    QTest::newRow("yarn") << "yarn" << "rope.scaling.factor" << 64 << 0.0
                          << "m.gguf: llama.rope.scaling.type: 'yarn' is not implemented";
    QTest::newRow("partial rotary") << "" << "" << 32 << 0.0
                                    << "m.gguf: llama.rope.dimension_count: rotary embeddings over part of a head (32 of 64 "
                                       "dimensions) are not implemented";
}

void TestLlmConfig::readsGgufRopeScaling()
{
    QFETCH(QString, type);
    QFETCH(QString, factorKey);
    QFETCH(int, rotated);
    QFETCH(double, linear);
    QFETCH(QString, refusal);
    const auto bytes = ggufWith([&](std::vector<std::byte>& b, std::uint64_t& n) {
        putStringKv(b, n, "general.architecture", "llama");
        putKv<std::uint32_t>(b, n, "llama.embedding_length", 4, 256);
        putKv<std::uint32_t>(b, n, "llama.block_count", 4, 2);
        putKv<std::uint32_t>(b, n, "llama.feed_forward_length", 4, 512);
        putKv<std::uint32_t>(b, n, "llama.attention.head_count", 4, 4);
        putKv<std::uint32_t>(b, n, "llama.context_length", 4, 2048);
        putKv<std::uint32_t>(b, n, "llama.vocab_size", 4, 100);
        putKv<std::uint32_t>(b, n, "llama.rope.dimension_count", 4, static_cast<std::uint32_t>(rotated));
        if (!type.isEmpty())
            putStringKv(b, n, "llama.rope.scaling.type", type.toStdString());
        if (factorKey == "zero")
            putKv<float>(b, n, "llama.rope.scaling.factor", 6, 0.0f);
        else if (!factorKey.isEmpty())
            putKv<float>(b, n, "llama." + factorKey.toStdString(), 6, 4.0f);
    });
    auto owner = std::make_shared<std::vector<std::byte>>(bytes);
    const GgufFile f = GgufFile::parse(owner, std::span<const std::byte>(owner->data(), owner->size()), "m.gguf");
    if (!refusal.isEmpty()) {
        try {
            LlmConfig::fromGguf(f, "m.gguf");
            QFAIL("accepted");
        } catch (const UnsupportedError& e) {
            QCOMPARE(QString(e.what()), refusal);
        }
        return;
    }
    const LlmConfig c = LlmConfig::fromGguf(f, "m.gguf");
    QCOMPARE(c.ropeScaling.has_value(), linear > 0);
    if (c.ropeScaling) {
        QCOMPARE(c.ropeScaling->type, std::string("linear"));
        QCOMPARE(c.ropeScaling->factor, linear);
    }
}

// resources/llm (made by train_tiny_llama.py): its config.json and its GGUF's metadata give the same
// model, whose parameter count is that of the tensors in both files; the GGUF holds the same weights,
// with the q and k rows permuted as llama.cpp's converter does.
void TestLlmConfig::readsTheTinyLlamaTestModel()
{
    const std::string dir = LEGER_SOURCE_DIR "/resources/llm/";
    const LlmConfig hf = LlmConfig::fromHuggingFace(dir + "config.json");
    const GgufFile gguf = GgufFile::open(dir + "tiny-llama-f32.gguf");
    const LlmConfig gg = LlmConfig::fromGguf(gguf, "tiny-llama-f32.gguf");
    const SafetensorsFile st = SafetensorsFile::open(dir + "model.safetensors");

    QCOMPARE(hf.architecture, std::string("llama"));
    QCOMPARE(gg.architecture, hf.architecture);
    QCOMPARE(gg.vocabSize, hf.vocabSize);
    QCOMPARE(gg.hidden, hf.hidden);
    QCOMPARE(gg.intermediate, hf.intermediate);
    QCOMPARE(gg.layers, hf.layers);
    QCOMPARE(gg.heads, hf.heads);
    QCOMPARE(gg.kvHeads, hf.kvHeads);
    QVERIFY(hf.kvHeads < hf.heads);
    QCOMPARE(gg.headDim, hf.headDim);
    QCOMPARE(gg.context, hf.context);
    QCOMPARE(float(gg.normEps), float(hf.normEps)); // GGUF stores it as float32
    QCOMPARE(gg.ropeTheta, hf.ropeTheta);
    QVERIFY(hf.tieEmbeddings);
    QCOMPARE(gg.tieEmbeddings, hf.tieEmbeddings);
    QCOMPARE(gg.bos, hf.bos);
    QCOMPARE(gg.eos, hf.eos);
    QCOMPARE(hf.parameterCount(), std::int64_t(3'672'320)); // resources/llm/README.md
    QCOMPARE(gg.parameterCount(), hf.parameterCount());

    std::int64_t stCount = 0, ggCount = 0;
    for (const SafetensorsTensor& t : st.tensors()) {
        QCOMPARE(t.dtype, std::string("F32"));
        std::int64_t n = 1;
        for (const auto d : t.shape)
            n *= d;
        stCount += n;
    }
    for (const GgufTensorInfo& t : gguf.tensors()) {
        QCOMPARE(t.type, GgmlType::F32);
        ggCount += t.elements();
    }
    QCOMPARE(stCount, hf.parameterCount());
    QCOMPARE(ggCount, hf.parameterCount());
    QCOMPARE(st.tensors().size(), gguf.tensors().size());
    QCOMPARE(st.metadata().at("format"), std::string("pt"));
    const auto* tokens = std::get_if<std::vector<GgufValue>>(&gguf.find("tokenizer.ggml.tokens")->value);
    QVERIFY(tokens);
    QCOMPARE(std::int64_t(tokens->size()), hf.vocabSize);

    const auto same = [&](const std::string& hfName, const std::string& ggName) {
        const SafetensorsTensor* a = st.tensor(hfName);
        const GgufTensorInfo* b = gguf.tensor(ggName);
        QVERIFY2(a && b, (hfName + " / " + ggName).c_str());
        const Tensor x = SafetensorsFile::toFloat(*a), y = gguf.toFloat(*b);
        QCOMPARE(x.shape(), y.shape());
        QVERIFY(std::memcmp(x.data<float>(), y.data<float>(), std::size_t(x.size()) * sizeof(float)) == 0);
    };
    same("model.embed_tokens.weight", "token_embd.weight");
    same("model.norm.weight", "output_norm.weight");
    same("model.layers.3.mlp.down_proj.weight", "blk.3.ffn_down.weight");
    same("model.layers.0.self_attn.v_proj.weight", "blk.0.attn_v.weight");
    // q and k: per head of d rows, GGUF row 2i + s is Hugging Face's row s * d/2 + i.
    for (const auto& [hfName, ggName, heads] : {std::tuple{"model.layers.1.self_attn.q_proj.weight", "blk.1.attn_q.weight", hf.heads},
                                                std::tuple{"model.layers.1.self_attn.k_proj.weight", "blk.1.attn_k.weight", hf.kvHeads}}) {
        const Tensor x = SafetensorsFile::toFloat(*st.tensor(hfName)), y = gguf.toFloat(*gguf.tensor(ggName));
        QCOMPARE(x.shape(), y.shape());
        QCOMPARE(x.dim(0), heads * hf.headDim);
        const std::int64_t d = hf.headDim, cols = x.dim(1);
        for (std::int64_t h = 0; h < heads; ++h)
            for (std::int64_t i = 0; i < d / 2; ++i)
                for (std::int64_t s = 0; s < 2; ++s)
                    QVERIFY(std::memcmp(y.data<float>() + (h * d + 2 * i + s) * cols,
                                        x.data<float>() + (h * d + s * d / 2 + i) * cols, std::size_t(cols) * sizeof(float)) == 0);
    }
}

void TestLlmConfig::refusesConfigsThatMakeNoModel_data()
{
    QTest::addColumn<QString>("json");
    QTest::addColumn<QString>("message");
    const QString base = R"({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
      "num_attention_heads": 4, "max_position_embeddings": 64, "vocab_size": 100 %1})";
    QTest::newRow("not json") << "{" << "config.json: config: not valid JSON";
    QTest::newRow("no model_type") << "{}" << "config.json: model_type: missing";
    QTest::newRow("bert") << R"({"model_type": "bert"})" << "config.json: model_type: 'bert'";
    QTest::newRow("gelu") << base.arg(R"(, "hidden_act": "gelu")") << "config.json: hidden_act: \"gelu\"";
    QTest::newRow("negative width") << QString(base).replace("\"hidden_size\": 64", "\"hidden_size\": -64").arg("")
                                    << "config.json: hidden_size: expected a positive integer, got -64";
    QTest::newRow("missing layers") << QString(base).replace("\"num_hidden_layers\": 2,", "").arg("")
                                    << "config.json: num_hidden_layers: missing";
    QTest::newRow("uneven kv heads") << base.arg(R"(, "num_key_value_heads": 3)")
                                     << "config.json: 4 attention heads cannot share 3 key/value heads evenly";
    QTest::newRow("bos outside vocab") << base.arg(R"(, "bos_token_id": 100)")
                                       << "config.json: token id 100 is outside the vocabulary of 100";
    QTest::newRow("odd head size") << base.arg(R"(, "head_dim": 15)") << "rotary embeddings need an even head size";
    QTest::newRow("unknown rope scaling") << base.arg(R"(, "rope_scaling": {"type": "ntk-magic", "factor": 2})")
                                          << "config.json: rope_scaling.type: 'ntk-magic' is not supported";
    QTest::newRow("llama3 without a band") << base.arg(R"(, "rope_scaling": {"rope_type": "llama3", "factor": 8,
      "low_freq_factor": 4, "high_freq_factor": 4, "original_max_position_embeddings": 32})")
                                           << "config.json: rope_scaling: expected low_freq_factor < high_freq_factor";
    QTest::newRow("zero scaling factor") << base.arg(R"(, "rope_scaling": {"type": "linear", "factor": 0})")
                                         << "config.json: rope_scaling: factor: expected a positive number, got 0";
    QTest::newRow("tie as string") << base.arg(R"(, "tie_word_embeddings": "yes")")
                                   << "config.json: tie_word_embeddings: expected true or false";
    // GPT-2 variants Leger would compute wrongly are refused.
    const QString gpt2 = QString(kGpt2).replace("}", "%1}");
    QTest::newRow("gpt2 relu") << gpt2.arg(R"(, "activation_function": "relu")") << "config.json: activation_function: \"relu\"";
    QTest::newRow("gpt2 layer-scaled attention") << gpt2.arg(R"(, "scale_attn_by_inverse_layer_idx": true)")
                                                 << "config.json: scale_attn_by_inverse_layer_idx: true is not implemented";
    QTest::newRow("gpt2 unscaled attention") << gpt2.arg(R"(, "scale_attn_weights": false)")
                                             << "config.json: scale_attn_weights: false is not implemented";
}

void TestLlmConfig::refusesConfigsThatMakeNoModel()
{
    QFETCH(QString, json);
    QFETCH(QString, message);
    try {
        LlmConfig::fromHuggingFaceJson(json.toStdString(), "config.json");
        QFAIL("accepted");
    } catch (const Error& e) {
        QVERIFY2(QString(e.what()).contains(message), e.what());
    }
}

QTEST_APPLESS_MAIN(TestLlmConfig)
#include "tst_llmconfig.moc"
