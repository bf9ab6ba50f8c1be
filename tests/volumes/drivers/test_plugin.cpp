#include <chrono>
#include <deque>
#include <functional>

#include <catch2/catch.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/volumes.hpp"
#include "tests/harness/harness.hpp"
#include "tests/plugin/test_plugin.hpp"

using namespace dvdi;
using namespace std::chrono_literals;
using http::HttpError;

namespace {

using Clock = std::chrono::steady_clock;

/// A transport that answers from a script and records what it was asked.
class FakeTransport : public volumes::Transport {
  public:
    std::function<http::Response(const std::string&, const std::string&)> answer;
    std::vector<std::string> methods;
    http::Response post(const std::string& method, const std::string& body, http::Deadline) override {
        methods.push_back(method);
        return answer(method, body);
    }
};

class FakeTimer : public volumes::Timer {
  public:
    Clock::time_point t = Clock::time_point{};
    std::vector<long> sleeps;
    Clock::time_point now() override { return t; }
    void sleep(std::chrono::milliseconds d) override {
        sleeps.push_back(static_cast<long>(d.count()));
        t += d;
    }
};

http::Response reply(int status, std::string body) {
    return {.status = status, .message = {.start_line = "HTTP/1.1", .headers = {}, .body = std::move(body)}};
}

http::Response activate_or(const std::string& method, http::Response other) {
    return method == "Plugin.Activate" ? reply(200, R"({"Implements":["VolumeDriver"]})") : other;
}

std::unique_ptr<volumes::Driver> open(const test::TestPlugin& p, core::Timeouts t = test::TestPlugin::fast_timeouts()) {
    return volumes::open_driver(p.name(), p.config(t));
}

template <typename F> std::chrono::milliseconds timed(F&& f) {
    const auto start = Clock::now();
    f();
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

} // namespace

TEST_CASE("plugin driver: connection failures are retried after 1, 2, 4, 8 s within the 30 s budget",
          "[volumes][drivers]") {
    auto transport = std::make_unique<FakeTransport>();
    auto* fake = transport.get();
    int failures = 0;
    fake->answer = [&](const std::string&, const std::string&) -> http::Response {
        ++failures;
        throw HttpError(HttpError::Kind::connect, "connect to unix:///x.sock: Connection refused");
    };
    auto timer = std::make_shared<FakeTimer>();
    volumes::PluginDriver d("rexray", std::move(transport), core::Timeouts{}, timer);
    CHECK_THROWS_WITH(d.mount("vol1", "c1"),
                      "plugin rexray: Plugin.Activate: connect to unix:///x.sock: Connection refused "
                      "(gave up after 5 attempts in 15 s)");
    CHECK(timer->sleeps == std::vector<long>{1000, 2000, 4000, 8000});
    CHECK(failures == 5);
}

TEST_CASE("plugin driver: HTTP errors and timeouts are never retried", "[volumes][drivers]") {
    auto transport = std::make_unique<FakeTransport>();
    auto* fake = transport.get();
    auto timer = std::make_shared<FakeTimer>();
    volumes::PluginDriver d("rexray", std::move(transport), core::Timeouts{}, timer);
    fake->answer = [](const std::string& m, const std::string&) {
        return activate_or(m, reply(500, R"({"Err":"backend down"})"));
    };
    CHECK_THROWS_WITH(d.mount("vol1", "c1"), "plugin rexray: VolumeDriver.Mount \"vol1\": \"backend down\"");
    fake->answer = [](const std::string&, const std::string&) -> http::Response {
        throw HttpError(HttpError::Kind::timeout, "no complete answer before the deadline");
    };
    CHECK_THROWS_WITH(d.unmount("vol1", "c1"), "plugin rexray: VolumeDriver.Unmount \"vol1\": no answer within 60 s");
    CHECK(fake->methods == std::vector<std::string>{"Plugin.Activate", "VolumeDriver.Mount", "VolumeDriver.Unmount"});
    CHECK(timer->sleeps.empty());
}

TEST_CASE("plugin driver: the real protocol against the test plugin", "[volumes][drivers]") {
    test::TestPlugin plugin;
    auto d = open(plugin);
    d->ensure_exists("vol1", {{"size", "1g"}, {"fs", "ext4"}}, false);
    const auto mp = d->mount("vol1", "c1");
    CHECK(mp == (plugin.volumes_dir() / "vol1").string());
    CHECK(d->mount("vol1", "c1") == mp); // the same ID twice: counted twice
    CHECK(plugin.mounts() == nlohmann::json{{"vol1", {{"c1", 2}}}});
    d->unmount("vol1", "c1");
    d->unmount("vol1", "c1");
    CHECK_THROWS_WITH(
        d->unmount("vol1", "c1"),
        "plugin testplug: VolumeDriver.Unmount \"vol1\": \"Unmount of vol1 with ID c1 without a matching Mount\"");
    CHECK(d->path("vol1").empty());                    // the test plugin answers a Mountpoint only while mounted
    d->ensure_exists("vol1", {{"size", "2g"}}, false); // exists: no second Create
    CHECK(d->list().size() == 1);
    CHECK(d->capabilities().scope == "local");
    d->remove("vol1");
    CHECK(d->list().empty());

    const auto calls = plugin.calls();
    std::vector<std::string> methods;
    for (const auto& c : calls) {
        methods.push_back(c["method"]);
    }
    CHECK(methods == std::vector<std::string>{"Plugin.Activate", "VolumeDriver.Get", "VolumeDriver.Create",
                                              "VolumeDriver.Mount", "VolumeDriver.Mount", "VolumeDriver.Unmount",
                                              "VolumeDriver.Unmount", "VolumeDriver.Unmount", "VolumeDriver.Path",
                                              "VolumeDriver.Get", "VolumeDriver.List", "VolumeDriver.Capabilities",
                                              "VolumeDriver.Remove", "VolumeDriver.List"});
    const auto create = plugin.calls("VolumeDriver.Create").at(0);
    CHECK(create["body"] == nlohmann::json{{"Name", "vol1"}, {"Opts", {{"size", "1g"}, {"fs", "ext4"}}}});
    CHECK(create["headers"]["accept"] == "application/vnd.docker.plugins.v1.2+json");
    CHECK(create["headers"]["content-type"] == "application/vnd.docker.plugins.v1.2+json");
    CHECK(create["headers"]["host"] == "plugin.moby.localhost");
    CHECK(plugin.calls("VolumeDriver.Mount").at(0)["body"] == nlohmann::json{{"Name", "vol1"}, {"ID", "c1"}});
    CHECK(plugin.calls("Plugin.Activate").at(0)["body"] == "");
    CHECK(plugin.calls("VolumeDriver.List").at(0)["body"] == nlohmann::json::object());
}

TEST_CASE("plugin driver: Create without options sends null Opts; explicit create never creates",
          "[volumes][drivers]") {
    test::TestPlugin plugin;
    auto d = open(plugin);
    CHECK_THROWS_WITH(d->ensure_exists("v", {}, true),
                      Catch::StartsWith("plugin testplug: VolumeDriver.Get \"v\": no such volume and explicit create "
                                        "is on (\"no such volume: v\")"));
    CHECK(plugin.calls("VolumeDriver.Create").empty());
    d->ensure_exists("v", {}, false);
    CHECK(plugin.calls("VolumeDriver.Create").at(0)["body"] == nlohmann::json{{"Name", "v"}, {"Opts", nullptr}});
    d->ensure_exists("v", {}, true);
    CHECK(plugin.calls("VolumeDriver.Create").size() == 1);
}

TEST_CASE("plugin driver: 404 on Get means create anyway, 404 on Capabilities means scope local",
          "[volumes][drivers]") {
    test::TestPlugin plugin({.behave = {{"VolumeDriver.Get", "404"}, {"VolumeDriver.Capabilities", "404"}}});
    auto d = open(plugin);
    d->ensure_exists("v", {}, false);
    CHECK(plugin.calls("VolumeDriver.Create").size() == 1);
    CHECK(d->capabilities().scope == "local");
    plugin.behave("VolumeDriver.Capabilities", "ok");
    test::TestPlugin global({.scope = "global"});
    CHECK(open(global)->capabilities().scope == "global");
}

TEST_CASE("plugin driver: errors carry the driver, the call, the volume and the plugin's text", "[volumes][drivers]") {
    test::TestPlugin plugin;
    auto d = open(plugin);
    d->ensure_exists("vol1", {}, false);
    const std::string prefix = "plugin testplug: VolumeDriver.Mount \"vol1\": ";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"500", prefix + "\"test plugin: injected failure\""},
        {"200err", prefix + "\"test plugin: injected failure\""},
        {"empty", prefix + "empty answer (HTTP 200 without a body)"},
        {"garbage", prefix + "unparsable answer \"<html>this is not JSON{\""},
        {"404", prefix + "HTTP 404: \"404 page not found\""},
        {"huge", prefix + "body of 2097163 bytes, over 1048576"},
    };
    for (const auto& [behaviour, message] : cases) {
        INFO(behaviour);
        plugin.behave("VolumeDriver.Mount", behaviour);
        const auto before = plugin.calls("VolumeDriver.Mount").size();
        CHECK_THROWS_WITH(d->mount("vol1", "c1"), message);
        CHECK(plugin.calls("VolumeDriver.Mount").size() == before + 1); // never retried
    }
    plugin.behave("VolumeDriver.Mount", "chunked");
    CHECK(d->mount("vol1", "c1") == (plugin.volumes_dir() / "vol1").string());
    plugin.behave("Plugin.Activate", "noimpl");
    CHECK_THROWS_WITH(open(plugin)->list(), "plugin testplug: Plugin.Activate: does not implement VolumeDriver "
                                            "(Implements: \"[\\\"NetworkDriver\\\"]\")");
}

