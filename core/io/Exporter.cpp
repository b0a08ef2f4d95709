#include "io/Exporter.h"

#include <filesystem>
#include <map>

#include "compress/Compressor.h"
#include "data/Preprocessing.h"
#include "io/LegerContainer.h"
#include "io/OnnxReader.h"
#include "io/OnnxWriter.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

namespace leger {

ExportFormat parseExportFormat(const std::string& name)
{
    if (name == "leger")
        return ExportFormat::Leger;
    if (name == "onnx-qdq")
        return ExportFormat::OnnxQdq;
    if (name == "onnx-float")
        return ExportFormat::OnnxFloat;
    throw Error("unknown export format '" + name + "' (expected leger, onnx-qdq or onnx-float)");
}

ExportResult exportModel(const Model& model, const std::vector<Layer>& layers, const std::vector<LayerSetting>& settings,
                         ExportFormat format, const std::string& outPath)
{
    if (settings.size() != layers.size())
        throw Error("export: " + std::to_string(settings.size()) + " settings for " + std::to_string(layers.size()) +
                    " layers");
    if (format != ExportFormat::Leger && std::filesystem::path(model.path).extension() == ".leger")
        throw Error(model.path + ": an ONNX export needs the ONNX model this container was made from (its graph "
                                 "is kept, its original weights are not); export a .leger, or open the source model");
    std::vector<CompressedWeight> weights;
    weights.reserve(layers.size());
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const Tensor* w = model.graph.initializer(layers[i].name);
        if (!w)
            throw Error(model.path + ": layer '" + layers[i].name + "' has no weight tensor");
        weights.push_back(compressWeight(layers[i], *w, settings[i]));
    }
    ExportResult r;
    switch (format) {
    case ExportFormat::Leger:
        writeLegerContainer(outPath, model, layers, weights);
        break;
    case ExportFormat::OnnxQdq:
        r.warnings = OnnxWriter::exportQdqOnnx(model.path, layers, weights, outPath);
        break;
    case ExportFormat::OnnxFloat: {
        std::map<std::string, Tensor> replaced;
        for (std::size_t i = 0; i < layers.size(); ++i)
            if (!settings[i].isNone())
                replaced[layers[i].name] = decompressWeightAs(weights[i], layers[i], model.graph.initializer(layers[i].name)->dtype());
        OnnxWriter::exportFloatOnnx(model.path, replaced, outPath);
        break;
    }
    }
    r.bytes = static_cast<std::int64_t>(std::filesystem::file_size(outPath));
    // The preprocessing goes with the model: its sidecar is copied beside the export (OUT without
    // its extension + .leger.json, which readSidecar finds for OUT), unless it is that file already.
    if (const auto sidecar = Preprocessing::sidecarPath(model.path)) {
        const std::filesystem::path out(outPath);
        const std::filesystem::path target = out.parent_path() / (out.stem().string() + ".leger.json");
        std::error_code ec;
        if (!std::filesystem::equivalent(*sidecar, target, ec)) {
            writeFileAtomically(target.string(), readFile(*sidecar));
            r.sidecar = target.string();
        }
    }
    return r;
}

Model loadModel(const std::string& path, std::map<std::string, LayerSetting>* stored)
{
    if (std::filesystem::path(path).extension() != ".leger")
        return OnnxReader::readModel(path);
    LegerContainer c = readLegerContainer(path);
    for (std::size_t i = 0; i < c.layers.size(); ++i) {
        const Tensor* original = c.model.graph.initializer(c.layers[i].name);
        c.model.graph.initializers[c.layers[i].name] =
            decompressWeightAs(c.weights[i], c.layers[i], original ? original->dtype() : DType::Float32);
        if (stored)
            (*stored)[c.layers[i].name] = c.weights[i].setting;
    }
    return std::move(c.model);
}

} // namespace leger
