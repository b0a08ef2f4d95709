#pragma once
// The engine's speed on one model and dataset, as `leger-cli bench` prints it: how long a full
// evaluation takes, how soon the first partial result arrives, what re-evaluating after a
// change to the last layer costs, how fast weights quantize, and how long an exact size takes.

#include <string>

namespace leger {

class Dataset;
class Model;
struct Preprocessing;

/// JSON: full_eval_ms, first_partial_ms, incremental_last_layer_ms, incremental_speedup,
/// incremental_identical, quantize_gbps (the quantizer's fast path, int8 per channel, over the
/// model's weights), quantize_gbps_16m (the same on a 4096 x 4096 matrix), size_us, samples,
/// chunk, layers.
std::string engineBenchmarkJson(const Model& model, const Dataset& data, const Preprocessing& pre);

} // namespace leger
