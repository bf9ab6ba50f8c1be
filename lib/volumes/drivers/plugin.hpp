// A Docker volume plugin (protocol v1) spoken to natively (SPEC S2.1). The transport and the
// clock are seams: the real ones talk HTTP and sleep; tests can pass fakes.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "lib/core/config.hpp"
#include "lib/http/client.hpp"
#include "lib/volumes/drivers/driver.hpp"

namespace dvdi::volumes {

/// Carries one plugin call. post() throws http::HttpError for failures below HTTP (its
/// connection_level() ones are retried by the driver); every HTTP status is a Response.
class Transport {
  public:
    virtual ~Transport() = default;
    /// POSTs `body` to `/<method>` (e.g. "/VolumeDriver.Mount") before `deadline`.
    virtual http::Response post(const std::string& method, const std::string& body, http::Deadline deadline) = 0;
};

/// The real transport: http::Client with the protocol's headers (Accept and Content-Type
/// `application/vnd.docker.plugins.v1.2+json`, Host `plugin.moby.localhost`).
class HttpTransport : public Transport {
  public:
    HttpTransport(http::Endpoint endpoint, std::chrono::milliseconds connect_timeout);
    http::Response post(const std::string& method, const std::string& body, http::Deadline deadline) override;
    [[nodiscard]] const http::Client& client() const noexcept { return client_; }

  private:
    http::Client client_;
    http::Headers headers_;
};

/// Time for the retry loops (discovery, plugin calls): now() and sleep(). Tests pass a fake that
/// only advances a counter.
class Timer {
  public:
    virtual ~Timer() = default;
    virtual http::Clock::time_point now() { return http::Clock::now(); }
    virtual void sleep(std::chrono::milliseconds d);
};

/// dockerd's retry schedule, the one of discovery and of plugin calls: after a failed attempt,
/// wait 1, 2, 4, 8 s ... while the next attempt still starts within `budget` of the first. Time
/// goes through `timer`, which must outlive the Backoff.
class Backoff {
  public:
    Backoff(Timer& timer, std::chrono::milliseconds budget);
    /// After a failed attempt: false when the next one would not start within the budget (give
    /// up); else logs `why` with the wait (debug), sleeps and returns true.
    [[nodiscard]] bool retry(std::string_view why);
    /// The attempts made so far (the first included) and the time since the first.
    [[nodiscard]] int attempts() const noexcept { return attempts_; }
    [[nodiscard]] std::chrono::milliseconds elapsed() const;

  private:
    Timer& timer_;
    std::chrono::milliseconds budget_;
    http::Clock::time_point start_;
    std::chrono::milliseconds wait_{1000};
    int attempts_ = 1;
};

class PluginDriver : public Driver {
  public:
    /// `timer` may be null (real time). Activation (Plugin.Activate must list VolumeDriver)
    /// happens on the first call.
    PluginDriver(std::string name, std::unique_ptr<Transport> transport, core::Timeouts timeouts,
                 std::shared_ptr<Timer> timer = nullptr);

    [[nodiscard]] const std::string& name() const override { return name_; }
    void ensure_exists(const std::string& volume, const Options& options, bool explicit_create) override;
    std::string mount(const std::string& volume, const std::string& id) override;
    void unmount(const std::string& volume, const std::string& id) override;
    void create(const std::string& volume, const Options& options) override;
    /// Get; a plugin without Get (404) is looked up in its List.
    std::optional<VolumeInfo> get(const std::string& volume) override;
    std::string path(const std::string& volume) override;
    std::vector<VolumeInfo> list() override;
    Capabilities capabilities() override;
    void remove(const std::string& volume) override;

  private:
    struct Reply {
        int status = 0;
        std::string body;
    };
    void activate();
    /// Posts with the retry policy of S2.1; throws DriverError when it gives up.
    Reply post(std::string_view method, const std::string& volume, const std::string& body,
               std::chrono::milliseconds timeout);
    /// Activates if needed, posts, and decodes a success. Throws DriverError for any failure.
    nlohmann::json call(std::string_view method, const std::string& volume, const nlohmann::json& request,
                        std::chrono::milliseconds timeout);
    /// The JSON of a successful reply, or nullopt-like error text in `err`.
    [[nodiscard]] std::optional<nlohmann::json> decode(const Reply& reply, std::string& err) const;
    [[nodiscard]] DriverError error(std::string_view method, const std::string& volume, std::string_view what) const;

    std::string name_;
    std::unique_ptr<Transport> transport_;
    core::Timeouts timeouts_;
    std::shared_ptr<Timer> timer_;
    bool activated_ = false;
};

} // namespace dvdi::volumes
