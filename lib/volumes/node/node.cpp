// Reference counting, intents and rollback. Two kinds of lock: the store lock, held only while
// the state file is read and rewritten (never across a driver call), and one lock per volume,
// held across that volume's driver calls. An acquire or a release takes the locks of all its
// container's volumes at once (in one order, so hooks never wait in a circle) and holds them
// across its driver calls and their records, so that it writes the state once per phase rather
// than once per step of each volume; it lets them go before placing the volumes. Calls for one volume
// never overlap, and a slow Mount stalls only the hooks that need one of the same volumes.
#include "lib/volumes/node/node.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "lib/core/core.hpp"

namespace dvdi::volumes {

namespace {

std::string describe(const VolumeKey& key) {
    return fmt::format("{}/{}", key.driver, key.name);
}

void erase_user(VolumeRecord& v, const std::string& id) {
    std::erase(v.users, id);
}

// Drops the record of a volume whose Mount was refused or never sent. When the state cannot be
// written, the `mounting` intent stays: gc's Unmount is refused and it drops the record then.
void forget_volume(StateStore& store, const VolumeKey& key) {
    try {
        store.transact([&](State& s) { s.erase_volume(key); });
    } catch (const std::exception& e) {
        core::log::warn("volume {}: its record stays for gc ({})", describe(key), e.what());
    }
}

// The driver may hold a mount under `mount_id` that the state cannot be trusted to show: its
// Mount got no answer (it may have taken effect), or its outcome could not be written (full
// disk, read-only or damaged state file). Unmount it now, the volume lock still held, so nothing
// stays mounted without a record. When the driver answered, the record goes; when it cannot be
// written, or the driver is unreachable, the `mounting` intent stays and gc undoes it the same
// way (a driver that refuses the Unmount is taken at its word: it holds no such mount). Returns
// what happened, for the error message.
std::string undo_mount(StateStore& store, Driver& driver, const VolumeKey& key, const std::string& mount_id) {
    std::string done;
    try {
        driver.unmount(key.name, mount_id);
        done = "unmounted it again";
    } catch (const DriverUnreachable& e) {
        return fmt::format("unmounting it again failed too ({}); gc retries it", e.what());
    } catch (const std::exception& e) {
        done = fmt::format("the driver holds no mount of it ({})", e.what());
    }
    forget_volume(store, key);
    return done;
}

} // namespace

std::string new_mount_id() {
    unsigned char bytes[32];
    std::size_t got = 0;
    while (got < sizeof bytes) {
        const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
        if (n < 0 && errno != EINTR) {
            core::throw_errno("getrandom");
        }
        got += n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    std::string id;
    for (const unsigned char b : bytes) {
        id += fmt::format("{:02x}", b);
    }
    return id;
}

NodeSettings NodeSettings::from(const core::Config& config) {
    const auto& t = config.timeouts;
    return NodeSettings{.mountpoints = MountpointPolicy(config),
                        .mount_window = t.create + t.mount + 2 * t.retry_budget};
}

Node::Node(StateStore& store, DriverSet& drivers, StepObserver observer, NodeSettings settings)
    : store_(store), drivers_(drivers), observer_(std::move(observer)), settings_(std::move(settings)) {}

void Node::notify(Step step, const VolumeKey& key) const {
    if (observer_) {
        observer_(step, key);
    }
}

// One durable write per phase, whatever the number of volumes: (1) the container with a user
// for each volume mounted already and an intent for each other, (2) the Mounts' outcomes,
// (3) where each volume went. The container's volume locks are held until the Mounts are
// recorded, so no other hook changes these volumes in between.
void Node::acquire(const ContainerRef& container, const std::vector<Request>& requests, const Placer& place) {
    std::vector<VolumeKey> keys;
    for (const auto& r : requests) {
        keys.push_back(r.key());
    }
    auto volume_locks = store_.lock_volumes(keys);
    // Holding the volume locks, a volume still marked mounting/unmounting was left so by a hook
    // that died: finish or undo that first.
    // A volume whose last Unmount failed is retried (and settled) first too: it is never handed
    // to a new user while the driver may or may not hold it.
    for (const auto& v : store_.read().volumes) {
        if (std::find(keys.begin(), keys.end(), v.key) == keys.end()) {
            continue;
        }
        // Only what a hook that died left: a live hook's intent is its own (it holds the lock
        // unless the state was changed by hand), as gc judges it too.
        if ((v.status == VolumeStatus::mounting || v.status == VolumeStatus::unmounting) &&
            !ns::process_alive(v.intent_by)) {
            resolve_interrupted(v.key, nullptr);
        } else if (v.status == VolumeStatus::unmount_failed) {
            retry_unmount(v.key, nullptr);
        }
    }

    // Per request: the mount ID of a Mount this hook makes (empty: mounted already), and the
    // driver's mountpoint.
    std::vector<std::string> mount_ids(requests.size());
    std::vector<std::string> mountpoints(requests.size());
    const ProcessId self = ns::self_process();
    store_.transact([&](State& s) {
        if (s.find_container(container.id) != nullptr) {
            throw core::InputError("container", container.id, "already holds volumes on this node");
        }
        ContainerRecord c{container.id, container.runtime, container.process, ContainerStatus::acquiring, {}};
        for (std::size_t i = 0; i < requests.size(); ++i) {
            const Request& r = requests[i];
            c.volumes.push_back(Placement{r.key(), "", false, r.container_path, r.mode});
            mount_ids[i].clear();
            if (VolumeRecord* v = s.find_volume(r.key())) {
                if (v->status != VolumeStatus::mounted) {
                    // An interrupted Mount or a failed Unmount that could not be settled above
                    // (the driver is unreachable, still reports a mount it refuses to undo, or a
                    // dead hook's Mount may still land): whether the driver holds it is
                    // unknown, so it is not handed out. gc settles it first.
                    throw core::Error(fmt::format(
                        "volume {} ({}): an earlier {} of it is not settled ({}); gc retries it, then it can be "
                        "used again",
                        describe(r.key()), r.origin, v->status == VolumeStatus::mounting ? "mount" : "unmount",
                        v->last_error.empty() ? "no error recorded" : v->last_error));
                }
                // Already mounted on the node: one more user, no driver call.
                v->users.push_back(container.id);
                mountpoints[i] = v->mountpoint;
                continue;
            }
            mount_ids[i] = new_mount_id();
            s.volumes.push_back(VolumeRecord{
                r.key(), mount_ids[i], "", r.options, VolumeStatus::mounting, {}, self, "", std::time(nullptr)});
        }
        s.containers.push_back(std::move(c));
    });

    // After a failed step: releases what the container holds and says so, for the error.
    // `taken`: how many of its volumes (in request order) it held by then.
    const auto release_after_failure = [&](std::size_t taken) {
        std::vector<std::string> names;
        for (std::size_t k = 0; k < taken; ++k) {
            names.push_back(describe(requests[k].key()));
        }
        std::string released = names.empty()
                                   ? "no other volume was taken"
                                   : fmt::format("released the volumes already taken ({})", fmt::join(names, ", "));
        try {
            // Placing takes no lock: the volume locks go once the Mounts are recorded.
            volume_locks ? release_locked(container.id) : release(container.id);
        } catch (const std::exception& f) {
            // The state cannot be changed (full disk, read-only, damaged): what is recorded for
            // the container stays for gc, which releases it once its process is gone.
            released = fmt::format("releasing the container's volumes failed too ({}); gc finishes it", f.what());
        }
        return released;
    };
    const auto fail = [&](std::size_t i, const std::string& what, std::size_t taken) {
        return core::Error(fmt::format("volume {} ({}): {}; {}", describe(requests[i].key()), requests[i].origin, what,
                                       release_after_failure(taken)));
    };

    for (std::size_t i = 0; i < requests.size(); ++i) {
        if (mount_ids[i].empty()) {
            continue;
        }
        try {
            mountpoints[i] = mount(requests[i], mount_ids[i]);
        } catch (const std::exception& e) {
            // mount() settled the failed volume's record (dropped, or left `mounting` for gc
            // when its Mount's outcome is unknown): leave it be. The volumes mounted before it
            // are recorded as the container's, so that releasing it unmounts them; the intents
            // of those after it (never sent) are dropped.
            mount_ids[i].clear();
            try {
                record_mounts(container.id, requests, mount_ids, mountpoints, i);
            } catch (const std::exception& f) {
                throw core::Error(fmt::format("volume {} ({}): {}; recording the volumes mounted before it failed "
                                              "too ({}); gc undoes them",
                                              describe(requests[i].key()), requests[i].origin, e.what(), f.what()));
            }
            throw fail(i, e.what(), i);
        }
    }
    const bool mounted_any =
        std::any_of(mount_ids.begin(), mount_ids.end(), [](const auto& id) { return !id.empty(); });
    bool orphaned = false;
    try {
        orphaned = mounted_any && !record_mounts(container.id, requests, mount_ids, mountpoints, requests.size());
    } catch (const std::exception& e) {
        // The driver holds mounts the state cannot be trusted to show: undo them now.
        std::vector<std::string> names;
        std::vector<std::string> undone;
        for (std::size_t i = 0; i < requests.size(); ++i) {
            if (!mount_ids[i].empty()) {
                names.push_back(fmt::format("{} ({})", describe(requests[i].key()), requests[i].origin));
                undone.push_back(undo_mount(store_, drivers_.get(requests[i].driver), requests[i].key(), mount_ids[i]));
            }
        }
        throw core::Error(fmt::format("volume {}: {} (after the driver's Mount: {}); {}", fmt::join(names, ", "),
                                      e.what(), fmt::join(undone, "; "), release_after_failure(0)));
    }
    if (orphaned) {
        // The container's record is gone although its volume locks were held (a state changed
        // by hand): nobody holds what this hook mounted; record_mounts() marked those volumes
        // unmounting. (gc releasing a dying container waits for the locks, and so is met after
        // the placements, below.)
        for (std::size_t i = 0; i < requests.size(); ++i) {
            if (!mount_ids[i].empty()) {
                unmount_locked(requests[i].key(), mount_ids[i]);
            }
        }
        throw core::Error(fmt::format("container {} was released while it was starting", container.id));
    }

    // The driver calls are done and every volume is recorded with this container as a user, so
    // no other hook unmounts it: placing needs no volume lock, and hooks of other containers on
    // the same volumes need not wait for this one's placement.
    volume_locks.reset();

    std::vector<std::string> targets(requests.size());
    for (std::size_t i = 0; i < requests.size(); ++i) {
        try {
            notify(Step::before_place, requests[i].key());
            targets[i] = place(requests[i], mountpoints[i]);
            notify(Step::after_place, requests[i].key());
        } catch (const std::exception& e) {
            throw fail(i, e.what(), requests.size());
        }
    }
    bool present = false;
    try {
        store_.transact([&](State& s) {
            ContainerRecord* c = s.find_container(container.id);
            present = c != nullptr;
            if (!present) {
                return;
            }
            for (std::size_t i = 0; i < requests.size(); ++i) {
                for (auto& p : c->volumes) {
                    if (p.key == requests[i].key()) {
                        p.target = targets[i];
                        p.placed = !targets[i].empty();
                    }
                }
            }
            c->status = ContainerStatus::active;
        });
    } catch (const std::exception& e) {
        throw core::Error(fmt::format("recording where the volumes of container {} went: {}; {}", container.id,
                                      e.what(), release_after_failure(requests.size())));
    }
    if (!present) {
        // gc released it while its volumes were being placed (its process died): gc unmounted
        // what it alone held.
        throw core::Error(fmt::format("container {} was released while it was starting", container.id));
    }
}

// Records the Mounts this hook made for requests [0, end): each volume mounted at its
// mountpoint, the container one of its users; the intents this hook recorded for the others
// (never sent) are dropped. When the container is gone (gc released it meanwhile), marks the
// volumes it mounted unmounting instead and returns false.
bool Node::record_mounts(const std::string& container_id, const std::vector<Request>& requests,
                         const std::vector<std::string>& mount_ids, const std::vector<std::string>& mountpoints,
                         std::size_t end) {
    bool present = true;
    store_.transact([&](State& s) {
        present = s.find_container(container_id) != nullptr;
        for (std::size_t i = 0; i < requests.size(); ++i) {
            if (mount_ids[i].empty()) {
                continue;
            }
            VolumeRecord* v = s.find_volume(requests[i].key());
            if (i >= end) {
                if (v != nullptr && v->status == VolumeStatus::mounting && v->mount_id == mount_ids[i]) {
                    s.erase_volume(requests[i].key());
                }
                continue;
            }
            if (v == nullptr) {
                throw core::Error(
                    fmt::format("the record of volume {} is gone from the state", describe(requests[i].key())));
            }
            v->mountpoint = mountpoints[i];
            if (!present) {
                v->status = VolumeStatus::unmounting;
                continue;
            }
            v->status = VolumeStatus::mounted;
            v->users.push_back(container_id);
        }
    });
    return present;
}

// The driver's Mount of one volume whose `mounting` intent is recorded, its lock held. Returns
// the mountpoint. On failure the volume's record is settled before it throws: dropped when the
// Mount was refused or never sent, undone (or left for gc) when its outcome is unknown.
std::string Node::mount(const Request& r, const std::string& mount_id) {
    const VolumeKey key = r.key();
    notify(Step::before_mount, key);
    bool mount_sent = false;
    std::string mountpoint;
    try {
        Driver& driver = drivers_.get(r.driver);
        driver.ensure_exists(r.name, r.options, r.explicit_create);
        mount_sent = true;
        mountpoint = driver.mount(r.name, mount_id);
    } catch (const DriverUnreachable& e) {
        if (!mount_sent) {
            forget_volume(store_, key);
            throw;
        }
        throw DriverUnreachable(
            DriverError(fmt::format("{} ({})", e.what(), undo_mount(store_, drivers_.get(r.driver), key, mount_id))));
    } catch (...) {
        // A Mount the driver refused is never followed by an Unmount (Docker's rule): forget
        // the volume.
        forget_volume(store_, key);
        throw;
    }
    // The one place a Mountpoint is checked: here the ID is known, so a refused one is
    // unmounted again at the driver rather than left held under an ID nothing undoes.
    if (const auto why = settings_.mountpoints.refusal(r.driver, mountpoint)) {
        const std::string undone = undo_mount(store_, drivers_.get(r.driver), key, mount_id);
        throw DriverError(fmt::format("driver {}: Mount of {} returned the mountpoint {}, which is refused: {} ({})",
                                      r.driver, core::quote(r.name), core::quote(mountpoint), *why, undone));
    }
    notify(Step::after_mount, key);
    return mountpoint;
}

void Node::attach(const std::string& container_id, const ProcessId& process, const Placer& place) {
    const State s = store_.read();
    const auto it = std::find_if(s.containers.begin(), s.containers.end(),
                                 [&](const ContainerRecord& c) { return c.id == container_id; });
    if (it == s.containers.end()) {
        throw core::Error(fmt::format("container {} holds no volumes on this node (was it prepared?)", container_id));
    }
    store_.transact([&](State& st) {
        if (ContainerRecord* c = st.find_container(container_id)) {
            c->process = process;
        }
    });
    for (const Placement& p : it->volumes) {
        if (p.placed) {
            continue;
        }
        Request r;
        r.driver = p.key.driver;
        r.name = p.key.name;
        r.container_path = p.container_path;
        r.mode = p.mode;
        r.origin = fmt::format("volume {}", describe(p.key));
        const auto v = std::find_if(s.volumes.begin(), s.volumes.end(), [&](const auto& x) { return x.key == p.key; });
        if (v == s.volumes.end()) {
            throw core::Error(fmt::format("volume {} of container {} is not recorded", describe(p.key), container_id));
        }
        const std::string target = place(r, v->mountpoint);
        store_.transact([&](State& st) {
            if (ContainerRecord* c = st.find_container(container_id)) {
                for (auto& q : c->volumes) {
                    if (q.key == p.key) {
                        q.target = target;
                        q.placed = true;
                    }
                }
            }
        });
    }
}

bool Node::release(const std::string& container_id) {
    // The locks of the container's volumes, then a check that they are still its volumes (its
    // prestart, still running, may have added some meanwhile).
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
    for (;;) {
        const auto keys = volumes_of(store_.read());
        if (!keys) {
            return false;
        }
        const auto volume_locks = store_.lock_volumes(*keys);
        if (volumes_of(store_.read()) == keys) {
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
    store_.transact([&](State& s) {
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
            core::log::warn("unmounting volume {}: {} (gc retries it)", describe(key), e.what());
            failed.emplace_back(key, e.what());
        } catch (const std::exception& e) {
            failed.emplace_back(key, e.what());
            refused.emplace_back(key, e.what());
        }
    }
    if (to_unmount.empty()) {
        return true;
    }
    store_.transact([&](State& s) {
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
                v->last_error = f->second;
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
    store_.transact([&](State& s) {
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
        core::log::warn("unmounting volume {}: {} (gc retries it)", describe(key), e.what());
        keep_unmount_failed(key, e.what());
        return;
    } catch (const std::exception& e) {
        settle_refused_unmount(key, e.what(), nullptr);
        return;
    }
    store_.transact([&](State& s) { s.erase_volume(key); });
}

} // namespace dvdi::volumes
