#include "lib/core/io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "lib/core/error.hpp"
#include "lib/core/fd.hpp"

namespace dvdi::core {

std::string read_all(int fd, const std::string& path, std::size_t limit) {
    std::string text;
    char buf[65536];
    while (text.size() <= limit) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw_errno("read", path);
        }
        if (n == 0) {
            break;
        }
        text.append(buf, static_cast<std::size_t>(n));
    }
    return text;
}

void write_all(int fd, std::string_view data, const std::string& path) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw_errno("write", path);
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

void replace_file(const std::string& path, std::string_view data) {
    const std::string tmp = path + ".tmp";
    try {
        UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd) {
            throw_errno("open", tmp);
        }
        write_all(fd.get(), data, tmp);
        if (::fsync(fd.get()) != 0) {
            throw_errno("fsync", tmp);
        }
        if (::rename(tmp.c_str(), path.c_str()) != 0) {
            throw_errno("rename", path);
        }
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
    // The rename is durable only once the directory holding both names is.
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d || ::fsync(d.get()) != 0) {
        throw_errno("fsync", dir);
    }
}

} // namespace dvdi::core
