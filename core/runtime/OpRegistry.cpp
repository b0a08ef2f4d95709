#include "runtime/OpRegistry.h"

namespace leger {

const OpRegistry& OpRegistry::builtin()
{
    static const OpRegistry registry = [] {
        OpRegistry r;
        registerElementwiseOps(r);
        registerActivationOps(r);
        registerShapeOps(r);
        registerReductionOps(r);
        registerConvOps(r);
        registerPoolOps(r);
        registerNormalizationOps(r);
        registerMatMulOps(r);
        registerRecurrentOps(r);
        registerTensorOps(r);
        registerQuantizeOps(r);
        registerControlFlowOps(r);
        registerImageOps(r);
        registerLossOps(r);
        registerSignalOps(r);
        registerDetectionOps(r);
        return r;
    }();
    return registry;
}

void OpRegistry::add(const std::string& opType, int sinceVersion, KernelFactory factory, const std::string& domain)
{
    ops_[{domain, opType}][sinceVersion] = std::move(factory);
}

const KernelFactory* OpRegistry::find(const std::string& domain, const std::string& opType, int opset) const
{
    auto it = ops_.find({domain, opType});
    if (it == ops_.end())
        return nullptr;
    auto v = it->second.upper_bound(opset);
    if (v == it->second.begin())
        return nullptr;
    return &std::prev(v)->second;
}

std::vector<std::string> OpRegistry::opTypes() const
{
    std::vector<std::string> out;
    for (const auto& [key, versions] : ops_)
        if (key.first.empty())
            out.push_back(key.second);
    return out;
}

} // namespace leger
