#include "lib/volumes/node/placement.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "lib/core/core.hpp"

namespace dvdi::volumes {

namespace {

// Mesos puts the sandbox of a container with an image at this path inside its rootfs.
constexpr std::string_view kMesosSandboxInRootfs = "/mnt/mesos/sandbox";

ns::Target in_root(std::string root, std::string path) {
    ns::Target t;
    t.root = std::move(root);
    t.path = std::move(path);
    return t;
}

// Lexically at or under `prefix` (both absolute; the path is normalised by the readers).
bool under_any(const std::string& path, const std::vector<std::string>& prefixes) {
    return std::any_of(prefixes.begin(), prefixes.end(), [&](std::string prefix) {
        while (prefix.size() > 1 && prefix.back() == '/') {
            prefix.pop_back();
        }
        return prefix == "/" || path == prefix || (path.starts_with(prefix) && path[prefix.size()] == '/');
    });
}

std::string listed(const std::vector<std::string>& v) {
    return v.empty() ? "none" : fmt::format("{}", fmt::join(v, ", "));
}

// `--log-level debug`: one line per volume placed (or not) in a container.
void log_placement(const ns::ProcessHandle& process, const Request& r, const ns::Bind& bind, std::string_view outcome) {
    core::log::debug("placement of {}: {} at {}{} in pid {} (mount namespace {}), {}: {}", r.key(),
                     core::quote(bind.source, 4096), core::quote(bind.target.path, 4096),
                     bind.target.root ? " inside " + core::quote(*bind.target.root, 4096) : std::string(),
                     process.pid(), process.mount_ns_inode(), r.mode == Mode::ro ? "ro" : "rw", outcome);
}

void log_placements(const ns::ProcessHandle& process, const std::vector<PlaceItem>& items,
                    const std::vector<ns::Bind>& binds, const std::vector<std::size_t>& item_of,
                    const ns::PlaceProgress& progress, const char* error) {
    if (!core::log::enabled(core::log::Level::debug)) {
        return;
    }
    for (std::size_t k = 0; k < binds.size(); ++k) {
        const bool failed = error != nullptr && k == progress.at;
        if (error != nullptr && k > progress.at) {
            break;
        }
        log_placement(process, *items[item_of[k]].request, binds[k],
                      failed ? fmt::format("failed: {}", error) : std::string("ok"));
    }
}

} // namespace

std::optional<ns::Target> target_for(const Request& r, const std::string& mountpoint, const ContainerRoot& root) {
    // Without a container path (env form), the volume goes where the driver mounted it, at the
    // same place inside the container (tasks written for mesos-module-dvdi expect that).
    const std::string path = r.container_path.value_or(mountpoint);
    const bool relative = !path.empty() && path.front() != '/';
    switch (root.kind) {
    case ContainerRoot::Kind::oci:
        return in_root(root.rootfs, path);
    case ContainerRoot::Kind::mesos:
        if (relative) {
            if (!root.rootfs.empty()) {
                return in_root(root.rootfs, fmt::format("{}/{}", kMesosSandboxInRootfs, path));
            }
            return in_root(root.sandbox, path);
        }
        if (!root.rootfs.empty()) {
            return in_root(root.rootfs, path);
        }
        if (!r.container_path) {
            return std::nullopt;
        }
        break;
    case ContainerRoot::Kind::host:
        break;
    }
    const std::string field = r.path_origin().empty() ? "container path" : r.path_origin();
    if (relative) {
        throw core::InputError(field, path, "a container path must be absolute here (there is no sandbox or root)");
    }
    ns::Target t;
    t.path = path;
    t.host_create_prefixes = root.auto_create_prefixes;
    t.host_prefixes = root.host_path_prefixes;
    if (t.host_prefixes && !under_any(path, *t.host_prefixes) && !under_any(path, t.host_create_prefixes)) {
        // The task shares the host's root file system: a volume over /etc (a tenant's pam.d
        // under the host's setuid su) would give it the host.
        throw core::InputError(field, path,
                               fmt::format("a task without an image can place a volume only under the host paths the "
                                           "node's operator allows (host_path_prefixes: {}; auto_create_prefixes: {})",
                                           listed(*t.host_prefixes), listed(t.host_create_prefixes)));
    }
    return t;
}

void check_targets(const std::vector<Request>& requests, const ContainerRoot& root) {
    for (const Request& r : requests) {
        if (r.container_path) {
            (void)target_for(r, "", root);
        }
    }
}

Placer place_each(std::function<std::string(const Request&, const std::string&)> one) {
    return [one = std::move(one)](const std::vector<PlaceItem>& items, std::size_t& at) {
        std::vector<std::string> targets;
        for (at = 0; at < items.size(); ++at) {
            targets.push_back(one(*items[at].request, items[at].mountpoint));
        }
        return targets;
    };
}

namespace {

// Called in a catch block of make_placer: sets `at` to the volume whose bind failed and throws
// again, a file where the request wants its volume as the request's own error.
[[noreturn]] void rethrow_for(const std::vector<PlaceItem>& items, const std::vector<std::size_t>& item_of,
                              const ns::PlaceProgress& progress, std::size_t& at) {
    at = item_of.at(progress.at);
    try {
        throw;
    } catch (const ns::TargetNotDirectory&) {
        // The image (or the sandbox) has a file where the request wants its volume: the
        // request's container path field is what to change.
        const Request& r = *items[at].request;
        throw core::InputError(r.path_origin(), r.container_path.value_or(items[at].mountpoint),
                               "is a file, not a directory, in the container: a volume is placed on a directory "
                               "(one that exists, or a path the hook can create)");
    }
}

} // namespace

Placer make_placer(const ns::ProcessHandle& process, ContainerRoot root) {
    return [&process, root = std::move(root)](const std::vector<PlaceItem>& items, std::size_t& at) {
        std::vector<std::string> targets(items.size());
        std::vector<ns::Bind> binds;
        std::vector<std::size_t> item_of; // binds[k] places items[item_of[k]]
        for (at = 0; at < items.size(); ++at) {
            const Request& r = *items[at].request;
            const auto target = target_for(r, items[at].mountpoint, root);
            if (!target) {
                targets[at] = items[at].mountpoint;
                continue;
            }
            ns::BindOptions options;
            options.read_only = r.mode == Mode::ro;
            options.nosuid = root.shares_host_root();
            options.nodev = root.shares_host_root();
            targets[at] = target->path;
            binds.push_back(ns::Bind{items[at].mountpoint, *target, options});
            item_of.push_back(at);
        }
        ns::PlaceProgress progress;
        try {
            ns::place_binds(process, binds, progress);
            log_placements(process, items, binds, item_of, progress, nullptr);
        } catch (const std::exception& e) {
            log_placements(process, items, binds, item_of, progress, e.what());
            rethrow_for(items, item_of, progress, at);
        }
        return targets;
    };
}

} // namespace dvdi::volumes
