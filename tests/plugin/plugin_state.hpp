// The test plugin's volumes and mount counts (see dvdi_test_plugin.cpp for the interface).
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

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
    PluginState(std::filesystem::path root, std::string scope) : root_(std::move(root)), scope_(std::move(scope)) {}

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
    std::filesystem::path root_;
    std::string scope_;
    std::map<std::string, std::map<std::string, int>> mounts_;
};

} // namespace dvdi::test::plugin
