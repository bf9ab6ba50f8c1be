#include <catch2/catch.hpp>

#include "lib/volumes/volumes.hpp"
#include "tests/volumes/requests/check.hpp"

using namespace dvdi;
using namespace dvdi::test::cases;

namespace {

Outcome read_config(const std::string& input) {
    auto r = volumes::parse_oci_config(input, kBundle, kDefaultDriver);
    return {std::move(r.requests), std::move(r.warnings)};
}

std::string state_error(const std::string& text) {
    try {
        (void)volumes::parse_oci_state(text);
    } catch (const core::InputError& e) {
        return e.what();
    }
    return "no error";
}

} // namespace

TEST_CASE("OCI config.json: the table of good and bad cases", "[volumes][requests]") {
    const auto cases = oci_config_cases();
    CHECK(cases.size() >= 15);
    for (const Case& c : cases) {
        check_case(c, read_config);
    }
}

TEST_CASE("OCI config.json: root.path against the bundle, mount destinations", "[volumes][requests]") {
    const auto c = volumes::parse_oci_config(
        R"({"root":{"path":"./rootfs/"},"mounts":[{"destination":"/proc"},{"destination":"dev//pts"}]})", "/run/b",
        "rexray");
    CHECK(c.root_path == "/run/b/rootfs");
    CHECK(c.mount_destinations == std::vector<std::string>{"/proc", "/dev/pts"});
    CHECK(volumes::parse_oci_config(R"({"root":{"path":"/abs/root"}})", "/b", "x").root_path == "/abs/root");
    CHECK_FALSE(volumes::parse_oci_config("{}", "/b", "x").root_path);
    CHECK_THROWS_WITH(volumes::parse_oci_config("{}", "b", "x"), "bundle: \"b\": must be an absolute path");
}

TEST_CASE("OCI state: runc, crun and poststop forms", "[volumes][requests]") {
    const auto inputs = oci_state_inputs();
    const auto runc = volumes::parse_oci_state(inputs[0]);
    CHECK(runc.id == "c1");
    CHECK(runc.pid == 4242);
    CHECK(runc.bundle == "/run/b");

    const auto crun = volumes::parse_oci_state(inputs[1]); // with crun's root
    CHECK(crun.id == "c1");
    CHECK(crun.bundle == "/b");

    CHECK_FALSE(volumes::parse_oci_state(inputs[2]).pid); // crun poststop: pid 0
    CHECK_FALSE(volumes::parse_oci_state(inputs[3]).pid); // runc poststop: no pid
}

TEST_CASE("OCI state: bad input names the field", "[volumes][requests]") {
    const auto inputs = oci_state_inputs();
    CHECK(state_error(inputs[4]) == "state.pid: \"-4\": must be an integer from 0 to 2147483647");
    CHECK(state_error(inputs[5]) == "state.id: \"\": missing: a string is required");
    CHECK(state_error(inputs[6]) == "state.bundle: \"b\": must be an absolute path");
    CHECK(state_error(inputs[7]) == "state.annotations.k: \"1\": must be a string");
    CHECK(state_error(inputs[8]) == "state.annotations: \"[]\": must be a JSON object");
    CHECK(
        state_error(inputs[9]) ==
        R"x(OCI state: "1.0.2\",\"id\":\"c1\",\"status\":\"creat": not valid JSON: parse error at line 1, column 48: )x"
        R"x(syntax error while parsing value - invalid string: missing closing quote; last read: '"creat')x");
    CHECK(state_error(R"({"ociVersion":"1","id":"a/b","status":"x","bundle":"/b"})") ==
          "state.id: \"a/b\": a container id must be non-empty UTF-8 without '/' or control characters");
    CHECK(state_error(R"({"ociVersion":"1","id":"a","status":"x","bundle":"/b","root":""})") ==
          "state.root: \"\": must be a non-empty UTF-8 path");
    // crun sends the root as config.json has it, relative to the bundle.
    CHECK_NOTHROW(
        volumes::parse_oci_state(R"({"ociVersion":"1","id":"a","status":"created","bundle":"/b","root":"rootfs"})"));
    // Fields the hook does not use are checked all the same: a malformed state fails the container.
    CHECK(state_error(R"({"id":"a","status":"created","bundle":"/b"})") ==
          "state.ociVersion: \"\": missing: a string is required");
    CHECK(state_error(R"({"ociVersion":"1","id":"a","status":3,"bundle":"/b"})") ==
          "state.status: \"3\": must be a string");
}
