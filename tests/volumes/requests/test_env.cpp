#include <algorithm>

#include <catch2/catch.hpp>
#include <fmt/format.h>

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

TEST_CASE("a bad option item is quoted whole, in every form that reads option lists", "[volumes][requests]") {
    const auto env_error = [](const std::string& opts) {
        try {
            (void)volumes::parse_env_requests(
                std::vector<std::string>{"DVDI_VOLUME_NAME=v", "DVDI_VOLUME_OPTS2=" + opts, "DVDI_VOLUME_NAME2=w"},
                "rexray");
        } catch (const core::InputError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(env_error("size=1,=5") == "DVDI_VOLUME_OPTS2: item \"=5\": an option needs a key before '='");
    CHECK(env_error("size=1, =5") == "DVDI_VOLUME_OPTS2: item \"=5\": an option needs a key before '='");
    CHECK(env_error("size=1,fast") == "DVDI_VOLUME_OPTS2: item \"fast\": an option is KEY=VALUE, and this item has "
                                      "no '='");
    // Empty pieces between commas are skipped (SPEC S1.3: a trailing comma is harmless).
    CHECK(env_error("size=1,,iops=2,") == "no error");
    CHECK(volumes::parse_option_list("size=1,,iops=2,", "f") == volumes::Options{{"size", "1"}, {"iops", "2"}});

    // The same rule and wording for dvdcli's --volumeopts and `mount -o` (their own field).
    CHECK_THROWS_WITH(volumes::parse_option_list("a=1,=5", "--volumeopts"),
                      "--volumeopts: item \"=5\": an option needs a key before '='");
    CHECK_THROWS_WITH(volumes::parse_option_item("=5", false, "--opt"),
                      "--opt: item \"=5\": an option needs a key before '='");
    CHECK(volumes::parse_option_item("o=size=1m,mode=0755", false, "--opt") ==
          std::pair<std::string, std::string>{"o", "size=1m,mode=0755"});
    CHECK_THROWS_WITH(volumes::parse_option_item("o=a,b", true, "DVDI_VOLUME_OPTS"),
                      "DVDI_VOLUME_OPTS: item \"o=a,b\": an option value cannot contain ',' or control characters");
}

TEST_CASE("a bad option item from a tenant reaches the message bounded and escaped", "[volumes][requests]") {
    // An attacker puts 4 KiB of terminal control bytes (ESC sequences, CR, a bell) in an option
    // key, hoping to repaint the operator's terminal or forge log lines when the error is shown:
    // the message quotes at most 80 bytes of the item, every control byte as \xNN.
    std::string item;
    while (item.size() < 4096) {
        item += "\x1b[2J\r\a";
    }
    item += "=5";
    std::string message;
    try {
        (void)volumes::parse_env_requests(std::vector<std::string>{"DVDI_VOLUME_NAME=v", "DVDI_VOLUME_OPTS=" + item},
                                          "rexray");
    } catch (const core::InputError& e) {
        message = e.what();
    }
    INFO(message);
    REQUIRE(message.starts_with("DVDI_VOLUME_OPTS: item \"\\x1b[2J\\x0d\\x07"));
    CHECK(message.find(fmt::format("\"... ({} bytes): an option key is at most 256 bytes", item.size())) !=
          std::string::npos);
    CHECK(message.size() < 400);
    CHECK(std::none_of(message.begin(), message.end(), [](char c) { return c >= 0 && c < 0x20; }));
    // A long item without '=' and an empty key after white space: the same bounds.
    CHECK_THROWS_WITH(volumes::parse_option_list(std::string(5000, 'x'), "DVDI_VOLUME_OPTS"),
                      "DVDI_VOLUME_OPTS: item \"" + std::string(80, 'x') +
                          "\"... (5000 bytes): an option is KEY=VALUE, and this item has no '='");
}
