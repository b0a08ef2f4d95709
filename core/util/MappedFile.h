#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace leger {

/// A whole file mapped read-only into memory (model weights are read in place, not copied);
/// unmapped when the last copy of the shared handle goes. Throws Error naming the file.
class MappedFile {
public:
    static std::shared_ptr<const MappedFile> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    std::span<const std::byte> bytes() const { return {static_cast<const std::byte*>(address_), size_}; }
    const std::string& path() const { return path_; }

private:
    MappedFile() = default;
    void* address_ = nullptr;
    std::size_t size_ = 0;
    std::string path_;
};

} // namespace leger
