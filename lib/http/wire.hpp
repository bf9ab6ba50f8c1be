// HTTP/1.1 on a connected stream socket: reading one message (request or response) with
// Content-Length or chunked bodies, writing bytes, all against a deadline. Shared by the plugin
// client (client.hpp) and the test plugin, so both ends speak the same parser.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/core/error.hpp"

namespace dvdi::http {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

/// Bodies larger than this are an error, never an allocation.
inline constexpr std::size_t kMaxBody = 1024 * 1024;

/// What one message may hold beside its body: start line, headers, chunk-size lines with their
/// extensions, and trailers. Everything read for one message, body included, counts against
/// message_cap(max_body) = max_body + kMaxFraming; the peer cannot make a Reader hold more.
inline constexpr std::size_t kMaxFraming = 64 * 1024;

/// The most bytes one message may take on the wire (kMaxBody + kMaxFraming by default: 1 MiB +
/// 64 KiB).
[[nodiscard]] constexpr std::size_t message_cap(std::size_t max_body) noexcept {
    return max_body + kMaxFraming;
}

/// An HTTP exchange failed below the level of HTTP statuses. kind() tells whether a retry can
/// help: connect and reset (nothing of an answer read yet) are connection-level failures.
class HttpError : public core::Error {
  public:
    enum class Kind {
        connect,   ///< no socket, refused, connect timeout: the request was never sent
        reset,     ///< closed or reset before any byte of the answer
        timeout,   ///< the deadline passed while waiting for (the rest of) the answer
        protocol,  ///< not HTTP/1.1, bad framing, or closed in the middle of a message
        too_large, ///< header or body over the limits
    };
    HttpError(Kind kind, const std::string& message) : core::Error(message), kind_(kind) {}
    [[nodiscard]] Kind kind() const noexcept { return kind_; }
    /// True for failures a retry may cure (connect, reset).
    [[nodiscard]] bool connection_level() const noexcept { return kind_ == Kind::connect || kind_ == Kind::reset; }

  private:
    Kind kind_;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

/// One parsed message. For a response start_line is "HTTP/1.1 200 OK"; for a request
/// "POST /Plugin.Activate HTTP/1.1".
struct Message {
    std::string start_line;
    Headers headers;
    std::string body;

    /// The first header called `name` (case-insensitive), if any.
    [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
    /// False when the peer asked to close (Connection: close, or HTTP/1.0 without keep-alive).
    [[nodiscard]] bool keep_alive() const;
};

/// Reads messages from a socket it does not own. Bytes beyond one message stay buffered for
/// the next read_message() (keep-alive). It never receives more than message_cap(max_body) + 1
/// bytes of one message, and holds no more than that in memory: a peer that sends more (a
/// body, endless headers, trailers or chunk extensions) gets too_large as soon as it has.
class Reader {
  public:
    explicit Reader(int fd) : fd_(fd) {}

    /// Reads one whole message: the body framed by Transfer-Encoding: chunked, else by
    /// Content-Length, else (responses only) by the end of the connection. Returns nullopt when
    /// the peer closes or resets before the message's first byte. Throws HttpError: timeout,
    /// protocol (bad syntax, closed mid-message), too_large (a line over 8 KiB, more than 100
    /// header lines, a body over `max_body` (a Content-Length or chunk size is checked before
    /// it is read), or a message over message_cap(max_body) in all, as soon as that many bytes
    /// of it have arrived). 1xx/204/304 and HEAD are not handled: the plugin protocol has none.
    std::optional<Message> read_message(Deadline deadline, std::size_t max_body = kMaxBody);

    /// True when no byte of a next message has been received yet.
    [[nodiscard]] bool buffer_empty() const noexcept { return pos_ >= buf_.size(); }

    /// Bytes held in the buffer now (consumed or not): at most message_cap(max_body) + 1.
    [[nodiscard]] std::size_t buffered() const noexcept { return buf_.size(); }

  private:
    bool fill(Deadline deadline);
    void compact() noexcept;
    std::string read_line(Deadline deadline, std::size_t max);
    std::string read_exact(std::size_t n, Deadline deadline);
    std::string read_chunked(Deadline deadline, std::size_t max_body);
    std::string read_until_close(Deadline deadline, std::size_t max_body);

    int fd_;
    std::string buf_;
    std::size_t pos_ = 0;     ///< the first byte of buf_ not consumed yet
    std::size_t dropped_ = 0; ///< bytes of the current message compacted out of buf_
    std::size_t cap_ = 0;     ///< message_cap() of the current message
    bool response_ = false;   ///< the current message is a response (for the error text)
    bool started_ = false;    ///< a byte of the current message has been read
};

/// Writes all of `data` before `deadline`. Throws HttpError(reset) when the peer is gone and
/// HttpError(timeout) when the deadline passes.
void write_all(int fd, std::string_view data, Deadline deadline);

/// "HTTP/1.1 404 Not Found" -> 404. Throws HttpError(protocol) for anything else.
[[nodiscard]] int parse_status(std::string_view start_line);

/// Milliseconds from now to `deadline`, at least 0, for poll().
[[nodiscard]] int poll_timeout(Deadline deadline);

} // namespace dvdi::http
