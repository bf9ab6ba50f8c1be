// Conformance with a real client: podman's own volume-plugin support ([engine.volume_plugins] in
// a containers.conf) drives dvdi-test-plugin, so the plugin is known to speak the protocol as
// real clients do. Everything podman keeps (--root, --runroot, --tmpdir) is under a TempDir and
// it runs in a private mount namespace, so nothing stays on the machine.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "tests/harness/harness.hpp"
#include "tests/plugin/test_plugin.hpp"

extern char** environ;

using namespace dvdi;
namespace fs = std::filesystem;

namespace {

// podman's constant mount ID (sha256 of "placeholder\n"): it counts mounts itself.
constexpr const char* kPodmanMountId = "2f73349cfc4630255319c6c8dfc1b46a8996ace9d14d8e07563b165915918ec2";

struct Podman {
    test::TempDir dir{"dvdi-podman"};
    std::vector<std::string> env;

    explicit Podman(const test::TestPlugin& plugin) {
        // cgroupfs and runc: this VM has no systemd user session for podman's defaults.
        test::write_file(dir / "containers.conf",
                         fmt::format("[engine]\ncgroup_manager = \"cgroupfs\"\nruntime = \"runc\"\n"
                                     "events_logger = \"file\"\n\n[engine.volume_plugins]\n{} = \"{}\"\n",
                                     plugin.name(), plugin.socket_path().string()));
        for (char** e = environ; *e != nullptr; ++e) {
            env.emplace_back(*e);
        }
        env.push_back("CONTAINERS_CONF=" + (dir / "containers.conf").string());
    }

    test::CommandResult operator()(std::vector<std::string> args) const {
        std::vector<std::string> argv = {"podman",
                                         "--root",
                                         (dir / "root").string(),
                                         "--runroot",
                                         (dir / "runroot").string(),
                                         "--tmpdir",
                                         (dir / "tmp").string(),
                                         "--storage-driver",
                                         "vfs",
                                         "--cgroup-manager=cgroupfs",
                                         "--runtime",
                                         "runc"};
        argv.insert(argv.end(), args.begin(), args.end());
        return test::run(argv, {.env = env, .timeout = std::chrono::seconds(120)});
    }
};

} // namespace

TEST_CASE("podman writes through dvdi-test-plugin as a volume plugin", "[volumes][drivers][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("podman");
    DVDI_REQUIRE_PROGRAM("runc");
    test::TestPlugin plugin({.name = "dvditest"});
    test::OciBundle image({"sh"}); // only for its busybox rootfs
    const Podman podman(plugin);
    const auto tar = podman.dir / "rootfs.tar";
    REQUIRE(test::run({"tar", "-C", image.rootfs().string(), "-cf", tar.string(), "."}).status == 0);

    test::in_private_mount_ns([&] {
        const auto imported = podman({"import", tar.string(), "localhost/dvdi-busybox:test"});
        INFO(imported.err);
        REQUIRE(imported.status == 0);
        const auto created = podman({"volume", "create", "--driver", plugin.name(), "pv1"});
        INFO(created.err);
        REQUIRE(created.status == 0);
        const auto ran = podman({"run", "--rm", "--net", "none", "--ulimit", "nofile=1024:1024", "--ulimit",
                                 "nproc=1024:1024", "-v", "pv1:/data", "localhost/dvdi-busybox:test", "sh", "-c",
                                 "echo written-by-podman > /data/f && cat /data/f"});
        INFO(ran.err);
        REQUIRE(ran.status == 0);
        REQUIRE(ran.out == "written-by-podman\n");
    });

    // The container wrote into the plugin's directory for the volume.
    CHECK(test::read_file(plugin.volumes_dir() / "pv1/f") == "written-by-podman\n");
    // What podman asked: Get before Create, one Mount and one Unmount with its constant ID.
    REQUIRE_FALSE(plugin.calls("VolumeDriver.Create").empty());
    CHECK(plugin.calls("VolumeDriver.Create").at(0)["body"]["Name"] == "pv1");
    CHECK(plugin.calls().at(1)["method"] == "VolumeDriver.Get");
    const auto mounts = plugin.calls("VolumeDriver.Mount");
    const auto unmounts = plugin.calls("VolumeDriver.Unmount");
    REQUIRE(mounts.size() == 1);
    REQUIRE(unmounts.size() == 1);
    CHECK(mounts[0]["body"] == nlohmann::json{{"Name", "pv1"}, {"ID", kPodmanMountId}});
    CHECK(unmounts[0]["body"] == mounts[0]["body"]);
    CHECK(plugin.mounts() == nlohmann::json::object());
}
