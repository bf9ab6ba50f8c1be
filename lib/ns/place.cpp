#include "lib/ns/place.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "lib/core/error.hpp"
#include "lib/core/fd.hpp"
#include "lib/ns/child.hpp"
#include "lib/ns/mount_table.hpp"
#include "lib/ns/sys.hpp"

namespace dvdi::ns {

using detail::ChildReport;
using detail::Step;

BindMethod choose_bind_method(const KernelFeatures& k) {
    require(k.openat2, "resolving a target inside a container root without following it out");
    if (k.open_tree_move_mount.available && k.mount_setattr.available) {
        return BindMethod::detached_clone;
    }
    return BindMethod::plain_bind;
}

namespace {

// The channel to the child: a SOCK_SEQPACKET pair keeps each report one message, and send()
// with MSG_NOSIGNAL turns a dead peer into EPIPE instead of a SIGPIPE that would kill the hook.
struct Channel {
    core::UniqueFd parent;
    core::UniqueFd child;
};

Channel make_channel() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
        core::throw_errno("socketpair");
    }
    return Channel{core::UniqueFd(fds[0]), core::UniqueFd(fds[1])};
}

// The forked child, killed and reaped whatever happens to the parent's side.
class Child {
  public:
    explicit Child(pid_t pid) : pid_(pid) {}
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            wait();
        }
    }
    int wait() noexcept {
        int status = 0;
        while (pid_ > 0 && ::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = 0;
        return status;
    }

  private:
    pid_t pid_;
};

// One report, or nullopt when the child died without writing it.
std::optional<ChildReport> receive(int fd) {
    ChildReport r;
    ssize_t n = 0;
    do {
        n = ::read(fd, &r, sizeof(r));
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof(r))) {
        return std::nullopt;
    }
    return r;
}

const char* op_of(Step s) {
    switch (s) {
    case Step::setns:
        return "setns";
    case Step::open_root:
        return "openat2 (the root)";
    case Step::resolve_target:
        return "openat2 RESOLVE_IN_ROOT";
    case Step::create_target:
        return "mkdirat";
    case Step::stat_target:
        return "statx";
    case Step::open_source_in_ns:
        return "openat2 (the source inside the namespace)";
    case Step::source_not_visible:
        return "plain bind";
    case Step::attach:
        return "move_mount";
    case Step::set_propagation:
        return "mount MS_PRIVATE";
    case Step::remount:
        return "mount MS_REMOUNT";
    case Step::verify_attached:
        return "verify the bind";
    case Step::none:
        break;
    }
    return "placing";
}

[[noreturn]] void throw_step(const ChildReport& r, const detail::ResolvePlan& plan, const std::string& source,
                             BindMethod method, pid_t pid) {
    if (r.step == Step::resolve_target && r.err == ENOENT && plan.host_path_outside_prefixes) {
        throw core::Error(fmt::format("host path {} does not exist, and a missing host path is created only under "
                                      "the auto-create prefixes (auto_create_prefixes)",
                                      plan.display));
    }
    if (r.step == Step::source_not_visible || (r.step == Step::open_source_in_ns && r.err == ENOENT)) {
        require(Feature{"open_tree/move_mount and mount_setattr", "5.12", false},
                fmt::format("`{}` is not visible in the mount namespace of pid {}, so a plain bind cannot reach "
                            "it",
                            source, pid));
    }
    if (r.step == Step::stat_target && r.err == ENOSYS) {
        require(Feature{"statx STATX_ATTR_MOUNT_ROOT/STATX_MNT_ID", "5.8", false},
                fmt::format("telling whether {} is already a mountpoint", plan.display));
    }
    if ((r.step == Step::resolve_target || r.step == Step::create_target) && r.err == ENOTDIR) {
        throw TargetNotDirectory(op_of(r.step), plan.display, r.err);
    }
    const bool on_source = r.step == Step::open_source_in_ns || r.step == Step::setns;
    if (r.step == Step::attach && method == BindMethod::plain_bind) {
        throw core::SysError("mount MS_BIND", plan.display, r.err);
    }
    throw core::SysError(op_of(r.step), on_source ? source : plan.display, r.err);
}

} // namespace

