// Where the [packaging] tests find the packages: $DVDI_PACKAGES_DIR, or build/packages, where
// `bash scripts/package.sh` puts them (scripts/test.sh runs it first). Without them the tests skip.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

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

} // namespace dvdi::test

/// Declares `const fs::path var`, the package of `kind`; skips the test when it is not built.
#define DVDI_REQUIRE_PACKAGE(var, kind)                                                                                \
    const auto var##_found = ::dvdi::test::find_package(kind);                                                         \
    if (!var##_found) {                                                                                                \
        DVDI_SKIP(std::string("no ") + (kind) + " package for version " + DVDI_VERSION + " in " +                      \
                  ::dvdi::test::packages_dir().string() + ": build them with `bash scripts/package.sh`");              \
    }                                                                                                                  \
    const fs::path var = *var##_found
