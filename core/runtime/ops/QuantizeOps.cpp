#include "runtime/OpRegistry.h"
#include "runtime/ops/OpUtil.h"

namespace leger {

void registerQuantizeOps(OpRegistry& /*r*/)
{
}

} // namespace leger
