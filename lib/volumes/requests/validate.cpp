#include "lib/volumes/requests/validate.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "lib/core/error.hpp"

namespace dvdi::volumes {

namespace {

using core::InputError;

bool is_control(unsigned char c) {
    return c < 0x20 || c == 0x7F;
}

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return is_control(static_cast<unsigned char>(c)); });
}

void require_utf8(std::string_view s, const std::string& field, std::string_view what) {
    if (!is_valid_utf8(s)) {
        throw input_error(field, s, fmt::format("{} must be valid UTF-8", what));
    }
}

bool is_driver_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

} // namespace

core::InputError input_error(std::string field, std::string_view value, std::string rule) {
    return core::InputError(std::move(field), value, std::move(rule));
}

bool is_valid_utf8(std::string_view text) noexcept {
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t n = core::utf8_sequence(text, i);
        if (n == 0) {
            return false;
        }
        i += n;
    }
    return true;
}

void check_volume_name(std::string_view name, const std::string& field) {
    if (name.empty()) {
        throw input_error(field, name, "a volume name cannot be empty");
    }
    if (name.size() > 255) {
        throw input_error(field, name, "a volume name is at most 255 bytes");
    }
    if (name.find('/') != std::string_view::npos) {
        throw input_error(field, name, "a volume name cannot contain '/'");
    }
    if (name == "." || name == "..") {
        throw input_error(field, name, "a volume name cannot be '.' or '..'");
    }
    if (has_control(name)) {
        throw input_error(field, name, "a volume name cannot contain control characters");
    }
    require_utf8(name, field, "a volume name");
}

bool is_valid_driver_name(std::string_view driver) noexcept {
    return !driver.empty() && driver.size() <= 128 && driver[0] != '.' && driver[0] != '_' && driver[0] != '-' &&
           std::all_of(driver.begin(), driver.end(), is_driver_char);
}

