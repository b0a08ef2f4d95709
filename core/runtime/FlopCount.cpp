#include "runtime/FlopCount.h"

#include "runtime/Kernel.h"

namespace leger {

std::int64_t countFlops(const Node& node, const KernelArgs& args)
{
    const std::string& op = node.opType;
    if (args.outputCount() == 0 || !args.hasInput(0))
        return 0;
    const Tensor& y = args.output(0);
    if (op == "Conv" && args.hasInput(1)) {
        // y: (N, M, spatial...)  W: (M, C/group, k...) -> each output element costs C/group * k MACs
        const Tensor& w = args.input(1);
        return 2 * y.size() * (w.size() / w.dim(0));
    }
    if (op == "ConvTranspose" && args.hasInput(1)) {
        // x: (N, C, spatial...)  W: (C, M/group, k...) -> each input element scatters M/group * k MACs
        const Tensor& x = args.input(0);
        const Tensor& w = args.input(1);
        return 2 * x.size() * (w.size() / w.dim(0));
    }
    if ((op == "Gemm" || op == "MatMul") && args.hasInput(1)) {
        // y: (..., M, N) with inner dimension K shared by both operands
        const Tensor& a = args.input(0);
        std::int64_t k = a.rank() == 0 ? 1 : a.dim(-1);
        if (op == "Gemm" && node.attrInt("transA", 0))
            k = a.dim(0);
        return 2 * y.size() * k;
    }
    if ((op == "LSTM" || op == "GRU" || op == "RNN") && args.hasInput(2)) {
        // X: (seq, batch, in)  W: (dirs, gates*hidden, in)  R: (dirs, gates*hidden, hidden)
        const Tensor& x = args.input(0);
        const std::int64_t steps = x.dim(0) * x.dim(1);
        return 2 * steps * (args.input(1).size() + args.input(2).size());
    }
    return 0;
}

} // namespace leger
