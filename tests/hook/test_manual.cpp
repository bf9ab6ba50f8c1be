// The commands a person runs (mount, unmount, list, gc, doctor) and the README's demo, driven
// through the built binary.
#include <sys/mount.h>

#include <algorithm>
#include <future>
#include <sstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/core.hpp"
#include "lib/ns/ns.hpp"
#include "lib/volumes/node/state_store.hpp"
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

TEST_CASE("the plugin and list --json tell which node and which holder took a mount", "[hook][manual]") {
    TestPlugin plugin;
    const Cli cli(&plugin);
    // Without node_name: the host name.
    CHECK(nlohmann::json::parse(cli({"list", "--json"}).out)["node"] == core::node_name(core::Config{}));
    auto c = core::parse_config(read_file(cli.config), "config");
    c.node_name = "agent-a";
    write_file(cli.config, nlohmann::json(c).dump());
    REQUIRE(cli({"mount", "-d", plugin.name(), "traced"}).status == 0);
    const auto mounts = plugin.calls("VolumeDriver.Mount");
    REQUIRE(mounts.size() == 1);
    const std::string id = mounts.at(0)["body"]["ID"];
    // The holder is "manual:DRIVER/NAME": its first 12 characters, ':' and '/' made '_'.
    std::string holder = fmt::format("manual:{}/traced", plugin.name()).substr(0, 12);
    std::replace_if(
        holder.begin(), holder.end(), [](char ch) { return ch == ':' || ch == '/'; }, '_');
    CHECK(id.starts_with("agent-a:" + holder + ":"));
    const auto listed = nlohmann::json::parse(cli({"list", "--json"}).out);
    CHECK(listed["node"] == "agent-a");
    CHECK(listed["volumes"].at(0)["mount_id"] == id);
    REQUIRE(cli({"unmount", "-d", plugin.name(), "traced"}).status == 0);
    CHECK(plugin.calls("VolumeDriver.Unmount").at(0)["body"]["ID"] == id);
}

TEST_CASE("bad manual input is exit 2 and changes nothing", "[hook][manual]") {
    const Cli cli;
    auto r = cli({"mount", "a/b"});
    CHECK(r.status == 2);
    CHECK(r.err == "dvdi-hook: error: volume.name: \"a/b\": a volume name cannot contain '/'\n");
    r = cli({"mount", "-o", "novalue", "v"});
    CHECK(r.status == 2);
    CHECK(r.err == "dvdi-hook: error: --opt: item \"novalue\": an option is KEY=VALUE, and this item has no '='\n");
    r = cli({"mount", "-o", "size=1", "-o", "=5", "v"});
    CHECK(r.status == 2);
    CHECK(r.err == "dvdi-hook: error: --opt: item \"=5\": an option needs a key before '='\n");
    r = cli({"mount", "--pid", "1", "v"});
    CHECK(r.status == 2);
    CHECK(r.err.find("--pid and --target go together") != std::string::npos);
    CHECK_FALSE(volumes::has_state((cli.dir / "state").string()));
}

TEST_CASE("mount without -d whose default driver is not installed says the default driver was used", "[hook][manual]") {
    TestPlugin plugin;
    const Cli cli(&plugin);
    auto c = core::parse_config(read_file(cli.config), "config");
    c.default_driver = "rexray";
    c.timeouts.plugin_wait = 500ms;
    write_file(cli.config, nlohmann::json(c).dump());
    const auto r = cli({"mount", "v"});
    INFO(r.err);
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    CHECK_THAT(r.err, Catch::StartsWith("dvdi-hook: error: volume rexray/v (volume): no driver was named, so the "
                                        "default driver \"rexray\" was used; no plugin \"rexray\" was found: "
                                        "no socket rexray.sock in ") &&
                          Catch::Contains("; plugins found: " + plugin.name() + ";"));
    // Named with -d, the same plugin is not said to be the default.
    const auto named = cli({"mount", "-d", "rexray", "v"});
    CHECK(named.status == 1);
    CHECK_THAT(named.err, Catch::StartsWith("dvdi-hook: error: volume rexray/v (volume): no plugin \"rexray\" was "
                                            "found: "));
    CHECK(plugin.calls().empty());
    CHECK(volumes::open_state_store((cli.dir / "state").string())->read().empty()); // nothing recorded
}

