#pragma once
// The settings Leger offers by name everywhere (the workbench, the CLI, reports): the uniform
// presets drawn on the trade-off chart, and the settings a sensitivity scan tries by default.

#include <string>
#include <vector>

#include "compress/LayerSetting.h"

namespace leger {

struct Preset {
    std::string name; // "int4 g32"
    LayerSetting setting;
};

/// float16, int8, int8 tensor, int4 g32, int4, int8 2:4: every layer alike.
const std::vector<Preset>& uniformPresets();
/// int8, int6, int4-g32, int4, int3-g32, int2-g32: mildest first, as the frontier sweep needs.
const std::vector<LayerSetting>& defaultScanSettings();
/// The same as a --settings list ("int8,int6,...").
std::string defaultScanSettingsText();

} // namespace leger
