// The real StateStore: the rows in SQLite (state_db.cpp), loaded and written by scope
// (state_scope.cpp), the migration from version 1 (state_migrate.cpp), and a flock(2) file per
// volume for its driver calls (state_locks.cpp).
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

#include "lib/core/core.hpp"
#include "lib/volumes/node/state_db.hpp"
#include "lib/volumes/node/state_migrate.hpp"
#include "lib/volumes/node/state_scope.hpp"
#include "lib/volumes/node/state_store.hpp"

namespace dvdi::volumes {

namespace {

using core::UniqueFd;

void make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
        core::throw_errno("mkdir", path);
    }
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

class SqliteStateStore final : public StateStore {
  public:
    explicit SqliteStateStore(const std::string& dir) : paths_(dir) {
        core::ensure_private_dir(paths_.dir, 0700, "state dir");
    }

    void transact(const Scope& scope, const std::function<void(State&)>& change) override {
        const std::lock_guard guard(mutex_);
        open(true)->write([&](RowSource& rows) {
            State s = load(scope, rows);
            const State before = s;
            change(s);
            return diff(before, s);
        });
    }

    using StateStore::read;
    State read(const Scope& scope) override {
        const std::lock_guard guard(mutex_);
        State s;
        if (StateDb* db = open(false)) {
            db->read([&](RowSource& rows) { s = load(scope, rows); });
        } else {
            StateRows rows(version_1_);
            s = load(scope, rows);
        }
        return s;
    }

    std::unique_ptr<Lock> lock_volume(const VolumeKey& key) override { return lock_volumes({key}); }

    std::unique_ptr<Lock> lock_volumes(const std::vector<VolumeKey>& keys) override {
        // Ordered by lock file name, so two keys that share a file (a hash collision) are taken
        // once, not twice (which would wait for itself).
        std::map<std::string, std::vector<VolumeKey>> names;
        for (const auto& k : keys) {
            names[lock_name(k)].push_back(k);
        }
        make_dir(paths_.locks);
        auto all = std::make_unique<VolumeLocks>(*this);
        for (auto& [name, of] : names) {
            all->held.push_back({name, std::move(of), std::make_unique<FileLock>(paths_.locks + "/" + name, LOCK_EX)});
            const std::lock_guard guard(held_mutex_);
            held_.insert(name);
        }
        return all;
    }

    std::size_t sweep_locks() override {
        std::error_code ec;
        std::vector<std::string> unneeded;
        const auto needed = needed_lock_names(read());
        for (const auto& entry : std::filesystem::directory_iterator(paths_.locks, ec)) {
            const std::string name = entry.path().filename().string();
            if (!needed.contains(name) && !holds(name)) {
                unneeded.push_back(name);
            }
        }
        std::size_t removed = 0;
        for (const auto& name : unneeded) {
            // Not waited for: a lock some hook holds is in use (it removes the file itself).
            const std::string path = paths_.locks + "/" + name;
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
    // go when no row names its volumes any more (the volume's last record went): tenants name
    // volumes, and one file per name ever used would fill /run.
    struct VolumeLocks final : Lock {
        struct Held {
            std::string name;
            std::vector<VolumeKey> keys;
            std::unique_ptr<FileLock> lock;
        };
        explicit VolumeLocks(SqliteStateStore& store) : store(store) {}
        ~VolumeLocks() override {
            for (auto& h : held) {
                if (!store.needed(h.keys)) {
                    h.lock->remove();
                }
                const std::lock_guard guard(store.held_mutex_);
                store.held_.erase(h.name);
            }
        }
        SqliteStateStore& store;
        std::vector<Held> held;
    };

    bool holds(const std::string& name) {
        const std::lock_guard guard(held_mutex_);
        return held_.contains(name);
    }

    // Whether a row names one of `keys`. Nobody else changes their rows meanwhile: that takes
    // their lock, which the caller holds.
    bool needed(const std::vector<VolumeKey>& keys) noexcept {
        try {
            const std::lock_guard guard(mutex_);
            StateDb* db = open(false);
            return db == nullptr ? false
                                 : std::any_of(keys.begin(), keys.end(), [&](const auto& k) { return db->names(k); });
        } catch (...) {
            return true; // unknown: keep it (gc sweeps it later)
        }
    }

    // The database, opened (and migrated to, or created when `create`) once. nullptr when
    // there is none and !create: the state is empty, or the version-1 file read as it is.
    StateDb* open(bool create) {
        if (db_) {
            return db_.get();
        }
        switch (prepare_state_db(paths_, create)) {
        case Found::database:
            db_ = std::make_unique<StateDb>(paths_.db, create ? StateDb::Open::write : StateDb::Open::read);
            return db_.get();
        case Found::read_only_v1:
            version_1_ = read_version_1(paths_);
            return nullptr;
        case Found::nothing:
            version_1_ = State{};
            return nullptr;
        }
        return nullptr;
    }

    StatePaths paths_;
    std::mutex mutex_; // one connection: one transaction at a time
    std::unique_ptr<StateDb> db_;
    State version_1_; // the state when there is no database to open
    /// The names of the volume lock files this store holds.
    std::set<std::string> held_;
    std::mutex held_mutex_;
};

} // namespace

std::unique_ptr<StateStore> open_state_store(const std::string& dir) {
    return std::make_unique<SqliteStateStore>(dir);
}

bool has_state(const std::string& dir) {
    const StatePaths paths(dir);
    return ::access(paths.db.c_str(), F_OK) == 0 || ::access(paths.json.c_str(), F_OK) == 0;
}

} // namespace dvdi::volumes
