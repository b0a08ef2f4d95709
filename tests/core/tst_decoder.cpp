// The causal decoder against a direct transcription of Hugging Face's LlamaForCausalLM formulas,
// in double precision and scalar loops (no SGEMM, no shared buffers): embedding, RMSNorm,
// rotate-half rotary embeddings, grouped-query causal attention, SwiGLU, final norm, logits; on a
// tiny random model with 4 heads sharing 2 key/value heads, tied and untied outputs, Qwen2 biases;
// and GPT-2 against Hugging Face's GPT2LMHeadModel formulas (position embeddings, LayerNorm, fused
// q/k/v with biases, gelu_new).
// And perplexity the llama.cpp way (second half of each window) against the same reference.
#include <QtTest>

#include <cmath>
#include <random>

#include "llm/Decoder.h"
#include "util/Error.h"
#include "util/Memory.h"

using namespace leger;

namespace {

Tensor randomTensor(Shape shape, std::mt19937& rng, float scale, float offset = 0.0f)
{
    Tensor t(DType::Float32, std::move(shape));
    std::normal_distribution<float> n(0.0f, 1.0f);
    for (float& v : t.span<float>())
        v = offset + scale * n(rng);
    return t;
}

LlmConfig tinyConfig(bool qwen)
{
    LlmConfig c;
    c.architecture = qwen ? "qwen2" : "llama";
    c.vocabSize = 23;
    c.hidden = 16;
    c.intermediate = 24;
    c.layers = 2;
    c.heads = 4;
    c.kvHeads = 2;
    c.headDim = 4;
    c.context = 32;
    c.normEps = 1e-5;
    c.ropeTheta = 10000.0;
    return c;
}

DecoderWeights tinyWeights(const LlmConfig& c, bool tied, bool biases, std::mt19937& rng)
{
    const std::int64_t D = c.hidden, hd = c.headDim;
    DecoderWeights w;
    w.embed = randomTensor({c.vocabSize, D}, rng, 0.5f);
    for (std::int64_t l = 0; l < c.layers; ++l) {
        DecoderWeights::Block b;
        b.attnNorm = randomTensor({D}, rng, 0.1f, 1.0f);
        b.q = randomTensor({c.heads * hd, D}, rng, 0.3f);
        b.k = randomTensor({c.kvHeads * hd, D}, rng, 0.3f);
        b.v = randomTensor({c.kvHeads * hd, D}, rng, 0.3f);
        b.o = randomTensor({D, c.heads * hd}, rng, 0.3f);
        if (biases) {
            b.qBias = randomTensor({c.heads * hd}, rng, 0.2f);
            b.kBias = randomTensor({c.kvHeads * hd}, rng, 0.2f);
            b.vBias = randomTensor({c.kvHeads * hd}, rng, 0.2f);
        }
        b.mlpNorm = randomTensor({D}, rng, 0.1f, 1.0f);
        b.gate = randomTensor({c.intermediate, D}, rng, 0.3f);
        b.up = randomTensor({c.intermediate, D}, rng, 0.3f);
        b.down = randomTensor({D, c.intermediate}, rng, 0.3f);
        w.blocks.push_back(std::move(b));
    }
    w.finalNorm = randomTensor({D}, rng, 0.1f, 1.0f);
    if (!tied)
        w.output = randomTensor({c.vocabSize, D}, rng, 0.5f);
    return w;
}

using Mat = std::vector<std::vector<double>>; // [T][n]

double at(const Tensor& t, std::int64_t i) { return t.data<float>()[i]; }

Mat linearRef(const Mat& x, const Tensor& w, const Tensor& bias)
{
    const std::int64_t out = w.dim(0), in = w.dim(1);
    Mat y(x.size(), std::vector<double>(static_cast<std::size_t>(out)));
    for (std::size_t t = 0; t < x.size(); ++t)
        for (std::int64_t o = 0; o < out; ++o) {
            double s = bias.empty() ? 0.0 : at(bias, o);
            for (std::int64_t i = 0; i < in; ++i)
                s += x[t][static_cast<std::size_t>(i)] * at(w, o * in + i);
            y[t][static_cast<std::size_t>(o)] = s;
        }
    return y;
}

Mat rmsRef(const Mat& x, const Tensor& w, double eps)
{
    Mat y = x;
    for (auto& row : y) {
        double ms = 0;
        for (double v : row)
            ms += v * v;
        ms /= static_cast<double>(row.size());
        for (std::size_t i = 0; i < row.size(); ++i)
            row[i] = row[i] / std::sqrt(ms + eps) * at(w, static_cast<std::int64_t>(i));
    }
    return y;
}

/// inv_freq as Hugging Face's rope init functions compute it: default, linear (positions / factor:
/// the same as inv_freq / factor) and llama3 (`_compute_llama3_parameters`, transcribed).
std::vector<double> invFreqRef(const LlmConfig& c)
{
    const std::int64_t d = c.headDim;
    std::vector<double> inv;
    for (std::int64_t i = 0; i < d; i += 2)
        inv.push_back(1.0 / std::pow(c.ropeTheta, static_cast<double>(i) / static_cast<double>(d)));
    if (!c.ropeScaling)
        return inv;
    const RopeScaling& r = *c.ropeScaling;
    for (double& f : inv) {
        if (r.type == "linear") {
            f /= r.factor;
            continue;
        }
        if (r.type != "llama3")
            continue; // dynamic: unchanged within max_position_embeddings
        const double oldContext = static_cast<double>(r.originalContext), lowWavelen = oldContext / r.lowFreqFactor,
                     highWavelen = oldContext / r.highFreqFactor, wavelen = 2 * M_PI / f;
        const double llama = wavelen > lowWavelen ? f / r.factor : f;
        const double smooth = (oldContext / wavelen - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor);
        const double smoothed = (1 - smooth) * llama / r.factor + smooth * llama;
        const bool medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
        f = medium ? smoothed : llama;
    }
    return inv;
}

/// q_embed = q * cos + rotate_half(q) * sin, rotate_half(x) = cat(-x2, x1), per head.
void ropeRef(Mat& x, std::int64_t heads, std::int64_t d, const std::vector<double>& invFreq)
{
    for (std::size_t t = 0; t < x.size(); ++t)
        for (std::int64_t h = 0; h < heads; ++h) {
            std::vector<double> v(x[t].begin() + h * d, x[t].begin() + (h + 1) * d), out(static_cast<std::size_t>(d));
            for (std::int64_t i = 0; i < d; ++i) {
                const std::int64_t f = i % (d / 2);
                const double angle = static_cast<double>(t) * invFreq[static_cast<std::size_t>(f)];
                const double rotated = i < d / 2 ? -v[static_cast<std::size_t>(i + d / 2)] : v[static_cast<std::size_t>(i - d / 2)];
                out[static_cast<std::size_t>(i)] = v[static_cast<std::size_t>(i)] * std::cos(angle) + rotated * std::sin(angle);
            }
            std::copy(out.begin(), out.end(), x[t].begin() + h * d);
        }
}

/// Causal softmax attention in double: head h reads q at qOff + h*hd and its key/value head's k and
/// v at kOff/vOff + kv*hd (repeat_kv: kv = h / (heads / kvHeads)); out [T][heads*hd].
Mat attentionRef(const Mat& q, const Mat& k, const Mat& v, std::size_t T, std::int64_t heads, std::int64_t kvHeads,
                 std::int64_t hd, std::size_t qOff = 0, std::size_t kOff = 0, std::size_t vOff = 0)
{
    Mat att(T, std::vector<double>(static_cast<std::size_t>(heads * hd)));
    for (std::int64_t head = 0; head < heads; ++head) {
        const auto qh = qOff + static_cast<std::size_t>(head * hd);
        const auto kvh = static_cast<std::size_t>(head / (heads / kvHeads) * hd);
        for (std::size_t i = 0; i < T; ++i) {
            std::vector<double> p(i + 1);
            double mx = -1e300, z = 0;
            for (std::size_t j = 0; j <= i; ++j) {
                double s = 0;
                for (std::size_t e = 0; e < static_cast<std::size_t>(hd); ++e)
                    s += q[i][qh + e] * k[j][kOff + kvh + e];
                p[j] = s / std::sqrt(static_cast<double>(hd));
                mx = std::max(mx, p[j]);
            }
            for (double& s : p)
                z += (s = std::exp(s - mx));
            for (std::size_t e = 0; e < static_cast<std::size_t>(hd); ++e) {
                double o = 0;
                for (std::size_t j = 0; j <= i; ++j)
                    o += p[j] / z * v[j][vOff + kvh + e];
                att[i][static_cast<std::size_t>(head * hd) + e] = o;
            }
        }
    }
    return att;
}

Mat referenceLogits(const LlmConfig& c, const DecoderWeights& w, const std::vector<std::int32_t>& tokens)
{
    const std::int64_t D = c.hidden, hd = c.headDim;
    Mat x;
    for (std::int32_t id : tokens) {
        std::vector<double> row(static_cast<std::size_t>(D));
        for (std::int64_t i = 0; i < D; ++i)
            row[static_cast<std::size_t>(i)] = at(w.embed, id * D + i);
        x.push_back(row);
    }
    const std::size_t T = tokens.size();
    for (const auto& b : w.blocks) {
        const Mat h = rmsRef(x, b.attnNorm, c.normEps);
        Mat q = linearRef(h, b.q, b.qBias), k = linearRef(h, b.k, b.kBias), v = linearRef(h, b.v, b.vBias);
        ropeRef(q, c.heads, hd, invFreqRef(c));
        ropeRef(k, c.kvHeads, hd, invFreqRef(c));
        const Mat att = attentionRef(q, k, v, T, c.heads, c.kvHeads, hd);
        const Mat o = linearRef(att, b.o, {});
        for (std::size_t t = 0; t < T; ++t)
            for (std::int64_t i = 0; i < D; ++i)
                x[t][static_cast<std::size_t>(i)] += o[t][static_cast<std::size_t>(i)];
        const Mat h2 = rmsRef(x, b.mlpNorm, c.normEps);
        Mat g = linearRef(h2, b.gate, {});
        const Mat u = linearRef(h2, b.up, {});
        for (std::size_t t = 0; t < T; ++t)
            for (std::size_t i = 0; i < g[t].size(); ++i)
                g[t][i] = g[t][i] / (1 + std::exp(-g[t][i])) * u[t][i];
        const Mat dn = linearRef(g, b.down, {});
        for (std::size_t t = 0; t < T; ++t)
            for (std::int64_t i = 0; i < D; ++i)
                x[t][static_cast<std::size_t>(i)] += dn[t][static_cast<std::size_t>(i)];
    }
    return linearRef(rmsRef(x, w.finalNorm, c.normEps), w.output.empty() ? w.embed : w.output, {});
}

LlmConfig gpt2Config()
{
    LlmConfig c;
    c.architecture = "gpt2";
    c.vocabSize = 29;
    c.hidden = 16;
    c.intermediate = 40;
    c.layers = 2;
    c.heads = 4;
    c.kvHeads = 4;
    c.headDim = 4;
    c.context = 24;
    c.normEps = 1e-5;
    c.tieEmbeddings = true;
    return c;
}

DecoderWeights gpt2Weights(const LlmConfig& c, std::mt19937& rng)
{
    const std::int64_t D = c.hidden, F = c.intermediate;
    DecoderWeights w;
    w.embed = randomTensor({c.vocabSize, D}, rng, 0.5f);
    w.positions = randomTensor({c.context, D}, rng, 0.3f);
    for (std::int64_t l = 0; l < c.layers; ++l) {
        DecoderWeights::Block b;
        b.attnNorm = randomTensor({D}, rng, 0.1f, 1.0f);
        b.attnNormBias = randomTensor({D}, rng, 0.1f);
        b.qkv = randomTensor({3 * D, D}, rng, 0.3f);
        b.qkvBias = randomTensor({3 * D}, rng, 0.2f);
        b.o = randomTensor({D, D}, rng, 0.3f);
        b.oBias = randomTensor({D}, rng, 0.2f);
        b.mlpNorm = randomTensor({D}, rng, 0.1f, 1.0f);
        b.mlpNormBias = randomTensor({D}, rng, 0.1f);
        b.up = randomTensor({F, D}, rng, 0.3f);
        b.upBias = randomTensor({F}, rng, 0.2f);
        b.down = randomTensor({D, F}, rng, 0.3f);
        b.downBias = randomTensor({D}, rng, 0.2f);
        w.blocks.push_back(std::move(b));
    }
    w.finalNorm = randomTensor({D}, rng, 0.1f, 1.0f);
    w.finalNormBias = randomTensor({D}, rng, 0.1f);
    return w;
}

Mat layerNormRef(const Mat& x, const Tensor& w, const Tensor& b, double eps)
{
    Mat y = x;
    for (auto& row : y) {
        double mean = 0, var = 0;
        for (double v : row)
            mean += v;
        mean /= static_cast<double>(row.size());
        for (double v : row)
            var += (v - mean) * (v - mean);
        var /= static_cast<double>(row.size());
        for (std::size_t i = 0; i < row.size(); ++i)
            row[i] = (row[i] - mean) / std::sqrt(var + eps) * at(w, static_cast<std::int64_t>(i)) + at(b, static_cast<std::int64_t>(i));
    }
    return y;
}

/// GPT2LMHeadModel: h = wte[id] + wpe[t]; per block x += attn(ln_1(x)), x += mlp(ln_2(x)) with
/// c_attn's output split into q, k, v; mlp = c_proj(gelu_new(c_fc(.))); logits = ln_f(x) wte^T.
Mat gpt2ReferenceLogits(const LlmConfig& c, const DecoderWeights& w, const std::vector<std::int32_t>& tokens)
{
    const std::int64_t D = c.hidden, hd = c.headDim;
    const std::size_t T = tokens.size();
    Mat x;
    for (std::size_t t = 0; t < T; ++t) {
        std::vector<double> row(static_cast<std::size_t>(D));
        for (std::int64_t i = 0; i < D; ++i)
            row[static_cast<std::size_t>(i)] = at(w.embed, tokens[t] * D + i) + at(w.positions, static_cast<std::int64_t>(t) * D + i);
        x.push_back(row);
    }
    for (const auto& b : w.blocks) {
        const Mat qkv = linearRef(layerNormRef(x, b.attnNorm, b.attnNormBias, c.normEps), b.qkv, b.qkvBias);
        // q, k and v: c_attn's three blocks of outputs.
        const Mat att = attentionRef(qkv, qkv, qkv, T, c.heads, c.heads, hd, 0, static_cast<std::size_t>(D), 2 * static_cast<std::size_t>(D));
        const Mat o = linearRef(att, b.o, b.oBias);
        for (std::size_t t = 0; t < T; ++t)
            for (std::int64_t i = 0; i < D; ++i)
                x[t][static_cast<std::size_t>(i)] += o[t][static_cast<std::size_t>(i)];
        Mat u = linearRef(layerNormRef(x, b.mlpNorm, b.mlpNormBias, c.normEps), b.up, b.upBias);
        for (auto& row : u)
            for (double& v : row)
                v = 0.5 * v * (1 + std::tanh(std::sqrt(2 / 3.14159265358979323846) * (v + 0.044715 * v * v * v)));
        const Mat dn = linearRef(u, b.down, b.downBias);
        for (std::size_t t = 0; t < T; ++t)
            for (std::int64_t i = 0; i < D; ++i)
                x[t][static_cast<std::size_t>(i)] += dn[t][static_cast<std::size_t>(i)];
    }
    return linearRef(layerNormRef(x, w.finalNorm, w.finalNormBias, c.normEps), w.output.empty() ? w.embed : w.output, {});
}

/// Largest |a - ref| over [T, vocab], and the largest |ref|.
std::pair<double, double> logitsDiff(const std::vector<float>& a, const Mat& ref)
{
    double worst = 0, largest = 0;
    std::size_t i = 0;
    for (const auto& row : ref)
        for (double v : row) {
            worst = std::max(worst, std::abs(a[i++] - v));
            largest = std::max(largest, std::abs(v));
        }
    return {worst, largest};
}

std::vector<std::int32_t> randomTokens(std::size_t n, std::int64_t vocab, std::mt19937& rng)
{
    std::uniform_int_distribution<std::int32_t> u(0, static_cast<std::int32_t>(vocab - 1));
    std::vector<std::int32_t> t(n);
    for (auto& x : t)
        x = u(rng);
    return t;
}

} // namespace

