#include "compress/LayerSetting.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "util/Error.h"

namespace leger {

namespace {

struct BlockFormatInfo {
    WeightFormat format;
    const char* name; // ggml's type name
    int weights, bytes;
    std::uint32_t ggml; // ggml's type number (io/GgufFile.h GgmlType)
};
constexpr BlockFormatInfo kBlockFormats[] = {
    {WeightFormat::Q8_0, "q8_0", 32, 34, 8},     {WeightFormat::Q4_0, "q4_0", 32, 18, 2},
    {WeightFormat::Q4_1, "q4_1", 32, 20, 3},     {WeightFormat::Q5_0, "q5_0", 32, 22, 6},
    {WeightFormat::Q5_1, "q5_1", 32, 24, 7},     {WeightFormat::Q2_K, "q2_K", 256, 84, 10},
    {WeightFormat::Q3_K, "q3_K", 256, 110, 11},  {WeightFormat::Q4_K, "q4_K", 256, 144, 12},
    {WeightFormat::Q5_K, "q5_K", 256, 176, 13},  {WeightFormat::Q6_K, "q6_K", 256, 210, 14},
};

const BlockFormatInfo* blockInfo(WeightFormat f)
{
    for (const BlockFormatInfo& b : kBlockFormats)
        if (b.format == f)
            return &b;
    return nullptr;
}

/// A block format by its name, in any case ("q4_k", "Q4_K").
std::optional<WeightFormat> blockFormatNamed(const std::string& name)
{
    for (const BlockFormatInfo& b : kBlockFormats)
        if (name.size() == std::strlen(b.name) &&
            std::equal(name.begin(), name.end(), b.name, [](char a, char c) {
                           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(c));
                       }))
            return b.format;
    return std::nullopt;
}

} // namespace

int blockWeights(WeightFormat f)
{
    const BlockFormatInfo* b = blockInfo(f);
    return b ? b->weights : 1;
}

int blockBytes(WeightFormat f)
{
    const BlockFormatInfo* b = blockInfo(f);
    return b ? b->bytes : 0;
}

std::uint32_t ggmlTypeNumber(WeightFormat f)
{
    switch (f) {
    case WeightFormat::Float32: return 0;
    case WeightFormat::Float16: return 1;
    case WeightFormat::BFloat16: return 30;
    default: break;
    }
    const BlockFormatInfo* b = blockInfo(f);
    if (!b)
        throw Error(std::string("format ") + toString(f) + " has no GGUF type");
    return b->ggml;
}

bool LayerSetting::operator==(const LayerSetting& o) const
{
    if (format != o.format || pattern != o.pattern)
        return false;
    const bool nm = pattern == SparsityPattern::N2M4 || pattern == SparsityPattern::N4M8;
    if (!nm && sparsity != o.sparsity)
        return false;
    if (format != WeightFormat::Int)
        return true;
    if (bits != o.bits || granularity != o.granularity || symmetric != o.symmetric || clip != o.clip)
        return false;
    return granularity != Granularity::Group || groupSize == o.groupSize;
}

std::string LayerSetting::label() const
{
    std::string s;
    if (format == WeightFormat::Int) {
        s = "int" + std::to_string(bits);
        if (granularity == Granularity::Tensor)
            s += " tensor";
        else if (granularity == Granularity::Group)
            s += " g" + std::to_string(groupSize);
        if (!symmetric)
            s += " asym";
        if (clip == Clipping::Mse)
            s += " mse";
    } else {
        s = toString(format);
    }
    if (pattern == SparsityPattern::N2M4 || pattern == SparsityPattern::N4M8) {
        s += std::string(", ") + toString(pattern);
    } else if (sparsity > 0.0) {
        char buf[48];
        std::snprintf(buf, sizeof buf, ", %g%% %s", sparsity * 100.0,
                      pattern == SparsityPattern::Channel ? "channels pruned" : "pruned");
        s += buf;
    }
    return s;
}

