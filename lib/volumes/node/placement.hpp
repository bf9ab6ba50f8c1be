// Where a container's volumes go (SPEC S3): from a request and the driver's mountpoint to a
// target inside the container, placed with lib/ns.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lib/ns/ns.hpp"
#include "lib/volumes/requests/request.hpp"

namespace dvdi::volumes {

/// One volume to place: what was asked, and where the driver mounted it.
struct PlaceItem {
    const Request* request = nullptr;
    std::string mountpoint;
};

/// Places a container's volumes inside it, in order, all at once; returns where each went (for
/// the record), "" for one it placed nothing for yet (Mesos prepare: attach places it later).
/// Sets `at` to the item it is working on, so that when it throws, `at` names the volume that
/// failed (the ones before it may be placed: the caller's rollback releases them). The front
/// end supplies it (make_placer in production: one child process for all the volumes).
using Placer = std::function<std::vector<std::string>(const std::vector<PlaceItem>& items, std::size_t& at)>;

/// A Placer that places one volume at a time with `one`, which returns where it went (tests;
/// holders that place nothing).
[[nodiscard]] Placer place_each(std::function<std::string(const Request&, const std::string& mountpoint)> one);

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
    /// A tenant's host path (a Mesos task without an image) must lie under these or
    /// auto_create_prefixes (core::Config::host_path_prefixes); unset: any (the operator's own).
    std::optional<std::vector<std::string>> host_path_prefixes;

    /// The container sees the host's root file system (a Mesos task without an image, a host
    /// process): what is placed there is nosuid,nodev, so a tenant's volume cannot bring a
    /// setuid binary or a device node to the host's file system tree.
    [[nodiscard]] bool shares_host_root() const {
        return kind == Kind::host || (kind == Kind::mesos && rootfs.empty());
    }
};

/// The target of `request` once the driver mounted it at `mountpoint`; nullopt when there is
/// nothing to place (a Mesos container without a rootfs that names no container path already
/// sees the mountpoint at the same place). Throws core::InputError naming the request's path
/// field for a relative container path where only absolute ones make sense, and for a host
/// path outside root.host_path_prefixes (when set) and root.auto_create_prefixes.
[[nodiscard]] std::optional<ns::Target> target_for(const Request& request, const std::string& mountpoint,
                                                   const ContainerRoot& root);

/// The checks target_for makes that need no mountpoint, for every request with a container
/// path, before any driver call: a relative path without a sandbox, a tenant's host path
/// outside the allowed prefixes. Throws core::InputError naming the request's path field.
void check_targets(const std::vector<Request>& requests, const ContainerRoot& root);

/// A Placer for Node::acquire that binds each volume into `process`'s mount namespace (read-only
/// for RO requests; nosuid,nodev when root.shares_host_root()), all with one ns::place_binds.
/// `process` must outlive the placer.
[[nodiscard]] Placer make_placer(const ns::ProcessHandle& process, ContainerRoot root);

} // namespace dvdi::volumes
