#include "lib/volumes/placement.hpp"

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
    if (relative) {
        throw core::InputError(r.origin.empty() ? "container path" : r.origin, path,
                               "a container path must be absolute here (there is no sandbox or root)");
    }
    ns::Target t;
    t.path = path;
    t.host_create_prefixes = root.auto_create_prefixes;
    return t;
}

Placer make_placer(const ns::ProcessHandle& process, ContainerRoot root) {
    return [&process, root = std::move(root)](const Request& r, const std::string& mountpoint) {
        const auto target = target_for(r, mountpoint, root);
        if (!target) {
            return mountpoint;
        }
        ns::BindOptions options;
        options.read_only = r.mode == Mode::ro;
        ns::place_bind(process, mountpoint, *target, options);
        return target->path;
    };
}

} // namespace dvdi::volumes
