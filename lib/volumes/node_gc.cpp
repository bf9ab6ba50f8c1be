// Recovery: what a hook that died left behind, and unmounts that failed.
#include <algorithm>

#include <fmt/format.h>

#include "lib/core/core.hpp"
#include "lib/volumes/node.hpp"

namespace dvdi::volumes {

namespace {

std::string describe(const VolumeKey& key) {
    return fmt::format("{}/{}", key.driver, key.name);
}

void say(GcReport* report, std::vector<std::string> GcReport::*list, std::string line) {
    if (report != nullptr) {
        (report->*list).push_back(line);
    }
    core::log::info("{}", line);
}

} // namespace

// Called with the volume lock held. A volume left `mounting` may or may not be mounted by the
// driver (the hook died before or after the call reached it): Unmount with the same ID undoes
// it either way, and a driver that answers "not mounted" is taken at its word. A volume left
// `unmounting` lost its last user already: finish the Unmount.
void Node::resolve_interrupted(const VolumeKey& key, GcReport* report) {
    const auto s = store_.read();
    const auto it = std::find_if(s.volumes.begin(), s.volumes.end(), [&](const auto& v) { return v.key == key; });
    if (it == s.volumes.end() || !(it->status == VolumeStatus::mounting || it->status == VolumeStatus::unmounting)) {
        return;
    }
    const VolumeRecord v = *it;
    const bool was_mounting = v.status == VolumeStatus::mounting;
    std::string outcome =
        fmt::format("volume {}: {} interrupted {} (mount ID {})", describe(key), was_mounting ? "undid" : "finished",
                    was_mounting ? "mount" : "unmount", v.mount_id);
    try {
        drivers_.get(key.driver).unmount(key.name, v.mount_id);
    } catch (const DriverUnreachable& e) {
        store_.transact([&](State& st) {
            if (VolumeRecord* r = st.find_volume(key)) {
                r->status = VolumeStatus::unmount_failed;
                r->last_error = e.what();
            }
        });
        say(report, &GcReport::failures,
            fmt::format("volume {}: undoing an interrupted {}: {} (will retry)", describe(key),
                        was_mounting ? "mount" : "unmount", e.what()));
        return;
    } catch (const std::exception& e) {
        if (!was_mounting) {
            store_.transact([&](State& st) {
                if (VolumeRecord* r = st.find_volume(key)) {
                    r->status = VolumeStatus::unmount_failed;
                    r->last_error = e.what();
                }
            });
            say(report, &GcReport::failures,
                fmt::format("volume {}: finishing an interrupted unmount: {} (will retry)", describe(key), e.what()));
            return;
        }
        outcome = fmt::format("volume {}: interrupted mount never happened (the driver refused its Unmount: {})",
                              describe(key), e.what());
    }
    // Whoever was waiting for it is gone: the hook died before recording any user.
    store_.transact([&](State& st) {
        st.erase_volume(key);
        for (auto& c : st.containers) {
            std::erase_if(c.volumes, [&](const Placement& p) { return p.key == key; });
        }
    });
    say(report, &GcReport::actions, outcome);
}

// Called with the volume lock held.
void Node::retry_unmount(const VolumeKey& key, GcReport* report) {
    const auto s = store_.read();
    const auto it = std::find_if(s.volumes.begin(), s.volumes.end(), [&](const auto& v) { return v.key == key; });
    if (it == s.volumes.end() || it->status != VolumeStatus::unmount_failed || !it->users.empty()) {
        return;
    }
    try {
        drivers_.get(key.driver).unmount(key.name, it->mount_id);
    } catch (const std::exception& e) {
        store_.transact([&](State& st) {
            if (VolumeRecord* r = st.find_volume(key)) {
                r->last_error = e.what();
            }
        });
        say(report, &GcReport::failures, fmt::format("volume {}: unmount failed again: {}", describe(key), e.what()));
        return;
    }
    store_.transact([&](State& st) { st.erase_volume(key); });
    say(report, &GcReport::actions, fmt::format("volume {}: unmounted (an earlier unmount had failed)", describe(key)));
}

GcReport Node::gc() {
    GcReport report;
    const State s = store_.read();
    for (const auto& c : s.containers) {
        if (c.process.pid != 0 && !process_alive(c.process)) {
            // What it held: the volumes it is a user of (the others it asked for were never
            // mounted for it; their intents are resolved below).
            std::vector<std::string> names;
            for (const auto& v : s.volumes) {
                if (std::find(v.users.begin(), v.users.end(), c.id) != v.users.end()) {
                    names.push_back(describe(v.key));
                }
            }
            release(c.id);
            say(&report, &GcReport::actions,
                fmt::format("container {} ({}, pid {} is gone): released {}", c.id, c.runtime, c.process.pid,
                            names.empty() ? "nothing" : fmt::format("{}", fmt::join(names, ", "))));
        }
    }
    for (const auto& v : store_.read().volumes) {
        const bool interrupted =
            (v.status == VolumeStatus::mounting || v.status == VolumeStatus::unmounting) && !process_alive(v.intent_by);
        if (!interrupted && v.status != VolumeStatus::unmount_failed) {
            continue;
        }
        const auto lock = store_.lock_volume(v.key);
        if (interrupted) {
            resolve_interrupted(v.key, &report);
        } else {
            retry_unmount(v.key, &report);
        }
    }
    // Users whose container record is gone (a release interrupted between its two writes), and
    // mounted volumes that are left with no user.
    std::vector<VolumeKey> unused;
    store_.transact([&](State& s) {
        for (auto& v : s.volumes) {
            std::erase_if(v.users, [&](const std::string& id) {
                const bool dangling = s.find_container(id) == nullptr;
                if (dangling) {
                    report.actions.push_back(
                        fmt::format("volume {}: dropped user {} (no such container)", describe(v.key), id));
                }
                return dangling;
            });
            if (v.users.empty() && v.status == VolumeStatus::mounted) {
                unused.push_back(v.key);
            }
        }
    });
    for (const auto& key : unused) {
        put("", key);
        say(&report, &GcReport::actions, fmt::format("volume {}: unmounted (no container holds it)", describe(key)));
    }
    if (const auto swept = store_.sweep_locks(); swept > 0) {
        core::log::debug("removed {} lock file(s) of volumes no longer recorded", swept);
    }
    return report;
}

} // namespace dvdi::volumes
