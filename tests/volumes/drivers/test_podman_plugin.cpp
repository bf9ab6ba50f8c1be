// Conformance with a real client: podman's own volume-plugin support ([engine.volume_plugins] in
// a containers.conf) drives dvdi-test-plugin, so the plugin is known to speak the protocol as
// real clients do. Everything podman keeps (--root, --runroot, --tmpdir) is under a TempDir and
// it runs in a private mount namespace, so nothing stays on the machine.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "tests/harness/harness.hpp"
#include "tests/harness/podman.hpp"
#include "tests/plugin/test_plugin.hpp"

using namespace dvdi;
namespace fs = std::filesystem;

namespace {

// podman's constant mount ID (sha256 of "placeholder\n"): it counts mounts itself.
constexpr const char* kPodmanMountId = "2f73349cfc4630255319c6c8dfc1b46a8996ace9d14d8e07563b165915918ec2";

} // namespace

TEST_CASE("podman writes through dvdi-test-plugin as a volume plugin", "[volumes][drivers][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("podman");
    DVDI_REQUIRE_PROGRAM("runc");
    test::TestPlugin plugin({.name = "dvditest"});
    const test::Podman podman(std::map<std::string, std::string>{{plugin.name(), plugin.socket_path().string()}});

    test::in_private_mount_ns([&] {
        podman.import_busybox();
        const auto created = podman({"volume", "create", "--driver", plugin.name(), "pv1"});
        INFO(created.err);
        REQUIRE(created.status == 0);
        const auto ran = podman.run_container(
            {"-v", "pv1:/data", test::Podman::kImage, "sh", "-c", "echo written-by-podman > /data/f && cat /data/f"});
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
