// From version 1 (the whole state in <state_dir>/state.json) to version 2 (<state_dir>/state.db),
// once per node, by the first hook that opens the store after an upgrade.
#pragma once

#include <string>

#include "lib/volumes/node/state.hpp"

namespace dvdi::volumes {

/// The files of a state dir.
struct StatePaths {
    explicit StatePaths(const std::string& dir)
        : dir(dir), db(dir + "/state.db"), json(dir + "/state.json"), lock(dir + "/state.lock"), locks(dir + "/locks") {
    }
    std::string dir;
    std::string db;    ///< the state (version 2)
    std::string json;  ///< version 1's state; since version 2 a pointer to state.db that 0.1.0 refuses
    std::string lock;  ///< flock'ed by version 1 around every change; by version 2 around the migration
    std::string locks; ///< the volume locks
};

/// What a state dir holds for the store to open.
enum class Found {
    database,     ///< state.db, complete
    nothing,      ///< no state at all (a new node), and nothing was created
    read_only_v1, ///< a version-1 state.json on a read-only file system: it cannot be migrated
};

/// Makes state.db the node's state, under the state.lock flock:
///  - state.json of version 1 and no state.db: builds state.db.tmp from it (rows, and the
///    file's fingerprint), fsyncs it, renames it to state.db, fsyncs the dir, then replaces
///    state.json by the pointer (write temp, fsync, rename), which version 1 refuses to read;
///  - state.db and a version-1 state.json: a migration cut short after the rename: the
///    database wins when it was made from this very file (the fingerprint), and the pointer is
///    written; otherwise (the file changed since: an older dvdi-hook ran) an error, both kept;
///  - state.db and no state.json: a new node cut short before the pointer: it is written;
///  - neither: with `create`, an empty state.db (built the same way) and the pointer; without,
///    Found::nothing and nothing is created (the read-only paths: list, a poststop).
/// A crash at any point leaves the old file (the migration is done again; a state.db.tmp left
/// over is removed first) or the complete database. Throws core::Error naming the file for a
/// state.json that does not parse or is of an unknown version, for a pointer whose state.db is
/// gone (the hook never starts over while mounts may exist), and core::SysError for I/O.
[[nodiscard]] Found prepare_state_db(const StatePaths& paths, bool create);

/// The state of a version-1 state.json (Found::read_only_v1). Throws as parse_state().
[[nodiscard]] State read_version_1(const StatePaths& paths);

} // namespace dvdi::volumes
