#include "lib/core/config.hpp"

#include <fnmatch.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <fstream>
#include <functional>
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

    /// The object at `key`, read by `body` with a Reader of its own (unknown keys refused).
    void object(std::string_view key, const std::function<void(Reader&)>& body) {
        if (const json* v = find(key)) {
            sub(*v, std::string(key), body);
        }
    }

    /// `v`, which must be an object, read by `body` as `<prefix><name>.`.
    void sub(const json& v, const std::string& name, const std::function<void(Reader&)>& body) const {
        if (!v.is_object()) {
            throw InputError(field(name), shown(v), "must be an object");
        }
        Reader r(v, prefix_ + name + ".", origin_);
        body(r);
        r.reject_unknown();
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

void read_local_volumes(Reader& r, std::vector<LocalVolumeDefinition>& out) {
    const json* list = r.find("local_volumes");
    if (list == nullptr) {
        return;
    }
    if (!list->is_array()) {
        throw InputError(r.field("local_volumes"), shown(*list), "must be an array of objects");
    }
    for (std::size_t i = 0; i < list->size(); ++i) {
        const std::string item = fmt::format("local_volumes[{}]", i);
        LocalVolumeDefinition d;
        r.sub((*list)[i], item, [&](Reader& e) {
            e.string("name", d.name);
            e.string("type", d.type);
            e.string("device", d.device);
            e.string("o", d.o);
            if (d.name.empty() || d.name.find('/') != std::string::npos) {
                throw InputError(e.field("name"), d.name, "a volume name or pattern, not empty, without '/'");
            }
            if (d.type.empty() || d.device.empty()) {
                throw InputError(e.field("type"), d.type,
                                 "type and device are both needed (a plain directory "
                                 "volume needs no definition)");
            }
        });
        out.push_back(std::move(d));
    }
}

void read_driver_policy(Reader& r, std::map<std::string, DriverPolicy>& out) {
    const json* all = r.find("driver_policy");
    if (all == nullptr) {
        return;
    }
    if (!all->is_object()) {
        throw InputError(r.field("driver_policy"), shown(*all), "must be an object of driver names");
    }
    for (const auto& [driver, v] : all->items()) {
        const std::string item = "driver_policy." + driver;
        require_driver_name(r, item, driver);
        DriverPolicy p;
        r.sub(v, item, [&](Reader& e) {
            if (e.find("tenant_options") != nullptr) {
                p.tenant_options.emplace();
                e.strings("tenant_options", *p.tenant_options);
            }
            e.strings("mountpoint_prefixes", p.mountpoint_prefixes);
            for (const auto& m : p.mountpoint_prefixes) {
                require_absolute(e, "mountpoint_prefixes", m);
            }
        });
        if (driver == "local") {
            throw InputError(r.field(item), driver,
                             "the local driver takes no options from tenants and its "
                             "mountpoints are its own: define local_volumes instead");
        }
        out.emplace(driver, std::move(p));
    }
}

bool node_name_char(char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '.' || ch == '_' || ch == '-';
}

bool is_node_name(std::string_view name) {
    return !name.empty() && name.size() <= 253 && std::isalnum(static_cast<unsigned char>(name.front())) != 0 &&
           std::all_of(name.begin(), name.end(), node_name_char);
}

} // namespace

std::string node_name(const Config& c) {
    if (!c.node_name.empty()) {
        return c.node_name;
    }
    struct utsname u {};
    std::string name = ::uname(&u) == 0 ? u.nodename : "";
    for (char& ch : name) {
        if (!node_name_char(ch)) {
            ch = '_';
        }
    }
    return name.empty() ? "localhost" : name;
}

const LocalVolumeDefinition* find_local_volume(const Config& c, std::string_view volume) {
    const std::string name(volume);
    for (const auto& d : c.local_volumes) {
        if (::fnmatch(d.name.c_str(), name.c_str(), 0) == 0) {
            return &d;
        }
    }
    return nullptr;
}

namespace {

// nlohmann's parse error without its echo of the input: its message quotes the bytes it last
// read ("; last read: '...'"), raw when they are not ASCII; only the reason stays ("syntax
// error while parsing object - unexpected '}'; expected string literal").
std::string parse_error_reason(const json::parse_error& e) {
    std::string what = e.what();
    if (const auto colon = what.find(": "); colon != std::string::npos && what.starts_with("[json.exception.")) {
        what.erase(0, colon + 2);
    }
    if (const auto echo = what.find("; last read: '"); echo != std::string::npos) {
        // The echo ends at "'; expected ..." or at the end; token names never contain "'; ".
        const auto expected = what.rfind("'; expected ");
        what =
            what.substr(0, echo) + (expected != std::string::npos && expected > echo ? what.substr(expected + 1) : "");
    }
    return printable(what.substr(0, 200));
}

// "line L, column C" of the byte at 1-based offset `byte` (nlohmann's position of the error),
// counting lines by '\n' and columns in bytes from 1.
std::string position_of(std::string_view text, std::size_t byte) {
    const std::size_t end = std::min(byte == 0 ? 0 : byte - 1, text.size());
    std::size_t line = 1;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < end; ++i) {
        if (text[i] == '\n') {
            ++line;
            line_start = i + 1;
        }
    }
    return fmt::format("line {}, column {}", line, end - line_start + 1);
}

} // namespace

Config parse_config(std::string_view text, std::string_view origin) {
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::parse_error& e) {
        // Only the position and the reason: the file's bytes are not echoed (a binary file, a
        // secret in it, control bytes for the terminal).
        throw InputError(fmt::format("config file {}", origin),
                         fmt::format("{}: not valid JSON: {}", position_of(text, e.byte), parse_error_reason(e)));
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
    absolute_paths("host_path_prefixes", c.host_path_prefixes);
    r.strings("allowed_drivers", c.allowed_drivers);
    for (const auto& d : c.allowed_drivers) {
        require_driver_name(r, "allowed_drivers", d);
    }
    read_local_volumes(r, c.local_volumes);
    read_driver_policy(r, c.driver_policy);
    r.string("node_name", c.node_name);
    if (!c.node_name.empty() && !is_node_name(c.node_name)) {
        throw InputError(r.field("node_name"), c.node_name,
                         "must be at most 253 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit");
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
        tr.seconds("plugin_wait", c.timeouts.plugin_wait);
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
        throw InputError("--config", path, fmt::format("cannot read the configuration file: {}", errno_text(err)));
    }
    std::ostringstream text;
    text << in.rdbuf();
    return parse_config(text.str(), path);
}

void to_json(nlohmann::json& j, const Config& c) {
    const auto secs = [](milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; };
    json local_volumes = json::array();
    for (const auto& d : c.local_volumes) {
        local_volumes.push_back({{"name", d.name}, {"type", d.type}, {"device", d.device}, {"o", d.o}});
    }
    json policies = json::object();
    for (const auto& [driver, p] : c.driver_policy) {
        json& e = policies[driver];
        e = {{"mountpoint_prefixes", p.mountpoint_prefixes}};
        if (p.tenant_options) {
            e["tenant_options"] = *p.tenant_options;
        }
    }
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
          {"retry_budget", secs(c.timeouts.retry_budget)},
          {"plugin_wait", secs(c.timeouts.plugin_wait)}}},
        {"auto_create_prefixes", c.auto_create_prefixes},
        {"host_path_prefixes", c.host_path_prefixes},
        {"allowed_drivers", c.allowed_drivers},
        {"local_volumes", local_volumes},
        {"driver_policy", policies},
        {"node_name", c.node_name},
        {"syslog", c.syslog},
        {"log_level", c.log_level},
    };
}

} // namespace dvdi::core