TEST_CASE("plugin driver: keep-alive reuses one connection; TCP on loopback works the same", "[volumes][drivers]") {
    test::TestPlugin plugin;
    auto endpoint = volumes::find_plugin(plugin.name(), plugin.config());
    REQUIRE(endpoint.has_value());
    auto transport = std::make_unique<volumes::HttpTransport>(*endpoint, 2s);
    const auto* raw = transport.get();
    volumes::PluginDriver d(plugin.name(), std::move(transport), test::TestPlugin::fast_timeouts());
    for (int i = 0; i < 5; ++i) {
        CHECK(d.list().empty());
    }
    CHECK(raw->client().connections_opened() == 1);
    plugin.behave("VolumeDriver.List", "chunked");
    CHECK(d.list().empty());
    CHECK(raw->client().connections_opened() == 1);

    test::TestPlugin tcp({.name = "tcpplug", .tcp = true});
    CHECK(tcp.address().starts_with("tcp://127.0.0.1:"));
    auto t = open(tcp);
    t->ensure_exists("v", {}, false);
    CHECK(t->mount("v", "c1") == (tcp.volumes_dir() / "v").string());
    t->unmount("v", "c1");
    CHECK(tcp.calls("VolumeDriver.Mount").at(0)["headers"]["host"] == "plugin.moby.localhost");
}

