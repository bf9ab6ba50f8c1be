#include "lib/http/client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "lib/core/error.hpp"

namespace dvdi::http {

namespace {

Endpoint parse_host_port(std::string_view hostport, std::string_view url, std::string_view origin) {
    const auto bad = [&](std::string_view why) {
        return core::Error(fmt::format("{}: plugin address {}: {}", origin, core::quote(url), why));
    };
    while (!hostport.empty() && hostport.back() == '/') {
        hostport.remove_suffix(1);
    }
    const auto colon = hostport.rfind(':');
    if (colon == std::string_view::npos) {
        throw bad("a TCP address needs HOST:PORT");
    }
    std::string host(hostport.substr(0, colon));
    const auto port_text = hostport.substr(colon + 1);
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
        throw bad("bad port");
    }
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (host == "localhost") {
        host = "127.0.0.1";
    }
    in6_addr a6{};
    in_addr a4{};
    if (::inet_pton(AF_INET, host.c_str(), &a4) != 1 && ::inet_pton(AF_INET6, host.c_str(), &a6) != 1) {
        throw bad("the host must be a numeric IP address or localhost (names are not resolved)");
    }
    return Endpoint{.kind = Endpoint::Kind::tcp, .host = host, .port = static_cast<std::uint16_t>(port)};
}

// Connects a non-blocking socket and waits for the result at most until `deadline`.
void finish_connect(int fd, const sockaddr* addr, socklen_t len, Deadline deadline, const std::string& what) {
    if (::connect(fd, addr, len) == 0) {
        return;
    }
    if (errno != EINPROGRESS && errno != EAGAIN) {
        throw HttpError(HttpError::Kind::connect, fmt::format("connect to {}: {}", what, core::errno_text(errno)));
    }
    pollfd pfd{fd, POLLOUT, 0};
    if (::poll(&pfd, 1, poll_timeout(deadline)) <= 0) {
        throw HttpError(HttpError::Kind::connect, fmt::format("connect to {}: timed out", what));
    }
    int err = 0;
    socklen_t err_len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
    if (err != 0) {
        throw HttpError(HttpError::Kind::connect, fmt::format("connect to {}: {}", what, core::errno_text(err)));
    }
}

} // namespace

std::string Endpoint::url() const {
    if (kind == Kind::unix_socket) {
        return "unix://" + path;
    }
    return host.find(':') != std::string::npos ? fmt::format("tcp://[{}]:{}", host, port)
                                               : fmt::format("tcp://{}:{}", host, port);
}

Endpoint parse_endpoint(std::string_view url, std::string_view origin) {
    const auto sep = url.find("://");
    const std::string_view scheme = sep == std::string_view::npos ? std::string_view{} : url.substr(0, sep);
    const std::string_view rest = sep == std::string_view::npos ? url : url.substr(sep + 3);
    if (scheme == "unix") {
        if (!rest.starts_with('/') || rest.find('\0') != std::string_view::npos) {
            throw core::Error(
                fmt::format("{}: plugin address {}: a unix socket path must be absolute", origin, core::quote(url)));
        }
        return Endpoint{.kind = Endpoint::Kind::unix_socket, .path = std::string(rest)};
    }
    if (scheme == "tcp" || scheme == "http") {
        return parse_host_port(rest, url, origin);
    }
    throw core::Error(fmt::format("{}: plugin address {}: unknown protocol (unix://, tcp:// or http:// expected)",
                                  origin, core::quote(url)));
}

Client::Client(Endpoint endpoint, std::chrono::milliseconds connect_timeout)
    : endpoint_(std::move(endpoint)), connect_timeout_(connect_timeout) {}

void Client::connect(Deadline deadline) {
    reader_.reset();
    fd_.reset();
    deadline = std::min(deadline, Clock::now() + connect_timeout_);
    const std::string what = endpoint_.url();
    if (endpoint_.kind == Endpoint::Kind::unix_socket) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (endpoint_.path.size() >= sizeof addr.sun_path) {
            throw HttpError(HttpError::Kind::connect, fmt::format("connect to {}: socket path too long", what));
        }
        std::memcpy(addr.sun_path, endpoint_.path.c_str(), endpoint_.path.size() + 1);
        fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (!fd_) {
            core::throw_errno("socket", "AF_UNIX");
        }
        finish_connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr, deadline, what);
    } else {
        sockaddr_in a4{};
        sockaddr_in6 a6{};
        const bool v4 = ::inet_pton(AF_INET, endpoint_.host.c_str(), &a4.sin_addr) == 1;
        if (!v4 && ::inet_pton(AF_INET6, endpoint_.host.c_str(), &a6.sin6_addr) != 1) {
            throw HttpError(HttpError::Kind::connect, fmt::format("connect to {}: not a numeric address", what));
        }
        a4.sin_family = AF_INET;
        a4.sin_port = htons(endpoint_.port);
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons(endpoint_.port);
        fd_.reset(::socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (!fd_) {
            core::throw_errno("socket", "AF_INET");
        }
        const int one = 1;
        ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        finish_connect(fd_.get(), v4 ? reinterpret_cast<const sockaddr*>(&a4) : reinterpret_cast<const sockaddr*>(&a6),
                       v4 ? sizeof a4 : sizeof a6, deadline, what);
    }
    reader_ = std::make_unique<Reader>(fd_.get());
    ++opened_;
}

Response Client::exchange(const std::string& request, Deadline deadline) {
    write_all(fd_.get(), request, deadline);
    auto message = reader_->read_message(deadline);
    if (!message) {
        throw HttpError(HttpError::Kind::reset,
                        fmt::format("{} closed the connection without an answer", endpoint_.url()));
    }
    Response r{.status = parse_status(message->start_line), .message = std::move(*message)};
    if (!r.message.keep_alive()) {
        reader_.reset();
        fd_.reset();
    }
    return r;
}

Response Client::post(const std::string& path, const std::string& body, const Headers& headers, Deadline deadline) {
    std::string request = fmt::format("POST {} HTTP/1.1\r\n", path);
    for (const auto& [k, v] : headers) {
        request += fmt::format("{}: {}\r\n", k, v);
    }
    request += fmt::format("Content-Length: {}\r\n\r\n", body.size());
    request += body;
    if (fd_) {
        // A kept-alive connection may have been closed by the server since the last call; a
        // reset before any byte of the answer means the request was not taken: reconnect once.
        try {
            return exchange(request, deadline);
        } catch (const HttpError& e) {
            if (e.kind() != HttpError::Kind::reset) {
                fd_.reset();
                reader_.reset();
                throw;
            }
        }
    }
    connect(deadline);
    try {
        return exchange(request, deadline);
    } catch (const HttpError&) {
        reader_.reset();
        fd_.reset();
        throw;
    }
}

} // namespace dvdi::http
