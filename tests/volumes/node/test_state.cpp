// The state store: the database and its schema version, scopes, refusal to start over, a full
// or read-only state dir, locks across processes. (The migration from version 1:
// test_state_migration.cpp.)
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/node/state_store.hpp"
#include "lib/volumes/requests/validate.hpp"
#include "tests/harness/harness.hpp"
#include "tests/ns/fake_container.hpp"
#include "tests/volumes/node/fakes.hpp"
#include "tests/volumes/node/state_files.hpp"

using namespace dvdi;
using namespace dvdi::volumes;
using dvdi::test::read_file;
using dvdi::test::TempDir;
using dvdi::test::write_file;
namespace fs = std::filesystem;

namespace {

VolumeRecord record(const std::string& name) {
    return VolumeRecord{{"local", name},       "id-" + name, "/m/" + name, {{"size", "1"}},
                        VolumeStatus::mounted, {"c1"},       {42, 7},      ""};
}

ContainerRecord container(const std::string& id, const std::vector<std::string>& volumes) {
    ContainerRecord c{id, "oci", {42, 7}, ContainerStatus::active, {}};
    for (const auto& v : volumes) {
        c.volumes.push_back(Placement{{"local", v}, "/d/" + v, true, "/d/" + v, Mode::rw});
    }
    return c;
}

// Three volumes and two containers: c1 holds v1 and v2, c2 holds v2.
void seed(StateStore& store) {
    store.transact(Scope::all(), [](State& s) {
        s.volumes = {record("v1"), record("v2"), record("v3")};
        s.volumes[1].users = {"c1", "c2"};
        s.volumes[2].users.clear();
        s.containers = {container("c1", {"v1", "v2"}), container("c2", {"v2"})};
    });
}

std::vector<std::string> names(const State& s) {
    std::vector<std::string> out;
    for (const auto& v : s.volumes) {
        out.push_back(v.key.name);
    }
    for (const auto& c : s.containers) {
        out.push_back(c.id);
    }
    return out;
}

// What every store does with scopes: the real one and the tests' fake alike.
void check_scopes(StateStore& store) {
    seed(store);
    const State all = store.read();
    CHECK(names(store.read(Scope{.volumes = {{"local", "v1"}}})) == std::vector<std::string>{"v1"});
    CHECK(names(store.read(Scope{.volumes = {{"local", "v2"}, {"local", "gone"}}, .containers = {"c2", "c9"}})) ==
          std::vector<std::string>{"v2", "c2"});
    // A container's volumes, and a volume's containers, when asked.
    CHECK(names(store.read(Scope{.containers = {"c1"}, .their_volumes = true})) ==
          std::vector<std::string>{"v1", "v2", "c1"});
    CHECK(names(store.read(Scope{.volumes = {{"local", "v2"}}, .their_containers = true})) ==
          std::vector<std::string>{"v2", "c1", "c2"});
    CHECK(names(store.read(Scope{})).empty());

    // A change sees its rows only; looking up another is an error, never "not recorded".
    CHECK_THROWS_WITH(store.transact(Scope{.volumes = {{"local", "v1"}}},
                                     [](State& s) {
                                         CHECK(s.volumes.size() == 1);
                                         CHECK(s.containers.empty());
                                         s.volumes[0].mountpoint = "/changed";
                                         (void)s.find_volume({"local", "v2"});
                                     }),
                      "the state change needs volume local/v2, which is outside its scope");
    CHECK_THROWS_WITH(
        store.transact(Scope{.volumes = {{"local", "v1"}}}, [](State& s) { (void)s.find_container("c1"); }),
        "the state change needs container c1, which is outside its scope");
    // Recording a row outside it is refused as a whole.
    CHECK_THROWS_WITH(store.transact(Scope{.volumes = {{"local", "v1"}}},
                                     [](State& s) {
                                         s.volumes[0].mountpoint = "/changed";
                                         s.volumes.push_back(record("v9"));
                                     }),
                      "the state change records volume local/v9, which is outside its scope");
    CHECK_THROWS_WITH(
        store.transact(Scope{.containers = {"c1"}}, [](State& s) { s.containers.push_back(s.containers.front()); }),
        "the state change records container c1 twice");
    CHECK(store.read().volumes == all.volumes);

    // Rows named but not recorded can be added; erased ones go; the others stay as they were.
    store.transact(Scope{.volumes = {{"local", "v1"}, {"local", "v4"}}, .containers = {"c1", "c3"}}, [](State& s) {
        REQUIRE(s.find_volume({"local", "v4"}) == nullptr);
        s.erase_volume({"local", "v1"});
        s.volumes.push_back(record("v4"));
        s.erase_container("c1");
        s.containers.push_back(container("c3", {"v4"}));
    });
    const State after = store.read();
    CHECK(names(after) == std::vector<std::string>{"v2", "v3", "v4", "c2", "c3"});
    CHECK(after.volumes[0] == all.volumes[1]);
    CHECK(after.containers[0] == all.containers[1]);
    CHECK(after.containers[1] == container("c3", {"v4"}));
}

} // namespace

