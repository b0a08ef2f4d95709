#include "runtime/OpRegistry.h"
#include "runtime/ops/OpUtil.h"

namespace leger {

void registerImageOps(OpRegistry& /*r*/)
{
}

} // namespace leger
