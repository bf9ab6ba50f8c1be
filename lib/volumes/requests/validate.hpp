// The validation rules of SPEC S1.3, shared by every reader. Each check throws core::InputError
// naming `field` (the variable or JSON field), the offending value and the rule; none calls a
// driver or touches the file system.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lib/core/error.hpp"
#include "lib/volumes/requests/request.hpp"

namespace dvdi::volumes {

/// Bounds on what one container may ask for: its requests are stored in the node state, which
/// every hook of the node reads.
inline constexpr std::size_t kMaxVolumes = 64;         ///< volumes per container
inline constexpr std::size_t kMaxOptions = 64;         ///< options per volume
inline constexpr std::size_t kMaxOptionKey = 256;      ///< bytes
inline constexpr std::size_t kMaxOptionValue = 4096;   ///< bytes
inline constexpr std::size_t kMaxContainerPath = 4096; ///< bytes (PATH_MAX)

/// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points past
/// U+10FFFF). Every string of a request must be: it is written to JSON (state, plugin calls).
[[nodiscard]] bool is_valid_utf8(std::string_view text) noexcept;

/// core::InputError(field, value, rule); the message quotes `value` with core::quote(), which
/// escapes every byte that is not part of well-formed UTF-8, so every message is valid UTF-8.
/// Every error of lib/volumes is made here.
[[nodiscard]] core::InputError input_error(std::string field, std::string_view value, std::string rule);

/// A volume name: 1-255 bytes of UTF-8, no '/', not "." or "..", no control characters.
void check_volume_name(std::string_view name, const std::string& field);

/// The one driver-name rule, ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$: a driver name becomes a file
/// name in plugin discovery. The readers, discovery and open_driver all apply this one.
[[nodiscard]] bool is_valid_driver_name(std::string_view driver) noexcept;

/// Throws InputError naming `field` unless is_valid_driver_name(driver).
void check_driver_name(std::string_view driver, const std::string& field);

/// One driver option. Keys: 1-256 bytes, no '=', ',' or control characters. Values: at most
/// 4096 bytes, no control characters, and no ',' when `env_form` (OPTS is comma-separated).
/// Both UTF-8.
void check_option(std::string_view key, std::string_view value, bool env_form, const std::string& field);

/// One option item `KEY=VALUE` of a list (DVDI_VOLUME_OPTS, dvdcli's --volumeopts, `mount -o`):
/// split on the first '=' (a value may contain '='), key and value trimmed of blanks, then the
/// rules of check_option. Throws core::InputError naming `field` and quoting the whole item
/// (escaped, at most 80 bytes of it): `DVDI_VOLUME_OPTS: item "=5": an option needs a key
/// before '='`.
[[nodiscard]] std::pair<std::string, std::string> parse_option_item(std::string_view item, bool env_form,
                                                                    const std::string& field);

/// A comma-separated list of items (SPEC S1.3): each item as parse_option_item (env form),
/// empty pieces skipped ("a=1,,b=2" is two options). Repeated keys are the caller's rule.
[[nodiscard]] Options parse_option_list(std::string_view list, const std::string& field);

/// Every key of `options` once at most, and at most kMaxOptions of them; throws naming `field`
/// and the repeated (or first excess) key.
void check_unique_option_keys(const Options& options, const std::string& field);

enum class PathRule {
    absolute,             ///< env form and OCI: inside the container root
    absolute_or_relative, ///< Mesos: relative paths are under the sandbox (SPEC S3)
};

/// Validates a container path and returns it lexically normalised (no "//", "." or trailing
/// '/'). Throws when it is empty, holds NUL or invalid UTF-8, is relative under
/// PathRule::absolute, has any ".." component (never normalised away), is absolute and under
/// /proc or /sys, or names the container root ("/") or the sandbox itself (".").
[[nodiscard]] std::string normalize_container_path(std::string_view path, PathRule rule, const std::string& field);

/// The rules across the requests of one container: at most kMaxVolumes, not the same (driver,
/// name) twice, the same name with two drivers, or two volumes at the same container path. The error names the later
/// request's origin.
void check_unique(const std::vector<Request>& requests);

/// Throws InputError naming the first request whose driver is not in `allowed` (an empty list
/// allows every driver). open_driver() checks the same; this lets a front end refuse a
/// container before any driver call, naming the variable or field.
void check_allowed_drivers(const std::vector<Request>& requests, const std::vector<std::string>& allowed);

/// Every per-request rule at once (name, driver, options, container path when present); for
/// requests that did not come from a reader, e.g. from_json of stored state.
void check_request(const Request& request, PathRule rule, const std::string& field);

} // namespace dvdi::volumes
