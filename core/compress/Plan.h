#pragma once
// A Plan: the LayerSetting of every layer, as a default plus per-layer overrides (DESIGN.md
// "Plan"). Serialized as a JSON recipe, so that a GUI session, the CLI and a report all mean
// the same thing by it:
//
//   {"default": {"format": "int", "bits": 8, "granularity": "channel", "symmetric": true,
//                "clip": "minmax", "sparsity": 0.0, "pattern": "unstructured"},
//    "layers":  {"conv1*": {"bits": 4, "granularity": "group", "group_size": 32}}}
//
// Keys of a setting: format (float32 float16 bfloat16 int, or a GGUF block format q8_0 q4_0 q4_1
// q5_0 q5_1 q2_K q3_K q4_K q5_K q6_K), bits (2..8), granularity (tensor
// channel group), group_size (32 64 128), symmetric (bool), clip (minmax mse), sparsity (a
// number in [0, 1)), pattern (unstructured 2:4 4:8 channel). Every key is optional; an
// override's keys replace the default's. A missing "default" means float32 (uncompressed).
// A layer key is an exact layer (weight tensor) name or a glob pattern (`*`, `?`, `[...]`).
// Precedence: a key equal to the layer's name wins; otherwise the LAST matching pattern in
// the order of the file (or of setLayer calls).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compress/LayerSetting.h"

namespace leger {

struct Layer;

/// A partial LayerSetting: the fields a recipe entry gives; the others come from the default.
struct LayerOverride {
    std::optional<WeightFormat> format;
    std::optional<int> bits;
    std::optional<Granularity> granularity;
    std::optional<int> groupSize;
    std::optional<bool> symmetric;
    std::optional<Clipping> clip;
    std::optional<double> sparsity;
    std::optional<SparsityPattern> pattern;

    /// An override that sets every field of s that matters (a block format: the format and its
    /// sparsity, which is none).
    static LayerOverride full(const LayerSetting& s);
    /// base with the given fields replaced.
    LayerSetting applyTo(LayerSetting base) const;
    bool operator==(const LayerOverride&) const = default;
};

class Plan {
public:
    /// One entry of "layers": its key (a name or glob pattern) and the fields it sets.
    struct Entry {
        std::string key;
        LayerOverride fields;
        bool operator==(const Entry&) const = default;
    };

    /// An empty plan: every layer float32 (uncompressed). `source` names the plan in messages.
    explicit Plan(std::string source = "plan");

    /// The shortest exact recipe of one setting per layer: the most common setting as the
    /// default, an exact-name entry for every other layer.
    static Plan compact(const std::vector<Layer>& layers, const std::vector<LayerSetting>& settings);
    /// Parses a recipe; errors (leger::Error) read "<source>: <field path>: <what was expected>".
    static Plan fromJson(std::string_view json, const std::string& source = "plan");
    /// Reads a recipe file; messages name the file.
    static Plan readFile(const std::string& path);
    /// The recipe as JSON (default in full, then the entries in order with the fields they set);
    /// fromJson(toJson()) == *this.
    std::string toJson() const;
    /// Writes toJson() to path atomically (util/AtomicFile.h).
    void writeFile(const std::string& path) const;

    const LayerSetting& defaultSetting() const { return default_; }
    void setDefault(const LayerSetting& s);
    const std::vector<Entry>& entries() const { return entries_; }
    /// Sets the exact-name override of one layer to s in full (replacing an existing entry with
    /// that key in place, else appending one); the GUI's sliders call this.
    void setLayer(const std::string& name, const LayerSetting& s);
    /// Sets an entry (name or pattern) with only some fields; replaces an entry with that key in place.
    void setEntry(const std::string& key, const LayerOverride& fields);
    /// Removes the entry with this key; returns whether there was one.
    bool removeEntry(const std::string& key);

    /// The setting of the layer with this name (default, the last matching pattern, or the exact entry).
    LayerSetting settingFor(std::string_view name) const;
    /// One setting per layer, in the order of layers. Throws leger::Error if an entry's key
    /// matches no layer ("<source>: layers."conv9*": matches no layer of the model").
    std::vector<LayerSetting> resolve(const std::vector<Layer>& layers) const;

    const std::string& source() const { return source_; }
    bool operator==(const Plan& o) const { return default_ == o.default_ && entries_ == o.entries_; }

    /// Whether key is a glob pattern (contains `*`, `?` or `[`).
    static bool isPattern(std::string_view key);
    /// Whether name matches the glob pattern (fnmatch(3) rules, `*` also matches `/` and `.`).
    static bool matches(std::string_view pattern, std::string_view name);

private:
    std::string source_;
    LayerSetting default_;
    std::vector<Entry> entries_;
};

/// Throws leger::Error "<where>: <field>: ..." if s has a field outside its range (bits 2..8,
/// group size 32/64/128, sparsity in [0, 1)).
void validateSetting(const LayerSetting& s, const std::string& where);

} // namespace leger
