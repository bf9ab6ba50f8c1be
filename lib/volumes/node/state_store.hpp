// Where the node's state lives (SPEC S4): the seam between the node logic and its store, the
// real store on disk, and the per-volume locks that serialise driver calls across hooks.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/volumes/node/state.hpp"
#include "lib/volumes/node/state_locks.hpp"

namespace dvdi::volumes {

/// The seam between the node logic and where the state lives.
class StateStore {
  public:
    virtual ~StateStore() = default;
    /// Gives `change` the rows `scope` names and no others (state_scope.hpp), and writes back
    /// durably, before returning, the rows it added, changed or erased, all in one
    /// transaction. If `change` throws, nothing is written. A change that looks up, erases or
    /// records a row outside its scope throws core::Error. Never call a driver from `change`:
    /// other hooks wait for the store meanwhile. A hook names its scope; Scope::all() is for
    /// gc and tests.
    virtual void transact(const Scope& scope, const std::function<void(State&)>& change) = 0;
    /// A consistent snapshot of the rows `scope` names.
    [[nodiscard]] virtual State read(const Scope& scope) = 0;
    /// All of it (gc, list, doctor).
    [[nodiscard]] State read() { return read(Scope::all()); }
    /// Serialises driver calls for one volume across hooks on the node; different volumes do
    /// not wait for each other. Blocks until the lock is free.
    [[nodiscard]] virtual std::unique_ptr<Lock> lock_volume(const VolumeKey& key) = 0;
    /// The locks of all `keys` at once (duplicates taken once), in an order every hook uses, so
    /// two hooks that need some of the same volumes never wait for each other in a circle.
    [[nodiscard]] virtual std::unique_ptr<Lock> lock_volumes(const std::vector<VolumeKey>& keys) = 0;
    /// Removes what the store keeps for volume locks that no record needs and no hook holds
    /// (left by a hook that was killed); returns how many. Stores without such files: 0.
    virtual std::size_t sweep_locks() { return 0; }
};

/// The real store, in `dir`: state.db (SQLite, state_db.cpp), locks/<hash>.lock per volume
/// (removed with the volume's last record), state.json (a pointer to state.db that version 1
/// refuses; a version-1 state.json is migrated, state_migrate.hpp). Creates `dir` (0700) when
/// missing and refuses one that is not root's or is writable by group or others
/// (core::ensure_private_dir). The database is opened at the first read or change: a read on a
/// node without a state finds it empty and creates nothing; the first change creates it.
/// Throws core::SysError on I/O errors and core::Error naming the file when it is damaged or of
/// an unknown version: the hook never starts over silently while mounts may exist. The store
/// must not be used across fork(): open one in each process.
[[nodiscard]] std::unique_ptr<StateStore> open_state_store(const std::string& dir);

/// Whether `dir` holds a state of the node at all (state.db or state.json), without opening
/// it: what a hook of a container without volumes needs to say "none".
[[nodiscard]] bool has_state(const std::string& dir);

} // namespace dvdi::volumes
