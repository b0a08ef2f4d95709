#include "runtime/OpRegistry.h"
#include "runtime/ops/OpUtil.h"

namespace leger {

void registerReductionOps(OpRegistry& /*r*/)
{
}

} // namespace leger
