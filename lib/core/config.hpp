// The node's configuration: /etc/dvdi-hook/config.json (SPEC S5). Every key has a default, so
// the file is optional; a key the hook does not know is an error that names it.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace dvdi::core {

inline constexpr std::string_view kDefaultConfigPath = "/etc/dvdi-hook/config.json";

/// Per-call deadlines of the plugin client (SPEC S2.1).
struct Timeouts {
    std::chrono::milliseconds connect{10'000};
    std::chrono::milliseconds create{120'000};
    std::chrono::milliseconds mount{120'000};
    std::chrono::milliseconds other{60'000};
    /// Time budget for retrying connection-level failures (backoff 1, 2, 4, 8 s).
    std::chrono::milliseconds retry_budget{30'000};
    /// How long a plugin that has no socket or spec file yet is looked for again (same backoff)
    /// before the request fails: a plugin started with the node may come up after the hook runs.
    std::chrono::milliseconds plugin_wait{30'000};
};

/// A `local` volume the operator defines (SPEC S7): a tenant that names a matching volume gets
/// it created with these options; a tenant can never pass `local` options itself.
struct LocalVolumeDefinition {
    std::string name; ///< a volume name, or a shell pattern (fnmatch: `*`, `?`, `[...]`)
    std::string type; ///< as `mount -t` (no mount helper is ever run)
    std::string device;
    std::string o; ///< mount options; nosuid,nodev are always added
};

/// What the operator allows tenants for one plugin driver, and where its mounts may be.
struct DriverPolicy {
    /// Option keys a tenant's request may pass; nullopt (the default): any.
    std::optional<std::vector<std::string>> tenant_options;
    /// When not empty, the driver's Mountpoint must lie under one of these.
    std::vector<std::string> mountpoint_prefixes;
};

struct Config {
    /// Driver of a request that names none. `rexray` for compatibility with mesos-module-dvdi.
    std::string default_driver = "rexray";
    /// Node state (reference counts, intents); cleared by a reboot like the mounts themselves.
    std::string state_dir = "/run/dvdi";
    /// The `local` driver's volumes live in <data_dir>/volumes/<name>/_data.
    std::string data_dir = "/var/lib/dvdi";
    /// Where plugin sockets are looked for (Docker: /run/docker/plugins).
    std::vector<std::string> plugin_socket_dirs = {"/run/docker/plugins"};
    /// Where `.spec` and `.json` plugin files are looked for, in order.
    std::vector<std::string> plugin_spec_dirs = {"/etc/docker/plugins", "/usr/lib/docker/plugins"};
    Timeouts timeouts;
    /// A missing absolute host path (no container root) is created only under these prefixes.
    std::vector<std::string> auto_create_prefixes = {"/tmp"};
    /// A container path of a task without a root (Mesos, no image) is a host path in the
    /// task's namespace: allowed only under these or auto_create_prefixes.
    std::vector<std::string> host_path_prefixes;
    /// When not empty, only these drivers may be used.
    std::vector<std::string> allowed_drivers;
    /// Operator-defined `local` volumes, the first matching name wins.
    std::vector<LocalVolumeDefinition> local_volumes;
    /// Per plugin driver: the option keys tenants may pass, the allowed mountpoint prefixes.
    std::map<std::string, DriverPolicy> driver_policy;
    /// This node's name, in the mount IDs it gives drivers and in `list --json`, so that a
    /// plugin's or an operator's view of a cluster tells which node holds a mount. Empty: the
    /// host name (node_name()).
    std::string node_name;
    /// Also log to syslog.
    bool syslog = true;
    std::string log_level = "info";
};

/// Reads a config from JSON text. `origin` names the source in messages (a file path).
/// Throws InputError naming `origin` and the key for unknown keys, wrong types and bad values.
[[nodiscard]] Config parse_config(std::string_view text, std::string_view origin);

/// Loads the config file at `path`. A missing file gives the defaults unless `must_exist`
/// (a path the user named explicitly), in which case it is an InputError like a bad file.
[[nodiscard]] Config load_config(const std::string& path, bool must_exist);

void to_json(nlohmann::json& j, const Config& c);

/// The node's name: `c.node_name`, or else the host name with any character outside
/// [A-Za-z0-9._-] replaced by `_` ("localhost" when it has none).
[[nodiscard]] std::string node_name(const Config& c);

/// The definition `volume` matches in `c.local_volumes` (the first), or null.
[[nodiscard]] const LocalVolumeDefinition* find_local_volume(const Config& c, std::string_view volume);

} // namespace dvdi::core
