#pragma once
// The quality numbers of one evaluation (DESIGN.md "Definitions"), accumulated chunk by chunk so
// that partial results can be shown while an evaluation refines.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace leger {

/// A measured value with its 95 % interval over n samples.
struct Interval {
    double value = 0.0, low = 0.0, high = 0.0;
    std::int64_t n = 0;
};

/// Wilson score interval (95 %) of a proportion.
Interval wilsonInterval(std::int64_t successes, std::int64_t n);
/// mean ± 1.96·SE from a sum and a sum of squares.
Interval meanInterval(double sum, double sumSquares, std::int64_t n);

struct Metrics {
    /// By name: top1, top5 (more than 5 classes), agreement, flips_lost (right before, wrong now),
    /// flips_gained (wrong before, right now), kl (nats), sqnr_db (output SQNR), as available:
    /// label-based ones need labels, the rest the uncompressed model's outputs.
    std::map<std::string, Interval> values;
    std::int64_t samples = 0;
    std::int64_t classes = 0;
    /// Per class (by label): top-1 accuracy; and confusion[label][predicted] counts.
    std::vector<Interval> perClass;
    std::vector<std::vector<std::int64_t>> confusion;
    std::int64_t lost = 0, gained = 0; // flip counts
    /// Samples whose output holds a NaN or an infinity.
    std::int64_t nonFinite = 0;

    const Interval* find(const std::string& name) const
    {
        auto it = values.find(name);
        return it == values.end() ? nullptr : &it->second;
    }
};

/// Accumulates the comparison of a model's output (the Evaluator's choice) with the labels and the
/// uncompressed model's output for the same samples. An output (n, classes) with classes >= 2
/// is read as class scores (logits, through softmax for KL; or probabilities when the
/// uncompressed model's scores of a sample are in [0, 1] and sum to 1, used as they are); any
/// other output gets the SQNR only.
class MetricsAccumulator {
public:
    /// classes: the output's size per sample when it is a classifier, else 0.
    explicit MetricsAccumulator(std::int64_t classes);

    /// y, base: (n, perSample) outputs (base may be null: no agreement, flips, KL, SQNR);
    /// labels: n labels or null. Labels outside [0, classes) are an error (Error).
    void add(const float* y, const float* base, const std::int64_t* labels, std::int64_t n, std::int64_t perSample);
    Metrics result() const;

private:
    std::int64_t classes_;
    std::int64_t n_ = 0, labelled_ = 0, compared_ = 0, nonFinite_ = 0;
    std::int64_t top1_ = 0, top5_ = 0, agree_ = 0, lost_ = 0, gained_ = 0;
    double klSum_ = 0, klSq_ = 0;
    // SQNR as a ratio of means, with per-sample signal s and noise e for the interval.
    double sSum_ = 0, eSum_ = 0, ssSum_ = 0, eeSum_ = 0, seSum_ = 0;
    std::vector<std::vector<std::int64_t>> confusion_;
};

} // namespace leger
