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
            Layer l{n.input(i), n.name, n.opType, w->shape(), w->size()};
            const Shape& s = l.shape;
            const std::int64_t r = static_cast<std::int64_t>(s.size());
            if (n.opType == "MatMul" && i == 1) {
                // x (.., K) @ W (.., K, N): channels are N, groups run along K.
                l.transposed = true;
                l.cols = s[r - 2];
            } else if (n.opType == "Gemm" && n.attrInt("transB", 0) == 0) {
                l.transposed = true; // W (K, N)
                l.cols = s[0];
            } else if (n.opType == "LSTM" || n.opType == "GRU" || n.opType == "RNN" ||
                       (n.opType == "MatMul" && i == 0)) {
                l.cols = s[r - 1]; // W (D, gates * H, I), or a left operand (.., M, K)
            } else {
                // Conv (M, C/G, kh, kw), ConvTranspose (C, M/G, kh, kw), Gemm transB (N, K),
                // embedding (V, D): one row per index of axis 0.
                l.cols = s[0] == 0 ? 0 : l.parameters / s[0];
            }
            l.rows = l.cols == 0 ? 0 : l.parameters / l.cols;
            layers.push_back(std::move(l));
            if (n.opType == "MatMul")
                break; // a MatMul has one weight; the other operand is the activation
        }
    }
    return layers;
}

} // namespace leger
