// Recovery: what a hook that died left behind, and unmounts that failed.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <functional>

#include <fmt/format.h>

#include "lib/core/core.hpp"
#include "lib/volumes/node/node.hpp"

namespace dvdi::volumes {

namespace {

// A line of gc's outcome. With a report, the caller prints it (the `gc` command: each line once
// on a terminal) and it goes to syslog only; without one (a hook settling what it found), it is
// logged as any other line.
void say(GcReport* report, std::vector<std::string> GcReport::*list, std::string line) {
    if (report == nullptr) {
        core::log::info("{}", line);
        return;
    }
    core::log::to_syslog(list == &GcReport::failures ? core::log::Level::warning : core::log::Level::info, line);
    (report->*list).push_back(std::move(line));
}

// What a container holds: the volumes it is a user of (the others it asked for were never
// mounted for it; gc resolves their intents on their own).
std::string held_by(const State& s, const std::string& container_id) {
    std::vector<std::string> names;
    for (const auto& v : s.volumes) {
        if (std::find(v.users.begin(), v.users.end(), container_id) != v.users.end()) {
            names.push_back(fmt::to_string(v.key));
        }
    }
    return names.empty() ? "nothing" : fmt::format("{}", fmt::join(names, ", "));
}

// Users whose container record is gone (a release interrupted between its two writes) leave
// their volumes; says each in `dropped` and returns the mounted volumes left with no user.
std::vector<VolumeKey> drop_dangling_users(State& s, std::vector<std::string>& dropped) {
    std::vector<VolumeKey> unused;
    for (auto& v : s.volumes) {
        std::erase_if(v.users, [&](const std::string& id) {
            const bool dangling = s.find_container(id) == nullptr;
            if (dangling) {
                dropped.push_back(fmt::format("volume {}: dropped user {} (no such container)", v.key, id));
            }
            return dangling;
        });
        if (v.users.empty() && v.status == VolumeStatus::mounted) {
            unused.push_back(v.key);
        }
    }
    return unused;
}

} // namespace

// Called with the volume lock held. A volume left `mounting` may or may not be mounted by the
// driver (the hook died before or after the call reached it): Unmount with the same ID undoes
// it either way, and a driver that answers "not mounted" is taken at its word. A volume left
// `unmounting` lost its last user already: finish the Unmount.
void Node::resolve_interrupted(const VolumeKey& key, GcReport* report) {
    const Scope scope{.volumes = {key}};
    const auto s = store_.read(scope);
    const auto it = std::find_if(s.volumes.begin(), s.volumes.end(), [&](const auto& v) { return v.key == key; });
    if (it == s.volumes.end() || !(it->status == VolumeStatus::mounting || it->status == VolumeStatus::unmounting)) {
        return;
    }
    const VolumeRecord v = *it;
    const bool was_mounting = v.status == VolumeStatus::mounting;
    std::string outcome =
        fmt::format("volume {}: {} interrupted {} (mount ID {})", key, was_mounting ? "undid" : "finished",
                    was_mounting ? "mount" : "unmount", v.mount_id);
    try {
        drivers_.get(key.driver).unmount(key.name, v.mount_id);
    } catch (const DriverUnreachable& e) {
        // A `mounting` record stays `mounting` (only its error is noted), so that its Mount's
        // window is still honoured when the driver answers again.
        store_.transact(scope, [&](State& st) {
            if (VolumeRecord* r = st.find_volume(key)) {
                r->status = was_mounting ? VolumeStatus::mounting : VolumeStatus::unmount_failed;
                r->note_error(e.what());
            }
        });
        say(report, &GcReport::failures,
            fmt::format("volume {}: undoing an interrupted {}: {} (will retry)", key,
                        was_mounting ? "mount" : "unmount", e.what()));
        return;
    } catch (const std::exception& e) {
        if (!was_mounting) {
            // Refused: the hook that died may have had its Unmount accepted already, or the
            // driver forgot its mounts (it restarted). Its Path says which.
            settle_refused_unmount(key, e.what(), report);
            return;
        }
        // The dead hook's Mount may still be on its way through the driver (a slow attach
        // outlives the hook that runc killed): until its deadline, a refusal proves nothing.
        const std::int64_t deadline =
            v.intent_at + std::chrono::ceil<std::chrono::seconds>(settings_.mount_window).count();
        if (v.intent_at != 0 && std::time(nullptr) < deadline) {
            say(report, &GcReport::failures,
                fmt::format("volume {}: the interrupted Mount (mount ID {}) may still land at the driver until its "
                            "deadline, {} s from now; the record stays, gc retries it then (the driver refused "
                            "the Unmount: {})",
                            key, v.mount_id, deadline - std::time(nullptr), e.what()));
            return;
        }
        outcome = fmt::format("volume {}: interrupted mount never happened (the driver refused its Unmount: {})", key,
                              e.what());
    }
    // Whoever was waiting for it is gone: the hook died before recording any user.
    store_.transact(Scope{.volumes = {key}, .their_containers = true}, [&](State& st) {
        st.erase_volume(key);
        for (auto& c : st.containers) {
            std::erase_if(c.volumes, [&](const Placement& p) { return p.key == key; });
        }
    });
    say(report, &GcReport::actions, outcome);
}

void Node::keep_unmount_failed(const VolumeKey& key, const std::string& error) {
    store_.transact(Scope{.volumes = {key}}, [&](State& st) {
        if (VolumeRecord* r = st.find_volume(key)) {
            r->status = VolumeStatus::unmount_failed;
            r->note_error(error);
        }
    });
}

// Called with the volume lock held, after the driver refused the Unmount of a volume with no
// user (its own answer, not "unreachable"). A refusal alone does not say whether a mount is
// left: a plugin that restarted forgot its mounts and refuses every Unmount, and an Unmount a
// killed hook already had accepted is refused the second time. The driver's Path says: no
// mountpoint, it holds no mount of the volume on this node, and the record goes; a mountpoint,
// or no answer, and the record stays for the next gc, which says why.
void Node::settle_refused_unmount(const VolumeKey& key, const std::string& refusal, GcReport* report) {
    std::string held;
    try {
        held = drivers_.get(key.driver).path(key.name);
    } catch (const std::exception& e) {
        keep_unmount_failed(key, fmt::format("{} (and its Path failed: {})", refusal, e.what()));
        say(report, &GcReport::failures,
            fmt::format("volume {}: the driver refused the Unmount ({}) and cannot say whether it still holds a "
                        "mount (Path: {}); the record stays, gc retries it",
                        key, refusal, e.what()));
        return;
    }
    if (!held.empty()) {
        keep_unmount_failed(key, fmt::format("{} (its Path still reports {})", refusal, core::quote(held)));
        say(report, &GcReport::failures,
            fmt::format("volume {}: the driver refused the Unmount ({}) but reports it still mounted at {}; the "
                        "record stays, gc retries it",
                        key, refusal, core::quote(held)));
        return;
    }
    store_.transact(Scope{.volumes = {key}}, [&](State& st) { st.erase_volume(key); });
    say(report, &GcReport::actions,
        fmt::format("volume {}: dropped its record: the driver refused the Unmount ({}) and its Path reports no "
                    "mount of it on this node",
                    key, refusal));
}

// Called with the volume lock held.
void Node::retry_unmount(const VolumeKey& key, GcReport* report) {
    const auto s = store_.read(Scope{.volumes = {key}});
    const auto it = std::find_if(s.volumes.begin(), s.volumes.end(), [&](const auto& v) { return v.key == key; });
    if (it == s.volumes.end() || it->status != VolumeStatus::unmount_failed || !it->users.empty()) {
        return;
    }
    try {
        drivers_.get(key.driver).unmount(key.name, it->mount_id);
    } catch (const DriverUnreachable& e) {
        keep_unmount_failed(key, e.what());
        say(report, &GcReport::failures, fmt::format("volume {}: unmount failed again: {}", key, e.what()));
        return;
    } catch (const std::exception& e) {
        settle_refused_unmount(key, e.what(), report);
        return;
    }
    store_.transact(Scope{.volumes = {key}}, [&](State& st) { st.erase_volume(key); });
    say(report, &GcReport::actions, fmt::format("volume {}: unmounted (an earlier unmount had failed)", key));
}

// Each container and each volume is settled on its own: a step that fails (the state cannot be
// written, a lock cannot be taken) is reported and the pass goes on with the next one. Only a
// state that cannot be read at all stops it.
GcReport Node::gc() {
    GcReport report;
    const auto settle = [&report](const std::string& what, const std::function<void()>& step) {
        try {
            step();
        } catch (const std::exception& e) {
            say(&report, &GcReport::failures, fmt::format("{}: {}; gc retries it", what, e.what()));
        }
    };
    const State s = store_.read();
    for (const auto& c : s.containers) {
        if (c.process.pid == 0 || ns::process_alive(c.process)) {
            continue;
        }
        const std::string who = fmt::format("container {} ({}, pid {} is gone)", c.id, c.runtime, c.process.pid);
        settle(who + ": releasing it", [&] {
            const std::string held = held_by(s, c.id);
            release(c.id);
            say(&report, &GcReport::actions, fmt::format("{}: released {}", who, held));
        });
    }
    for (const auto& v : store_.read().volumes) {
        const bool interrupted = (v.status == VolumeStatus::mounting || v.status == VolumeStatus::unmounting) &&
                                 !ns::process_alive(v.intent_by);
        if (!interrupted && v.status != VolumeStatus::unmount_failed) {
            continue;
        }
        settle(fmt::format("volume {}: settling it", v.key), [&] {
            const auto lock = store_.lock_volume(v.key);
            if (interrupted) {
                resolve_interrupted(v.key, &report);
            } else {
                retry_unmount(v.key, &report);
            }
        });
    }
    std::vector<VolumeKey> unused;
    settle("dropping the users of volumes whose container is gone", [&] {
        std::vector<std::string> dropped;
        store_.transact(Scope::all(), [&](State& st) {
            dropped.clear(); // said once the write is done, once each
            unused = drop_dangling_users(st, dropped);
        });
        for (auto& line : dropped) {
            say(&report, &GcReport::actions, std::move(line));
        }
    });
    for (const auto& key : unused) {
        settle(fmt::format("volume {}: unmounting it (no container holds it)", key), [&] {
            put("", key);
            // put() keeps a failed Unmount for the next gc (and logs it); this pass says so.
            State after = store_.read(Scope{.volumes = {key}});
            const VolumeRecord* v = after.find_volume(key);
            if (v != nullptr && v->status == VolumeStatus::unmount_failed) {
                throw core::Error(fmt::format("the Unmount failed ({})", v->last_error));
            }
            say(&report, &GcReport::actions, fmt::format("volume {}: unmounted (no container holds it)", key));
        });
    }
    settle("removing the lock files of volumes no longer recorded", [&] {
        if (const auto swept = store_.sweep_locks(); swept > 0) {
            core::log::debug("removed {} lock file(s) of volumes no longer recorded", swept);
        }
    });
    return report;
}

std::optional<std::string> Node::forget(const VolumeKey& key) {
    const auto lock = store_.lock_volume(key);
    std::optional<std::string> dropped;
    store_.transact(Scope{.volumes = {key}, .their_containers = true}, [&](State& s) {
        const VolumeRecord* v = s.find_volume(key);
        std::vector<std::string> claims; // containers with a placement of it
        for (const auto& c : s.containers) {
            if (std::any_of(c.volumes.begin(), c.volumes.end(), [&](const Placement& p) { return p.key == key; })) {
                if (c.process.pid == 0 || ns::process_alive(c.process)) {
                    throw core::Error(fmt::format(
                        "volume {} is in use by {} ({}{}): stop it (or unmount it) first; nothing was changed", key,
                        c.id, c.runtime,
                        c.process.pid == 0 ? ", a holder without a process" : fmt::format(", pid {}", c.process.pid)));
                }
                claims.push_back(c.id);
            }
        }
        if (v == nullptr && claims.empty()) {
            return;
        }
        dropped = fmt::format(
            "volume {}: forgot {}{} without calling the driver{}", key,
            v == nullptr ? "no record"
                         : fmt::format("its {} record (mount ID {})",
                                       v->status == VolumeStatus::mounted ? "mounted" : "unsettled", v->mount_id),
            claims.empty() ? "" : fmt::format(" and the claims of gone containers {}", fmt::join(claims, ", ")),
            v != nullptr && !v->last_error.empty() ? fmt::format(" (last error: {})", v->last_error) : "");
        s.erase_volume(key);
        for (auto& c : s.containers) {
            std::erase_if(c.volumes, [&](const Placement& p) { return p.key == key; });
        }
        std::erase_if(s.containers, [](const ContainerRecord& c) { return c.volumes.empty(); });
    });
    if (dropped) {
        core::log::warn("{}", *dropped);
    }
    return dropped;
}

} // namespace dvdi::volumes
