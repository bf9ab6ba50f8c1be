#include <catch2/catch.hpp>

#include "lib/volumes/volumes.hpp"
#include "tests/volumes/requests/check.hpp"

using namespace dvdi;
using namespace dvdi::test::cases;

namespace {

Outcome read_env(const std::string& input) {
    auto r = volumes::parse_env_requests(env_entries(input), kDefaultDriver);
    return {std::move(r.requests), std::move(r.warnings)};
}

} // namespace

TEST_CASE("env requests: the table of good and bad cases", "[volumes][requests]") {
    const auto cases = env_cases();
    CHECK(cases.size() >= 50);
    for (const Case& c : cases) {
        check_case(c, read_env);
    }
}

TEST_CASE("env requests: (name, value) pairs read like entries", "[volumes][requests]") {
    const std::vector<std::pair<std::string, std::string>> vars = {
        {"DVDI_VOLUME_NAME1", "v"}, {"DVDI_VOLUME_OPTS1", "a=1"}, {"OTHER", "x"}};
    const auto r = volumes::parse_env_requests(vars, "local");
    REQUIRE(r.requests.size() == 1);
    CHECK(nlohmann::json(r.requests[0]) == nlohmann::json(req("local", "v", "DVDI_VOLUME_NAME1", {}, {{"a", "1"}})));
}

TEST_CASE("env requests: the default driver is validated", "[volumes][requests]") {
    CHECK_THROWS_WITH(volumes::parse_env_requests(std::vector<std::string>{"DVDI_VOLUME_NAME=v"}, "a b"),
                      "default_driver: \"a b\": a driver name must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
    CHECK(volumes::parse_env_requests(std::vector<std::string>{"PATH=/bin"}, "").requests.empty());
}

TEST_CASE("requests: allowed_drivers names the request", "[volumes][requests]") {
    const auto r = volumes::parse_env_requests(
        std::vector<std::string>{"DVDI_VOLUME_NAME=a", "DVDI_VOLUME_NAME1=b", "DVDI_VOLUME_DRIVER1=ebs"}, "local");
    CHECK_NOTHROW(volumes::check_allowed_drivers(r.requests, {}));
    CHECK_NOTHROW(volumes::check_allowed_drivers(r.requests, {"ebs", "local"}));
    CHECK_THROWS_WITH(volumes::check_allowed_drivers(r.requests, {"local", "rexray"}),
                      "DVDI_VOLUME_NAME1: \"ebs\": driver not allowed on this node (allowed_drivers: local, rexray)");
}
