#include "util/Memory.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "util/Error.h"

namespace leger {

std::uint64_t availableMemoryBytes()
{
    std::ifstream in("/proc/meminfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("MemAvailable:", 0) != 0)
            continue;
        std::istringstream fields(line.substr(13));
        std::uint64_t kb = 0;
        if (fields >> kb)
            return kb * 1024;
    }
    return 0;
}

void requireMemory(std::uint64_t bytes, const std::string& what, std::uint64_t available)
{
    if (available == 0 || bytes <= available)
        return;
    char buf[160];
    std::snprintf(buf, sizeof buf, " needs %.1f GB, more than the %.1f GB of memory available", static_cast<double>(bytes) / 1e9,
                  static_cast<double>(available) / 1e9);
    throw Error(what + buf);
}

} // namespace leger
