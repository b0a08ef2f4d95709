#include "compress/LayerSetting.h"

#include <cstdio>

namespace leger {

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

const char* toString(WeightFormat f)
{
    switch (f) {
    case WeightFormat::Float32: return "float32";
    case WeightFormat::Float16: return "float16";
    case WeightFormat::BFloat16: return "bfloat16";
    case WeightFormat::Int: return "int";
    }
    return "?";
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
