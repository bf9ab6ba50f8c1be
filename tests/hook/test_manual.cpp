// The commands a person runs (mount, unmount, list, gc, doctor) and the README's demo, driven
// through the built binary.
#include <future>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/core.hpp"
#include "lib/ns/ns.hpp"
#include "tests/harness/harness.hpp"
#include "tests/hook/node_dir.hpp"
#include "tests/ns/fake_container.hpp"
#include "tests/plugin/test_plugin.hpp"

using namespace dvdi;
using namespace dvdi::test;
using namespace std::chrono_literals;

namespace {

struct Cli : NodeDir {
    explicit Cli(const TestPlugin* plugin = nullptr) : NodeDir("dvdi-manual", plugin) {}
    CommandResult operator()(std::vector<std::string> args) const {
        args.insert(args.begin(), {hook_binary().string(), "--config", config.string()});
        return run(args);
    }
};

} // namespace

TEST_CASE("mount by hand is ensure-mounted; list shows it; unmount releases it", "[hook][manual][root]") {
    DVDI_REQUIRE_ROOT();
    const Cli cli;
    in_private_mount_ns([&] {
        const auto first = cli({"mount", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "scratch"});
        INFO(first.err);
        REQUIRE(first.status == 0);
        const std::string mountpoint = (cli.dir / "data/volumes/scratch/_data").string();
        REQUIRE(first.out == mountpoint + "\n");
        REQUIRE(ns::find_mount(mountpoint)->fstype == "tmpfs");
        REQUIRE(cli({"mount", "scratch"}).out == first.out); // again: nothing more
        const auto table = cli({"list"});
        REQUIRE(table.out.find("local        scratch                  mounted") != std::string::npos);
        REQUIRE(table.out.find("manual:local/scratch") != std::string::npos);
        const auto json = nlohmann::json::parse(cli({"list", "--json"}).out);
        REQUIRE(json["volumes"].size() == 1);
        REQUIRE(json["volumes"][0]["users"] == nlohmann::json{"manual:local/scratch"});
        REQUIRE(cli({"unmount", "scratch"}).status == 0);
        REQUIRE_FALSE(ns::find_mount(mountpoint).has_value());
        REQUIRE(nlohmann::json::parse(cli({"list", "--json"}).out)["volumes"].empty());
        const auto again = cli({"unmount", "scratch"});
        REQUIRE(again.status == 0);
        REQUIRE(again.err.find("was not mounted by hand") != std::string::npos);
    });
}

TEST_CASE("concurrent mounts by hand of one volume all answer its mountpoint; the driver mounts once",
          "[hook][manual]") {
    // A slow Mount keeps the first call inside the driver while the others arrive.
    TestPlugin plugin({.behave = {{"VolumeDriver.Mount", "slow:1500"}}});
    const Cli cli(&plugin);
    std::vector<std::future<CommandResult>> calls;
    for (int i = 0; i < 4; ++i) {
        calls.push_back(std::async(std::launch::async, [&] { return cli({"mount", "-d", plugin.name(), "shared"}); }));
    }
    const std::string mountpoint = (plugin.volumes_dir() / "shared").string();
    for (auto& call : calls) {
        const auto r = call.get();
        INFO(r.err);
        CHECK(r.status == 0);
        CHECK(r.out == mountpoint + "\n");
    }
    const auto mounts = plugin.calls("VolumeDriver.Mount");
    REQUIRE(mounts.size() == 1);
    const auto users = nlohmann::json::parse(cli({"list", "--json"}).out)["volumes"].at(0)["users"];
    CHECK(users == nlohmann::json{"manual:" + plugin.name() + "/shared"});
    // One unmount by hand releases it: the driver's one Unmount, with the Mount's ID.
    REQUIRE(cli({"unmount", "-d", plugin.name(), "shared"}).status == 0);
    const auto unmounts = plugin.calls("VolumeDriver.Unmount");
    REQUIRE(unmounts.size() == 1);
    CHECK(unmounts.at(0)["body"]["ID"] == mounts.at(0)["body"]["ID"]);
    CHECK(plugin.mounts() == nlohmann::json::object());
}

TEST_CASE("bad manual input is exit 2 and changes nothing", "[hook][manual]") {
    const Cli cli;
    auto r = cli({"mount", "a/b"});
    CHECK(r.status == 2);
    CHECK(r.err == "dvdi-hook: error: volume.name: \"a/b\": a volume name cannot contain '/'\n");
    r = cli({"mount", "-o", "novalue", "v"});
    CHECK(r.status == 2);
    r = cli({"mount", "--pid", "1", "v"});
    CHECK(r.status == 2);
    CHECK(r.err.find("--pid and --target go together") != std::string::npos);
    CHECK_FALSE(fs::exists(cli.dir / "state/state.json"));
}