class TestDecoder : public QObject {
    Q_OBJECT
private slots:
    void forwardMatchesTheFormulas_data();
    void forwardMatchesTheFormulas();
    void gpt2MatchesTheFormulas();
    void windowsAreIndependentAndBuffersReused();
    void substitutesRunInPlaceOfTheirWeights();
    void perplexityScoresTheSecondHalf();
    void badInputsAreErrors();
    void modelsLargerThanMemoryAreRefused();
};

void TestDecoder::forwardMatchesTheFormulas_data()
{
    QTest::addColumn<bool>("tied");
    QTest::addColumn<bool>("qwen");
    QTest::addColumn<QString>("scaling"); // rope_scaling: none, linear, dynamic, or llama3 with its original context
    QTest::addColumn<int>("originalContext");
    QTest::newRow("llama, untied") << false << false << "" << 0;
    QTest::newRow("llama, tied") << true << false << "" << 0;
    QTest::newRow("qwen2 biases") << false << true << "" << 0;
    QTest::newRow("linear scaling") << false << false << "linear" << 0;
    QTest::newRow("dynamic scaling") << false << false << "dynamic" << 0;
    // Head size 4, theta 10000: wavelengths 2 pi and 200 pi. Original context 16 (low/high
    // wavelengths 16 and 4): the first is blended, the second divided by the factor; 64 (64 and
    // 16): the first unchanged, the second divided.
    QTest::newRow("llama3 scaling, blended") << false << false << "llama3" << 16;
    QTest::newRow("llama3 scaling, unchanged") << false << false << "llama3" << 64;
}

