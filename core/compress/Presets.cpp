#include "compress/Presets.h"

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

const std::vector<LayerSetting>& defaultScanSettings()
{
    static const std::vector<LayerSetting> s = [] {
        std::vector<LayerSetting> out;
        const std::string text = defaultScanSettingsText();
        for (std::size_t p = 0; p <= text.size();) {
            const std::size_t comma = std::min(text.find(',', p), text.size());
            out.push_back(parseSettingSpec(text.substr(p, comma - p)));
            p = comma + 1;
        }
        return out;
    }();
    return s;
}

} // namespace leger
