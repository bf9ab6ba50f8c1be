#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string_view>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "lib/core/core.hpp"
#include "lib/http/wire.hpp"

using namespace dvdi;
using namespace std::chrono_literals;
using http::HttpError;

namespace {

struct Pair {
    core::UniqueFd a, b;
    Pair() {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        a.reset(fds[0]);
        b.reset(fds[1]);
    }
    void send(const std::string& s) { http::write_all(a.get(), s, soon()); }
    static http::Deadline soon() { return http::Clock::now() + 2s; }
};

} // namespace

TEST_CASE("http wire: Content-Length and chunked bodies, kept-alive messages back to back", "[volumes][drivers]") {
    Pair p;
    p.send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
           "HTTP/1.1 500 Internal Server Error\r\ntransfer-encoding: chunked\r\n\r\n"
           "3;ext=1\r\n{\"E\r\n8\r\nrr\":\"x\"}\r\n0\r\nTrailer: t\r\n\r\n");
    http::Reader r(p.b.get());
    const auto m1 = r.read_message(Pair::soon());
    REQUIRE(m1.has_value());
    CHECK(http::parse_status(m1->start_line) == 200);
    CHECK(m1->body == "hello");
    CHECK(m1->keep_alive());
    const auto m2 = r.read_message(Pair::soon());
    REQUIRE(m2.has_value());
    CHECK(http::parse_status(m2->start_line) == 500);
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
    http::Reader r(p.b.get());
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
        http::Reader r(p.b.get());
        try {
            (void)r.read_message(http::Clock::now() + 200ms);
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
    CHECK_THROWS_AS(http::parse_status("SSH-2.0-OpenSSH"), HttpError);
}

