// Where the node's state lives (SPEC S4): the seam between the node logic and its store, the
// real store on disk, and the per-volume locks that serialise driver calls across hooks.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lib/volumes/node/state.hpp"

namespace dvdi::volumes {

/// Holds a lock until destroyed.
class Lock {
  public:
    virtual ~Lock() = default;
};

/// The seam between the node logic and where the state lives.
class StateStore {
  public:
    virtual ~StateStore() = default;
    /// Reads the state under the store lock, lets `change` modify it, and writes it back
    /// durably before returning. If `change` throws, nothing is written. Never call a driver
    /// from `change`: other hooks wait for the lock meanwhile.
    virtual void transact(const std::function<void(State&)>& change) = 0;
    /// A consistent snapshot.
    [[nodiscard]] virtual State read() = 0;
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

/// The real store: <dir>/state.json, <dir>/state.lock (flock), <dir>/locks/<hash>.lock per
/// volume, removed with the volume's last record. Creates `dir` (0700) when missing and refuses
/// one that is not root's or is writable by group or others (core::ensure_private_dir).
/// Throws core::SysError on I/O errors and
/// core::Error naming the file when it does not parse or has an unknown version: the hook
/// never starts over silently while mounts may exist.
[[nodiscard]] std::unique_ptr<StateStore> open_state_store(const std::string& dir);

} // namespace dvdi::volumes
