// A hostile plugin against the real client: the test plugin (tests/plugin/hostile.cpp) floods,
// drips, forges log lines and hands out odd mountpoints over a real socket. Each call must fail
// by itself, within the cap or the deadline, with text that cannot forge output.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/volumes.hpp"
#include "tests/harness/harness.hpp"
#include "tests/plugin/test_plugin.hpp"

using namespace dvdi;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

core::Timeouts timeouts(std::chrono::milliseconds call) {
    auto t = test::TestPlugin::fast_timeouts();
    t.create = t.mount = t.other = call;
    return t;
}

/// The message of the DriverError `f` throws (fails the test when it throws none).
template <typename F> std::string error_of(F&& f) {
    try {
        f();
    } catch (const volumes::DriverError& e) {
        return e.what();
    }
    FAIL("no DriverError");
    return {};
}

/// What the sockets between the plugin and the hook can hold on the way: SO_SNDBUF + SO_RCVBUF
/// of a unix socket pair (the plugin's and the client's sockets have the same defaults).
std::size_t socket_buffers() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    const core::UniqueFd a(fds[0]), b(fds[1]);
    int snd = 0, rcv = 0;
    socklen_t len = sizeof snd;
    REQUIRE(::getsockopt(a.get(), SOL_SOCKET, SO_SNDBUF, &snd, &len) == 0);
    REQUIRE(::getsockopt(b.get(), SOL_SOCKET, SO_RCVBUF, &rcv, &len) == 0);
    return static_cast<std::size_t>(snd) + static_cast<std::size_t>(rcv);
}

/// The last recorded call of `method` once the plugin noted how much it sent (its hostile
/// sender stopped), or null after 10 s.
nlohmann::json sent_record(const test::TestPlugin& plugin, const std::string& method) {
    for (const auto until = Clock::now() + 10s; Clock::now() < until; std::this_thread::sleep_for(20ms)) {
        const auto calls = plugin.calls(method);
        if (!calls.empty() && calls.back().contains("sent")) {
            return calls.back();
        }
    }
    return nullptr;
}

bool has_control_byte(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7F;
    });
}

} // namespace

TEST_CASE("hostile plugin: an endless or oversized answer fails with too_large at once, and the hook read at "
          "most the cap",
          "[volumes][drivers][attack]") {
    // The plugin tries to pin the hook's memory (and the container's start) with an answer that
    // never ends: trailers, chunk extensions, header lines, or a body over the limit. The call
    // fails with the size error long before its 30 s deadline, and the plugin, which would go on
    // to 256 MiB, got no more than the cap plus the socket buffers out before the hook closed.
    test::TestPlugin plugin;
    auto d = volumes::open_driver(plugin.name(), plugin.config(timeouts(30s)));
    d->ensure_exists("v", {}, false);
    const std::size_t cap = http::message_cap(http::kMaxBody);
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"huge", "body of 2097163 bytes, over 1048576"},
        {"trailers", "answer over 1114112 bytes (headers, framing and body)"},
        {"chunkext", "answer over 1114112 bytes (headers, framing and body)"},
        {"headers", "more than 100 header lines"},
    };
    for (const auto& [behaviour, message] : cases) {
        INFO(behaviour);
        plugin.behave("VolumeDriver.Mount", behaviour);
        const auto start = Clock::now();
        CHECK(error_of([&] { (void)d->mount("v", "c1"); }) == "plugin testplug: VolumeDriver.Mount \"v\": " + message);
        CHECK(Clock::now() - start < 10s);
        if (behaviour != "huge") { // huge is refused by its Content-Length, before its body
            const auto call = sent_record(plugin, "VolumeDriver.Mount");
            REQUIRE(call.is_object());
            CHECK(call["sent"].get<std::size_t>() < cap + socket_buffers());
        }
    }
    plugin.behave("VolumeDriver.Mount", "ok"); // the driver is usable again: a new connection
    CHECK(d->mount("v", "c1") == (plugin.volumes_dir() / "v").string());
}

TEST_CASE("hostile plugin: an answer dripped one byte at a time ends at the call's deadline",
          "[volumes][drivers][attack]") {
    // The plugin keeps the connection alive with one byte every 100 ms, so no single wait is
    // long: the call's deadline still ends it (1 s here), as a timeout, not retried.
    test::TestPlugin plugin;
    auto d = volumes::open_driver(plugin.name(), plugin.config(timeouts(1s)));
    d->ensure_exists("v", {}, false);
    plugin.behave("VolumeDriver.Mount", "drip:100");
    const auto start = Clock::now();
    CHECK(error_of([&] { (void)d->mount("v", "c1"); }) ==
          "plugin testplug: VolumeDriver.Mount \"v\": no answer within 1 s");
    const auto took = Clock::now() - start;
    CHECK(took >= 900ms); // poll() counts whole milliseconds
    CHECK(took < 3s);
    CHECK(plugin.calls("VolumeDriver.Mount").size() == 1);
    REQUIRE(sent_record(plugin, "VolumeDriver.Mount").is_object()); // the drip stopped when the hook closed

    // The same answer dripped fast enough is the right answer.
    plugin.behave("VolumeDriver.Mount", "drip:1");
    CHECK(d->mount("v", "c2") == (plugin.volumes_dir() / "v").string());
    d->unmount("v", "c2");
}

TEST_CASE("hostile plugin: control characters in its Err cannot forge a log line or drive a terminal",
          "[volumes][drivers][attack]") {
    // The plugin's Err holds a newline and a fake log line, a CR, ANSI colour sequences and a
    // BEL. The DriverError carries them escaped inside quotes, and a log line of it (or of the
    // raw text) is exactly one line with no control byte.
    test::TestPlugin plugin({.behave = {{"VolumeDriver.Mount", "errctl"}}});
    auto d = volumes::open_driver(plugin.name(), plugin.config());
    d->ensure_exists("v", {}, false);
    const std::string what = error_of([&] { (void)d->mount("v", "c1"); });
    CHECK(
        what ==
        R"(plugin testplug: VolumeDriver.Mount "v": "test plugin: line1\x0aFORGED: line2\x0d\x1b[31mred\x1b[0m\x07")");
    CHECK_FALSE(has_control_byte(what));

    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
    const core::UniqueFd r(fds[0]), w(fds[1]);
    core::log::set_output_fd(w.get());
    core::log::write(core::log::Level::error, what);
    core::log::write(core::log::Level::error, "test plugin: line1\nFORGED: line2\r\x1b[31mred\x1b[0m\x07");
    core::log::set_output_fd(-1);
    char buf[1024] = {};
    const ssize_t n = ::read(r.get(), buf, sizeof buf);
    REQUIRE(n > 0);
    const std::string out(buf, static_cast<std::size_t>(n));
    const auto eol = out.find('\n');
    REQUIRE(eol != std::string::npos);
    CHECK(out.substr(0, eol + 1) == "dvdi-hook: error: " + what + "\n"); // already printable: unchanged
    CHECK(std::count(out.begin(), out.end(), '\n') == 2);                // two calls, two lines
    CHECK(out.ends_with("\n"));
    CHECK_FALSE(has_control_byte(std::string_view(out).substr(0, eol)));
    CHECK_FALSE(has_control_byte(std::string_view(out).substr(eol + 1, out.size() - eol - 2)));
}
