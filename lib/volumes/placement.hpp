// Where a container's volumes go (SPEC S3): from a request and the driver's mountpoint to a
// target inside the container, placed with lib/ns.
#pragma once

#include <string>
#include <vector>

#include "lib/ns/ns.hpp"
#include "lib/volumes/node.hpp"
#include "lib/volumes/request.hpp"

namespace dvdi::volumes {

/// What the container's file system is, as the caller knows it.
struct ContainerRoot {
    enum class Kind {
        oci,   ///< `rootfs` is the bundle's root (absolute), the container path is inside it
        mesos, ///< `sandbox` is the host sandbox; `rootfs` is set for a container with an image
        host,  ///< no root: container paths are absolute paths in the process's namespace
    };
    Kind kind = Kind::oci;
    std::string rootfs;
    std::string sandbox;
    /// A missing host path (no root) is created only under these (core::Config).
    std::vector<std::string> auto_create_prefixes;
};

/// The target of `request` once the driver mounted it at `mountpoint`; nullopt when there is
/// nothing to place (a Mesos container without a rootfs that names no container path already
/// sees the mountpoint at the same place). Throws core::InputError for a relative container
/// path where only absolute ones make sense.
[[nodiscard]] std::optional<ns::Target> target_for(const Request& request, const std::string& mountpoint,
                                                   const ContainerRoot& root);

/// A Placer for Node::acquire that binds each volume into `process`'s mount namespace (read-only
/// for RO requests). `process` must outlive the placer.
[[nodiscard]] Placer make_placer(const ns::ProcessHandle& process, ContainerRoot root);

} // namespace dvdi::volumes
