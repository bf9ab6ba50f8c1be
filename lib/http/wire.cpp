#include "lib/http/wire.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace dvdi::http {

namespace {

constexpr std::size_t kMaxLine = 8 * 1024;
constexpr std::size_t kMaxHeaders = 100;

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](unsigned char x, unsigned char y) { return std::tolower(x) == std::tolower(y); });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

bool contains_token(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        const auto comma = value.find(',');
        if (iequals(trim(value.substr(0, comma)), token)) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        value.remove_prefix(comma + 1);
    }
    return false;
}

std::size_t parse_size(std::string_view text, int base, std::string_view what) {
    text = trim(text);
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n, base);
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) {
        throw HttpError(HttpError::Kind::protocol, fmt::format("bad {} {:?}", what, std::string(text)));
    }
    return n;
}

HttpError over_cap(bool response, std::size_t cap) {
    return HttpError(HttpError::Kind::too_large,
                     fmt::format("{} over {} bytes (headers, framing and body)", response ? "answer" : "request", cap));
}

} // namespace

int poll_timeout(Deadline deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 1'000'000'000));
}

std::optional<std::string> Message::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) {
            return v;
        }
    }
    return std::nullopt;
}

bool Message::keep_alive() const {
    const auto conn = header("Connection");
    const bool http10 = start_line.find("HTTP/1.0") != std::string::npos;
    if (conn && contains_token(*conn, "close")) {
        return false;
    }
    return !http10 || (conn && contains_token(*conn, "keep-alive"));
}

// Called only when the current message needs more bytes than are buffered, so every byte in
// buf_ is part of it: once it has cap_ of them, it is over the cap, whatever comes next. recv
// never asks for more than one byte past the cap, so a peer that streams headers, trailers or
// chunk extensions without end costs at most cap_ + 1 bytes of memory.
bool Reader::fill(Deadline deadline) {
    const std::size_t received = dropped_ + buf_.size();
    if (received >= cap_) {
        throw over_cap(response_, cap_);
    }
    compact();
    char chunk[16 * 1024];
    const std::size_t want = std::min(sizeof chunk, cap_ + 1 - received);
    for (;;) {
        const ssize_t n = ::recv(fd_, chunk, want, MSG_DONTWAIT);
        if (n > 0) {
            buf_.append(chunk, static_cast<std::size_t>(n));
            return true;
        }
        if (n == 0) {
            return false;
        }
        if (errno == ECONNRESET || errno == EPIPE) {
            return false;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            throw HttpError(started_ ? HttpError::Kind::protocol : HttpError::Kind::reset,
                            fmt::format("recv: {}", std::strerror(errno)));
        }
        pollfd pfd{fd_, POLLIN, 0};
        const int timeout = poll_timeout(deadline);
        if (timeout == 0 || ::poll(&pfd, 1, timeout) == 0) {
            throw HttpError(HttpError::Kind::timeout, "no complete answer before the deadline");
        }
    }
}

// Drops the consumed prefix once it is at least half the buffer: each byte is moved at most
// once on average, and the buffer never holds much more than the unread part of the message.
void Reader::compact() noexcept {
    if (pos_ > 0 && 2 * pos_ >= buf_.size()) {
        dropped_ += pos_;
        buf_.erase(0, pos_);
        pos_ = 0;
    }
}

std::string Reader::read_line(Deadline deadline, std::size_t max) {
    for (;;) {
        const auto eol = buf_.find('\n', pos_);
        if (eol != std::string::npos) {
            std::string line = buf_.substr(pos_, eol - pos_);
            pos_ = eol + 1;
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            return line;
        }
        if (buf_.size() - pos_ > max) {
            throw HttpError(HttpError::Kind::too_large, "header line too long");
        }
        if (!fill(deadline)) {
            throw HttpError(started_ ? HttpError::Kind::protocol : HttpError::Kind::reset,
                            started_ ? "connection closed in the middle of a message" : "connection closed");
        }
        started_ = true;
    }
}

std::string Reader::read_exact(std::size_t n, Deadline deadline) {
    while (buf_.size() - pos_ < n) {
        if (!fill(deadline)) {
            throw HttpError(HttpError::Kind::protocol, "connection closed in the middle of a body");
        }
    }
    std::string out = buf_.substr(pos_, n);
    pos_ += n;
    return out;
}

