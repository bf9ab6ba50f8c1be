// The node's state in SQLite (<state_dir>/state.db): one connection, its pragmas, the schema,
// and the rows read and written by key. The store (state_store.cpp) decides when; this file
// knows how.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "lib/volumes/node/state.hpp"
#include "lib/volumes/node/state_scope.hpp"
#include "lib/volumes/node/state_sqlite.hpp"

namespace dvdi::volumes {

/// The version of the state kept in state.db (its PRAGMA user_version). Version 1 was the
/// whole state in one JSON file, state.json (state_migrate.cpp).
inline constexpr int kSchemaVersion = 2;

/// A connection to a state database.
class StateDb {
  public:
    enum class Open {
        write,  ///< the database must exist; reads and writes
        read,   ///< the database must exist; on a read-only file system, read without locks
        create, ///< a new database (its file must not exist): the schema is made (build_state_db)
    };
    /// Opens `path` and, unless `create`, checks that it is a state database of this
    /// schema version. Throws core::Error naming the file and the version it found.
    StateDb(std::string path, Open mode);
    StateDb(const StateDb&) = delete;
    StateDb& operator=(const StateDb&) = delete;
    ~StateDb();

    /// One write transaction (BEGIN IMMEDIATE, waiting up to the busy timeout for another
    /// hook's to end): `change` reads rows and returns what to write; they are written and
    /// committed, durably, before it returns. When anything throws, nothing is written.
    void write(const std::function<StateChanges(RowSource&)>& change);
    /// One read transaction: a consistent snapshot for `reader`.
    void read(const std::function<void(RowSource&)>& reader);
    /// Whether any row (a volume or a placement) names `key`.
    [[nodiscard]] bool names(const VolumeKey& key);
    /// A note kept in the database (the meta table), "" when unset.
    [[nodiscard]] std::string note(const std::string& key);
    [[nodiscard]] const std::string& path() const { return path_; }

  private:
    friend void build_state_db(const std::string& path, const State& state, const std::string& migrated_from);
    class Rows;
    void exec(const char* sql);
    void check_schema();
    void put(const StateChanges& changes);
    Statement& prepared(int id);

    std::string path_;
    sqlite3* db_ = nullptr;
    std::unique_ptr<Statement> statements_[24];
};

/// Writes a complete state database at `path` holding `state` (its file must not exist):
/// schema, rows and notes in one transaction, then switched to WAL and closed, so that no -wal
/// or -shm file is left beside it, and fsynced. `migrated_from` is kept as the note
/// "migrated_from" ("" : none). Throws core::Error; `path` may then be left half written.
void build_state_db(const std::string& path, const State& state, const std::string& migrated_from);

} // namespace dvdi::volumes
