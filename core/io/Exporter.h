#pragma once
// Writes a compressed model in each export format from the same compressed weights
// (compress/Compressor.h), so every format holds exactly the weights Leger evaluated; and
// reads models back whatever their format.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "compress/LayerSetting.h"
#include "model/Layer.h"
#include "model/Model.h"

namespace leger {

enum class ExportFormat { Leger, OnnxQdq, OnnxFloat };

/// "leger", "onnx-qdq" or "onnx-float"; throws Error otherwise.
ExportFormat parseExportFormat(const std::string& name);

struct ExportResult {
    std::int64_t bytes = 0;            // the written file's size
    std::vector<std::string> warnings; // fallbacks the ONNX writer took
    std::string sidecar;               // the preprocessing sidecar copied beside it, if any
};

/// Compresses every layer under its setting and writes the model as `format` to outPath
/// (atomically), with the model's preprocessing sidecar beside it (OUT's stem + .leger.json). The model must have been read from an ONNX file (its path is re-read for
/// everything but the weights).
ExportResult exportModel(const Model& model, const std::vector<Layer>& layers, const std::vector<LayerSetting>& settings,
                         ExportFormat format, const std::string& outPath);

/// Reads an ONNX model, or a `.leger` container with its weights dequantized into the graph
/// (evaluating it gives bit for bit what evaluating its plan on the original gave). For a
/// container, `stored` (when given) receives the setting each weight is stored with, by layer
/// name, so that its size can be computed.
Model loadModel(const std::string& path, std::map<std::string, LayerSetting>* stored = nullptr);

} // namespace leger
