// A handle on a running process whose mount namespace mounts are placed into.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "lib/core/fd.hpp"

namespace dvdi::ns {

/// Pins one process and its mount namespace, opened once on the host and verified, so that a
/// pid that dies and is reused between the runtime's report and the placement is detected
/// instead of reaching some other process's namespace.
///
/// Owns a pidfd (when the kernel has pidfd_open) and an fd on /proc/PID/ns/mnt. Move-only. The
/// namespace fd keeps the namespace alive even after the process exits, which is why every use
/// checks alive() again.
class ProcessHandle {
  public:
    /// Opens the handle: pidfd_open(pid), the process's start time, /proc/PID/ns/mnt, then
    /// verifies that the process the pidfd refers to is still alive and has the same start
    /// time, so the namespace fd was opened from that process and not from a reused pid.
    /// Needs: pid > 0, root (or CAP_SYS_PTRACE over the process). Throws core::InputError for
    /// pid <= 0, core::SysError when /proc/PID cannot be read (e.g. no such process), and
    /// core::Error "process PID exited" when it dies while being opened.
    [[nodiscard]] static ProcessHandle open(pid_t pid);

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }

    /// True while the process has not exited (a zombie counts as exited) and its pid still
    /// names the same process (start time unchanged). Never throws.
    [[nodiscard]] bool alive() const noexcept;

    /// Throws core::Error "process PID (the container) has exited ..." unless alive().
    void require_alive(const char* when) const;

    /// The mount namespace fd, owned by this handle; valid as long as the handle is.
    [[nodiscard]] int mount_ns() const noexcept { return mnt_ns_.get(); }

    /// The inode of the mount namespace (what /proc/PID/ns/mnt's link names).
    [[nodiscard]] std::uint64_t mount_ns_inode() const noexcept { return mnt_ns_ino_; }

  private:
    ProcessHandle() = default;

    pid_t pid_ = 0;
    core::UniqueFd pidfd_; ///< empty when the kernel has no pidfd_open (< 5.3)
    core::UniqueFd mnt_ns_;
    std::uint64_t start_time_ = 0; ///< field 22 of /proc/PID/stat, in clock ticks since boot
    std::uint64_t mnt_ns_ino_ = 0;
};

/// The inode of this process's own mount namespace.
[[nodiscard]] std::uint64_t own_mount_ns_inode();

} // namespace dvdi::ns
