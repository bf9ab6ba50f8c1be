#include "lib/ns/child.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>

#include "lib/ns/sys.hpp"

namespace dvdi::ns::detail {

namespace {

void send(int fd, const ChildReport& r) noexcept {
    // One SOCK_SEQPACKET message, delivered whole or not at all.
    [[maybe_unused]] const auto n = ::send(fd, &r, sizeof(r), MSG_NOSIGNAL);
}

[[noreturn]] void fail(const ChildJob& job, Step step, int err) noexcept {
    ChildReport r;
    r.step = step;
    r.err = err;
    send(job.channel, r);
    ::_exit(1);
}

// "/proc/self/fd/N" without printf (not async-signal-safe).
void fd_path(char (&buf)[32], int fd) noexcept {
    const char prefix[] = "/proc/self/fd/";
    char digits[12];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + fd % 10);
        fd /= 10;
    } while (fd > 0 && n < 11);
    std::size_t i = 0;
    for (; prefix[i] != '\0'; ++i) {
        buf[i] = prefix[i];
    }
    while (n > 0) {
        buf[i++] = digits[--n];
    }
    buf[i] = '\0';
}

// statx on the fd itself (AT_EMPTY_PATH): the resolved directory, not a path walked again.
// STATX_ATTR_MOUNT_ROOT (5.8) says whether something is mounted right there; stx_mnt_id (5.8)
// names the mount it is on, as mountinfo's first field does.
bool describe(int fd, const ChildItem& item, ChildReport& r) noexcept {
    struct statx sx {};
    if (::statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_MNT_ID, &sx) != 0) {
        return false;
    }
    // Before 5.8 the kernel cannot say; an unknown answer must not pass as "not a mountpoint".
    if ((sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) == 0 || (sx.stx_mask & STATX_MNT_ID) == 0) {
        errno = ENOSYS;
        return false;
    }
    // The file system the target really is on, after every symlink of the image was followed
    // inside the root: what the parent refuses kernel file systems by (procfs, sysfs, ...).
    struct statfs sfs {};
    if (::fstatfs(fd, &sfs) != 0) {
        return false;
    }
    r.fs_type = static_cast<std::int64_t>(sfs.f_type);
    r.mount_root = (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
    r.mnt_id = sx.stx_mnt_id;
    r.same_as_source = makedev(sx.stx_dev_major, sx.stx_dev_minor) == item.source_dev && sx.stx_ino == item.source_ino;
    return true;
}

// The fallback for kernels without the new mount API. mount(2) cannot bind a source from
// another namespace (the kernel refuses it in __do_loopback), so the source is looked up again
// here, inside, and used only when it is the very inode the host opened. The bind goes through
// /proc/self/fd so the resolved target fd, not a path string, is what is mounted on; the new
// mount is then found by walking the plan again and accepted only if it is a mount root with
// the source's inode.
void attach_plain(const ChildJob& job, const ChildItem& item, int src, int target) noexcept {
    char from[32];
    char to[32];
    fd_path(from, src);
    fd_path(to, target);
    if (::mount(from, to, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        fail(job, Step::attach, errno);
    }
    Step step = Step::none;
    const int top = resolve_in_ns(*item.plan, false, step);
    ChildReport r;
    if (top < 0 || !describe(top, item, r) || r.mount_root == 0 || r.same_as_source == 0) {
        fail(job, Step::verify_attached, top < 0 ? errno : EBUSY);
    }
    fd_path(to, top);
    if (::mount(nullptr, to, nullptr, MS_PRIVATE | MS_REC, nullptr) != 0) {
        const int err = errno;
        ::umount2(to, MNT_DETACH);
        fail(job, Step::set_propagation, err);
    }
    if (item.remount_flags != 0 &&
        ::mount(nullptr, to, nullptr, MS_BIND | MS_REMOUNT | item.remount_flags, nullptr) != 0) {
        const int err = errno;
        ::umount2(to, MNT_DETACH);
        fail(job, Step::remount, err);
    }
    ::close(top);
}

int open_source_inside(const ChildJob& job, const ChildItem& item) noexcept {
    const int src = openat2_retry(AT_FDCWD, item.source, O_PATH | O_DIRECTORY, RESOLVE_NO_MAGICLINKS);
    if (src < 0) {
        fail(job, Step::open_source_in_ns, errno);
    }
    struct stat st {};
    if (::fstat(src, &st) != 0) {
        fail(job, Step::open_source_in_ns, errno);
    }
    if (st.st_dev != item.source_dev || st.st_ino != item.source_ino) {
        fail(job, Step::source_not_visible, EXDEV);
    }
    return src;
}

} // namespace

namespace {

// The child must never outlive the hook, nor keep what the hook's caller waits on. A runtime
// that kills a hook past its timeout reads the hook's stdout to EOF: a child holding it would
// hang the runtime; a child holding the parent's end of the channel would wait for a 'g' that
// never comes, keeping its namespace and whatever it attached alive.
void detach_from_parent(const ChildJob& job) noexcept {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != job.parent) {
        ::_exit(1); // the parent died before the signal was asked for
    }
    ::close(job.parent_end);
    for (const int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
        if (job.devnull >= 0) {
            ::dup2(job.devnull, fd);
        } else {
            ::close(fd);
        }
    }
}

// One item: resolve, report, and attach on the parent's word. Returns false when the parent
// abandons the batch.
bool place_item(const ChildJob& job, const ChildItem& item) noexcept {
    const int src = job.method == BindMethod::plain_bind ? open_source_inside(job, item) : -1;
    Step step = Step::none;
    const int target = resolve_in_ns(*item.plan, true, step);
    if (target < 0) {
        fail(job, step, errno);
    }
    ChildReport r;
    if (!describe(target, item, r)) {
        fail(job, Step::stat_target, errno);
    }
    send(job.channel, r);
    // The parent checks the mount table and the process, then says go, skip (already placed),
    // or closes the pipe.
    char word = 0;
    if (::recv(job.channel, &word, 1, 0) != 1 || (word != 'g' && word != 's')) {
        return false;
    }
    if (word == 'g') {
        if (job.method == BindMethod::detached_clone) {
            if (sys::move_mount(item.tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
                fail(job, Step::attach, errno);
            }
        } else {
            attach_plain(job, item, src, target);
        }
        send(job.channel, ChildReport{});
    }
    ::close(target);
    if (src >= 0) {
        ::close(src);
    }
    return true;
}

} // namespace

void run_child(const ChildJob& job) noexcept {
    detach_from_parent(job);
    // setns(CLONE_NEWNS) also moves this process's root and cwd to the namespace's root, so
    // the absolute paths of the plans are taken there. Once for the whole batch.
    if (::setns(job.mnt_ns, CLONE_NEWNS) != 0) {
        fail(job, Step::setns, errno);
    }
    for (std::size_t i = 0; i < job.count; ++i) {
        if (!place_item(job, job.items[i])) {
            break;
        }
    }
    ::_exit(0);
}

} // namespace dvdi::ns::detail
