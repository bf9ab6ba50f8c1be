// The built binary, driven as a user or a runtime drives it.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "build_info.hpp"
#include "tests/harness/harness.hpp"

using namespace dvdi::test;

namespace {

CommandResult hook(std::vector<std::string> args) {
    args.insert(args.begin(), hook_binary().string());
    return run(args);
}

std::size_t lines(const std::string& s) {
    return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

} // namespace

TEST_CASE("dvdi-hook is fully statically linked", "[hook][static]") {
    DVDI_REQUIRE_PROGRAM("file");
    const auto f = run({"file", "-L", hook_binary().string()});
    REQUIRE(f.status == 0);
    CHECK_THAT(f.out, Catch::Contains("statically linked"));
    const auto l = run({"ldd", hook_binary().string()});
    CHECK(l.status != 0);
    CHECK_THAT(l.out + l.err, Catch::Contains("not a dynamic executable"));
}

TEST_CASE("--help lists the commands and the global options", "[hook][cli]") {
    const auto r = hook({"--help"});
    CHECK(r.status == 0);
    for (const char* word : {"version", "config", "--config", "--state-dir", "--log-level"}) {
        CHECK_THAT(r.out, Catch::Contains(word));
    }
    CHECK(r.err.empty());
}

TEST_CASE("version prints the version, commit, build type and kernel features", "[hook][cli]") {
    const auto r = hook({"version"});
    REQUIRE(r.status == 0);
    CHECK_THAT(r.out, Catch::StartsWith(std::string("dvdi-hook ") + DVDI_VERSION + "\n"));
    CHECK_THAT(r.out, Catch::Contains("commit: "));
    CHECK_THAT(r.out, Catch::Contains(std::string("build type: ") + DVDI_BUILD_TYPE));
    CHECK_THAT(r.out, Catch::Contains("kernel open_tree/move_mount: yes (Linux >= 5.2)"));
    CHECK_THAT(r.out, Catch::Contains("kernel openat2: yes (Linux >= 5.6)"));
}

TEST_CASE("usage errors exit 2 with one line on stderr and nothing on stdout", "[hook][cli]") {
    for (const auto& args : std::vector<std::vector<std::string>>{
             {}, {"no-such-command"}, {"--bogus", "version"}, {"--log-level", "loud", "version"}}) {
        const auto r = hook(args);
        INFO(r.err);
        CHECK(r.status == 2);
        CHECK(lines(r.err) == 1);
        CHECK_THAT(r.err, Catch::StartsWith("dvdi-hook: error: "));
        CHECK(r.out.empty());
    }
}

TEST_CASE("config: defaults, a config file, flag overrides, and bad files", "[hook][cli][config]") {
    TempDir dir;
    // The default path is optional: on a machine without it, the defaults apply.
    write_file(dir / "c.json", R"({"state_dir": "/srv/dvdi", "default_driver": "local"})");
    auto r = hook({"--config", (dir / "c.json").string(), "config"});
    REQUIRE(r.status == 0);
    auto j = nlohmann::json::parse(r.out);
    CHECK(j["state_dir"] == "/srv/dvdi");
    CHECK(j["default_driver"] == "local");
    CHECK(j["data_dir"] == "/var/lib/dvdi");

    r = hook({"--config", (dir / "c.json").string(), "--state-dir", "/run/other", "config"});
    REQUIRE(r.status == 0);
    CHECK(nlohmann::json::parse(r.out)["state_dir"] == "/run/other");

    write_file(dir / "bad.json", R"({"state_dir": "/x", "plugin_dirs": []})");
    r = hook({"--config", (dir / "bad.json").string(), "config"});
    CHECK(r.status == 2);
    CHECK(r.err ==
          "dvdi-hook: error: " + (dir / "bad.json").string() + ": plugin_dirs: \"[]\": unknown configuration key\n");
    CHECK(r.out.empty());

    r = hook({"--config", (dir / "missing.json").string(), "config"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("cannot read the configuration file"));

    r = hook({"--config", (dir / "c.json").string(), "--state-dir", "relative", "config"});
    CHECK(r.status == 2);
    CHECK_THAT(r.err, Catch::Contains("--state-dir: \"relative\": must be an absolute path"));
}
