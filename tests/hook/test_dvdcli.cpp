// dvdcli mode, driven exactly as Mesos' docker/volume isolator drives dvdcli: found as `dvdcli`
// on PATH (here a symlink to the hook), argv without a shell, stdin /dev/null (empty), the
// mountpoint taken from stdout, the agent's environment (DVDI_HOOK_CONFIG names the config).
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "build_info.hpp"
#include "tests/harness/harness.hpp"
#include "tests/plugin/test_plugin.hpp"

using namespace dvdi;
using namespace dvdi::test;
using nlohmann::json;

namespace {

struct Dvdcli {
    TestPlugin plugin;
    TempDir dir{"dvdi-dvdcli"};
    fs::path config_path = dir / "config.json";
    fs::path bin = dir / "bin";

    Dvdcli() {
        write_file(config_path, json(plugin.config()).dump());
        fs::create_directories(bin);
        // As the package installs it: /usr/lib/dvdi-hook/bin/dvdcli -> dvdi-hook, that directory first on PATH
        fs::create_symlink(hook_binary(), bin / "dvdcli");
    }

    // `dvdcli ARGS...` as the agent runs it (the path os::which("dvdcli") found).
    CommandResult operator()(std::vector<std::string> args) const {
        args.insert(args.begin(), (bin / "dvdcli").string());
        CommandOptions o;
        o.env = {"PATH=" + bin.string() + ":/usr/bin:/bin", "DVDI_HOOK_CONFIG=" + config_path.string()};
        return run(args, o);
    }
    // `dvdi-hook --config C dvdcli ARGS...`
    CommandResult hook(std::vector<std::string> args) const {
        args.insert(args.begin(), {hook_binary().string(), "--config", config_path.string(), "dvdcli"});
        return run(args);
    }
};

} // namespace

TEST_CASE("dvdcli: Mesos mounts per container and unmounts once; the plugin sees one Mount and one Unmount",
          "[dvdcli]") {
    Dvdcli dvdcli;
    const std::vector<std::string> mount = {"mount", "--volumedriver=testplug", "--volumename=shared",
                                            "--volumeopts=size=100", "--volumeopts=iops=10,newfstype=xfs"};
    const auto first = dvdcli(mount);
    INFO(first.err);
    REQUIRE(first.status == 0);
    const std::string mountpoint = (dvdcli.plugin.volumes_dir() / "shared").string();
    CHECK(first.out == mountpoint + "\n");
    const auto second = dvdcli(mount); // the second container
    REQUIRE(second.status == 0);
    CHECK(second.out == mountpoint + "\n");
    const auto mounts = dvdcli.plugin.calls("VolumeDriver.Mount");
    REQUIRE(mounts.size() == 1);
    const auto create = dvdcli.plugin.calls("VolumeDriver.Create");
    REQUIRE(create.size() == 1);
    CHECK(create.at(0)["body"]["Opts"] == json{{"size", "100"}, {"iops", "10"}, {"newfstype", "xfs"}});

    const auto path = dvdcli({"path", "--volumedriver=testplug", "--volumename=shared"});
    CHECK(path.status == 0);
    CHECK(path.out == mountpoint + "\n");
    const auto busy = dvdcli({"remove", "--volumedriver=testplug", "--volumename=shared"});
    CHECK(busy.status == 1);
    CHECK_THAT(busy.err, Catch::Contains("in use on this node"));

    const auto unmount = dvdcli({"unmount", "--volumedriver=testplug", "--volumename=shared"});
    REQUIRE(unmount.status == 0);
    CHECK(unmount.out.empty());
    const auto unmounts = dvdcli.plugin.calls("VolumeDriver.Unmount");
    REQUIRE(unmounts.size() == 1);
    CHECK(unmounts.at(0)["body"]["ID"] == mounts.at(0)["body"]["ID"]);
    CHECK(dvdcli.plugin.mounts() == json::object());
    // Ensure unmounted: a second unmount calls nothing.
    CHECK(dvdcli({"unmount", "--volumedriver=testplug", "--volumename=shared"}).status == 0);
    CHECK(dvdcli.plugin.calls("VolumeDriver.Unmount").size() == 1);
    // A new busy period mounts again.
    REQUIRE(dvdcli(mount).status == 0);
    CHECK(dvdcli.plugin.calls("VolumeDriver.Mount").size() == 2);
    REQUIRE(dvdcli({"unmount", "--volumedriver=testplug", "--volumename=shared"}).status == 0);
    CHECK(dvdcli.plugin.calls("VolumeDriver.Unmount").size() == 2);
}

