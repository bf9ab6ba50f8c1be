// Volumes shared among agents (issue 17), on one machine: two "agents", each with its own node
// config, state dir, node name and plugin instance, the plugins sharing one storage controller
// (tests/plugin/controller.hpp), real runc containers with the built hook. (The agents share
// this test's private mount namespace: the volumes are the controller's directories, and each
// container gets its bind in its own namespace.)
#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/core.hpp"
#include "tests/harness/harness.hpp"
#include "tests/hook/node_dir.hpp"
#include "tests/plugin/test_plugin.hpp"

using namespace dvdi;
using namespace dvdi::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct Agent {
    Agent(const fs::path& controller, const std::string& name, bool preempt)
        : name(name),
          plugin({.name = "ebs", .scope = "global", .controller = controller, .agent = name, .preempt = preempt}),
          node("dvdi-" + name, &plugin) {
        auto c = core::parse_config(read_file(node.config), "config");
        c.node_name = name;
        c.default_driver = "ebs";
        write_file(node.config, json(c).dump());
    }
    [[nodiscard]] std::vector<std::string> hook(const std::string& stage) const {
        return {hook_binary().string(), "--config", node.config.string(), stage};
    }
    [[nodiscard]] CommandResult cli(std::vector<std::string> args) const {
        args.insert(args.begin(), {hook_binary().string(), "--config", node.config.string()});
        return run(args);
    }
    [[nodiscard]] json list() const { return json::parse(cli({"list", "--json"}).out); }
    // A task of this agent: the volume `data` at /data, the hooks of this agent's node.
    [[nodiscard]] OciBundle task(const std::string& script) const {
        OciBundle b({"sh", "-c", script});
        b.add_env("DVDI_VOLUME_NAME=data");
        b.add_env("DVDI_VOLUME_CONTAINERPATH=/data");
        b.add_hook("prestart", hook("prestart"));
        b.add_hook("poststop", hook("poststop"));
        b.write();
        return b;
    }
    std::string name;
    TestPlugin plugin;
    NodeDir node;
};

// A detached runc container of `bundle` (its stdio closed), and the means to stop it.
struct Detached {
    Detached(const OciBundle& bundle, std::string id) : root((bundle.dir() / "runc").string()), id(std::move(id)) {
        const auto r = run({"runc", "--root", root, "run", "-d", "--bundle", bundle.dir().string(), this->id},
                           {.timeout = 60s, .cwd = bundle.dir()});
        INFO(r.err);
        REQUIRE(r.status == 0);
        started = true;
        pid = json::parse(run({"runc", "--root", root, "state", this->id}).out).at("pid").get<int>();
    }
    // The agent crashes: its container dies and no poststop runs.
    void crash() const { ::kill(pid, SIGKILL); }
    // Deleted by runc (its poststop runs), whatever state it is in.
    ~Detached() {
        if (started) {
            run({"runc", "--root", root, "delete", "--force", id});
        }
    }
    std::string root;
    std::string id;
    bool started = false;
    int pid = 0;
};

std::vector<json> controller_log(const fs::path& controller) {
    std::vector<json> lines;
    std::ifstream in(controller / "log.jsonl");
    for (std::string line; std::getline(in, line);) {
        lines.push_back(json::parse(line));
    }
    return lines;
}

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit = 20s) {
    for (auto waited = 0ms; waited < limit; waited += 100ms) {
        if (done()) {
            return true;
        }
        std::this_thread::sleep_for(100ms);
    }
    return done();
}

} // namespace

TEST_CASE("a task moves from a crashed agent to another; the agent that comes back settles without disturbing it",
          "[cluster][e2e][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    const bool preempt = GENERATE(true, false);
    INFO("preempt on agent-b: " << preempt);
    const TempDir controller("dvdi-cluster");
    const Agent a(controller.path(), "agent-a", false);
    const Agent b(controller.path(), "agent-b", preempt);
    const fs::path data = controller.path() / "volumes/data";
    in_private_mount_ns([&] {
        // The task runs on agent-a and writes.
        const auto on_a = a.task("exec >/dev/null 2>&1 </dev/null; echo from-a > /data/file; sleep 600");
        const Detached task_a(on_a, "task-on-a");
        REQUIRE(wait_for([&] { return fs::exists(data / "file"); }));
        REQUIRE(a.list()["containers"].size() == 1);
        // Agent a crashes: the container is gone, no poststop ran; its record stays.
        task_a.crash();
        REQUIRE(wait_for([&] {
            return ::kill(task_a.pid, 0) != 0 ||
                   read_file(fmt::format("/proc/{}/stat", task_a.pid)).find(") Z ") != std::string::npos;
        }));

        // The scheduler starts the task on agent-b.
        const auto on_b = b.task("exec >/dev/null 2>&1 </dev/null; cat /data/file > /data/seen-on-b; "
                                 "while true; do date +%s%N > /data/b-alive; sleep 0.1; done");
        if (!preempt) {
            // Attached to agent-a still: b's start fails in the plugin's words, and b keeps
            // nothing.
            const auto r = run({"runc", "--root", (on_b.dir() / "runc").string(), "run", "-d", "--bundle",
                                on_b.dir().string(), "task-on-b"},
                               {.timeout = 60s, .cwd = on_b.dir()});
            run({"runc", "--root", (on_b.dir() / "runc").string(), "delete", "--force", "task-on-b"});
            INFO(r.err);
            CHECK(r.status != 0);
            CHECK_THAT(r.err, Catch::Contains("data") && Catch::Contains("is attached to agent agent-a"));
            CHECK(b.list()["volumes"].empty());
            CHECK(b.list()["containers"].empty());
            CHECK(b.plugin.mounts() == json::object());
            // Agent a comes back: its gc releases the task's volume, for real this time.
            const auto gc = a.cli({"gc"});
            INFO(gc.out << gc.err);
            CHECK(gc.status == 0);
            CHECK(a.list()["volumes"].empty());
            return;
        }
        const Detached task_b(on_b, "task-on-b");
        REQUIRE(wait_for([&] { return fs::exists(data / "seen-on-b"); }));
        CHECK(read_file(data / "seen-on-b") == "from-a\n");

        // Agent a comes back and runs gc: it settles its stale record; b is untouched.
        const auto gc = a.cli({"gc"});
        INFO(gc.out << gc.err);
        CHECK(gc.status == 0);
        CHECK_THAT(gc.out, Catch::Contains("released ebs/data"));
        CHECK(a.list()["volumes"].empty());
        CHECK(a.list()["containers"].empty());
        CHECK(a.cli({"gc"}).out == "nothing to do\n");
        const std::string before = read_file(data / "b-alive");
        CHECK(wait_for([&] { return read_file(data / "b-alive") != before; })); // b still writes
        CHECK(b.list()["volumes"].at(0)["status"] == "mounted");

        // Nobody ever detached another agent's attachment: every Unmount that succeeded was of
        // an ID its own node made (mount IDs begin with the node's name).
        for (const auto& line : controller_log(controller.path())) {
            if (line["call"] == "Unmount" && line["ok"] == true) {
                CHECK(line["id"].get<std::string>().starts_with(line["agent"].get<std::string>() + ":"));
            }
        }
    });
}
