// Where each kind of container gets its volumes (SPEC S3); the placing itself is tested in
// tests/ns and end to end.
#include <algorithm>

#include <catch2/catch.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/node/placement.hpp"
#include "tests/harness/harness.hpp"
#include "tests/ns/fake_container.hpp"

using namespace dvdi;
using namespace dvdi::volumes;
using dvdi::test::FakeContainer;
using dvdi::test::mount_targets;
namespace fs = std::filesystem;

namespace {

Request with_path(std::optional<std::string> path) {
    Request r;
    r.driver = "rexray";
    r.name = "v";
    r.container_path = std::move(path);
    r.origin = "DVDI_VOLUME_CONTAINERPATH";
    return r;
}

std::string show(const std::optional<ns::Target>& t) {
    if (!t) {
        return "(none)";
    }
    return (t->root ? *t->root : std::string("<host>")) + " : " + t->path;
}

} // namespace

TEST_CASE("targets per kind of container and container path", "[volumes][placement]") {
    const std::string mp = "/var/lib/rexray/volumes/v";
    const ContainerRoot oci{ContainerRoot::Kind::oci, "/b/rootfs", "", {"/tmp"}};
    const ContainerRoot mesos{ContainerRoot::Kind::mesos, "", "/sandbox", {"/tmp"}};
    const ContainerRoot mesos_image{ContainerRoot::Kind::mesos, "/prov/rootfs", "/sandbox", {"/tmp"}};
    const ContainerRoot host{ContainerRoot::Kind::host, "", "", {"/tmp"}};
    struct Case {
        const ContainerRoot* root;
        std::optional<std::string> path;
        std::string expected;
    };
    const Case cases[] = {
        {&oci, "/data", "/b/rootfs : /data"},
        {&oci, std::nullopt, "/b/rootfs : " + mp},
        {&mesos, "data", "/sandbox : data"},
        {&mesos_image, "data", "/prov/rootfs : /mnt/mesos/sandbox/data"},
        {&mesos_image, "/data", "/prov/rootfs : /data"},
        {&mesos, "/tmp/data", "<host> : /tmp/data"},
        {&mesos, std::nullopt, "(none)"},
        {&mesos_image, std::nullopt, "/prov/rootfs : " + mp},
        {&host, "/mnt/x", "<host> : /mnt/x"},
    };
    for (const auto& c : cases) {
        INFO(c.expected);
        const auto t = target_for(with_path(c.path), mp, *c.root);
        CHECK(show(t) == c.expected);
        if (t && !t->root) {
            CHECK(t->host_create_prefixes == std::vector<std::string>{"/tmp"});
        }
    }
}

TEST_CASE("a relative container path with nothing to be relative to is an input error", "[volumes][placement]") {
    const ContainerRoot host{ContainerRoot::Kind::host, "", "", {}};
    CHECK_THROWS_WITH(target_for(with_path("data"), "/m", host),
                      "DVDI_VOLUME_CONTAINERPATH: \"data\": a container path must be absolute here (there is no "
                      "sandbox or root)");
}

TEST_CASE("a file at the container path is an input error naming the request's path field",
          "[volumes][placement][root]") {
    DVDI_REQUIRE_ROOT();
    // A Mesos task whose image has a file where its DOCKER_VOLUME wants to go (or a tenant
    // hoping the volume lands over one of the image's files): refused, naming the volume's
    // container_path field, and nothing is mounted over the file.
    test::TempDir dir("dvdi-placement-file");
    const auto rootfs = dir / "rootfs";
    const auto source = dir / "volume";
    fs::create_directories(rootfs / "etc");
    fs::create_directories(source);
    test::write_file(rootfs / "etc/motd", "from the image\n");
    Request r = with_path("/etc/motd");
    r.origin = "container_info.volumes[1]";
    r.path_field = "container_info.volumes[1].container_path";
    test::in_private_mount_ns([&] {
        FakeContainer proc;
        const auto process = ns::ProcessHandle::open(proc.pid());
        const Placer place = make_placer(
            process, ContainerRoot{ContainerRoot::Kind::mesos, rootfs.string(), (dir / "sandbox").string(), {"/tmp"}});
        std::size_t at = 99;
        CHECK_THROWS_MATCHES(place({PlaceItem{&r, source.string()}}, at), core::InputError,
                             Catch::Message("container_info.volumes[1].container_path: \"/etc/motd\": is a file, not a "
                                            "directory, in the container: a volume is placed on a directory (one that "
                                            "exists, or a path the hook can create)"));
        CHECK(at == 0);
        const auto targets = mount_targets(proc.pid());
        CHECK(std::find(targets.begin(), targets.end(), (rootfs / "etc/motd").string()) == targets.end());
    });
    CHECK(test::read_file(rootfs / "etc/motd") == "from the image\n");
}