TEST_CASE("doctor warns when the default driver is not found, naming where it looked and the plugins found",
          "[hook][manual]") {
    TestPlugin plugin;
    const Cli cli(&plugin);
    auto r = cli({"doctor"});
    CHECK(r.out.find("ok    default driver local: built in\n") != std::string::npos);
    auto c = core::parse_config(read_file(cli.config), "config");
    c.default_driver = plugin.name();
    write_file(cli.config, nlohmann::json(c).dump());
    r = cli({"doctor"});
    CHECK(r.out.find("ok    default driver " + plugin.name() + ": plugin " + plugin.name() + " found\n") !=
          std::string::npos);
    c.default_driver = "rexray";
    write_file(cli.config, nlohmann::json(c).dump());
    r = cli({"doctor"});
    INFO(r.out << r.err);
    CHECK(r.status == 0); // a warning: containers that name their driver still work
    CHECK(r.out.find("warn  default driver rexray: a request that names no driver fails: no plugin \"rexray\" was "
                     "found: no socket rexray.sock in " +
                     c.plugin_socket_dirs.at(0) + ", no rexray.spec or rexray.json in " + c.plugin_spec_dirs.at(0) +
                     "; plugins found: " + plugin.name() + "\n") != std::string::npos);
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

namespace {

std::size_t count_of(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) {
        ++n;
    }
    return n;
}

} // namespace

TEST_CASE("--log-level debug logs each driver call; info logs none of them", "[hook][manual]") {
    TestPlugin plugin;
    const Cli cli(&plugin);
    const auto quiet = cli({"mount", "-d", plugin.name(), "v1"});
    INFO(quiet.err);
    REQUIRE(quiet.status == 0);
    CHECK(quiet.err.empty()); // a busy node's hooks stay quiet at info
    REQUIRE(cli({"unmount", "-d", plugin.name(), "v1"}).status == 0);

    const auto mount = cli({"--log-level", "debug", "mount", "-d", plugin.name(), "v1"});
    INFO(mount.err);
    REQUIRE(mount.status == 0);
    const std::string id = plugin.calls("VolumeDriver.Mount").back()["body"]["ID"].get<std::string>();
    const std::string driver = "dvdi-hook: debug: driver " + plugin.name() + ": ";
    CHECK(count_of(mount.err, driver + "Get/Create \"v1\": ok in ") == 1);
    CHECK(count_of(mount.err, fmt::format("{}Mount \"v1\" ID {}: ok in ", driver, id)) == 1);
    CHECK(mount.err.find(" ms: " + mount.out.substr(0, mount.out.size() - 1) + "\n") != std::string::npos);
    plugin.behave("VolumeDriver.Unmount", "500");
    const auto unmount = cli({"--log-level", "debug", "unmount", "-d", plugin.name(), "v1"});
    INFO(unmount.err);
    CHECK(count_of(unmount.err, fmt::format("{}Unmount \"v1\" ID {}: failed in ", driver, id)) == 1);
    CHECK(unmount.err.find("test plugin: injected failure") != std::string::npos);
}