TEST_CASE("plugin driver: a plugin down, slow or hanging up fails clearly within the stated time",
          "[volumes][drivers]") {
    test::TestPlugin plugin;
    auto d = open(plugin);
    d->ensure_exists("v", {}, false);

    plugin.behave("VolumeDriver.Mount", "slow:5000");
    const auto slow = timed([&] {
        CHECK_THROWS_WITH(d->mount("v", "c1"), "plugin testplug: VolumeDriver.Mount \"v\": no answer within 2 s");
    });
    CHECK(slow < 3s);
    CHECK(plugin.calls("VolumeDriver.Mount").size() == 1);

    plugin.behave("VolumeDriver.Mount", "close");
    const auto closed = timed([&] {
        CHECK_THROWS_WITH(d->mount("v", "c2"), Catch::Contains("closed the connection without an answer") &&
                                                   Catch::Contains("gave up after 3 attempts"));
    });
    CHECK(closed < 5s);

    plugin.stop(); // the socket is gone
    const auto down = timed([&] {
        CHECK_THROWS_WITH(d->unmount("v", "c2"), Catch::StartsWith("plugin testplug: VolumeDriver.Unmount \"v\": "
                                                                   "connect to unix://") &&
                                                     Catch::Contains("gave up after 3 attempts"));
    });
    CHECK(down < 5s);
}

TEST_CASE("plugin driver: a socket that appears late is found and used within the retry budget", "[volumes][drivers]") {
    test::TestPlugin plugin({.socket_delay = 1500ms, .wait_ready = false});
    auto d = open(plugin); // discovery retries until the socket is there
    d->ensure_exists("v", {}, false);
    CHECK(plugin.calls("VolumeDriver.Create").size() == 1);
}

TEST_CASE("plugin driver: Mount returns the plugin's Mountpoint as it is, for the node to check",
          "[volumes][drivers][attack]") {
    // A plugin hands out `/`, a system directory, a relative or an empty path: the driver does
    // not judge it (the node is the one place that does, and sends the Unmount when it refuses
    // one), so it must come back unchanged, and the mount stays counted under its ID.
    test::TestPlugin plugin;
    auto d = open(plugin);
    d->ensure_exists("v", {}, false);
    int n = 0;
    for (const std::string value : {"/", "/etc", "relative/dir", ""}) {
        INFO(value);
        const std::string id = "c" + std::to_string(++n);
        plugin.behave("VolumeDriver.Mount", "mountpoint:" + value);
        CHECK(d->mount("v", id) == value);
        CHECK(plugin.mounts()["v"][id] == 1);
        d->unmount("v", id); // accepted: the plugin counted the Mount under that ID
    }

    // Absent, null or not a string: empty.
    auto transport = std::make_unique<FakeTransport>();
    auto* fake = transport.get();
    volumes::PluginDriver f("rexray", std::move(transport), core::Timeouts{}, std::make_shared<FakeTimer>());
    for (const std::string body : {R"({"Err":""})", R"({"Mountpoint":null})", R"({"Mountpoint":42})"}) {
        INFO(body);
        fake->answer = [&](const std::string& m, const std::string&) { return activate_or(m, reply(200, body)); };
        CHECK(f.mount("v", "c1").empty());
    }
}
