#pragma once
// How much memory this machine can still give (Linux's MemAvailable), so that a load that would
// not fit is refused with a message instead of ending in the kernel's out-of-memory kill.

#include <cstdint>
#include <string>

namespace leger {

/// MemAvailable from /proc/meminfo, in bytes (0 when it cannot be read).
std::uint64_t availableMemoryBytes();

/// Throws Error "<what> needs N GB, more than the M GB of memory available" when `bytes` exceed
/// `available` (default: availableMemoryBytes(); nothing is checked when that is unknown).
void requireMemory(std::uint64_t bytes, const std::string& what, std::uint64_t available = availableMemoryBytes());

} // namespace leger
