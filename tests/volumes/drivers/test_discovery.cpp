#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <functional>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "lib/core/core.hpp"
#include "lib/volumes/volumes.hpp"
#include "tests/harness/harness.hpp"
#include "tests/plugin/test_plugin.hpp"

using namespace dvdi;
using http::Endpoint;
namespace fs = std::filesystem;

namespace {

/// A bound (not listening) unix socket file at `path`, enough for discovery's S_ISSOCK test.
core::UniqueFd make_socket_file(const fs::path& path) {
    fs::create_directories(path.parent_path());
    core::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
}

core::Config dirs_config(const test::TempDir& dir) {
    core::Config c;
    c.plugin_socket_dirs = {(dir / "run").string()};
    c.plugin_spec_dirs = {(dir / "etc").string(), (dir / "usr").string()};
    c.timeouts.retry_budget = std::chrono::milliseconds(500);
    c.timeouts.plugin_wait = std::chrono::milliseconds(500);
    return c;
}

} // namespace

TEST_CASE("driver names that are not safe file names never reach the filesystem", "[volumes][drivers]") {
    core::Config c;
    for (const std::string& bad :
         std::vector<std::string>{"", "../etc", "a/b", ".hidden", "-x", "a b", std::string("a\0b", 3)}) {
        CHECK_THROWS_AS(volumes::find_plugin(bad, c), core::InputError);
        CHECK_THROWS_AS(volumes::open_driver(bad, c), core::InputError);
    }
}

TEST_CASE("a driver name is accepted or refused alike by request validation, discovery and open_driver",
          "[volumes][drivers]") {
    test::TempDir dir;
    const auto c = dirs_config(dir);
    fs::create_directories(dir / "etc");
    const std::vector<std::pair<std::string, bool>> names = {{"rexray", true},
                                                             {"my-plugin_2.0", true},
                                                             {"x_", true},
                                                             {"9p", true},
                                                             {std::string(128, 'a'), true},
                                                             {"_x", false},
                                                             {".x", false},
                                                             {"-x", false},
                                                             {"a b", false},
                                                             {std::string(129, 'a'), false},
                                                             {"a:b", false},
                                                             {"", false},
                                                             {"a/b", false},
                                                             {"../x", false}};
    for (const auto& [name, valid] : names) {
        INFO(name);
        // Request validation, as a container's env states it.
        const auto read = [&] {
            (void)volumes::parse_env_requests(
                std::vector<std::string>{"DVDI_VOLUME_NAME=v", "DVDI_VOLUME_DRIVER=" + name}, "local");
        };
        // Discovery and open_driver: a valid name is looked for (and not found: empty dirs), an
        // invalid one refused before any file is looked at.
        if (valid) {
            CHECK_NOTHROW(read());
            CHECK_FALSE(volumes::find_plugin(name, c).has_value());
            CHECK_THROWS_AS(volumes::open_driver(name, c), volumes::DriverUnreachable);
        } else {
            CHECK_THROWS_AS(read(), core::InputError);
            CHECK_THROWS_AS(volumes::find_plugin(name, c), core::InputError);
            CHECK_THROWS_AS(volumes::open_driver(name, c), core::InputError);
        }
        // A spec file of that name is listed only when it is a valid driver name.
        if (!name.empty() && name.find('/') == std::string::npos && name.size() < 200) {
            const auto spec = dir / "etc" / (name + ".spec");
            test::write_file(spec, "unix:///run/x.sock\n");
            const auto listed = volumes::list_plugins(c);
            CHECK((std::find(listed.begin(), listed.end(), name) != listed.end()) == valid);
            fs::remove(spec);
        }
    }
}