namespace {

std::optional<MountEntry> mount_by_id(pid_t pid, std::uint64_t id) {
    for (auto& e : read_mount_table(pid)) {
        if (static_cast<std::uint64_t>(e.id) == id) {
            return e;
        }
    }
    return std::nullopt;
}

// The kernel's own file systems: a volume placed on one could shadow or feed a kernel
// interface that the runtime or the host trusts (runc CVE-2019-16884, CVE-2025-52881: an image
// symlink that sends a mount onto /proc/self/attr). Refused wherever the target resolved to.
const char* kernel_fs_name(std::int64_t type) {
    switch (static_cast<std::uint32_t>(type)) {
    case 0x9fa0U:
        return "procfs";
    case 0x62656572U:
        return "sysfs";
    case 0x27e0ebU:
        return "cgroupfs";
    case 0x63677270U:
        return "cgroup2fs";
    case 0x1cd1U:
        return "devpts";
    case 0x73636673U:
        return "securityfs";
    case 0x64626720U:
        return "debugfs";
    case 0x74726163U:
        return "tracefs";
    case 0xcafe4a11U:
        return "bpf";
    case 0x19800202U:
        return "mqueue";
    case 0xf97cff8cU:
        return "selinuxfs";
    case 0x43415d53U:
        return "smackfs";
    case 0x6165676cU:
        return "pstore";
    case 0xde5e81e4U:
        return "efivarfs";
    case 0x62656570U:
        return "configfs";
    case 0x65735543U:
        return "fusectl";
    case 0x42494e4dU:
        return "binfmt_misc";
    case 0x6e736673U:
        return "nsfs";
    case 0x5a3c69f0U:
        return "apparmorfs";
    case 0x6c6f6f70U:
        return "binderfs";
    case 0x07655821U:
        return "resctrl";
    default:
        return nullptr;
    }
}

void refuse_kernel_fs(const ChildReport& r, const detail::ResolvePlan& plan) {
    if (const char* fs = kernel_fs_name(r.fs_type)) {
        throw core::Error(fmt::format("{} resolves to a directory on {}, a kernel file system: a volume is never "
                                      "placed there",
                                      plan.display, fs));
    }
}

// After the child resolved the target: true when it already holds this very source (a
// repeated call); throws when a mount there, or the mount it sits on, makes attaching wrong.
bool already_placed(const ProcessHandle& process, const ChildReport& r, const detail::ResolvePlan& plan) {
    refuse_kernel_fs(r, plan);
    if (r.mount_root != 0 && r.same_as_source != 0) {
        return true;
    }
    const auto on = mount_by_id(process.pid(), r.mnt_id);
    process.require_alive("while its mount table was being read");
    if (r.mount_root != 0) {
        throw core::Error(fmt::format(
            "{} is already a mountpoint in the mount namespace of pid {} ({}); not stacking a volume on it",
            plan.display, process.pid(),
            on ? fmt::format("{} `{}` mounted at `{}`", on->fstype, on->source, on->target) : "mount id unknown"));
    }
    // A mount attached under a shared mount is copied to every peer of it: the host, or other
    // containers. The hook's own namespace is exempt: a host path placed there is meant to be
    // seen on the host.
    if (on && on->propagation.find("shared:") != std::string::npos &&
        process.mount_ns_inode() != own_mount_ns_inode()) {
        throw core::Error(fmt::format("{} lies on the mount `{}` in the mount namespace of pid {}, which is shared "
                                      "({}): the volume would propagate to its peers (the host or other containers); "
                                      "make the container's root propagation slave or private",
                                      plan.display, on->target, process.pid(), on->propagation));
    }
    return false;
}

core::UniqueFd open_source(const std::string& path, struct stat& st) {
    if (path.empty() || path[0] != '/') {
        throw core::InputError("source", path, "must be an absolute host path");
    }
    // O_NOFOLLOW|O_DIRECTORY: a symlink as the last component fails (ENOTDIR) rather than
    // being followed; the source is the host's own directory, never something a link picks.
    core::UniqueFd fd(sys::openat2(AT_FDCWD, path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW, RESOLVE_NO_MAGICLINKS));
    if (!fd) {
        core::throw_errno("open", path);
    }
    if (::fstat(fd.get(), &st) != 0) {
        core::throw_errno("fstat", path);
    }
    return fd;
}

// The clone is made and given its final attributes while it is detached: nobody can see it,
// and no window exists in which the container holds a writable or propagating mount.
core::UniqueFd clone_source(int src, const std::string& path, const BindOptions& o) {
    core::UniqueFd tree(sys::open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH));
    if (!tree) {
        core::throw_errno("open_tree", path);
    }
    mount_attr attr{};
    attr.attr_set = (o.read_only ? MOUNT_ATTR_RDONLY : 0U) | (o.nosuid ? MOUNT_ATTR_NOSUID : 0U) |
                    (o.nodev ? MOUNT_ATTR_NODEV : 0U);
    // A clone of a shared mount joins its peer group; without this, mounts made later inside
    // the volume (in the container) would appear on the host and in every peer.
    attr.propagation = MS_PRIVATE;
    if (sys::mount_setattr(tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr) != 0) {
        core::throw_errno("mount_setattr", path);
    }
    return tree;
}

