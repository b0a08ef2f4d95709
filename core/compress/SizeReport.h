#pragma once
// The exact size of a plan's compact export (DESIGN.md "Size"), from the model's shapes and
// the layers' settings alone: nothing is quantized. The total equals the size of the `.leger`
// file that writeLegerContainer (io/LegerContainer.h) writes for the same plan, byte for byte.

#include <cstdint>
#include <string>
#include <vector>

#include "compress/LayerSetting.h"

namespace leger {

class Model;
struct Layer;


/// Bytes of one layer record of the container.
struct LayerBytes {
    std::int64_t weights = 0;    // rows * cols
    std::int64_t stored = 0;     // kept weights
    std::int64_t codes = 0;      // the kept weights' codes or values
    std::int64_t sparsity = 0;   // keep mask, N:M indices or row mask
    std::int64_t scales = 0;     // float16 scales
    std::int64_t zeroPoints = 0; // u8 zero points
    std::int64_t header = 0;     // the record's header (name, setting, shape)

    /// The bytes that encode the weights (everything but the header).
    std::int64_t payload() const { return codes + sparsity + scales + zeroPoints; }
    std::int64_t total() const { return payload() + header; }
};

/// The payload bytes of a layer's record (header left 0), from the setting and the shape alone
/// (kept weights as Pruner::keptCount says).
LayerBytes layerPayloadBytes(const LayerSetting& s, std::int64_t rows, std::int64_t cols);

struct SizeReport {
    std::vector<LayerBytes> layers;     // one per layer, in the order of the layers
    std::int64_t untouchedTensors = 0;  // every other initializer at its stored width
    std::int64_t tensorHeaders = 0;     // their records' headers
    std::int64_t containerHeader = 0;   // the container's fixed header
    std::int64_t graphBytes = 0;        // the rest of the graph (ONNX without initializers)
    std::int64_t total = 0;             // the file size

    std::int64_t layerWeights = 0;      // number of weights of all layers
    double bitsPerWeight = 0;           // 8 * sum of the layers' payload bytes / layerWeights
    std::int64_t originalBytes = 0;     // the source model file(s)
    std::int64_t float32Bytes = 0;      // the same container with every layer float32 and unpruned
    double ratioToOriginal = 0;         // originalBytes / total
    double ratioToFloat32 = 0;          // float32Bytes / total
};

/// A model's size constants, computed once; then report() and total() answer in microseconds
/// for any list of settings.
class SizeModel {
public:
    /// Builds the graph section once (reads model.path again; see LegerContainer::graphSection).
    SizeModel(const Model& model, const std::vector<Layer>& layers);
    /// With the graph section's size given (for models not read from a file, and benchmarks).
    SizeModel(const Model& model, const std::vector<Layer>& layers, std::int64_t graphBytes);

    /// The breakdown for one setting per layer (in the order of the layers given at construction).
    SizeReport report(const std::vector<LayerSetting>& settings) const;
    /// Just the total, without allocating.
    std::int64_t total(const std::vector<LayerSetting>& settings) const;
    /// Bytes that do not depend on the settings: header, graph, other tensors, layer record headers.
    std::int64_t fixedBytes() const { return fixed_; }
    std::size_t layerCount() const { return rows_.size(); }

private:
    void init(const Model& model, const std::vector<Layer>& layers, std::int64_t graphBytes);

    std::vector<std::int64_t> rows_, cols_, headers_; // per layer
    std::int64_t layerWeights_ = 0;
    std::int64_t untouched_ = 0, tensorHeaders_ = 0, graphBytes_ = 0, fixed_ = 0;
    std::int64_t originalBytes_ = 0;
};

} // namespace leger
