// Internal: resolving a target path inside a root, in two halves. The plan is made in the
// hook's process (allocations, validation, error text); the walk runs in the forked child
// after setns and only makes system calls (async-signal-safe).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/ns/place.hpp"

namespace dvdi::ns::detail {

/// Which step of the child's work failed; the parent turns it into the message.
enum class Step : std::int32_t {
    none,
    setns,
    open_root,
    resolve_target,
    create_target,
    stat_target,
    open_source_in_ns,
    source_not_visible,
    attach,
    set_propagation,
    remount,
    verify_attached,
};

/// What the child walks: `components` below the directory `base`.
struct ResolvePlan {
    std::string base;                    ///< absolute in the target namespace, opened first
    std::uint64_t base_resolve = 0;      ///< RESOLVE_* flags for opening base
    std::uint64_t resolve = 0;           ///< RESOLVE_* flags for the walk from base
    std::vector<std::string> components; ///< no "", ".", ".."
    std::vector<std::string> prefixes;   ///< prefixes[k]: the first k components joined ("." for 0)
    bool create = false;
    std::string display; ///< the target for messages: "`/data` inside `/rootfs`"
    /// Without root and outside every auto-create prefix: a missing path is explained as such.
    bool host_path_outside_prefixes = false;
};

/// Validates and plans. Throws core::InputError for a path with "..", NUL, or (without root)
/// a relative path; or for a relative root or prefix.
[[nodiscard]] ResolvePlan plan_resolution(const Target& t);

/// In the child: the O_PATH fd of the target directory (the caller closes it), or -1 with
/// errno set and `step` saying which step failed. Retries openat2's EAGAIN a bounded number of
/// times. Missing directories are created with mkdirat relative to the last resolved fd, each
/// then opened with RESOLVE_NO_SYMLINKS so a racing swap for a symlink fails.
/// `create` false walks without creating anything, whatever the plan says.
int resolve_in_ns(const ResolvePlan& plan, bool create, Step& step) noexcept;

/// openat2 with EAGAIN retried a bounded number of times (concurrent renames or mounts).
int openat2_retry(int dfd, const char* path, std::uint64_t flags, std::uint64_t resolve) noexcept;

} // namespace dvdi::ns::detail
