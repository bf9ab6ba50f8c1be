#include "lib/volumes/requests/json_input.hpp"

#include <fmt/format.h>

#include "lib/core/error.hpp"
#include "lib/volumes/requests/validate.hpp"

namespace dvdi::volumes::detail {

namespace {

using core::InputError;

// nlohmann's messages quote the bytes it read, which may be invalid UTF-8 or control
// characters; a message must stay printable (it goes to stderr, syslog and Mesos' error file).
std::string printable(std::string_view text) {
    std::string out;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c < 0x7F) {
            out += ch;
        } else {
            out += fmt::format("\\x{:02x}", c);
        }
    }
    return out;
}

// The parser's reason without its "[json.exception.parse_error.101] " tag.
std::string reason(const json::exception& e) {
    std::string_view what = e.what();
    if (const auto end = what.find("] "); what.starts_with("[json.exception.") && end != std::string_view::npos) {
        what.remove_prefix(end + 2);
    }
    return printable(what);
}

} // namespace

json parse_json(std::string_view text, const std::string& origin) {
    try {
        return json::parse(text);
    } catch (const json::parse_error& e) {
        const std::size_t at = std::min<std::size_t>(e.byte, text.size());
        const std::size_t from = at > 32 ? at - 32 : 0;
        throw input_error(origin, text.substr(from, at - from), fmt::format("not valid JSON: {}", reason(e)));
    } catch (const json::exception& e) {
        throw input_error(origin, text.substr(0, 32), fmt::format("not valid JSON: {}", reason(e)));
    }
}

std::string shown(const json& v) {
    if (v.is_string()) {
        return v.get<std::string>();
    }
    return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string member_path(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

std::string index_path(const std::string& path, std::size_t i) {
    return fmt::format("{}[{}]", path, i);
}

const json& require_object(const json& v, const std::string& path) {
    if (!v.is_object()) {
        throw input_error(path, shown(v), "must be a JSON object");
    }
    return v;
}

const json& require_array(const json& v, const std::string& path) {
    if (!v.is_array()) {
        throw input_error(path, shown(v), "must be a JSON array");
    }
    return v;
}

const json* find(const json& obj, std::string_view key) {
    const auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::optional<std::string> optional_string(const json& obj, std::string_view key, const std::string& path) {
    const json* v = find(obj, key);
    if (v == nullptr) {
        return std::nullopt;
    }
    if (!v->is_string()) {
        throw input_error(member_path(path, key), shown(*v), "must be a string");
    }
    return v->get<std::string>();
}

std::string required_string(const json& obj, std::string_view key, const std::string& path) {
    auto s = optional_string(obj, key, path);
    if (!s) {
        throw input_error(member_path(path, key), "", "missing: a string is required");
    }
    return std::move(*s);
}

std::optional<std::int64_t> optional_integer(const json& obj, std::string_view key, const std::string& path,
                                             std::int64_t min, std::int64_t max) {
    const json* v = find(obj, key);
    if (v == nullptr) {
        return std::nullopt;
    }
    const auto rule = fmt::format("must be an integer from {} to {}", min, max);
    if (v->is_number_unsigned()) {
        const auto u = v->get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(max) || static_cast<std::int64_t>(u) < min) {
            throw input_error(member_path(path, key), shown(*v), rule);
        }
        return static_cast<std::int64_t>(u);
    }
    if (!v->is_number_integer() || v->get<std::int64_t>() < min || v->get<std::int64_t>() > max) {
        throw input_error(member_path(path, key), shown(*v), rule);
    }
    return v->get<std::int64_t>();
}

} // namespace dvdi::volumes::detail
