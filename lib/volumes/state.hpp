// The node's state (SPEC S4): which volumes are mounted on this node, for whom, and what a hook
// was doing when it last touched them. Kept in <state_dir>/state.json, changed only under a
// lock, written to a temporary file, fsynced and renamed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "lib/volumes/request.hpp"

namespace dvdi::volumes {

/// A process, told apart from a later one with the same pid by its start time (clock ticks
/// after boot, /proc/PID/stat field 22).
struct ProcessId {
    pid_t pid = 0;
    std::uint64_t start_time = 0;
    auto operator<=>(const ProcessId&) const = default;
};

/// The calling process.
[[nodiscard]] ProcessId self_process();
/// `pid` now, or nullopt when there is no such process.
[[nodiscard]] std::optional<ProcessId> process_id(pid_t pid);
/// True when `p` still runs (same pid and same start time).
[[nodiscard]] bool process_alive(const ProcessId& p);

enum class VolumeStatus {
    mounting,       ///< a hook is calling (or was calling, if it died) the driver's Mount
    mounted,        ///< Mount succeeded; `users` hold it
    unmounting,     ///< a hook is calling (or was calling) the driver's Unmount
    unmount_failed, ///< Unmount failed; gc retries it
};

/// One volume mounted (or being mounted) on this node.
struct VolumeRecord {
    VolumeKey key;
    std::string mount_id;   ///< unique per node and volume; Mount and Unmount use the same
    std::string mountpoint; ///< the driver's host path, once mounted
    Options options;
    VolumeStatus status = VolumeStatus::mounting;
    std::vector<std::string> users; ///< container ids holding the volume
    ProcessId intent_by;            ///< the hook that set `mounting`/`unmounting`
    std::string last_error;         ///< the last failed driver call, for gc and list
    /// When `mounting` was recorded (seconds since the epoch; 0: unknown): a Mount sent then
    /// may still be in flight at the driver until its deadline, even after its hook died.
    std::int64_t intent_at = 0;
};

/// Where one of a container's volumes went.
struct Placement {
    VolumeKey key;
    std::string target; ///< where it was placed; empty: not placed in a namespace
    bool placed = false;
    /// What the request asked, so a later step (Mesos isolate) can place it.
    std::optional<std::string> container_path;
    Mode mode = Mode::rw;
};

/// `releasing` is read but no longer written: a release removes the container's record in its
/// first write.
enum class ContainerStatus { acquiring, active, releasing };

/// One container that holds volumes.
struct ContainerRecord {
    std::string id;
    std::string runtime; ///< "oci", "mesos", "manual", "dvdcli"
    /// The container's process; pid 0 when there is none to watch (manual and dvdcli users,
    /// which gc never releases by itself).
    ProcessId process;
    ContainerStatus status = ContainerStatus::acquiring;
    std::vector<Placement> volumes;
};

struct State {
    static constexpr int kVersion = 1;
    std::vector<VolumeRecord> volumes;
    std::vector<ContainerRecord> containers;

    [[nodiscard]] VolumeRecord* find_volume(const VolumeKey& key);
    [[nodiscard]] ContainerRecord* find_container(const std::string& id);
    void erase_volume(const VolumeKey& key);
    void erase_container(const std::string& id);
    [[nodiscard]] bool empty() const { return volumes.empty() && containers.empty(); }
};

void to_json(nlohmann::json& j, const ProcessId& p);
void from_json(const nlohmann::json& j, ProcessId& p);
void to_json(nlohmann::json& j, const VolumeRecord& v);
void from_json(const nlohmann::json& j, VolumeRecord& v);
void to_json(nlohmann::json& j, const Placement& p);
void from_json(const nlohmann::json& j, Placement& p);
void to_json(nlohmann::json& j, const ContainerRecord& c);
void from_json(const nlohmann::json& j, ContainerRecord& c);
void to_json(nlohmann::json& j, const State& s);
/// Throws core::Error naming `origin` for a document of another version or a wrong shape.
[[nodiscard]] State parse_state(std::string_view text, std::string_view origin);

/// Holds a lock until destroyed.
class Lock {
  public:
    virtual ~Lock() = default;
};

/// The seam between the node logic and where the state lives.
class StateStore {
  public:
    virtual ~StateStore() = default;
    /// Reads the state under the store lock, lets `change` modify it, and writes it back
    /// durably before returning. If `change` throws, nothing is written. Never call a driver
    /// from `change`: other hooks wait for the lock meanwhile.
    virtual void transact(const std::function<void(State&)>& change) = 0;
    /// A consistent snapshot.
    [[nodiscard]] virtual State read() = 0;
    /// Serialises driver calls for one volume across hooks on the node; different volumes do
    /// not wait for each other. Blocks until the lock is free.
    [[nodiscard]] virtual std::unique_ptr<Lock> lock_volume(const VolumeKey& key) = 0;
    /// The locks of all `keys` at once (duplicates taken once), in an order every hook uses, so
    /// two hooks that need some of the same volumes never wait for each other in a circle.
    [[nodiscard]] virtual std::unique_ptr<Lock> lock_volumes(const std::vector<VolumeKey>& keys) = 0;
    /// Removes what the store keeps for volume locks that no record needs and no hook holds
    /// (left by a hook that was killed); returns how many. Stores without such files: 0.
    virtual std::size_t sweep_locks() { return 0; }
};

/// The real store: <dir>/state.json, <dir>/state.lock (flock), <dir>/locks/<hash>.lock per
/// volume, removed with the volume's last record. Creates `dir` (0700) when missing and refuses
/// one that is not root's or is writable by group or others (core::ensure_private_dir).
/// Throws core::SysError on I/O errors and
/// core::Error naming the file when it does not parse or has an unknown version: the hook
/// never starts over silently while mounts may exist.
[[nodiscard]] std::unique_ptr<StateStore> open_state_store(const std::string& dir);

} // namespace dvdi::volumes
