// Where the [packaging] tests find the packages: $DVDI_PACKAGES_DIR, or build/packages, where
// `bash scripts/package.sh` puts them (scripts/test.sh runs it first). Without them the tests skip.
#pragma once

#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "build_info.hpp"
#include "tests/harness/harness.hpp"

namespace dvdi::test {

inline fs::path packages_dir() {
    if (const char* dir = std::getenv("DVDI_PACKAGES_DIR"); dir != nullptr && *dir != '\0') {
        return dir;
    }
    return build_root() / "packages";
}

/// The binary package ("deb" or "rpm") built by scripts/package.sh for this version (not
/// dbgsym, not the source rpm), or nothing.
inline std::optional<fs::path> find_package(const std::string& kind) {
    const std::string prefix = kind == "deb" ? std::string("dvdi-hook_") + DVDI_VERSION + "-1_"
                                             : std::string("dvdi-hook-") + DVDI_VERSION + "-1.";
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(packages_dir(), ec)) {
        const std::string name = e.path().filename().string();
        if (name.starts_with(prefix) && name.ends_with("." + kind) && !name.ends_with(".src.rpm")) {
            return e.path();
        }
    }
    return std::nullopt;
}

/// The values of `key` in `[section]` of a systemd unit file's text, in order (no line
/// continuations or drop-ins: the packaged units use neither).
inline std::vector<std::string> unit_values(const std::string& unit, const std::string& section,
                                            const std::string& key) {
    std::vector<std::string> out;
    std::istringstream in(unit);
    std::string current;
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#' || line[0] == ';') {
            continue;
        }
        if (line.front() == '[' && line.back() == ']') {
            current = line.substr(1, line.size() - 2);
        } else if (current == section && line.starts_with(key + "=")) {
            out.push_back(line.substr(key.size() + 1));
        }
    }
    return out;
}

/// The command line of a unit's single `ExecStart=`, split at spaces (the packaged unit quotes
/// nothing and uses no `-`/`@`/`+` prefix; the test of the unit file checks both).
inline std::vector<std::string> exec_start_argv(const std::string& unit) {
    const auto values = unit_values(unit, "Service", "ExecStart");
    std::vector<std::string> argv;
    if (values.size() != 1) {
        return argv;
    }
    std::istringstream words(values[0]);
    for (std::string w; words >> w;) {
        argv.push_back(w);
    }
    return argv;
}

} // namespace dvdi::test

/// Declares `const fs::path var`, the package of `kind`; skips the test when it is not built.
#define DVDI_REQUIRE_PACKAGE(var, kind)                                                                                \
    const auto var##_found = ::dvdi::test::find_package(kind);                                                         \
    if (!var##_found) {                                                                                                \
        DVDI_SKIP(std::string("no ") + (kind) + " package for version " + DVDI_VERSION + " in " +                      \
                  ::dvdi::test::packages_dir().string() + ": build them with `bash scripts/package.sh`");              \
    }                                                                                                                  \
    const fs::path var = *var##_found
