#include "model/Graph.h"

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
