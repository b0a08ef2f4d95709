// A reference compressor for tests, written from the compression brief's formulas (min/max ranges,
// unstructured pruning by magnitude), independent of core/compress's quantizer; and the matching
// dequantized weights. Simple and slow on purpose.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "compress/CompressedWeight.h"
#include "compress/LayerSetting.h"
#include "model/Half.h"
#include "model/Layer.h"
#include "model/Tensor.h"

namespace leger::test {

inline float fp16round(float x) { return Half::fromFloat(x).toFloat(); }

/// Where weight (r, c) of the layer's matrix view is in the stored tensor.
inline std::int64_t tensorIndex(const Layer& l, std::int64_t r, std::int64_t c)
{
    if (!l.transposed)
        return r * l.cols + c;
    const std::int64_t n = l.shape.back();
    return ((r / n) * l.cols + c) * n + r % n;
}

/// A reference compressor following the brief's formulas (min/max ranges; pruning of the
/// `prune` fraction of smallest magnitudes, ties in index order).
inline CompressedWeight compress(const Layer& l, const Tensor& w, const LayerSetting& s)
{
    CompressedWeight cw;
    cw.setting = s;
    cw.rows = l.rows;
    cw.cols = l.cols;
    const std::int64_t n = l.rows * l.cols;
    std::vector<float> m(static_cast<std::size_t>(n)); // (rows, cols)
    for (std::int64_t r = 0; r < l.rows; ++r)
        for (std::int64_t c = 0; c < l.cols; ++c)
            m[static_cast<std::size_t>(r * l.cols + c)] = w.data<float>()[tensorIndex(l, r, c)];
    std::vector<bool> kept(static_cast<std::size_t>(n), true);
    if (s.sparsity > 0) {
        std::vector<std::int64_t> order(static_cast<std::size_t>(n));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
            return std::abs(m[static_cast<std::size_t>(a)]) < std::abs(m[static_cast<std::size_t>(b)]);
        });
        const auto k = std::llround(s.sparsity * static_cast<double>(n));
        cw.keep.assign(static_cast<std::size_t>((n + 63) / 64), 0);
        for (std::int64_t i = 0; i < n; ++i)
            cw.keep[static_cast<std::size_t>(i >> 6)] |= std::uint64_t{1} << (i & 63);
        for (std::int64_t i = 0; i < k; ++i) {
            const std::int64_t j = order[static_cast<std::size_t>(i)];
            kept[static_cast<std::size_t>(j)] = false;
            cw.keep[static_cast<std::size_t>(j >> 6)] &= ~(std::uint64_t{1} << (j & 63));
        }
    }
    const auto value = [&](std::int64_t i) { return kept[static_cast<std::size_t>(i)] ? m[static_cast<std::size_t>(i)] : 0.0f; };
    switch (s.format) {
    case WeightFormat::Float32:
        for (std::int64_t i = 0; i < n; ++i)
            cw.values.push_back(value(i));
        return cw;
    case WeightFormat::Float16:
        for (std::int64_t i = 0; i < n; ++i)
            cw.halves.push_back(Half::fromFloat(value(i)).bits);
        return cw;
    case WeightFormat::BFloat16:
        for (std::int64_t i = 0; i < n; ++i)
            cw.halves.push_back(BFloat16::fromFloat(value(i)).bits);
        return cw;
    case WeightFormat::Int: break;
    default: return cw; // block formats: ggml's quantizers are their reference (tests/gguf)
    }
    cw.groupSize = s.granularity == Granularity::Tensor ? n : s.granularity == Granularity::Channel ? l.cols : s.groupSize;
    cw.codes.assign(static_cast<std::size_t>(n), 0);
    cw.scales.assign(static_cast<std::size_t>(cw.scaleCount()), 1.0f);
    if (!s.symmetric)
        cw.zeroPoints.assign(cw.scales.size(), 0);
    // The weights of scale k.
    std::vector<std::vector<std::int64_t>> members(cw.scales.size());
    for (std::int64_t r = 0; r < l.rows; ++r)
        for (std::int64_t c = 0; c < l.cols; ++c)
            members[static_cast<std::size_t>(cw.scaleIndex(r, c))].push_back(r * l.cols + c);
    const int b = s.bits;
    for (std::size_t k = 0; k < members.size(); ++k) {
        float lo = 0, hi = 0, absmax = 0;
        for (std::int64_t i : members[k])
            if (kept[static_cast<std::size_t>(i)]) {
                const float v = m[static_cast<std::size_t>(i)];
                lo = std::min(lo, v);
                hi = std::max(hi, v);
                absmax = std::max(absmax, std::abs(v));
            }
        if (s.symmetric) {
            const int qmax = (1 << (b - 1)) - 1;
            float scale = absmax == 0 ? 1.0f : fp16round(absmax / static_cast<float>(qmax));
            if (scale == 0)
                scale = std::ldexp(1.0f, -24);
            cw.scales[k] = scale;
            const float inv = 1.0f / scale;
            for (std::int64_t i : members[k]) {
                const float q = std::clamp(std::nearbyint(value(i) * inv), static_cast<float>(-qmax), static_cast<float>(qmax));
                cw.codes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(static_cast<std::int8_t>(q));
            }
        } else {
            const int qmax = (1 << b) - 1;
            float scale = hi == lo ? 1.0f : fp16round((hi - lo) / static_cast<float>(qmax));
            if (scale == 0)
                scale = std::ldexp(1.0f, -24);
            cw.scales[k] = scale;
            const float inv = 1.0f / scale;
            const float zp = std::clamp(std::nearbyint(-lo * inv), 0.0f, static_cast<float>(qmax));
            cw.zeroPoints[k] = static_cast<std::uint8_t>(zp);
            for (std::int64_t i : members[k]) {
                const float q = kept[static_cast<std::size_t>(i)]
                                    ? std::clamp(std::nearbyint(value(i) * inv) + zp, 0.0f, static_cast<float>(qmax))
                                    : zp;
                cw.codes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(q);
            }
        }
    }
    return cw;
}

