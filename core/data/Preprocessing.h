#pragma once
// How stored samples become the model's input: the sidecar `MODEL.leger.json` next to a model,
// or the CLI's options. Keys: "input" (the graph input fed; default the first), "layout"
// ("NCHW" | "NHWC": the model's image layout; default: NHWC when the input's last dimension is
// 1, 3 or 4 and its first is not, else NCHW), "scale" (multiplies the stored values first),
// "mean" and "std" (per channel, or one value for all), "resize" ([H, W]: bilinear, half-pixel
// centres, when the stored images differ), "labels" (class names).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/Tensor.h"

namespace leger {

class Dataset;
class Model;

struct Preprocessing {
    std::string input;              // graph input name; empty: the model's first input
    std::string layout;             // the model's layout for 3-D images: NCHW, NHWC, or empty (guess)
    double scale = 1.0;
    std::vector<double> mean{0.0};  // one value, or one per channel
    std::vector<double> std{1.0};
    std::optional<std::pair<std::int64_t, std::int64_t>> resize; // (H, W)
    std::vector<std::string> labels;

    /// The sidecar next to the model (MODEL.leger.json, else MODEL without its extension +
    /// .leger.json), or nullopt when there is none. Throws Error naming the file and field.
    static std::optional<Preprocessing> readSidecar(const std::string& modelPath);
    /// The sidecar's path readSidecar would read, or nullopt.
    static std::optional<std::string> sidecarPath(const std::string& modelPath);
    static Preprocessing fromJson(const std::string& json, const std::string& source);

    /// Samples [start, start + count) of the data as a float tensor of the model input's
    /// per-sample shape `sampleShape` (without the batch axis), batched: (count, sampleShape...).
    /// Stored images (H, W), (H, W, C) are laid out as `layout` asks; other data must already
    /// have the sample shape's element count. Throws Error naming the data file on a mismatch.
    Tensor apply(const Dataset& data, std::int64_t start, std::int64_t count, const Shape& sampleShape) const;

    /// Whether a 3-D per-sample shape is channels-last (the layout, or the guess).
    bool channelsLast(const Shape& sampleShape) const;
    /// The model input's per-sample shape with free dimensions (-1) filled in from the data:
    /// channels from the stored images, height and width from `resize` or the images.
    /// Throws Error when a free dimension cannot be decided.
    Shape resolveSampleShape(const Shape& declared, const Dataset& data) const;
};

} // namespace leger
