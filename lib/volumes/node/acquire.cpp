// Node::acquire, as its phases over one row per requested volume:
//
//   settle      what dead hooks left on these volumes, and failed Unmounts  (volume locks held)
//   intents     write 1: the container, a user of each volume mounted already, an intent for
//               each other
//   mounts      the driver's Create and Mount of each volume not mounted yet
//   outcomes    write 2: each Mount's mountpoint, the container a user of it
//   --- the volume locks go: every volume is recorded with this container as a user, so no
//       other hook unmounts it, and placing needs no lock ---
//   place       each volume into the container (the front end's Placer)
//   placements  write 3: where each went; the container active
//
// When a phase fails, the Rollback releases what the container holds, and the error names the
// failed volume and what was released.
//
// The locking rule: the volume locks are flock()s on files of the state dir; a second lock of the
// same file by this process waits for the first like any other hook's. So while acquire holds them
// a rollback calls release_locked() (which takes none); once they are gone it calls release()
// (which takes them). Taking the wrong one of the two deadlocks the hook on itself.
#include <algorithm>
#include <ctime>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lib/core/core.hpp"
#include "lib/volumes/node/node.hpp"

namespace dvdi::volumes {

/// One requested volume, through the phases.
struct Node::Row {
    const Request* request = nullptr;
    VolumeKey key;
    std::string mount_id;   ///< the ID of the Mount this hook makes; empty: none (mounted already)
    std::string mountpoint; ///< the driver's host path
    std::string target;     ///< where it was placed ("" : not placed in a namespace)

    [[nodiscard]] std::string name() const { return fmt::to_string(key); }
    /// "driver/name (origin)", for the error.
    [[nodiscard]] std::string described() const { return fmt::format("{} ({})", name(), request->origin); }
};

/// Undoes a failed acquire: releases what the container holds (the driver's Unmount after its
/// last user) and words what it did for the error.
class Node::Rollback {
  public:
    Rollback(Node& node, std::string container_id, const std::vector<Row>& rows)
        : node_(node), container_id_(std::move(container_id)), rows_(rows) {}

    /// From here on the acquire no longer holds the volume locks (see the locking rule above).
    void locks_released() { locks_held_ = false; }

    /// Releases the container's volumes; returns what happened, naming the first `taken` rows
    /// (the ones the container held by then, in request order).
    [[nodiscard]] std::string release(std::size_t taken) const {
        std::vector<std::string> names;
        for (std::size_t k = 0; k < taken; ++k) {
            names.push_back(rows_[k].name());
        }
        std::string released = names.empty()
                                   ? "no other volume was taken"
                                   : fmt::format("released the volumes already taken ({})", fmt::join(names, ", "));
        try {
            locks_held_ ? node_.release_locked(container_id_) : node_.release(container_id_);
        } catch (const std::exception& f) {
            // The state cannot be changed (full disk, read-only, damaged): what is recorded for
            // the container stays for gc, which releases it once its process is gone.
            released = fmt::format("releasing the container's volumes failed too ({}); gc finishes it", f.what());
        }
        return released;
    }

    /// The error for `what` at rows[i], after releasing (see release()).
    [[nodiscard]] core::Error fail(std::size_t i, const std::string& what, std::size_t taken) const {
        return core::Error(fmt::format("{}: {}; {}", volume(i), what, release(taken)));
    }

    /// The same for a request the container's own setup refuses (its path is a file in its
    /// image): the error stays an InputError naming the request's field, with the volume and
    /// what was released after it.
    [[nodiscard]] core::InputError fail(std::size_t i, const core::InputError& e, std::size_t taken) const {
        return e.extended(fmt::format("volume {}: {}", rows_[i].name(), release(taken)));
    }

    [[nodiscard]] std::string volume(std::size_t i) const { return "volume " + rows_[i].described(); }

