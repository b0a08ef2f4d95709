#include "runtime/ShapeInference.h"

#include "model/Model.h"
#include "runtime/Executor.h"
#include "runtime/FlopCount.h"

namespace leger {

std::vector<NodeShapes> inferShapes(const Model& model, const std::map<std::string, Shape>& inputShapes)
{
    Executor exec(model);
    std::vector<Tensor> inputs;
    for (const auto& info : model.graph.inputs) {
        Shape shape;
        if (auto it = inputShapes.find(info.name); it != inputShapes.end()) {
            shape = it->second;
        } else {
            if (!info.hasShape)
                throw Error("input '" + info.name + "' has no declared shape; give one");
            for (std::int64_t d : info.dims)
                shape.push_back(d < 0 ? 1 : d);
        }
        if (info.dtype == DType::Undefined || info.dtype == DType::String)
            throw UnsupportedError("input '" + info.name + "' has no numeric type");
        Tensor t(info.dtype, shape);
        t.zero();
        inputs.push_back(std::move(t));
    }
    for (const auto& [name, shape] : inputShapes) {
        bool known = false;
        for (const auto& info : model.graph.inputs)
            known = known || info.name == name;
        if (!known)
            throw Error("the model has no input named '" + name + "'");
    }
    std::vector<const Tensor*> ptrs;
    for (const auto& t : inputs)
        ptrs.push_back(&t);
    std::vector<NodeShapes> out;
    exec.setObserver([&](const Node& node, const KernelArgs& args) {
        NodeShapes s;
        s.node = node.name.empty() && !node.outputs.empty() ? node.outputs[0] : node.name;
        s.opType = node.opType;
        s.outputs = node.outputs;
        for (std::size_t i = 0; i < args.outputCount(); ++i)
            s.shapes.push_back(args.output(i).shape());
        s.flops = countFlops(node, args);
        out.push_back(std::move(s));
    });
    exec.run(ptrs);
    return out;
}

} // namespace leger
