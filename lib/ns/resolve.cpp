#include "lib/ns/resolve.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include <fmt/format.h>

#include "lib/core/error.hpp"
#include "lib/ns/sys.hpp"

namespace dvdi::ns::detail {

namespace {

// openat2 returns EAGAIN when a rename or mount raced with a RESOLVE_IN_ROOT/BENEATH walk
// (the kernel cannot prove it stayed inside). pathrs-lite retries 128 times; so do we.
constexpr int kOpenRetries = 128;

std::vector<std::string> split(const std::string& field, const std::string& path) {
    if (path.find('\0') != std::string::npos) {
        throw core::InputError(field, path, "a path cannot contain NUL");
    }
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i <= path.size()) {
        const auto j = std::min(path.find('/', i), path.size());
        std::string c = path.substr(i, j - i);
        if (c == "..") {
            throw core::InputError(field, path, "a path cannot contain '..'");
        }
        if (!c.empty() && c != ".") {
            out.push_back(std::move(c));
        }
        i = j + 1;
    }
    return out;
}

std::string join(const std::vector<std::string>& c, std::size_t from, std::size_t to) {
    std::string s;
    for (auto k = from; k < to; ++k) {
        s += (s.empty() ? "" : "/") + c[k];
    }
    return s.empty() ? "." : s;
}

std::string absolute(const std::string& field, const std::string& path) {
    if (path.empty() || path[0] != '/') {
        throw core::InputError(field, path, "must be an absolute path");
    }
    const auto c = split(field, path);
    return c.empty() ? "/" : "/" + join(c, 0, c.size());
}

// How many components of `comps` the absolute prefix `raw` covers, or nullopt when `comps`
// does not lie at or under it.
std::optional<std::size_t> covered_by(const std::string& raw, const std::vector<std::string>& comps) {
    const auto pre = split("prefix", absolute("prefix", raw));
    if (pre.size() <= comps.size() && std::equal(pre.begin(), pre.end(), comps.begin())) {
        return pre.size();
    }
    return std::nullopt;
}

// The walk from `prefix`, beneath it: a symlink planted under /tmp cannot send it elsewhere.
void plan_beneath(const std::string& prefix, std::size_t covered, std::vector<std::string>& comps, ResolvePlan& p) {
    p.base = absolute("prefix", prefix);
    // The prefix itself without symlinks: one under a directory others can write (a
    // /tmp/vols made a symlink to /etc by a local user) must not move the walk's base.
    p.base_resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    p.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    p.components.assign(comps.begin() + static_cast<std::ptrdiff_t>(covered), comps.end());
}

// A host path (no root): created only below a configured prefix, and then walked with
// RESOLVE_BENEATH from that prefix. With target.host_prefixes set, it must lie under one of
// them (or of the creation prefixes) and is walked beneath it too; unset, outside every
// creation prefix it is resolved as the host resolves it and never created.
void plan_host_path(const Target& t, std::vector<std::string> comps, ResolvePlan& p) {
    const std::string path = absolute("target path", t.path);
    p.display = fmt::format("`{}`", path);
    for (const auto& raw : t.host_create_prefixes) {
        if (const auto n = covered_by(raw, comps)) {
            plan_beneath(raw, *n, comps, p);
            p.create = true;
            return;
        }
    }
    p.host_path_outside_prefixes = true;
    if (t.host_prefixes) {
        for (const auto* list : {&*t.host_prefixes, &t.host_create_prefixes}) {
            for (const auto& raw : *list) {
                if (const auto n = covered_by(raw, comps)) {
                    plan_beneath(raw, *n, comps, p);
                    return;
                }
            }
        }
        throw core::InputError("target path", path,
                               "a host path must lie under an allowed host prefix (host_path_prefixes or "
                               "auto_create_prefixes of the configuration)");
    }
    p.base = "/";
    p.resolve = RESOLVE_NO_MAGICLINKS;
    p.components = std::move(comps);
}

} // namespace

ResolvePlan plan_resolution(const Target& t) {
    ResolvePlan p;
    auto comps = split("target path", t.path);
    if (t.root) {
        p.base = absolute("target root", *t.root);
        // IN_ROOT: every "/" and ".." the walk meets, in the path or in a symlink of the image,
        // is taken relative to base, so the walk cannot leave it. NO_MAGICLINKS: no
        // /proc/self/fd/N-style jumps (a rootfs may hold a procfs).
        p.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
        p.components = std::move(comps);
        p.create = true;
        p.display = fmt::format("`{}` inside `{}`", t.path, p.base);
    } else {
        plan_host_path(t, std::move(comps), p);
    }
    for (std::size_t k = 0; k <= p.components.size(); ++k) {
        p.prefixes.push_back(join(p.components, 0, k));
    }
    return p;
}

int openat2_retry(int dfd, const char* path, std::uint64_t flags, std::uint64_t resolve) noexcept {
    int fd = -1;
    for (int i = 0; i < kOpenRetries; ++i) {
        fd = sys::openat2(dfd, path, flags, resolve);
        if (fd >= 0 || errno != EAGAIN) {
            break;
        }
    }
    return fd;
}

namespace {

int fail(int fd, int err) noexcept {
    if (fd >= 0) {
        ::close(fd);
    }
    errno = err;
    return -1;
}

// The longest existing prefix of the path, resolved from base. Shorter prefixes are only tried
// when creation is allowed; k then tells how many components exist.
int deepest_existing(const ResolvePlan& p, bool create, int base, std::size_t& k) noexcept {
    k = p.components.size();
    for (;;) {
        const int fd = openat2_retry(base, p.prefixes[k].c_str(), O_PATH | O_DIRECTORY, p.resolve);
        if (fd >= 0 || errno != ENOENT || !create || k == 0) {
            return fd;
        }
        --k;
    }
}

} // namespace

int resolve_in_ns(const ResolvePlan& p, bool create, Step& step) noexcept {
    step = Step::open_root;
    const int base = openat2_retry(AT_FDCWD, p.base.c_str(), O_PATH | O_DIRECTORY,
                                   p.base_resolve != 0 ? p.base_resolve : RESOLVE_NO_MAGICLINKS);
    if (base < 0) {
        return -1;
    }
    step = Step::resolve_target;
    std::size_t k = 0;
    int cur = deepest_existing(p, create && p.create, base, k);
    if (cur < 0) {
        return fail(base, errno);
    }
    ::close(base);
    step = Step::create_target;
    for (; k < p.components.size(); ++k) {
        const char* name = p.components[k].c_str();
        // EEXIST is fine: someone (a racer) made it first. The open below decides whether it
        // is usable: a directory right here, not a symlink, not beyond this fd.
        if (::mkdirat(cur, name, 0755) != 0 && errno != EEXIST) {
            return fail(cur, errno);
        }
        const int next = openat2_retry(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW,
                                       RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        if (next < 0) {
            return fail(cur, errno);
        }
        ::close(cur);
        cur = next;
    }
    return cur;
}

} // namespace dvdi::ns::detail