void TestDecoder::forwardMatchesTheFormulas()
{
    QFETCH(bool, tied);
    QFETCH(bool, qwen);
    QFETCH(QString, scaling);
    QFETCH(int, originalContext);
    std::mt19937 rng(7);
    LlmConfig c = tinyConfig(qwen);
    c.tieEmbeddings = tied;
    if (!scaling.isEmpty())
        c.ropeScaling = RopeScaling{.type = scaling.toStdString(), .factor = 3.0, .lowFreqFactor = 1.0, .highFreqFactor = 4.0,
                                    .originalContext = originalContext};
    const DecoderWeights w = tinyWeights(c, tied, qwen, rng);
    Decoder d(c, w, "tiny");
    const auto tokens = randomTokens(19, c.vocabSize, rng);
    std::vector<float> logits;
    d.forward(tokens, logits);
    const Mat ref = referenceLogits(c, w, tokens);
    double worst = 0, largest = 0;
    for (std::size_t t = 0; t < tokens.size(); ++t)
        for (std::int64_t v = 0; v < c.vocabSize; ++v) {
            worst = std::max(worst, std::abs(logits[t * static_cast<std::size_t>(c.vocabSize) + static_cast<std::size_t>(v)] -
                                             ref[t][static_cast<std::size_t>(v)]));
            largest = std::max(largest, std::abs(ref[t][static_cast<std::size_t>(v)]));
        }
    QVERIFY2(worst <= 2e-5 * std::max(1.0, largest), qPrintable(QString("max |diff| %1 of %2").arg(worst).arg(largest)));
    if (scaling == "linear" || scaling == "llama3") {
        // The scaling is visible in the logits: far beyond the tolerance above.
        LlmConfig plain = c;
        plain.ropeScaling.reset();
        const Mat unscaled = referenceLogits(plain, w, tokens);
        double moved = 0;
        for (std::size_t t = 0; t < tokens.size(); ++t)
            for (std::size_t v = 0; v < unscaled[t].size(); ++v)
                moved = std::max(moved, std::abs(unscaled[t][v] - ref[t][v]));
        QVERIFY2(moved > 100 * 2e-5 * std::max(1.0, largest), qPrintable(QString("scaling moves logits by %1").arg(moved)));
    }
}

