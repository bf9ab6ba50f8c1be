#include "lib/volumes/requests/request.hpp"

#include <nlohmann/json.hpp>

#include "lib/core/error.hpp"
#include "lib/volumes/requests/json_input.hpp"
#include "lib/volumes/requests/validate.hpp"

namespace dvdi::volumes {

namespace {

using core::InputError;
using detail::json;

constexpr std::string_view kField = "request";

Options read_options(const json& obj) {
    Options out;
    const json* v = detail::find(obj, "options");
    if (v == nullptr) {
        return out;
    }
    const std::string path = detail::member_path(std::string(kField), "options");
    for (std::size_t i = 0; i < detail::require_array(*v, path).size(); ++i) {
        const std::string item = detail::index_path(path, i);
        const json& o = detail::require_object((*v)[i], item);
        out.emplace_back(detail::required_string(o, "key", item), detail::required_string(o, "value", item));
    }
    return out;
}

Mode read_mode(const json& obj) {
    const auto mode = detail::optional_string(obj, "mode", std::string(kField));
    if (!mode || *mode == "rw") {
        return Mode::rw;
    }
    if (*mode == "ro") {
        return Mode::ro;
    }
    throw input_error("request.mode", *mode, "must be \"rw\" or \"ro\"");
}

} // namespace

void to_json(nlohmann::json& j, const Request& r) {
    json options = json::array();
    for (const auto& [key, value] : r.options) {
        options.push_back({{"key", key}, {"value", value}});
    }
    j = json{
        {"driver", r.driver},
        {"name", r.name},
        {"options", std::move(options)},
        {"mode", r.mode == Mode::ro ? "ro" : "rw"},
        {"explicit_create", r.explicit_create},
        {"origin", r.origin},
    };
    if (r.container_path) {
        j["container_path"] = *r.container_path;
    }
}

void from_json(const nlohmann::json& j, Request& r) {
    const std::string path(kField);
    detail::require_object(j, path);
    Request out;
    out.driver = detail::required_string(j, "driver", path);
    out.name = detail::required_string(j, "name", path);
    out.options = read_options(j);
    out.container_path = detail::optional_string(j, "container_path", path);
    out.mode = read_mode(j);
    if (const json* e = detail::find(j, "explicit_create")) {
        if (!e->is_boolean()) {
            throw input_error("request.explicit_create", detail::shown(*e), "must be true or false");
        }
        out.explicit_create = e->get<bool>();
    }
    out.origin = detail::optional_string(j, "origin", path).value_or("");
    const PathRule rule = out.container_path && !out.container_path->starts_with('/') ? PathRule::absolute_or_relative
                                                                                      : PathRule::absolute;
    check_request(out, rule, path);
    r = std::move(out);
}

} // namespace dvdi::volumes
