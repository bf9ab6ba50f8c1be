// The operator's policy over what a tenant may ask for and where a driver may mount (SPEC S7,
// docs/SECURITY.md). A tenant writes the container's image, environment and task volumes; the
// operator writes the config. Nothing a tenant writes can make the hook mount a host path, a
// device or a network file system, or pass an option the operator did not allow.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lib/core/config.hpp"
#include "lib/volumes/request.hpp"

namespace dvdi::volumes {

/// Applies the operator's rules to a tenant's requests (OCI prestart, Mesos prepare, dvdcli),
/// before any driver call:
///  - the driver is in allowed_drivers (when that list is set);
///  - a `local` request carries no options at all: a volume named by local_volumes gets the
///    operator's options from there, any other is a plain directory (as in Docker, only the
///    operator creates a local volume with options);
///  - a plugin request passes only the option keys driver_policy allows for its driver.
/// Throws core::InputError naming the request's field, the value and the rule.
void apply_tenant_policy(std::vector<Request>& requests, const core::Config& config);

/// The operator's own request (`dvdi-hook mount`): allowed_drivers; a `local` request without
/// options takes a matching local_volumes definition.
void apply_operator_policy(Request& request, const core::Config& config);

/// Where a driver's Mountpoint may be. The default policy knows only the system directories.
class MountpointPolicy {
  public:
    MountpointPolicy() = default;
    /// Adds the node's state and data dirs and driver_policy's mountpoint_prefixes.
    explicit MountpointPolicy(const core::Config& config);

    /// Why `mountpoint`, as `driver` answered it, must not be used, or nullopt when it may.
    /// Refused: not absolute, a `..` component or a control character, `/`, a top-level system
    /// directory (/etc, /usr, /var, /run, /tmp, ...), anything under /etc, /usr, /bin, /sbin,
    /// /lib*, /boot, /proc, /sys, /dev, /home, /root, /var/log, /var/spool, the plugin socket
    /// and spec dirs, the state dir or (for plugins) the data dir (also as the host resolves
    /// them), and, when driver_policy sets mountpoint_prefixes, anything outside them. The path is checked as
    /// written and, when it exists, as the host resolves its symlinks.
    [[nodiscard]] std::optional<std::string> refusal(const std::string& driver, const std::string& mountpoint) const;

  private:
    [[nodiscard]] std::optional<std::string> refusal_of_path(const std::string& driver, const std::string& path) const;

    std::string state_dir_;
    std::string data_dir_;
    std::string state_alias_; ///< state_dir_ as the host resolves it, when that differs
    std::string data_alias_;
    std::vector<std::string> own_dirs_; ///< the plugin socket and spec dirs
    std::map<std::string, std::vector<std::string>> prefixes_;
};

} // namespace dvdi::volumes
