#include "data/Preprocessing.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "data/Dataset.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

namespace leger {

namespace {

std::vector<double> numberList(const nlohmann::json& v, const std::string& where)
{
    std::vector<double> out;
    if (v.is_number()) {
        out.push_back(v.get<double>());
    } else if (v.is_array() && !v.empty()) {
        for (const auto& x : v) {
            if (!x.is_number())
                throw Error(where + ": expected numbers");
            out.push_back(x.get<double>());
        }
    } else {
        throw Error(where + ": expected a number or a list of numbers");
    }
    return out;
}

/// Element i of a numeric tensor as float.
float elementAt(const Tensor& t, std::int64_t i)
{
    switch (t.dtype()) {
    case DType::UInt8: return static_cast<float>(t.data<std::uint8_t>()[i]);
    case DType::Float32: return t.data<float>()[i];
    default: return static_cast<float>(t.at(i));
    }
}

} // namespace

std::optional<std::string> Preprocessing::sidecarPath(const std::string& modelPath)
{
    namespace fs = std::filesystem;
    const fs::path model(modelPath);
    for (const fs::path& p : {fs::path(modelPath + ".leger.json"),
                              model.parent_path() / (model.stem().string() + ".leger.json")}) {
        std::error_code ec;
        if (fs::is_regular_file(p, ec))
            return p.string();
    }
    return std::nullopt;
}

std::optional<Preprocessing> Preprocessing::readSidecar(const std::string& modelPath)
{
    if (auto p = sidecarPath(modelPath))
        return fromJson(readFile(*p), *p);
    return std::nullopt;
}

Preprocessing Preprocessing::fromJson(const std::string& json, const std::string& source)
{
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(json);
    } catch (const nlohmann::json::exception& e) {
        throw Error(source + ": not valid JSON (" + e.what() + ")");
    }
    if (!j.is_object())
        throw Error(source + ": expected a JSON object");
    Preprocessing p;
    for (const auto& [key, v] : j.items()) {
        const std::string where = source + ": " + key;
        if (key == "input") {
            if (!v.is_string())
                throw Error(where + ": expected a string");
            p.input = v.get<std::string>();
        } else if (key == "layout") {
            if (!v.is_string() || (v != "NCHW" && v != "NHWC"))
                throw Error(where + ": expected \"NCHW\" or \"NHWC\"");
            p.layout = v.get<std::string>();
        } else if (key == "scale") {
            if (!v.is_number() || !(v.get<double>() > 0.0) || !std::isfinite(v.get<double>()))
                throw Error(where + ": expected a positive number");
            p.scale = v.get<double>();
        } else if (key == "mean") {
            p.mean = numberList(v, where);
        } else if (key == "std") {
            p.std = numberList(v, where);
            for (double s : p.std)
                if (!(s > 0.0) || !std::isfinite(s))
                    throw Error(where + ": every value must be positive");
        } else if (key == "resize") {
            if (!v.is_array() || v.size() != 2 || !v[0].is_number_integer() || !v[1].is_number_integer() ||
                v[0].get<std::int64_t>() < 1 || v[1].get<std::int64_t>() < 1)
                throw Error(where + ": expected [height, width]");
            p.resize = std::pair{v[0].get<std::int64_t>(), v[1].get<std::int64_t>()};
        } else if (key == "labels") {
            if (!v.is_array())
                throw Error(where + ": expected a list of class names");
            for (const auto& x : v) {
                if (!x.is_string())
                    throw Error(where + ": expected a list of class names");
                p.labels.push_back(x.get<std::string>());
            }
        } else {
            throw Error(where + ": unknown key (expected input, layout, scale, mean, std, resize, labels)");
        }
    }
    return p;
}