/// The dequantized weight, shaped and laid out like the layer's tensor.
inline Tensor dequantize(const Layer& l, const CompressedWeight& cw)
{
    Tensor t(DType::Float32, l.shape);
    float* out = t.data<float>();
    for (std::int64_t r = 0; r < cw.rows; ++r)
        for (std::int64_t c = 0; c < cw.cols; ++c) {
            const auto i = static_cast<std::size_t>(r * cw.cols + c);
            float v = 0;
            switch (cw.setting.format) {
            case WeightFormat::Float32: v = cw.values[i]; break;
            case WeightFormat::Float16: v = Half{cw.halves[i]}.toFloat(); break;
            case WeightFormat::BFloat16: v = BFloat16{cw.halves[i]}.toFloat(); break;
            case WeightFormat::Int: {
                const auto k = static_cast<std::size_t>(cw.scaleIndex(r, c));
                const int code = cw.setting.symmetric ? static_cast<int>(static_cast<std::int8_t>(cw.codes[i])) : cw.codes[i];
                const int zp = cw.setting.symmetric ? 0 : cw.zeroPoints[k];
                v = static_cast<float>(code - zp) * cw.scales[k];
                break;
            }
            default: v = std::nanf(""); break; // block formats: not referenced here
            }
            out[tensorIndex(l, r, c)] = v;
        }
    return t;
}

inline LayerSetting intSetting(int bits, Granularity g, bool sym, int group = 32, double sparsity = 0)
{
    LayerSetting s;
    s.format = WeightFormat::Int;
    s.bits = bits;
    s.granularity = g;
    s.symmetric = sym;
    s.groupSize = group;
    s.sparsity = sparsity;
    return s;
}

inline LayerSetting floatSetting(WeightFormat f, double sparsity = 0)
{
    LayerSetting s;
    s.format = f;
    s.sparsity = sparsity;
    return s;
}

/// The settings the export tests name, through LayerSetting's compact specs.
inline LayerSetting namedSetting(const std::string& name)
{
    static const std::map<std::string, std::string> specs = {
        {"int8 channel sym", "int8"},
        {"int8 channel asym", "int8-asym"},
        {"int8 tensor asym", "int8-tensor-asym"},
        {"int8 g32 sym", "int8-g32"},
        {"int4 g32 sym", "int4-g32"},
        {"int4 g32 asym", "int4-g32-asym"},
        {"int3 channel asym pruned", "int3-asym-s50"},
        {"int6 g64 sym pruned", "int6-g64-s30"},
        {"float16", "float16"},
        {"bfloat16 pruned", "bfloat16-s25"},
        {"float32 pruned", "float32-s60"},
    };
    return parseSettingSpec(specs.at(name));
}

} // namespace leger::test
