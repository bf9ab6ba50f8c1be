// The SQLite C API as the node's state uses it: a prepared statement, one use of it, and errors
// that name the database file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace dvdi::volumes {

/// How long a hook waits for another hook's write transaction before it gives up (SQLite's busy
/// timeout): transactions hold a few rows, never a driver call.
inline constexpr int kBusyTimeoutMs = 60'000;

/// Throws core::Error ``state database `PATH`: MESSAGE``: SQLite's words, the errno behind them
/// when a system call failed, and what to do with a database that is not one or is corrupt.
[[noreturn]] void fail_sqlite(sqlite3* db, int rc, const std::string& path);
/// fail_sqlite() unless `rc` is SQLITE_OK.
void check_sqlite(sqlite3* db, int rc, const std::string& path);

/// A file: URI for `path`, for sqlite3_open_v2 with SQLITE_OPEN_URI.
[[nodiscard]] std::string file_uri(const std::string& path);

/// Whether the file system holding `path` (a file or a directory) is mounted read-only.
[[nodiscard]] bool on_read_only_fs(const std::string& path);

/// One prepared statement of a StateDb; reset (and its bindings cleared) by Query.
class Statement {
  public:
    Statement(sqlite3* db, const char* sql, const std::string& path);
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement();

  private:
    friend class Query;
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
    const std::string& path_;
};

/// One use of a Statement: bind, step through the rows, and the statement is reset when the
/// Query goes. Throws core::Error naming the database for what SQLite refuses.
class Query {
  public:
    explicit Query(Statement& s) : s_(s) {}
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;
    ~Query();

    Query& bind(int i, std::string_view text);
    Query& bind(int i, std::int64_t value);
    Query& bind_null(int i);
    /// True with a row to read, false when done.
    bool step();
    /// Steps a statement that returns no rows.
    void run();
    [[nodiscard]] std::string text(int column) const;
    [[nodiscard]] std::int64_t integer(int column) const;
    [[nodiscard]] bool is_null(int column) const;

  private:
    Statement& s_;
};

} // namespace dvdi::volumes
