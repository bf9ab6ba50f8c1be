#include "lib/ns/mount_table.hpp"

#include <libmount/libmount.h>

#include <cerrno>
#include <memory>

#include <fmt/format.h>

#include "lib/core/error.hpp"

namespace dvdi::ns {

namespace {

struct TableDeleter {
    void operator()(libmnt_table* t) const noexcept { mnt_unref_table(t); }
};
struct IterDeleter {
    void operator()(libmnt_iter* i) const noexcept { mnt_free_iter(i); }
};

std::string str(const char* s) {
    return s != nullptr ? s : "";
}

} // namespace

std::vector<MountEntry> read_mount_table(pid_t pid) {
    const std::string path = pid == 0 ? "/proc/self/mountinfo" : fmt::format("/proc/{}/mountinfo", pid);
    std::unique_ptr<libmnt_table, TableDeleter> table(mnt_new_table());
    if (!table) {
        throw core::SysError("mnt_new_table", ENOMEM);
    }
    // libmount returns a negative errno (or -1 with errno set) when the file cannot be parsed.
    if (const int rc = mnt_table_parse_file(table.get(), path.c_str()); rc != 0) {
        throw core::SysError("mnt_table_parse_file", path, rc < -1 ? -rc : (errno != 0 ? errno : EINVAL));
    }
    std::unique_ptr<libmnt_iter, IterDeleter> iter(mnt_new_iter(MNT_ITER_FORWARD));
    if (!iter) {
        throw core::SysError("mnt_new_iter", ENOMEM);
    }
    std::vector<MountEntry> out;
    libmnt_fs* fs = nullptr;
    while (mnt_table_next_fs(table.get(), iter.get(), &fs) == 0) {
        out.push_back(MountEntry{
            .id = mnt_fs_get_id(fs),
            .parent_id = mnt_fs_get_parent_id(fs),
            .source = str(mnt_fs_get_source(fs)),
            .root = str(mnt_fs_get_root(fs)),
            .target = str(mnt_fs_get_target(fs)),
            .fstype = str(mnt_fs_get_fstype(fs)),
            .options = str(mnt_fs_get_options(fs)),
            .propagation = str(mnt_fs_get_optional_fields(fs)),
        });
    }
    return out;
}

std::optional<MountEntry> find_mount(const std::string& target, pid_t pid) {
    // mountinfo lists mounts in the order they were made, so the last match is the topmost.
    std::optional<MountEntry> found;
    for (auto& e : read_mount_table(pid)) {
        if (e.target == target) {
            found = std::move(e);
        }
    }
    return found;
}

} // namespace dvdi::ns
