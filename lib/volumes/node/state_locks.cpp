#include "lib/volumes/node/state_locks.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include <fmt/format.h>

#include "lib/core/core.hpp"

namespace dvdi::volumes {

bool names_locked_file(int fd, const std::string& path) noexcept {
    struct stat held {};
    struct stat named {};
    return ::fstat(fd, &held) == 0 && ::lstat(path.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
           held.st_dev == named.st_dev;
}

FileLock::FileLock(std::string path, int operation) : path_(std::move(path)) {
    for (;;) {
        fd_.reset(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd_ && errno == EROFS) {
            // A read-only state dir can still be read (list, doctor); flock works on any fd.
            fd_.reset(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
            errno = fd_ ? 0 : EROFS;
        }
        if (!fd_) {
            core::throw_errno("open", path_);
        }
        while (::flock(fd_.get(), operation) != 0) {
            if (errno != EINTR) {
                core::throw_errno("flock", path_);
            }
        }
        if (names_locked_file(fd_.get(), path_)) {
            return;
        }
    }
}

void FileLock::remove() noexcept {
    if (names_locked_file(fd_.get(), path_)) {
        ::unlink(path_.c_str());
    }
}

std::uint64_t fnv1a(std::string_view data, std::uint64_t h) noexcept {
    for (const char c : data) {
        h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    }
    return h;
}

std::string lock_name(const VolumeKey& key) {
    return fmt::format("{:016x}.lock", fnv1a(key.name, fnv1a(std::string_view("\0", 1), fnv1a(key.driver))));
}

} // namespace dvdi::volumes
