// The flock(2)s of the state dir: <dir>/state.lock (the migration from version 1) and one file
// per volume under <dir>/locks (driver calls for one volume never overlap across hooks). flock
// locks die with their holder, so a SIGKILLed hook never leaves the node locked.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lib/core/fd.hpp"
#include "lib/volumes/requests/request.hpp"

namespace dvdi::volumes {

/// Holds a lock until destroyed.
class Lock {
  public:
    virtual ~Lock() = default;
};

/// An flock(2) on `path`, created (0600) when missing, held until destroyed. A lock file may be
/// removed by its holder (remove()), so one that waited may wake up holding a file no longer
/// in the directory: it checks that the path still names the very file it locked, and
/// otherwise takes the new one. Throws core::SysError.
class FileLock final : public Lock {
  public:
    /// `operation`: LOCK_EX or LOCK_SH.
    FileLock(std::string path, int operation);

    /// Removes the file while the lock is still held (then unlocks as it closes), unless the
    /// path names another file by now.
    void remove() noexcept;

  private:
    std::string path_;
    core::UniqueFd fd_;
};

/// Whether `path` still names the file open as `fd`.
[[nodiscard]] bool names_locked_file(int fd, const std::string& path) noexcept;

/// FNV-1a, 64 bits, continuing from `h`: lock file names, and the fingerprint of a migrated
/// state.json.
[[nodiscard]] std::uint64_t fnv1a(std::string_view data, std::uint64_t h = 14695981039346656037ULL) noexcept;

/// The file name of a volume's lock: FNV-1a over "driver\0name", a fixed length for any volume
/// name. A collision only makes two volumes share a lock.
[[nodiscard]] std::string lock_name(const VolumeKey& key);

} // namespace dvdi::volumes