void TestDecoder::gpt2MatchesTheFormulas()
{
    std::mt19937 rng(17);
    LlmConfig c = gpt2Config();
    DecoderWeights w = gpt2Weights(c, rng);
    const auto tokens = randomTokens(c.context, c.vocabSize, rng); // every position embedding used
    {
        Decoder d(c, w, "tiny-gpt2");
        std::vector<float> logits;
        d.forward(tokens, logits);
        const auto [worst, largest] = logitsDiff(logits, gpt2ReferenceLogits(c, w, tokens));
        QVERIFY2(worst <= 2e-5 * std::max(1.0, largest), qPrintable(QString("tied: max |diff| %1 of %2").arg(worst).arg(largest)));
        // The compressible layers: the token embedding and the four projections of each block (not
        // the position embedding, norms or biases), named as Hugging Face and llama.cpp name them.
        QStringList matrices;
        for (const auto& n : d.namedWeights())
            if (n.matrix)
                matrices << QString::fromStdString(n.hf + " = " + n.gguf);
        QCOMPARE(matrices.size(), 1 + 4 * 2);
        QCOMPARE(matrices[1], QString("h.0.attn.c_attn.weight = blk.0.attn_qkv.weight"));
        QCOMPARE(matrices[8], QString("h.1.mlp.c_proj.weight = blk.1.ffn_down.weight"));
        QCOMPARE(d.namedWeights().size(), std::size_t(2 + 12 * 2 + 2));
        QVERIFY(d.weight("h.1.attn.c_attn.bias") == d.namedWeights()[2 + 12 + 3].tensor);
    }
    // An untied output projection (llama.cpp's converter writes GPT-2's as a copy).
    c.tieEmbeddings = false;
    w.output = randomTensor({c.vocabSize, c.hidden}, rng, 0.5f);
    Decoder d(c, w, "tiny-gpt2");
    std::vector<float> logits;
    d.forward(std::span(tokens).first(9), logits);
    const auto [worst, largest] =
        logitsDiff(logits, gpt2ReferenceLogits(c, w, std::vector<std::int32_t>(tokens.begin(), tokens.begin() + 9)));
    QVERIFY2(worst <= 2e-5 * std::max(1.0, largest), qPrintable(QString("untied: max |diff| %1 of %2").arg(worst).arg(largest)));
    // A missing bias is a shape error naming the weight.
    w.blocks[0].oBias = Tensor();
    try {
        Decoder broken(c, w, "gpt2.safetensors");
        QFAIL("a missing bias must be refused");
    } catch (const Error& e) {
        QCOMPARE(QString(e.what()), QString("gpt2.safetensors: layer 0 attention c_proj bias has shape [], the configuration needs [16]"));
    }
}

