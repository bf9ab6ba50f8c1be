// Internal: raw syscall wrappers for the mount API, openat2 and pidfds. glibc 2.36 has some of
// these as functions but not all (no openat2, no pidfd wrappers in every build), so all go
// through syscall(2) alike. <sys/mount.h> gives the constants and struct mount_attr;
// <linux/mount.h> would redefine them, so it is not included. Each returns what the kernel
// returns (-1 with errno set on failure) and is async-signal-safe.
#pragma once

#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace dvdi::ns::sys {

inline int open_tree(int dfd, const char* path, unsigned flags) {
    return static_cast<int>(::syscall(SYS_open_tree, dfd, path, flags));
}

inline int move_mount(int from_dfd, const char* from, int to_dfd, const char* to, unsigned flags) {
    return static_cast<int>(::syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags));
}

inline int mount_setattr(int dfd, const char* path, unsigned flags, mount_attr* attr) {
    return static_cast<int>(::syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof(*attr)));
}

/// openat2 with O_CLOEXEC added; `resolve` is a set of RESOLVE_* flags.
inline int openat2(int dfd, const char* path, std::uint64_t flags, std::uint64_t resolve) {
    open_how how{};
    how.flags = flags | O_CLOEXEC;
    how.resolve = resolve;
    return static_cast<int>(::syscall(SYS_openat2, dfd, path, &how, sizeof(how)));
}

inline int pidfd_open(pid_t pid) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U));
}

} // namespace dvdi::ns::sys
