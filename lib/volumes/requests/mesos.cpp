#include "lib/volumes/requests/mesos.hpp"

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

constexpr std::string_view kVolumes = "container_config.container_info.volumes";
constexpr std::string_view kVariables = "container_config.command_info.environment.variables";

bool is_id_char_ok(char c) {
    return static_cast<unsigned char>(c) >= 0x20 && c != 0x7F && c != '/';
}

// container_id {value, parent {value, parent ...}}: innermost first in JSON, outermost first out.
std::vector<std::string> read_container_id(const json& doc) {
    std::vector<std::string> chain;
    const json* id = detail::find(doc, "container_id");
    std::string path = "container_id";
    if (id == nullptr) {
        throw input_error(path, "", "missing: Mesos sends the container's id");
    }
    while (id != nullptr) {
        detail::require_object(*id, path);
        std::string value = detail::required_string(*id, "value", path);
        if (value.empty() || !std::all_of(value.begin(), value.end(), is_id_char_ok) || !is_valid_utf8(value)) {
            throw input_error(detail::member_path(path, "value"), value,
                              "a container id must be non-empty UTF-8 without '/' or control characters");
        }
        chain.push_back(std::move(value));
        id = detail::find(*id, "parent");
        path = detail::member_path(path, "parent");
    }
    std::reverse(chain.begin(), chain.end());
    return chain;
}

std::optional<std::string> read_host_path(const json& config, std::string_view key) {
    auto p = detail::optional_string(config, key, "container_config");
    if (p && (!p->starts_with('/') || p->find('\0') != std::string::npos || !is_valid_utf8(*p))) {
        throw input_error(detail::member_path("container_config", key), *p, "must be an absolute host path");
    }
    return p;
}

// command_info.environment.variables[] of type VALUE (the default), as (name, value) pairs.
std::vector<std::pair<std::string, std::string>> read_variables(const json& config,
                                                                std::vector<std::string>& warnings) {
    std::vector<std::pair<std::string, std::string>> out;
    const json* command = detail::find(config, "command_info");
    const json* env =
        command ? detail::find(detail::require_object(*command, "container_config.command_info"), "environment")
                : nullptr;
    const json* vars =
        env ? detail::find(detail::require_object(*env, "container_config.command_info.environment"), "variables")
            : nullptr;
    if (vars == nullptr) {
        return out;
    }
    const std::string path(kVariables);
    for (std::size_t i = 0; i < detail::require_array(*vars, path).size(); ++i) {
        const std::string item = detail::index_path(path, i);
        const json& v = detail::require_object((*vars)[i], item);
        std::string name = detail::required_string(v, "name", item);
        const std::string type = detail::optional_string(v, "type", item).value_or("VALUE");
        if (type != "VALUE") {
            if (name.starts_with("DVDI_VOLUME_")) {
                warnings.push_back(fmt::format("{} ignored: only variables of type VALUE are read ({} has type {})",
                                               item, core::quote(name), core::quote(type)));
            }
            continue;
        }
        out.emplace_back(std::move(name), detail::optional_string(v, "value", item).value_or(""));
    }
    return out;
}

Options read_parameters(const json& docker_volume, const std::string& path) {
    Options out;
    const json* opts = detail::find(docker_volume, "driver_options");
    if (opts == nullptr) {
        return out;
    }
    const std::string opts_path = detail::member_path(path, "driver_options");
    const json* params = detail::find(detail::require_object(*opts, opts_path), "parameter");
    if (params == nullptr) {
        return out;
    }
    const std::string params_path = detail::member_path(opts_path, "parameter");
    for (std::size_t i = 0; i < detail::require_array(*params, params_path).size(); ++i) {
        const std::string item = detail::index_path(params_path, i);
        const json& p = detail::require_object((*params)[i], item);
        std::string key = detail::required_string(p, "key", item);
        std::string value = detail::required_string(p, "value", item);
        check_option(key, value, false, item);
        out.emplace_back(std::move(key), std::move(value));
    }
    check_unique_option_keys(out, params_path);
    return out;
}

Mode read_mode(const json& volume, const std::string& path) {
    const auto mode = detail::optional_string(volume, "mode", path);
    if (!mode || *mode == "RW") {
        return Mode::rw;
    }
    if (*mode == "RO") {
        return Mode::ro;
    }
    throw input_error(detail::member_path(path, "mode"), *mode, "a mode must be \"RW\" or \"RO\"");
}

