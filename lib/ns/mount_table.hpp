// Reading mount tables with libmount: what is mounted where, in this or another namespace.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace dvdi::ns {

/// One line of a mountinfo table.
struct MountEntry {
    int id = 0;
    int parent_id = 0;
    std::string source; ///< e.g. "tmpfs", "/dev/loop3"
    std::string root;   ///< the subtree of the source that is mounted ("/" for all of it)
    std::string target; ///< where it is mounted, as seen in that namespace
    std::string fstype;
    std::string options;     ///< VFS and fs options together, as libmount reports them
    std::string propagation; ///< mountinfo's optional fields: "shared:N", "master:N", "" (private)
};

/// The mount table of the mount namespace of `pid` (/proc/PID/mountinfo); pid 0 means this
/// process. Throws core::SysError when the table cannot be read (e.g. the process is gone).
[[nodiscard]] std::vector<MountEntry> read_mount_table(pid_t pid = 0);

/// The topmost mount whose target is exactly `target` in the table of `pid`, if any.
[[nodiscard]] std::optional<MountEntry> find_mount(const std::string& target, pid_t pid = 0);

} // namespace dvdi::ns
