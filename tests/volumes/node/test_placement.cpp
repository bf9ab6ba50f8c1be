// Where each kind of container gets its volumes (SPEC S3); the placing itself is tested in
// tests/ns and end to end.
#include <catch2/catch.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/node/placement.hpp"

using namespace dvdi;
using namespace dvdi::volumes;

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