unsigned long ms_flags(const BindOptions& o) {
    unsigned long f = 0;
    f |= o.read_only ? static_cast<unsigned long>(MS_RDONLY) : 0UL;
    f |= o.nosuid ? static_cast<unsigned long>(MS_NOSUID) : 0UL;
    f |= o.nodev ? static_cast<unsigned long>(MS_NODEV) : 0UL;
    return f;
}

void send_word(int fd, char word) {
    if (::send(fd, &word, 1, MSG_NOSIGNAL) != 1) {
        core::throw_errno("send", "the placing child");
    }
}

// What the parent prepares for one bind before fork(): the plan, the source opened on the host
// and, for detached_clone, its clone with its final attributes.
struct Prepared {
    detail::ResolvePlan plan;
    core::UniqueFd source;
    core::UniqueFd tree;
    struct stat st {};
};

} // namespace

void place_binds(const ProcessHandle& process, const std::vector<Bind>& binds, PlaceProgress& progress,
                 const KernelFeatures& features) {
    const BindMethod method = choose_bind_method(features);
    // Everything that can fail on the host side fails here, before any child exists.
    std::vector<Prepared> prepared(binds.size());
    std::vector<detail::ChildItem> items(binds.size());
    for (std::size_t i = 0; i < binds.size(); ++i) {
        progress.at = i;
        const Bind& b = binds[i];
        Prepared& p = prepared[i];
        p.plan = detail::plan_resolution(b.target);
        p.source = open_source(b.source, p.st);
        if (method == BindMethod::detached_clone) {
            p.tree = clone_source(p.source.get(), b.source, b.options);
        }
        items[i] = detail::ChildItem{.plan = &p.plan,
                                     .tree = p.tree.get(),
                                     .source = b.source.c_str(),
                                     .source_dev = p.st.st_dev,
                                     .source_ino = p.st.st_ino,
                                     .remount_flags = ms_flags(b.options)};
    }
    if (binds.empty()) {
        return;
    }
    // One child for the whole batch: it enters the namespace once and places the binds in order,
    // each resolved, checked here and attached on this process's word.
    Channel ch = make_channel();
    const core::UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    const detail::ChildJob job{.mnt_ns = process.mount_ns(),
                               .method = method,
                               .items = items.data(),
                               .count = items.size(),
                               .channel = ch.child.get(),
                               .parent_end = ch.parent.get(),
                               .devnull = devnull.get(),
                               .parent = ::getpid()};
    process.require_alive("before the mount was placed");
    const pid_t pid = ::fork();
    if (pid < 0) {
        core::throw_errno("fork");
    }
    if (pid == 0) {
        detail::run_child(job);
    }
    Child child(pid);
    ch.child.reset();
    for (std::size_t i = 0; i < binds.size(); ++i) {
        progress.at = i;
        const auto& plan = prepared[i].plan;
        const auto resolved = receive(ch.parent.get());
        if (!resolved) {
            throw core::Error(fmt::format("placing {}: the child process died before reporting", plan.display));
        }
        if (resolved->step != Step::none) {
            throw_step(*resolved, plan, binds[i].source, method, process.pid());
        }
        if (already_placed(process, *resolved, plan)) {
            send_word(ch.parent.get(), 's');
            ++progress.placed;
            continue;
        }
        if (binds[i].options.before_attach) {
            binds[i].options.before_attach();
        }
        process.require_alive("before the mount was attached");
        send_word(ch.parent.get(), 'g');
        const auto attached = receive(ch.parent.get());
        if (!attached) {
            throw core::Error(fmt::format("placing {}: the child process died while attaching", plan.display));
        }
        if (attached->step != Step::none) {
            throw_step(*attached, plan, binds[i].source, method, process.pid());
        }
        process.require_alive("after the mount was attached (the mount went with its namespace)");
        ++progress.placed;
    }
    child.wait();
}

void place_bind(const ProcessHandle& process, const std::string& host_source, const Target& target,
                const BindOptions& options, const KernelFeatures& features) {
    PlaceProgress progress;
    place_binds(process, {Bind{host_source, target, options}}, progress, features);
}

} // namespace dvdi::ns
