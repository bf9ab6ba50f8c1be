// The state in SQLite. The pragmas, and why:
//
//   journal_mode=WAL   (set once, when the file is built; it is kept in the file) A commit
//                      appends the changed pages to state.db-wal and fsyncs that one file;
//                      readers (list, a hook's first look) never wait for a writer.
//   synchronous=FULL   In WAL mode, NORMAL skips the fsync at commit: a commit survives a
//                      SIGKILL of the hook (its pages are in the kernel's cache) but not a power
//                      cut, which can roll back the last commits. The state records an intent
//                      before each driver call; a lost intent after a power cut on a disk-backed
//                      state_dir is an attachment (an EBS volume outlives the node's reboot) the
//                      node no longer knows of. FULL makes every commit durable before the driver
//                      is called. On the default /run (tmpfs) the fsync costs nothing.
//   busy_timeout       Instead of one flock over the whole state: a writer waits for another
//                      hook's transaction (a few rows, never held across a driver call) and gives
//                      up, with an error, after kBusyTimeoutMs (60 s).
//   temp_store=MEMORY  What SQLite would spill to a temporary file (no query here needs one)
//                      stays in memory, never in a file outside the state dir.
//   page_size=1024     (set when the file is built) Rows are a few hundred bytes; a hook reads
//                      and writes a handful of pages, and smaller pages are less memory to
//                      fault in and less WAL to write and checkpoint: 0.3-0.5 ms of a hook.
//   no bulk page cache (SQLITE_CONFIG_PAGECACHE 0) SQLite's first page-cache allocation is
//                      for 20 pages at once; a hook, a short process, then faults in heap pages it
//                      never uses. Pages are allocated as needed instead.
//
// PRAGMA user_version holds the schema version (kSchemaVersion), application_id marks the file
// as dvdi-hook's: a database of another version, or not ours, is an error that names it.
#include "lib/volumes/node/state_db.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "lib/core/core.hpp"

namespace dvdi::volumes {

namespace {

using nlohmann::json;

constexpr int kApplicationId = 0x64766469; // "dvdi"

// Placements have a table of their own rather than a JSON column of their container: "which
// containers place this volume" (dropping a volume's record, forget, whether a volume's lock
// file is still needed) is then an index lookup, not a scan of every container. A volume's
// users and options are read and written with its row, always whole: JSON columns.
constexpr const char* kSchema = R"(
CREATE TABLE volumes (
    driver TEXT NOT NULL,
    name TEXT NOT NULL,
    mount_id TEXT NOT NULL,
    mountpoint TEXT NOT NULL,
    options TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('mounting', 'mounted', 'unmounting', 'unmount_failed')),
    users TEXT NOT NULL,
    intent_pid INTEGER NOT NULL,
    intent_start_time INTEGER NOT NULL,
    intent_at INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    UNIQUE (driver, name)
);
CREATE TABLE containers (
    id TEXT NOT NULL UNIQUE,
    runtime TEXT NOT NULL,
    pid INTEGER NOT NULL,
    start_time INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('acquiring', 'active'))
);
CREATE TABLE placements (
    container_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    driver TEXT NOT NULL,
    name TEXT NOT NULL,
    target TEXT NOT NULL,
    placed INTEGER NOT NULL,
    container_path TEXT,
    read_only INTEGER NOT NULL,
    PRIMARY KEY (container_id, seq)
) WITHOUT ROWID;
CREATE INDEX placements_by_volume ON placements (driver, name);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
)";

enum Sql : int {
    kUserVersion,
    kApplicationIdOf,
    kBegin,
    kBeginImmediate,
    kCommit,
    kRollback,
    kSelectVolume,
    kSelectContainer,
    kSelectPlacements,
    kSelectPlacing,
    kAllVolumes,
    kAllContainers,
    kAllPlacements,
    kUpsertVolume,
    kDeleteVolume,
    kUpsertContainer,
    kDeleteContainer,
    kDeletePlacements,
    kInsertPlacement,
    kNames,
    kSelectNote,
    kPutNote,
    kSqlCount,
};

