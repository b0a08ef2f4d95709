#include "eval/Metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "util/Error.h"

namespace leger {

namespace {

constexpr double kZ = 1.959963984540054; // two-sided 95 %

std::int64_t argmax(const float* v, std::int64_t n)
{
    // NaN never wins; the first of equal maxima does (as numpy and PyTorch).
    std::int64_t best = 0;
    for (std::int64_t i = 1; i < n; ++i)
        if (v[i] > v[best] || (std::isnan(v[best]) && !std::isnan(v[i])))
            best = i;
    return best;
}

/// Whether `label` is among the k highest scores (ties counted against it).
bool inTopK(const float* v, std::int64_t n, std::int64_t label, int k)
{
    int higher = 0;
    for (std::int64_t i = 0; i < n; ++i)
        if (i != label && (v[i] > v[label] || (v[i] == v[label] && i < label)))
            ++higher;
    return higher < k;
}

/// Whether scores are already probabilities (a softmax output): in [0, 1], summing to 1.
bool isDistribution(const float* v, std::int64_t n)
{
    double s = 0;
    for (std::int64_t i = 0; i < n; ++i) {
        if (!(v[i] >= 0.0f && v[i] <= 1.0f))
            return false;
        s += v[i];
    }
    return std::abs(s - 1.0) < 1e-3;
}

/// log of probabilities (floored at 1e-30 so that a zero stays finite).
void logProbabilities(const float* v, std::int64_t n, std::vector<double>& out)
{
    out.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i)
        out[static_cast<std::size_t>(i)] = std::log(std::max(static_cast<double>(v[i]), 1e-30));
}

/// log-softmax of n scores into out (double).
void logSoftmax(const float* v, std::int64_t n, std::vector<double>& out)
{
    out.resize(static_cast<std::size_t>(n));
    double m = -std::numeric_limits<double>::infinity();
    for (std::int64_t i = 0; i < n; ++i)
        m = std::max(m, static_cast<double>(v[i]));
    double s = 0;
    for (std::int64_t i = 0; i < n; ++i)
        s += std::exp(static_cast<double>(v[i]) - m);
    const double lse = m + std::log(s);
    for (std::int64_t i = 0; i < n; ++i)
        out[static_cast<std::size_t>(i)] = static_cast<double>(v[i]) - lse;
}

} // namespace

Interval wilsonInterval(std::int64_t successes, std::int64_t n)
{
    Interval r;
    r.n = n;
    if (n <= 0)
        return r;
    const double p = static_cast<double>(successes) / static_cast<double>(n);
    const double nn = static_cast<double>(n), z2 = kZ * kZ;
    const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
    const double half = kZ / (1 + z2 / nn) * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
    r.value = p;
    r.low = std::max(0.0, centre - half);
    r.high = std::min(1.0, centre + half);
    return r;
}

Interval meanInterval(double sum, double sumSquares, std::int64_t n)
{
    Interval r;
    r.n = n;
    if (n <= 0)
        return r;
    const double nn = static_cast<double>(n);
    r.value = sum / nn;
    const double var = n > 1 ? std::max(0.0, (sumSquares - sum * sum / nn) / (nn - 1)) : 0.0;
    const double half = kZ * std::sqrt(var / nn);
    r.low = r.value - half;
    r.high = r.value + half;
    return r;
}

MetricsAccumulator::MetricsAccumulator(std::int64_t classes) : classes_(classes)
{
    if (classes_ >= 2)
        confusion_.assign(static_cast<std::size_t>(classes_), std::vector<std::int64_t>(static_cast<std::size_t>(classes_), 0));
}

