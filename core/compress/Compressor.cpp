#include "compress/Compressor.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "compress/Pruner.h"
#include "compress/Quantizer.h"
#include "util/Error.h"

namespace leger {

namespace {

using I64 = std::int64_t;

/// Element i of a floating tensor as float.
std::vector<float> toFloats(const Tensor& t)
{
    std::vector<float> v(static_cast<std::size_t>(t.size()));
    const I64 n = t.size();
    switch (t.dtype()) {
    case DType::Float32: std::copy(t.data<float>(), t.data<float>() + n, v.begin()); break;
    case DType::Float64:
        for (I64 i = 0; i < n; ++i)
            v[static_cast<std::size_t>(i)] = static_cast<float>(t.data<double>()[i]);
        break;
    case DType::Float16:
        for (I64 i = 0; i < n; ++i)
            v[static_cast<std::size_t>(i)] = t.data<Half>()[i].toFloat();
        break;
    case DType::BFloat16:
        for (I64 i = 0; i < n; ++i)
            v[static_cast<std::size_t>(i)] = t.data<BFloat16>()[i].toFloat();
        break;
    default:
        throw Error("weight has type " + std::string(dtypeName(t.dtype())) + ", expected a floating type");
    }
    return v;
}

/// For a transposed layer, the stored tensor (..., cols, n) as (batch, cols, n) with
/// rows = batch * n: matrix (b * n + j, c) <-> stored (b, c, j).
struct TransposedView {
    I64 batch = 1, n = 1;
};

TransposedView transposedView(const Layer& layer)
{
    TransposedView v;
    v.n = layer.shape.empty() ? 1 : layer.shape.back();
    v.batch = v.n == 0 ? 0 : layer.rows / v.n;
    return v;
}

constexpr I64 kBlock = 32; // transpose tile: 32 x 32 floats stay in L1

/// dst (batch, cols, n) -> (batch, n, cols) when gathering, or back when scattering.
void transposeBlocks(const float* src, float* dst, I64 batch, I64 a, I64 b)
{
    // src (batch, a, b) -> dst (batch, b, a)
    for (I64 p = 0; p < batch; ++p) {
        const float* s = src + p * a * b;
        float* d = dst + p * a * b;
        for (I64 i0 = 0; i0 < a; i0 += kBlock)
            for (I64 j0 = 0; j0 < b; j0 += kBlock)
                for (I64 i = i0; i < std::min(a, i0 + kBlock); ++i)
                    for (I64 j = j0; j < std::min(b, j0 + kBlock); ++j)
                        d[j * a + i] = s[i * b + j];
    }
}

void checkShape(const Layer& layer, const Tensor& weight)
{
    if (weight.shape() != layer.shape)
        throw Error("weight " + layer.name + " has shape " + shapeToString(weight.shape()) + ", expected " +
                    shapeToString(layer.shape));
    if (layer.rows * layer.cols != weight.size())
        throw Error("layer " + layer.name + ": rows * cols != the weight's element count");
}

} // namespace

std::vector<float> layerMatrix(const Layer& layer, const Tensor& weight)
{
    checkShape(layer, weight);
    std::vector<float> w = toFloats(weight);
    if (!layer.transposed)
        return w;
    const TransposedView v = transposedView(layer);
    std::vector<float> m(w.size());
    // stored (batch, cols, n) -> matrix (batch, n, cols) = (rows, cols)
    transposeBlocks(w.data(), m.data(), v.batch, layer.cols, v.n);
    return m;
}

namespace {

/// The (rows, cols) matrix of the layer: the tensor's own floats when they already are that
/// (float32, not transposed), else a converted / transposed copy held in storage.
const float* matrixOf(const Layer& layer, const Tensor& weight, std::vector<float>& storage)
{
    checkShape(layer, weight);
    if (!layer.transposed && weight.dtype() == DType::Float32)
        return weight.data<float>();
    storage = layerMatrix(layer, weight);
    return storage.data();
}

} // namespace

CompressedWeight compressWeight(const Layer& layer, const Tensor& weight, const LayerSetting& s)
{
    std::vector<float> storage;
    const float* m = matrixOf(layer, weight, storage); // (rows, cols)
    const std::vector<std::uint64_t> keep = Pruner::keepMask(m, layer.rows, layer.cols, s);
    return Quantizer::quantize(m, layer.rows, layer.cols, keep, s);
}

CompressedWeight compressWeight(const Layer& layer, const Tensor& weight, const LayerSetting& s, Tensor& dequantized)
{
    std::vector<float> storage;
    const float* m = matrixOf(layer, weight, storage); // (rows, cols)
    CompressedWeight c;
    c.keep = Pruner::keepMask(m, layer.rows, layer.cols, s);
    if (layer.transposed) {
        Quantizer::quantizeInto(m, layer.rows, layer.cols, c.keep, s, c);
        decompressWeight(c, layer, dequantized);
    } else {
        dequantized.resize(DType::Float32, layer.shape);
        Quantizer::quantizeInto(m, layer.rows, layer.cols, c.keep, s, c, dequantized.data<float>());
    }
    return c;
}

Tensor evaluatedWeight(const Layer& layer, const Tensor& weight, const LayerSetting& s, CompressedWeight* compressed)
{
    Tensor dequantized; // float32
    CompressedWeight c = compressWeight(layer, weight, s, dequantized);
    Tensor out = weight.dtype() == DType::Float32 ? std::move(dequantized) : decompressWeightAs(c, layer, weight.dtype());
    if (compressed)
        *compressed = std::move(c);
    return out;
}

void decompressWeight(const CompressedWeight& c, const Layer& layer, Tensor& out)
{
    if (c.rows != layer.rows || c.cols != layer.cols)
        throw Error("compressed weight of " + layer.name + " is (" + std::to_string(c.rows) + ", " +
                    std::to_string(c.cols) + "), expected (" + std::to_string(layer.rows) + ", " +
                    std::to_string(layer.cols) + ")");
    out.resize(DType::Float32, layer.shape);
    if (!layer.transposed) {
        Quantizer::dequantize(c, out.data<float>());
        return;
    }
    const std::vector<float> m = Quantizer::dequantize(c); // (rows, cols) = (batch, n, cols)
    const TransposedView v = transposedView(layer);
    transposeBlocks(m.data(), out.data<float>(), v.batch, v.n, layer.cols);
}

double weightSqnrDb(const Tensor& original, const Tensor& dequantized)
{
    if (original.size() != dequantized.size())
        throw Error("weightSqnrDb: " + std::to_string(original.size()) + " vs " + std::to_string(dequantized.size()) +
                    " elements");
    const std::vector<float> a = toFloats(original), b = toFloats(dequantized);
    double signal = 0.0, noise = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (!std::isfinite(a[i]))
            continue;
        const double x = a[i], d = x - static_cast<double>(b[i]);
        signal += x * x;
        noise += d * d;
    }
    if (noise == 0.0)
        return std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(signal / noise);
}

Tensor decompressWeightAs(const CompressedWeight& c, const Layer& layer, DType dtype)
{
    Tensor f;
    decompressWeight(c, layer, f);
    if (dtype == DType::Float32)
        return f;
    Tensor out(dtype, f.shape());
    const float* v = f.data<float>();
    for (std::int64_t i = 0; i < f.size(); ++i) {
        switch (dtype) {
        case DType::Float64: out.data<double>()[i] = v[i]; break;
        case DType::Float16: out.data<Half>()[i] = Half::fromFloat(v[i]); break;
        case DType::BFloat16: out.data<BFloat16>()[i] = BFloat16::fromFloat(v[i]); break;
        default: throw Error("layer '" + layer.name + "': weights of type " + std::string(dtypeName(dtype)) +
                             " cannot be compressed");
        }
    }
    return out;
}

} // namespace leger
