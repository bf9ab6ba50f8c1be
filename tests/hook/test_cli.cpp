// The built binary, driven as a user or a runtime drives it.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
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
    // --version, as other tools answer it: the first line, exit 0, nothing else.
    const auto flag = hook({"--version"});
    CHECK(flag.status == 0);
    CHECK(flag.out == std::string("dvdi-hook ") + DVDI_VERSION + "\n");
    CHECK(flag.err.empty());
}

TEST_CASE("a hook stage run in a terminal says what it wants on stdin instead of waiting", "[hook][cli]") {
    DVDI_REQUIRE_PROGRAM("script");
    for (const char* stage : {"prestart", "poststop", "createRuntime"}) {
        INFO(stage);
        // script(1) gives the command a pseudo-terminal as its stdin, as a person's shell does.
        const auto r = run({"script", "-qec", hook_binary().string() + " " + stage, "/dev/null"},
                           {.timeout = std::chrono::seconds(20)});
        CHECK_FALSE(r.timed_out);
        CHECK(r.status == 2);
        CHECK_THAT(r.out, Catch::Contains("OCI state on stdin: \"a terminal\": this command reads what its caller "
                                          "writes to it"));
    }
}

TEST_CASE("createRuntime is a command of its own: its --help names it", "[hook][cli]") {
    const auto r = hook({"createRuntime", "--help"});
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    const auto usage = r.out.find("Usage: ");
    REQUIRE(usage != std::string::npos);
    const std::string usage_line = r.out.substr(usage, r.out.find('\n', usage) - usage);
    CHECK_THAT(usage_line, Catch::Contains("createRuntime"));
    CHECK_THAT(usage_line, !Catch::Contains("prestart"));
    CHECK_THAT(r.out, Catch::Contains("prestart under its current OCI name"));
    const auto pre = hook({"prestart", "--help"});
    CHECK(pre.status == 0);
    CHECK_THAT(pre.out, Catch::Contains("prestart") && !Catch::Contains("createRuntime"));
    // Both are listed as commands.
    const auto all = hook({"--help"});
    CHECK_THAT(all.out, Catch::Contains("\n  prestart ") && Catch::Contains("\n  createRuntime "));
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
    CHECK(j["timeouts"]["plugin_wait"] == 30); // how long a plugin that is not there yet is waited for

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

TEST_CASE("a hook stage reads the same however its arguments are spelled (the runtime's plain entry "
          "skips building the command line)",
          "[hook][cli][oci]") {
    const TempDir dir("dvdi-cli-stage");
    fs::create_directories(dir / "novol");
    fs::create_directories(dir / "vol");
    write_file(dir / "novol/config.json", R"({"process": {"env": ["PATH=/bin"]}, "root": {"path": "rootfs"}})");
    write_file(dir / "vol/config.json",
               R"({"process": {"env": ["DVDI_VOLUME_NAME=v", "DVDI_VOLUME_CONTAINERPATH=/data"]},
                   "root": {"path": "rootfs"}})");
    const auto state = [&](const std::string& bundle) {
        return nlohmann::json{{"ociVersion", "1.0.2"},
                              {"id", "c1"},
                              {"status", "creating"},
                              {"pid", ::getpid()},
                              {"bundle", (dir / bundle).string()}}
            .dump();
    };
    const auto argv = [](std::vector<std::string> args) {
        args.insert(args.begin(), hook_binary().string());
        return args;
    };
    const std::string missing = (dir / "no-such-config.json").string();
    // The plain entries (no command line built) and ones only the command line takes.
    const std::vector<std::vector<std::string>> spellings = {{"--config", missing, "prestart"},
                                                             {"--config=" + missing, "createRuntime"},
                                                             {"prestart", "--config", missing},
                                                             {"createRuntime", "--config", missing},
                                                             {"--log-level", "error", "--config", missing, "prestart"}};
    for (const auto& args : spellings) {
        INFO(fmt::format("{}", fmt::join(args, " ")));
        // No volume asked for: done before the config is read, so its absence does not matter.
        const auto quiet = run(argv(args), {.input = state("novol")});
        CHECK(quiet.status == 0);
        CHECK(quiet.err.empty());
        // A volume asked for: the named config must exist; a usage error, nothing done.
        const auto r = run(argv(args), {.input = state("vol")});
        CHECK(r.status == 2);
        CHECK(lines(r.err) == 1);
        CHECK_THAT(r.err, Catch::StartsWith("dvdi-hook: error: ") && Catch::Contains("no-such-config.json"));
    }
    // A stage word with anything else after it is the command line's to refuse.
    const auto extra = hook({"poststop", "extra"});
    CHECK(extra.status == 2);
    CHECK_THAT(extra.err, Catch::Contains("extra"));
}

TEST_CASE("a state with a malformed annotation fails the container, whether it asks for volumes or not",
          "[hook][cli][oci]") {
    const TempDir dir("dvdi-cli-annotation");
    write_file(dir / "config.json", R"({"process": {"env": ["PATH=/bin"]}, "root": {"path": "rootfs"}})");
    const auto state = nlohmann::json{{"ociVersion", "1.0.2"},         {"id", "c1"},
                                      {"status", "creating"},          {"pid", ::getpid()},
                                      {"bundle", dir.path().string()}, {"annotations", {{"k", 1}}}}
                           .dump();
    for (const std::string stage : {"prestart", "poststop"}) {
        INFO(stage);
        const auto r = run({hook_binary().string(), "--config", (dir / "none.json").string(), stage}, {.input = state});
        CHECK(r.status == 2);
        CHECK(r.err == "dvdi-hook: error: state.annotations.k: \"1\": must be a string\n");
    }
}