constexpr const char* kSql[kSqlCount] = {
    "PRAGMA user_version",
    "PRAGMA application_id",
    "BEGIN",
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    "SELECT mount_id, mountpoint, options, status, users, intent_pid, intent_start_time, intent_at, last_error, "
    "driver, name FROM volumes WHERE driver = ?1 AND name = ?2",
    "SELECT runtime, pid, start_time, status, id FROM containers WHERE id = ?1",
    "SELECT driver, name, target, placed, container_path, read_only, container_id FROM placements "
    "WHERE container_id = ?1 ORDER BY seq",
    "SELECT DISTINCT c.id, c.rowid FROM placements p JOIN containers c ON c.id = p.container_id "
    "WHERE p.driver = ?1 AND p.name = ?2 ORDER BY c.rowid",
    "SELECT mount_id, mountpoint, options, status, users, intent_pid, intent_start_time, intent_at, last_error, "
    "driver, name FROM volumes ORDER BY rowid",
    "SELECT runtime, pid, start_time, status, id FROM containers ORDER BY rowid",
    "SELECT driver, name, target, placed, container_path, read_only, container_id FROM placements "
    "ORDER BY container_id, seq",
    "INSERT INTO volumes (driver, name, mount_id, mountpoint, options, status, users, intent_pid, "
    "intent_start_time, intent_at, last_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
    "ON CONFLICT (driver, name) DO UPDATE SET mount_id = excluded.mount_id, mountpoint = excluded.mountpoint, "
    "options = excluded.options, status = excluded.status, users = excluded.users, "
    "intent_pid = excluded.intent_pid, intent_start_time = excluded.intent_start_time, "
    "intent_at = excluded.intent_at, last_error = excluded.last_error",
    "DELETE FROM volumes WHERE driver = ?1 AND name = ?2",
    "INSERT INTO containers (id, runtime, pid, start_time, status) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (id) DO UPDATE SET runtime = excluded.runtime, pid = excluded.pid, "
    "start_time = excluded.start_time, status = excluded.status",
    "DELETE FROM containers WHERE id = ?1",
    "DELETE FROM placements WHERE container_id = ?1",
    "INSERT INTO placements (container_id, seq, driver, name, target, placed, container_path, read_only) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "SELECT EXISTS (SELECT 1 FROM volumes WHERE driver = ?1 AND name = ?2) "
    "OR EXISTS (SELECT 1 FROM placements WHERE driver = ?1 AND name = ?2)",
    "SELECT value FROM meta WHERE key = ?1",
    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
};

void fsync_path(const std::string& path) {
    core::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd || ::fsync(fd.get()) != 0) {
        core::throw_errno("fsync", path);
    }
}

} // namespace

namespace {

// The columns of kSelectVolume/kAllVolumes, kSelectContainer/kAllContainers and
// kSelectPlacements/kAllPlacements, in that order.
VolumeRecord volume_row(const Query& q, const std::string& path) {
    VolumeRecord v;
    v.key = {q.text(9), q.text(10)};
    try {
        v.mount_id = q.text(0);
        v.mountpoint = q.text(1);
        json::parse(q.text(2)).get_to(v.options);
        v.status = parse_volume_status(q.text(3));
        json::parse(q.text(4)).get_to(v.users);
        v.intent_by = {static_cast<pid_t>(q.integer(5)), static_cast<std::uint64_t>(q.integer(6))};
        v.intent_at = q.integer(7);
        v.last_error = q.text(8);
    } catch (const std::exception& e) {
        throw core::Error(fmt::format("state database `{}`: the row of volume {} is damaged ({}); it is left as it is",
                                      path, v.key, e.what()));
    }
    return v;
}

ContainerRecord container_row(const Query& q, const std::string& path) {
    ContainerRecord c;
    c.id = q.text(4);
    c.runtime = q.text(0);
    c.process = {static_cast<pid_t>(q.integer(1)), static_cast<std::uint64_t>(q.integer(2))};
    try {
        c.status = parse_container_status(q.text(3));
    } catch (const std::exception& e) {
        throw core::Error(fmt::format("state database `{}`: the row of container {} is damaged ({}); it is left as "
                                      "it is",
                                      path, c.id, e.what()));
    }
    return c;
}

Placement placement_row(const Query& q) {
    Placement p;
    p.key = {q.text(0), q.text(1)};
    p.target = q.text(2);
    p.placed = q.integer(3) != 0;
    if (!q.is_null(4)) {
        p.container_path = q.text(4);
    }
    p.mode = q.integer(5) != 0 ? Mode::ro : Mode::rw;
    return p;
}

} // namespace

