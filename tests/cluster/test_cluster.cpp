// Volumes shared among agents (issue 17), on one machine: two "agents", each with its own node
// config, state dir, node name, plugin instance and mount namespace (its runc, its hooks and its
// gc run there, through nsenter), the plugins sharing one storage controller
// (tests/plugin/controller.hpp), real runc containers with the built hook.
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
#include "tests/ns/fake_container.hpp"
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
    // The agent's mount namespace: a process holding one, made in the test's body (the
    // namespace goes with it); every command of the agent runs in it.
    void enter(const FakeContainer& holder) { ns_pid = holder.pid(); }
    [[nodiscard]] std::vector<std::string> in_ns(std::vector<std::string> argv) const {
        REQUIRE(ns_pid > 0);
        argv.insert(argv.begin(), {"nsenter", "-t", std::to_string(ns_pid), "-m", "--"});
        return argv;
    }
    [[nodiscard]] CommandResult cli(std::vector<std::string> args) const {
        args.insert(args.begin(), {hook_binary().string(), "--config", node.config.string()});
        return run(in_ns(args), {.timeout = 120s});
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
    pid_t ns_pid = 0;
};

// A detached runc container of `bundle` (its stdio closed), and the means to stop it.
// Started by the agent's runc, in the agent's mount namespace.
struct Detached {
    Detached(const Agent& agent, const OciBundle& bundle, std::string id)
        : agent(agent), root((bundle.dir() / "runc").string()), id(std::move(id)) {
        const auto r =
            run(agent.in_ns({"runc", "--root", root, "run", "-d", "--bundle", bundle.dir().string(), this->id}),
                {.timeout = 60s, .cwd = bundle.dir()});
        INFO(r.err);
        REQUIRE(r.status == 0);
        started = true;
        pid = json::parse(run(agent.in_ns({"runc", "--root", root, "state", this->id})).out).at("pid").get<int>();
    }
    // The agent crashes: its container dies and no poststop runs.
    void crash() const { ::kill(pid, SIGKILL); }
    // Deleted by runc (its poststop runs), whatever state it is in.
    ~Detached() {
        if (started) {
            run(agent.in_ns({"runc", "--root", root, "delete", "--force", id}));
        }
    }
    const Agent& agent;
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
    Agent a(controller.path(), "agent-a", false);
    Agent b(controller.path(), "agent-b", preempt);
    const fs::path data = controller.path() / "volumes/data";
    in_private_mount_ns([&] {
        const FakeContainer ns_a;
        const FakeContainer ns_b;
        a.enter(ns_a);
        b.enter(ns_b);
        const auto mnt_ns = [](pid_t pid) { return fs::read_symlink(fmt::format("/proc/{}/ns/mnt", pid)); };
        REQUIRE(mnt_ns(ns_a.pid()) != mnt_ns(ns_b.pid()));
        REQUIRE(mnt_ns(ns_a.pid()) != mnt_ns(::getpid()));
        // The task runs on agent-a and writes.
        const auto on_a = a.task("exec >/dev/null 2>&1 </dev/null; echo from-a > /data/file; sleep 600");
        const Detached task_a(a, on_a, "task-on-a");
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
            const auto r = run(b.in_ns({"runc", "--root", (on_b.dir() / "runc").string(), "run", "-d", "--bundle",
                                        on_b.dir().string(), "task-on-b"}),
                               {.timeout = 60s, .cwd = on_b.dir()});
            run(b.in_ns({"runc", "--root", (on_b.dir() / "runc").string(), "delete", "--force", "task-on-b"}));
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
        const Detached task_b(b, on_b, "task-on-b");
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

TEST_CASE("two agents share a multi-attach volume, each with its own reference count", "[cluster][e2e][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    const TempDir controller("dvdi-cluster");
    Agent a(controller.path(), "agent-a", false);
    Agent b(controller.path(), "agent-b", false);
    const fs::path data = controller.path() / "volumes/data";
    // Each task writes its own heartbeat into the one share, NFS-like.
    const auto task = [&](const Agent& agent, const std::string& beat) {
        auto bundle = agent.task("exec >/dev/null 2>&1 </dev/null; while true; do date +%s%N > /data/" + beat +
                                 "; sleep 0.1; done");
        bundle.add_env("DVDI_VOLUME_OPTS=attach=multi");
        bundle.write();
        return bundle;
    };
    in_private_mount_ns([&] {
        const FakeContainer ns_a;
        const FakeContainer ns_b;
        a.enter(ns_a);
        b.enter(ns_b);
        const auto a1 = task(a, "a1");
        const auto a2 = task(a, "a2");
        const auto b1 = task(b, "b1");
        auto on_a1 = std::make_unique<Detached>(a, a1, "a1");
        auto on_a2 = std::make_unique<Detached>(a, a2, "a2");
        const Detached on_b1(b, b1, "b1");
        REQUIRE(
            wait_for([&] { return fs::exists(data / "a1") && fs::exists(data / "a2") && fs::exists(data / "b1"); }));
        // One Mount per agent, whatever the number of its containers.
        CHECK(a.plugin.calls("VolumeDriver.Mount").size() == 1);
        CHECK(b.plugin.calls("VolumeDriver.Mount").size() == 1);
        CHECK(a.list()["volumes"].at(0)["users"].size() == 2);
        on_a1.reset(); // runc deletes it: its poststop releases one of a's two users
        CHECK(a.plugin.calls("VolumeDriver.Unmount").empty());
        on_a2.reset(); // a's last user: a's Unmount, of a's ID
        const auto unmounts = a.plugin.calls("VolumeDriver.Unmount");
        REQUIRE(unmounts.size() == 1);
        CHECK(unmounts.at(0)["status"] == 200);
        CHECK(a.list()["volumes"].empty());
        // b is untouched: still attached, still mounted on b, its container still writing.
        CHECK(b.plugin.calls("VolumeDriver.Unmount").empty());
        CHECK(b.list()["volumes"].at(0)["status"] == "mounted");
        const std::string before = read_file(data / "b1");
        CHECK(wait_for([&] { return read_file(data / "b1") != before; }));
    });
    for (const auto& line : controller_log(controller.path())) {
        if (line["call"] == "Unmount") {
            CHECK(line["ok"] == true);
            CHECK(line["id"].get<std::string>().starts_with(line["agent"].get<std::string>() + ":"));
        }
    }
}

TEST_CASE("an agent cut off from its plugin: gc keeps within its deadlines and drops nothing it cannot settle",
          "[cluster][e2e][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    const TempDir controller("dvdi-cluster");
    Agent a(controller.path(), "agent-a", false);
    const fs::path data = controller.path() / "volumes/data";
    // Unreachable: the plugin is gone (its socket with it), or it takes every call and never
    // answers (a partition that swallows packets).
    const bool gone = GENERATE(true, false);
    INFO((gone ? "plugin gone" : "plugin silent"));
    in_private_mount_ns([&] {
        const FakeContainer ns_a;
        a.enter(ns_a);
        const auto bundle = a.task("exec >/dev/null 2>&1 </dev/null; echo up > /data/up; sleep 600");
        const Detached task(a, bundle, "task");
        REQUIRE(wait_for([&] { return fs::exists(data / "up"); }));
        if (gone) {
            a.plugin.stop();
        } else {
            a.plugin.behave("*", "wait:" + (controller.path() / "never").string());
        }
        task.crash();
        // gc gives up on the call within the node's deadlines (connect 2 s, calls 2 s, a retry
        // budget of 4 s: TestPlugin::fast_timeouts), says so, and keeps the record.
        const auto gc = a.cli({"gc"});
        INFO(gc.out << gc.err);
        CHECK_FALSE(gc.timed_out);
        CHECK(gc.status == 1);
        CHECK_THAT(gc.out + gc.err, Catch::Contains("ebs/data")); // done on stdout, FAILED on stderr
        const auto volumes = a.list()["volumes"];
        REQUIRE(volumes.size() == 1);
        CHECK(volumes.at(0)["status"] == "unmount_failed");
        // The controller still has the attachment: nothing was dropped behind the storage's back.
        CHECK(json::parse(read_file(controller.path() / "controller.json"))["volumes"]["data"]["agents"].contains(
            "agent-a"));
        // Reachable again: the next gc settles it.
        if (gone) {
            a.plugin.restart();
        } else {
            a.plugin.behave("*", "ok");
        }
        const auto healed = a.cli({"gc"});
        INFO(healed.out << healed.err);
        CHECK(healed.status == 0);
        CHECK(a.list()["volumes"].empty());
        CHECK_FALSE(json::parse(read_file(controller.path() / "controller.json"))["volumes"]["data"]["agents"].contains(
            "agent-a"));
    });
}
