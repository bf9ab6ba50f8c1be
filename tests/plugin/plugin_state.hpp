// The test plugin's volumes and mount counts (see dvdi_test_plugin.cpp for the interface).
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "tests/plugin/controller.hpp"

namespace dvdi::test::plugin {

/// The answer to one protocol call before any misbehaviour is applied.
struct Answer {
    int status = 200;
    nlohmann::json body;
};

/// Volumes are directories `<root>/<name>`; mounts are counted per (name, ID) and written to
/// `<root>/.mounts.json` ({"NAME": {"ID": count}}) after each change, but kept in memory only:
/// a restarted plugin has forgotten them, as many plugins have. Path answers a Mountpoint only
/// while the volume is mounted (as REX-Ray). Thread-safe.
class PluginState {
  public:
    /// Forgets every mount ID an earlier instance had, as a restarted in-memory plugin does.
    /// With a controller (a simulated cluster), the volumes are the controller's, shared with
    /// the other agents' plugins: Mount and Unmount attach and detach through it, and Path
    /// answers a Mountpoint only while the volume is attached to this agent. `root` keeps this
    /// instance's own files (.mounts.json).
    PluginState(std::filesystem::path root, std::string scope, std::optional<ControllerOptions> controller = {});

    /// A file in the volume's directory from its first Mount until an Unmount leaves no ID
    /// holding it: what a container sees through the volume tells whether the volume is
    /// mounted right then. Like a kernel mount, it outlives a restart of the plugin (which
    /// forgot the IDs, so it stays until a Mount and Unmount of the new instance).
    static constexpr const char* kMountedMarker = ".dvdi-mounted";

    /// Handles `/METHOD` with the request JSON (null for an empty body).
    Answer handle(const std::string& method, const nlohmann::json& request);

  private:
    Answer create(const std::string& name, const nlohmann::json& opts);
    Answer remove(const std::string& name);
    Answer mount(const std::string& name, const std::string& id);
    Answer unmount(const std::string& name, const std::string& id);
    Answer get(const std::string& name);
    Answer list();
    void save_mounts();
    [[nodiscard]] bool exists(const std::string& name) const;
    /// Some ID holds a mount of it (under mutex_).
    [[nodiscard]] bool mounted(const std::string& name) const;

    std::mutex mutex_;
    std::filesystem::path root_;    ///< this instance's files
    std::filesystem::path volumes_; ///< where the volumes are: root_, or the controller's
    std::string scope_;
    std::optional<Controller> controller_;
    std::map<std::string, std::map<std::string, int>> mounts_;
};

} // namespace dvdi::test::plugin
