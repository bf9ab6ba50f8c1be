// The Mesos isolator commands, driven as criteo's command-isolator module drives them:
// `<command> INPUT OUTPUT ERROR` with the input also on stdin, against the test plugin and a
// forked "container" in its own mount namespace.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "lib/volumes/node/state_store.hpp"
#include "tests/harness/harness.hpp"
#include "tests/hook/mesos_stage.hpp"
#include "tests/ns/fake_container.hpp"
#include "tests/plugin/test_plugin.hpp"

using namespace dvdi;
using namespace dvdi::test;
using nlohmann::json;

namespace {

// A ContainerConfig as the agent builds it for a command task launched by Marathon: a DVDI
// external volume (DOCKER_VOLUME, relative container path) and the old env form.
json container_input(const std::string& id, const fs::path& sandbox, const std::string& env_path,
                     std::optional<pid_t> pid = std::nullopt, const std::string& second = "envvol") {
    const json volume = {{"container_path", "data"},
                         {"mode", "RW"},
                         {"source",
                          {{"type", "DOCKER_VOLUME"},
                           {"docker_volume",
                            {{"driver", "testplug"},
                             {"name", "mvol"},
                             {"driver_options", {{"parameter", {{{"key", "size"}, {"value", "100"}}}}}}}}}}};
    const json env = {{"variables",
                       {{{"name", "DVDI_VOLUME_NAME"}, {"type", "VALUE"}, {"value", second}},
                        {{"name", "DVDI_VOLUME_DRIVER"}, {"type", "VALUE"}, {"value", "testplug"}},
                        {{"name", "DVDI_VOLUME_CONTAINERPATH"}, {"type", "VALUE"}, {"value", env_path}},
                        {{"name", "MARATHON_APP_ID"}, {"type", "VALUE"}, {"value", "/hello"}}}}};
    const json container = {{"type", "MESOS"}, {"volumes", {volume}}};
    json in = {{"container_id", {{"value", id}}},
               {"container_config",
                {{"command_info",
                  {{"arguments", {"mesos-executor", "--launcher_dir=/usr/libexec/mesos"}},
                   {"environment", env},
                   {"shell", false},
                   {"value", "/usr/libexec/mesos/mesos-executor"}}},
                 {"container_info", container},
                 {"directory", sandbox.string()},
                 {"executor_info",
                  {{"command", {{"shell", true}, {"value", "sleep 100"}}},
                   {"container", container},
                   {"executor_id", {{"value", "hello.instance-1"}}},
                   {"framework_id", {{"value", "fw-1"}}}}},
                 {"resources", {{{"name", "cpus"}, {"type", "SCALAR"}, {"scalar", {{"value", 0.2}}}}}},
                 {"user", "root"}}}};
    if (pid) {
        in["pid"] = *pid;
    }
    return in;
}

struct Setup {
    TestPlugin plugin;
    TempDir dir{"dvdi-mesos"};
    core::Config config = plugin.config();
    fs::path config_path = dir / "config.json";
    fs::path sandbox = dir / "sandbox";
    std::string env_path = (dir / "envdata").string(); // under /tmp: an auto-create prefix

