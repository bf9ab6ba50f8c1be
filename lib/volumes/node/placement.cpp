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
        } catch (...) {
            at = item_of.at(progress.at);
            throw;
        }
        return targets;
    };
}

} // namespace dvdi::volumes
