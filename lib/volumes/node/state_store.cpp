// The file-backed StateStore. One JSON file, replaced atomically (core::replace_file: write
// state.json.tmp, fsync it, rename it over state.json, fsync the directory). A crash at any instant leaves either the
// old or the new file, never a torn one. flock(2) locks die with their holder, so a SIGKILLed
// hook never leaves the node locked.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/node/state_store.hpp"

namespace dvdi::volumes {

namespace {

using core::UniqueFd;

// Whether `path` still names the file open as `fd` (a lock file may have been removed, and
// another created in its place, since it was opened).
bool names_locked_file(int fd, const std::string& path) noexcept {
    struct stat held {};
    struct stat named {};
    return ::fstat(fd, &held) == 0 && ::lstat(path.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
           held.st_dev == named.st_dev;
}

// An flock(2) on a file that is created when missing. A volume's lock file is removed with
// the volume's last record (by its holder, before it unlocks), so a hook that waited on it may
// wake up holding a file no longer in the directory: it checks that the path still names the
// very file it locked, and otherwise takes the new one.
class FileLock final : public Lock {
  public:
    FileLock(std::string path, int operation) : path_(std::move(path)) {
        for (;;) {
            fd_.reset(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
            if (!fd_ && errno == EROFS) {
                // A read-only state dir can still be read (list, doctor); flock works on any fd.
                fd_.reset(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
                errno = fd_ ? 0 : EROFS;
            }
            if (!fd_) {
                core::throw_errno("open", path_);
            }
            while (::flock(fd_.get(), operation) != 0) {
                if (errno != EINTR) {
                    core::throw_errno("flock", path_);
                }
            }
            if (names_locked_file(fd_.get(), path_)) {
                return;
            }
        }
    }

    /// Removes the file while the lock is still held (then unlocks as it closes), unless the
    /// path names another file by now.
    void remove() noexcept {
        if (names_locked_file(fd_.get(), path_)) {
            ::unlink(path_.c_str());
        }
    }

  private:
    std::string path_;
    UniqueFd fd_;
};

void make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
        core::throw_errno("mkdir", path);
    }
}

// FNV-1a over "driver\0name": a fixed-length file name for any volume name. A collision only
// makes two volumes share a lock.
std::string lock_name(const VolumeKey& key) {
    std::uint64_t h = 14695981039346656037ULL;
    const auto mix = [&h](std::string_view s) {
        for (const char c : s) {
            h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
        }
    };
    mix(key.driver);
    mix(std::string_view("\0", 1));
    mix(key.name);
    return fmt::format("{:016x}.lock", h);
}

// The lock file names the state still needs: those of every recorded volume and placement.
std::set<std::string> needed_lock_names(const State& s) {
    std::set<std::string> names;
    for (const auto& v : s.volumes) {
        names.insert(lock_name(v.key));
    }
    for (const auto& c : s.containers) {
        for (const auto& p : c.volumes) {
            names.insert(lock_name(p.key));
        }
    }
    return names;
}

class FileStateStore final : public StateStore {
  public:
    explicit FileStateStore(std::string dir)
        : dir_(std::move(dir)), locks_dir_(dir_ + "/locks"), state_path_(dir_ + "/state.json"),
          lock_path_(dir_ + "/state.lock") {
        core::ensure_private_dir(dir_, 0700, "state dir");
    }

    void transact(const std::function<void(State&)>& change) override {
        FileLock lock(lock_path_, LOCK_EX);
        const std::string before = read_text();
        State s = before.empty() ? State{} : parse_state(before, state_path_);
        change(s);
        const std::string after = nlohmann::json(s).dump(1) + "\n";
        if (after != before) {
            core::replace_file(state_path_, after);
        }
        note_needed(s);
    }

    State read() override {
        FileLock lock(lock_path_, LOCK_SH);
        const std::string text = read_text();
        return text.empty() ? State{} : parse_state(text, state_path_);
    }

    std::unique_ptr<Lock> lock_volume(const VolumeKey& key) override { return lock_volumes({key}); }

    std::unique_ptr<Lock> lock_volumes(const std::vector<VolumeKey>& keys) override {
        // Ordered by lock file name, so two keys that share a file (a hash collision) are taken
        // once, not twice (which would wait for itself).
        std::vector<std::string> names;
        names.reserve(keys.size());
        for (const auto& k : keys) {
            names.push_back(lock_name(k));
        }
        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end());
        make_dir(locks_dir_);
        auto all = std::make_unique<VolumeLocks>(*this);
        for (const auto& name : names) {
            all->held.emplace_back(name, std::make_unique<FileLock>(locks_dir_ + "/" + name, LOCK_EX));
            const std::lock_guard guard(held_mutex_);
            held_[name] = std::nullopt;
        }
        return all;
    }

    std::size_t sweep_locks() override {
        std::error_code ec;
        std::vector<std::string> unneeded;
        const auto needed = needed_lock_names(read());
        for (const auto& entry : std::filesystem::directory_iterator(locks_dir_, ec)) {
            const std::string name = entry.path().filename().string();
            if (!needed.contains(name) && !holds(name)) {
                unneeded.push_back(name);
            }
        }
        std::size_t removed = 0;
        for (const auto& name : unneeded) {
            // Not waited for: a lock some hook holds is in use (it removes the file itself).
            const std::string path = locks_dir_ + "/" + name;
            UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
            if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
                continue;
            }
            // The file locked must be the one the path names: its holder may have removed it
            // meanwhile, and another hook created and locked a new one there.
            if (!names_locked_file(fd.get(), path)) {
                continue;
            }
            // Holding it, no record of its volume can appear (recording one takes this lock).
            if (!needed_lock_names(read()).contains(name) && ::unlink(path.c_str()) == 0) {
                ++removed;
            }
        }
        return removed;
    }

