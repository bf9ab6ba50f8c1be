// Mounting and unmounting filesystems with libmount, as `mount -t TYPE -o OPTIONS SOURCE TARGET`
// and `umount TARGET` do (loop devices for regular files included).
#pragma once

#include <string>

namespace dvdi::ns {

struct FsMountSpec {
    std::string source;  ///< a device, a regular file (mounted through a loop device), a directory, "tmpfs"
    std::string target;  ///< an existing directory
    std::string fstype;  ///< "tmpfs", "ext4", "xfs", "nfs", "none" (with o=bind) ...; empty: probed
    std::string options; ///< comma-separated, VFS and filesystem options together, e.g. "size=64m,ro"
};

/// Mounts `spec` in the calling process's mount namespace. A regular-file source gets a loop
/// device that libmount sets to autoclear, so it is released by the last unmount (or by the end
/// of the namespace). Mount helpers (/sbin/mount.TYPE, e.g. mount.nfs) are never run: the
/// kernel gets the options as they are (for nfs, `addr=IP` among them, as Docker's local driver).
/// Throws core::SysError ``mount(`TARGET`): ...`` with libmount's reason in the operation.
void mount_filesystem(const FsMountSpec& spec);

/// Unmounts the topmost mount at `target` (not lazily); a loop device libmount set up for it is
/// detached. Throws core::SysError ``umount(`TARGET`): ...``.
void unmount_filesystem(const std::string& target);

} // namespace dvdi::ns