// The rows of the database, for state_scope.cpp's load(): each a lookup by key.
class StateDb::Rows final : public RowSource {
  public:
    explicit Rows(StateDb& db) : db_(db) {}

    std::optional<VolumeRecord> volume(const VolumeKey& key) override {
        Query q(db_.prepared(kSelectVolume));
        q.bind(1, key.driver).bind(2, key.name);
        if (!q.step()) {
            return std::nullopt;
        }
        return volume_row(q, db_.path_);
    }

    std::optional<ContainerRecord> container(const std::string& id) override {
        std::optional<ContainerRecord> c;
        {
            Query q(db_.prepared(kSelectContainer));
            q.bind(1, id);
            if (!q.step()) {
                return std::nullopt;
            }
            c = container_row(q, db_.path_);
        }
        Query q(db_.prepared(kSelectPlacements));
        q.bind(1, id);
        while (q.step()) {
            c->volumes.push_back(placement_row(q));
        }
        return c;
    }

    std::vector<std::string> containers_placing(const VolumeKey& key) override {
        std::vector<std::string> ids;
        Query q(db_.prepared(kSelectPlacing));
        q.bind(1, key.driver).bind(2, key.name);
        while (q.step()) {
            ids.push_back(q.text(0));
        }
        return ids;
    }

    State everything() override {
        State s;
        {
            Query q(db_.prepared(kAllVolumes));
            while (q.step()) {
                s.volumes.push_back(volume_row(q, db_.path_));
            }
        }
        std::map<std::string, std::size_t> index;
        {
            Query q(db_.prepared(kAllContainers));
            while (q.step()) {
                index.emplace(q.text(4), s.containers.size());
                s.containers.push_back(container_row(q, db_.path_));
            }
        }
        Query q(db_.prepared(kAllPlacements));
        while (q.step()) {
            if (const auto it = index.find(q.text(6)); it != index.end()) {
                s.containers[it->second].volumes.push_back(placement_row(q));
            }
        }
        return s;
    }

  private:
    StateDb& db_;
};

namespace {

// A database restored by hand may be anyone's and of any mode. Root acts on its records: one
// that another user owns or may write is refused; one that others may read (a `cp` under umask
// 022) is made root's alone again, as build_state_db made it.
void check_file(const std::string& path) {
    const core::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) {
        core::throw_errno("open", path);
    }
    if (st.st_uid != ::geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        throw core::Error(fmt::format("state database `{}` is owned by uid {} with mode {:04o}: it must be root's "
                                      "and writable by root only; it is left as it is",
                                      path, st.st_uid, st.st_mode & 07777));
    }
    if ((st.st_mode & (S_IRGRP | S_IROTH | S_IXGRP | S_IXOTH)) != 0) {
        if (::fchmod(fd.get(), 0600) == 0) {
            core::log::info("state database {}: mode {:04o} made 0600 (it names every container's volumes)", path,
                            st.st_mode & 07777);
        } else if (errno != EROFS) {
            core::throw_errno("chmod", path);
        }
    }
}

} // namespace

