// Language-model hyperparameters from real Hugging Face configs (their published parameter counts
// are the check), from GGUF metadata, and refused when they do not make a model.
#include <QtTest>
#include <cstring>

#include "io/GgufFile.h"
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

} // namespace

class TestLlmConfig : public QObject {
    Q_OBJECT
private slots:
    void realConfigsGiveTheirPublishedSizes_data();
    void realConfigsGiveTheirPublishedSizes();
    void readsLlama3RopeScaling();
    void readsGgufMetadata();
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
        putString(b, "general.architecture");
        const std::uint32_t stringType = 8;
        b.insert(b.end(), reinterpret_cast<const std::byte*>(&stringType), reinterpret_cast<const std::byte*>(&stringType) + 4);
        putString(b, "llama");
        ++n;
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
    QTest::newRow("tie as string") << base.arg(R"(, "tie_word_embeddings": "yes")")
                                   << "config.json: tie_word_embeddings: expected true or false";
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