void check_driver_name(std::string_view driver, const std::string& field) {
    if (!is_valid_driver_name(driver)) {
        throw input_error(field, driver, "a driver name must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
    }
}

namespace {

// What is wrong with one option, if anything: the rule it breaks and the part (key or value)
// it is about. The one statement of the option rules; check_option and parse_option_item word
// it differently (the part alone, or the whole item).
struct OptionProblem {
    std::string_view part;
    std::string rule;
};

std::optional<OptionProblem> option_problem(std::string_view key, std::string_view value, bool env_form) {
    if (key.empty()) {
        return OptionProblem{value, "an option key cannot be empty"};
    }
    // Options are stored in the node state and sent to the driver: bounded, so that a tenant
    // cannot fill /run or make every hook of the node parse megabytes.
    if (key.size() > kMaxOptionKey) {
        return OptionProblem{key, fmt::format("an option key is at most {} bytes", kMaxOptionKey)};
    }
    if (value.size() > kMaxOptionValue) {
        return OptionProblem{value, fmt::format("an option value is at most {} bytes", kMaxOptionValue)};
    }
    if (key.find_first_of("=,") != std::string_view::npos || has_control(key)) {
        return OptionProblem{key, "an option key cannot contain '=', ',' or control characters"};
    }
    if (!is_valid_utf8(key)) {
        return OptionProblem{key, "an option key must be valid UTF-8"};
    }
    if (has_control(value) || (env_form && value.find(',') != std::string_view::npos)) {
        return OptionProblem{value, env_form ? "an option value cannot contain ',' or control characters"
                                             : "an option value cannot contain control characters"};
    }
    if (!is_valid_utf8(value)) {
        return OptionProblem{value, "an option value must be valid UTF-8"};
    }
    return std::nullopt;
}

std::string_view trim_blanks(std::string_view s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

} // namespace

void check_option(std::string_view key, std::string_view value, bool env_form, const std::string& field) {
    if (auto problem = option_problem(key, value, env_form)) {
        throw input_error(field, problem->part, std::move(problem->rule));
    }
}

std::pair<std::string, std::string> parse_option_item(std::string_view item, bool env_form, const std::string& field) {
    // The whole item is quoted (core::quote: escaped, at most 80 bytes of it): a fragment such
    // as the empty key of "=5" says nothing, and the item is tenant text bound for the log.
    const auto fail = [&](std::string rule) { return core::InputError(field, "item", item, std::move(rule)); };
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
        throw fail("an option is KEY=VALUE, and this item has no '='");
    }
    const std::string_view key = trim_blanks(item.substr(0, eq));
    const std::string_view value = trim_blanks(item.substr(eq + 1));
    if (key.empty()) {
        throw fail("an option needs a key before '='");
    }
    if (auto problem = option_problem(key, value, env_form)) {
        throw fail(std::move(problem->rule));
    }
    return {std::string(key), std::string(value)};
}

Options parse_option_list(std::string_view list, const std::string& field) {
    Options out;
    while (!list.empty()) {
        const std::size_t comma = std::min(list.find(','), list.size());
        const std::string_view item = trim_blanks(list.substr(0, comma));
        list.remove_prefix(std::min(comma + 1, list.size()));
        if (!item.empty()) {
            out.push_back(parse_option_item(item, true, field));
        }
    }
    return out;
}

void check_unique_option_keys(const Options& options, const std::string& field) {
    if (options.size() > kMaxOptions) {
        throw input_error(field, options[kMaxOptions].first, fmt::format("at most {} options per volume", kMaxOptions));
    }
    std::set<std::string_view> seen;
    for (const auto& [key, value] : options) {
        if (!seen.insert(key).second) {
            throw input_error(field, key, "an option key may appear only once");
        }
    }
}

std::string normalize_container_path(std::string_view path, PathRule rule, const std::string& field) {
    if (path.empty()) {
        throw input_error(field, path, "a container path cannot be empty");
    }
    if (path.find('\0') != std::string_view::npos) {
        throw input_error(field, path, "a container path cannot contain NUL");
    }
    require_utf8(path, field, "a container path");
    if (path.size() > kMaxContainerPath) {
        throw input_error(field, path, fmt::format("a container path is at most {} bytes", kMaxContainerPath));
    }
    const bool absolute = path[0] == '/';
    if (!absolute && rule == PathRule::absolute) {
        throw input_error(field, path, "a container path must be absolute");
    }
    std::vector<std::string_view> parts;
    for (std::size_t pos = 0; pos <= path.size();) {
        const std::size_t end = std::min(path.find('/', pos), path.size());
        const std::string_view part = path.substr(pos, end - pos);
        // Never normalised away: `/x/../../etc` is an error, not `/etc` (SPEC S1.3).
        if (part == "..") {
            throw input_error(field, path, "a container path cannot contain '..'");
        }
        if (!part.empty() && part != ".") {
            parts.push_back(part);
        }
        pos = end + 1;
    }
    // The container's procfs and sysfs: a volume there could shadow kernel interfaces the
    // runtime relies on (runc CVE-2019-16884). Placement also refuses any kernel file system
    // it resolves to; this names the field up front.
    if (absolute && !parts.empty() && (parts.front() == "proc" || parts.front() == "sys")) {
        throw input_error(field, path, "a container path cannot be under /proc or /sys (kernel file systems)");
    }
    if (parts.empty()) {
        throw input_error(field, path,
                          absolute ? "a container path cannot be the container's root"
                                   : "a container path cannot be the sandbox itself");
    }
    std::string out;
    for (const auto part : parts) {
        if (absolute || !out.empty()) {
            out += '/';
        }
        out += part;
    }
    return out;
}

void check_unique(const std::vector<Request>& requests) {
    if (requests.size() > kMaxVolumes) {
        const Request& r = requests[kMaxVolumes];
        throw input_error(r.origin, r.name, fmt::format("at most {} volumes per container", kMaxVolumes));
    }
    std::map<std::string, const Request*> by_name;
    std::map<std::string, const Request*> by_path;
    for (const Request& r : requests) {
        const auto [it, fresh] = by_name.emplace(r.name, &r);
        if (!fresh) {
            const Request& first = *it->second;
            if (first.driver == r.driver) {
                throw input_error(r.origin, r.name,
                                  fmt::format("volume {} is requested twice (also by {})", r.key(), first.origin));
            }
            throw input_error(r.origin, r.name,
                              fmt::format("one volume name with two drivers: {} by {}, {} here", first.driver,
                                          first.origin, r.driver));
        }
        if (r.container_path) {
            const auto [pit, pfresh] = by_path.emplace(*r.container_path, &r);
            if (!pfresh) {
                throw input_error(r.origin, *r.container_path,
                                  fmt::format("container path already used by volume {} ({})", pit->second->key(),
                                              pit->second->origin));
            }
        }
    }
}

void check_allowed_drivers(const std::vector<Request>& requests, const std::vector<std::string>& allowed) {
    if (allowed.empty()) {
        return;
    }
    for (const Request& r : requests) {
        if (std::find(allowed.begin(), allowed.end(), r.driver) == allowed.end()) {
            throw input_error(
                r.origin, r.driver,
                fmt::format("driver not allowed on this node (allowed_drivers: {})", fmt::join(allowed, ", ")));
        }
    }
}

void check_request(const Request& request, PathRule rule, const std::string& field) {
    check_volume_name(request.name, field + ".name");
    check_driver_name(request.driver, field + ".driver");
    for (const auto& [key, value] : request.options) {
        check_option(key, value, false, field + ".options");
    }
    check_unique_option_keys(request.options, field + ".options");
    if (request.container_path) {
        if (normalize_container_path(*request.container_path, rule, field + ".container_path") !=
            *request.container_path) {
            throw input_error(field + ".container_path", *request.container_path,
                              "a stored container path must be normalised");
        }
    }
}

} // namespace dvdi::volumes
