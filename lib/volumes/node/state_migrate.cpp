#include "lib/volumes/node/state_migrate.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/node/state_db.hpp"
#include "lib/volumes/node/state_locks.hpp"

namespace dvdi::volumes {

namespace {

using nlohmann::json;

// What state.json holds in place of the state once it is in state.db. Version 1 (0.1.0) reads
// the version first and refuses it: "state file ... has version 2, this dvdi-hook knows
// version 1; it is left as it is": an older hook run on this node stops instead of starting
// over on an empty state. Its version stays 2 whatever the database's schema version becomes.
constexpr int kPointerVersion = 2;
const std::string kPointer = json{{"version", kPointerVersion},
                                  {"moved_to", "state.db"},
                                  {"note", "this node's state is in state.db (SQLite); a dvdi-hook that reads only "
                                           "state.json is older than it and must not run on this node"}}
                                 .dump(1) +
                             "\n";

enum class JsonKind { absent, version_1, pointer };

struct JsonFile {
    JsonKind kind = JsonKind::absent;
    std::string text;
};

bool exists(const std::string& path) {
    if (::access(path.c_str(), F_OK) == 0) {
        return true;
    }
    if (errno != ENOENT) {
        core::throw_errno("access", path);
    }
    return false;
}

// Which state.json this is. Version 1 is only recognised here (parse_state reads it); anything
// else is an error that names the file.
JsonFile read_json(const std::string& path) {
    core::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        if (errno == ENOENT) {
            return {};
        }
        core::throw_errno("open", path);
    }
    JsonFile f{JsonKind::version_1, core::read_all(fd.get(), path)};
    if (f.text.empty()) {
        throw core::Error(fmt::format("state file {} is empty; it is left as it is", path));
    }
    const json doc = json::parse(f.text, nullptr, false);
    if (!doc.is_object() || !doc.contains("version") || !doc["version"].is_number_integer() || doc["version"] == 1) {
        return f; // version 1, or damaged: parse_state says which
    }
    if (doc["version"] != kPointerVersion) {
        throw core::Error(fmt::format("state file {} has version {}, this dvdi-hook knows version 1 (which it moves "
                                      "to state.db) and {} (a pointer to state.db); it is left as it is (was a newer "
                                      "dvdi-hook installed and then removed?)",
                                      path, doc["version"].dump(), kPointerVersion));
    }
    if (!doc.contains("moved_to") || doc["moved_to"] != "state.db") {
        throw core::Error(fmt::format("state file {} has version {} but does not point to state.db; it is left as "
                                      "it is",
                                      path, kPointerVersion));
    }
    f.kind = JsonKind::pointer;
    return f;
}

void fsync_dir(const std::string& dir) {
    core::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd || ::fsync(fd.get()) != 0) {
        core::throw_errno("fsync", dir);
    }
}

void remove_if_there(const std::string& path) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        core::throw_errno("unlink", path);
    }
}

// Replaced whole (core::replace_file): the old state file or pointer, or the new pointer.
void write_pointer(const StatePaths& paths) {
    core::replace_file(paths.json, kPointer);
}

// The migrated file, as the database notes it: a later look tells whether state.json is still
// the one state.db was made from.
std::string fingerprint(const std::string& text) {
    return fmt::format("state.json version 1, {} bytes, FNV-1a {:016x}", text.size(), fnv1a(text));
}

// state.db appears complete or not at all: built as state.db.tmp, renamed.
void build(const StatePaths& paths, const State& state, const std::string& migrated_from) {
    const std::string tmp = paths.db + ".tmp";
    const auto remove_tmp = [&] {
        for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
            remove_if_there(tmp + suffix);
        }
    };
    remove_tmp(); // what a migration cut short left
    try {
        build_state_db(tmp, state, migrated_from);
        if (::rename(tmp.c_str(), paths.db.c_str()) != 0) {
            core::throw_errno("rename", paths.db);
        }
    } catch (...) {
        try {
            remove_tmp();
        } catch (const std::exception&) { // the error that matters is the first one
        }
        throw;
    }
    fsync_dir(paths.dir);
}