TEST_CASE("the state round-trips through the database, of the current schema version", "[volumes][state]") {
    TempDir dir;
    const auto store = open_state_store((dir / "state").string());
    CHECK(store->read().empty()); // no database yet: nothing recorded, and nothing created
    CHECK(test::listing(dir / "state").empty());
    ContainerRecord c{"c1", "oci", {42, 7}, ContainerStatus::active, {{{"local", "v1"}, "/d", true}}};
    c.volumes.push_back(Placement{{"local", "v2"}, "", false, std::nullopt, Mode::ro});
    store->transact(Scope::all(), [&](State& s) {
        s.volumes.push_back(record("v1"));
        s.volumes.push_back(record("v2"));
        s.volumes[1].status = VolumeStatus::mounting;
        s.volumes[1].intent_at = 1700000000;
        s.volumes[1].last_error = "a \"quoted\"\nerror";
        s.containers.push_back(c);
    });
    const auto db = (dir / "state/state.db").string();
    CHECK(test::sql(db, "PRAGMA user_version") == "2");
    CHECK(test::sql(db, "PRAGMA journal_mode") == "wal");
    CHECK(test::sql(db, "PRAGMA page_size") == "1024"); // small rows: small pages (state_db.cpp)
    // What a local user would read in a 0755 state dir: every tenant's containers and volumes.
    // The database and the files SQLite makes beside it while the store is open are root's alone.
    for (const char* file : {"state.db", "state.db-wal", "state.db-shm"}) {
        INFO(file);
        struct stat st {};
        REQUIRE(::stat((dir / "state" / file).c_str(), &st) == 0);
        CHECK((st.st_mode & 07777) == 0600);
    }
    CHECK(test::sql(db, "SELECT status FROM volumes WHERE name = 'v2'") == "mounting");
    // state.json points at it, in a form version 1 refuses.
    const auto pointer = nlohmann::json::parse(read_file(dir / "state/state.json"));
    CHECK(pointer["version"] == 2);
    CHECK(pointer["moved_to"] == "state.db");
    const State s = open_state_store((dir / "state").string())->read();
    REQUIRE(s.volumes.size() == 2);
    CHECK(s.volumes[0] == record("v1"));
    CHECK(s.volumes[1].intent_at == 1700000000);
    CHECK(s.volumes[1].last_error == "a \"quoted\"\nerror");
    REQUIRE(s.containers.size() == 1);
    CHECK(s.containers[0] == c);
    CHECK_FALSE(s.scope.has_value());
    CHECK_FALSE(fs::exists(dir / "state/state.db.tmp"));
}

