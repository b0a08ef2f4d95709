// Prompt-processing throughput of the decoder (core/llm/Decoder) against what this machine's
// SGEMM allows: a forward pass costs about 2 x parameters FLOPs per token (plus attention), so
// the bound is sgemm_flops / (2 x parameters) tokens per second; the issue asks for within 2x.
// Both are measured in the same process, one OpenBLAS thread unless given.
//   build/tests/bench/bench_llm [window=256] [threads=1]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <cblas.h>

#include "llm/Decoder.h"

using namespace leger;
using Clock = std::chrono::steady_clock;

namespace {

Tensor random(Shape shape, std::mt19937& rng, float scale, float offset = 0)
{
    Tensor t(DType::Float32, std::move(shape));
    std::normal_distribution<float> n(0, 1);
    for (float& v : t.span<float>())
        v = offset + scale * n(rng);
    return t;
}

double seconds(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

} // namespace

int main(int argc, char** argv)
{
    const std::int64_t window = argc > 1 ? std::max(16, std::atoi(argv[1])) : 256;
    openblas_set_num_threads(argc > 2 ? std::max(1, std::atoi(argv[2])) : 1);
    // A TinyLlama-like shape, scaled down: 6 layers of width 768, 12 heads over 4 kv heads.
    LlmConfig c;
    c.architecture = "llama";
    c.vocabSize = 32000;
    c.hidden = 768;
    c.intermediate = 2048;
    c.layers = 6;
    c.heads = 12;
    c.kvHeads = 4;
    c.headDim = 64;
    c.context = 2048;
    std::mt19937 rng(1);
    DecoderWeights w;
    w.embed = random({c.vocabSize, c.hidden}, rng, 0.02f);
    for (std::int64_t l = 0; l < c.layers; ++l) {
        DecoderWeights::Block b;
        b.attnNorm = random({c.hidden}, rng, 0.0f, 1.0f);
        b.q = random({c.heads * c.headDim, c.hidden}, rng, 0.02f);
        b.k = random({c.kvHeads * c.headDim, c.hidden}, rng, 0.02f);
        b.v = random({c.kvHeads * c.headDim, c.hidden}, rng, 0.02f);
        b.o = random({c.hidden, c.heads * c.headDim}, rng, 0.02f);
        b.mlpNorm = random({c.hidden}, rng, 0.0f, 1.0f);
        b.gate = random({c.intermediate, c.hidden}, rng, 0.02f);
        b.up = random({c.intermediate, c.hidden}, rng, 0.02f);
        b.down = random({c.hidden, c.intermediate}, rng, 0.02f);
        w.blocks.push_back(std::move(b));
    }
    w.finalNorm = random({c.hidden}, rng, 0.0f, 1.0f);
    w.output = random({c.vocabSize, c.hidden}, rng, 0.02f);
    Decoder d(c, std::move(w), "bench");
    // Parameters that take part in a token's matrix products (the embedding is a lookup).
    const double params = static_cast<double>(c.parameterCount() - c.vocabSize * c.hidden);

    // SGEMM rate on the shapes the decoder uses most: [window x hidden] x [hidden x intermediate].
    std::vector<float> a(static_cast<std::size_t>(window * c.hidden), 0.5f), b(static_cast<std::size_t>(c.intermediate * c.hidden), 0.25f),
        y(static_cast<std::size_t>(window * c.intermediate));
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = Clock::now();
        for (int i = 0; i < 10; ++i)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(window), static_cast<blasint>(c.intermediate),
                        static_cast<blasint>(c.hidden), 1.0f, a.data(), static_cast<blasint>(c.hidden), b.data(),
                        static_cast<blasint>(c.hidden), 0.0f, y.data(), static_cast<blasint>(c.intermediate));
        best = std::max(best, 10 * 2.0 * static_cast<double>(window * c.hidden * c.intermediate) / seconds(t0));
    }

    std::uniform_int_distribution<std::int32_t> tok(0, static_cast<std::int32_t>(c.vocabSize - 1));
    std::vector<std::int32_t> tokens(static_cast<std::size_t>(window));
    for (auto& t : tokens)
        t = tok(rng);
    std::vector<float> logits;
    d.forward(tokens, logits); // warm-up: buffers sized
    double fastest = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = Clock::now();
        d.forward(tokens, logits);
        fastest = std::min(fastest, seconds(t0));
    }
    const double tokensPerSecond = static_cast<double>(window) / fastest;
    const double bound = best / (2.0 * params);
    std::printf("{\"parameters\": %.0f, \"window\": %lld, \"sgemm_gflops\": %.2f, \"bound_tokens_per_s\": %.1f, "
                "\"tokens_per_s\": %.1f, \"ratio_to_bound\": %.3f}\n",
                params + static_cast<double>(c.vocabSize * c.hidden), static_cast<long long>(window), best / 1e9, bound,
                tokensPerSecond, tokensPerSecond / bound);
    return 0;
}