std::string Reader::read_chunked(Deadline deadline, std::size_t max_body) {
    std::string body;
    for (;;) {
        std::string size_line = read_line(deadline, kMaxLine);
        const auto semi = size_line.find(';'); // chunk extensions are ignored
        const std::size_t size = parse_size(std::string_view(size_line).substr(0, semi), 16, "chunk size");
        if (size > max_body || body.size() + size > max_body) {
            throw HttpError(HttpError::Kind::too_large, fmt::format("body over {} bytes", max_body));
        }
        if (size == 0) {
            while (!read_line(deadline, kMaxLine).empty()) { // trailers are ignored
            }
            return body;
        }
        body += read_exact(size, deadline);
        if (!read_line(deadline, kMaxLine).empty()) {
            throw HttpError(HttpError::Kind::protocol, "chunk not followed by CRLF");
        }
    }
}

// A response without framing ends when the server closes the connection.
std::string Reader::read_until_close(Deadline deadline, std::size_t max_body) {
    while (fill(deadline)) {
        if (buf_.size() - pos_ > max_body) {
            throw HttpError(HttpError::Kind::too_large, fmt::format("body over {} bytes", max_body));
        }
    }
    std::string body = buf_.substr(pos_);
    pos_ = buf_.size();
    return body;
}

std::optional<Message> Reader::read_message(Deadline deadline, std::size_t max_body) {
    // What is left of earlier messages goes: from here on the buffer starts with this one.
    buf_.erase(0, pos_);
    pos_ = 0;
    dropped_ = 0;
    cap_ = message_cap(max_body);
    response_ = false;
    started_ = !buffer_empty();
    Message m;
    try {
        m.start_line = read_line(deadline, kMaxLine);
    } catch (const HttpError& e) {
        if (e.kind() == HttpError::Kind::reset) {
            return std::nullopt;
        }
        throw;
    }
    started_ = true;
    response_ = m.start_line.starts_with("HTTP/");
    for (std::string line; !(line = read_line(deadline, kMaxLine)).empty();) {
        const auto colon = line.find(':');
        if (colon == std::string::npos || colon == 0) {
            throw HttpError(HttpError::Kind::protocol, fmt::format("bad header line {:?}", line));
        }
        if (m.headers.size() >= kMaxHeaders) {
            throw HttpError(HttpError::Kind::too_large, fmt::format("more than {} header lines", kMaxHeaders));
        }
        m.headers.emplace_back(line.substr(0, colon), std::string(trim(std::string_view(line).substr(colon + 1))));
    }
    const auto te = m.header("Transfer-Encoding");
    if (te && contains_token(*te, "chunked")) {
        m.body = read_chunked(deadline, max_body);
    } else if (const auto cl = m.header("Content-Length")) {
        const std::size_t n = parse_size(*cl, 10, "Content-Length");
        if (n > max_body) {
            throw HttpError(HttpError::Kind::too_large, fmt::format("body of {} bytes, over {}", n, max_body));
        }
        m.body = read_exact(n, deadline);
    } else if (response_) {
        m.body = read_until_close(deadline, max_body);
        m.headers.emplace_back("Connection", "close");
    }
    // The last recv may have brought the end of a message that is still over the cap.
    if (dropped_ + pos_ > cap_) {
        throw over_cap(response_, cap_);
    }
    return m;
}

void write_all(int fd, std::string_view data, Deadline deadline) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd pfd{fd, POLLOUT, 0};
            const int timeout = poll_timeout(deadline);
            if (timeout == 0 || ::poll(&pfd, 1, timeout) == 0) {
                throw HttpError(HttpError::Kind::timeout, "could not send the request before the deadline");
            }
            continue;
        }
        throw HttpError(HttpError::Kind::reset, fmt::format("send: {}", std::strerror(n < 0 ? errno : EPIPE)));
    }
}

int parse_status(std::string_view line) {
    // "HTTP/1.1 200 OK": the version, a space, three digits.
    if (!line.starts_with("HTTP/1.") || line.size() < 12 || line[8] != ' ') {
        throw HttpError(HttpError::Kind::protocol,
                        fmt::format("not an HTTP/1.x status line: {:?}", line.substr(0, 80)));
    }
    return static_cast<int>(parse_size(line.substr(9, 3), 10, "status"));
}

} // namespace dvdi::http
