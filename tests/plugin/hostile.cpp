#include "tests/plugin/hostile.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "lib/http/wire.hpp"

namespace dvdi::test::plugin {

namespace {

/// Writes to the peer until it closes or a limit is reached, counting what the socket took. A
/// failed write (the peer closed or reset, or it stopped reading until the deadline) ends the
/// sending quietly: that is the outcome these behaviours wait for.
class Sender {
  public:
    explicit Sender(int fd) : fd_(fd), deadline_(http::Clock::now() + std::chrono::seconds(kHostileSeconds)) {}

    /// False once nothing more is to be sent.
    bool send(const std::string& data) {
        if (!open_ || sent_ >= kHostileBytes || http::Clock::now() >= deadline_) {
            return false;
        }
        // Not write_all: what a failed write got out counts too.
        for (std::string_view rest = data; open_ && !rest.empty();) {
            const ssize_t n = ::send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                sent_ += static_cast<std::size_t>(n);
                rest.remove_prefix(static_cast<std::size_t>(n));
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                pollfd pfd{fd_, POLLOUT, 0};
                const int ready = ::poll(&pfd, 1, http::poll_timeout(deadline_));
                open_ = ready > 0 || (ready < 0 && errno == EINTR);
            } else {
                open_ = false;
            }
        }
        return open_ && sent_ < kHostileBytes;
    }

    [[nodiscard]] std::size_t sent() const noexcept { return sent_; }

  private:
    int fd_;
    http::Deadline deadline_;
    std::size_t sent_ = 0;
    bool open_ = true;
};

/// Repeats `piece` (made by `make(i)` for the i-th one) in batches of about 64 KiB, as fast as
/// the socket takes them.
template <typename Make> void repeat(Sender& out, Make make) {
    for (std::size_t i = 0;;) {
        std::string batch;
        while (batch.size() < 64 * 1024) {
            batch += make(i++);
        }
        if (!out.send(batch)) {
            return;
        }
    }
}

void drip(Sender& out, const std::string& answer, int ms) {
    for (const char c : answer) {
        if (!out.send(std::string(1, c))) {
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
}

} // namespace

bool is_hostile(const std::string& behaviour) {
    return behaviour.starts_with("drip:") || behaviour == "trailers" || behaviour == "chunkext" ||
           behaviour == "headers";
}

std::size_t send_hostile(int fd, const std::string& behaviour, const std::string& head, const std::string& body) {
    Sender out(fd);
    const std::string chunked_head = head + "Transfer-Encoding: chunked\r\n\r\n";
    if (behaviour.starts_with("drip:")) {
        drip(out, head + fmt::format("Content-Length: {}\r\n\r\n", body.size()) + body, std::stoi(behaviour.substr(5)));
    } else if (behaviour == "trailers") {
        // The whole body, the last chunk, then a trailer section that never ends.
        if (out.send(chunked_head + fmt::format("{:x}\r\n{}\r\n0\r\n", body.size(), body))) {
            repeat(out, [](std::size_t i) { return fmt::format("X-Trailer-{}: {}\r\n", i, std::string(1000, 't')); });
        }
    } else if (behaviour == "chunkext") {
        // 1-byte chunks, each with a 4 KiB extension: the body, then JSON whitespace forever.
        if (out.send(chunked_head)) {
            const std::string ext(4096, 'e');
            repeat(out, [&](std::size_t i) {
                return fmt::format("1;x={}\r\n{}\r\n", ext, i < body.size() ? body[i] : ' ');
            });
        }
    } else if (behaviour == "headers") {
        if (out.send(head)) {
            repeat(out, [](std::size_t i) { return fmt::format("X-Header-{}: {}\r\n", i, std::string(1000, 'h')); });
        }
    }
    return out.sent();
}

} // namespace dvdi::test::plugin
