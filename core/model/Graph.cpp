#include "model/Graph.h"

#include <unordered_set>

namespace leger {

std::string ValueInfo::shapeString() const
{
    if (!hasShape)
        return "?";
    std::string s = "[";
    for (std::size_t i = 0; i < dims.size(); ++i) {
        if (i)
            s += ", ";
        s += dims[i] >= 0 ? std::to_string(dims[i]) : (dimParams[i].empty() ? "?" : dimParams[i]);
    }
    return s + "]";
}

const Tensor* Graph::initializer(std::string_view name) const
{
    auto it = initializers.find(name);
    return it == initializers.end() ? nullptr : &it->second;
}

} // namespace leger

namespace leger {

std::set<std::string> Graph::outerNames() const
{
    std::set<std::string> free;
    std::unordered_set<std::string> defined;
    for (const auto& in : inputs)
        defined.insert(in.name);
    for (const auto& [name, t] : initializers)
        defined.insert(name);
    for (const auto& n : nodes) {
        for (const auto& in : n.inputs)
            if (!in.empty() && !defined.count(in))
                free.insert(in);
        for (const auto& [key, attr] : n.attributes) {
            std::set<std::string> inner;
            if (attr.g)
                inner = attr.g->outerNames();
            for (const auto& sub : attr.graphs)
                inner.merge(sub->outerNames());
            for (const auto& name : inner)
                if (!defined.count(name))
                    free.insert(name);
        }
        defined.insert(n.outputs.begin(), n.outputs.end());
    }
    for (const auto& o : outputs)
        if (!defined.count(o.name))
            free.insert(o.name);
    return free;
}

} // namespace leger
