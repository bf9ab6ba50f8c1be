// Holders that are not containers (dvdcli, manual mounts): "ensure mounted" and "ensure
// unmounted" over the same reference counts as containers.
#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "lib/core/core.hpp"
#include "lib/volumes/node/node.hpp"

namespace dvdi::volumes {

namespace {

// The per-volume locks of the store are keyed by (driver, name); a holder gets its own lock
// under a key no volume can have (a driver name never contains ':').
VolumeKey holder_lock_key(const std::string& holder) {
    return {"holder:", holder};
}

} // namespace

std::optional<std::string> held_mountpoint(const State& s, const std::string& holder, const VolumeKey& key) {
    const auto c = std::find_if(s.containers.begin(), s.containers.end(),
                                [&](const ContainerRecord& x) { return x.id == holder; });
    if (c == s.containers.end() || c->status != ContainerStatus::active) {
        return std::nullopt;
    }
    const auto v =
        std::find_if(s.volumes.begin(), s.volumes.end(), [&](const VolumeRecord& x) { return x.key == key; });
    if (v == s.volumes.end() || v->status != VolumeStatus::mounted || v->mountpoint.empty()) {
        return std::nullopt;
    }
    return v->mountpoint;
}

std::string Node::hold(const std::string& holder, const std::string& runtime, const Request& request,
                       const ProcessId& process, const Placer& place) {
    const auto lock = store_.lock_volume(holder_lock_key(holder));
    const Scope scope{.volumes = {request.key()}, .containers = {holder}};
    if (auto mountpoint = held_mountpoint(store_.read(scope), holder, request.key())) {
        return *mountpoint;
    }
    // A record left half done (a holder killed while mounting) is released first, so that the
    // acquire below starts clean.
    release(holder);
    if (!place) {
        std::string mountpoint;
        acquire({holder, runtime, ProcessId{}}, {request}, place_each([&](const Request&, const std::string& mp) {
                    mountpoint = mp;
                    return mp;
                }));
        return mountpoint;
    }
    acquire({holder, runtime, process}, {request}, place);
    if (auto mountpoint = held_mountpoint(store_.read(scope), holder, request.key())) {
        return *mountpoint;
    }
    throw core::Error(fmt::format("volume {} is not recorded after mounting it (did gc release it?)", request.key()));
}

bool Node::unhold(const std::string& holder) {
    const auto lock = store_.lock_volume(holder_lock_key(holder));
    return release(holder);
}

} // namespace dvdi::volumes