// Version 1 never wrote a key twice; a file edited by hand may. The database keeps one row per
// key, so a second one would silently replace the first (and its placements): refused instead.
void refuse_duplicates(const State& s, const std::string& path) {
    std::set<std::string> seen;
    for (const auto& v : s.volumes) {
        if (!seen.insert(fmt::format("{}", v.key)).second) {
            throw core::Error(fmt::format("state file {} records volume {} twice; it is left as it is", path, v.key));
        }
    }
    seen.clear();
    for (const auto& c : s.containers) {
        if (!seen.insert(c.id).second) {
            throw core::Error(fmt::format("state file {} records container {} twice; it is left as it is", path, c.id));
        }
    }
}

// No state.db, but the last changes of one: SQLite would replay a -wal or a hot -journal into
// the database built next (their pages are not tied to a file), bringing back the records of
// the database that was moved or deleted, or corrupting the new one. Nothing here makes them
// without a state.db beside them: someone moved state.db away and left them.
void refuse_orphaned_journal(const StatePaths& paths) {
    for (const char* suffix : {"-wal", "-journal"}) {
        const std::string left = paths.db + suffix;
        if (exists(left)) {
            throw core::Error(fmt::format("state dir {} holds {} but no state.db: the last changes of a database "
                                          "that is not there; put state.db back beside it, or move {} (and "
                                          "state.db-shm) aside with it",
                                          paths.dir, left, left));
        }
    }
    remove_if_there(paths.db + "-shm"); // an index of a -wal that is gone: rebuilt from the -wal
}

// state.db is there: state.json must be (or become) its pointer.
void point_to_db(const StatePaths& paths, const JsonFile& file) {
    if (file.kind == JsonKind::version_1) {
        // A migration cut short after the rename, unless the file changed since.
        (void)parse_state(file.text, paths.json); // one that does not parse is said as such
        const std::string made_from = StateDb(paths.db, StateDb::Open::write).note("migrated_from");
        if (made_from != fingerprint(file.text)) {
            throw core::Error(fmt::format(
                "state dir {} holds both state.db and a version-1 state.json that it was not made from (did an "
                "older dvdi-hook run on this node after the upgrade?); both are left as they are: keep the one "
                "that records what is mounted, and move the other aside",
                paths.dir));
        }
        core::log::info("finishing the migration of {} to {}", paths.json, paths.db);
    }
    if (file.kind != JsonKind::pointer) {
        write_pointer(paths);
    }
}

// No state.db: one from the version-1 file, or an empty one for a new node (when `create`).
Found make_db(const StatePaths& paths, const JsonFile& file, bool create) {
    switch (file.kind) {
    case JsonKind::pointer:
        throw core::Error(fmt::format("state file {} says the state moved to {}, which is missing; the hook does not "
                                      "start over while volumes may be mounted: restore it, or remove {} once "
                                      "nothing this node mounted is mounted any more",
                                      paths.json, paths.db, paths.json));
    case JsonKind::absent:
        if (!create) {
            return Found::nothing;
        }
        build(paths, State{}, "");
        break;
    case JsonKind::version_1: {
        const State state = parse_state(file.text, paths.json);
        refuse_duplicates(state, paths.json);
        build(paths, state, fingerprint(file.text));
        core::log::info("migrated the node's state from {} (version 1: {} volume(s), {} container(s)) to {}",
                        paths.json, state.volumes.size(), state.containers.size(), paths.db);
        break;
    }
    }
    write_pointer(paths);
    return Found::database;
}

} // namespace

Found prepare_state_db(const StatePaths& paths, bool create) {
    // The common case, without the lock: the database and its pointer are in place.
    const bool have_db = exists(paths.db);
    if (have_db && read_json(paths.json).kind == JsonKind::pointer) {
        return Found::database;
    }
    if (!have_db && !create) {
        const JsonKind kind = read_json(paths.json).kind;
        if (kind == JsonKind::absent) {
            return Found::nothing;
        }
        if (kind == JsonKind::version_1 && on_read_only_fs(paths.dir)) {
            return Found::read_only_v1;
        }
    }
    // Every hook that finds anything else takes the lock version 1 took for each change (so no
    // older hook is between its read and its write of state.json), and looks again.
    const FileLock lock(paths.lock, LOCK_EX);
    const JsonFile file = read_json(paths.json);
    if (exists(paths.db)) {
        point_to_db(paths, file);
        return Found::database;
    }
    refuse_orphaned_journal(paths);
    return make_db(paths, file, create);
}

State read_version_1(const StatePaths& paths) {
    const JsonFile file = read_json(paths.json);
    if (file.kind != JsonKind::version_1) {
        return State{};
    }
    return parse_state(file.text, paths.json);
}

} // namespace dvdi::volumes
