// Reference counting: release, attach, put. (acquire.cpp: acquire and its rollback; gc.cpp:
// recovery; hold.cpp: holders that are not containers.) Two kinds of lock: the store's
// transactions, each over the few rows it names and never held across a driver call, and one
// lock per volume, held across that volume's driver calls. An acquire or a release takes the locks of all its
// container's volumes at once (in one order, so hooks never wait in a circle) and holds them
// across its driver calls and their records, so that it writes the state once per phase rather
// than once per step of each volume; it lets them go before placing the volumes. Calls for one volume
// never overlap, and a slow Mount stalls only the hooks that need one of the same volumes.
#include "lib/volumes/node/node.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <ctime>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "lib/core/core.hpp"

namespace dvdi::volumes {

namespace {

void erase_user(VolumeRecord& v, const std::string& id) {
    std::erase(v.users, id);
}

} // namespace

std::string new_mount_id(std::string_view node, std::string_view container) {
    unsigned char bytes[32];
    const std::size_t want = node.empty() ? sizeof bytes : 16;
    std::size_t got = 0;
    while (got < want) {
        const ssize_t n = ::getrandom(bytes + got, want - got, 0);
        if (n < 0 && errno != EINTR) {
            core::throw_errno("getrandom");
        }
        got += n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    std::string id;
    if (!node.empty()) {
        id = fmt::format("{}:", node);
        for (const char ch : container.substr(0, 12)) {
            const bool plain = std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '.' || ch == '_' || ch == '-';
            id += plain ? ch : '_';
        }
        id += ':';
    }
    for (std::size_t i = 0; i < want; ++i) {
        id += fmt::format("{:02x}", bytes[i]);
    }
    return id;
}

NodeSettings NodeSettings::from(const core::Config& config) {
    const auto& t = config.timeouts;
    return NodeSettings{.mountpoints = MountpointPolicy(config),
                        .mount_window = t.create + t.mount + 2 * t.retry_budget,
                        .node = core::node_name(config)};
}

Node::Node(StateStore& store, DriverSet& drivers, StepObserver observer, NodeSettings settings)
    : store_(store), drivers_(drivers), observer_(std::move(observer)), settings_(std::move(settings)) {}

void Node::notify(Step step, const VolumeKey& key) const {
    if (observer_) {
        observer_(step, key);
    }
}

void Node::attach(const std::string& container_id, const ProcessId& process, const Placer& place) {
    const State s = store_.read(Scope{.containers = {container_id}, .their_volumes = true});
    if (s.containers.empty()) {
        throw core::Error(fmt::format("container {} holds no volumes on this node (was it prepared?)", container_id));
    }
    const ContainerRecord& container = s.containers.front();
    const Scope own{.containers = {container_id}};
    store_.transact(own, [&](State& st) {
        if (ContainerRecord* c = st.find_container(container_id)) {
            c->process = process;
        }
    });
    // The volumes not placed yet, placed at once, then recorded in one write.
    std::vector<Request> requests;
    std::vector<PlaceItem> items;
    for (const Placement& p : container.volumes) {
        if (p.placed) {
            continue;
        }
        Request r;
        r.driver = p.key.driver;
        r.name = p.key.name;
        r.container_path = p.container_path;
        r.mode = p.mode;
        r.origin = fmt::format("volume {}", p.key);
        const auto v = std::find_if(s.volumes.begin(), s.volumes.end(), [&](const auto& x) { return x.key == p.key; });
        if (v == s.volumes.end()) {
            throw core::Error(fmt::format("volume {} of container {} is not recorded", p.key, container_id));
        }
        requests.push_back(std::move(r));
        items.push_back(PlaceItem{nullptr, v->mountpoint});
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
        items[i].request = &requests[i];
    }
    if (items.empty()) {
        return;
    }
    std::size_t at = 0;
    const std::vector<std::string> targets = place(items, at);
    store_.transact(own, [&](State& st) {
        if (ContainerRecord* c = st.find_container(container_id)) {
            for (std::size_t i = 0; i < requests.size() && i < targets.size(); ++i) {
                for (auto& q : c->volumes) {
                    if (q.key == requests[i].key()) {
                        q.target = targets[i];
                        q.placed = true;
                    }
                }
            }
        }
    });
}

bool Node::release(const std::string& container_id) {
    // The locks of the container's volumes (its row says which), then a check that they are
    // still its volumes (its prestart, still running, may have added some meanwhile).
    const auto volumes_of = [&](const State& s) -> std::optional<std::vector<VolumeKey>> {
        for (const auto& c : s.containers) {
            if (c.id == container_id) {
                std::vector<VolumeKey> keys;
                for (const auto& p : c.volumes) {
                    keys.push_back(p.key);
                }
                return keys;
            }
        }
        return std::nullopt;
    };
    const Scope own{.containers = {container_id}};
    for (;;) {
        const auto keys = volumes_of(store_.read(own));
        if (!keys) {
            return false;
        }
        const auto volume_locks = store_.lock_volumes(*keys);
        if (volumes_of(store_.read(own)) == keys) {
            return release_locked(container_id);
        }
    }
}

// Two durable writes, whatever the number of volumes: (1) the container goes, and with it its
// use of each volume; each volume it was the last user of is marked unmounting; (2) after the
// Unmounts, the unmounted volumes go and the failed ones are kept for gc. Called with the locks
// of the container's volumes held.
bool Node::release_locked(const std::string& container_id) {
    bool known = false;
    std::vector<std::pair<VolumeKey, std::string>> to_unmount; // key, mount ID
    const ProcessId self = ns::self_process();
    store_.transact(Scope{.containers = {container_id}, .their_volumes = true}, [&](State& s) {
        to_unmount.clear();
        ContainerRecord* c = s.find_container(container_id);
        known = c != nullptr;
        if (!known) {
            return;
        }
        // The last taken first.
        for (auto p = c->volumes.rbegin(); p != c->volumes.rend(); ++p) {
            VolumeRecord* v = s.find_volume(p->key);
            if (v == nullptr) {
                continue;
            }
            erase_user(*v, container_id);
            if (v->users.empty() && v->status == VolumeStatus::mounted) {
                v->status = VolumeStatus::unmounting;
                v->intent_by = self;
                to_unmount.emplace_back(v->key, v->mount_id);
            }
        }
        s.erase_container(container_id);
    });
    if (!known) {
        return false;
    }
    std::vector<std::pair<VolumeKey, std::string>> failed;  // key, error
    std::vector<std::pair<VolumeKey, std::string>> refused; // the driver's own "no", among them
    for (const auto& [key, mount_id] : to_unmount) {
        notify(Step::before_unmount, key);
        try {
            drivers_.get(key.driver).unmount(key.name, mount_id);
        } catch (const DriverUnreachable& e) {
            core::log::warn("unmounting volume {}: {} (gc retries it)", key, e.what());
            failed.emplace_back(key, e.what());
        } catch (const std::exception& e) {
            failed.emplace_back(key, e.what());
            refused.emplace_back(key, e.what());
        }
    }
    if (to_unmount.empty()) {
        return true;
    }
    Scope unmounted;
    for (const auto& [key, mount_id] : to_unmount) {
        unmounted.volumes.push_back(key);
    }
    store_.transact(unmounted, [&](State& s) {
        for (const auto& [key, mount_id] : to_unmount) {
            VolumeRecord* v = s.find_volume(key);
            if (v == nullptr || v->mount_id != mount_id) {
                continue;
            }
            const auto f = std::find_if(failed.begin(), failed.end(), [&](const auto& x) { return x.first == key; });
            if (f == failed.end()) {
                s.erase_volume(key);
            } else {
                v->status = VolumeStatus::unmount_failed;
                v->note_error(f->second);
            }
        }
    });
    // A refused Unmount is settled now, as gc would (the driver's Path tells whether a mount
    // is left); an unreachable driver's is left for gc.
    for (const auto& [key, error] : refused) {
        settle_refused_unmount(key, error, nullptr);
    }
    return true;
}

void Node::put(const std::string& container_id, const VolumeKey& key) {
    const auto volume_lock = store_.lock_volume(key);
    std::string mount_id;
    store_.transact(Scope{.volumes = {key}, .containers = {container_id}}, [&](State& s) {
        if (ContainerRecord* c = s.find_container(container_id)) {
            std::erase_if(c->volumes, [&](const Placement& p) { return p.key == key; });
        }
        VolumeRecord* v = s.find_volume(key);
        if (v == nullptr) {
            return;
        }
        erase_user(*v, container_id);
        if (v->users.empty() && v->status == VolumeStatus::mounted) {
            v->status = VolumeStatus::unmounting;
            v->intent_by = ns::self_process();
            mount_id = v->mount_id;
        }
    });
    if (!mount_id.empty()) {
        unmount_locked(key, mount_id);
    }
}

// Called with the volume lock held and the record already marked `unmounting`.
void Node::unmount_locked(const VolumeKey& key, const std::string& mount_id) {
    notify(Step::before_unmount, key);
    try {
        drivers_.get(key.driver).unmount(key.name, mount_id);
    } catch (const DriverUnreachable& e) {
        core::log::warn("unmounting volume {}: {} (gc retries it)", key, e.what());
        keep_unmount_failed(key, e.what());
        return;
    } catch (const std::exception& e) {
        settle_refused_unmount(key, e.what(), nullptr);
        return;
    }
    store_.transact(Scope{.volumes = {key}}, [&](State& s) { s.erase_volume(key); });
}

} // namespace dvdi::volumes
