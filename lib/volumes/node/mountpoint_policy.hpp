// Where a driver's Mountpoint may be (SPEC S7, docs/SECURITY.md): a plugin's reply is the
// storage operator's word, and must not hand a container the host's own directories.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lib/core/config.hpp"

namespace dvdi::volumes {

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