LayerSetting parseSettingSpec(const std::string& spec)
{
    auto fail = [&](const std::string& why) -> LayerSetting {
        throw Error("setting '" + spec + "': " + why +
                    " (expected e.g. int8, int4-g32-asym-mse, float16, int8-2:4, int8-s50, int8-c25, q4_K)");
    };
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        const std::size_t dash = spec.find('-', start);
        parts.push_back(spec.substr(start, dash == std::string::npos ? std::string::npos : dash - start));
        if (dash == std::string::npos)
            break;
        start = dash + 1;
    }
    auto number = [&](const std::string& digits, const char* what) {
        char* end = nullptr;
        const long v = digits.empty() ? -1 : std::strtol(digits.c_str(), &end, 10);
        if (digits.empty() || *end != '\0' || v < 0)
            fail(std::string("'") + digits + "' is not a number for " + what);
        return static_cast<int>(std::min<long>(v, 1000));
    };
    LayerSetting s;
    const std::string& f = parts[0];
    if (f == "float32" || f == "fp32" || f == "none")
        s.format = WeightFormat::Float32;
    else if (f == "float16" || f == "fp16")
        s.format = WeightFormat::Float16;
    else if (f == "bfloat16" || f == "bf16")
        s.format = WeightFormat::BFloat16;
    else if (const auto block = blockFormatNamed(f))
        s.format = *block;
    else if (f.rfind("int", 0) == 0) {
        s.format = WeightFormat::Int;
        s.bits = number(f.substr(3), "bits");
        if (s.bits < 2 || s.bits > 8)
            fail("bits must be 2..8");
    } else {
        fail("unknown format '" + f + "'");
    }
    const bool isInt = s.format == WeightFormat::Int;
    for (std::size_t i = 1; i < parts.size(); ++i) {
        const std::string& p = parts[i];
        if (p == "tensor" && isInt)
            s.granularity = Granularity::Tensor;
        else if (p == "asym" && isInt)
            s.symmetric = false;
        else if (p == "mse" && isInt)
            s.clip = Clipping::Mse;
        else if (p.size() > 1 && p[0] == 'g' && isInt) {
            s.granularity = Granularity::Group;
            s.groupSize = number(p.substr(1), "the group size");
            if (s.groupSize != 32 && s.groupSize != 64 && s.groupSize != 128)
                fail("group size must be 32, 64 or 128");
        } else if (p == "2:4")
            s.pattern = SparsityPattern::N2M4;
        else if (p == "4:8")
            s.pattern = SparsityPattern::N4M8;
        else if (p.size() > 1 && (p[0] == 's' || p[0] == 'c')) {
            const int pct = number(p.substr(1), "the pruned percentage");
            if (pct >= 100)
                fail("the pruned percentage must be below 100");
            s.sparsity = pct / 100.0;
            s.pattern = p[0] == 's' ? SparsityPattern::Unstructured : SparsityPattern::Channel;
        } else {
            fail("unknown modifier '" + p + "'" + (isInt ? "" : isBlockFormat(s.format) ? " for a block format" : " for a float format"));
        }
    }
    return s;
}

std::string settingSpec(const LayerSetting& s)
{
    std::string out;
    if (s.format == WeightFormat::Int) {
        out = "int" + std::to_string(s.bits);
        if (s.granularity == Granularity::Tensor)
            out += "-tensor";
        else if (s.granularity == Granularity::Group)
            out += "-g" + std::to_string(s.groupSize);
        if (!s.symmetric)
            out += "-asym";
        if (s.clip == Clipping::Mse)
            out += "-mse";
    } else {
        out = toString(s.format);
    }
    if (s.pattern == SparsityPattern::N2M4 || s.pattern == SparsityPattern::N4M8)
        out += std::string("-") + toString(s.pattern);
    else if (s.sparsity > 0.0)
        out += (s.pattern == SparsityPattern::Channel ? "-c" : "-s") + std::to_string(std::lround(s.sparsity * 100.0));
    return out;
}

const char* toString(WeightFormat f)
{
    switch (f) {
    case WeightFormat::Float32: return "float32";
    case WeightFormat::Float16: return "float16";
    case WeightFormat::BFloat16: return "bfloat16";
    case WeightFormat::Int: return "int";
    default: break;
    }
    const BlockFormatInfo* b = blockInfo(f);
    return b ? b->name : "?";
}

const char* toString(Granularity g)
{
    switch (g) {
    case Granularity::Tensor: return "tensor";
    case Granularity::Channel: return "channel";
    case Granularity::Group: return "group";
    }
    return "?";
}

const char* toString(Clipping c) { return c == Clipping::Mse ? "mse" : "minmax"; }

const char* toString(SparsityPattern p)
{
    switch (p) {
    case SparsityPattern::Unstructured: return "unstructured";
    case SparsityPattern::N2M4: return "2:4";
    case SparsityPattern::N4M8: return "4:8";
    case SparsityPattern::Channel: return "channel";
    }
    return "?";
}

} // namespace leger
