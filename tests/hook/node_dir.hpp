// A node for the hook under test, in a temp dir: config.json (default driver `local`), the
// state dir and the local driver's data dir. With a test plugin, its socket is the node's only
// plugin; without one, plugin discovery looks in empty dirs of the temp dir and gives up after 1 s
// (timeouts.plugin_wait).
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "lib/core/config.hpp"
#include "tests/harness/harness.hpp"
#include "tests/plugin/test_plugin.hpp"

namespace dvdi::test {

struct NodeDir {
    TempDir dir;
    fs::path config = dir / "config.json";

    explicit NodeDir(const std::string& tag, const TestPlugin* plugin = nullptr) : dir(tag) {
        core::Config c = plugin != nullptr ? plugin->config() : core::Config{};
        c.default_driver = "local";
        c.state_dir = (dir / "state").string();
        c.data_dir = (dir / "data").string();
        c.syslog = false;
        if (plugin == nullptr) {
            c.plugin_socket_dirs = {(dir / "plugins").string()};
            c.plugin_spec_dirs = {(dir / "specs").string()};
            c.timeouts.retry_budget = std::chrono::seconds(1);
            c.timeouts.plugin_wait = std::chrono::seconds(1);
        }
        write_file(config, nlohmann::json(c).dump(2));
    }
};

} // namespace dvdi::test