TEST_CASE("the version-1 reader (0.1.0's) refuses the pointer that replaces state.json", "[volumes][state]") {
    TempDir dir;
    open_state_store(dir.path().string())->transact(Scope{}, [](State&) {});
    CHECK_THROWS_WITH(parse_state(read_file(dir / "state.json"), "/run/dvdi/state.json"),
                      Catch::StartsWith("state file /run/dvdi/state.json has version 2, this dvdi-hook knows "
                                        "version 1; it is left as it is"));
}

TEST_CASE("a container left `releasing` by an early 0.1.0 build is read as active", "[volumes][state]") {
    // Those builds marked a container releasing during its poststop; one cut short left it so.
    // It must still parse (the node's mounts are behind it) and be gc's to release.
    const std::string text = R"({"version":1,"volumes":[],"containers":[{"id":"c1","runtime":"oci",
        "process":{"pid":42,"start_time":7},"status":"releasing","volumes":[]}]})";
    const State s = parse_state(text, "state.json");
    REQUIRE(s.containers.size() == 1);
    CHECK(s.containers[0].status == ContainerStatus::active);
    CHECK_THROWS_WITH(parse_state(std::string(text).replace(text.find("releasing"), 9, "leaving"), "state.json"),
                      Catch::Contains("unknown container status \"leaving\""));
}

TEST_CASE("a change that throws writes nothing", "[volumes][state]") {
    TempDir dir;
    const auto store = open_state_store(dir.path().string());
    store->transact(Scope::all(), [](State& s) { s.volumes.push_back(record("v1")); });
    const State before = store->read();
    CHECK_THROWS_WITH(store->transact(Scope::all(),
                                      [](State& s) {
                                          s.volumes.clear();
                                          throw core::Error("changed my mind");
                                      }),
                      "changed my mind");
    CHECK(store->read().volumes == before.volumes);
    CHECK(open_state_store(dir.path().string())->read().volumes == before.volumes);
}

TEST_CASE("a change sees the rows of its scope only, and writes back what it changed", "[volumes][state]") {
    SECTION("the database") {
        TempDir dir;
        check_scopes(*open_state_store(dir.path().string()));
    }
    SECTION("the tests' fake") {
        test::MemoryStateStore fake;
        check_scopes(fake);
    }
}

TEST_CASE("a damaged, foreign or newer database is an error that names it, and is left alone", "[volumes][state]") {
    TempDir dir;
    const std::string db = (dir / "state.db").string();
    open_state_store(dir.path().string())->transact(Scope::all(), [](State& s) { s.volumes.push_back(record("v1")); });
    std::string says;
    SECTION("newer") {
        // What a later dvdi-hook left, found by this one after a downgrade.
        test::sql(db, "PRAGMA user_version = 3");
        says = "state database `" + db + "` has schema version 3, this dvdi-hook knows version 2; it is left as it is";
    }
    SECTION("not dvdi-hook's") {
        fs::remove(db);
        test::sql(db, "CREATE TABLE t (x)");
        says = "state database `" + db + "` is not a dvdi-hook state database (application_id 0x0)";
    }
    SECTION("not a database") {
        fs::remove(db);
        write_file(db, std::string(8192, 'x'));
        says = "state database `" + db + "`: file is not a database; it is left as it is";
    }
    const std::string before = read_file(db);
    const auto store = open_state_store(dir.path().string());
    CHECK_THROWS_WITH(store->read(), Catch::StartsWith(says));
    CHECK_THROWS_WITH(store->transact(Scope::all(), [](State& s) { s.volumes.clear(); }), Catch::StartsWith(says));
    CHECK(read_file(db) == before); // never silently started over
}

