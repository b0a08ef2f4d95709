#pragma once

#include <string>
#include <string_view>

namespace leger {

/// A file written in pieces that appears at path only when complete: the bytes go to a temporary
/// file beside it, commit() flushes it and renames it over path. Destroyed uncommitted (an error,
/// a cancel), it removes the temporary file and path is untouched. Errors name path.
class AtomicFileWriter {
public:
    explicit AtomicFileWriter(std::string path);
    ~AtomicFileWriter();
    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

    void write(std::string_view bytes);
    void commit();

private:
    std::string path_, tmp_;
    int fd_ = -1;
};

/// Writes bytes to path atomically: a temporary file beside it, flushed, then renamed over it.
/// Throws leger::Error naming the file on failure; the old file stays intact.
void writeFileAtomically(const std::string& path, std::string_view bytes);
/// Reads a whole file; throws leger::Error naming the file.
std::string readFile(const std::string& path);

} // namespace leger