StateDb::StateDb(std::string path, Open mode) : path_(std::move(path)) {
    // Before SQLite initialises, once per process (see the top of this file).
    static const int no_bulk_page_cache = sqlite3_config(SQLITE_CONFIG_PAGECACHE, nullptr, 0, 0);
    (void)no_bulk_page_cache;
    if (mode != Open::create) {
        check_file(path_);
    }
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE;
    std::string name = path_;
    if (mode == Open::create) {
        flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    } else if (mode == Open::read && on_read_only_fs(path_)) {
        // A WAL database needs its -shm (and to create it) even to read. On a read-only file
        // system nobody can write it: without a -wal file, all of it is in the file itself, and
        // it can be read as immutable (no locks, no -shm). A -shm means a connection has it
        // open (the last one removes both): then it is read with locks, as it may change (a
        // read-only bind mount of a state dir that the host's hooks still write).
        const bool quiet =
            ::access((path_ + "-wal").c_str(), F_OK) != 0 && ::access((path_ + "-shm").c_str(), F_OK) != 0;
        flags |= SQLITE_OPEN_READONLY | SQLITE_OPEN_URI;
        name = file_uri(path_) + "?mode=ro" + (quiet ? "&immutable=1" : "");
    } else {
        flags |= SQLITE_OPEN_READWRITE;
    }
    const int rc = sqlite3_open_v2(name.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        const std::string_view why = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        const int sys = db_ != nullptr ? sqlite3_system_errno(db_) : 0;
        sqlite3_close_v2(db_);
        db_ = nullptr;
        if (sys != 0) {
            throw core::SysError("open", path_, sys);
        }
        throw core::Error(fmt::format("state database `{}`: {}", path_, why));
    }
    try {
        check_sqlite(db_, sqlite3_busy_timeout(db_, kBusyTimeoutMs), path_);
        exec("PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY");
        if (mode != Open::create) {
            Query q(prepared(kApplicationIdOf));
            const std::int64_t app = q.step() ? q.integer(0) : 0;
            if (app != kApplicationId) {
                throw core::Error(fmt::format(
                    "state database `{}` is not a dvdi-hook state database (application_id {:#x}); it is left as it is",
                    path_, app));
            }
            check_schema();
        }
    } catch (...) {
        for (auto& s : statements_) {
            s.reset();
        }
        sqlite3_close_v2(db_);
        throw;
    }
}

StateDb::~StateDb() {
    for (auto& s : statements_) {
        s.reset();
    }
    // The last connection of a WAL database checkpoints it and removes the -wal and -shm files.
    sqlite3_close_v2(db_);
}

Statement& StateDb::prepared(int id) {
    auto& s = statements_[id];
    if (!s) {
        s = std::make_unique<Statement>(db_, kSql[id], path_);
    }
    return *s;
}

void StateDb::exec(const char* sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
        sqlite3_free(error);
        fail_sqlite(db_, rc, path_);
    }
}

void StateDb::check_schema() {
    Query q(prepared(kUserVersion));
    const std::int64_t version = q.step() ? q.integer(0) : 0;
    if (version != kSchemaVersion) {
        throw core::Error(fmt::format("state database `{}` has schema version {}, this dvdi-hook knows version {}; it "
                                      "is left as it is (was a newer dvdi-hook installed and then removed?)",
                                      path_, version, kSchemaVersion));
    }
}

void StateDb::write(const std::function<StateChanges(RowSource&)>& change) {
    Query(prepared(kBeginImmediate)).run();
    try {
        check_schema();
        Rows rows(*this);
        put(change(rows));
        Query(prepared(kCommit)).run();
    } catch (...) {
        if (sqlite3_get_autocommit(db_) == 0) {
            Query(prepared(kRollback)).run();
        }
        throw;
    }
}

void StateDb::read(const std::function<void(RowSource&)>& reader) {
    Query(prepared(kBegin)).run();
    try {
        check_schema();
        Rows rows(*this);
        reader(rows);
        Query(prepared(kCommit)).run();
    } catch (...) {
        if (sqlite3_get_autocommit(db_) == 0) {
            Query(prepared(kRollback)).run();
        }
        throw;
    }
}

