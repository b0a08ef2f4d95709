#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/Kernel.h"

namespace leger {

/// Kernel factories by (domain, op type, first opset version they implement).
class OpRegistry {
public:
    /// The registry with every built-in op.
    static const OpRegistry& builtin();

    /// Registers a factory for opType from opset sinceVersion until the next registration.
    void add(const std::string& opType, int sinceVersion, KernelFactory factory, const std::string& domain = {});
    /// The factory for opType at the given opset version, or nullptr.
    const KernelFactory* find(const std::string& domain, const std::string& opType, int opset) const;
    /// Every registered op type of the default domain, sorted.
    std::vector<std::string> opTypes() const;

    /// The newest ONNX opset Leger implements.
    static constexpr int kMaxOpset = 21;

private:
    std::map<std::pair<std::string, std::string>, std::map<int, KernelFactory>> ops_;
};

// Each family of ops registers itself from its own file under runtime/ops/.
void registerElementwiseOps(OpRegistry& r);
void registerActivationOps(OpRegistry& r);
void registerShapeOps(OpRegistry& r);
void registerReductionOps(OpRegistry& r);
void registerConvOps(OpRegistry& r);
void registerPoolOps(OpRegistry& r);
void registerNormalizationOps(OpRegistry& r);
void registerMatMulOps(OpRegistry& r);
void registerRecurrentOps(OpRegistry& r);
void registerTensorOps(OpRegistry& r);
void registerQuantizeOps(OpRegistry& r);
void registerControlFlowOps(OpRegistry& r);
void registerImageOps(OpRegistry& r);
void registerLossOps(OpRegistry& r);
void registerSignalOps(OpRegistry& r);
void registerDetectionOps(OpRegistry& r);

} // namespace leger