void MetricsAccumulator::add(const float* y, const float* base, const std::int64_t* labels, std::int64_t n,
                             std::int64_t perSample)
{
    const bool classifier = classes_ >= 2 && perSample == classes_;
    std::vector<double> lp, lq;
    for (std::int64_t i = 0; i < n; ++i) {
        const float* yi = y + i * perSample;
        const float* bi = base ? base + i * perSample : nullptr;
        for (std::int64_t k = 0; k < perSample; ++k)
            if (!std::isfinite(yi[k])) {
                ++nonFinite_;
                break;
            }
        if (classifier) {
            const std::int64_t pred = argmax(yi, classes_);
            const std::int64_t basePred = bi ? argmax(bi, classes_) : -1;
            if (labels) {
                const std::int64_t label = labels[i];
                if (label < 0 || label >= classes_)
                    throw Error("label " + std::to_string(label) + " is outside the model's " +
                                std::to_string(classes_) + " classes");
                ++labelled_;
                top1_ += pred == label;
                top5_ += inTopK(yi, classes_, label, 5);
                ++confusion_[static_cast<std::size_t>(label)][static_cast<std::size_t>(pred)];
                if (bi) {
                    lost_ += basePred == label && pred != label;
                    gained_ += basePred != label && pred == label;
                }
            }
            if (bi) {
                agree_ += pred == basePred;
                // KL(p_base || p): sum p_base (log p_base - log p).
                // Scores that already are probabilities are used as they are, logits through softmax.
                if (isDistribution(bi, classes_)) {
                    logProbabilities(bi, classes_, lp);
                    logProbabilities(yi, classes_, lq);
                } else {
                    logSoftmax(bi, classes_, lp);
                    logSoftmax(yi, classes_, lq);
                }
                double kl = 0;
                for (std::size_t c = 0; c < lp.size(); ++c)
                    if (std::isfinite(lp[c]))
                        kl += std::exp(lp[c]) * (lp[c] - lq[c]);
                if (!std::isfinite(kl))
                    kl = std::numeric_limits<double>::infinity();
                klSum_ += kl;
                klSq_ += kl * kl;
            }
        }
        if (bi) {
            double s = 0, e = 0;
            for (std::int64_t k = 0; k < perSample; ++k) {
                const double b = bi[k], d = static_cast<double>(bi[k]) - static_cast<double>(yi[k]);
                s += b * b;
                e += d * d;
            }
            sSum_ += s;
            eSum_ += e;
            ssSum_ += s * s;
            eeSum_ += e * e;
            seSum_ += s * e;
            ++compared_;
        }
        ++n_;
    }
}

Metrics MetricsAccumulator::result() const
{
    Metrics m;
    m.samples = n_;
    m.nonFinite = nonFinite_;
    m.classes = classes_ >= 2 ? classes_ : 0;
    if (labelled_ > 0) {
        m.values["top1"] = wilsonInterval(top1_, labelled_);
        if (classes_ > 5)
            m.values["top5"] = wilsonInterval(top5_, labelled_);
        m.confusion = confusion_;
        for (std::size_t c = 0; c < confusion_.size(); ++c) {
            std::int64_t total = 0;
            for (auto v : confusion_[c])
                total += v;
            m.perClass.push_back(wilsonInterval(confusion_[c][c], total));
        }
    }
    if (compared_ > 0 && classes_ >= 2) {
        m.values["agreement"] = wilsonInterval(agree_, compared_);
        m.values["kl"] = meanInterval(klSum_, klSq_, compared_);
        if (labelled_ > 0) {
            m.values["flips_lost"] = wilsonInterval(lost_, labelled_);
            m.values["flips_gained"] = wilsonInterval(gained_, labelled_);
            m.lost = lost_;
            m.gained = gained_;
        }
    }
    if (compared_ > 0) {
        // SQNR = 10 log10(S / E) with S, E the mean signal and noise energy per sample; the
        // interval from the delta method on the ratio of means.
        Interval r;
        r.n = compared_;
        const double nn = static_cast<double>(compared_);
        const double S = sSum_ / nn, E = eSum_ / nn;
        if (E == 0.0) {
            r.value = r.low = r.high = std::numeric_limits<double>::infinity();
        } else if (S == 0.0) {
            r.value = r.low = r.high = -std::numeric_limits<double>::infinity();
        } else {
            const double vs = std::max(0.0, ssSum_ / nn - S * S), ve = std::max(0.0, eeSum_ / nn - E * E);
            const double cse = seSum_ / nn - S * E;
            const double R = S / E;
            const double varR = std::max(0.0, (vs / (E * E) + S * S * ve / (E * E * E * E) - 2 * S * cse / (E * E * E)) / nn);
            const double half = kZ * std::sqrt(varR);
            r.value = 10 * std::log10(R);
            r.low = R - half > 0 ? 10 * std::log10(R - half) : -std::numeric_limits<double>::infinity();
            r.high = 10 * std::log10(R + half);
        }
        m.values["sqnr_db"] = r;
    }
    return m;
}

} // namespace leger