  private:
    // The volume locks of one lock_volumes() call. Each lock file is removed before it is let
    // go when the state no longer needs it (the volume's last record went): tenants name
    // volumes, and one file per name ever used would fill /run.
    struct VolumeLocks final : Lock {
        explicit VolumeLocks(FileStateStore& store) : store(store) {}
        ~VolumeLocks() override {
            for (auto& [name, lock] : held) {
                if (!store.needed(name)) {
                    lock->remove();
                }
                const std::lock_guard guard(store.held_mutex_);
                store.held_.erase(name);
            }
        }
        FileStateStore& store;
        std::vector<std::pair<std::string, std::unique_ptr<FileLock>>> held;
    };

    bool holds(const std::string& name) {
        const std::lock_guard guard(held_mutex_);
        return held_.contains(name);
    }

    // After a transaction: which held lock files its state still needs.
    void note_needed(const State& s) {
        const std::lock_guard guard(held_mutex_);
        if (held_.empty()) {
            return;
        }
        const auto names = needed_lock_names(s);
        for (auto& [name, needed] : held_) {
            needed = names.contains(name);
        }
    }

    // Whether a held lock file is still needed: known from the last transaction, else read.
    // Nobody else changes the volume's records meanwhile: that takes this lock.
    bool needed(const std::string& name) noexcept {
        try {
            {
                const std::lock_guard guard(held_mutex_);
                if (const auto it = held_.find(name); it != held_.end() && it->second) {
                    return *it->second;
                }
            }
            return needed_lock_names(read()).contains(name);
        } catch (...) {
            return true; // unknown: keep it (gc sweeps it later)
        }
    }

    // The file's text; empty when there is no state file yet.
    std::string read_text() const {
        UniqueFd fd(::open(state_path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        if (!fd) {
            if (errno == ENOENT) {
                return {};
            }
            core::throw_errno("open", state_path_);
        }
        std::string text = core::read_all(fd.get(), state_path_);
        if (text.empty()) {
            throw core::Error(fmt::format("state file {} is empty; it is left as it is", state_path_));
        }
        return text;
    }

    std::string dir_;
    std::string locks_dir_;
    std::string state_path_;
    std::string lock_path_;
    /// The volume lock files this store holds, and whether the last transaction's state still
    /// needs each (nullopt: no transaction since it was taken).
    std::map<std::string, std::optional<bool>> held_;
    std::mutex held_mutex_;
};

} // namespace

std::unique_ptr<StateStore> open_state_store(const std::string& dir) {
    return std::make_unique<FileStateStore>(dir);
}

} // namespace dvdi::volumes