Tensor Preprocessing::apply(const Dataset& data, std::int64_t start, std::int64_t count, const Shape& sampleShape) const
{
    const Tensor& src = data.samples;
    if (start < 0 || count < 0 || start + count > data.count())
        throw Error(data.source + ": samples " + std::to_string(start) + ".." + std::to_string(start + count) +
                    " are out of range");
    std::int64_t sampleSize = 1;
    for (auto d : sampleShape) {
        if (d < 1)
            throw Error("the model input's shape has a free dimension besides the batch: cannot feed it images");
        sampleSize *= d;
    }
    Shape outShape{count};
    outShape.insert(outShape.end(), sampleShape.begin(), sampleShape.end());
    Tensor out(DType::Float32, outShape);
    float* y = out.data<float>();

    const Shape stored(src.shape().begin() + 1, src.shape().end());
    const std::int64_t storedSize = count == 0 ? 0 : src.size() / std::max<std::int64_t>(1, data.count());
    const bool nhwc = channelsLast(sampleShape);
    const bool image3 = sampleShape.size() == 3;
    const std::int64_t C = image3 ? sampleShape[nhwc ? 2 : 0] : 1;
    const std::int64_t H = image3 ? sampleShape[nhwc ? 0 : 1] : 0, W = image3 ? sampleShape[nhwc ? 1 : 2] : 0;
    auto channelValue = [&](const std::vector<double>& v, std::int64_t c, const char* what) {
        if (v.size() == 1)
            return static_cast<float>(v[0]);
        if (static_cast<std::int64_t>(v.size()) != C)
            throw Error(std::string("preprocessing: ") + what + " has " + std::to_string(v.size()) +
                        " values but the model input has " + std::to_string(C) + " channels");
        return static_cast<float>(v[static_cast<std::size_t>(c)]);
    };
    const float fscale = static_cast<float>(scale);

    // Stored exactly as the model wants it (e.g. an .npz of preprocessed tensors, or MLP inputs).
    const bool sameShape = stored == sampleShape;
    if (sameShape || (!image3 && storedSize == sampleSize)) {
        if (!image3 && (mean.size() > 1 || std.size() > 1))
            throw Error("preprocessing: per-channel mean/std need a 3-D image input");
        const std::int64_t inner = nhwc ? 1 : H * W;
        for (std::int64_t n = 0; n < count; ++n)
            for (std::int64_t i = 0; i < sampleSize; ++i) {
                const std::int64_t c = image3 ? (nhwc ? i % C : i / inner) : 0;
                const float v = elementAt(src, (start + n) * sampleSize + i) * fscale;
                y[n * sampleSize + i] = (v - channelValue(mean, c, "mean")) / channelValue(std, c, "std");
            }
        return out;
    }
    // Images stored (H0, W0) or (H0, W0, C0).
    if (!image3 || (stored.size() != 2 && stored.size() != 3))
        throw Error(data.source + ": samples of shape " + shapeToString(stored) + " do not fit the model input " +
                    shapeToString(sampleShape));
    const std::int64_t h0 = stored[0], w0 = stored[1], c0 = stored.size() == 3 ? stored[2] : 1;
    if (!(c0 == C || c0 == 1 || (c0 == 4 && C == 3)))
        throw Error(data.source + ": images have " + std::to_string(c0) + " channels, the model takes " +
                    std::to_string(C));
    if ((h0 != H || w0 != W) && !(resize && resize->first == H && resize->second == W))
        throw Error(data.source + ": images are " + std::to_string(h0) + "x" + std::to_string(w0) +
                    ", the model takes " + std::to_string(H) + "x" + std::to_string(W) +
                    " (set \"resize\": [" + std::to_string(H) + ", " + std::to_string(W) + "] to resize them)");
    const float sy = static_cast<float>(h0) / static_cast<float>(H), sx = static_cast<float>(w0) / static_cast<float>(W);
    for (std::int64_t n = 0; n < count; ++n) {
        const std::int64_t base = (start + n) * h0 * w0 * c0;
        auto px = [&](std::int64_t yy, std::int64_t xx, std::int64_t c) {
            return elementAt(src, base + (yy * w0 + xx) * c0 + (c0 == 1 ? 0 : c));
        };
        for (std::int64_t c = 0; c < C; ++c) {
            const float m = channelValue(mean, c, "mean"), s = channelValue(std, c, "std");
            for (std::int64_t yy = 0; yy < H; ++yy)
                for (std::int64_t xx = 0; xx < W; ++xx) {
                    float v;
                    if (h0 == H && w0 == W) {
                        v = px(yy, xx, c);
                    } else { // bilinear, half-pixel centres
                        const float fy = std::clamp((static_cast<float>(yy) + 0.5f) * sy - 0.5f, 0.0f, static_cast<float>(h0 - 1));
                        const float fx = std::clamp((static_cast<float>(xx) + 0.5f) * sx - 0.5f, 0.0f, static_cast<float>(w0 - 1));
                        const auto y0 = static_cast<std::int64_t>(fy), x0 = static_cast<std::int64_t>(fx);
                        const std::int64_t y1 = std::min(y0 + 1, h0 - 1), x1 = std::min(x0 + 1, w0 - 1);
                        const float ay = fy - static_cast<float>(y0), ax = fx - static_cast<float>(x0);
                        v = (1 - ay) * ((1 - ax) * px(y0, x0, c) + ax * px(y0, x1, c)) +
                            ay * ((1 - ax) * px(y1, x0, c) + ax * px(y1, x1, c));
                    }
                    const std::int64_t o = nhwc ? (yy * W + xx) * C + c : (c * H + yy) * W + xx;
                    y[n * sampleSize + o] = (v * fscale - m) / s;
                }
        }
    }
    return out;
}

bool Preprocessing::channelsLast(const Shape& s) const
{
    if (!layout.empty())
        return layout == "NHWC";
    auto channels = [](std::int64_t d) { return d == 1 || d == 3 || d == 4; };
    return s.size() == 3 && channels(s[2]) && !channels(s[0]);
}

Shape Preprocessing::resolveSampleShape(const Shape& declared, const Dataset& data) const
{
    Shape s = declared;
    if (std::none_of(s.begin(), s.end(), [](std::int64_t d) { return d < 1; }))
        return s;
    const Shape stored(data.samples.shape().begin() + (data.samples.rank() > 0 ? 1 : 0), data.samples.shape().end());
    // Data already shaped as the model wants (e.g. an .npz of preprocessed tensors).
    bool fits = stored.size() == s.size();
    for (std::size_t i = 0; fits && i < s.size(); ++i)
        fits = s[i] < 1 || s[i] == stored[i];
    if (fits)
        return stored;
    if (s.size() != 3 || (stored.size() != 2 && stored.size() != 3))
        throw Error("the model input's shape " + shapeToString(declared) +
                    " has free dimensions that the data cannot fill (" + data.source + " holds samples of shape " +
                    shapeToString(stored) + ")");
    // Which axis is the channel one: a fixed 1/3/4 decides it; else the layout (NCHW by default).
    bool last = layout == "NHWC";
    if (layout.empty())
        last = s[2] >= 1 && s[2] <= 4 && !(s[0] >= 1 && s[0] <= 4);
    std::int64_t& c = s[last ? 2 : 0];
    std::int64_t& h = s[last ? 0 : 1];
    std::int64_t& w = s[last ? 1 : 2];
    if (c < 1)
        c = stored.size() == 3 ? std::min<std::int64_t>(stored[2], 3) : 1;
    if (h < 1)
        h = resize ? resize->first : stored[0];
    if (w < 1)
        w = resize ? resize->second : stored[1];
    return s;
}

} // namespace leger
