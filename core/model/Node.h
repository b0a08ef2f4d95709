#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/Attribute.h"

namespace leger {

/// A graph node: op type, named inputs and outputs ("" marks an omitted optional input), attributes.
class Node {
public:
    std::string name;
    std::string opType;
    std::string domain; // "" is the default ONNX domain
    std::vector<std::string> inputs;
    std::vector<std::string> outputs;
    std::map<std::string, Attribute, std::less<>> attributes;

    bool has(std::string_view attr) const { return attributes.find(attr) != attributes.end(); }
    const Attribute* find(std::string_view attr) const;

    // Typed attribute access; a present attribute of the wrong kind throws leger::Error.
    std::int64_t attrInt(std::string_view attr, std::int64_t fallback) const;
    float attrFloat(std::string_view attr, float fallback) const;
    std::string attrString(std::string_view attr, const std::string& fallback = {}) const;
    std::vector<std::int64_t> attrInts(std::string_view attr, const std::vector<std::int64_t>& fallback = {}) const;
    std::vector<float> attrFloats(std::string_view attr, const std::vector<float>& fallback = {}) const;
    std::vector<std::string> attrStrings(std::string_view attr) const;
    const Tensor* attrTensor(std::string_view attr) const;
    const Graph* attrGraph(std::string_view attr) const;

    /// Input i, or "" if absent; optional inputs may be omitted or named "".
    const std::string& input(std::size_t i) const;
    bool hasInput(std::size_t i) const { return i < inputs.size() && !inputs[i].empty(); }
    /// "Conv 'conv1'" for messages.
    std::string describe() const;
};

} // namespace leger