namespace {

using http::kMaxBody;
using http::message_cap;

/// How a flood of one message ended: the reader's error, what it held when it gave up, and
/// what the writer got into the socket before the reader closed its end.
struct Flood {
    HttpError::Kind kind = HttpError::Kind::protocol;
    std::string what;
    std::size_t buffered = 0;
    std::size_t written = 0;
    std::size_t in_flight = 0; ///< what the sockets can hold on the way: SO_SNDBUF + SO_RCVBUF
};

std::size_t buffer_size(int fd, int option) {
    int size = 0;
    socklen_t len = sizeof size;
    REQUIRE(::getsockopt(fd, SOL_SOCKET, option, &size, &len) == 0);
    return static_cast<std::size_t>(size);
}

/// Sends `head`, then piece(0), piece(1), ... as fast as the socket takes them, while a Reader
/// reads one message (max_body kMaxBody, 10 s deadline), then closes its end as the client does
/// on any error. The writer stops when its send fails: it has no limit of its own, so what it
/// wrote is what the reader let in plus what the sockets buffer.
Flood flood(const std::string& head, const std::function<std::string(std::size_t)>& piece) {
    Pair p;
    Flood f;
    f.in_flight = buffer_size(p.a.get(), SO_SNDBUF) + buffer_size(p.b.get(), SO_RCVBUF);
    std::size_t written = 0;
    std::thread writer([&] {
        std::string batch = head;
        for (std::size_t i = 0;; batch.clear()) {
            while (batch.size() < 64 * 1024) {
                batch += piece(i++);
            }
            for (std::string_view rest = batch; !rest.empty();) {
                const ssize_t n = ::send(p.a.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
                if (n <= 0) {
                    return; // the reader closed
                }
                written += static_cast<std::size_t>(n);
                rest.remove_prefix(static_cast<std::size_t>(n));
            }
        }
    });
    http::Reader r(p.b.get());
    try {
        (void)r.read_message(http::Clock::now() + 10s);
        FAIL_CHECK("the reader took an endless message");
    } catch (const HttpError& e) {
        f.kind = e.kind();
        f.what = e.what();
    }
    f.buffered = r.buffered();
    p.b.reset();
    writer.join();
    f.written = written;
    return f;
}

} // namespace

TEST_CASE("http wire: a peer that never ends its message gets too_large within the cap, not a timeout",
          "[volumes][drivers][attack]") {
    // An attacker (a plugin) tries to make the hook hold memory without end, or at least until
    // the deadline: trailer lines after the last chunk, 1-byte chunks each with a 4 KiB
    // extension, header lines, or a body framed by close. Each is refused with too_large as soon
    // as the message passes message_cap(kMaxBody): the writer, which has no limit of its own,
    // never got more than the cap plus what the sockets buffer into the connection.
    const std::size_t cap = message_cap(kMaxBody);
    CHECK(cap == 1024 * 1024 + 64 * 1024);
    const std::string ok = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n";
    const std::string chunked = ok + "Transfer-Encoding: chunked\r\n\r\n";
    const std::string kb(1000, 'x');
    struct Attack {
        std::string label;
        std::string head;
        std::function<std::string(std::size_t)> piece;
        std::string error;
    };
    const std::vector<Attack> attacks = {
        {"trailers without end", chunked + "2\r\n{}\r\n0\r\n",
         [&](std::size_t i) { return fmt::format("X-Trailer-{}: {}\r\n", i, kb); }, "answer over 1114112 bytes"},
        {"1-byte chunks with 4 KiB extensions", chunked,
         [](std::size_t) { return "1;x=" + std::string(4096, 'e') + "\r\n \r\n"; }, "answer over 1114112 bytes"},
        {"header lines without end", ok, [&](std::size_t i) { return fmt::format("X-Header-{}: {}\r\n", i, kb); },
         "more than 100 header lines"},
        {"a body framed by close without end", ok + "\r\n", [&](std::size_t) { return kb; }, "body over 1048576 bytes"},
        {"64 KiB chunks without end", chunked,
         [](std::size_t) { return "10000\r\n" + std::string(0x10000, 'b') + "\r\n"; }, "body over 1048576 bytes"},
    };
    for (const auto& a : attacks) {
        INFO(a.label);
        const Flood f = flood(a.head, a.piece);
        CHECK(f.kind == HttpError::Kind::too_large);
        CHECK_THAT(f.what, Catch::Contains(a.error));
        CHECK(f.buffered <= cap + 1);
        CHECK(f.written < cap + f.in_flight);
    }
}

TEST_CASE("http wire: a message of exactly the cap is read, one byte more is too_large; the next one stays buffered",
          "[volumes][drivers][attack]") {
    constexpr std::size_t max_body = 16;
    const std::size_t cap = message_cap(max_body);
    // Trailer lines of 4000 to 8000 bytes fill the message up to `size` bytes in all.
    const auto message = [&](std::size_t size) {
        std::string m = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n";
        while (m.size() + 2 < size) {
            const std::size_t left = size - 2 - m.size();
            const std::size_t line = left < 8000 ? left : 4000;
            m += "X:" + std::string(line - 4, 't') + "\r\n";
        }
        return m + "\r\n";
    };
    REQUIRE(message(cap).size() == cap);
    REQUIRE(message(cap + 1).size() == cap + 1);
    const std::string next = "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}";

    Pair p;
    std::thread writer([&] { p.send(message(cap) + next + message(cap + 1)); });
    http::Reader r(p.b.get());
    const auto m1 = r.read_message(Pair::soon(), max_body);
    REQUIRE(m1.has_value());
    CHECK(m1->body == "{}");
    const auto m2 = r.read_message(Pair::soon(), max_body); // arrived with m1: not counted against it
    REQUIRE(m2.has_value());
    CHECK(http::parse_status(m2->start_line) == 404);
    CHECK_THROWS_WITH(r.read_message(Pair::soon(), max_body), "answer over 65552 bytes (headers, framing and body)");
    CHECK(r.buffered() <= cap + 1);
    writer.join();
}

TEST_CASE("http wire: the consumed part of the buffer is dropped as a long message is read", "[volumes][drivers]") {
    // A 1 MiB body in 4 KiB chunks, written as fast as the reader takes it: the buffer holds
    // about one chunk and one recv at a time, not the whole message.
    Pair p;
    std::thread writer([&] {
        std::string m = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (int i = 0; i < 256; ++i) {
            m += "1000\r\n" + std::string(4096, static_cast<char>('a' + i % 26)) + "\r\n";
        }
        p.send(m + "0\r\n\r\n");
    });
    http::Reader r(p.b.get());
    const auto m = r.read_message(Pair::soon());
    writer.join();
    REQUIRE(m.has_value());
    CHECK(m->body.size() == kMaxBody);
    CHECK(r.buffered() < 64 * 1024);
}

TEST_CASE("http wire: the peer's bytes quoted in an error are escaped", "[volumes][drivers][attack]") {
    // A plugin puts a newline, ESC sequences, BEL, DEL or invalid UTF-8 where the reader quotes
    // what it could not parse (a header line, a length, the status line), hoping to forge a log
    // line: the message the error carries has no control byte.
    const auto error_for = [](const std::string& input) {
        Pair p;
        p.send(input);
        p.a.reset();
        http::Reader r(p.b.get());
        try {
            const auto m = r.read_message(Pair::soon());
            REQUIRE(m.has_value());
            (void)http::parse_status(m->start_line);
        } catch (const HttpError& e) {
            return std::string(e.what());
        }
        FAIL("no error for " << input);
        return std::string();
    };
    const std::string evil = "\x1b[31mred\x1b[0m\x07\x7f\xff\rFORGED\x0b";
    for (const std::string& input :
         {"HTTP/1.1 200 OK\r\n" + evil + "\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 1" + evil + "\r\n\r\n",
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1" + evil + "\r\n",
          "HTTP/1.1 " + evil + "\r\nContent-Length: 0\r\n\r\n"}) {
        const std::string what = error_for(input);
        INFO(what);
        CHECK(std::none_of(what.begin(), what.end(), [](char c) {
            const auto u = static_cast<unsigned char>(c);
            return u < 0x20 || u == 0x7F;
        }));
        CHECK_THAT(what, Catch::Contains("\\x1b")); // escaped, not dropped
    }
}
