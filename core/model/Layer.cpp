#include "model/Layer.h"

#include <set>

#include "model/Model.h"

namespace leger {

namespace {

/// Input positions of op's inputs that hold weights when they are constants.
std::vector<std::size_t> weightInputs(const std::string& op)
{
    if (op == "Conv" || op == "ConvTranspose" || op == "Gemm")
        return {1};
    if (op == "MatMul")
        return {1, 0};
    if (op == "LSTM" || op == "GRU" || op == "RNN")
        return {1, 2};
    if (op == "Gather")
        return {0};
    return {};
}

} // namespace

std::vector<Layer> Layer::find(const Model& model)
{
    std::vector<Layer> layers;
    std::set<std::string> seen;
    for (const Node& n : model.graph.nodes) {
        if (!n.domain.empty())
            continue;
        for (std::size_t i : weightInputs(n.opType)) {
            const Tensor* w = model.graph.initializer(n.input(i));
            // Weights are floating point and at least a matrix; an embedding table is 2-D.
            if (!w || !isFloating(w->dtype()) || w->rank() < 2 || (n.opType == "Gather" && w->rank() != 2))
                continue;
            if (!seen.insert(n.input(i)).second)
                continue;
            layers.push_back({n.input(i), n.name, n.opType, w->shape(), w->size()});
            if (n.opType == "MatMul")
                break; // a MatMul has one weight; the other operand is the activation
        }
    }
    return layers;
}

} // namespace leger
