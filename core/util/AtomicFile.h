#pragma once

#include <string>
#include <string_view>

namespace leger {

/// Writes bytes to path atomically: a temporary file beside it, flushed, then renamed over it.
/// Throws leger::Error naming the file on failure; the old file stays intact.
void writeFileAtomically(const std::string& path, std::string_view bytes);
/// Reads a whole file; throws leger::Error naming the file.
std::string readFile(const std::string& path);

} // namespace leger
