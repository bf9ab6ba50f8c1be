#include "lib/volumes/node/state_sqlite.hpp"

#include <sys/statvfs.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <sqlite3.h>

#include "lib/core/core.hpp"

namespace dvdi::volumes {

// SQLite's own words, the errno behind them when a system call failed, and what to do.
[[noreturn]] void fail_sqlite(sqlite3* db, int rc, const std::string& path) {
    const int primary = rc & 0xff;
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    const int sys = db != nullptr ? sqlite3_system_errno(db) : 0;
    if (sys != 0 && (primary == SQLITE_IOERR || primary == SQLITE_FULL || primary == SQLITE_CANTOPEN ||
                     primary == SQLITE_READONLY || primary == SQLITE_PERM)) {
        message += fmt::format(" ({})", std::strerror(sys));
    } else if (primary == SQLITE_FULL) {
        // A write that found no room: SQLite keeps no errno for it (its page limit is never hit).
        message += fmt::format(" ({})", std::strerror(ENOSPC));
    }
    if (primary == SQLITE_BUSY) {
        message += fmt::format(" (another hook held it for more than {} s)", kBusyTimeoutMs / 1000);
    }
    if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) {
        message += "; it is left as it is: inspect it, and move it aside only when nothing it records is mounted";
    }
    throw core::Error(fmt::format("state database `{}`: {}", path, message));
}

void check_sqlite(sqlite3* db, int rc, const std::string& path) {
    if (rc != SQLITE_OK) {
        fail_sqlite(db, rc, path);
    }
}

// A file: URI for `path` (RFC 3986: what is not unreserved or '/' is %-escaped).
std::string file_uri(const std::string& path) {
    std::string uri = "file:";
    for (const unsigned char c : path) {
        if (std::isalnum(c) != 0 || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
            uri += static_cast<char>(c);
        } else {
            uri += fmt::format("%{:02X}", c);
        }
    }
    return uri;
}

bool on_read_only_fs(const std::string& path) {
    struct statvfs st {};
    return ::statvfs(path.c_str(), &st) == 0 && (st.f_flag & ST_RDONLY) != 0;
}

Statement::Statement(sqlite3* db, const char* sql, const std::string& path) : db_(db), path_(path) {
    check_sqlite(db, sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr), path);
}

Statement::~Statement() {
    sqlite3_finalize(stmt_);
}

Query::~Query() {
    sqlite3_reset(s_.stmt_);
    sqlite3_clear_bindings(s_.stmt_);
}

Query& Query::bind(int i, std::string_view text) {
    check_sqlite(s_.db_, sqlite3_bind_text64(s_.stmt_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
                 s_.path_);
    return *this;
}

Query& Query::bind(int i, std::int64_t value) {
    check_sqlite(s_.db_, sqlite3_bind_int64(s_.stmt_, i, value), s_.path_);
    return *this;
}

Query& Query::bind_null(int i) {
    check_sqlite(s_.db_, sqlite3_bind_null(s_.stmt_, i), s_.path_);
    return *this;
}

bool Query::step() {
    const int rc = sqlite3_step(s_.stmt_);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc != SQLITE_DONE) {
        fail_sqlite(s_.db_, rc, s_.path_);
    }
    return false;
}

void Query::run() {
    while (step()) {
    }
}

std::string Query::text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_.stmt_, column));
    return p == nullptr ? std::string()
                        : std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_.stmt_, column)));
}

std::int64_t Query::integer(int column) const {
    return sqlite3_column_int64(s_.stmt_, column);
}

bool Query::is_null(int column) const {
    return sqlite3_column_type(s_.stmt_, column) == SQLITE_NULL;
}

} // namespace dvdi::volumes
