// The simulated cluster's storage (tests/plugin/controller.hpp): two agents' test plugins share
// one controller, over the real protocol. What the cluster scenarios rely on: a single-attach
// volume is attached to one agent at a time, preempt takes it away, a multi-attach volume is
// each agent's own, and the controller's log shows who detached what.
#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/volumes.hpp"
#include "tests/harness/harness.hpp"
#include "tests/plugin/test_plugin.hpp"

using namespace dvdi;
using namespace dvdi::test;
using nlohmann::json;

namespace {

// One agent: its plugin (its own socket, its own record) and a driver opened on it as a hook
// on that agent would.
struct Agent {
    Agent(const fs::path& controller, const std::string& name, bool preempt)
        : plugin({.name = "ebs", .scope = "global", .controller = controller, .agent = name, .preempt = preempt}),
          config(plugin.config()), driver(volumes::open_driver("ebs", config)) {}
    TestPlugin plugin;
    core::Config config;
    std::unique_ptr<volumes::Driver> driver;
};

std::vector<json> controller_log(const fs::path& controller) {
    std::vector<json> lines;
    std::ifstream in(controller / "log.jsonl");
    for (std::string line; std::getline(in, line);) {
        lines.push_back(json::parse(line));
    }
    return lines;
}

} // namespace

TEST_CASE("cluster storage: a single-attach volume is one agent's at a time; preempt takes it away",
          "[cluster][plugin]") {
    const TempDir controller("dvdi-controller");
    const bool preempt = GENERATE(false, true);
    INFO("preempt " << preempt);
    Agent a(controller.path(), "agent-a", false);
    Agent b(controller.path(), "agent-b", preempt);
    CHECK(a.driver->capabilities().scope == "global");

    a.driver->ensure_exists("data", {}, false);
    const std::string on_a = a.driver->mount("data", "a:1");
    test::write_file(fs::path(on_a) / "written-on-a", "from a");
    CHECK(a.driver->path("data") == on_a);
    CHECK(b.driver->path("data").empty()); // not attached to b

    if (!preempt) {
        CHECK_THROWS_WITH(b.driver->mount("data", "b:1"), Catch::Contains("volume data is attached to agent agent-a"));
        CHECK(a.driver->path("data") == on_a);
        a.driver->unmount("data", "a:1");
    }
    // b gets it: after a let go, or by taking it away.
    const std::string on_b = b.driver->mount("data", "b:1");
    CHECK(test::read_file(fs::path(on_b) / "written-on-a") == "from a");
    CHECK(b.driver->path("data") == on_b);
    CHECK(a.driver->path("data").empty());
    if (preempt) {
        // a's own Unmount of the attachment it lost is refused in the plugin's words, and does
        // not touch b's.
        CHECK_THROWS_WITH(a.driver->unmount("data", "a:1"),
                          Catch::Contains("not attached to agent agent-a under ID a:1 (agent agent-b took it over)"));
        CHECK(b.driver->path("data") == on_b);
    }
    b.driver->unmount("data", "b:1");
    CHECK(b.driver->path("data").empty());

    // The log: nobody ever detached another agent's ID; the preemption is said once.
    int preemptions = 0;
    for (const auto& line : controller_log(controller.path())) {
        if (line["call"] == "Unmount" && line["ok"] == true) {
            CHECK(line["id"].get<std::string>().starts_with(line["agent"].get<std::string>().substr(6, 1) + ":"));
        }
        preemptions += static_cast<int>(line["preempted"].size());
    }
    CHECK(preemptions == (preempt ? 1 : 0));
}

TEST_CASE("cluster storage: a multi-attach volume is attached to each agent on its own", "[cluster][plugin]") {
    const TempDir controller("dvdi-controller");
    Agent a(controller.path(), "agent-a", false);
    Agent b(controller.path(), "agent-b", false);
    a.driver->ensure_exists("shared", {{"attach", "multi"}}, false);
    const std::string on_a = a.driver->mount("shared", "a:1");
    const std::string on_b = b.driver->mount("shared", "b:1");
    CHECK(on_a == on_b); // one share
    a.driver->unmount("shared", "a:1");
    CHECK(a.driver->path("shared").empty());
    CHECK(b.driver->path("shared") == on_b); // a's last Unmount is not b's
    // An ID is the agent's own: b cannot detach a's, even with the same ID.
    const std::string again = a.driver->mount("shared", "same");
    CHECK_THROWS_WITH(b.driver->unmount("shared", "same"), Catch::Contains("not attached to agent agent-b"));
    CHECK(a.driver->path("shared") == again);
    a.driver->unmount("shared", "same");
    b.driver->unmount("shared", "b:1");
}
