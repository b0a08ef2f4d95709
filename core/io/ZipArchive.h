#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace leger {

/// Minimal ZIP reader/writer for .npz: stored and deflated members, ZIP64 sizes.
class ZipArchive {
public:
    /// Reads every member of the archive at path; throws leger::Error naming the file.
    static std::vector<std::pair<std::string, std::string>> readAll(const std::string& path);
    /// Serializes members (stored, uncompressed) into archive bytes.
    static std::string write(const std::vector<std::pair<std::string, std::string>>& members);
};

} // namespace leger