TEST_CASE("discovery follows dockerd's order: sockets, then per spec dir .spec before .json", "[volumes][drivers]") {
    test::TempDir dir;
    const auto c = dirs_config(dir);
    CHECK_FALSE(volumes::find_plugin("p", c).has_value());

    fs::create_directories(dir / "usr/p");
    test::write_file(dir / "usr/p/p.json", R"({"Addr": "tcp://127.0.0.1:9004", "Name": "ignored"})");
    CHECK(volumes::find_plugin("p", c)->url() == "tcp://127.0.0.1:9004");
    test::write_file(dir / "usr/p.json", R"({"Addr": "tcp://127.0.0.1:9003"})");
    CHECK(volumes::find_plugin("p", c)->url() == "tcp://127.0.0.1:9003");
    fs::create_directories(dir / "usr/p");
    test::write_file(dir / "usr/p/p.spec", "  http://localhost:9002/\n");
    CHECK(volumes::find_plugin("p", c)->url() == "tcp://127.0.0.1:9002");
    // The first spec dir wins over the second, whatever the extension.
    fs::create_directories(dir / "etc");
    test::write_file(dir / "etc/p.json", R"({"Addr": "unix:///x/etc.sock"})");
    CHECK(volumes::find_plugin("p", c)->url() == "unix:///x/etc.sock");
    test::write_file(dir / "etc/p.spec", "unix:///x/etc-spec.sock");
    CHECK(volumes::find_plugin("p", c)->url() == "unix:///x/etc-spec.sock");
    // A regular file called p.sock is not a socket.
    fs::create_directories(dir / "run");
    test::write_file(dir / "run/p.sock", "");
    CHECK(volumes::find_plugin("p", c)->url() == "unix:///x/etc-spec.sock");
    fs::remove(dir / "run/p.sock");
    const auto nested = make_socket_file(dir / "run/p/p.sock");
    CHECK(volumes::find_plugin("p", c)->url() == "unix://" + (dir / "run/p/p.sock").string());
    const auto flat = make_socket_file(dir / "run/p.sock");
    CHECK(volumes::find_plugin("p", c)->url() == "unix://" + (dir / "run/p.sock").string());
}

TEST_CASE("plugin addresses: numeric or localhost TCP, absolute unix paths, no TLS", "[volumes][drivers]") {
    using http::parse_endpoint;
    CHECK(parse_endpoint("tcp://localhost:8080", "t").host == "127.0.0.1");
    CHECK(parse_endpoint("tcp://[::1]:8080", "t").url() == "tcp://[::1]:8080");
    CHECK(parse_endpoint("unix:///run/x.sock", "t").path == "/run/x.sock");
    CHECK_THROWS_WITH(parse_endpoint("tcp://plugin.example:80", "f"), Catch::Contains("names are not resolved"));
    CHECK_THROWS_WITH(parse_endpoint("https://127.0.0.1:80", "f"), Catch::Contains("unknown protocol"));
    CHECK_THROWS_WITH(parse_endpoint("/run/x.sock", "f"), Catch::Contains("unknown protocol"));
    CHECK_THROWS_WITH(parse_endpoint("tcp://127.0.0.1:0", "f"), Catch::Contains("bad port"));
    CHECK_THROWS_WITH(parse_endpoint("unix://rel.sock", "f"), Catch::Contains("absolute"));

    test::TempDir dir;
    const auto c = dirs_config(dir);
    fs::create_directories(dir / "etc");
    test::write_file(dir / "etc/t.json", R"({"Addr": "tcp://127.0.0.1:1", "TLSConfig": {"CAFile": "/ca"}})");
    CHECK_THROWS_WITH(volumes::find_plugin("t", c), Catch::Contains("TLSConfig is not supported"));
}

TEST_CASE("open_driver: local is built in, allowed_drivers is enforced, a missing plugin is an error",
          "[volumes][drivers]") {
    test::TempDir dir;
    auto c = dirs_config(dir);
    c.data_dir = (dir / "data").string();
    // A plugin socket called local does not shadow the built-in driver.
    const auto shadow = make_socket_file(dir / "run/local.sock");
    auto local = volumes::open_driver("local", c);
    CHECK(dynamic_cast<volumes::LocalDriver*>(local.get()) != nullptr);

    c.allowed_drivers = {"rexray"};
    CHECK_THROWS_WITH(volumes::open_driver("local", c), Catch::Contains("not in allowed_drivers"));
    c.allowed_drivers.clear();

    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(volumes::open_driver("absent", c), volumes::PluginNotFound);
    CHECK_THROWS_WITH(volumes::open_driver("absent", c), Catch::StartsWith("no plugin \"absent\" was found: "));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
}

TEST_CASE("a missing plugin's error says where it was looked for and which plugins were found, and never words "
          "it as a missing file",
          "[volumes][drivers]") {
    test::TempDir dir;
    auto c = dirs_config(dir);
    const std::string run = (dir / "run").string();
    const std::string etc = (dir / "etc").string();
    const std::string usr = (dir / "usr").string();
    const std::string where =
        "no socket absent.sock in " + run + ", no absent.spec or absent.json in " + etc + ", " + usr;
    // Nothing in any directory (none of them even exists).
    const std::string none_found = volumes::missing_plugin("absent", c);
    CHECK(none_found ==
          "no plugin \"absent\" was found: " + where + "; no plugins found in " + run + ", " + etc + ", " + usr);
    // What is there instead, sockets and spec files alike, each named once.
    const auto sock = make_socket_file(dir / "run/rexray.sock");
    fs::create_directories(dir / "etc");
    fs::create_directories(dir / "usr");
    test::write_file(dir / "etc/other.spec", "tcp://127.0.0.1:1");
    test::write_file(dir / "usr/rexray.json", R"({"Addr": "unix:///x.sock"})");
    CHECK(volumes::missing_plugin("absent", c) ==
          "no plugin \"absent\" was found: " + where + "; plugins found: other, rexray");
    CHECK_THROWS_WITH(volumes::open_driver("absent", c),
                      Catch::StartsWith("no plugin \"absent\" was found: " + where + " (looked for ") &&
                          Catch::Contains(" s, timeouts.plugin_wait 0.5 s); plugins found: other, rexray"));
    // podman reads a hook error containing these as a runtime "command not found" (exit 127) or a
    // permission error of the runtime, and words it as its own.
    for (const auto& text : {none_found, volumes::missing_plugin("absent", c)}) {
        for (const char* trap : {"no such file", "not found", "permission denied", "operation not permitted"}) {
            std::string lower = text;
            std::transform(lower.begin(), lower.end(), lower.begin(),
                           [](unsigned char ch) { return std::tolower(ch); });
            CHECK(lower.find(trap) == std::string::npos);
        }
    }
    // An operator's directory with many plugins: twenty named, the rest counted.
    for (int i = 0; i < 25; ++i) {
        test::write_file(dir / "etc" / fmt::format("p{:02}.spec", i), "tcp://127.0.0.1:1");
    }
    CHECK_THAT(
        volumes::missing_plugin("absent", c),
        Catch::EndsWith("; plugins found: other, p00, p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, "
                        "p13, p14, p15, p16, p17, p18 and 7 more"));
    // An attacker's driver name that is a path is refused before anything is looked up, and so
    // never shows in this message.
    CHECK_THROWS_AS(volumes::open_driver("../../x", c), core::InputError);
}

TEST_CASE("open_driver looks for a missing plugin again on dockerd's schedule, through the Timer seam",
          "[volumes][drivers]") {
    struct FakeTimer : volumes::Timer {
        http::Clock::time_point t{};
        std::vector<long> sleeps;
        std::function<void()> on_sleep;
        http::Clock::time_point now() override { return t; }
        void sleep(std::chrono::milliseconds d) override {
            sleeps.push_back(static_cast<long>(d.count()));
            t += d;
            if (on_sleep) {
                on_sleep();
            }
        }
    };
    test::TempDir dir;
    auto c = dirs_config(dir);
    c.timeouts.plugin_wait = std::chrono::seconds(30); // the wait is its own key, not the retry budget
    c.timeouts.retry_budget = std::chrono::seconds(1);
    const auto start = std::chrono::steady_clock::now();
    auto timer = std::make_shared<FakeTimer>();
    CHECK_THROWS_WITH(volumes::open_driver("absent", c, timer),
                      Catch::StartsWith("no plugin \"absent\" was found: ") &&
                          Catch::Contains("(looked for 15 s, timeouts.plugin_wait 30 s); no plugins found in "));
    CHECK(timer->sleeps == std::vector<long>{1000, 2000, 4000, 8000});
    // A plugin that shows up while it waits is found at the next look.
    timer = std::make_shared<FakeTimer>();
    timer->on_sleep = [&] {
        if (timer->sleeps.size() == 2) {
            fs::create_directories(dir / "etc");
            test::write_file(dir / "etc/late.spec", "unix:///run/late.sock");
        }
    };
    CHECK(dynamic_cast<volumes::PluginDriver*>(volumes::open_driver("late", c, timer).get()) != nullptr);
    CHECK(timer->sleeps == std::vector<long>{1000, 2000});
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3)); // no real waiting
}
