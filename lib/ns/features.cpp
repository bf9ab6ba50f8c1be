#include "lib/ns/features.hpp"

#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "lib/core/error.hpp"

namespace dvdi::ns {

namespace {

// Each probe passes an invalid fd: a kernel with the call answers EBADF/EINVAL/EFAULT, one
// without it ENOSYS. Nothing is opened or changed.
bool present(long ret) {
    return ret == 0 || errno != ENOSYS;
}

} // namespace

KernelFeatures probe_kernel_features() {
    KernelFeatures k;
    k.open_tree_move_mount.available =
        present(::syscall(SYS_open_tree, -1, "", 0)) && present(::syscall(SYS_move_mount, -1, "", -1, "", 0));
    k.mount_setattr.available = present(::syscall(SYS_mount_setattr, -1, "", 0, nullptr, 0));
    k.openat2.available = present(::syscall(SYS_openat2, -1, "", nullptr, 0));
    k.pidfd_open.available = present(::syscall(SYS_pidfd_open, -1, 0));
    return k;
}

void require(const Feature& f, std::string_view why) {
    if (!f.available) {
        throw core::Error(fmt::format("the kernel lacks {} (Linux >= {} is needed): {}", f.name, f.min_kernel, why));
    }
}

} // namespace dvdi::ns
