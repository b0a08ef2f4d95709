#include "llm/LlmEvaluator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "compress/Compressor.h"
#include "llm/LanguageModel.h"
#include "util/Error.h"

namespace leger {

namespace {

/// log-softmax of one row of logits into out; returns the index of the largest logit.
std::int32_t logSoftmax(const float* row, std::int64_t V, float* out)
{
    std::int64_t top = 0;
    for (std::int64_t j = 1; j < V; ++j)
        if (row[j] > row[top])
            top = j;
    const float mx = row[top];
    double z = 0;
    for (std::int64_t j = 0; j < V; ++j)
        z += std::exp(static_cast<double>(row[j] - mx));
    const double logZ = std::log(z) + mx;
    for (std::int64_t j = 0; j < V; ++j)
        out[j] = static_cast<float>(static_cast<double>(row[j]) - logZ);
    return static_cast<std::int32_t>(top);
}

Interval expInterval(const Interval& i) { return {std::exp(i.value), std::exp(i.low), std::exp(i.high), i.n}; }

} // namespace

LlmEvaluator::LlmEvaluator(LanguageModel& model, std::vector<std::int32_t> tokens)
    : LlmEvaluator(model, std::move(tokens), Options{})
{
}

LlmEvaluator::LlmEvaluator(std::shared_ptr<LanguageModel> model, std::vector<std::int32_t> tokens, Options options)
    : LlmEvaluator(*model, std::move(tokens), options)
{
    owner_ = std::move(model);
}

LlmEvaluator::LlmEvaluator(LanguageModel& model, std::vector<std::int32_t> tokens, Options options)
    : model_(model), tokens_(std::move(tokens))
{
    // As llama.cpp's perplexity tool: a vocabulary that adds a BOS gets one before the whole text
    // (and each window's first token replaced by it, windowTokens).
    if (const auto bos = model.windowBos())
        tokens_.insert(tokens_.begin(), *bos);
    const LlmConfig& c = model.decoder().config();
    nCtx_ = options.nCtx > 0 ? options.nCtx : std::min<std::int64_t>(c.longestWindow(), 512);
    if (nCtx_ < 4 || nCtx_ > c.longestWindow())
        throw Error(model.path() + ": a window of " + std::to_string(nCtx_) + " tokens (4.." + std::to_string(c.longestWindow()) +
                    " for this model" + (c.longestWindow() < c.context ? ", its sliding attention window" : "") + ")");
    windows_ = static_cast<std::int64_t>(tokens_.size()) / nCtx_;
    if (options.limit >= 0)
        windows_ = std::min(windows_, options.limit);
    if (windows_ < 1)
        throw Error("the text has " + std::to_string(tokens_.size()) + " tokens, fewer than one window of " +
                    std::to_string(nCtx_));
    vocab_ = c.vocabSize;
    weightBudget_ = options.weightBudget;
    for (std::int32_t t : tokens_)
        if (t < 0 || t >= vocab_)
            throw Error("token id " + std::to_string(t) + " is outside the model's vocabulary of " + std::to_string(vocab_));
    const std::uint64_t perWindow = static_cast<std::uint64_t>(scoredPerWindow() * vocab_) * sizeof(float);
    if (perWindow * static_cast<std::uint64_t>(windows_) > options.logitBudget)
        throw Error("the uncompressed log-probabilities of " + std::to_string(windows_) + " windows would take " +
                    std::to_string(perWindow * static_cast<std::uint64_t>(windows_) >> 20) + " MiB, over the budget of " +
                    std::to_string(options.logitBudget >> 20) + " MiB: evaluate at most " +
                    std::to_string(options.logitBudget / perWindow) + " windows");
    baseDone_.assign(static_cast<std::size_t>(windows_), false);
    baseLogp_.resize(static_cast<std::size_t>(perWindow / sizeof(float)) * static_cast<std::size_t>(windows_));
    baseTop_.resize(static_cast<std::size_t>(scoredPerWindow() * windows_));
    const std::size_t L = model.layers().size();
    planned_.assign(L, nullptr);
    // NaN/Inf in the original weights, reported for every layer compressed or not.
    for (std::size_t i = 0; i < L; ++i) {
        std::int64_t bad = 0;
        for (float v : model.original(i).span<float>())
            bad += !std::isfinite(v);
        stats_.push_back(LayerStats{std::numeric_limits<double>::infinity(), bad});
    }
    originalNonFinite_.resize(L);
    for (std::size_t i = 0; i < L; ++i)
        originalNonFinite_[i] = stats_[i].nonFinite;
}

const std::vector<Layer>& LlmEvaluator::layers() const { return model_.layers(); }

void LlmEvaluator::windowTokens(std::int64_t w)
{
    window_.assign(tokens_.begin() + w * nCtx_, tokens_.begin() + (w + 1) * nCtx_);
    if (const auto bos = model_.windowBos())
        window_[0] = *bos;
}

void LlmEvaluator::applyPlan(const std::vector<LayerSetting>& asked, std::vector<LayerStats>& stats)
{
    model_.checkSettings(asked);
    const std::vector<LayerSetting> plan = model_.fitted(asked);
    const auto& layers = model_.layers();
    const std::uint64_t planStart = useClock_ + 1;
    for (std::size_t i = 0; i < plan.size(); ++i) {
        if (plan[i].isNone()) {
            planned_[i] = nullptr;
            stats_[i] = {std::numeric_limits<double>::infinity(), originalNonFinite_[i]};
            continue;
        }
        auto hit = std::find_if(cache_.begin(), cache_.end(),
                                [&](const auto& c) { return c->layer == i && c->setting == plan[i]; });
        if (hit == cache_.end()) {
            CompressedWeight cw;
            Tensor w = evaluatedWeight(layers[i], model_.original(i), plan[i], &cw);
            const LayerStats st{weightSqnrDb(model_.original(i), w), cw.nonFinite};
            cacheBytes_ += w.byteSize();
            cache_.push_back(std::make_unique<CachedWeight>(CachedWeight{i, plan[i], std::move(w), st, 0}));
            hit = cache_.end() - 1;
        }
        (*hit)->used = ++useClock_;
        planned_[i] = &(*hit)->weight;
        stats_[i] = (*hit)->stats;
    }
    // Over budget: drop the least recently used, never this plan's.
    while (cacheBytes_ > weightBudget_) {
        auto old = std::min_element(cache_.begin(), cache_.end(), [](const auto& a, const auto& b) { return a->used < b->used; });
        if (old == cache_.end() || (*old)->used >= planStart)
            break;
        cacheBytes_ -= (*old)->weight.byteSize();
        cache_.erase(old);
    }
    substitutes_.clear();
    for (std::size_t i = 0; i < planned_.size(); ++i)
        if (planned_[i])
            substitutes_.emplace_back(&model_.original(i), planned_[i]);
    stats = stats_;
}

void LlmEvaluator::baseline(std::int64_t w, const CancelToken* cancel)
{
    windowTokens(w);
    model_.decoder().forward(window_, logits_, cancel);
    const std::int64_t first = nCtx_ / 2, S = scoredPerWindow();
    for (std::int64_t k = 0; k < S; ++k) {
        const std::size_t at = static_cast<std::size_t>(w * S + k);
        baseTop_[at] = logSoftmax(logits_.data() + (first + k) * vocab_, vocab_, baseLogp_.data() + at * static_cast<std::size_t>(vocab_));
    }
    baseDone_[static_cast<std::size_t>(w)] = true;
}

Evaluation LlmEvaluator::evaluate(const std::vector<LayerSetting>& plan, const CancelToken* cancel, const Progress& progress)
{
    return run(plan, nullptr, cancel, progress);
}

Evaluation LlmEvaluator::evaluateModel(Decoder& other, const std::vector<LayerSetting>& settings, const CancelToken* cancel)
{
    if (other.config().vocabSize != vocab_)
        throw Error("the other model's vocabulary has " + std::to_string(other.config().vocabSize) + " tokens, this one " +
                    std::to_string(vocab_));
    if (other.config().longestWindow() < nCtx_)
        throw Error("the other model's context of " + std::to_string(other.config().longestWindow()) +
                    " tokens is shorter than the windows of " + std::to_string(nCtx_));
    return run(settings, &other, cancel, {});
}

Evaluation LlmEvaluator::run(const std::vector<LayerSetting>& plan, Decoder* other, const CancelToken* cancel,
                             const Progress& progress)
{
    const auto started = std::chrono::steady_clock::now();
    Evaluation e;
    e.settings = plan;
    e.total = windows_;
    if (other)
        e.layers.assign(model_.layers().size(), LayerStats{std::numeric_limits<double>::quiet_NaN(), 0});
    else
        applyPlan(plan, e.layers);
    const bool uncompressed = !other && std::all_of(plan.begin(), plan.end(), [](const LayerSetting& s) { return s.isNone(); });

    const std::int64_t first = nCtx_ / 2, S = scoredPerWindow();
    double nllSum = 0, nllSq = 0, klSum = 0, klSq = 0;
    std::int64_t scored = 0, agree = 0, nonFinite = 0;
    std::vector<float> logq(static_cast<std::size_t>(vocab_));
    const auto result = [&] {
        Metrics& m = e.metrics;
        m.samples = scored;
        m.nonFinite = nonFinite;
        const Interval nll = meanInterval(nllSum, nllSq, scored);
        m.values["nll"] = nll;
        m.values["perplexity"] = expInterval(nll);
        m.values["kl"] = meanInterval(klSum, klSq, scored);
        m.values["agreement"] = wilsonInterval(agree, scored);
        e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    };
    for (std::int64_t w = 0; w < windows_; ++w) {
        if (cancel && cancel->isCancelled())
            throw CancelledError();
        if (!baseDone_[static_cast<std::size_t>(w)])
            baseline(w, cancel);
        if (other) {
            windowTokens(w);
            other->forward(window_, logits_, cancel);
        } else if (!uncompressed) {
            windowTokens(w);
            model_.decoder().forward(window_, logits_, cancel, &substitutes_);
        }
        for (std::int64_t k = 0; k < S; ++k) {
            const std::size_t at = static_cast<std::size_t>(w * S + k);
            const float* p = baseLogp_.data() + at * static_cast<std::size_t>(vocab_);
            const std::int32_t next = tokens_[static_cast<std::size_t>(w * nCtx_ + first + k + 1)];
            double nll = -p[next], kl = 0;
            bool same = true;
            if (uncompressed) {
                nonFinite += !std::isfinite(p[baseTop_[at]]);
            } else {
                const float* row = logits_.data() + (first + k) * vocab_;
                const std::int32_t top = logSoftmax(row, vocab_, logq.data());
                nonFinite += !std::isfinite(logq[static_cast<std::size_t>(top)]);
                nll = -logq[static_cast<std::size_t>(next)];
                for (std::int64_t j = 0; j < vocab_; ++j) {
                    const double lp = p[j];
                    kl += std::exp(lp) * (lp - logq[static_cast<std::size_t>(j)]);
                }
                same = top == baseTop_[at];
            }
            nllSum += nll;
            nllSq += nll * nll;
            klSum += kl;
            klSq += kl * kl;
            agree += same;
            ++scored;
        }
        e.samples = w + 1;
        // The first window at once, then every chunkSize() windows: a result per window would
        // redraw the GUI tens of times a second for a small model.
        if (progress && w + 1 < windows_ && (w == 0 || (w + 1) % chunkSize() == 0)) {
            result();
            progress(e);
        }
    }
    result();
    return e;
}

} // namespace leger
