// Starting dvdi-test-plugin (tests/plugin/dvdi_test_plugin.cpp) from a test. Everything lives in
// a temporary directory: `<dir>/plugins/<name>.sock` (or, with TCP, `<dir>/specs/<name>.spec`
// holding the address), the volumes under `<dir>/volumes`, the record of calls, the control
// file. The destructor stops the plugin (SIGTERM, then SIGKILL) and reaps it: no process is
// left behind, even when the test fails.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/core/config.hpp"
#include "tests/harness/harness.hpp"

namespace dvdi::test {

struct TestPluginOptions {
    std::string name = "testplug";             ///< the driver name it is discovered by
    bool tcp = false;                          ///< listen on 127.0.0.1:<free port> and write a .spec file
    std::map<std::string, std::string> behave; ///< METHOD (or "*") -> behaviour, from the start
    std::chrono::milliseconds socket_delay{0}; ///< listen only after this long
    std::string scope = "local";
    /// Set: one agent's plugin of a simulated cluster, sharing this storage controller's
    /// directory with the other agents' (tests/plugin/controller.hpp); volumes_dir() is then
    /// the controller's.
    fs::path controller;
    std::string agent;    ///< with controller
    bool preempt = false; ///< with controller: REX-Ray's preempt
    /// Wait in the constructor until the plugin listens (false with socket_delay, usually).
    bool wait_ready = true;
};

class TestPlugin {
  public:
    explicit TestPlugin(TestPluginOptions options = {});
    ~TestPlugin();
    TestPlugin(const TestPlugin&) = delete;
    TestPlugin& operator=(const TestPlugin&) = delete;

    /// Waits until the plugin listens (its ready file exists); throws after `timeout` or when
    /// it died, with its stderr.
    void wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(10));

    [[nodiscard]] const std::string& name() const { return options_.name; }
    [[nodiscard]] fs::path socket_path() const { return dir_ / "plugins" / (options_.name + ".sock"); }
    [[nodiscard]] fs::path socket_dir() const { return dir_ / "plugins"; }
    [[nodiscard]] fs::path spec_dir() const { return dir_ / "specs"; }
    [[nodiscard]] fs::path volumes_dir() const {
        return options_.controller.empty() ? dir_ / "volumes" : options_.controller / "volumes";
    }
    /// The address it listens on (after wait_ready): `unix:///...` or `tcp://127.0.0.1:PORT`.
    [[nodiscard]] std::string address() const;
    [[nodiscard]] pid_t pid() const { return pid_; }

    /// A config that finds this plugin (socket and spec dirs in the temp dir), with `timeouts`.
    [[nodiscard]] core::Config config(core::Timeouts timeouts = fast_timeouts()) const;
    /// Short deadlines for tests: connect 2 s, calls 2 s, retry budget 4 s.
    [[nodiscard]] static core::Timeouts fast_timeouts();

    /// Every call recorded so far, in the order they arrived; with `method`, only those. Each
    /// has "method", "body", "headers", "behaviour", "start" and, once answered, "end" and
    /// "status": ticks of one counter over all connections, so for two calls a and b, a.end <
    /// b.start means a was answered before b arrived. A streamed hostile answer adds "sent" (the
    /// bytes the plugin got out) once it stopped.
    [[nodiscard]] std::vector<nlohmann::json> calls(const std::string& method = {}) const;
    /// Mount counts {"NAME": {"ID": n}} as the plugin keeps them.
    [[nodiscard]] nlohmann::json mounts() const;
    /// Sets the behaviour of `method` ("*" for all) from now on; "ok" restores the default.
    void behave(const std::string& method, const std::string& behaviour);

    /// Stops and reaps the plugin now (the destructor does it otherwise).
    void stop();
    /// SIGKILLs the plugin and starts it again on the same socket and volumes: it has
    /// forgotten its mounts. The record gets a line {"restart": N}; calls() tags each call with
    /// "instance": the number of restarts before it.
    void restart();
    [[nodiscard]] int restarts() const { return restarts_; }

  private:
    void start();

    TestPluginOptions options_;
    TempDir tmp_;
    fs::path dir_;
    pid_t pid_ = -1;
    nlohmann::json control_ = nlohmann::json::object();
    int restarts_ = 0;
};

} // namespace dvdi::test
