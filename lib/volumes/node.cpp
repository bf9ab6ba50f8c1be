// Reference counting, intents and rollback. Two kinds of lock: the store lock, held only while
// the state file is read and rewritten (never across a driver call), and one lock per volume,
// held across that volume's driver calls. So calls for one volume never overlap, and a slow
// attach of one volume stalls nobody who needs another.
#include "lib/volumes/node.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>

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

Node::Node(StateStore& store, DriverSet& drivers, StepObserver observer)
    : store_(store), drivers_(drivers), observer_(std::move(observer)) {}

void Node::notify(Step step, const VolumeKey& key) const {
    if (observer_) {
        observer_(step, key);
    }
}

void Node::acquire(const ContainerRef& container, const std::vector<Request>& requests, const Placer& place) {
    store_.transact([&](State& s) {
        if (s.find_container(container.id) != nullptr) {
            throw core::InputError("container", container.id, "already holds volumes on this node");
        }
        s.containers.push_back(
            ContainerRecord{container.id, container.runtime, container.process, ContainerStatus::acquiring, {}});
    });
    std::vector<std::string> taken;
    for (const auto& r : requests) {
        try {
            const std::string mountpoint = take(container, r);
            taken.push_back(describe(r.key()));
            notify(Step::before_place, r.key());
            const std::string target = place(r, mountpoint);
            notify(Step::after_place, r.key());
            store_.transact([&](State& s) {
                if (ContainerRecord* c = s.find_container(container.id)) {
                    for (auto& p : c->volumes) {
                        if (p.key == r.key()) {
                            p.target = target;
                            p.placed = !target.empty();
                        }
                    }
                }
            });
        } catch (const std::exception& e) {
            std::string released = taken.empty()
                                       ? "no other volume was taken"
                                       : fmt::format("released the volumes already taken ({})", fmt::join(taken, ", "));
            try {
                release(container.id);
            } catch (const std::exception& f) {
                // The state cannot be changed (full disk, read-only, damaged): what is recorded
                // for the container stays for gc, which releases it once its process is gone.
                released = fmt::format("releasing the container's volumes failed too ({}); gc finishes it", f.what());
            }
            throw core::Error(fmt::format("volume {} ({}): {}; {}", describe(r.key()), r.origin, e.what(), released));
        }
    }
    store_.transact([&](State& s) {
        if (ContainerRecord* c = s.find_container(container.id)) {
            c->status = ContainerStatus::active;
        }
    });
}

std::string Node::take(const ContainerRef& container, const Request& r) {
    const VolumeKey key = r.key();
    const auto volume_lock = store_.lock_volume(key);
    // Holding the volume lock, a volume still marked mounting/unmounting was left so by a hook
    // that died: finish or undo that first.
    if (const auto* v = store_.read().find_volume(key);
        v != nullptr && (v->status == VolumeStatus::mounting || v->status == VolumeStatus::unmounting)) {
        resolve_interrupted(key, nullptr);
    }
    std::string mountpoint;
    std::string mount_id;
    store_.transact([&](State& s) {
        ContainerRecord* c = s.find_container(container.id);
        if (c == nullptr) {
            throw core::Error(fmt::format("container {} was released while it was starting", container.id));
        }
        if (VolumeRecord* v = s.find_volume(key)) {
            // Already mounted on the node (or its last Unmount failed, so the driver still
            // holds it under the same ID): one more user, no driver call.
            v->status = VolumeStatus::mounted;
            v->users.push_back(container.id);
            mountpoint = v->mountpoint;
            c->volumes.push_back(Placement{key, "", false, r.container_path, r.mode});
            return;
        }
        mount_id = new_mount_id();
        s.volumes.push_back(VolumeRecord{key, mount_id, "", r.options, VolumeStatus::mounting, {}, self_process(), ""});
    });
    if (mount_id.empty()) {
        return mountpoint;
    }
    notify(Step::before_mount, key);
    bool mount_sent = false;
    try {
        Driver& driver = drivers_.get(r.driver);
        driver.ensure_exists(r.name, r.options, r.explicit_create);
        mount_sent = true;
        mountpoint = driver.mount(r.name, mount_id);
        if (mountpoint.empty() || mountpoint.front() != '/') {
            driver.unmount(r.name, mount_id);
            throw DriverError(fmt::format("driver {}: Mount of {} returned {}, not an absolute path", r.driver,
                                          core::quote(r.name), core::quote(mountpoint)));
        }
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
    notify(Step::after_mount, key);
    bool orphaned = false;
    try {
        store_.transact([&](State& s) {
            VolumeRecord* v = s.find_volume(key);
            ContainerRecord* c = s.find_container(container.id);
            if (v == nullptr) {
                throw core::Error("its record is gone from the state");
            }
            v->mountpoint = mountpoint;
            orphaned = c == nullptr;
            if (orphaned) {
                // gc released the container meanwhile (its process died): nobody holds the volume.
                v->status = VolumeStatus::unmounting;
                return;
            }
            v->status = VolumeStatus::mounted;
            v->users.push_back(container.id);
            c->volumes.push_back(Placement{key, "", false, r.container_path, r.mode});
        });
    } catch (const std::exception& e) {
        throw core::Error(fmt::format("{} (after the driver's Mount: {})", e.what(),
                                      undo_mount(store_, drivers_.get(r.driver), key, mount_id)));
    }
    if (orphaned) {
        unmount_locked(key, mount_id);
        throw core::Error(fmt::format("container {} was released while it was starting", container.id));
    }
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
    std::vector<VolumeKey> keys;
    bool known = false;
    store_.transact([&](State& s) {
        if (ContainerRecord* c = s.find_container(container_id)) {
            known = true;
            c->status = ContainerStatus::releasing;
            for (const auto& p : c->volumes) {
                keys.push_back(p.key);
            }
        }
    });
    if (!known) {
        return false;
    }
    std::reverse(keys.begin(), keys.end());
    for (const auto& key : keys) {
        put(container_id, key);
    }
    store_.transact([&](State& s) { s.erase_container(container_id); });
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
            v->intent_by = self_process();
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
        store_.transact([&](State& s) { s.erase_volume(key); });
    } catch (const std::exception& e) {
        core::log::warn("unmounting volume {}: {} (gc retries it)", describe(key), e.what());
        store_.transact([&](State& s) {
            if (VolumeRecord* v = s.find_volume(key)) {
                v->status = VolumeStatus::unmount_failed;
                v->last_error = e.what();
            }
        });
    }
}

} // namespace dvdi::volumes