TEST_CASE("a newer schema written while a hook runs stops its next change", "[volumes][state]") {
    TempDir dir;
    const auto store = open_state_store(dir.path().string());
    store->transact(Scope::all(), [](State& s) { s.volumes.push_back(record("v1")); });
    test::sql((dir / "state.db").string(), "PRAGMA user_version = 3");
    CHECK_THROWS_WITH(store->transact(Scope{.volumes = {{"local", "v1"}}}, [](State& s) { s.volumes.clear(); }),
                      Catch::Contains("has schema version 3, this dvdi-hook knows version 2"));
    CHECK_THROWS_WITH(store->read(), Catch::Contains("has schema version 3"));
    CHECK(test::sql((dir / "state.db").string(), "SELECT count(*) FROM volumes") == "1");
}

TEST_CASE("a read-only state dir and a full disk are clear errors that keep the old state", "[volumes][state][root]") {
    DVDI_REQUIRE_ROOT();
    TempDir dir;
    dvdi::test::in_private_mount_ns([&] {
        const std::string mnt = dir.path().string();
        REQUIRE(::mount("dvdi-state", mnt.c_str(), "tmpfs", 0, "size=256k") == 0);
        {
            const auto store = open_state_store(mnt + "/state");
            store->transact(Scope::all(), [](State& s) { s.volumes.push_back(record("v1")); });

            // Full: fill the tmpfs, then try to record a large change.
            std::ofstream filler(mnt + "/filler", std::ios::binary);
            const std::string block(4096, 'x');
            while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) {
            }
            filler.close();
            REQUIRE_THROWS_WITH(store->transact(Scope::all(),
                                                [](State& s) {
                                                    for (int i = 0; i < 200; ++i) {
                                                        s.volumes.push_back(
                                                            record("volume-with-a-long-name-" + std::to_string(i)));
                                                    }
                                                }),
                                Catch::StartsWith("state database `" + mnt + "/state/state.db`: ") &&
                                    Catch::Contains("No space left on device"));
            REQUIRE(store->read().volumes == std::vector<VolumeRecord>{record("v1")});
            std::filesystem::remove(mnt + "/filler");
        }
        REQUIRE(open_state_store(mnt + "/state")->read().volumes.size() == 1);

        // Read-only (remounted once no hook has the database open for writing): it can be read,
        // not changed.
        REQUIRE(::mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0);
        {
            const auto store = open_state_store(mnt + "/state");
            REQUIRE(store->read().volumes == std::vector<VolumeRecord>{record("v1")});
            REQUIRE_THROWS_WITH(store->transact(Scope::all(), [](State& s) { s.volumes.clear(); }),
                                Catch::StartsWith("state database `" + mnt + "/state/state.db`: "));
            REQUIRE(store->read().volumes.size() == 1);
        }
        REQUIRE(::umount(mnt.c_str()) == 0);
    });
}

