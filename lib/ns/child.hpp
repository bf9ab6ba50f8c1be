// Internal: the forked child that enters the target mount namespace and attaches the mount.
// Everything it needs is prepared by the parent before fork(); after fork() it only makes
// system calls, so it is safe even when the parent has other threads (tests do).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "lib/ns/place.hpp"
#include "lib/ns/resolve.hpp"

namespace dvdi::ns::detail {

/// One message from the child: after resolving (phase 1) and after attaching (phase 2).
struct ChildReport {
    Step step = Step::none;           ///< none: that phase succeeded
    std::int32_t err = 0;             ///< errno of the failed step
    std::uint32_t mount_root = 0;     ///< the resolved target is the root of a mount
    std::uint32_t same_as_source = 0; ///< the resolved target is the source's inode
    std::uint64_t mnt_id = 0;         ///< the mount the resolved target is on (mountinfo's first field)
    std::int64_t fs_type = 0;         ///< statfs f_type of the resolved target's file system
};

/// One bind of a batch, prepared by the parent.
struct ChildItem {
    const ResolvePlan* plan = nullptr;
    int tree = -1;                ///< detached_clone: the prepared clone
    const char* source = nullptr; ///< plain_bind: the source path, resolved again inside
    dev_t source_dev = 0;         ///< the source as the host sees it
    ino_t source_ino = 0;
    unsigned long remount_flags = 0; ///< plain_bind: MS_RDONLY, MS_NOSUID, MS_NODEV
};

/// The child's whole job: enter the namespace once, then for each item in order resolve (report),
/// wait for the parent's word ('g' attach, 's' skip it, EOF abandon everything) and attach
/// (report).
struct ChildJob {
    int mnt_ns = -1; ///< /proc/PID/ns/mnt, opened by the parent
    BindMethod method = BindMethod::detached_clone;
    const ChildItem* items = nullptr;
    std::size_t count = 0;
    int channel = -1;    ///< SOCK_SEQPACKET: ChildReports out; one byte per item in
    int parent_end = -1; ///< the parent's end of the channel, closed first thing in the child
    int devnull = -1;    ///< /dev/null, opened by the parent: the child's stdin, stdout, stderr
    pid_t parent = 0;    ///< the hook's pid, to tell whether it died before PR_SET_PDEATHSIG
};

/// Runs in the child: never returns.
[[noreturn]] void run_child(const ChildJob& job) noexcept;

} // namespace dvdi::ns::detail
