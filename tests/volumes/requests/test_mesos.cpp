#include <catch2/catch.hpp>

#include "lib/volumes/volumes.hpp"
#include "tests/volumes/requests/check.hpp"

using namespace dvdi;
using namespace dvdi::test::cases;

namespace {

Outcome read_mesos(const std::string& input) {
    auto r = volumes::parse_mesos_input(input, kDefaultDriver);
    return {std::move(r.requests), std::move(r.warnings)};
}

} // namespace

TEST_CASE("Mesos input: the table of good and bad cases", "[volumes][requests]") {
    const auto cases = mesos_cases();
    CHECK(cases.size() >= 30);
    for (const Case& c : cases) {
        check_case(c, read_mesos);
    }
}

TEST_CASE("Mesos input: container id, pid, sandbox and rootfs; a user is checked, not kept", "[volumes][requests]") {
    const auto in = volumes::parse_mesos_input(
        R"({"container_id":{"value":"child","parent":{"value":"mid","parent":{"value":"top"}}},"pid":4242,)"
        R"("container_config":{"directory":"/var/lib/mesos/s","rootfs":"/var/lib/mesos/p/rootfs","user":"nobody"}})",
        "rexray");
    CHECK(in.container_id == "top.mid.child");
    CHECK(in.container_id_chain == std::vector<std::string>{"top", "mid", "child"});
    CHECK(in.pid == 4242);
    CHECK(in.directory == "/var/lib/mesos/s");
    CHECK(in.rootfs == "/var/lib/mesos/p/rootfs");
    CHECK(in.requests.empty());

    const auto isolate = volumes::parse_mesos_input(R"({"container_id":{"value":"c"},"pid":1})", "rexray");
    CHECK(isolate.container_id == "c");
    CHECK_FALSE(isolate.directory);
    CHECK(isolate.requests.empty());
    CHECK_THROWS_WITH(
        volumes::parse_mesos_input(R"({"container_id":{"value":"c"},"container_config":{"user":7}})", "x"),
        "container_config.user: \"7\": must be a string");
}

TEST_CASE("Mesos input: a relative container path with a rootfs but no directory", "[volumes][requests]") {
    const auto in = volumes::parse_mesos_input(
        R"({"container_id":{"value":"c"},"container_config":{"rootfs":"/r","container_info":{"volumes":[)"
        R"({"container_path":"d","source":{"type":"DOCKER_VOLUME","docker_volume":{"name":"v"}}}]}}})",
        "rexray");
    REQUIRE(in.requests.size() == 1);
    CHECK(in.requests[0].container_path == "d");
}

TEST_CASE("Mesos input: a sandbox directory must be absolute", "[volumes][requests]") {
    CHECK_THROWS_WITH(
        volumes::parse_mesos_input(R"({"container_id":{"value":"c"},"container_config":{"directory":"rel"}})", "x"),
        "container_config.directory: \"rel\": must be an absolute host path");
}

TEST_CASE("Mesos input: parse_mesos_ids reads the id and pid and ignores a bad config", "[volumes][requests][mesos]") {
    const auto in = volumes::parse_mesos_ids(
        R"({"container_id":{"value":"c","parent":{"value":"p"}},"pid":7,)"
        R"("container_config":{"container_info":{"volumes":[{"container_path":"/d","mode":"RW",)"
        R"("source":{"type":"DOCKER_VOLUME","docker_volume":{"name":"a/b"}}}]}}})");
    CHECK(in.container_id == "p.c");
    CHECK(in.pid == 7);
    CHECK(in.requests.empty());
    CHECK_THROWS_AS(volumes::parse_mesos_ids(R"({"pid":7})"), core::InputError);
    CHECK_THROWS_AS(volumes::parse_mesos_ids("{"), core::InputError);
}