// One container_info.volumes[] entry; nullopt when it is not a DOCKER_VOLUME.
std::optional<Request> read_volume(const json& volume, const std::string& path, std::string_view default_driver,
                                   bool has_base) {
    detail::require_object(volume, path);
    const json* source = detail::find(volume, "source");
    if (source == nullptr) {
        return std::nullopt;
    }
    const std::string source_path = detail::member_path(path, "source");
    detail::require_object(*source, source_path);
    if (detail::optional_string(*source, "type", source_path) != "DOCKER_VOLUME") {
        return std::nullopt;
    }
    const std::string dv_path = detail::member_path(source_path, "docker_volume");
    const json* dv = detail::find(*source, "docker_volume");
    if (dv == nullptr) {
        throw input_error(dv_path, "", "missing: a DOCKER_VOLUME source needs docker_volume");
    }
    detail::require_object(*dv, dv_path);
    Request r;
    r.origin = path;
    r.name = detail::required_string(*dv, "name", dv_path);
    check_volume_name(r.name, detail::member_path(dv_path, "name"));
    const auto driver = detail::optional_string(*dv, "driver", dv_path);
    r.driver = driver.value_or(std::string(default_driver));
    r.driver_defaulted = !driver.has_value();
    check_driver_name(r.driver, detail::member_path(dv_path, "driver"));
    r.options = read_parameters(*dv, dv_path);
    r.options_field = detail::member_path(dv_path, "driver_options");
    const std::string cp_field = detail::member_path(path, "container_path");
    r.path_field = cp_field;
    const std::string cp = detail::required_string(volume, "container_path", path);
    r.container_path = normalize_container_path(cp, PathRule::absolute_or_relative, cp_field);
    if (!r.container_path->starts_with('/') && !has_base) {
        throw input_error(cp_field, cp,
                          "a relative container path needs container_config.directory or container_config.rootfs");
    }
    r.mode = read_mode(volume, path);
    return r;
}

void read_config(const json& config, std::string_view default_driver, MesosInput& out) {
    detail::require_object(config, "container_config");
    out.directory = read_host_path(config, "directory");
    out.rootfs = read_host_path(config, "rootfs");
    (void)detail::optional_string(config, "user", "container_config"); // checked, not used

    EnvRequests env = parse_env_requests(read_variables(config, out.warnings), default_driver);
    out.requests = std::move(env.requests);
    out.warnings.insert(out.warnings.end(), env.warnings.begin(), env.warnings.end());
    const json* info = detail::find(config, "container_info");
    const json* volumes =
        info ? detail::find(detail::require_object(*info, "container_config.container_info"), "volumes") : nullptr;
    if (volumes != nullptr) {
        const std::string path(kVolumes);
        const bool has_base = out.directory.has_value() || out.rootfs.has_value();
        for (std::size_t i = 0; i < detail::require_array(*volumes, path).size(); ++i) {
            if (auto r = read_volume((*volumes)[i], detail::index_path(path, i), default_driver, has_base)) {
                out.requests.push_back(std::move(*r));
            }
        }
    }
    check_unique(out.requests);
}

} // namespace

namespace {

MesosInput read_ids(const json& doc) {
    detail::require_object(doc, "Mesos isolator input");
    MesosInput out;
    out.container_id_chain = read_container_id(doc);
    out.container_id = fmt::format("{}", fmt::join(out.container_id_chain, "."));
    out.pid = detail::optional_integer(doc, "pid", "", 1, INT_MAX);
    return out;
}

} // namespace

void check_mesos_input_present(std::string_view text) {
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        throw core::InputError("Mesos isolator input", text,
                               "empty: the command-isolator module writes the container's JSON (its container_id "
                               "and container_config) to the INPUT file and stdin");
    }
}

MesosInput parse_mesos_input(std::string_view text, std::string_view default_driver) {
    check_mesos_input_present(text);
    const json doc = detail::parse_json(text, "Mesos isolator input");
    MesosInput out = read_ids(doc);
    if (const json* config = detail::find(doc, "container_config")) {
        read_config(*config, default_driver, out);
    }
    return out;
}

MesosInput parse_mesos_ids(std::string_view text) {
    check_mesos_input_present(text);
    return read_ids(detail::parse_json(text, "Mesos isolator input"));
}

} // namespace dvdi::volumes
