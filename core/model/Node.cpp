#include "model/Node.h"

#include "util/Error.h"

namespace leger {

namespace {
const std::string kEmpty;

const Attribute& expectKind(const Node& n, std::string_view name, const Attribute& a, Attribute::Kind kind)
{
    if (a.kind != kind)
        throw Error(n.describe() + ": attribute '" + std::string(name) + "' has the wrong type");
    return a;
}
} // namespace

const Attribute* Node::find(std::string_view attr) const
{
    auto it = attributes.find(attr);
    return it == attributes.end() ? nullptr : &it->second;
}

std::int64_t Node::attrInt(std::string_view attr, std::int64_t fallback) const
{
    const Attribute* a = find(attr);
    return a ? expectKind(*this, attr, *a, Attribute::Kind::Int).i : fallback;
}

float Node::attrFloat(std::string_view attr, float fallback) const
{
    const Attribute* a = find(attr);
    return a ? expectKind(*this, attr, *a, Attribute::Kind::Float).f : fallback;
}

std::string Node::attrString(std::string_view attr, const std::string& fallback) const
{
    const Attribute* a = find(attr);
    return a ? expectKind(*this, attr, *a, Attribute::Kind::String).s : fallback;
}

std::vector<std::int64_t> Node::attrInts(std::string_view attr, const std::vector<std::int64_t>& fallback) const
{
    const Attribute* a = find(attr);
    return a ? expectKind(*this, attr, *a, Attribute::Kind::Ints).ints : fallback;
}

std::vector<float> Node::attrFloats(std::string_view attr, const std::vector<float>& fallback) const
{
    const Attribute* a = find(attr);
    return a ? expectKind(*this, attr, *a, Attribute::Kind::Floats).floats : fallback;
}

std::vector<std::string> Node::attrStrings(std::string_view attr) const
{
    const Attribute* a = find(attr);
    return a ? expectKind(*this, attr, *a, Attribute::Kind::Strings).strings : std::vector<std::string>{};
}

const Tensor* Node::attrTensor(std::string_view attr) const
{
    const Attribute* a = find(attr);
    return a ? expectKind(*this, attr, *a, Attribute::Kind::Tensor).t.get() : nullptr;
}

const Graph* Node::attrGraph(std::string_view attr) const
{
    const Attribute* a = find(attr);
    return a ? expectKind(*this, attr, *a, Attribute::Kind::Graph).g.get() : nullptr;
}

const std::string& Node::input(std::size_t i) const { return i < inputs.size() ? inputs[i] : kEmpty; }

std::string Node::describe() const
{
    if (!name.empty())
        return opType + " node '" + name + "'";
    return opType + " node" + (outputs.empty() ? std::string() : " producing '" + outputs[0] + "'");
}

} // namespace leger
