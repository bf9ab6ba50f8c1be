// The node (SPEC S4), and the public header of lib/volumes/node: sharing volumes between
// containers with reference counts, crash safety through intents, rollback, idempotent release
// and gc (Node); the state it keeps and where (state.hpp, state_store.hpp); where a container's
// volumes go (placement.hpp); where a driver's Mountpoint may be (mountpoint_policy.hpp).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/config.hpp"
#include "lib/volumes/drivers/driver_set.hpp"
#include "lib/volumes/node/mountpoint_policy.hpp"
#include "lib/volumes/node/placement.hpp"
#include "lib/volumes/node/state.hpp"
#include "lib/volumes/node/state_store.hpp"
#include "lib/volumes/requests/request.hpp"

namespace dvdi::volumes {

/// Where a hook is in its work; tests use it to stop a hook at each step.
enum class Step {
    before_mount,   ///< the intent is recorded; the driver has not been called
    after_mount,    ///< the driver's Mount returned; its outcome is not recorded yet
    before_place,   ///< the volume is recorded as held; it is not placed yet
    after_place,    ///< placed in the container; not recorded as placed yet
    before_unmount, ///< the unmount intent is recorded; the driver has not been called
};
using StepObserver = std::function<void(Step, const VolumeKey&)>;

/// Who takes volumes.
struct ContainerRef {
    std::string id;
    std::string runtime;
    ProcessId process; ///< pid 0: no process for gc to watch
};

/// What gc did, one line each.
struct GcReport {
    std::vector<std::string> actions;
    std::vector<std::string> failures;
};

/// What the node logic takes from the configuration.
struct NodeSettings {
    /// A Mountpoint it refuses is unmounted again at the driver (same ID) and the acquire fails.
    MountpointPolicy mountpoints;
    /// How long after a `mounting` intent its Mount may still land at the driver, even when
    /// the hook that sent it died: the Create and Mount deadlines and two retry budgets
    /// (core::Timeouts). Within it a refused Unmount does not prove that nothing was mounted.
    std::chrono::milliseconds mount_window{120'000 + 120'000 + 2 * 30'000};
    /// The node's name (core::node_name()), in the mount IDs it makes. Empty: IDs without it.
    std::string node;

    [[nodiscard]] static NodeSettings from(const core::Config& config);
};

class Node {
  public:
    /// `store` and `drivers` must outlive the Node.
    Node(StateStore& store, DriverSet& drivers, StepObserver observer = {}, NodeSettings settings = {});

    /// Takes every requested volume for the container (the driver's Mount only for the first
    /// user on the node) and places each with `place`. All or nothing: when one fails, the
    /// ones already taken are released before it throws core::Error naming the failed volume
    /// and the released ones. Throws core::InputError when the container already holds volumes.
    /// Writes the state three times whatever the number of volumes (twice when none needs a
    /// Mount): the intents, the Mounts' outcomes, the placements.
    void acquire(const ContainerRef& container, const std::vector<Request>& requests, const Placer& place);

    /// For a container whose volumes were taken before it had a process (Mesos prepare, then
    /// isolate): records its process for gc and places each volume not placed yet. Throws
    /// core::Error for an unknown container, and what `place` throws (the caller's cleanup
    /// then releases the container).
    void attach(const std::string& container_id, const ProcessId& process, const Placer& place);

    /// Releases every volume the container holds (Unmount after the last user). Idempotent:
    /// returns false, and does nothing, for a container that holds none. A failed Unmount is
    /// recorded for gc and logged; it does not make release fail. Writes the state twice (once
    /// when no volume needs an Unmount).
    bool release(const std::string& container_id);

    /// "Ensure mounted" for a holder that is not a container (dvdcli, a person): when `holder`
    /// already holds the request's volume, returns its recorded mountpoint without calling the
    /// driver; otherwise acquires it for `holder` (runtime `runtime`) and returns the driver's
    /// mountpoint. With no `place`, there is no process and nothing is placed; with one (`dvdi-hook
    /// mount --pid`), the volume is placed with it and recorded as held by `process`. Calls for
    /// the same holder are serialised across processes, so two concurrent calls mount (and place)
    /// once. Throws what acquire throws.
    std::string hold(const std::string& holder, const std::string& runtime, const Request& request,
                     const ProcessId& process = {}, const Placer& place = {});

