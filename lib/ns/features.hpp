// Which parts of the kernel's mount API this kernel offers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dvdi::ns {

/// One kernel feature the hook relies on.
struct Feature {
    std::string_view name;       ///< e.g. "open_tree/move_mount"
    std::string_view min_kernel; ///< first Linux release that has it, e.g. "5.2"
    bool available = false;
};

/// The features, probed with harmless calls (invalid fds): ENOSYS means absent. Cheap (a few
/// failing syscalls), so callers probe when they need to know rather than caching across runs.
struct KernelFeatures {
    Feature open_tree_move_mount{"open_tree/move_mount", "5.2"};
    Feature mount_setattr{"mount_setattr", "5.12"};
    Feature openat2{"openat2", "5.6"};
    Feature pidfd_open{"pidfd_open", "5.3"};

    [[nodiscard]] std::vector<Feature> all() const {
        return {open_tree_move_mount, mount_setattr, openat2, pidfd_open};
    }
};

[[nodiscard]] KernelFeatures probe_kernel_features();

/// Throws core::Error "the kernel lacks NAME (Linux >= MIN is needed): WHY" when `f` is missing.
void require(const Feature& f, std::string_view why);

} // namespace dvdi::ns
