// Process identity: who a pid is (its start time), whether it still runs (one rule for the
// hook and gc), and a handle on a running process whose mount namespace mounts are placed into.
#pragma once

#include <sys/types.h>

#include <compare>
#include <cstdint>
#include <optional>

#include "lib/core/fd.hpp"

namespace dvdi::ns {

/// A process, told apart from a later one with the same pid by its start time (clock ticks
/// after boot, /proc/PID/stat field 22).
struct ProcessId {
    pid_t pid = 0;
    std::uint64_t start_time = 0;
    auto operator<=>(const ProcessId&) const = default;
};

/// `pid` now (also when it has exited and is a zombie not reaped yet), or nullopt when there is
/// no such process. Never throws.
[[nodiscard]] std::optional<ProcessId> process_id(pid_t pid) noexcept;

/// The calling process. Throws core::Error when /proc is not mounted.
[[nodiscard]] ProcessId self_process();

/// True while `p` runs: the same pid with the same start time, and not exited. A zombie has
/// exited: its container is gone even while nobody reaps it (a pid 1 that does not reap
/// orphans keeps them for a long time), so it is not alive. The one "is it alive" rule of the
/// hook and of gc (ProcessHandle::alive applies it too). Never throws.
[[nodiscard]] bool process_alive(const ProcessId& p) noexcept;

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

    /// process_alive() of the pinned process, checked through the pidfd too. Never throws.
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
    ProcessId id_;
    std::uint64_t mnt_ns_ino_ = 0;
};

/// The inode of this process's own mount namespace.
[[nodiscard]] std::uint64_t own_mount_ns_inode();

} // namespace dvdi::ns
