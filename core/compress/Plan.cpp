#include "compress/Plan.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include <fnmatch.h>

#include <nlohmann/json.hpp>

#include "model/Layer.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

namespace leger {

namespace {

using Json = nlohmann::ordered_json;

const char* const kSettingKeys = "format, bits, granularity, group_size, symmetric, clip, sparsity, pattern";

/// `"conv1*"` as a JSON string, for field paths.
std::string quoted(const std::string& key) { return Json(key).dump(); }

[[noreturn]] void fail(const std::string& where, const std::string& what) { throw Error(where + ": " + what); }

std::string typeName(const Json& j)
{
    if (j.is_number_integer())
        return "an integer";
    if (j.is_number_float())
        return "a number";
    if (j.is_string())
        return "a string";
    if (j.is_boolean())
        return "a boolean";
    if (j.is_object())
        return "an object";
    if (j.is_array())
        return "an array";
    return "null";
}

template <class E, std::size_t N>
E parseEnum(const Json& v, const std::string& where, const E (&values)[N])
{
    std::string names;
    for (E e : values)
        names += (names.empty() ? "" : ", ") + std::string(toString(e));
    if (!v.is_string())
        fail(where, "expected a string (one of " + names + "), got " + typeName(v));
    const std::string s = v.get<std::string>();
    for (E e : values)
        if (s == toString(e))
            return e;
    fail(where, v.dump() + " is not one of " + names);
}

LayerOverride parseOverride(const Json& obj, const std::string& where)
{
    if (!obj.is_object())
        fail(where, "expected an object, got " + typeName(obj));
    LayerOverride o;
    for (const auto& [key, v] : obj.items()) {
        const std::string at = where + "." + key;
        if (key == "format") {
            o.format = parseEnum(v, at, kAllWeightFormats);
        } else if (key == "granularity") {
            static constexpr Granularity all[] = {Granularity::Tensor, Granularity::Channel, Granularity::Group};
            o.granularity = parseEnum(v, at, all);
        } else if (key == "clip") {
            static constexpr Clipping all[] = {Clipping::MinMax, Clipping::Mse};
            o.clip = parseEnum(v, at, all);
        } else if (key == "pattern") {
            static constexpr SparsityPattern all[] = {SparsityPattern::Unstructured, SparsityPattern::N2M4,
                                                      SparsityPattern::N4M8, SparsityPattern::Channel};
            o.pattern = parseEnum(v, at, all);
        } else if (key == "bits") {
            if (!v.is_number_integer())
                fail(at, "expected an integer, got " + typeName(v));
            const std::int64_t b = v.get<std::int64_t>();
            if (b < 2 || b > 8)
                fail(at, v.dump() + " is outside 2..8");
            o.bits = static_cast<int>(b);
        } else if (key == "group_size") {
            if (!v.is_number_integer())
                fail(at, "expected an integer, got " + typeName(v));
            const std::int64_t g = v.get<std::int64_t>();
            if (g != 32 && g != 64 && g != 128)
                fail(at, v.dump() + " is not one of 32, 64, 128");
            o.groupSize = static_cast<int>(g);
        } else if (key == "symmetric") {
            if (!v.is_boolean())
                fail(at, "expected a boolean, got " + typeName(v));
            o.symmetric = v.get<bool>();
        } else if (key == "sparsity") {
            if (!v.is_number())
                fail(at, "expected a number, got " + typeName(v));
            const double s = v.get<double>();
            if (!(s >= 0.0 && s < 1.0))
                fail(at, v.dump() + " is outside [0, 1)");
            o.sparsity = s;
        } else {
            fail(at, "unknown key (expected one of " + std::string(kSettingKeys) + ")");
        }
    }
    return o;
}

Json overrideToJson(const LayerOverride& o)
{
    Json j = Json::object();
    if (o.format)
        j["format"] = toString(*o.format);
    if (o.bits)
        j["bits"] = *o.bits;
    if (o.granularity)
        j["granularity"] = toString(*o.granularity);
    if (o.groupSize)
        j["group_size"] = *o.groupSize;
    if (o.symmetric)
        j["symmetric"] = *o.symmetric;
    if (o.clip)
        j["clip"] = toString(*o.clip);
    if (o.sparsity)
        j["sparsity"] = *o.sparsity;
    if (o.pattern)
        j["pattern"] = toString(*o.pattern);
    return j;
}

} // namespace

LayerOverride LayerOverride::full(const LayerSetting& s)
{
    // A GGUF block format fixes its bits, groups, scales and rounding: {"format": "q4_K"} says it
    // all, and the integer fields would only be noise in a recipe.
    if (isBlockFormat(s.format))
        return {s.format, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, s.sparsity, s.pattern};
    return {s.format, s.bits, s.granularity, s.groupSize, s.symmetric, s.clip, s.sparsity, s.pattern};
}

LayerSetting LayerOverride::applyTo(LayerSetting base) const
{
    base.format = format.value_or(base.format);
    base.bits = bits.value_or(base.bits);
    base.granularity = granularity.value_or(base.granularity);
    base.groupSize = groupSize.value_or(base.groupSize);
    base.symmetric = symmetric.value_or(base.symmetric);
    base.clip = clip.value_or(base.clip);
    base.sparsity = sparsity.value_or(base.sparsity);
    base.pattern = pattern.value_or(base.pattern);
    return base;
}

void validateSetting(const LayerSetting& s, const std::string& where)
{
    if (s.bits < 2 || s.bits > 8)
        fail(where + ".bits", std::to_string(s.bits) + " is outside 2..8");
    if (s.groupSize != 32 && s.groupSize != 64 && s.groupSize != 128)
        fail(where + ".group_size", std::to_string(s.groupSize) + " is not one of 32, 64, 128");
    if (!(s.sparsity >= 0.0 && s.sparsity < 1.0))
        fail(where + ".sparsity", Json(s.sparsity).dump() + " is outside [0, 1)");
    if (isBlockFormat(s.format) && s.pruned())
        fail(where, std::string(toString(s.format)) + " is a GGUF block format, which stores every weight: it cannot be pruned");
    if (static_cast<int>(s.format) > static_cast<int>(WeightFormat::Q6_K) ||
        static_cast<int>(s.granularity) > static_cast<int>(Granularity::Group) ||
        static_cast<int>(s.clip) > static_cast<int>(Clipping::Mse) ||
        static_cast<int>(s.pattern) > static_cast<int>(SparsityPattern::Channel))
        fail(where, "an enumeration field is out of range");
}

Plan::Plan(std::string source) : source_(std::move(source)) {}

Plan Plan::fromJson(std::string_view json, const std::string& source)
{
    Json root;
    // A key given twice in one object would silently keep one of the two: refuse it.
    std::vector<std::vector<std::string>> keys; // per open object, the keys seen
    std::string duplicate;
    auto noDuplicates = [&](int, Json::parse_event_t event, Json& parsed) {
        if (event == Json::parse_event_t::object_start) {
            keys.emplace_back();
        } else if (event == Json::parse_event_t::object_end) {
            keys.pop_back();
        } else if (event == Json::parse_event_t::key && !keys.empty()) {
            const std::string k = parsed.get<std::string>();
            if (std::find(keys.back().begin(), keys.back().end(), k) != keys.back().end() && duplicate.empty())
                duplicate = k;
            keys.back().push_back(k);
        }
        return true;
    };
    try {
        root = Json::parse(json, noDuplicates);
    } catch (const Json::parse_error& e) {
        fail(source, std::string("not valid JSON: ") + e.what());
    }
    if (!duplicate.empty())
        fail(source, "key \"" + duplicate + "\" is given twice in one object");
    if (!root.is_object())
        fail(source, "expected a JSON object at the top level, got " + typeName(root));
    Plan plan(source);
    for (const auto& [key, v] : root.items()) {
        if (key == "default") {
            plan.default_ = parseOverride(v, source + ": default").applyTo(LayerSetting{});
        } else if (key == "layers") {
            if (!v.is_object())
                fail(source + ": layers", "expected an object, got " + typeName(v));
            for (const auto& [name, fields] : v.items()) {
                const std::string at = source + ": layers." + quoted(name);
                if (name.empty())
                    fail(source + ": layers", "a layer key is empty");
                plan.entries_.push_back({name, parseOverride(fields, at)});
            }
        } else {
            fail(source + ": " + key, "unknown key (expected \"default\" or \"layers\")");
        }
    }
    // Combinations no setting can take (a pruned block format) are refused here, not when resolved.
    validateSetting(plan.default_, source + ": default");
    for (const Entry& e : plan.entries_)
        validateSetting(e.fields.applyTo(plan.default_), source + ": layers." + quoted(e.key));
    return plan;
}

Plan Plan::readFile(const std::string& path) { return fromJson(leger::readFile(path), path); }

std::string Plan::toJson() const
{
    Json root = Json::object();
    root["default"] = overrideToJson(LayerOverride::full(default_));
    Json layers = Json::object();
    for (const Entry& e : entries_)
        layers[e.key] = overrideToJson(e.fields);
    root["layers"] = std::move(layers);
    return root.dump(2) + "\n";
}

void Plan::writeFile(const std::string& path) const { writeFileAtomically(path, toJson()); }

void Plan::setDefault(const LayerSetting& s)
{
    validateSetting(s, source_ + ": default");
    default_ = s;
}

void Plan::setLayer(const std::string& name, const LayerSetting& s)
{
    validateSetting(s, source_ + ": layers." + quoted(name));
    setEntry(name, LayerOverride::full(s));
}

void Plan::setEntry(const std::string& key, const LayerOverride& fields)
{
    if (key.empty())
        fail(source_ + ": layers", "a layer key is empty");
    validateSetting(fields.applyTo(default_), source_ + ": layers." + quoted(key));
    for (Entry& e : entries_) {
        if (e.key == key) {
            e.fields = fields;
            return;
        }
    }
    entries_.push_back({key, fields});
}

bool Plan::removeEntry(const std::string& key)
{
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (it->key == key) {
            entries_.erase(it);
            return true;
        }
    }
    return false;
}

