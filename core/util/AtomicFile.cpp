#include "util/AtomicFile.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/Error.h"

namespace leger {

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path))
{
    namespace fs = std::filesystem;
    const fs::path target(path_);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    tmp_ = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
    fd_ = ::mkstemp(tmp_.data());
    if (fd_ < 0)
        throw Error(path_ + ": cannot create a temporary file: " + std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter()
{
    if (fd_ >= 0) {
        ::close(fd_);
        ::unlink(tmp_.c_str());
    }
}

void AtomicFileWriter::write(std::string_view bytes)
{
    if (fd_ < 0)
        throw Error(path_ + ": write after the file was committed");
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw Error(path_ + ": write failed: " + std::strerror(errno));
        }
        done += static_cast<std::size_t>(n);
    }
}

void AtomicFileWriter::commit()
{
    ::fchmod(fd_, 0644);
    const bool flushed = ::fsync(fd_) == 0;
    const bool closed = ::close(fd_) == 0;
    fd_ = -1;
    if (!flushed || !closed) {
        ::unlink(tmp_.c_str());
        throw Error(path_ + ": cannot flush the file to disk");
    }
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
        const std::string err = std::strerror(errno);
        ::unlink(tmp_.c_str());
        throw Error(path_ + ": cannot replace the file: " + err);
    }
}

void writeFileAtomically(const std::string& path, std::string_view bytes)
{
    AtomicFileWriter out(path);
    out.write(bytes);
    out.commit();
}

std::string readFile(const std::string& path)
{
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw Error(path + ": is a directory, not a file");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot open file");
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    if (size < 0)
        throw Error(path + ": cannot determine the file size");
    in.seekg(0);
    std::string bytes(static_cast<std::size_t>(size), '\0');
    if (size > 0 && !in.read(bytes.data(), size))
        throw Error(path + ": read error");
    return bytes;
}

} // namespace leger