  private:
    Node& node_;
    std::string container_id_;
    const std::vector<Row>& rows_;
    bool locks_held_ = true;
};

namespace {

// What the writes of an acquire touch: the container's row and its volumes' rows (Rows: Node::Row).
template <typename Rows> Scope scope_of(const std::string& container_id, const Rows& rows) {
    Scope scope{.containers = {container_id}};
    for (const auto& row : rows) {
        scope.volumes.push_back(row.key);
    }
    return scope;
}

// Drops the record of a volume whose Mount was refused or never sent. When the state cannot be
// written, the `mounting` intent stays: gc's Unmount is refused and it drops the record then.
void forget_volume(StateStore& store, const VolumeKey& key) {
    try {
        store.transact(Scope{.volumes = {key}}, [&](State& s) { s.erase_volume(key); });
    } catch (const std::exception& e) {
        core::log::warn("volume {}: its record stays for gc ({})", key, e.what());
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

// A Mount whose outcome is unknown and whose undo failed too stays `mounting` for gc: its
// record says why, for `list` (nothing when the undo dropped the record).
void note_mount_error(StateStore& store, const VolumeKey& key, const std::string& mount_id, const std::string& error) {
    try {
        store.transact(Scope{.volumes = {key}}, [&](State& s) {
            if (VolumeRecord* v = s.find_volume(key); v != nullptr && v->mount_id == mount_id) {
                v->note_error(error);
            }
        });
    } catch (const std::exception& e) {
        core::log::warn("volume {}: recording its Mount's error failed ({})", key, e.what());
    }
}

} // namespace

void Node::acquire(const ContainerRef& container, const std::vector<Request>& requests, const Placer& place) {
    std::vector<VolumeKey> keys;
    for (const auto& r : requests) {
        keys.push_back(r.key());
    }
    auto volume_locks = store_.lock_volumes(keys);
    settle(keys);
    std::vector<Row> rows = record_intents(container, requests);
    Rollback rollback(*this, container.id, rows);
    mount_all(container.id, rows, rollback);
    record_outcomes(container.id, rows, rollback);
    volume_locks.reset();
    rollback.locks_released();
    place_all(rows, place, rollback);
    record_placements(container.id, rows, rollback);
}

// A volume still marked mounting/unmounting was left so by a hook that died (a live hook's
// intent is its own: it holds the lock, unless the state was changed by hand; gc judges it the
// same way): finish or undo that first. A volume whose last Unmount failed is retried (and
// settled) too: it is never handed to a new user while the driver may or may not hold it.
void Node::settle(const std::vector<VolumeKey>& keys) {
    for (const auto& v : store_.read(Scope{.volumes = keys}).volumes) {
        if ((v.status == VolumeStatus::mounting || v.status == VolumeStatus::unmounting) &&
            !ns::process_alive(v.intent_by)) {
            resolve_interrupted(v.key, nullptr);
        } else if (v.status == VolumeStatus::unmount_failed) {
            retry_unmount(v.key, nullptr);
        }
    }
}

// Write 1. A volume mounted already gets one more user and needs no driver call; any other gets
// a fresh mount ID and a `mounting` intent. Throws core::InputError when the container already
// holds volumes, core::Error for a volume whose earlier mount or unmount is not settled.
std::vector<Node::Row> Node::record_intents(const ContainerRef& container, const std::vector<Request>& requests) {
    std::vector<Row> rows;
    for (const auto& r : requests) {
        rows.push_back(Row{&r, r.key(), "", "", ""});
    }
    const ProcessId self = ns::self_process();
    store_.transact(scope_of(container.id, rows), [&](State& s) {
        if (s.find_container(container.id) != nullptr) {
            throw core::InputError("container", container.id, "already holds volumes on this node");
        }
        ContainerRecord c{container.id, container.runtime, container.process, ContainerStatus::acquiring, {}};
        for (Row& row : rows) {
            const Request& r = *row.request;
            c.volumes.push_back(Placement{row.key, "", false, r.container_path, r.mode});
            row.mount_id.clear(); // transact may run `change` again
            if (VolumeRecord* v = s.find_volume(row.key)) {
                if (v->status != VolumeStatus::mounted) {
                    // An interrupted Mount or a failed Unmount that settle() could not settle
                    // (the driver is unreachable, still reports a mount it refuses to undo, or a
                    // dead hook's Mount may still land): whether the driver holds it is
                    // unknown, so it is not handed out. gc settles it first.
                    throw core::Error(fmt::format(
                        "volume {}: an earlier {} of it is not settled ({}); gc retries it, then it can be used again",
                        row.described(), v->status == VolumeStatus::mounting ? "mount" : "unmount",
                        v->last_error.empty() ? "no error recorded" : v->last_error));
                }
                v->users.push_back(container.id);
                row.mountpoint = v->mountpoint;
                continue;
            }
            row.mount_id = new_mount_id(settings_.node, container.id);
            s.volumes.push_back(VolumeRecord{
                row.key, row.mount_id, "", r.options, VolumeStatus::mounting, {}, self, "", std::time(nullptr)});
        }
        s.containers.push_back(std::move(c));
    });
    return rows;
}

// The driver calls, in request order. When one fails, mount() has settled its record (dropped,
// or left `mounting` for gc when the Mount's outcome is unknown); the volumes mounted before it
// are recorded as the container's (so that the rollback unmounts them) and the intents of those
// after it (never sent) are dropped.
void Node::mount_all(const std::string& container_id, std::vector<Row>& rows, const Rollback& rollback) {
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (rows[i].mount_id.empty()) {
            continue;
        }
        try {
            rows[i].mountpoint = mount(*rows[i].request, rows[i].mount_id);
        } catch (const std::exception& e) {
            rows[i].mount_id.clear();
            try {
                record_mounts(container_id, rows, i);
            } catch (const std::exception& f) {
                throw core::Error(fmt::format("{}: {}; recording the volumes mounted before it failed too ({}); gc "
                                              "undoes them",
                                              rollback.volume(i), e.what(), f.what()));
            }
            throw rollback.fail(i, e.what(), i);
        }
    }
}

// Write 2, when this hook mounted anything.
void Node::record_outcomes(const std::string& container_id, const std::vector<Row>& rows, const Rollback& rollback) {
    if (std::all_of(rows.begin(), rows.end(), [](const Row& r) { return r.mount_id.empty(); })) {
        return;
    }
    bool present = false;
    try {
        present = record_mounts(container_id, rows, rows.size());
    } catch (const std::exception& e) {
        // The driver holds mounts the state cannot be trusted to show: undo them now.
        std::vector<std::string> names;
        std::vector<std::string> undone;
        for (const Row& row : rows) {
            if (!row.mount_id.empty()) {
                names.push_back(row.described());
                undone.push_back(undo_mount(store_, drivers_.get(row.key.driver), row.key, row.mount_id));
            }
        }
        throw core::Error(fmt::format("volume {}: {} (after the driver's Mount: {}); {}", fmt::join(names, ", "),
                                      e.what(), fmt::join(undone, "; "), rollback.release(0)));
    }
    if (!present) {
        // The container's record is gone although its volume locks were held (a state changed
        // by hand): nobody holds what this hook mounted; record_mounts() marked those volumes
        // unmounting. (gc releasing a dying container waits for the locks, and so is met after
        // the placements.)
        for (const Row& row : rows) {
            if (!row.mount_id.empty()) {
                unmount_locked(row.key, row.mount_id);
            }
        }
        throw core::Error(fmt::format("container {} was released while it was starting", container_id));
    }
}

// Records the Mounts this hook made for rows [0, end): each volume mounted at its mountpoint,
// the container one of its users; the intents this hook recorded for the others (never sent)
// are dropped. When the container is gone (gc released it meanwhile), marks the volumes it
// mounted unmounting instead and returns false.
bool Node::record_mounts(const std::string& container_id, const std::vector<Row>& rows, std::size_t end) {
    bool present = true;
    store_.transact(scope_of(container_id, rows), [&](State& s) {
        present = s.find_container(container_id) != nullptr;
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const Row& row = rows[i];
            if (row.mount_id.empty()) {
                continue;
            }
            VolumeRecord* v = s.find_volume(row.key);
            if (i >= end) {
                if (v != nullptr && v->status == VolumeStatus::mounting && v->mount_id == row.mount_id) {
                    s.erase_volume(row.key);
                }
                continue;
            }
            if (v == nullptr) {
                throw core::Error(fmt::format("the record of volume {} is gone from the state", row.name()));
            }
            v->mountpoint = row.mountpoint;
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

void Node::place_all(std::vector<Row>& rows, const Placer& place, const Rollback& rollback) {
    if (rows.empty()) {
        return;
    }
    std::vector<PlaceItem> items;
    for (const Row& row : rows) {
        notify(Step::before_place, row.key);
        items.push_back(PlaceItem{row.request, row.mountpoint});
    }
    std::size_t at = 0;
    std::vector<std::string> targets;
    try {
        targets = place(items, at);
    } catch (const core::InputError& e) {
        throw rollback.fail(std::min(at, rows.size() - 1), e, rows.size());
    } catch (const std::exception& e) {
        throw rollback.fail(std::min(at, rows.size() - 1), e.what(), rows.size());
    }
    if (targets.size() != rows.size()) {
        throw rollback.fail(
            0, fmt::format("the placer answered {} targets for {} volumes", targets.size(), rows.size()), rows.size());
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
        rows[i].target = targets[i];
        notify(Step::after_place, rows[i].key);
    }
}

// Write 3.
void Node::record_placements(const std::string& container_id, const std::vector<Row>& rows, const Rollback& rollback) {
    bool present = false;
    try {
        store_.transact(Scope{.containers = {container_id}}, [&](State& s) {
            ContainerRecord* c = s.find_container(container_id);
            present = c != nullptr;
            if (!present) {
                return;
            }
            for (const Row& row : rows) {
                for (auto& p : c->volumes) {
                    if (p.key == row.key) {
                        p.target = row.target;
                        p.placed = !row.target.empty();
                    }
                }
            }
            c->status = ContainerStatus::active;
        });
    } catch (const std::exception& e) {
        throw core::Error(fmt::format("recording where the volumes of container {} went: {}; {}", container_id,
                                      e.what(), rollback.release(rows.size())));
    }
    if (!present) {
        // gc released it while its volumes were being placed (its process died): gc unmounted
        // what it alone held.
        throw core::Error(fmt::format("container {} was released while it was starting", container_id));
    }
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
    } catch (const PluginNotFound& e) {
        forget_volume(store_, key);
        if (!r.driver_defaulted) {
            throw;
        }
        // The driver the operator's config chose, not the tenant: say so, or the tenant looks
        // for a typo in a name it never wrote.
        throw PluginNotFound(
            fmt::format("no driver was named, so the default driver {} was used; {}", core::quote(r.driver), e.what()));
    } catch (const DriverUnreachable& e) {
        if (!mount_sent) {
            forget_volume(store_, key);
            throw;
        }
        const std::string error =
            fmt::format("{} ({})", e.what(), undo_mount(store_, drivers_.get(r.driver), key, mount_id));
        note_mount_error(store_, key, mount_id, error);
        throw DriverUnreachable(DriverError(error));
    } catch (...) {
        // A Mount the driver refused is never followed by an Unmount (Docker's rule): forget
        // the volume.
        forget_volume(store_, key);
        throw;
    }
    // The one place a Mountpoint is checked (the plugin client passes it on as the plugin sent
    // it, relative or empty included): here the ID is known, so a refused one is unmounted again
    // at the driver rather than left held under an ID nothing undoes.
    if (const auto why = settings_.mountpoints.refusal(r.driver, mountpoint)) {
        const std::string undone = undo_mount(store_, drivers_.get(r.driver), key, mount_id);
        throw DriverError(fmt::format("driver {}: Mount of {} returned the mountpoint {}, which is refused: {} ({})",
                                      r.driver, core::quote(r.name), core::quote(mountpoint), *why, undone));
    }
    notify(Step::after_mount, key);
    return mountpoint;
}

} // namespace dvdi::volumes