TEST_CASE("dvdcli: usage and driver errors exit 1 with nothing on stdout", "[dvdcli]") {
    Dvdcli dvdcli;
    for (const auto& args : std::vector<std::vector<std::string>>{
             {},
             {"frobnicate"},
             {"mount"},
             {"mount", "--volumedriver=testplug"},
             {"mount", "--volumename=v"},
             {"mount", "--volumedriver=testplug", "--volumename=v", "--volumeopts=novalue"},
             {"mount", "--volumedriver=testplug", "--volumename=a/b"},
             {"mount", "--volumedriver=bad/driver", "--volumename=v"},
             {"mount", "--volumedriver=testplug", "--volumename=v", "--bogus"},
             {"mount", "--volumedriver=testplug", "--volumename=missing", "--explicitcreate"},
             {"get", "--volumedriver=testplug", "--volumename=missing"},
         }) {
        const auto r = dvdcli(args);
        INFO(fmt::format("{}", fmt::join(args, " ")) << ": " << r.err);
        CHECK(r.status == 1);
        CHECK(r.out.empty());
        CHECK_FALSE(r.err.empty());
    }
    CHECK(dvdcli.plugin.calls("VolumeDriver.Mount").empty());
    CHECK(dvdcli.plugin.calls("VolumeDriver.Create").empty());
    CHECK(dvdcli.hook({"mount"}).status == 1);
}

TEST_CASE("dvdcli: a bad --volumeopts item is quoted whole, as DVDI_VOLUME_OPTS's are", "[dvdcli]") {
    Dvdcli dvdcli;
    const auto r = dvdcli({"mount", "--volumedriver=testplug", "--volumename=v", "--volumeopts=size=1,=5"});
    CHECK(r.status == 1);
    CHECK(r.out.empty());
    CHECK(r.err.find("--volumeopts: item \"=5\": an option needs a key before '='") != std::string::npos);
    CHECK(dvdcli.plugin.calls("VolumeDriver.Create").empty());
}

TEST_CASE("dvdcli: a driver with no plugin on the node is named with the plugins found", "[dvdcli]") {
    Dvdcli dvdcli;
    auto c = dvdcli.plugin.config();
    c.timeouts.plugin_wait = std::chrono::milliseconds(500);
    write_file(dvdcli.config_path, json(c).dump());
    const std::string missing =
        "no plugin \"nosuch\" was found: no socket nosuch.sock in " + c.plugin_socket_dirs.at(0);
    const std::string found = "; plugins found: " + dvdcli.plugin.name();
    const auto mount = dvdcli({"mount", "--volumedriver=nosuch", "--volumename=v"});
    INFO(mount.err);
    CHECK(mount.status == 1);
    CHECK(mount.out.empty());
    CHECK_THAT(mount.err,
               Catch::StartsWith("dvdi-hook: error: volume nosuch/v (dvdcli): " + missing) && Catch::Contains(found));
    for (const char* cmd : {"list", "create", "path"}) {
        INFO(cmd);
        const auto r = dvdcli({cmd, "--volumedriver=nosuch", "--volumename=v"});
        CHECK(r.status == 1);
        CHECK_THAT(r.err, Catch::StartsWith("dvdi-hook: error: " + missing) && Catch::EndsWith(found + "\n"));
    }
    CHECK(dvdcli.plugin.calls().empty());
}

TEST_CASE("dvdcli: create, get, list, path, remove and version", "[dvdcli]") {
    Dvdcli dvdcli;
    REQUIRE(dvdcli.hook({"create", "--volumedriver=testplug", "--volumename=v1", "--volumeopts=size=5"}).status == 0);
    CHECK(dvdcli.plugin.calls("VolumeDriver.Create").at(0)["body"]["Opts"] == json{{"size", "5"}});
    REQUIRE(dvdcli({"create", "--volumedriver=testplug", "--volumename=v2"}).status == 0);

    const auto get = dvdcli({"get", "--volumedriver=testplug", "--volumename=v1"});
    REQUIRE(get.status == 0);
    CHECK(json::parse(get.out) == json{{"Name", "v1"}, {"Mountpoint", (dvdcli.plugin.volumes_dir() / "v1").string()}});
    const auto list = dvdcli({"list", "--volumedriver=testplug"});
    REQUIRE(list.status == 0);
    CHECK((list.out == "v1\nv2\n" || list.out == "v2\nv1\n"));
    const auto path = dvdcli({"path", "--volumedriver=testplug", "--volumename=v2"});
    REQUIRE(path.status == 0);
    CHECK(path.out.empty()); // not mounted: the test plugin (as REX-Ray) answers no Mountpoint

    REQUIRE(dvdcli({"remove", "--volumedriver=testplug", "--volumename=v2"}).status == 0);
    CHECK(dvdcli.plugin.calls("VolumeDriver.Remove").size() == 1);
    CHECK(dvdcli({"list", "--volumedriver=testplug"}).out == "v1\n");

    // The explicit-create mount of an existing volume calls no Create.
    const auto mounted = dvdcli({"mount", "--volumedriver=testplug", "--volumename=v1", "--explicitcreate"});
    REQUIRE(mounted.status == 0);
    CHECK(dvdcli.plugin.calls("VolumeDriver.Create").size() == 2);
    REQUIRE(dvdcli({"unmount", "--volumedriver=testplug", "--volumename=v1"}).status == 0);

    const auto version = dvdcli({"version"});
    CHECK(version.status == 0);
    CHECK(version.out == std::string("dvdi-hook ") + DVDI_VERSION + " (dvdcli compatible)\n");
    CHECK(dvdcli.hook({"version"}).out == version.out);
}
