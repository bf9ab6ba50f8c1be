#include "lib/volumes/requests/oci.hpp"

#include <algorithm>
#include <climits>

#include <fmt/format.h>

#include "lib/core/error.hpp"
#include "lib/volumes/requests/env.hpp"
#include "lib/volumes/requests/json_input.hpp"
#include "lib/volumes/requests/validate.hpp"

namespace dvdi::volumes {

namespace {

using core::InputError;
using detail::json;

bool printable_id(std::string_view id) {
    return !id.empty() && is_valid_utf8(id) && std::all_of(id.begin(), id.end(), [](char c) {
        return static_cast<unsigned char>(c) >= 0x20 && c != 0x7F && c != '/';
    });
}

bool absolute_path(std::string_view p) {
    return p.starts_with('/') && p.find('\0') == std::string_view::npos && is_valid_utf8(p);
}

void check_annotations(const json& doc) {
    const json* a = detail::find(doc, "annotations");
    if (a == nullptr) {
        return;
    }
    detail::require_object(*a, "state.annotations");
    for (const auto& [key, value] : a->items()) {
        if (!value.is_string()) {
            const bool plain = std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
            throw input_error(detail::member_path("state.annotations", plain ? key : core::quote(key)),
                              detail::shown(value), "must be a string");
        }
    }
}

// A path from the config, made absolute against `base` and lexically normalised.
std::string absolute_against(std::string_view base, std::string_view p, const std::string& field) {
    if (p.empty() || p.find('\0') != std::string_view::npos || !is_valid_utf8(p)) {
        throw input_error(field, p, "must be a non-empty UTF-8 path");
    }
    const std::string joined = p.starts_with('/') ? std::string(p) : fmt::format("{}/{}", base, p);
    std::string out;
    std::vector<std::string_view> parts;
    for (std::size_t pos = 0; pos <= joined.size();) {
        const std::size_t end = std::min(joined.find('/', pos), joined.size());
        const std::string_view part = std::string_view(joined).substr(pos, end - pos);
        if (part == "..") {
            if (!parts.empty()) {
                parts.pop_back();
            }
        } else if (!part.empty() && part != ".") {
            parts.push_back(part);
        }
        pos = end + 1;
    }
    for (const auto part : parts) {
        out += '/';
        out += part;
    }
    return out.empty() ? "/" : out;
}

std::vector<std::string> read_env(const json& doc) {
    std::vector<std::string> env;
    const json* process = detail::find(doc, "process");
    const json* e = process ? detail::find(detail::require_object(*process, "config.process"), "env") : nullptr;
    if (e == nullptr) {
        return env;
    }
    detail::require_array(*e, "config.process.env");
    env.reserve(e->size());
    for (std::size_t i = 0; i < e->size(); ++i) {
        if (!(*e)[i].is_string()) {
            throw input_error(detail::index_path("config.process.env", i), detail::shown((*e)[i]), "must be a string");
        }
        env.push_back((*e)[i].get<std::string>());
    }
    return env;
}

std::vector<std::string> read_mounts(const json& doc) {
    std::vector<std::string> out;
    const json* mounts = detail::find(doc, "mounts");
    if (mounts == nullptr) {
        return out;
    }
    detail::require_array(*mounts, "config.mounts");
    for (std::size_t i = 0; i < mounts->size(); ++i) {
        const std::string item = detail::index_path("config.mounts", i);
        const json& m = detail::require_object((*mounts)[i], item);
        const std::string dest = detail::required_string(m, "destination", item);
        out.push_back(absolute_against("/", dest, detail::member_path(item, "destination")));
    }
    return out;
}

// A request at a path config.json already mounts something on: the volume and that mount
// would shadow each other, whichever comes last.
void check_mount_conflicts(const std::vector<Request>& requests, const std::vector<std::string>& destinations) {
    for (const Request& r : requests) {
        if (!r.container_path) {
            continue;
        }
        const auto it = std::find(destinations.begin(), destinations.end(), *r.container_path);
        if (it != destinations.end()) {
            const std::string suffix = r.origin.substr(std::string_view("DVDI_VOLUME_NAME").size());
            throw input_error(fmt::format("DVDI_VOLUME_CONTAINERPATH{}", suffix), *r.container_path,
                              fmt::format("config.json already mounts something there (config.mounts[{}])",
                                          it - destinations.begin()));
        }
    }
}

} // namespace

OciState parse_oci_state(std::string_view text) {
    const json doc = detail::parse_json(text, "OCI state");
    detail::require_object(doc, "OCI state");
    OciState s;
    (void)detail::required_string(doc, "ociVersion", "state");
    s.id = detail::required_string(doc, "id", "state");
    if (!printable_id(s.id)) {
        throw input_error("state.id", s.id, "a container id must be non-empty UTF-8 without '/' or control characters");
    }
    (void)detail::required_string(doc, "status", "state");
    s.bundle = detail::required_string(doc, "bundle", "state");
    if (!absolute_path(s.bundle)) {
        throw input_error("state.bundle", s.bundle, "must be an absolute path");
    }
    if (const auto pid = detail::optional_integer(doc, "pid", "state", 0, INT_MAX); pid && *pid > 0) {
        s.pid = pid;
    }
    check_annotations(doc);
    // crun sends its root as the config has it: often relative to the bundle ("rootfs").
    if (const auto root = detail::optional_string(doc, "root", "state")) {
        (void)absolute_against(s.bundle, *root, "state.root");
    }
    return s;
}

OciConfig parse_oci_config(std::string_view text, std::string_view bundle, std::string_view default_driver) {
    if (!absolute_path(bundle)) {
        throw input_error("bundle", bundle, "must be an absolute path");
    }
    const std::string origin = fmt::format("{}/config.json", bundle);
    const json doc = detail::parse_json(text, origin);
    detail::require_object(doc, origin);
    OciConfig c;
    if (const json* root = detail::find(doc, "root")) {
        detail::require_object(*root, "config.root");
        const std::string p = detail::required_string(*root, "path", "config.root");
        c.root_path = absolute_against(bundle, p, "config.root.path");
    }
    c.mount_destinations = read_mounts(doc);
    EnvRequests env = parse_env_requests(read_env(doc), default_driver);
    c.requests = std::move(env.requests);
    c.warnings = std::move(env.warnings);
    check_mount_conflicts(c.requests, c.mount_destinations);
    return c;
}

} // namespace dvdi::volumes
