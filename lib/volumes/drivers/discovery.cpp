#include "lib/volumes/drivers/discovery.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "lib/core/error.hpp"
#include "lib/volumes/requests/validate.hpp"

namespace dvdi::volumes {

namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        core::throw_errno("open", path.string());
    }
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string trimmed(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    const auto e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string{} : s.substr(b, e - b + 1);
}

http::Endpoint from_json_file(const fs::path& path) {
    const auto j = nlohmann::json::parse(read_text(path), nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        throw core::Error(fmt::format("plugin file {}: not a JSON object", core::quote(path.string())));
    }
    if (j.contains("TLSConfig") && !j["TLSConfig"].is_null()) {
        throw core::Error(fmt::format("plugin file {}: TLSConfig is not supported", core::quote(path.string())));
    }
    const auto addr = j.find("Addr");
    if (addr == j.end() || !addr->is_string()) {
        throw core::Error(fmt::format("plugin file {}: no \"Addr\" string", core::quote(path.string())));
    }
    return http::parse_endpoint(addr->get<std::string>(), "plugin file " + core::quote(path.string()));
}

bool is_unix_socket(const fs::path& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

bool path_exists(const fs::path& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

} // namespace

std::optional<http::Endpoint> find_plugin(const std::string& name, const core::Config& config) {
    check_driver_name(name, "driver");
    for (const fs::path dir : config.plugin_socket_dirs) {
        for (const auto& p : {dir / (name + ".sock"), dir / name / (name + ".sock")}) {
            if (is_unix_socket(p)) {
                return http::Endpoint{.kind = http::Endpoint::Kind::unix_socket, .path = p.string()};
            }
        }
    }
    for (const fs::path dir : config.plugin_spec_dirs) {
        for (const auto& p : {dir / (name + ".spec"), dir / name / (name + ".spec")}) {
            if (path_exists(p)) {
                return http::parse_endpoint(trimmed(read_text(p)), "plugin file " + core::quote(p.string()));
            }
        }
        for (const auto& p : {dir / (name + ".json"), dir / name / (name + ".json")}) {
            if (path_exists(p)) {
                return from_json_file(p);
            }
        }
    }
    return std::nullopt;
}

std::vector<std::string> list_plugins(const core::Config& config) {
    std::set<std::string> names;
    const auto scan = [&](const std::string& dir, const std::vector<std::string>& extensions) {
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
            const auto path = e.path();
            for (const auto& ext : extensions) {
                const std::string stem = path.stem().string();
                const bool flat = path.extension() == ext;
                const bool nested =
                    e.is_directory(ec) && std::filesystem::exists(path / (path.filename().string() + ext), ec);
                if ((flat || nested) && is_valid_driver_name(nested ? path.filename().string() : stem)) {
                    names.insert(nested ? path.filename().string() : stem);
                }
            }
        }
    };
    for (const auto& d : config.plugin_socket_dirs) {
        scan(d, {".sock"});
    }
    for (const auto& d : config.plugin_spec_dirs) {
        scan(d, {".spec", ".json"});
    }
    names.erase("local");
    return {names.begin(), names.end()};
}

std::string missing_plugin(const std::string& name, const core::Config& config,
                           std::optional<std::chrono::milliseconds> waited) {
    constexpr std::size_t kMaxNamed = 20;
    const auto dirs = [](const std::vector<std::string>& list) {
        return list.empty() ? std::string("no directory") : fmt::format("{}", fmt::join(list, ", "));
    };
    const std::string quoted = core::quote(name);
    std::string text =
        fmt::format("no plugin {} was found: no socket {}.sock in {}, no {}.spec or {}.json in {}", quoted, name,
                    dirs(config.plugin_socket_dirs), name, name, dirs(config.plugin_spec_dirs));
    if (waited) {
        const auto secs = [](std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; };
        text += fmt::format(" (looked for {:g} s, timeouts.plugin_wait {:g} s)", secs(*waited),
                            secs(config.timeouts.plugin_wait));
    }
    const auto found = list_plugins(config);
    if (found.empty()) {
        std::vector<std::string> all = config.plugin_socket_dirs;
        all.insert(all.end(), config.plugin_spec_dirs.begin(), config.plugin_spec_dirs.end());
        return fmt::format("{}; no plugins found in {}", text, dirs(all));
    }
    const std::size_t named = std::min(found.size(), kMaxNamed);
    text +=
        fmt::format("; plugins found: {}", fmt::join(found.begin(), found.begin() + static_cast<long>(named), ", "));
    if (found.size() > named) {
        text += fmt::format(" and {} more", found.size() - named);
    }
    return text;
}

} // namespace dvdi::volumes