    Setup() {
        write_file(config_path, json(config).dump());
        fs::create_directories(sandbox);
    }
    [[nodiscard]] volumes::State state() const {
        if (!volumes::has_state(config.state_dir)) {
            return {};
        }
        return volumes::open_state_store(config.state_dir)->read();
    }
};

std::size_t count_lines(const std::string& s) {
    return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

} // namespace

TEST_CASE("mesos prepare/isolate/cleanup: the volumes appear under the sandbox in the container only",
          "[mesos][root]") {
    DVDI_REQUIRE_ROOT();
    in_private_mount_ns([] {
        Setup s;
        FakeContainer c;
        const auto prepared =
            mesos_stage(s.config_path, "prepare", container_input("ctr-1", s.sandbox, s.env_path).dump());
        INFO(prepared.err);
        REQUIRE(prepared.status == 0);
        REQUIRE(json::parse(prepared.output) == json::parse(R"({"clone_namespaces":[131072]})"));
        REQUIRE(prepared.error.empty());
        REQUIRE(s.plugin.calls("VolumeDriver.Mount").size() == 2);
        REQUIRE(s.plugin.calls("VolumeDriver.Get").size() == 2);
        const auto create = s.plugin.calls("VolumeDriver.Create");
        REQUIRE(create.size() == 2);
        REQUIRE(create.at(1)["body"]["Opts"] == json{{"size", "100"}}); // DVDI_* volumes first, then DOCKER_VOLUME

        const auto isolated =
            mesos_stage(s.config_path, "isolate", container_input("ctr-1", s.sandbox, s.env_path, c.pid()).dump());
        INFO(isolated.err);
        REQUIRE(isolated.status == 0);
        const std::string mountpoint = s.state().find_volume({"testplug", "mvol"})->mountpoint;
        write_file(fs::path(mountpoint) / "hello", "from the volume");
        const fs::path inside = fs::path("/proc") / std::to_string(c.pid()) / "root";
        REQUIRE(read_file(inside / s.sandbox.relative_path() / "data" / "hello") == "from the volume");
        REQUIRE_FALSE(fs::exists(s.sandbox / "data" / "hello")); // the host sees the empty directory
        REQUIRE(c.write_file(s.env_path + "/from-task") == 0);
        REQUIRE(fs::exists(s.state().find_volume({"testplug", "envvol"})->mountpoint + "/from-task"));
        REQUIRE_FALSE(fs::exists(s.env_path + "/from-task"));
        REQUIRE(s.state().find_container("ctr-1")->process.pid == c.pid());

        const auto cleaned =
            mesos_stage(s.config_path, "cleanup", container_input("ctr-1", s.sandbox, s.env_path).dump());
        REQUIRE(cleaned.status == 0);
        const auto mounts = s.plugin.calls("VolumeDriver.Mount");
        const auto unmounts = s.plugin.calls("VolumeDriver.Unmount");
        REQUIRE(unmounts.size() == 2);
        REQUIRE(unmounts.at(0)["body"]["ID"] == mounts.at(1)["body"]["ID"]); // released in reverse
        REQUIRE(unmounts.at(1)["body"]["ID"] == mounts.at(0)["body"]["ID"]);
        REQUIRE(s.state().empty());
        const auto again =
            mesos_stage(s.config_path, "cleanup", container_input("ctr-1", s.sandbox, s.env_path).dump());
        REQUIRE(again.status == 0);
        REQUIRE(again.error.empty());
        REQUIRE(s.plugin.calls("VolumeDriver.Unmount").size() == 2);
    });
}

TEST_CASE("mesos prepare: a failing volume fails the launch, releases the other, leaves nothing", "[mesos][root]") {
    DVDI_REQUIRE_ROOT();
    in_private_mount_ns([] {
        Setup s;
        s.plugin.behave("VolumeDriver.Create", "500"); // the second (DOCKER_VOLUME) one is created ...
        // ... but the first exists already, so only the second Create is reached.
        fs::create_directories(s.plugin.volumes_dir() / "envvol");
        const auto before = mount_targets();
        const auto r = mesos_stage(s.config_path, "prepare", container_input("ctr-2", s.sandbox, s.env_path).dump());
        REQUIRE(r.status == 1);
        REQUIRE(count_lines(r.error) == 1);
        REQUIRE_THAT(r.error, Catch::Contains("testplug/mvol"));
        REQUIRE_THAT(r.error, Catch::Contains("released the volumes already taken (testplug/envvol)"));
        REQUIRE(r.output.empty());
        REQUIRE(s.plugin.calls("VolumeDriver.Mount").size() == 1);
        REQUIRE(s.plugin.calls("VolumeDriver.Unmount").size() == 1);
        REQUIRE(s.plugin.mounts() == json::object());
        REQUIRE(s.state().empty());
        REQUIRE(mount_targets() == before);
        // cleanup after a failed prepare (the containerizer's destroy path) succeeds.
        REQUIRE(mesos_stage(s.config_path, "cleanup", container_input("ctr-2", s.sandbox, s.env_path).dump()).status ==
                0);
    });
}

TEST_CASE("mesos: bad input exits 2 with one line in the ERROR file; no state, no driver call", "[mesos]") {
    Setup s;
    auto in = container_input("ctr-3", s.sandbox, s.env_path);
    in["container_config"]["container_info"]["volumes"][0]["source"]["docker_volume"]["name"] = "a/b";
    for (const std::string& text : {in.dump(), in.dump().substr(0, in.dump().size() / 2)}) {
        const auto r = mesos_stage(s.config_path, "prepare", text);
        CHECK(r.status == 2);
        CHECK(count_lines(r.error) == 1);
        CHECK(count_lines(r.err) == 1);
        CHECK_THAT(r.err, Catch::Contains(r.error.substr(0, r.error.size() - 1)));
    }
    CHECK_THAT(mesos_stage(s.config_path, "prepare", in.dump()).error,
               Catch::Contains("container_config.container_info.volumes[0].source.docker_volume.name"));
    CHECK(s.plugin.calls().empty());
    CHECK_FALSE(fs::exists(s.config.state_dir));
    const auto bad_cleanup = mesos_stage(s.config_path, "cleanup", R"({"container_config":{}})");
    CHECK(bad_cleanup.status == 2);
    CHECK_THAT(bad_cleanup.error, Catch::Contains("container_id"));
}

TEST_CASE("mesos prepare: a volume naming no driver, whose default driver is not installed, says so and lists the "
          "plugins found",
          "[mesos]") {
    Setup s;
    s.config.timeouts.plugin_wait = std::chrono::milliseconds(500);
    write_file(s.config_path, json(s.config).dump());
    REQUIRE(s.config.default_driver == "rexray"); // no such plugin here: only the test plugin is
    auto in = container_input("ctr-5", s.sandbox, s.env_path);
    in["container_config"]["container_info"]["volumes"][0]["source"]["docker_volume"].erase("driver");
    const auto r = mesos_stage(s.config_path, "prepare", in.dump());
    INFO(r.err);
    CHECK(r.status == 1);
    CHECK(count_lines(r.error) == 1);
    CHECK_THAT(r.error, Catch::StartsWith(
                            "volume rexray/mvol (container_config.container_info.volumes[0]): no driver was named, "
                            "so the default driver \"rexray\" was used; no plugin \"rexray\" was found: no socket "
                            "rexray.sock in " +
                            s.config.plugin_socket_dirs.at(0)) &&
                            Catch::Contains("timeouts.plugin_wait 0.5 s); plugins found: " + s.plugin.name() + ";"));
    CHECK_THAT(r.err, Catch::Contains(r.error.substr(0, r.error.size() - 1)));
    // The named driver's volume (the env form) was taken first and is released again.
    CHECK(s.plugin.calls("VolumeDriver.Mount").size() == s.plugin.calls("VolumeDriver.Unmount").size());
    CHECK(s.state().empty());

    // A driver named by the task is that name, without the default driver's sentence.
    in["container_config"]["container_info"]["volumes"][0]["source"]["docker_volume"]["driver"] = "nosuch";
    const auto named = mesos_stage(s.config_path, "prepare", in.dump());
    CHECK(named.status == 1);
    CHECK_THAT(named.error,
               Catch::Contains("): no plugin \"nosuch\" was found: ") && !Catch::Contains("default driver"));
    CHECK(s.state().empty());

    // A tenant that writes a path as the driver, to have the hook look for a socket elsewhere,
    // is refused by the field before any lookup, and nothing is mounted.
    const auto mounts = s.plugin.calls("VolumeDriver.Mount").size();
    in["container_config"]["container_info"]["volumes"][0]["source"]["docker_volume"]["driver"] = "../../x";
    const auto path = mesos_stage(s.config_path, "prepare", in.dump());
    CHECK(path.status == 2);
    CHECK_THAT(path.error, Catch::StartsWith("container_config.container_info.volumes[0].source.docker_volume.driver: "
                                             "\"../../x\""));
    CHECK(s.plugin.calls("VolumeDriver.Mount").size() == mounts);
    CHECK(s.state().empty());
}

TEST_CASE("mesos: empty input is an error of every stage, naming the input; nothing is mounted or recorded",
          "[mesos]") {
    Setup s;
    // First with no state on the node, then with another container's volumes recorded: an
    // empty input is the caller's mistake either way, never "no volumes" or "nothing to release".
    for (const bool used_node : {false, true}) {
        if (used_node) {
            REQUIRE(
                mesos_stage(s.config_path, "prepare", container_input("ctr-6", s.sandbox, s.env_path).dump()).status ==
                0);
        }
        const auto before = s.state();
        const auto calls = s.plugin.calls().size();
        for (const char* stage : {"prepare", "isolate", "cleanup"}) {
            for (const std::string& input : {std::string(), std::string(" \n")}) {
                INFO(stage << (used_node ? " (a used node)" : "") << " input " << json(input).dump());
                const auto r = mesos_stage(s.config_path, stage, input);
                CHECK(r.status == 2);
                CHECK_THAT(r.error, Catch::StartsWith("Mesos isolator input: \"") &&
                                        Catch::EndsWith("\": empty: the command-isolator module writes the "
                                                        "container's JSON (its container_id and container_config) to "
                                                        "the INPUT file and stdin\n"));
                CHECK(count_lines(r.error) == 1);
                CHECK(r.err == "dvdi-hook: error: " + r.error);
                CHECK(r.output.empty());
            }
        }
        CHECK(s.plugin.calls().size() == calls);
        CHECK(json(s.state()) == json(before));
        CHECK(fs::exists(s.config.state_dir) == used_node);
    }
    REQUIRE(mesos_stage(s.config_path, "cleanup", container_input("ctr-6", s.sandbox, s.env_path).dump()).status == 0);
}

TEST_CASE("mesos: a container without volumes costs nothing; unknown containers are fine", "[mesos]") {
    Setup s;
    const json plain = {{"container_id", {{"value", "plain"}}},
                        {"container_config", {{"directory", s.sandbox.string()}, {"user", "root"}}}};
    for (const char* name : {"prepare", "isolate", "cleanup"}) {
        const auto r = mesos_stage(s.config_path, name, plain.dump());
        INFO(name << ": " << r.err);
        CHECK(r.status == 0);
        CHECK(r.output.empty());
        CHECK(r.error.empty());
    }
    CHECK_FALSE(fs::exists(s.config.state_dir));
    CHECK(s.plugin.calls().empty());
}

TEST_CASE("mesos prepare: a second prepare of the same container is an error", "[mesos]") {
    Setup s;
    // No placement happens in prepare, so this needs no root.
    const auto in = container_input("ctr-4", s.sandbox, s.env_path).dump();
    REQUIRE(mesos_stage(s.config_path, "prepare", in).status == 0);
    const auto again = mesos_stage(s.config_path, "prepare", in);
    CHECK(again.status == 2);
    CHECK_THAT(again.error, Catch::Contains("already holds volumes"));
    CHECK(s.plugin.calls("VolumeDriver.Mount").size() == 2);
    const auto missing_pid = mesos_stage(s.config_path, "isolate", in);
    CHECK(missing_pid.status == 2);
    CHECK_THAT(missing_pid.error, Catch::Contains("pid"));
    REQUIRE(mesos_stage(s.config_path, "cleanup", in).status == 0);
    CHECK(s.plugin.calls("VolumeDriver.Unmount").size() == 2);
    CHECK(s.state().empty());
}

TEST_CASE("examples/mesos: the modules JSON names the isolator commands, which are wrappers", "[mesos][examples]") {
    const fs::path dir = source_root() / "examples" / "mesos";
    const json modules = json::parse(read_file(dir / "dvdi-hook-modules.json"));
    const auto& module = modules.at("libraries").at(0).at("modules").at(0);
    CHECK(module.at("name") == "com_criteo_mesos_CommandIsolator");
    std::map<std::string, std::string> params;
    for (const auto& p : module.at("parameters")) {
        params[p.at("key").get<std::string>()] = p.at("value").get<std::string>();
    }
    CHECK(params.at("module_name") == "dvdi-hook");
    for (const std::string stage_name : {"prepare", "isolate", "cleanup"}) {
        const std::string command = params.at("isolator_" + stage_name + "_command");
        CHECK(fs::path(command).filename() == "dvdi-hook-mesos-" + stage_name);
        CHECK(std::stoi(params.at("isolator_" + stage_name + "_timeout")) > 30);
        const fs::path wrapper = dir / ("dvdi-hook-mesos-" + stage_name);
        CHECK(::access(wrapper.c_str(), X_OK) == 0);
        CHECK_THAT(read_file(wrapper), Catch::Contains("mesos " + stage_name + " \"$@\""));
    }
    CHECK(params.size() == 7);
}

TEST_CASE("examples/mesos: the wrapper scripts run the hook with the module's three files", "[mesos][examples]") {
    Setup s;
    TempDir files("dvdi-mesos-call");
    const auto in = container_input("ctr-5", s.sandbox, s.env_path);
    write_file(files / "in", in.dump());
    write_file(files / "out", "");
    write_file(files / "err", "");
    CommandOptions o;
    o.input = in.dump();
    o.env = {"PATH=" + hook_binary().parent_path().string() + ":/usr/bin:/bin",
             "DVDI_HOOK_CONFIG=" + s.config_path.string()};
    const fs::path dir = source_root() / "examples" / "mesos";
    const std::vector<std::string> args = {(files / "in").string(), (files / "out").string(), (files / "err").string()};
    auto call = [&](const std::string& name) {
        std::vector<std::string> argv = {(dir / ("dvdi-hook-mesos-" + name)).string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return run(argv, o);
    };
    const auto prepared = call("prepare");
    INFO(prepared.err);
    REQUIRE(prepared.status == 0);
    CHECK(json::parse(read_file(files / "out")) == json{{"clone_namespaces", {131072}}});
    CHECK(s.plugin.calls("VolumeDriver.Mount").size() == 2);
    REQUIRE(call("cleanup").status == 0);
    CHECK(s.plugin.calls("VolumeDriver.Unmount").size() == 2);
    CHECK(s.state().empty());
}