TEST_CASE("--log-level debug logs each placement: volume, process, target, mode, outcome", "[hook][manual][root]") {
    DVDI_REQUIRE_ROOT();
    const Cleanup remove_target([] {
        std::error_code ec;
        fs::remove("/tmp/dvdi-debug-target", ec);
    });
    const Cli cli;
    in_private_mount_ns([&] {
        FakeContainer proc;
        const std::vector<std::string> args = {
            "mount", "--ro", "--pid", std::to_string(proc.pid()), "--target", "/tmp/dvdi-debug-target", "shown"};
        auto debug_args = args;
        debug_args.insert(debug_args.begin(), {"--log-level", "debug"});
        const auto m = cli(debug_args);
        INFO(m.err);
        REQUIRE(m.status == 0);
        const auto ns = fs::read_symlink(fmt::format("/proc/{}/ns/mnt", proc.pid())).string(); // mnt:[N]
        const std::string inode = ns.substr(5, ns.size() - 6);
        CHECK(m.err.find(fmt::format("dvdi-hook: debug: placement of local/shown: \"{}\" at \"/tmp/dvdi-debug-target\" "
                                     "in pid {} (mount namespace {}), ro: ok\n",
                                     (cli.dir / "data/volumes/shown/_data").string(), proc.pid(), inode)) !=
              std::string::npos);
        CHECK(m.err.find("dvdi-hook: debug: driver local: Mount \"shown\" ID ") != std::string::npos);
        // At info, the same command prints nothing of it (mount again: "ensure mounted").
        const auto quiet = cli(args);
        INFO(quiet.err);
        CHECK(quiet.status == 0);
        CHECK(quiet.err.find("placement of") == std::string::npos);
        CHECK(quiet.err.find("driver local:") == std::string::npos);
    });
}

