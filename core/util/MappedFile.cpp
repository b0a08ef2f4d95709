#include "util/MappedFile.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/Error.h"

namespace leger {

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw Error(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(path + ": not a regular file");
    }
    std::shared_ptr<MappedFile> f(new MappedFile);
    f->path_ = path;
    f->size_ = static_cast<std::size_t>(st.st_size);
    if (f->size_ > 0) {
        void* a = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (a == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            throw Error(path + ": cannot map: " + std::strerror(err));
        }
        f->address_ = a;
    }
    ::close(fd);
    return f;
}

MappedFile::~MappedFile()
{
    if (address_)
        ::munmap(address_, size_);
}

} // namespace leger
