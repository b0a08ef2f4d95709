#include "runtime/OpRegistry.h"
#include "runtime/ops/OpUtil.h"

namespace leger {

void registerMatMulOps(OpRegistry& /*r*/)
{
}

} // namespace leger