bool StateDb::names(const VolumeKey& key) {
    Query q(prepared(kNames));
    q.bind(1, key.driver).bind(2, key.name);
    return q.step() && q.integer(0) != 0;
}

std::string StateDb::note(const std::string& key) {
    Query q(prepared(kSelectNote));
    q.bind(1, key);
    return q.step() ? q.text(0) : std::string();
}

void StateDb::put(const StateChanges& changes) {
    for (const auto& key : changes.erased_volumes) {
        Query(prepared(kDeleteVolume)).bind(1, key.driver).bind(2, key.name).run();
    }
    for (const auto& id : changes.erased_containers) {
        Query(prepared(kDeletePlacements)).bind(1, id).run();
        Query(prepared(kDeleteContainer)).bind(1, id).run();
    }
    for (const auto& v : changes.put_volumes) {
        Query(prepared(kUpsertVolume))
            .bind(1, v.key.driver)
            .bind(2, v.key.name)
            .bind(3, v.mount_id)
            .bind(4, v.mountpoint)
            .bind(5, json(v.options).dump())
            .bind(6, to_string(v.status))
            .bind(7, json(v.users).dump())
            .bind(8, std::int64_t{v.intent_by.pid})
            .bind(9, static_cast<std::int64_t>(v.intent_by.start_time))
            .bind(10, v.intent_at)
            .bind(11, v.last_error)
            .run();
    }
    for (const auto& c : changes.put_containers) {
        Query(prepared(kUpsertContainer))
            .bind(1, c.id)
            .bind(2, c.runtime)
            .bind(3, std::int64_t{c.process.pid})
            .bind(4, static_cast<std::int64_t>(c.process.start_time))
            .bind(5, to_string(c.status))
            .run();
        Query(prepared(kDeletePlacements)).bind(1, c.id).run();
        std::int64_t seq = 0;
        for (const auto& p : c.volumes) {
            Query q(prepared(kInsertPlacement));
            q.bind(1, c.id).bind(2, seq++).bind(3, p.key.driver).bind(4, p.key.name).bind(5, p.target);
            q.bind(6, std::int64_t{p.placed ? 1 : 0});
            p.container_path ? q.bind(7, *p.container_path) : q.bind_null(7);
            q.bind(8, std::int64_t{p.mode == Mode::ro ? 1 : 0});
            q.run();
        }
    }
}

void build_state_db(const std::string& path, const State& state, const std::string& migrated_from) {
    // SQLite would create it 0644, and its -wal, -shm and -journal files take its mode: the
    // state names every tenant's containers and volumes, so it is root's alone, whatever the
    // state dir's mode (0755 is allowed). An empty file is an empty database.
    if (const core::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        !fd) {
        core::throw_errno("create", path);
    }
    {
        StateDb db(path, StateDb::Open::create);
        db.exec("PRAGMA page_size = 1024; PRAGMA journal_mode = DELETE");
        db.exec("BEGIN IMMEDIATE");
        db.exec(kSchema);
        db.exec(fmt::format("PRAGMA application_id = {}; PRAGMA user_version = {}", kApplicationId, kSchemaVersion)
                    .c_str());
        StateChanges all;
        all.put_volumes = state.volumes;
        all.put_containers = state.containers;
        db.put(all);
        if (!migrated_from.empty()) {
            Query(db.prepared(kPutNote)).bind(1, "migrated_from").bind(2, migrated_from).run();
        }
        db.exec("COMMIT");
        db.exec("PRAGMA journal_mode = WAL");
    }
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
        if (::access((path + suffix).c_str(), F_OK) == 0) {
            throw core::Error(
                fmt::format("state database `{}`: its {} file is still there after it was closed", path, suffix));
        }
    }
    fsync_path(path);
}

} // namespace dvdi::volumes