bool Plan::isPattern(std::string_view key) { return key.find_first_of("*?[") != std::string_view::npos; }

bool Plan::matches(std::string_view pattern, std::string_view name)
{
    return ::fnmatch(std::string(pattern).c_str(), std::string(name).c_str(), 0) == 0;
}

LayerSetting Plan::settingFor(std::string_view name) const
{
    const Entry* chosen = nullptr;
    for (const Entry& e : entries_) {
        if (e.key == name)
            return e.fields.applyTo(default_);
        if (isPattern(e.key) && matches(e.key, name))
            chosen = &e; // the last matching pattern wins
    }
    return chosen ? chosen->fields.applyTo(default_) : default_;
}

std::vector<LayerSetting> Plan::resolve(const std::vector<Layer>& layers) const
{
    // A GUI session sets one exact entry per layer: look those up by hash, scan only patterns.
    std::unordered_map<std::string_view, std::size_t> byKey;
    std::vector<std::size_t> patterns;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        byKey.emplace(entries_[i].key, i);
        if (isPattern(entries_[i].key))
            patterns.push_back(i);
    }
    std::vector<LayerSetting> out;
    out.reserve(layers.size());
    std::vector<char> used(entries_.size(), 0);
    for (const Layer& l : layers) {
        std::size_t lastPattern = entries_.size();
        for (std::size_t i : patterns) {
            // Every matching pattern counts as used, even where an exact key wins.
            if (entries_[i].key != l.name && ::fnmatch(entries_[i].key.c_str(), l.name.c_str(), 0) == 0) {
                lastPattern = i; // the last matching pattern wins
                used[i] = 1;
            }
        }
        std::size_t chosen = lastPattern;
        if (auto it = byKey.find(l.name); it != byKey.end())
            chosen = it->second;
        if (chosen < entries_.size()) {
            used[chosen] = 1;
            out.push_back(entries_[chosen].fields.applyTo(default_));
        } else {
            out.push_back(default_);
        }
    }
    for (std::size_t i = 0; i < entries_.size(); ++i)
        if (!used[i])
            fail(source_ + ": layers." + quoted(entries_[i].key), "matches no layer of the model");
    return out;
}

Plan Plan::compact(const std::vector<Layer>& layers, const std::vector<LayerSetting>& settings)
{
    // Counted over the distinct settings (a plan has few): autosaves run this for every point.
    std::vector<std::pair<LayerSetting, std::size_t>> counts;
    for (const LayerSetting& a : settings) {
        auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == a; });
        if (it == counts.end())
            counts.emplace_back(a, 1);
        else
            ++it->second;
    }
    LayerSetting best;
    std::size_t bestCount = 0;
    for (const auto& [setting, n] : counts)
        if (n > bestCount) {
            best = setting;
            bestCount = n;
        }
    Plan plan;
    plan.setDefault(best);
    for (std::size_t i = 0; i < settings.size() && i < layers.size(); ++i)
        if (!(settings[i] == best))
            plan.setLayer(layers[i].name, settings[i]);
    return plan;
}

} // namespace leger
