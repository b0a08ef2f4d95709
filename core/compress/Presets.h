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

/// Language models (GGUF's types): float16, q8_0, q6_K, q5_K, q4_K, q4_0, q3_K, q2_K.
const std::vector<Preset>& languageModelPresets();
/// The formats a language model's layers can take (GGUF's types), in menu order.
const std::vector<WeightFormat>& languageModelFormats();
/// The block format a language model's "bits" slider stands for: 2..6 the K-quant of that many
/// bits (q2_K .. q6_K), 7 and 8 q8_0.
WeightFormat languageModelFormatForBits(int bits);
/// Bits per weight a setting stores before sparsity: 32, 16, the int bits, or a block format's
/// (its bytes per block * 8 / weights per block: q4_K 4.5, q8_0 8.5).
double nominalBits(const LayerSetting& s);

/// q8_0, q6_K, q5_K, q4_K, q3_K, q2_K, mildest first; and as a --settings list.
const std::vector<LayerSetting>& languageModelScanSettings();
std::string languageModelScanSettingsText();

} // namespace leger
