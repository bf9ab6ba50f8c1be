#include "lib/volumes/drivers/plugin.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "lib/core/log.hpp"

namespace dvdi::volumes {

namespace {

using std::chrono::milliseconds;

constexpr std::string_view kMediaType = "application/vnd.docker.plugins.v1.2+json";

std::string seconds(milliseconds d) {
    return fmt::format("{:g} s", static_cast<double>(d.count()) / 1000.0);
}

/// The plugin's own text (its Err, a raw body) for an error message: quoted (control characters
/// and invalid UTF-8 escaped, at most 512 bytes shown), without the trailing newline most
/// plugins send. A plugin's Err and raw bodies reach messages only through here (the
/// transport's errors show the bytes they quote with fmt's escaping {:?}).
std::string shown(std::string_view text) {
    const auto end = text.find_last_not_of(" \t\r\n");
    return core::quote(text.substr(0, end == std::string_view::npos ? 0 : end + 1), 512);
}

std::string body_of(const nlohmann::json& request) {
    return request.is_null() ? std::string{} : request.dump() + "\n";
}

/// The plugin's `Err`, whatever the case of the key (Go decodes keys case-insensitively),
/// shown() for a message; empty when there is none.
std::string err_field(const nlohmann::json& j) {
    if (!j.is_object()) {
        return {};
    }
    for (const auto& [k, v] : j.items()) {
        if ((k == "Err" || k == "err" || k == "ERR") && v.is_string() && !v.get_ref<const std::string&>().empty()) {
            return shown(v.get_ref<const std::string&>());
        }
    }
    return {};
}

const nlohmann::json* field(const nlohmann::json& j, std::string_view key) {
    if (!j.is_object()) {
        return nullptr;
    }
    const auto it = j.find(std::string(key));
    return it == j.end() || it->is_null() ? nullptr : &*it;
}

std::string string_field(const nlohmann::json& j, std::string_view key) {
    const auto* v = field(j, key);
    return v != nullptr && v->is_string() ? v->get<std::string>() : std::string{};
}

} // namespace

HttpTransport::HttpTransport(http::Endpoint endpoint, milliseconds connect_timeout)
    : client_(std::move(endpoint), connect_timeout), headers_{{"Host", "plugin.moby.localhost"},
                                                              {"Accept", std::string(kMediaType)},
                                                              {"Content-Type", std::string(kMediaType)},
                                                              {"User-Agent", "dvdi-hook"}} {}

http::Response HttpTransport::post(const std::string& method, const std::string& body, http::Deadline deadline) {
    return client_.post("/" + method, body, headers_, deadline);
}

void Timer::sleep(milliseconds d) {
    std::this_thread::sleep_for(d);
}

Backoff::Backoff(Timer& timer, milliseconds budget) : timer_(timer), budget_(budget), start_(timer.now()) {}

milliseconds Backoff::elapsed() const {
    return std::chrono::duration_cast<milliseconds>(timer_.now() - start_);
}

bool Backoff::retry(std::string_view why) {
    if (elapsed() + wait_ >= budget_) {
        return false;
    }
    core::log::debug("{}; retrying in {}", why, seconds(wait_));
    timer_.sleep(wait_);
    wait_ *= 2;
    ++attempts_;
    return true;
}

PluginDriver::PluginDriver(std::string name, std::unique_ptr<Transport> transport, core::Timeouts timeouts,
                           std::shared_ptr<Timer> timer)
    : name_(std::move(name)), transport_(std::move(transport)), timeouts_(timeouts),
      timer_(timer ? std::move(timer) : std::make_shared<Timer>()) {}

DriverError PluginDriver::error(std::string_view method, const std::string& volume, std::string_view what) const {
    if (volume.empty()) {
        return DriverError(fmt::format("plugin {}: {}: {}", name_, method, what));
    }
    return DriverError(fmt::format("plugin {}: {} {}: {}", name_, method, core::quote(volume), what));
}

PluginDriver::Reply PluginDriver::post(std::string_view method, const std::string& volume, const std::string& body,
                                       milliseconds timeout) {
    // Connection-level failures (no socket yet, refused, reset before an answer) are retried
    // as dockerd retries them (Backoff). A timeout or a bad answer is not retried: the plugin
    // may have acted on the call.
    Backoff backoff(*timer_, timeouts_.retry_budget);
    for (;;) {
        try {
            auto r = transport_->post(std::string(method), body, http::Clock::now() + timeout);
            return Reply{r.status, std::move(r.message.body)};
        } catch (const http::HttpError& e) {
            // Unreachable (DriverUnreachable): the call may or may not have taken effect, which
            // recovery must tell from the plugin's own "no" (DriverError).
            if (e.kind() == http::HttpError::Kind::timeout) {
                throw DriverUnreachable(error(method, volume, fmt::format("no answer within {}", seconds(timeout))));
            }
            // An answer that could not be read whole (too large, broken framing) is no answer:
            // the plugin may have acted on the call (a Mount it counted), so recovery must undo
            // it as it undoes a call that timed out, never take it as the plugin's "no".
            if (!e.connection_level()) {
                throw DriverUnreachable(error(method, volume, e.what()));
            }
            if (!backoff.retry(fmt::format("plugin {}: {}: {}", name_, method, e.what()))) {
                const auto tail = backoff.attempts() > 1 ? fmt::format(" (gave up after {} attempts in {})",
                                                                       backoff.attempts(), seconds(backoff.elapsed()))
                                                         : "";
                throw DriverUnreachable(error(method, volume, e.what() + tail));
            }
        }
    }
}

std::optional<nlohmann::json> PluginDriver::decode(const Reply& reply, std::string& err) const {
    nlohmann::json j = nlohmann::json::parse(reply.body, nullptr, false);
    if (reply.status != 200) {
        // The plugin's own Err is the message; without one, the status and the raw body.
        err = err_field(j);
        if (err.empty()) {
            err = fmt::format("HTTP {}: {}", reply.status, reply.body.empty() ? "empty answer" : shown(reply.body));
        }
        return std::nullopt;
    }
    if (reply.body.find_first_not_of(" \t\r\n") == std::string::npos) {
        err = "empty answer (HTTP 200 without a body)";
        return std::nullopt;
    }
    if (j.is_discarded()) {
        err = "unparsable answer " + shown(reply.body);
        return std::nullopt;
    }
    if (err = err_field(j); !err.empty()) {
        return std::nullopt;
    }
    return j;
}

void PluginDriver::activate() {
    const auto reply = post("Plugin.Activate", {}, {}, timeouts_.other);
    std::string err;
    const auto j = decode(reply, err);
    if (!j) {
        throw error("Plugin.Activate", {}, err);
    }
    const auto* implements = field(*j, "Implements");
    if (implements == nullptr || !implements->is_array() ||
        std::find(implements->begin(), implements->end(), "VolumeDriver") == implements->end()) {
        throw error("Plugin.Activate", {},
                    "does not implement VolumeDriver (Implements: " +
                        (implements != nullptr ? shown(implements->dump()) : "none") + ")");
    }
    activated_ = true;
}

nlohmann::json PluginDriver::call(std::string_view method, const std::string& volume, const nlohmann::json& request,
                                  milliseconds timeout) {
    if (!activated_) {
        activate();
    }
    const auto reply = post(method, volume, body_of(request), timeout);
    std::string err;
    auto j = decode(reply, err);
    if (!j) {
        // A 200 whose body says nothing (empty, not JSON): the plugin says it acted, but not
        // how; as for no answer, the call may have taken effect.
        if (reply.status == 200 && err_field(nlohmann::json::parse(reply.body, nullptr, false)).empty()) {
            throw DriverUnreachable(error(method, volume, err));
        }
        throw error(method, volume, err);
    }
    return std::move(*j);
}

void PluginDriver::ensure_exists(const std::string& volume, const Options& options, bool explicit_create) {
    if (!activated_) {
        activate();
    }
    const auto reply = post("VolumeDriver.Get", volume, body_of({{"Name", volume}}), timeouts_.other);
    std::string err;
    const auto j = decode(reply, err);
    if (j && field(*j, "Volume") != nullptr) {
        return;
    }
    // Absent: a 200 without a Volume, or an error answer (go-plugins-helpers plugins answer a
    // missing volume with 500 and Err). A 404 means the plugin has no Get: create regardless.
    // Only a 200 that is not JSON is nonsense worth stopping for.
    if (reply.status == 200 && !j && err_field(nlohmann::json::parse(reply.body, nullptr, false)).empty()) {
        throw error("VolumeDriver.Get", volume, err);
    }
    if (explicit_create) {
        if (reply.status == 404) {
            return; // cannot tell; Mount will say whether it exists
        }
        throw error("VolumeDriver.Get", volume,
                    fmt::format("no such volume and explicit create is on ({})", err.empty() ? "no Volume" : err));
    }
    create(volume, options);
}

std::string PluginDriver::mount(const std::string& volume, const std::string& id) {
    // The Mountpoint as the plugin sent it: the node is the one place that checks it (and sends
    // the Unmount with the same ID when it refuses it).
    return string_field(call("VolumeDriver.Mount", volume, {{"Name", volume}, {"ID", id}}, timeouts_.mount),
                        "Mountpoint");
}

void PluginDriver::unmount(const std::string& volume, const std::string& id) {
    call("VolumeDriver.Unmount", volume, {{"Name", volume}, {"ID", id}}, timeouts_.other);
}

std::string PluginDriver::path(const std::string& volume) {
    return string_field(call("VolumeDriver.Path", volume, {{"Name", volume}}, timeouts_.other), "Mountpoint");
}

namespace {

// One volume of a Get or List answer. The plugin is the storage operator's: CreatedAt is kept
// only when it is short and printable, Status only when it is an object (the answer's size is
// already bounded by the transport).
VolumeInfo volume_info(const nlohmann::json& v) {
    VolumeInfo info{.name = string_field(v, "Name"), .mountpoint = string_field(v, "Mountpoint")};
    if (auto created = string_field(v, "CreatedAt"); created.size() <= 64 && core::printable(created) == created) {
        info.created_at = std::move(created);
    }
    if (const auto* status = field(v, "Status"); status != nullptr && status->is_object()) {
        info.status = *status;
    }
    return info;
}

} // namespace

void PluginDriver::create(const std::string& volume, const Options& options) {
    nlohmann::json opts = nullptr;
    for (const auto& [k, v] : options) {
        opts[k] = v;
    }
    call("VolumeDriver.Create", volume, {{"Name", volume}, {"Opts", opts}}, timeouts_.create);
}

std::optional<VolumeInfo> PluginDriver::get(const std::string& volume) {
    if (!activated_) {
        activate();
    }
    const auto reply = post("VolumeDriver.Get", volume, body_of({{"Name", volume}}), timeouts_.other);
    if (reply.status == 404) { // no Get (protocol before 1.12): its List says
        for (auto& v : list()) {
            if (v.name == volume) {
                return std::move(v);
            }
        }
        return std::nullopt;
    }
    std::string err;
    const auto j = decode(reply, err);
    if (j) {
        const auto* v = field(*j, "Volume");
        if (v == nullptr) {
            return std::nullopt;
        }
        auto info = volume_info(*v);
        info.name = volume; // what was asked for, whatever the plugin spelled
        return info;
    }
    // An error answer is "no such volume", as in ensure_exists (go-plugins-helpers plugins answer
    // a missing volume with 500 and Err); a 200 that is not JSON says nothing.
    if (reply.status == 200 && err_field(nlohmann::json::parse(reply.body, nullptr, false)).empty()) {
        throw DriverUnreachable(error("VolumeDriver.Get", volume, err));
    }
    core::log::debug("plugin {}: VolumeDriver.Get {}: {} (taken as no such volume)", name_, core::quote(volume), err);
    return std::nullopt;
}

std::vector<VolumeInfo> PluginDriver::list() {
    const auto j = call("VolumeDriver.List", {}, nlohmann::json::object(), timeouts_.other);
    std::vector<VolumeInfo> out;
    if (const auto* vols = field(j, "Volumes"); vols != nullptr && vols->is_array()) {
        for (const auto& v : *vols) {
            out.push_back(volume_info(v));
        }
    }
    return out;
}

Capabilities PluginDriver::capabilities() {
    if (!activated_) {
        activate();
    }
    const auto reply = post("VolumeDriver.Capabilities", {}, "{}\n", timeouts_.other);
    if (reply.status == 404) {
        return Capabilities{}; // not implemented: scope local (SPEC S2.1)
    }
    std::string err;
    const auto j = decode(reply, err);
    if (!j) {
        throw error("VolumeDriver.Capabilities", {}, err);
    }
    std::string scope = string_field(field(*j, "Capabilities") ? *field(*j, "Capabilities") : *j, "Scope");
    std::transform(scope.begin(), scope.end(), scope.begin(), [](unsigned char c) { return std::tolower(c); });
    return Capabilities{.scope = scope == "global" ? "global" : "local"};
}

void PluginDriver::remove(const std::string& volume) {
    call("VolumeDriver.Remove", volume, {{"Name", volume}}, timeouts_.other);
}

} // namespace dvdi::volumes