void TestDecoder::windowsAreIndependentAndBuffersReused()
{
    std::mt19937 rng(11);
    const LlmConfig c = tinyConfig(false);
    const DecoderWeights w = tinyWeights(c, false, false, rng);
    Decoder d(c, w, "tiny");
    const auto tokens = randomTokens(24, c.vocabSize, rng);
    std::vector<float> full, shorter, again;
    d.forward(tokens, full);
    // Causality: the logits of a prefix do not depend on what follows it.
    d.forward(std::span(tokens).first(10), shorter);
    for (std::size_t i = 0; i < shorter.size(); ++i)
        QVERIFY(std::abs(shorter[i] - full[i]) <= 1e-5f * std::max(1.0f, std::abs(full[i])));
    // A longer window after a shorter one (buffers grown, then reused) gives the same as the first run.
    d.forward(tokens, again);
    QVERIFY(again == full);
}

void TestDecoder::substitutesRunInPlaceOfTheirWeights()
{
    // A decoder running substitutes gives what a decoder built with those weights gives, and its
    // own weights stay as they were (other threads may read them meanwhile).
    std::mt19937 rng(23);
    for (const bool gpt2 : {false, true}) {
        LlmConfig c = gpt2 ? gpt2Config() : tinyConfig(true);
        c.tieEmbeddings = true; // the embedding's substitute is the output projection's too
        const DecoderWeights w = gpt2 ? gpt2Weights(c, rng) : tinyWeights(c, true, true, rng);
        Decoder d(c, w, "tiny");
        DecoderWeights changed = w;
        Tensor& up = changed.blocks[1].up;
        Tensor embed = randomTensor(w.embed.shape(), rng, 0.5f), up2 = randomTensor(up.shape(), rng, 0.3f);
        changed.embed = embed;
        up = up2;
        Decoder reference(c, changed, "tiny");
        const auto tokens = randomTokens(12, c.vocabSize, rng);
        std::vector<float> got, want, plain, before;
        d.forward(tokens, before);
        const Decoder::Substitutes subs = {{&d.weights().embed, &embed}, {&d.weights().blocks[1].up, &up2}};
        d.forward(tokens, got, nullptr, &subs);
        reference.forward(tokens, want);
        QVERIFY(got == want);
        d.forward(tokens, plain); // without them: the decoder's own weights again
        QVERIFY(plain == before);
        QVERIFY(!(got == before));
        const Tensor wrong = randomTensor({3, 3}, rng, 1.0f);
        const Decoder::Substitutes bad = {{&d.weights().embed, &wrong}};
        QVERIFY_THROWS_EXCEPTION(Error, d.forward(tokens, got, nullptr, &bad));
    }
}

