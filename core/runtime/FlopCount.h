#pragma once

#include <cstdint>

namespace leger {

class Node;
class KernelArgs;

/// Floating-point operations (a multiply-add counts 2) of the node's matrix products and
/// convolutions, from the shapes of one run; 0 for element-wise and data-movement ops,
/// whose cost is memory traffic. Used to report achieved GFLOP/s.
std::int64_t countFlops(const Node& node, const KernelArgs& args);

} // namespace leger