TEST_CASE("mount --pid --target places the volume in a process; gc releases it when it is gone",
          "[hook][manual][root]") {
    DVDI_REQUIRE_ROOT();
    // The hook creates the target in the process's namespace, which shares the host's /tmp.
    const Cleanup remove_target([] {
        std::error_code ec;
        fs::remove("/tmp/dvdi-manual-target", ec);
    });
    const Cli cli;
    in_private_mount_ns([&] {
        FakeContainer proc;
        const auto m =
            cli({"mount", "--pid", std::to_string(proc.pid()), "--target", "/tmp/dvdi-manual-target", "placed"});
        INFO(m.err);
        REQUIRE(m.status == 0);
        REQUIRE(proc.write_file("/tmp/dvdi-manual-target/from-inside") == 0);
        REQUIRE(fs::exists(cli.dir / "data/volumes/placed/_data/from-inside"));
        REQUIRE(cli({"gc"}).out == "nothing to do\n"); // the process still runs
        proc.kill();
        const auto gc = cli({"gc"});
        INFO(gc.out << gc.err);
        REQUIRE(gc.status == 0);
        REQUIRE(gc.out.find("is gone): released local/placed") != std::string::npos);
        REQUIRE(nlohmann::json::parse(cli({"list", "--json"}).out)["containers"].empty());
    });
}

TEST_CASE("doctor checks the kernel, config, state dir and every plugin, and reports the policy", "[hook][manual]") {
    TestPlugin plugin;
    const Cli cli(&plugin);
    auto r = cli({"doctor"});
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    CHECK(r.out.find("ok    kernel open_tree/move_mount") != std::string::npos);
    CHECK(r.out.find("ok    state dir") != std::string::npos);
    CHECK(r.out.find("ok    plugin " + plugin.name() + ": activated, scope local") != std::string::npos);
    CHECK(r.out.find("info  policy: drivers tenants may use: any\n") != std::string::npos);
    CHECK(r.out.find("info  policy: local driver: no options from tenants, no mount helpers, its mounts "
                     "nosuid,nodev\n") != std::string::npos);
    // The operator's policy, as doctor reports it.
    auto c = core::parse_config(read_file(cli.config), "config");
    c.allowed_drivers = {"local", plugin.name()};
    c.local_volumes.push_back({.name = "scratch-*", .type = "tmpfs", .device = "tmpfs", .o = "size=1m"});
    c.driver_policy[plugin.name()].tenant_options = std::vector<std::string>{"size"};
    c.host_path_prefixes = {"/etc/ebs-explicit"};
    write_file(cli.config, nlohmann::json(c).dump());
    r = cli({"doctor"});
    CHECK(r.status == 0);
    CHECK(r.out.find("info  policy: drivers tenants may use: local, " + plugin.name() + "\n") != std::string::npos);
    CHECK(r.out.find("info  policy: local volume scratch-*: type tmpfs device tmpfs o size=1m\n") != std::string::npos);
    CHECK(r.out.find("info  policy: driver " + plugin.name() +
                     ": tenant options size; mountpoints under anywhere but the system directories\n") !=
          std::string::npos);
    CHECK(r.out.find("info  policy: host paths of tasks without an image: under /etc/ebs-explicit (created under "
                     "/tmp)\n") != std::string::npos);
    plugin.behave("Plugin.Activate", "noimpl");
    r = cli({"doctor"});
    CHECK(r.status == 1);
    CHECK(r.out.find("FAIL  plugin " + plugin.name()) != std::string::npos);
    CHECK(r.err == "dvdi-hook: error: doctor: 1 check(s) failed\n");
}

TEST_CASE("the README's main command runs the demo", "[hook][demo][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    const auto r = run(
        {"bash", (source_root() / "scripts/demo.sh").string()},
        {.env = std::vector<std::string>{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "BUILD_DIR=" + build_root().string()},
         .timeout = 300s});
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    CHECK(r.out.find("container 1: wrote /data/message") != std::string::npos);
    CHECK(r.out.find("container 2: /data/message says: written by container 1") != std::string::npos);
    CHECK(run({"sh", "-c", "ls -d /tmp/dvdi-demo.* 2>/dev/null | wc -l"}).out == "0\n");
}