void TestDecoder::perplexityScoresTheSecondHalf()
{
    std::mt19937 rng(5);
    const LlmConfig c = tinyConfig(false);
    const DecoderWeights w = tinyWeights(c, false, false, rng);
    Decoder d(c, w, "tiny");
    const auto tokens = randomTokens(70, c.vocabSize, rng); // 4 windows of 16, 6 tokens left over
    const std::int64_t nCtx = 16;
    double sum = 0;
    std::int64_t n = 0;
    for (std::size_t start = 0; start + nCtx <= tokens.size(); start += nCtx) {
        const std::vector<std::int32_t> window(tokens.begin() + static_cast<std::ptrdiff_t>(start),
                                               tokens.begin() + static_cast<std::ptrdiff_t>(start + nCtx));
        const Mat ref = referenceLogits(c, w, window);
        for (std::int64_t i = nCtx / 2; i + 1 < nCtx; ++i) {
            const auto& row = ref[static_cast<std::size_t>(i)];
            double mx = -1e300, z = 0;
            for (double v : row)
                mx = std::max(mx, v);
            for (double v : row)
                z += std::exp(v - mx);
            sum += std::log(z) + mx - row[static_cast<std::size_t>(window[static_cast<std::size_t>(i + 1)])];
            ++n;
        }
    }
    const PerplexityResult r = perplexity(d, tokens, nCtx);
    QCOMPARE(r.windows, std::int64_t(4));
    QCOMPARE(r.scored, std::int64_t(4 * 7));
    QVERIFY2(std::abs(r.perplexity - std::exp(sum / static_cast<double>(n))) < 1e-4 * r.perplexity,
             qPrintable(QString("%1 vs %2").arg(r.perplexity).arg(std::exp(sum / static_cast<double>(n)))));
    QVERIFY(r.stdErr > 0);
}