TEST_CASE("concurrent mount --pid of one volume into one process mount and place it once", "[hook][manual][root]") {
    DVDI_REQUIRE_ROOT();
    // What a careless script does: the same `mount --pid` four times at once. Without the
    // holder's lock each call released the others' half-made record and mounted again; now one
    // Mount, one bind in the process, and every call answers the same mountpoint.
    const Cleanup remove_target([] {
        std::error_code ec;
        fs::remove("/tmp/dvdi-manual-concurrent", ec);
    });
    TestPlugin plugin({.behave = {{"VolumeDriver.Mount", "slow:1500"}}});
    const Cli cli(&plugin);
    in_private_mount_ns([&] {
        FakeContainer proc;
        std::vector<std::future<CommandResult>> calls;
        for (int i = 0; i < 4; ++i) {
            calls.push_back(std::async(std::launch::async, [&] {
                return cli({"mount", "-d", plugin.name(), "--pid", std::to_string(proc.pid()), "--target",
                            "/tmp/dvdi-manual-concurrent", "shared"});
            }));
        }
        const std::string mountpoint = (plugin.volumes_dir() / "shared").string();
        for (auto& call : calls) {
            const auto r = call.get();
            INFO(r.err);
            CHECK(r.status == 0);
            CHECK(r.out == mountpoint + "\n");
        }
        CHECK(plugin.calls("VolumeDriver.Mount").size() == 1);
        const std::string mountinfo = read_file(fmt::format("/proc/{}/mountinfo", proc.pid()));
        CHECK(count_of(mountinfo, " /tmp/dvdi-manual-concurrent ") == 1);
        REQUIRE(proc.write_file("/tmp/dvdi-manual-concurrent/from-inside") == 0);
        REQUIRE(fs::exists(plugin.volumes_dir() / "shared/from-inside"));
        // One unmount by hand releases it: the driver's one Unmount.
        REQUIRE(cli({"unmount", "-d", plugin.name(), "--pid", std::to_string(proc.pid()), "--target",
                     "/tmp/dvdi-manual-concurrent", "shared"})
                    .status == 0);
        CHECK(plugin.calls("VolumeDriver.Unmount").size() == 1);
        CHECK(nlohmann::json::parse(cli({"list", "--json"}).out)["volumes"].empty());
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

TEST_CASE("doctor: a local data dir that does not exist is said so, and doctor does not create it", "[hook][manual]") {
    const Cli cli;
    const auto r = cli({"doctor"});
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    CHECK(r.out.find("warn  driver local: data dir " + (cli.dir / "data").string() +
                     " does not exist yet: the local driver creates it (root's, 0700) with its first volume; "
                     "nothing in it to check\n") != std::string::npos);
    CHECK_FALSE(fs::exists(cli.dir / "data"));
    REQUIRE(cli({"mount", "scratch"}).status == 0); // a plain directory: the driver makes the data dir
    CHECK(cli({"doctor"})
              .out.find("ok    driver local: data dir " + (cli.dir / "data").string() +
                        " (root's, not writable by others, writable)\n") != std::string::npos);
    REQUIRE(cli({"unmount", "scratch"}).status == 0);
}

TEST_CASE("doctor: a state dir or a data dir the hook cannot write fails", "[hook][manual][root]") {
    DVDI_REQUIRE_ROOT();
    const Cli cli;
    REQUIRE(cli({"doctor"}).status == 0); // the state dir and its lock file exist now, as on a used node
    in_private_mount_ns([&] {
        // The node's dir (state dir, and the data dir's parent) on a read-only mount.
        const std::string dir = cli.dir.path().string();
        REQUIRE(::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) == 0);
        REQUIRE(::mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) == 0);
        const auto r = cli({"doctor"});
        INFO(r.out << r.err);
        CHECK(r.status == 1);
        CHECK(r.out.find("FAIL  state dir " + dir + "/state: mkostemp(`" + dir +
                         "/state/.dvdi-doctor-XXXXXX`): Read-only file system\n") != std::string::npos);
        CHECK(r.out.find("FAIL  driver local: data dir " + dir +
                         "/data does not exist, and the local driver cannot create it: mkostemp(`" + dir +
                         "/.dvdi-doctor-XXXXXX`): Read-only file system\n") != std::string::npos);
        CHECK(r.err == "dvdi-hook: error: doctor: 2 check(s) failed\n");
    });
}

TEST_CASE("doctor without a config file says the defaults are in use", "[hook][manual][root]") {
    DVDI_REQUIRE_ROOT();
    TempDir dir("dvdi-doctor");
    in_private_mount_ns([&] {
        // No file at the default path, and no plugin the host may have: empty dirs over them.
        for (const char* hide :
             {"/etc/dvdi-hook", "/run/docker/plugins", "/etc/docker/plugins", "/usr/lib/docker/plugins"}) {
            if (fs::exists(hide)) {
                REQUIRE(::mount("none", hide, "tmpfs", 0, nullptr) == 0);
            }
        }
        const auto r = run({hook_binary().string(), "--state-dir", (dir / "state").string(), "doctor"});
        INFO(r.out << r.err);
        CHECK(r.out.find("ok    config: no config file (/etc/dvdi-hook/config.json does not exist): the defaults are "
                         "in use; default driver rexray\n") != std::string::npos);
        CHECK(r.out.find("config /etc/dvdi-hook") == std::string::npos);
    });
}

TEST_CASE("list shows each status as the state spells it, and a failed volume's last error on a line of its own",
          "[hook][manual]") {
    TestPlugin plugin;
    const Cli cli(&plugin);
    REQUIRE(cli({"mount", "-d", plugin.name(), "v1"}).status == 0);
    plugin.behave("VolumeDriver.Unmount", "close"); // no answer: the record stays for gc
    const auto unmount = cli({"unmount", "-d", plugin.name(), "v1"});
    INFO(unmount.out << unmount.err);
    REQUIRE(unmount.status == 0);
    const auto state = nlohmann::json::parse(cli({"list", "--json"}).out);
    REQUIRE(state["volumes"].size() == 1);
    const auto& v = state["volumes"][0];
    CHECK(v["status"] == "unmount_failed");
    const std::string error = v["last_error"].get<std::string>();
    CHECK(error.starts_with("plugin " + plugin.name() + ": VolumeDriver.Unmount \"v1\": "));
    CHECK(error.find("dvdi-hook:") == std::string::npos);

    const auto table = cli({"list"});
    INFO(table.out);
    const std::string mount_id = v["mount_id"].get<std::string>();
    CHECK(table.out == fmt::format("{:<12} {:<24} {:<14} {:<40} {:<12} {}\n{:<12} {:<24} {:<14} {:<40} {:<12} \n{:<12} "
                                   "last error: {}\n",
                                   "DRIVER", "NAME", "STATUS", "MOUNTPOINT", "MOUNT ID", "USERS", plugin.name(), "v1",
                                   "unmount_failed", v["mountpoint"].get<std::string>(),
                                   mount_id.substr(mount_id.rfind(':') + 1, 12), "", error));
    plugin.behave("VolumeDriver.Unmount", "ok");
    REQUIRE(cli({"gc"}).status == 0);
    CHECK(cli({"list"}).out.find("last error") == std::string::npos);
}

TEST_CASE("list shows Docker's short IDs; --no-trunc and --json show them whole", "[hook][manual]") {
    TestPlugin plugin;
    const Cli cli(&plugin);
    REQUIRE(cli({"mount", "-d", plugin.name(), "v1"}).status == 0);
    // A container of runc/podman holds it too (a 64-hex ID), as a hook would have recorded it.
    const std::string container(64, 'c');
    volumes::open_state_store((cli.dir / "state").string())->transact(volumes::Scope::all(), [&](volumes::State& s) {
        s.volumes.at(0).users.push_back(container);
    });
    const auto state = nlohmann::json::parse(cli({"list", "--json"}).out);
    const std::string mount_id = state["volumes"][0]["mount_id"].get<std::string>();
    const std::string random = mount_id.substr(mount_id.rfind(':') + 1);
    REQUIRE(random.size() == 32);
    CHECK(state["volumes"][0]["users"] == nlohmann::json{"manual:" + plugin.name() + "/v1", container});

    const auto table = cli({"list"});
    INFO(table.out);
    const std::string mountpoint = state["volumes"][0]["mountpoint"].get<std::string>();
    CHECK(table.out.find(fmt::format("{:<40} {:<12} manual:{}/v1,{}\n", mountpoint, random.substr(0, 12), plugin.name(),
                                     std::string(12, 'c'))) != std::string::npos);
    CHECK(table.out.find(mount_id) == std::string::npos);
    CHECK(table.out.find(container) == std::string::npos);
    CHECK(table.out.starts_with("DRIVER       NAME                     STATUS         MOUNTPOINT"));

    const auto whole = cli({"list", "--no-trunc"});
    INFO(whole.out);
    CHECK(whole.out.find(fmt::format(" {} manual:{}/v1,{}\n", mount_id, plugin.name(), container)) !=
          std::string::npos);
    CHECK(cli({"list", "--help"}).out.find("--no-trunc") != std::string::npos);
}

TEST_CASE("short IDs: mount IDs by their random part, hex container IDs by their start, holders whole",
          "[hook][manual]") {
    CHECK(volumes::short_id("node-a:0123456789ab:" + std::string(32, 'f')) == std::string(12, 'f'));
    CHECK(volumes::short_id(std::string(64, 'e')) == std::string(12, 'e'));
    CHECK(volumes::short_id("0123456789abcdef") == "0123456789ab");
    CHECK(volumes::short_id("0123456789ab") == "0123456789ab");
    CHECK(volumes::short_id("manual:local/scratch") == "manual:local/scratch");
    CHECK(volumes::short_id("dvdcli:rexray/v1") == "dvdcli:rexray/v1");
    CHECK(volumes::short_id("3f8c1a2e-5b7d-4c11-9e0f-1234567890ab") == "3f8c1a2e-5b7d-4c11-9e0f-1234567890ab");
    CHECK(volumes::short_id("dvdi-e2e-writer") == "dvdi-e2e-writer");
    CHECK(volumes::short_id("a:b:" + std::string(31, 'a')) == "a:b:" + std::string(31, 'a'));
}

TEST_CASE("list shows the error of a Mount that failed and could not be undone", "[hook][manual]") {
    TestPlugin plugin;
    const Cli cli(&plugin);
    // The plugin takes the Mount and never answers, nor the Unmount that undoes it: the
    // volume's record stays `mounting` for gc, with why.
    plugin.behave("VolumeDriver.Mount", "close");
    plugin.behave("VolumeDriver.Unmount", "close");
    const auto mount = cli({"mount", "-d", plugin.name(), "v1"});
    INFO(mount.out << mount.err);
    REQUIRE(mount.status == 1);
    const auto state = nlohmann::json::parse(cli({"list", "--json"}).out);
    REQUIRE(state["volumes"].size() == 1);
    const auto& v = state["volumes"][0];
    CHECK(v["status"] == "mounting");
    const std::string error = v["last_error"].get<std::string>();
    CHECK(error.starts_with("plugin " + plugin.name() + ": VolumeDriver.Mount \"v1\": "));
    CHECK(error.find("unmounting it again failed too") != std::string::npos);
    const auto table = cli({"list"});
    INFO(table.out);
    CHECK(table.out.find(fmt::format("\n{:<12} last error: {}\n", "", error)) != std::string::npos);
}

TEST_CASE("gc drops a user whose container record is gone, unmounts what nobody holds, and says each once",
          "[hook][manual][gc]") {
    // Each report line once across stdout and stderr: on a terminal both show, and a line that
    // the command prints and the logger repeats shows twice.
    const Cli cli;
    REQUIRE(cli({"mount", "scratch"}).status == 0); // a plain directory: no mount, no root needed
    // A release interrupted between its two writes: the holder's record went, its use did not.
    volumes::open_state_store((cli.dir / "state").string())->transact(volumes::Scope::all(), [](volumes::State& s) {
        s.containers.clear();
    });
    const auto gc = cli({"gc"});
    INFO(gc.out << gc.err);
    CHECK(gc.status == 0);
    const std::string dropped = "volume local/scratch: dropped user manual:local/scratch (no such container)";
    const std::string unmounted = "volume local/scratch: unmounted (no container holds it)";
    CHECK(gc.out == dropped + "\n" + unmounted + "\n");
    CHECK(count_of(gc.err, dropped) == 0);
    CHECK(count_of(gc.err, unmounted) == 0);
    CHECK(nlohmann::json::parse(cli({"list", "--json"}).out)["volumes"].empty());
    CHECK(cli({"gc"}).out == "nothing to do\n");
}

TEST_CASE("gc prints a failed step once, on stderr, and a done one once, on stdout", "[hook][manual][gc]") {
    TestPlugin plugin;
    const Cli cli(&plugin);
    REQUIRE(cli({"mount", "-d", "local", "scratch"}).status == 0); // a plain directory: no root needed
    REQUIRE(cli({"mount", "-d", plugin.name(), "stuck"}).status == 0);
    plugin.behave("VolumeDriver.Unmount", "close"); // no answer: the unmount fails, gc retries it
    REQUIRE(cli({"unmount", "-d", plugin.name(), "stuck"}).status == 0);
    // The holder of "scratch" is gone: gc unmounts it (stdout). "stuck"'s retry fails (stderr).
    volumes::open_state_store((cli.dir / "state").string())->transact(volumes::Scope::all(), [](volumes::State& s) {
        s.containers.clear();
    });
    const auto gc = cli({"gc"});
    INFO("stdout:\n" << gc.out << "stderr:\n" << gc.err);
    CHECK(gc.status == 1);
    const std::string failed = "FAILED: volume " + plugin.name() + "/stuck: unmount failed again: ";
    CHECK(count_of(gc.err, failed) == 1);
    CHECK(count_of(gc.out, "stuck") == 0);
    CHECK(count_of(gc.err, "dvdi-hook: error: gc: ") == 1);
    // Every line of stdout appears once, and nowhere on stderr.
    std::istringstream lines(gc.out);
    for (std::string line; std::getline(lines, line);) {
        INFO(line);
        CHECK(count_of(gc.out, line) == 1);
        CHECK(count_of(gc.err, line) == 0);
    }
    CHECK_FALSE(gc.out.empty());
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