    /// "Ensure unmounted": releases what `holder` holds, serialised with hold(). Returns false
    /// when it held nothing.
    bool unhold(const std::string& holder);

    /// Releases the containers whose process is gone, finishes or undoes what hooks that died
    /// were doing, and retries failed unmounts. A refused Unmount is settled by the driver's
    /// Path: no mountpoint, and the record is dropped (said in the report); else it stays.
    /// Each container and volume is settled on its own: what fails for one (a driver call, a
    /// state write) is a line in `failures` and the pass goes on. Every line also goes to syslog
    /// (core::log::to_syslog): the caller prints the report.
    /// Throws only when the state cannot be read at all.
    GcReport gc();

    /// The operator's way out for a volume whose driver is gone for good: drops the node's
    /// record of `key`, and the claims of its users whose process is gone, without calling the
    /// driver. Throws core::Error, changing nothing, while a user's process still runs or a
    /// holder without a process (dvdcli, a manual mount) holds it. Returns what it dropped;
    /// nullopt when nothing is recorded of the volume.
    std::optional<std::string> forget(const VolumeKey& key);

  private:
    struct Row;     // one requested volume through acquire's phases (acquire.cpp)
    class Rollback; // undoes a failed acquire (acquire.cpp)
    void settle(const std::vector<VolumeKey>& keys);
    std::vector<Row> record_intents(const ContainerRef& container, const std::vector<Request>& requests);
    void mount_all(const std::string& container_id, std::vector<Row>& rows, const Rollback& rollback);
    std::string mount(const Request& request, const std::string& mount_id);
    void record_outcomes(const std::string& container_id, const std::vector<Row>& rows, const Rollback& rollback);
    bool record_mounts(const std::string& container_id, const std::vector<Row>& rows, std::size_t end);
    void place_all(std::vector<Row>& rows, const Placer& place, const Rollback& rollback);
    void record_placements(const std::string& container_id, const std::vector<Row>& rows, const Rollback& rollback);
    /// Releases the container; the caller holds the locks of its volumes (acquire's rollback
    /// before it lets them go). release() takes them itself: calling it with them held waits
    /// for this very process, for ever.
    bool release_locked(const std::string& container_id);
    void put(const std::string& container_id, const VolumeKey& key);
    void unmount_locked(const VolumeKey& key, const std::string& mount_id);
    void resolve_interrupted(const VolumeKey& key, GcReport* report);
    void retry_unmount(const VolumeKey& key, GcReport* report);
    void settle_refused_unmount(const VolumeKey& key, const std::string& refusal, GcReport* report);
    void keep_unmount_failed(const VolumeKey& key, const std::string& error);
    void notify(Step step, const VolumeKey& key) const;

    StateStore& store_;
    DriverSet& drivers_;
    StepObserver observer_;
    NodeSettings settings_;
};

/// The mountpoint of `key` when `holder` holds it fully (its record active, the volume mounted),
/// else nothing: what hold() and `dvdi-hook mount` answer without mounting again.
[[nodiscard]] std::optional<std::string> held_mountpoint(const State& s, const std::string& holder,
                                                         const VolumeKey& key);

/// A fresh mount ID, unique whoever asks: `NODE:CONTAINER:RANDOM`, the node's name, the first 12
/// characters of the container (or holder) that mounts it first (characters outside
/// [A-Za-z0-9._-] as `_`), and 32 hex digits (128 bits) from the kernel's random source, so that
/// a plugin's view of a cluster tells which node and which container took a mount. Docker makes
/// them 64 hex digits; plugins take them as opaque strings. With no node: the 64 hex digits.
[[nodiscard]] std::string new_mount_id(std::string_view node = {}, std::string_view container = {});

} // namespace dvdi::volumes
