// The operator's policy (lib/volumes/policy.hpp, docs/SECURITY.md) as a unit: what a tenant's
// request may carry, what a driver's Mountpoint may be, and the node refusing one with an
// Unmount of the same ID. The end-to-end attacks are in tests/security.
#include <catch2/catch.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/requests/policy.hpp"
#include "tests/harness/harness.hpp"
#include "tests/volumes/node/fakes.hpp"

using namespace dvdi;
using namespace dvdi::volumes;

namespace {

Request request(const std::string& driver, const std::string& name, Options options = {}) {
    Request r;
    r.driver = driver;
    r.name = name;
    r.options = std::move(options);
    r.origin = "DVDI_VOLUME_NAME";
    r.options_field = "DVDI_VOLUME_OPTS";
    return r;
}

std::string refused(std::vector<Request> requests, const core::Config& config) {
    try {
        apply_tenant_policy(requests, config);
    } catch (const core::InputError& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("policy: a tenant's local request carries no options; the operator's definitions apply",
          "[volumes][policy]") {
    core::Config config;
    config.local_volumes.push_back({.name = "scratch-*", .type = "tmpfs", .device = "tmpfs", .o = "size=1m"});
    // The attacker's request of the issue, and a mount helper by type.
    CHECK(refused({request("local", "x", {{"type", "none"}, {"device", "/"}, {"o", "bind"}})}, config) ==
          "DVDI_VOLUME_OPTS: \"type=none\": the local driver takes no options from a container: a local volume "
          "with options (type, device, o) is defined by the node's operator (local_volumes in the configuration, "
          "or dvdi-hook mount -o)");
    CHECK_FALSE(refused({request("local", "x", {{"type", "fuse.sh"}})}, config).empty());
    CHECK_FALSE(refused({request("local", "scratch-1", {{"o", "size=1g"}})}, config).empty()); // not even its own
    std::vector<Request> ok = {request("local", "scratch-7"), request("local", "plain")};
    apply_tenant_policy(ok, config);
    CHECK(ok[0].options == Options{{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m"}});
    CHECK(ok[1].options.empty());
}

TEST_CASE("policy: option keys and drivers for tenants are the operator's choice", "[volumes][policy]") {
    core::Config config;
    CHECK(refused({request("rexray", "v", {{"anything", "1"}})}, config).empty()); // default: any key
    config.driver_policy["rexray"].tenant_options = std::vector<std::string>{"size", "iops"};
    CHECK(refused({request("rexray", "v", {{"size", "1"}, {"iops", "2"}})}, config).empty());
    CHECK(refused({request("rexray", "v", {{"size", "1"}, {"mountopts", "suid"}})}, config) ==
          "DVDI_VOLUME_OPTS: \"mountopts\": option mountopts is not allowed for driver rexray on this node "
          "(driver_policy.rexray.tenant_options: size, iops)");
    config.driver_policy["rexray"].tenant_options = std::vector<std::string>{};
    CHECK_THAT(refused({request("rexray", "v", {{"size", "1"}})}, config), Catch::EndsWith("tenant_options: none)"));
    config.allowed_drivers = {"local"};
    CHECK_THAT(refused({request("rexray", "v")}, config), Catch::Contains("driver not allowed on this node"));
    // The operator's own request keeps its options.
    Request mine = request("local", "scratch", {{"type", "tmpfs"}, {"device", "tmpfs"}});
    apply_operator_policy(mine, config);
    CHECK(mine.options.size() == 2);
}

TEST_CASE("policy: a driver's Mountpoint is confined", "[volumes][policy]") {
    core::Config config;
    config.state_dir = "/run/dvdi";
    config.data_dir = "/var/lib/dvdi";
    const MountpointPolicy p(config);
    // What a broken or hostile plugin might answer, and why each is refused.
    for (const auto& [mountpoint, why] : std::vector<std::pair<std::string, std::string>>{
             {"", "not an absolute path"},
             {"relative/dir", "not an absolute path"},
             {"/", "the root directory"},
             {"//", "the root directory"},
             {"/etc", "the system directory /etc"},
             {"/etc/", "the system directory /etc"},
             {"/etc/ssh", "under the system directory /etc"},
             {"/usr/lib/x", "under the system directory /usr"},
             {"/proc/1/root", "under the system directory /proc"},
             {"/sys", "the system directory /sys"},
             {"/lib64/x", "under the system directory /lib64"},
             {"/run", "the system directory /run"},
             {"/var", "the system directory /var"},
             {"/tmp", "the system directory /tmp"},
             {"/run/dvdi", "in the node's state dir /run/dvdi"},
             {"/run/dvdi/locks", "in the node's state dir /run/dvdi"},
             {"/var/lib/dvdi/volumes/other/_data", "in the local driver's data dir /var/lib/dvdi"},
             {"/mnt/a/../../etc", "it has a '..' component"},
             {"/mnt/a\nb", "it contains control characters"},
         }) {
        INFO(mountpoint);
        CHECK(p.refusal("plug", mountpoint) == why);
    }
    CHECK_FALSE(p.refusal("plug", "/var/lib/rexray/volumes/v/data").has_value());
    CHECK_FALSE(p.refusal("plug", "/run/plug/v").has_value());
    CHECK_FALSE(p.refusal("local", "/var/lib/dvdi/volumes/v/_data").has_value()); // the local driver's own
    CHECK(p.refusal("local", "/var/lib/dvdi/volumes") == "in the local driver's data dir /var/lib/dvdi");

    config.driver_policy["plug"].mountpoint_prefixes = {"/var/lib/plug/"};
    const MountpointPolicy confined(config);
    CHECK_FALSE(confined.refusal("plug", "/var/lib/plug/v").has_value());
    CHECK(confined.refusal("plug", "/var/lib/other/v") ==
          "outside driver_policy.plug.mountpoint_prefixes (/var/lib/plug/)");
    CHECK_FALSE(confined.refusal("other", "/var/lib/other/v").has_value());
}

TEST_CASE("policy: a Mountpoint whose symlinks lead to a system directory is refused", "[volumes][policy]") {
    test::TempDir dir;
    std::filesystem::create_symlink("/etc", dir / "innocent");
    const MountpointPolicy p;
    const auto why = p.refusal("plug", (dir / "innocent").string());
    REQUIRE(why.has_value());
    CHECK(*why == "it resolves to `/etc`, which is the system directory /etc");
}

TEST_CASE("node: a refused Mountpoint is unmounted with the same ID and nothing is recorded", "[volumes][policy]") {
    test::MemoryStateStore store;
    test::FakeDriverSet drivers;
    Node node(store, drivers, {}, NodeSettings{});
    const auto placer = place_each([](const Request&, const std::string& mp) { return mp; });
    for (const std::string bad : {"/", "/etc", "relative"}) {
        INFO(bad);
        drivers["plug"].mountpoint_override = bad;
        Request r = request("plug", "v");
        r.origin = "DVDI_VOLUME_NAME";
        CHECK_THROWS_WITH(node.acquire({"c1", "oci", {}}, {r}, placer),
                          Catch::Contains("driver plug: Mount of \"v\" returned the mountpoint") &&
                              Catch::Contains("which is refused") && Catch::Contains("(unmounted it again)"));
        CHECK(drivers["plug"].mounted.empty());
        CHECK(drivers["plug"].count("Mount v") == drivers["plug"].count("Unmount v"));
        CHECK(store.read().empty());
    }
}
