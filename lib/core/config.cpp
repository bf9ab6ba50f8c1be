#include "lib/core/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/error.hpp"

namespace dvdi::core {

namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// The value as a user wrote it: a string without JSON quotes, anything else as JSON.
std::string shown(const json& v) {
    return v.is_string() ? v.get<std::string>() : v.dump();
}

// Reads typed values out of one JSON object, remembering which keys were used so that the
// remaining ones can be reported as unknown.
class Reader {
  public:
    Reader(const json& obj, std::string prefix, std::string_view origin)
        : obj_(obj), prefix_(std::move(prefix)), origin_(origin) {}

    [[nodiscard]] std::string field(std::string_view key) const {
        return fmt::format("{}: {}{}", origin_, prefix_, key);
    }

    const json* find(std::string_view key) {
        seen_.emplace_back(key);
        const auto it = obj_.find(key);
        return it == obj_.end() ? nullptr : &*it;
    }

    void string(std::string_view key, std::string& out) {
        if (const json* v = find(key)) {
            if (!v->is_string()) {
                throw InputError(field(key), shown(*v), "must be a string");
            }
            out = v->get<std::string>();
        }
    }

    void strings(std::string_view key, std::vector<std::string>& out) {
        if (const json* v = find(key)) {
            if (!v->is_array() || !std::all_of(v->begin(), v->end(), [](const json& e) { return e.is_string(); })) {
                throw InputError(field(key), shown(*v), "must be an array of strings");
            }
            out = v->get<std::vector<std::string>>();
        }
    }

    void boolean(std::string_view key, bool& out) {
        if (const json* v = find(key)) {
            if (!v->is_boolean()) {
                throw InputError(field(key), shown(*v), "must be true or false");
            }
            out = v->get<bool>();
        }
    }

    void seconds(std::string_view key, milliseconds& out) {
        if (const json* v = find(key)) {
            if (!v->is_number() || !(v->get<double>() > 0) || v->get<double>() > 86400) {
                throw InputError(field(key), shown(*v), "must be a number of seconds above 0 and at most 86400");
            }
            out = milliseconds(static_cast<long>(std::llround(v->get<double>() * 1000)));
        }
    }

    void reject_unknown() const {
        for (const auto& [key, value] : obj_.items()) {
            if (std::find(seen_.begin(), seen_.end(), key) == seen_.end()) {
                throw InputError(field(key), shown(value), "unknown configuration key");
            }
        }
    }

  private:
    const json& obj_;
    std::string prefix_;
    std::string_view origin_;
    std::vector<std::string> seen_;
};

void require_absolute(const Reader& r, std::string_view key, const std::string& path) {
    if (path.empty() || path.front() != '/') {
        throw InputError(r.field(key), path, "must be an absolute path");
    }
}

void require_driver_name(const Reader& r, std::string_view key, const std::string& name) {
    // ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$, by hand: building a std::regex costs more than the
    // rest of loading the config.
    const auto alnum = [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    };
    const bool ok =
        !name.empty() && name.size() <= 128 && alnum(name.front()) &&
        std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
    if (!ok) {
        throw InputError(r.field(key), name, "a driver name must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
    }
}

} // namespace

Config parse_config(std::string_view text, std::string_view origin) {
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::exception& e) {
        throw InputError(std::string(origin), text.substr(0, 40), fmt::format("not valid JSON ({})", e.what()));
    }
    if (!doc.is_object()) {
        throw InputError(std::string(origin), shown(doc), "the configuration must be a JSON object");
    }

    Config c;
    Reader r(doc, "", origin);
    r.string("default_driver", c.default_driver);
    require_driver_name(r, "default_driver", c.default_driver);
    r.string("state_dir", c.state_dir);
    require_absolute(r, "state_dir", c.state_dir);
    r.string("data_dir", c.data_dir);
    require_absolute(r, "data_dir", c.data_dir);
    const auto absolute_paths = [&r](std::string_view key, std::vector<std::string>& list) {
        r.strings(key, list);
        for (const auto& p : list) {
            require_absolute(r, key, p);
        }
    };
    absolute_paths("plugin_socket_dirs", c.plugin_socket_dirs);
    absolute_paths("plugin_spec_dirs", c.plugin_spec_dirs);
    absolute_paths("auto_create_prefixes", c.auto_create_prefixes);
    r.strings("allowed_drivers", c.allowed_drivers);
    for (const auto& d : c.allowed_drivers) {
        require_driver_name(r, "allowed_drivers", d);
    }
    r.boolean("syslog", c.syslog);
    r.string("log_level", c.log_level);
    if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warning" && c.log_level != "error") {
        throw InputError(r.field("log_level"), c.log_level, "must be debug, info, warning or error");
    }
    if (const json* t = r.find("timeouts")) {
        if (!t->is_object()) {
            throw InputError(r.field("timeouts"), shown(*t), "must be an object");
        }
        Reader tr(*t, "timeouts.", origin);
        tr.seconds("connect", c.timeouts.connect);
        tr.seconds("create", c.timeouts.create);
        tr.seconds("mount", c.timeouts.mount);
        tr.seconds("other", c.timeouts.other);
        tr.seconds("retry_budget", c.timeouts.retry_budget);
        tr.reject_unknown();
    }
    r.reject_unknown();
    return c;
}

Config load_config(const std::string& path, bool must_exist) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const int err = errno;
        if (err == ENOENT && !must_exist) {
            return Config{};
        }
        throw InputError("--config", path, fmt::format("cannot read the configuration file: {}", std::strerror(err)));
    }
    std::ostringstream text;
    text << in.rdbuf();
    return parse_config(text.str(), path);
}

void to_json(nlohmann::json& j, const Config& c) {
    const auto secs = [](milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; };
    j = json{
        {"default_driver", c.default_driver},
        {"state_dir", c.state_dir},
        {"data_dir", c.data_dir},
        {"plugin_socket_dirs", c.plugin_socket_dirs},
        {"plugin_spec_dirs", c.plugin_spec_dirs},
        {"timeouts",
         {{"connect", secs(c.timeouts.connect)},
          {"create", secs(c.timeouts.create)},
          {"mount", secs(c.timeouts.mount)},
          {"other", secs(c.timeouts.other)},
          {"retry_budget", secs(c.timeouts.retry_budget)}}},
        {"auto_create_prefixes", c.auto_create_prefixes},
        {"allowed_drivers", c.allowed_drivers},
        {"syslog", c.syslog},
        {"log_level", c.log_level},
    };
}

} // namespace dvdi::core
