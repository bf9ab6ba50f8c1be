// A small HTTP/1.1 client for Docker volume plugins: POST with Content-Length over a unix socket
// or TCP, one kept-alive connection reused across calls, a deadline per call.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "lib/core/fd.hpp"
#include "lib/http/wire.hpp"

namespace dvdi::http {

/// Where a plugin listens.
struct Endpoint {
    enum class Kind { unix_socket, tcp };
    Kind kind = Kind::unix_socket;
    std::string path; ///< unix: the socket path
    std::string host; ///< tcp: a numeric IPv4 or IPv6 address (localhost is resolved by hand)
    std::uint16_t port = 0;

    /// "unix:///run/docker/plugins/x.sock" or "tcp://127.0.0.1:8080".
    [[nodiscard]] std::string url() const;
};

/// Parses a plugin address as Docker does: `unix:///path`, or `tcp://HOST:PORT` / `http://HOST:PORT`.
/// HOST must be a numeric IPv4 address, a bracketed IPv6 address, or `localhost` (127.0.0.1):
/// the hook is linked statically, and getaddrinfo there needs the NSS modules of the glibc it
/// was built with, so names are not resolved. `https` (TLS) is not supported. Throws
/// core::Error naming `origin` (e.g. the spec file) and the URL.
[[nodiscard]] Endpoint parse_endpoint(std::string_view url, std::string_view origin);

struct Response {
    int status = 0;
    Message message;
};

/// One connection to one endpoint, opened on first use and kept alive between calls. Not
/// thread-safe.
class Client {
  public:
    Client(Endpoint endpoint, std::chrono::milliseconds connect_timeout);

    /// POSTs `body` to `path` with the given extra headers and reads the answer before
    /// `deadline` (connecting takes at most the connect timeout, within the deadline). A
    /// kept-alive connection the server has closed meanwhile is replaced once, transparently.
    /// Throws HttpError; any HTTP status is a Response.
    Response post(const std::string& path, const std::string& body, const Headers& headers, Deadline deadline);

    [[nodiscard]] const Endpoint& endpoint() const noexcept { return endpoint_; }
    /// Connections opened so far (tests check keep-alive with it).
    [[nodiscard]] int connections_opened() const noexcept { return opened_; }

  private:
    void connect(Deadline deadline);
    Response exchange(const std::string& request, Deadline deadline);

    Endpoint endpoint_;
    std::chrono::milliseconds connect_timeout_;
    core::UniqueFd fd_;
    std::unique_ptr<Reader> reader_;
    int opened_ = 0;
};

} // namespace dvdi::http
