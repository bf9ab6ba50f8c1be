#include <sys/socket.h>

#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/http_wire.hpp"

using namespace dvdi;
using namespace std::chrono_literals;
using volumes::http::HttpError;

namespace {

struct Pair {
    core::UniqueFd a, b;
    Pair() {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        a.reset(fds[0]);
        b.reset(fds[1]);
    }
    void send(const std::string& s) { volumes::http::write_all(a.get(), s, soon()); }
    static volumes::http::Deadline soon() { return volumes::http::Clock::now() + 2s; }
};

} // namespace

TEST_CASE("http wire: Content-Length and chunked bodies, kept-alive messages back to back", "[volumes][drivers]") {
    Pair p;
    p.send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
           "HTTP/1.1 500 Internal Server Error\r\ntransfer-encoding: chunked\r\n\r\n"
           "3;ext=1\r\n{\"E\r\n8\r\nrr\":\"x\"}\r\n0\r\nTrailer: t\r\n\r\n");
    volumes::http::Reader r(p.b.get());
    const auto m1 = r.read_message(Pair::soon());
    REQUIRE(m1.has_value());
    CHECK(volumes::http::parse_status(m1->start_line) == 200);
    CHECK(m1->body == "hello");
    CHECK(m1->keep_alive());
    const auto m2 = r.read_message(Pair::soon());
    REQUIRE(m2.has_value());
    CHECK(volumes::http::parse_status(m2->start_line) == 500);
    CHECK(m2->body == R"({"Err":"x"})");
    p.a.reset();
    CHECK_FALSE(r.read_message(Pair::soon()).has_value()); // clean EOF between messages
}

TEST_CASE("http wire: a body split across writes, a response framed by close", "[volumes][drivers]") {
    Pair p;
    std::thread writer([&] {
        p.send("HTTP/1.1 200 OK\r\nConn");
        std::this_thread::sleep_for(50ms);
        p.send("ection: close\r\n\r\n{\"Err\":");
        std::this_thread::sleep_for(50ms);
        p.send("\"\"}");
        p.a.reset();
    });
    volumes::http::Reader r(p.b.get());
    const auto m = r.read_message(Pair::soon());
    writer.join();
    REQUIRE(m.has_value());
    CHECK(m->body == R"({"Err":""})");
    CHECK_FALSE(m->keep_alive());
}

TEST_CASE("http wire: oversized bodies, bad framing, timeouts and truncation are errors", "[volumes][drivers]") {
    const auto kind_of = [](const std::string& input, bool close) {
        Pair p;
        p.send(input);
        if (close) {
            p.a.reset();
        }
        volumes::http::Reader r(p.b.get());
        try {
            (void)r.read_message(volumes::http::Clock::now() + 200ms);
        } catch (const HttpError& e) {
            return e.kind();
        }
        FAIL("no error for " << input);
        return HttpError::Kind::protocol;
    };
    CHECK(kind_of("HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n", false) == HttpError::Kind::too_large);
    CHECK(kind_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffff\r\n", false) ==
          HttpError::Kind::too_large);
    CHECK(kind_of("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false) == HttpError::Kind::protocol);
    CHECK(kind_of("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", false) == HttpError::Kind::protocol);
    CHECK(kind_of("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false) == HttpError::Kind::timeout);
    CHECK(kind_of("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true) == HttpError::Kind::protocol);
    CHECK(kind_of("HTTP/1.1 200", true) == HttpError::Kind::protocol);
    CHECK_THROWS_AS(volumes::http::parse_status("SSH-2.0-OpenSSH"), HttpError);
}
