// The node's state (SPEC S4): which volumes are mounted on this node, for whom, and what a hook
// was doing when it last touched them. Kept in <state_dir>/state.db (state_store.hpp); its JSON
// form below is `list --json`'s and version 1's, <state_dir>/state.json, which the store
// migrates from.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "lib/ns/process.hpp"
#include "lib/volumes/requests/request.hpp"

namespace dvdi::volumes {

/// Processes are told apart by lib/ns's identity (pid and start time) and its one "alive" rule.
using ns::ProcessId;

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

    /// Sets last_error to `what` made printable (core::printable) and cut to kMaxLastError bytes
    /// at a character boundary: it quotes a plugin's text, and every hook and `list` reads it.
    void note_error(std::string_view what);

    bool operator==(const VolumeRecord&) const = default;
};

/// An ID as Docker's short form, 12 characters, for tables: a mount ID (`NODE:CONTAINER12:HEX32`,
/// or 64 hex digits without a node name) by the first 12 hex digits of its random part, a
/// container ID of more than 12 hex digits (runc, podman, Docker) by its first 12. Anything
/// else (`manual:...`, `dvdcli:...`, a Mesos UUID, a runc name) is returned whole: a prefix of
/// it would not tell holders apart.
[[nodiscard]] std::string short_id(std::string_view id);

/// The most of an error a volume record keeps (VolumeRecord::note_error).
inline constexpr std::size_t kMaxLastError = 1024;

/// Where one of a container's volumes went.
struct Placement {
    VolumeKey key;
    std::string target; ///< where it was placed; empty: not placed in a namespace
    bool placed = false;
    /// What the request asked, so a later step (Mesos isolate) can place it.
    std::optional<std::string> container_path;
    Mode mode = Mode::rw;

    bool operator==(const Placement&) const = default;
};

/// Whether a container's acquire finished. (A release removes the container's record in its
/// first write: there is no "releasing".)
enum class ContainerStatus { acquiring, active };

/// One container that holds volumes.
struct ContainerRecord {
    std::string id;
    std::string runtime; ///< "oci", "mesos", "manual", "dvdcli"
    /// The container's process; pid 0 when there is none to watch (manual and dvdcli users,
    /// which gc never releases by itself).
    ProcessId process;
    ContainerStatus status = ContainerStatus::acquiring;
    std::vector<Placement> volumes;

    bool operator==(const ContainerRecord&) const = default;
};

/// The rows of the state a read or a change needs: a hook names the volumes and containers it
/// works on, and a store loads those rows only, so that a hook costs the same on a node that
/// holds ten records or ten thousand.
struct Scope {
    std::vector<VolumeKey> volumes;
    std::vector<std::string> containers;
    /// Also the volumes the named containers place (release: what a container holds).
    bool their_volumes = false;
    /// Also the containers that place one of the named volumes (dropping a volume's record
    /// drops its placements too).
    bool their_containers = false;
    /// The whole state, for gc, list and doctor (and tests). The other fields are ignored.
    bool everything = false;

    [[nodiscard]] static Scope all() { return Scope{.everything = true}; }
    [[nodiscard]] bool has_volume(const VolumeKey& key) const;
    [[nodiscard]] bool has_container(const std::string& id) const;
};

struct State {
    /// The version of the JSON form (state.json before the database; `list --json`).
    static constexpr int kVersion = 1;
    std::vector<VolumeRecord> volumes;
    std::vector<ContainerRecord> containers;
    /// Set when this is a part of the node's state (a scoped read or change): the rows asked
    /// for, with their_volumes/their_containers resolved into keys and ids. Looking up or
    /// erasing a row outside it throws core::Error (a bug in the caller, never a silent "not
    /// recorded"), and a store refuses to write a row outside it. Unset: the whole state.
    std::optional<Scope> scope;

    /// nullptr when the row is not recorded. Throws core::Error for a row outside `scope`.
    [[nodiscard]] VolumeRecord* find_volume(const VolumeKey& key);
    [[nodiscard]] ContainerRecord* find_container(const std::string& id);
    void erase_volume(const VolumeKey& key);
    void erase_container(const std::string& id);
    [[nodiscard]] bool empty() const { return volumes.empty() && containers.empty(); }
    /// Throws core::Error unless the row is within `scope`.
    void check_in_scope(const VolumeKey& key) const;
    void check_in_scope(const std::string& container_id) const;
};

/// The spellings of the statuses, as in the JSON form and the database. parse_* throw
/// core::Error naming the unknown value.
[[nodiscard]] std::string to_string(VolumeStatus status);
[[nodiscard]] std::string to_string(ContainerStatus status);
[[nodiscard]] VolumeStatus parse_volume_status(std::string_view text);
[[nodiscard]] ContainerStatus parse_container_status(std::string_view text);

void to_json(nlohmann::json& j, const VolumeRecord& v);
void from_json(const nlohmann::json& j, VolumeRecord& v);
void to_json(nlohmann::json& j, const Placement& p);
void from_json(const nlohmann::json& j, Placement& p);
void to_json(nlohmann::json& j, const ContainerRecord& c);
void from_json(const nlohmann::json& j, ContainerRecord& c);
void to_json(nlohmann::json& j, const State& s);
/// Throws core::Error naming `origin` for a document of another version or a wrong shape.
[[nodiscard]] State parse_state(std::string_view text, std::string_view origin);

} // namespace dvdi::volumes
