// Placing a host directory into another process's mount namespace, safely: the target is
// resolved inside a root that a container image controls, and nothing may land outside it.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lib/core/error.hpp"
#include "lib/ns/features.hpp"
#include "lib/ns/process.hpp"

namespace dvdi::ns {

/// Where the mount goes, as seen from the target process's mount namespace.
///
/// The three callers:
///  - OCI container (createRuntime/prestart, before pivot_root): root = the rootfs path
///    (bundle + root.path; before the pivot it is the same path inside the container's
///    namespace), path = the container path.
///  - Mesos container: relative container paths: root = the sandbox directory, path = the
///    relative path (or root = the rootfs, path = "/mnt/mesos/sandbox/<rel>"); absolute paths:
///    root = the rootfs when there is one, else no root.
///  - a host path (no root): path is absolute in the target namespace.
struct Target {
    /// The directory the path is resolved inside (absolute, trusted: it comes from the runtime,
    /// not the image). Nothing of `path` (symlinks, "..") can leave it. Unset: a host path.
    std::optional<std::string> root;
    /// Inside root: absolute or relative, both taken from root. Without root: absolute. Must
    /// not contain ".." or NUL. Missing directories on the way are created (0755), one
    /// component at a time, fd-relative (without root: only under host_create_prefixes).
    std::string path;
    /// Without root only: a missing target is created only when it lies under one of these
    /// absolute prefixes (core::Config::auto_create_prefixes; the old module's /tmp).
    std::vector<std::string> host_create_prefixes;
    /// Without root only. Set: the target must lie at or under one of these or of
    /// host_create_prefixes, and is walked beneath that prefix (RESOLVE_BENEATH: no symlink or
    /// `..` leads out of it). Unset: any host path, resolved as the host resolves it (the
    /// operator's own `dvdi-hook mount --pid`).
    std::optional<std::vector<std::string>> host_prefixes;
};

struct BindOptions {
    bool read_only = false;
    bool nosuid = false;
    bool nodev = false;
    /// Test seam: called in the hook's process after the target was resolved in the namespace
    /// and before the mount is attached (e.g. to kill the container at that moment).
    std::function<void()> before_attach;
};

/// The target, or a directory on its way to it, exists and is not a directory (a file of the
/// image, most often): a volume is only ever placed on a directory. what() is the SysError's
/// (``openat2 RESOLVE_IN_ROOT(`/data` inside `/rootfs`): Not a directory``).
class TargetNotDirectory : public core::SysError {
  public:
    using core::SysError::SysError;
};

/// How the bind is made.
enum class BindMethod {
    detached_clone, ///< open_tree(OPEN_TREE_CLONE) + mount_setattr on the host, move_mount inside
    plain_bind,     ///< mount(MS_BIND) inside the namespace, of the source as seen there
};

/// The method this kernel allows. detached_clone needs open_tree/move_mount and mount_setattr;
/// without them, plain_bind (which place_bind then only does when the source is verifiably the
/// same inode in the target namespace). Resolution always needs openat2. Throws core::Error
/// naming the missing feature and the minimum kernel when openat2 is missing.
[[nodiscard]] BindMethod choose_bind_method(const KernelFeatures& k);

/// Binds the host directory `host_source` onto `target` in the mount namespace of `process`.
///
/// The source is opened on the host (absolute, no symlink in its last component, a directory).
/// The target is resolved in a forked child that joined the namespace (this process never
/// does), with openat2 RESOLVE_IN_ROOT inside target.root, missing directories created per
/// the target's rules, and the mount attached to the resolved fd, by choose_bind_method's
/// method. The mount is private (Docker's default for volumes: no propagation either way) and
/// read-only/nosuid/nodev as asked, all set before it is attached. When the target already is
/// the root of a mount of this very source (a repeated call), nothing is stacked on it.
///
/// Needs: root (CAP_SYS_ADMIN), a kernel with openat2; `features` is the probe (a seam for
/// tests). Throws core::InputError for a bad path; TargetNotDirectory when the target is a
/// file; core::SysError naming the failing step and path; core::Error when the target is already a mountpoint of
/// something else, when its mount would propagate the volume to peers (a shared mount), when a missing host path is not
/// under an auto-create prefix, when the process exited or its pid was reused, or when the kernel lacks a feature
/// (named, with the minimum kernel). On any error nothing is left mounted.
void place_bind(const ProcessHandle& process, const std::string& host_source, const Target& target,
                const BindOptions& options = {}, const KernelFeatures& features = probe_kernel_features());

/// One bind of place_binds.
struct Bind {
    std::string source; ///< the host directory
    Target target;
    BindOptions options;
};

/// How far place_binds got.
struct PlaceProgress {
    std::size_t placed = 0; ///< binds placed (or found already placed), in order
    std::size_t at = 0;     ///< the bind being worked on: after a throw, the one that failed
};

/// place_bind for each of `binds`, in order, with one child process for all of them (one fork
/// and one setns per container, not per volume). Every host-side step (sources, clones, plans)
/// is done for all before the child starts, so a bad source or path fails before anything is
/// placed. Throws what place_bind throws; `progress` then says which bind failed and which were
/// placed before it (they stay placed: the caller's rollback owns them, as with place_bind
/// called once per bind).
void place_binds(const ProcessHandle& process, const std::vector<Bind>& binds, PlaceProgress& progress,
                 const KernelFeatures& features = probe_kernel_features());

} // namespace dvdi::ns
