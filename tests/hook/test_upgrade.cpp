// The upgrade from version 1, end to end: a volume really mounted through the test plugin and
// recorded in a version-1 state.json exactly as 0.1.0's store wrote it (a container started
// before the upgrade), then the new binary's poststop, gc or `unmount` for it: the plugin must
// get the Unmount with the recorded mount ID, and the node's state must be clean after.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/core.hpp"
#include "lib/ns/ns.hpp"
#include "lib/volumes/volumes.hpp"
#include "tests/harness/harness.hpp"
#include "tests/hook/node_dir.hpp"
#include "tests/plugin/test_plugin.hpp"

using namespace dvdi;
using namespace dvdi::test;
using nlohmann::json;

namespace {

struct Upgraded : NodeDir {
    explicit Upgraded(const TestPlugin& plugin) : NodeDir("dvdi-upgrade", &plugin) {}
    [[nodiscard]] CommandResult hook(std::vector<std::string> args, const std::string& input = {}) const {
        args.insert(args.begin(), {hook_binary().string(), "--config", config.string()});
        return run(args, {.input = input});
    }
    [[nodiscard]] fs::path state_dir() const { return dir / "state"; }
};

// A process that ran and is gone.
ns::ProcessId gone_process() {
    const pid_t child = ::fork();
    if (child == 0) {
        ::_exit(0);
    }
    const auto id = ns::process_id(child);
    ::waitpid(child, nullptr, 0);
    REQUIRE(id.has_value());
    return *id;
}

// The state.json of 0.1.0, field by field as its to_json wrote them (state.cpp at 0.1.0), and
// as its store saved them: dump(1) and a newline.
std::string version_1_state(const std::string& driver, const std::string& name, const std::string& mount_id,
                            const std::string& mountpoint, const std::string& holder, const std::string& runtime,
                            const ns::ProcessId& process) {
    const json volume = {{"driver", driver},         {"name", name},
                         {"mount_id", mount_id},     {"mountpoint", mountpoint},
                         {"options", json::array()}, {"status", "mounted"},
                         {"users", {holder}},        {"intent_by", {{"pid", 4242}, {"start_time", 1}}},
                         {"last_error", ""}};
    const json container = {{"id", holder},
                            {"runtime", runtime},
                            {"process", {{"pid", process.pid}, {"start_time", process.start_time}}},
                            {"status", "active"},
                            {"volumes",
                             {{{"driver", driver},
                               {"name", name},
                               {"target", runtime == "manual" ? "" : "/data"},
                               {"placed", runtime != "manual"},
                               {"container_path", runtime == "manual" ? json(nullptr) : json("/data")},
                               {"read_only", false}}}}};
    return json{{"version", 1}, {"volumes", {volume}}, {"containers", {container}}}.dump(1) + "\n";
}

} // namespace

TEST_CASE("a volume mounted before the upgrade is released by the new binary with its recorded mount ID",
          "[hook][upgrade]") {
    TestPlugin plugin;
    const Upgraded node(plugin);
    const std::string volume = "before-upgrade";
    // The old hook's Mount, for real: the plugin holds it under this ID from now on.
    const std::string mount_id = volumes::new_mount_id();
    const core::Config config = plugin.config();
    const auto driver = volumes::open_driver(plugin.name(), config);
    driver->ensure_exists(volume, {}, false);
    const std::string mountpoint = driver->mount(volume, mount_id);
    REQUIRE(plugin.mounts() == json{{volume, {{mount_id, 1}}}});

    const std::string how = GENERATE(as<std::string>{}, "poststop", "gc", "unmount");
    INFO(how);
    std::string holder = "web-1";
    std::string runtime = "oci";
    ns::ProcessId process = ns::self_process(); // poststop: the runtime says the container stopped
    if (how == "gc") {
        process = gone_process();
    } else if (how == "unmount") {
        holder = fmt::format("manual:{}/{}", plugin.name(), volume);
        runtime = "manual";
        process = {};
    }
    fs::create_directories(node.state_dir());
    fs::permissions(node.state_dir(), fs::perms::owner_all);
    write_file(node.state_dir() / "state.json",
               version_1_state(plugin.name(), volume, mount_id, mountpoint, holder, runtime, process));

    CommandResult r;
    if (how == "poststop") {
        const json oci_state = {{"ociVersion", "1.0.2"},
                                {"id", holder},
                                {"status", "stopped"},
                                {"pid", 0},
                                {"bundle", (node.dir / "bundle-gone").string()}};
        r = node.hook({"poststop"}, oci_state.dump());
    } else if (how == "gc") {
        r = node.hook({"gc"});
        CHECK(r.out.find(fmt::format("container {} (oci, pid {} is gone): released {}/{}", holder, process.pid,
                                     plugin.name(), volume)) != std::string::npos);
    } else {
        r = node.hook({"unmount", "--driver", plugin.name(), volume});
    }
    INFO(r.out << r.err);
    REQUIRE(r.status == 0);
    CHECK(r.err.find("migrated the node's state from " + (node.state_dir() / "state.json").string() +
                     " (version 1: 1 volume(s), 1 container(s))") != std::string::npos);

    // The plugin got the Unmount of the old hook's mount, under its ID, and holds nothing now.
    const auto unmounts = plugin.calls("VolumeDriver.Unmount");
    REQUIRE(unmounts.size() == 1);
    CHECK(unmounts[0]["body"]["Name"] == volume);
    CHECK(unmounts[0]["body"]["ID"] == mount_id);
    CHECK(unmounts[0]["status"] == 200);
    CHECK(plugin.mounts() == json::object());

    // The state is clean, in the database, and state.json points at it in a form 0.1.0 refuses.
    const auto listed = json::parse(node.hook({"list", "--json"}).out);
    CHECK(listed["volumes"].empty());
    CHECK(listed["containers"].empty());
    CHECK(fs::exists(node.state_dir() / "state.db"));
    CHECK_THROWS_WITH(volumes::parse_state(read_file(node.state_dir() / "state.json"), "state.json"),
                      Catch::StartsWith("state file state.json has version 2, this dvdi-hook knows version 1"));
    // Nothing is left to do, and nothing happens twice.
    CHECK(node.hook({"gc"}).out == "nothing to do\n");
    CHECK(plugin.calls("VolumeDriver.Unmount").size() == 1);
}
