#include "lib/core/private_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <fmt/format.h>

#include "lib/core/error.hpp"

namespace dvdi::core {

void ensure_private_dir(const std::string& path, mode_t mode, std::string_view what) {
    if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
        if (errno != ENOENT) {
            throw_errno("mkdir", path);
        }
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
        if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
            throw_errno("mkdir", path);
        }
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        throw_errno("stat", path);
    }
    if (!S_ISDIR(st.st_mode)) {
        throw Error(fmt::format("{} `{}` is not a directory", what, path));
    }
    if (st.st_uid != ::geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        throw Error(fmt::format("{} `{}` has mode {:04o} and owner uid {}: it must be owned by {} and not writable "
                                "by group or others (chown root and chmod go-w it)",
                                what, path, st.st_mode & 07777, st.st_uid,
                                ::geteuid() == 0 ? std::string("root") : fmt::format("uid {}", ::geteuid())));
    }
}

} // namespace dvdi::core
