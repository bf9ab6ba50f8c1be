#include "lib/ns/fs_mount.hpp"

#include <libmount/libmount.h>

#include <cerrno>
#include <memory>

#include <fmt/format.h>

#include "lib/core/error.hpp"

namespace dvdi::ns {

namespace {

struct ContextDeleter {
    void operator()(libmnt_context* c) const noexcept { mnt_free_context(c); }
};
using Context = std::unique_ptr<libmnt_context, ContextDeleter>;

Context new_context() {
    Context cxt(mnt_new_context());
    if (!cxt) {
        throw core::SysError("mnt_new_context", ENOMEM);
    }
    // No fstab lookups and no utab/mtab bookkeeping: the caller says exactly what to mount and
    // keeps its own record of it.
    mnt_context_disable_mtab(cxt.get(), 1);
    // Never /sbin/mount.TYPE or /sbin/umount.TYPE: a type is a name, and a helper of that name
    // is a program that would run as root (`type=fuse.sh` runs `mount.fuse.sh`, which runs
    // whatever the device names). Docker's local driver calls mount(2) directly too.
    mnt_context_disable_helpers(cxt.get(), 1);
    return cxt;
}

// libmount reports failures as a return code plus, for syscall failures, the syscall's errno;
// mnt_context_get_excode() turns both into the message `mount(8)` would print.
[[noreturn]] void throw_mount_error(libmnt_context* cxt, int rc, const std::string& op, const std::string& target) {
    int err = mnt_context_get_syscall_errno(cxt);
    if (err == 0) {
        err = rc < 0 ? -rc : EINVAL;
    }
    char buf[BUFSIZ] = {};
    mnt_context_get_excode(cxt, rc, buf, sizeof buf);
    const std::string why = buf[0] != '\0' ? buf : "failed";
    throw core::SysError(fmt::format("{} ({})", op, why), target, err);
}

} // namespace

void mount_filesystem(const FsMountSpec& spec) {
    auto cxt = new_context();
    if (mnt_context_set_source(cxt.get(), spec.source.c_str()) != 0 ||
        mnt_context_set_target(cxt.get(), spec.target.c_str()) != 0 ||
        (!spec.fstype.empty() && mnt_context_set_fstype(cxt.get(), spec.fstype.c_str()) != 0) ||
        (!spec.options.empty() && mnt_context_set_options(cxt.get(), spec.options.c_str()) != 0)) {
        throw core::SysError("mnt_context_set", spec.target, ENOMEM);
    }
    const int rc = mnt_context_mount(cxt.get());
    if (rc != 0 || mnt_context_get_status(cxt.get()) != 1) {
        throw_mount_error(cxt.get(), rc, "mount", spec.target);
    }
}

void unmount_filesystem(const std::string& target) {
    auto cxt = new_context();
    if (mnt_context_set_target(cxt.get(), target.c_str()) != 0) {
        throw core::SysError("mnt_context_set_target", target, ENOMEM);
    }
    const int rc = mnt_context_umount(cxt.get());
    if (rc != 0 || mnt_context_get_status(cxt.get()) != 1) {
        throw_mount_error(cxt.get(), rc, "umount", target);
    }
}

} // namespace dvdi::ns
