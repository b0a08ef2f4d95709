#include "compress/Presets.h"

#include <algorithm>

namespace leger {

const std::vector<Preset>& uniformPresets()
{
    static const std::vector<Preset> p = {
        {"float16", parseSettingSpec("float16")},   {"int8", parseSettingSpec("int8")},
        {"int8 tensor", parseSettingSpec("int8-tensor")}, {"int4 g32", parseSettingSpec("int4-g32")},
        {"int4", parseSettingSpec("int4")},         {"int8 2:4", parseSettingSpec("int8-2:4")},
    };
    return p;
}

std::string defaultScanSettingsText()
{
    return "int8,int6,int4-g32,int4,int3-g32,int2-g32";
}

namespace {

std::vector<LayerSetting> parseList(const std::string& text)
{
    std::vector<LayerSetting> out;
    for (std::size_t p = 0; p <= text.size();) {
        const std::size_t comma = std::min(text.find(',', p), text.size());
        out.push_back(parseSettingSpec(text.substr(p, comma - p)));
        p = comma + 1;
    }
    return out;
}

} // namespace

const std::vector<LayerSetting>& defaultScanSettings()
{
    static const std::vector<LayerSetting> s = parseList(defaultScanSettingsText());
    return s;
}

const std::vector<Preset>& languageModelPresets()
{
    static const std::vector<Preset> p = [] {
        std::vector<Preset> out;
        for (const char* name : {"float16", "q8_0", "q6_K", "q5_K", "q4_K", "q4_0", "q3_K", "q2_K"})
            out.push_back({name, parseSettingSpec(name)});
        return out;
    }();
    return p;
}

const std::vector<WeightFormat>& languageModelFormats()
{
    static const std::vector<WeightFormat> f = [] {
        std::vector<WeightFormat> out;
        for (WeightFormat x : kAllWeightFormats)
            if (x != WeightFormat::Int)
                out.push_back(x);
        return out;
    }();
    return f;
}

WeightFormat languageModelFormatForBits(int bits)
{
    switch (bits) {
    case 2: return WeightFormat::Q2_K;
    case 3: return WeightFormat::Q3_K;
    case 4: return WeightFormat::Q4_K;
    case 5: return WeightFormat::Q5_K;
    case 6: return WeightFormat::Q6_K;
    default: return WeightFormat::Q8_0;
    }
}

double nominalBits(const LayerSetting& s)
{
    if (isBlockFormat(s.format))
        return 8.0 * blockBytes(s.format) / blockWeights(s.format);
    switch (s.format) {
    case WeightFormat::Float32: return 32;
    case WeightFormat::Int: return s.bits;
    default: return 16;
    }
}

std::string languageModelScanSettingsText() { return "q8_0,q6_K,q5_K,q4_K,q3_K,q2_K"; }

const std::vector<LayerSetting>& languageModelScanSettings()
{
    static const std::vector<LayerSetting> s = parseList(languageModelScanSettingsText());
    return s;
}

} // namespace leger
