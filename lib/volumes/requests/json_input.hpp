// Internal to lib/volumes: reading untrusted JSON documents with errors that name the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace dvdi::volumes::detail {

using nlohmann::json;

/// Parses `text`; any parse failure (syntax, truncation, invalid UTF-8) becomes a
/// core::InputError naming `origin`, the text around the failure and the parser's reason, with
/// every byte of the message printable.
[[nodiscard]] json parse_json(std::string_view text, const std::string& origin);

/// A JSON value as a user wrote it: a string without quotes, anything else serialised.
[[nodiscard]] std::string shown(const json& v);

/// `path.key` (or `key` when path is empty) and `path[i]`.
[[nodiscard]] std::string member_path(const std::string& path, std::string_view key);
[[nodiscard]] std::string index_path(const std::string& path, std::size_t i);

/// `v` at `path` must be an object; throws InputError otherwise.
const json& require_object(const json& v, const std::string& path);
/// `v` at `path` must be an array; throws InputError otherwise.
const json& require_array(const json& v, const std::string& path);

/// The member `key` of object `obj` (at `path`), or nullptr when absent. A JSON null counts as
/// absent (protobuf JSON writers may emit it for unset fields).
const json* find(const json& obj, std::string_view key);

/// The string member `key`, absent -> nullopt; present and not a string -> InputError.
std::optional<std::string> optional_string(const json& obj, std::string_view key, const std::string& path);
/// The string member `key`; absent or not a string -> InputError ("missing" / "must be a string").
std::string required_string(const json& obj, std::string_view key, const std::string& path);
/// An integer member in [min, max]; absent -> nullopt; anything else -> InputError.
std::optional<std::int64_t> optional_integer(const json& obj, std::string_view key, const std::string& path,
                                             std::int64_t min, std::int64_t max);

} // namespace dvdi::volumes::detail
