#pragma once
// How one layer's weight is compressed (DESIGN.md "LayerSetting"). The JSON recipe keys are in
// Plan.h; the quantizer and pruner that apply a setting in Quantizer.h and Pruner.h.

#include <cstdint>
#include <string>

namespace leger {

/// float32 leaves the weight as it is (it may still be pruned); int quantizes to `bits`. The
/// q* formats are GGUF's block formats (ggml's types, compress/GgmlQuants.h): each row is cut in
/// blocks of 32 weights (256 for the K-quants q2_K..q6_K) stored with their own scales, bit for
/// bit as ggml quantizes them; they apply to layers whose rows are a multiple of the block, are
/// never pruned, and are exported as GGUF (language models).
enum class WeightFormat : std::uint8_t {
    Float32, Float16, BFloat16, Int,
    Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
};
/// Whether f is one of GGUF's block formats (Q8_0..Q6_K).
constexpr bool isBlockFormat(WeightFormat f) { return f >= WeightFormat::Q8_0 && f <= WeightFormat::Q6_K; }
/// Every format, in the order menus list them.
inline constexpr WeightFormat kAllWeightFormats[] = {
    WeightFormat::Float32, WeightFormat::Float16, WeightFormat::BFloat16, WeightFormat::Int,
    WeightFormat::Q8_0,    WeightFormat::Q6_K,    WeightFormat::Q5_K,     WeightFormat::Q5_1, WeightFormat::Q5_0,
    WeightFormat::Q4_K,    WeightFormat::Q4_1,    WeightFormat::Q4_0,     WeightFormat::Q3_K, WeightFormat::Q2_K,
};
/// Weights per block of a block format (32, or 256 for the K-quants); 1 for the others.
int blockWeights(WeightFormat f);
/// Bytes per block of a block format (ggml's type sizes: q8_0 34, q4_K 144, ...); 0 for the others.
int blockBytes(WeightFormat f);
/// ggml's type number of a format that GGUF stores (float32, float16, bfloat16, block formats);
/// throws Error for int, which has no GGUF type.
std::uint32_t ggmlTypeNumber(WeightFormat f);
/// Which weights share a scale: the whole tensor, one output channel (a row of the layer's
/// matrix, see Layer), or `groupSize` consecutive weights of a row.
enum class Granularity : std::uint8_t { Tensor, Channel, Group };
/// How the quantization range is chosen: the min/max of the weights, or the clipping ratio
/// (per channel or group) that minimises the squared error.
enum class Clipping : std::uint8_t { MinMax, Mse };
/// Which weights pruning removes: the smallest magnitudes anywhere; N of every M consecutive
/// weights of a row kept (2:4, 4:8); or whole output channels (rows) by L2 norm.
enum class SparsityPattern : std::uint8_t { Unstructured, N2M4, N4M8, Channel };

struct LayerSetting {
    WeightFormat format = WeightFormat::Float32;
    int bits = 8;                  // 2..8, for format Int
    Granularity granularity = Granularity::Channel;
    int groupSize = 32;            // 32, 64 or 128, for granularity Group
    bool symmetric = true;         // codes in [-(2^(b-1)-1), 2^(b-1)-1]; else [0, 2^b-1] with a zero point
    Clipping clip = Clipping::MinMax;
    double sparsity = 0.0;         // fraction of weights (Unstructured) or rows (Channel) removed, in [0, 1)
    SparsityPattern pattern = SparsityPattern::Unstructured;

    /// The uncompressed setting (float32, not pruned).
    static LayerSetting none() { return {}; }
    bool isNone() const { return format == WeightFormat::Float32 && !pruned(); }
    /// Whether the setting removes weights (N:M patterns always do).
    bool pruned() const
    {
        return pattern == SparsityPattern::N2M4 || pattern == SparsityPattern::N4M8 || sparsity > 0.0;
    }
    /// Fields that do not apply are ignored, so two settings that compress the same way compare equal.
    bool operator==(const LayerSetting& o) const;
    /// A short human-readable description, e.g. "int4 g32 asym mse, 2:4".
    std::string label() const;
};

/// A setting from a compact spec, as the CLI and search lists take it: a format (`float32`,
/// `float16`, `bfloat16`, `int2`..`int8`, a block format `q8_0` .. `q6_K`, any case) then `-` separated modifiers: `tensor`, `gNN` (groups
/// of NN), `asym`, `mse`, `2:4`, `4:8`, `sNN` (NN % of weights pruned), `cNN` (NN % of output
/// channels pruned). E.g. "int4-g32-mse", "int8-2:4", "float16-s50". Throws Error naming the spec.
LayerSetting parseSettingSpec(const std::string& spec);
/// The compact spec of a setting (sparsity in whole percent: parseSettingSpec(settingSpec(s)) == s
/// for settings whose sparsity is a whole percentage).
std::string settingSpec(const LayerSetting& s);

const char* toString(WeightFormat f);      // "float32" "float16" "bfloat16" "int" "q8_0" .. "q6_K"
const char* toString(Granularity g);       // "tensor" "channel" "group"
const char* toString(Clipping c);          // "minmax" "mse"
const char* toString(SparsityPattern p);   // "unstructured" "2:4" "4:8" "channel"

} // namespace leger
