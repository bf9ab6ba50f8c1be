// What a container asks for: one volume request (SPEC S1).
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json_fwd.hpp>

namespace dvdi::volumes {

enum class Mode { rw, ro };

/// Driver options in the order the user gave them; passed to the driver unchanged.
using Options = std::vector<std::pair<std::string, std::string>>;

/// A volume is identified on the node by (driver, name).
struct VolumeKey {
    std::string driver;
    std::string name;
    auto operator<=>(const VolumeKey&) const = default;
};

/// One validated volume request of one container.
struct Request {
    std::string driver;
    std::string name;
    Options options;
    /// Where the container wants it. Absent (env form without CONTAINERPATH): the driver's
    /// mountpoint path, at the same place inside the container.
    std::optional<std::string> container_path;
    Mode mode = Mode::rw;
    /// Never create a missing volume (DVDI_VOLUME_EXPLICITCREATE=true).
    bool explicit_create = false;
    /// The request named no driver: `driver` is the config's default_driver (messages say so).
    bool driver_defaulted = false;
    /// Where the request came from, for messages: "DVDI_VOLUME_NAME3", "container_info.volumes[1]".
    std::string origin;
    /// The fields its options and its container path came from, for messages naming them
    /// ("DVDI_VOLUME_OPTS3", "...volumes[1].container_path"); empty: `origin` stands for both.
    std::string options_field;
    std::string path_field;

    [[nodiscard]] const std::string& options_origin() const { return options_field.empty() ? origin : options_field; }
    [[nodiscard]] const std::string& path_origin() const { return path_field.empty() ? origin : path_field; }

    [[nodiscard]] VolumeKey key() const { return {driver, name}; }
};

/// JSON form (state file, debugging): {"driver", "name", "options": [{"key", "value"}...] in
/// order, "container_path" (only when set), "mode": "rw"|"ro", "explicit_create", "origin"}.
void to_json(nlohmann::json& j, const Request& r);
/// The inverse of to_json; "options", "container_path", "mode", "explicit_create" and "origin"
/// may be absent (defaults), unknown keys are ignored. The values are checked with the same
/// rules as the readers (check_request) and the container path must already be normalised.
/// Throws core::InputError naming `request.<key>`; `r` is unchanged on error.
void from_json(const nlohmann::json& j, Request& r);

} // namespace dvdi::volumes

/// A volume in messages: `driver/name` ("rexray/v1"), as is (callers quote untrusted names where
/// they must); a width or alignment applies to the whole.
template <> struct fmt::formatter<dvdi::volumes::VolumeKey> : fmt::formatter<std::string_view> {
    template <typename FormatContext> auto format(const dvdi::volumes::VolumeKey& key, FormatContext& ctx) const {
        return fmt::formatter<std::string_view>::format(fmt::format("{}/{}", key.driver, key.name), ctx);
    }
};
