// The OCI runtime's input to a hook: the state JSON on stdin and the bundle's config.json.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/volumes/requests/request.hpp"

namespace dvdi::volumes {

/// What a hook uses of the container state a runtime writes to its stdin (runtime-spec
/// state-schema.json).
struct OciState {
    std::string id;
    /// Host pid of the container's init; nullopt when absent or 0 (poststop; crun sends 0).
    std::optional<std::int64_t> pid;
    std::string bundle; ///< absolute
};

/// Reads the state JSON, all of it checked though only id, pid and bundle are kept: requires
/// ociVersion, id (non-empty, no '/' or control characters), status and bundle (absolute) as
/// strings; pid an integer >= 0; annotations an object of strings; root (crun's, when present)
/// a non-empty path. Unknown keys are ignored. Throws core::InputError naming `state.<key>`,
/// or `OCI state` when the text is not a JSON object: a runtime that sends a malformed state
/// fails the container.
[[nodiscard]] OciState parse_oci_state(std::string_view text);

/// What a hook needs from the bundle's config.json.
struct OciConfig {
    /// root.path made absolute against the bundle and normalised; nullopt when there is no root.
    std::optional<std::string> root_path;
    /// mounts[].destination, normalised (a relative one is taken from '/' as runc does).
    std::vector<std::string> mount_destinations;
    /// From process.env (DVDI_VOLUME_*, see parse_env_requests).
    std::vector<Request> requests;
    std::vector<std::string> warnings; ///< for the caller to log
};

/// Reads config.json `text` of the bundle at `bundle` (absolute; from the state).
/// `default_driver` is the driver of a request naming none. Throws core::InputError naming
/// `<bundle>/config.json` for invalid JSON (including truncated text and invalid UTF-8),
/// `config.<field>` for a mistyped field, the variable for a bad request, and the
/// CONTAINERPATH variable when a request's container path is also a mount destination in
/// `mounts` (the two would shadow each other).
[[nodiscard]] OciConfig parse_oci_config(std::string_view text, std::string_view bundle,
                                         std::string_view default_driver);

} // namespace dvdi::volumes
