#include "lib/volumes/node/mountpoint_policy.hpp"

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace dvdi::volumes {

namespace {

// Directories a volume must never be: the host's own (a plugin answering one would hand the
// host to a container) or the kernel's.
constexpr std::array kSystemDirs = {"/bin",    "/boot",  "/dev", "/etc", "/home", "/lib",     "/lib32",  "/lib64",
                                    "/libx32", "/media", "/mnt", "/opt", "/proc", "/root",    "/run",    "/sbin",
                                    "/srv",    "/sys",   "/tmp", "/usr", "/var",  "/var/lib", "/var/run"};
// ... nor anything below these.
constexpr std::array kNeverUnder = {"/bin",    "/boot", "/dev",  "/etc",  "/home", "/lib", "/lib32",   "/lib64",
                                    "/libx32", "/proc", "/root", "/sbin", "/sys",  "/usr", "/var/log", "/var/spool"};

bool at_or_under(std::string_view path, std::string_view dir) {
    while (dir.size() > 1 && dir.back() == '/') {
        dir.remove_suffix(1);
    }
    if (dir == "/") {
        return true;
    }
    return path == dir || (path.starts_with(dir) && path.size() > dir.size() && path[dir.size()] == '/');
}

// `path` without "//", "." and a trailing '/'; nullopt when it has a ".." component.
std::optional<std::string> lexical(std::string_view path) {
    std::string out;
    for (std::size_t pos = 1; pos <= path.size();) {
        const std::size_t end = std::min(path.find('/', pos), path.size());
        const std::string_view part = path.substr(pos, end - pos);
        if (part == "..") {
            return std::nullopt;
        }
        if (!part.empty() && part != ".") {
            out += '/';
            out += part;
        }
        pos = end + 1;
    }
    return out.empty() ? "/" : out;
}

} // namespace

MountpointPolicy::MountpointPolicy(const core::Config& config)
    : state_dir_(lexical(config.state_dir).value_or(config.state_dir)),
      data_dir_(lexical(config.data_dir).value_or(config.data_dir)) {
    for (const auto& [driver, p] : config.driver_policy) {
        if (!p.mountpoint_prefixes.empty()) {
            prefixes_[driver] = p.mountpoint_prefixes;
        }
    }
    // Where plugins are found: a volume there would hand a container the sockets of root's
    // plugins. And the node's own dirs also as the host resolves them (/var/run -> /run).
    for (const auto* dirs : {&config.plugin_socket_dirs, &config.plugin_spec_dirs}) {
        for (const auto& d : *dirs) {
            own_dirs_.push_back(lexical(d).value_or(d));
        }
    }
    char resolved[PATH_MAX];
    if (::realpath(config.state_dir.c_str(), resolved) != nullptr && state_dir_ != resolved) {
        state_alias_ = resolved;
    }
    if (::realpath(config.data_dir.c_str(), resolved) != nullptr && data_dir_ != resolved) {
        data_alias_ = resolved;
    }
}

std::optional<std::string> MountpointPolicy::refusal(const std::string& driver, const std::string& mountpoint) const {
    if (mountpoint.empty() || mountpoint.front() != '/') {
        return "not an absolute path";
    }
    if (std::any_of(mountpoint.begin(), mountpoint.end(), [](char c) { return c == '\x7f' || (c >= 0 && c < 0x20); })) {
        return "it contains control characters";
    }
    const auto path = lexical(mountpoint);
    if (!path) {
        return "it has a '..' component";
    }
    if (auto why = refusal_of_path(driver, *path)) {
        return why;
    }
    // The same rules for what the host resolves it to: a symlink in the path must not lead
    // around them.
    char resolved[PATH_MAX];
    if (::realpath(path->c_str(), resolved) != nullptr && *path != resolved) {
        if (auto why = refusal_of_path(driver, resolved)) {
            return fmt::format("it resolves to `{}`, which is {}", resolved, *why);
        }
    }
    return std::nullopt;
}

std::optional<std::string> MountpointPolicy::refusal_of_path(const std::string& driver, const std::string& path) const {
    if (path == "/") {
        return "the root directory";
    }
    for (const char* dir : kSystemDirs) {
        if (path == dir) {
            return fmt::format("the system directory {}", dir);
        }
    }
    for (const char* dir : kNeverUnder) {
        if (at_or_under(path, dir)) {
            return fmt::format("under the system directory {}", dir);
        }
    }
    for (const auto* dir : {&state_dir_, &state_alias_}) {
        if (!dir->empty() && at_or_under(path, *dir)) {
            return fmt::format("in the node's state dir {}", state_dir_);
        }
    }
    for (const auto* dir : {&data_dir_, &data_alias_}) {
        const bool local = driver == "local";
        if (!dir->empty() && (local ? (path == *dir || path == *dir + "/volumes") : at_or_under(path, *dir))) {
            return fmt::format("in the local driver's data dir {}", data_dir_);
        }
    }
    for (const auto& dir : own_dirs_) {
        if (at_or_under(path, dir)) {
            return fmt::format("in the plugin directory {}", dir);
        }
    }
    if (const auto it = prefixes_.find(driver); it != prefixes_.end()) {
        const auto& allowed = it->second;
        if (std::none_of(allowed.begin(), allowed.end(), [&](const std::string& p) { return at_or_under(path, p); })) {
            return fmt::format("outside driver_policy.{}.mountpoint_prefixes ({})", driver, fmt::join(allowed, ", "));
        }
    }
    return std::nullopt;
}

} // namespace dvdi::volumes