TEST_CASE("volume locks exclude other processes for the same volume only", "[volumes][state]") {
    TempDir dir;
    const auto store = open_state_store(dir.path().string());
    int to_child[2], to_parent[2];
    REQUIRE(::pipe(to_child) == 0);
    REQUIRE(::pipe(to_parent) == 0);
    // The child must not inherit the parent's lock fd (a flock belongs to the open file, which
    // the child would keep open): fork first, then lock, then let the child go.
    const pid_t child = ::fork();
    if (child == 0) {
        const auto failures = test::run_child_body([&] {
            char go = 0;
            [[maybe_unused]] auto r = ::read(to_child[0], &go, 1);
            const auto s = open_state_store(dir.path().string());
            { auto other = s->lock_volume({"local", "b"}); } // a different volume: no wait
            [[maybe_unused]] auto n = ::write(to_parent[1], "b", 1);
            auto same = s->lock_volume({"local", "a"}); // waits for the parent
            n = ::write(to_parent[1], "a", 1);
        });
        ::_exit(failures.empty() ? 0 : 1);
    }
    ::close(to_parent[1]); // a child that fails is EOF here, not a wait for ever
    auto held = store->lock_volume({"local", "a"});
    REQUIRE(::write(to_child[1], "g", 1) == 1);
    char c = 0;
    REQUIRE(::read(to_parent[0], &c, 1) == 1);
    CHECK(c == 'b');
    // The child is now blocked on "a": nothing more arrives while the parent holds it.
    ::usleep(200'000);
    int avail = 0;
    ::ioctl(to_parent[0], FIONREAD, &avail);
    CHECK(avail == 0);
    held.reset();
    REQUIRE(::read(to_parent[0], &c, 1) == 1);
    CHECK(c == 'a');
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST_CASE("the locks of several volumes are taken at once, each once, in one order", "[volumes][state]") {
    TempDir dir;
    const auto store = open_state_store(dir.path().string());
    const std::vector<VolumeKey> keys = {{"local", "a"}, {"local", "b"}, {"local", "c"}};
    int to_child[2], to_parent[2];
    REQUIRE(::pipe(to_child) == 0);
    REQUIRE(::pipe(to_parent) == 0);
    // Each child wants "c" and one of the volumes the parent holds, in either order: both wait
    // for the parent, neither for the other. (Forked before the parent locks: a child must not
    // inherit the parent's lock files, whose flocks it would then keep.)
    std::vector<pid_t> children;
    for (const auto& order : {std::vector<VolumeKey>{keys[2], keys[0]}, std::vector<VolumeKey>{keys[1], keys[2]}}) {
        const pid_t child = ::fork();
        if (child == 0) {
            const auto failures = test::run_child_body([&] {
                char go = 0;
                [[maybe_unused]] auto r = ::read(to_child[0], &go, 1);
                const auto s = open_state_store(dir.path().string());
                auto both = s->lock_volumes(order);
                [[maybe_unused]] auto n = ::write(to_parent[1], "x", 1);
            });
            ::_exit(failures.empty() ? 0 : 1);
        }
        children.push_back(child);
    }
    ::close(to_parent[1]); // a child that fails is EOF here, not a wait for ever
    // The same volume twice is one lock (a second flock of the same file would wait for itself).
    auto held = store->lock_volumes({keys[1], keys[0], keys[1]});
    REQUIRE(::write(to_child[1], "gg", 2) == 2);
    ::usleep(200'000);
    int avail = 0;
    ::ioctl(to_parent[0], FIONREAD, &avail);
    CHECK(avail == 0); // both wait for the parent
    held.reset();
    char c = 0;
    REQUIRE(::read(to_parent[0], &c, 1) == 1);
    REQUIRE(::read(to_parent[0], &c, 1) == 1);
    for (const pid_t child : children) {
        int status = 0;
        ::waitpid(child, &status, 0);
        CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
}

TEST_CASE("the state dir must be root's and not writable by others", "[volumes][state]") {
    TempDir dir;
    const fs::path state = dir / "state";
    (void)open_state_store(state.string()); // created 0700
    CHECK((fs::status(state).permissions() & fs::perms::mask) == fs::perms::owner_all);
    // A local user who can write it could swap the records root acts on.
    for (const auto perms : {fs::perms::all, fs::perms::owner_all | fs::perms::group_write}) {
        fs::permissions(state, perms);
        CHECK_THROWS_WITH(open_state_store(state.string()),
                          Catch::StartsWith("state dir `" + state.string() + "` has mode 0") &&
                              Catch::Contains("must be owned by root and not writable by group or others"));
    }
    fs::permissions(state, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read |
                               fs::perms::group_exec | fs::perms::others_exec);
    CHECK_NOTHROW(open_state_store(state.string())); // 0755 is fine
}

TEST_CASE("a state.db restored by hand must be root's; one others may read is made 0600", "[volumes][state][root]") {
    DVDI_REQUIRE_ROOT();
    TempDir dir;
    const fs::path state = dir / "state";
    const fs::path db = state / "state.db";
    open_state_store(state.string())->transact(Scope::all(), [](State& s) { s.volumes.push_back(record("v1")); });
    const auto mode = [&] { return fs::status(db).permissions() & fs::perms::mask; };
    // `cp` under umask 022: every local user could read which containers hold which volumes.
    fs::permissions(db,
                    fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
    CHECK(open_state_store(state.string())->read().volumes.size() == 1);
    CHECK(mode() == (fs::perms::owner_read | fs::perms::owner_write));
    // Writable by others, or another user's: root would act on records someone else wrote.
    fs::permissions(db, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_write);
    CHECK_THROWS_WITH(open_state_store(state.string())->read(),
                      Catch::Contains("is owned by uid 0 with mode 0602: it must be root's and writable by root only"));
    fs::permissions(db, fs::perms::owner_read | fs::perms::owner_write);
    REQUIRE(::chown(db.c_str(), 65534, 65534) == 0);
    CHECK_THROWS_WITH(open_state_store(state.string())->transact(Scope::all(), [](State&) {}),
                      Catch::Contains("is owned by uid 65534"));
    REQUIRE(::chown(db.c_str(), 0, 0) == 0);
    CHECK(open_state_store(state.string())->read().volumes.size() == 1); // left as it was
}

TEST_CASE("a volume's lock file goes with its last record; gc sweeps what a killed hook left", "[volumes][state]") {
    TempDir dir;
    const auto store = open_state_store(dir.path().string());
    const fs::path locks = dir / "locks";
    const auto files = [&] { return test::listing(locks).size(); };
    {
        auto held = store->lock_volumes({{"local", "a"}, {"local", "b"}});
        store->transact(Scope::all(), [](State& s) { s.volumes.push_back(record("a")); });
        CHECK(files() == 2);
    }
    CHECK(files() == 1); // b has no record: its file went; a's stays with its record
    {
        auto held = store->lock_volume({"local", "a"});
        store->transact(Scope::all(), [](State& s) { s.erase_volume({"local", "a"}); });
    }
    CHECK(files() == 0);
    { auto held = store->lock_volume({"local", "never-recorded"}); } // no transaction: read to decide
    CHECK(files() == 0);
    // A tenant naming volumes by the thousand leaves nothing behind.
    for (int i = 0; i < 1000; ++i) {
        auto held = store->lock_volume({"local", fmt::format("junk-{}", i)});
    }
    CHECK(files() == 0);
    // What a SIGKILLed hook leaves is swept; a held one (in use) and a recorded one are not.
    write_file(locks / "0123456789abcdef.lock", "");
    store->transact(Scope::all(), [](State& s) { s.volumes.push_back(record("kept")); });
    { auto kept = store->lock_volume({"local", "kept"}); }
    auto busy = store->lock_volume({"local", "busy"});
    CHECK(files() == 3);
    CHECK(store->sweep_locks() == 1);
    CHECK(files() == 2);
    busy.reset();
    CHECK(files() == 1);
}

TEST_CASE("a volume's last error is kept printable and bounded", "[volumes][state]") {
    // A plugin (storage-operator input) answers its Err with 4 KiB of terminal control bytes and
    // multi-byte characters, hoping to repaint the screen of whoever runs `list` or to bloat
    // the record every hook reads: the record keeps an escaped, cut copy.
    std::string err;
    while (err.size() < 4096) {
        err += "\x1b]0;owned\a\r\n€";
    }
    volumes::VolumeRecord v;
    v.note_error(err);
    CHECK(v.last_error.size() <= volumes::kMaxLastError);
    CHECK(v.last_error.ends_with("..."));
    CHECK(v.last_error.starts_with("\\x1b]0;owned\\x07\\x0d\\x0a€"));
    CHECK(std::none_of(v.last_error.begin(), v.last_error.end(), [](char c) { return c >= 0 && c < 0x20; }));
    CHECK(volumes::is_valid_utf8(v.last_error));
    v.note_error("plugin p: VolumeDriver.Mount \"v\": short");
    CHECK(v.last_error == "plugin p: VolumeDriver.Mount \"v\": short");
}
