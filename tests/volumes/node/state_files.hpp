// What the tests look at and do to a state dir's files behind the store's back: the database's
// schema version (an older or newer dvdi-hook), and version 1's state.json.
#pragma once

#include <sqlite3.h>

#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/node/state.hpp"

namespace dvdi::test {

/// Runs `statement` on the database at `path` (created when missing) through a connection of
/// its own; returns the first column of the last row as text ("" without rows).
inline std::string sql(const std::string& path, const std::string& statement) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
        const std::string error = sqlite3_errmsg(db);
        sqlite3_close(db);
        throw core::Error(fmt::format("sqlite3_open {}: {}", path, error));
    }
    std::string result;
    char* error = nullptr;
    const int rc = sqlite3_exec(
        db, statement.c_str(),
        [](void* out, int columns, char** values, char**) {
            *static_cast<std::string*>(out) = columns > 0 && values[0] != nullptr ? values[0] : "";
            return 0;
        },
        &result, &error);
    const std::string message = error != nullptr ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    if (rc != SQLITE_OK) {
        throw core::Error(fmt::format("{} on {}: {}", statement, path, message));
    }
    return result;
}

/// The state.json a version-1 dvdi-hook (0.1.0) wrote: `{"version": 1, ...}` as its store
/// dumped it (one space of indent, a newline at the end).
inline std::string version_1_text(const volumes::State& s) {
    return nlohmann::json(s).dump(1) + "\n";
}

} // namespace dvdi::test