void TestDecoder::badInputsAreErrors()
{
    std::mt19937 rng(3);
    const LlmConfig c = tinyConfig(false);
    DecoderWeights w = tinyWeights(c, false, false, rng);
    Decoder d(c, w, "tiny");
    std::vector<float> logits;
    const std::vector<std::int32_t> bad = {1, 2, 23};
    QVERIFY_THROWS_EXCEPTION(Error, d.forward(bad, logits));
    QVERIFY_THROWS_EXCEPTION(Error, d.forward(std::vector<std::int32_t>(33, 1), logits));
    QVERIFY_THROWS_EXCEPTION(Error, perplexity(d, std::vector<std::int32_t>(10, 1), 16));
    {
        // Sliding attention over 16 tokens: longer windows are refused, not attended over in full.
        LlmConfig sliding = c;
        sliding.slidingWindow = 16;
        Decoder s(sliding, w, "mistral");
        s.forward(std::vector<std::int32_t>(16, 1), logits);
        try {
            s.forward(std::vector<std::int32_t>(17, 1), logits);
            QFAIL("a window longer than the sliding window accepted");
        } catch (const Error& e) {
            QCOMPARE(QString(e.what()), QString("forward: a window of 17 tokens is longer than the 16 tokens the model attends over"));
        }
    }
    w.blocks[1].up = randomTensor({c.intermediate, c.hidden + 1}, rng, 0.1f);
    try {
        Decoder broken(c, w, "tiny.safetensors");
        QFAIL("a weight of the wrong shape must be refused");
    } catch (const Error& e) {
        QCOMPARE(QString(e.what()), QString("tiny.safetensors: layer 1 up_proj has shape [24, 17], the configuration needs [24, 16]"));
    }
    // Rotary scaling Leger does not run, and frequency factors that make no model.
    w = tinyWeights(c, false, false, rng);
    LlmConfig yarn = c;
    yarn.ropeScaling = RopeScaling{.type = "yarn", .factor = 4.0};
    try {
        Decoder unsupported(yarn, w, "yarn.json");
        QFAIL("yarn must be refused");
    } catch (const UnsupportedError& e) {
        QCOMPARE(QString(e.what()), QString("yarn.json: rope scaling 'yarn' is not implemented yet"));
    }
    w.ropeFreqs = randomTensor({c.headDim}, rng, 0.0f, 1.0f);
    try {
        Decoder wrong(c, w, "tiny.gguf");
        QFAIL("rope_freqs of the wrong shape must be refused");
    } catch (const Error& e) {
        QCOMPARE(QString(e.what()), QString("tiny.gguf: the rotary frequency factor tensor rope_freqs has shape [4], the configuration needs [2]"));
    }
    w.ropeFreqs = randomTensor({c.headDim / 2}, rng, 0.0f, 1.0f);
    w.ropeFreqs.data<float>()[1] = 0.0f;
    QVERIFY_THROWS_EXCEPTION(Error, Decoder(c, w, "tiny.gguf"));
}

void TestDecoder::modelsLargerThanMemoryAreRefused()
{
    // TinyLlama-1.1B's shape as float32 (4.4 GB) against 2 GB available: refused with both figures.
    LlmConfig c;
    c.architecture = "llama";
    c.vocabSize = 32000;
    c.hidden = 2048;
    c.intermediate = 5632;
    c.layers = 22;
    c.heads = 32;
    c.kvHeads = 4;
    c.headDim = 64;
    c.context = 2048;
    const std::uint64_t bytes = static_cast<std::uint64_t>(c.parameterCount()) * 4;
    try {
        requireMemory(bytes, "tinyllama: the model as float32", 2'000'000'000);
        QFAIL("a model larger than the memory available must be refused");
    } catch (const Error& e) {
        QCOMPARE(QString(e.what()), QString("tinyllama: the model as float32 needs 4.4 GB, more than the 2.0 GB of memory available"));
    }
    requireMemory(bytes, "fits", 8'000'000'000); // no error
    QVERIFY(availableMemoryBytes() > 0);     // read from /proc/meminfo
}

QTEST_APPLESS_MAIN(TestDecoder)
#include "tst_decoder.moc"
