#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/error.hpp"
#include "lib/volumes/volumes.hpp"
#include "tests/volumes/requests/cases.hpp"

using namespace dvdi;
using namespace dvdi::test::cases;
using nlohmann::json;

namespace {

std::string from_json_error(const json& j) {
    try {
        (void)j.get<volumes::Request>();
    } catch (const core::InputError& e) {
        return e.what();
    }
    return "no error";
}

} // namespace

TEST_CASE("Request: to_json and from_json", "[volumes][requests]") {
    const auto r =
        req("ebs", "v1", "DVDI_VOLUME_NAME2", "/data", {{"size", "5"}, {"a", "b=c"}}, volumes::Mode::ro, true);
    const json j = r;
    CHECK(j == json::parse(R"({"driver":"ebs","name":"v1","options":[{"key":"size","value":"5"},)"
                           R"({"key":"a","value":"b=c"}],"container_path":"/data","mode":"ro",)"
                           R"("explicit_create":true,"origin":"DVDI_VOLUME_NAME2"})"));
    CHECK(json(j.get<volumes::Request>()) == j);

    const json minimal = json::parse(R"({"driver":"local","name":"v"})");
    const auto m = minimal.get<volumes::Request>();
    CHECK_FALSE(m.container_path);
    CHECK(m.mode == volumes::Mode::rw);
    CHECK(m.options.empty());
    CHECK_FALSE(m.explicit_create);
    CHECK(json(m).contains("container_path") == false);

    const auto relative = json(req("local", "v", "o", "sub/dir")).get<volumes::Request>();
    CHECK(relative.container_path == "sub/dir");
}

TEST_CASE("Request: from_json rejects what a reader would", "[volumes][requests]") {
    CHECK(from_json_error(json::array()) == "request: \"[]\": must be a JSON object");
    CHECK(from_json_error(json::parse(R"({"name":"v"})")) == "request.driver: \"\": missing: a string is required");
    CHECK(from_json_error(json::parse(R"({"driver":"d","name":"a/b"})")) ==
          "request.name: \"a/b\": a volume name cannot contain '/'");
    CHECK(from_json_error(json::parse(R"({"driver":"d","name":"v","mode":"RO"})")) ==
          "request.mode: \"RO\": must be \"rw\" or \"ro\"");
    CHECK(from_json_error(json::parse(R"({"driver":"d","name":"v","explicit_create":"yes"})")) ==
          "request.explicit_create: \"yes\": must be true or false");
    CHECK(from_json_error(json::parse(R"({"driver":"d","name":"v","container_path":"/a/../b"})")) ==
          "request.container_path: \"/a/../b\": a container path cannot contain '..'");
    CHECK(from_json_error(json::parse(R"({"driver":"d","name":"v","container_path":"/a//b"})")) ==
          "request.container_path: \"/a//b\": a stored container path must be normalised");
    CHECK(from_json_error(json::parse(R"({"driver":"d","name":"v","options":[{"key":"k"}]})")) ==
          "request.options[0].value: \"\": missing: a string is required");
}

TEST_CASE("might_request_volumes: false means certainly no volumes", "[volumes][requests]") {
    using volumes::might_request_volumes;
    CHECK_FALSE(might_request_volumes(""));
    CHECK_FALSE(might_request_volumes(R"({"process":{"env":["PATH=/bin","A=\u003c"]}})"));
    CHECK_FALSE(might_request_volumes("DVDI_VOLUME")); // no variable without the '_'
    CHECK(might_request_volumes(R"({"process":{"env":["DVDI_VOLUME_NAME=v"]}})"));
    CHECK(might_request_volumes(R"({"source":{"type":"DOCKER_VOLUME"}})"));
    CHECK(might_request_volumes(R"({"process":{"env":["\u0044VDI_VOLUME_NAME=v"]}})"));
    // The escaped form really is a request: the prefilter must not hide it.
    const auto c = volumes::parse_oci_config(R"({"process":{"env":["\u0044VDI_VOLUME_NAME=v"]}})", "/b", "local");
    CHECK(c.requests.size() == 1);
    // Every table input without a marker yields no request.
    for (const auto& table : {env_cases(), mesos_cases(), oci_config_cases()}) {
        for (const Case& k : table) {
            if (!might_request_volumes(k.input)) {
                INFO(k.label);
                CHECK(k.expected.empty());
            }
        }
    }
}

TEST_CASE("validation: container paths", "[volumes][requests]") {
    using volumes::normalize_container_path;
    using volumes::PathRule;
    CHECK(normalize_container_path("/a//b/./c/", PathRule::absolute, "f") == "/a/b/c");
    CHECK(normalize_container_path("a/./b//c", PathRule::absolute_or_relative, "f") == "a/b/c");
    CHECK(normalize_container_path("proc/x", PathRule::absolute_or_relative, "f") == "proc/x"); // in the sandbox
    CHECK(normalize_container_path("/procfs", PathRule::absolute, "f") == "/procfs");
    CHECK_THROWS_WITH(normalize_container_path("a/../c", PathRule::absolute_or_relative, "f"),
                      "f: \"a/../c\": a container path cannot contain '..'");
    CHECK_THROWS_WITH(normalize_container_path("/proc", PathRule::absolute, "f"),
                      "f: \"/proc\": a container path cannot be under /proc or /sys (kernel file systems)");
    CHECK_THROWS_WITH(normalize_container_path(std::string("/a\0b", 4), PathRule::absolute, "f"),
                      "f: \"/a\\x00b\": a container path cannot contain NUL");
    CHECK_THROWS_WITH(normalize_container_path("..", PathRule::absolute_or_relative, "f"),
                      "f: \"..\": a container path cannot contain '..'");
    CHECK_THROWS_WITH(normalize_container_path("", PathRule::absolute, "f"),
                      "f: \"\": a container path cannot be empty");
}

TEST_CASE("validation: UTF-8", "[volumes][requests]") {
    using volumes::is_valid_utf8;
    CHECK(is_valid_utf8("données 卷 🚀"));
    CHECK_FALSE(is_valid_utf8("\xc0\xaf"));         // overlong '/'
    CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));     // surrogate
    CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80")); // past U+10FFFF
    CHECK_FALSE(is_valid_utf8("\xe2\x82"));         // truncated
}

TEST_CASE("a volume in messages is driver/name", "[volumes][requests]") {
    const volumes::VolumeKey key{"rexray", "v1"};
    CHECK(fmt::format("{}", key) == "rexray/v1");
    CHECK(fmt::format("[{:<12}]", key) == "[rexray/v1   ]");
}
