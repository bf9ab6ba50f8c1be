// From version 1 (state.json) to the database: a realistic file migrated whole, once, by
// whichever hook comes first; a migration cut short at each step; what is refused and left as
// it is. (End to end, with the built binary and a mount made before the upgrade:
// tests/hook/test_upgrade.cpp.)
#include <sys/mount.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/node/state_store.hpp"
#include "tests/harness/harness.hpp"
#include "tests/ns/fake_container.hpp"
#include "tests/volumes/node/state_files.hpp"
#include "tests/volumes/node/test_node_hooks.hpp"

using namespace dvdi;
using namespace dvdi::volumes;
using dvdi::test::read_file;
using dvdi::test::TempDir;
using dvdi::test::write_file;
namespace fs = std::filesystem;

namespace {

// Volumes in every status, containers of every runtime and status (one "releasing", as the
// early 0.1.0 builds wrote it), placed and not, with and without a container path: as 0.1.0's
// store wrote it.
std::string realistic_v1() {
    return read_file(test::source_root() / "tests/volumes/node/data/state-v1.json");
}

struct StateDir {
    TempDir tmp{"dvdi-migration"};
    std::string dir = (tmp / "state").string();
    fs::path db = tmp / "state/state.db";
    fs::path json = tmp / "state/state.json";

    StateDir() { fs::create_directories(dir); }
    void write_v1(const std::string& text) const { write_file(json, text); }
    [[nodiscard]] State read() const { return open_state_store(dir)->read(); }
    [[nodiscard]] bool points_to_db() const {
        const auto doc = nlohmann::json::parse(read_file(json));
        return doc["version"] == 2 && doc["moved_to"] == "state.db";
    }
};

} // namespace

TEST_CASE("a version-1 state.json is migrated whole, and a pointer that version 1 refuses takes its place",
          "[volumes][state][migration]") {
    const StateDir node;
    const std::string v1 = realistic_v1();
    node.write_v1(v1);
    const State expected = parse_state(v1, "state-v1.json"); // as version 1 read it
    REQUIRE(expected.volumes.size() == 5);
    REQUIRE(expected.containers.size() == 5);

    const State migrated = node.read(); // a read is enough: the first hook of any kind migrates
    CHECK(migrated.volumes == expected.volumes);
    CHECK(migrated.containers == expected.containers);
    CHECK(migrated.containers[1].status == ContainerStatus::active); // "releasing": gc's to release
    CHECK(migrated.volumes[1].intent_at == 1732900000);
    CHECK(migrated.volumes[3].last_error == R"(plugin rexray: VolumeDriver.Unmount "old": "device is busy")");
    CHECK(migrated.containers[3].volumes[0].container_path == std::nullopt);
    CHECK(migrated.containers[2].volumes[0].mode == Mode::ro);

    CHECK(node.points_to_db());
    CHECK_THROWS_WITH(parse_state(read_file(node.json), node.json.string()),
                      Catch::StartsWith("state file " + node.json.string() +
                                        " has version 2, this dvdi-hook knows "
                                        "version 1"));
    CHECK(test::sql(node.db, "PRAGMA user_version") == "2");
    CHECK(test::sql(node.db, "SELECT value FROM meta WHERE key = 'migrated_from'")
              .starts_with(fmt::format("state.json version 1, {} bytes, FNV-1a ", v1.size())));
    CHECK(test::listing(node.tmp / "state") == std::vector<std::string>{"state.db", "state.json", "state.lock"});

    // Once: the database is the state from now on.
    open_state_store(node.dir)->transact(Scope{.volumes = {{"rexray", "old"}}}, [](State& s) {
        s.erase_volume({"rexray", "old"});
    });
    CHECK(node.read().volumes.size() == 4);
    CHECK(node.read().volumes.size() == 4);
}

TEST_CASE("hooks that start together after the upgrade migrate once", "[volumes][state][migration]") {
    const StateDir node;
    node.write_v1(realistic_v1());
    std::vector<std::unique_ptr<test::Hook>> hooks;
    for (int i = 0; i < 8; ++i) {
        hooks.push_back(std::make_unique<test::Hook>([&node, i] {
            const VolumeKey key{"local", fmt::format("new-{}", i)};
            open_state_store(node.dir)->transact(Scope{.volumes = {key}}, [&](State& s) {
                s.volumes.push_back(VolumeRecord{key, "id", "/m", {}, VolumeStatus::mounted, {}, {}, ""});
            });
        }));
    }
    for (auto& h : hooks) {
        CHECK(test::exited_ok(h->wait()));
    }
    const State s = node.read();
    CHECK(s.volumes.size() == 5 + 8);
    CHECK(s.containers.size() == 5);
    CHECK(node.points_to_db());
}

TEST_CASE("a migration cut short at any step is finished or done again, never lost", "[volumes][state][migration]") {
    const StateDir node;
    const std::string v1 = realistic_v1();
    const State expected = parse_state(v1, "state-v1.json");

    SECTION("before state.db.tmp was renamed: done again") {
        node.write_v1(v1);
        write_file(node.db.string() + ".tmp", "half a database");
        write_file(node.db.string() + ".tmp-journal", "its journal");
        CHECK(node.read().volumes == expected.volumes);
        CHECK_FALSE(fs::exists(node.db.string() + ".tmp"));
        CHECK_FALSE(fs::exists(node.db.string() + ".tmp-journal"));
        CHECK(node.points_to_db());
    }
    SECTION("after the rename, before the pointer: the database wins") {
        node.write_v1(v1);
        (void)node.read();
        // The database moves on (a hook after the migration)...
        open_state_store(node.dir)->transact(Scope{.volumes = {{"rexray", "old"}}}, [](State& s) {
            s.erase_volume({"rexray", "old"});
        });
        // ... and state.json is still the file it was made from (the pointer was never written).
        write_file(node.json, v1);
        const State s = node.read();
        CHECK(s.volumes.size() == 4);
        CHECK(node.points_to_db());
    }
    SECTION("a version-1 file that is not the one the database was made from: an error, both kept") {
        node.write_v1(v1);
        (void)node.read();
        // An older dvdi-hook found no pointer and wrote a state of its own.
        const std::string other = test::version_1_text(State{});
        write_file(node.json, other);
        const std::string db_before = read_file(node.db);
        CHECK_THROWS_WITH(node.read(), Catch::StartsWith("state dir " + node.dir +
                                                         " holds both state.db and a version-1 state.json that it "
                                                         "was not made from"));
        CHECK_THROWS_WITH(open_state_store(node.dir)->transact(Scope{}, [](State&) {}),
                          Catch::StartsWith("state dir " + node.dir + " holds both"));
        CHECK(read_file(node.json) == other);
        CHECK(read_file(node.db) == db_before);
    }
    SECTION("a new node's database without its pointer: the pointer is written") {
        open_state_store(node.dir)->transact(Scope::all(), [&](State& s) { s = expected; });
        fs::remove(node.json);
        CHECK(node.read().volumes == expected.volumes);
        CHECK(node.points_to_db());
    }
}

TEST_CASE("a state.db-wal left behind when state.db was moved away is refused, not replayed into a new one",
          "[volumes][state][migration]") {
    const StateDir node;
    const std::string wal = node.db.string() + "-wal";
    {
        const auto store = open_state_store(node.dir);
        store->transact(Scope::all(), [](State& s) {
            s.volumes.push_back(
                VolumeRecord{{"rexray", "ghost"}, "id-g", "/m", {}, VolumeStatus::mounted, {"c"}, {}, ""});
        });
        // While the store is open, its last commit is in the -wal: what a SIGKILLed hook leaves.
        fs::copy_file(wal, node.tmp / "saved-wal");
    }
    // An operator moves state.db aside (and not its -wal), and removes the pointer.
    fs::rename(node.db, node.tmp / "state.db.aside");
    fs::remove(node.json);
    fs::copy_file(node.tmp / "saved-wal", wal);
    const auto says = Catch::Contains("holds " + wal + " but no state.db");
    CHECK_THROWS_WITH(open_state_store(node.dir)->transact(Scope{}, [](State&) {}), says);
    CHECK_FALSE(fs::exists(node.db));
    CHECK(fs::exists(wal)); // left as it is
    // Moved aside too, the node starts on an empty state: no ghost comes back.
    fs::rename(wal, node.tmp / "wal.aside");
    open_state_store(node.dir)->transact(Scope{}, [](State&) {});
    CHECK(node.read().empty());
}

TEST_CASE("a pointer whose database is gone is an error; the hook never starts over", "[volumes][state][migration]") {
    const StateDir node;
    open_state_store(node.dir)->transact(Scope{}, [](State&) {});
    fs::remove(node.db);
    const std::string says =
        "state file " + node.json.string() + " says the state moved to " + node.db.string() + ", which is missing";
    CHECK_THROWS_WITH(node.read(), Catch::StartsWith(says));
    CHECK_THROWS_WITH(open_state_store(node.dir)->transact(Scope{}, [](State&) {}), Catch::StartsWith(says));
    CHECK_FALSE(fs::exists(node.db));
}

TEST_CASE("a new node: reading creates nothing, the first change creates the database and its pointer",
          "[volumes][state][migration]") {
    const StateDir node;
    {
        const auto store = open_state_store(node.dir);
        CHECK(store->read().empty());
        CHECK(store->read(Scope{.containers = {"c1"}}).empty());
        CHECK_FALSE(has_state(node.dir));
        CHECK(test::listing(node.tmp / "state").empty());
        store->transact(Scope{.containers = {"c1"}}, [](State& s) { CHECK(s.containers.empty()); });
        CHECK(has_state(node.dir));
    } // closed: its -wal and -shm go with the last connection
    CHECK(test::listing(node.tmp / "state") == std::vector<std::string>{"state.db", "state.json", "state.lock"});
    CHECK(node.points_to_db());
}

TEST_CASE("a state.json that does not parse or is of an unknown version is an error that names it, left alone",
          "[volumes][state][migration]") {
    const StateDir node;
    const auto path = node.json.string();
    struct Case {
        std::string text;
        std::string message;
    };
    const Case cases[] = {
        {"{\"version\": 1, \"volumes\": [", "state file " + path + " does not parse"},
        {R"({"version": 3, "volumes": [], "containers": []})",
         "state file " + path +
             " has version 3, this dvdi-hook knows version 1 (which it moves to state.db) and 2 "
             "(a pointer to state.db)"},
        {R"({"version": 2, "volumes": [], "containers": []})",
         "state file " + path + " has version 2 but does not point to state.db; it is left as it is"},
        {R"({"version": 2, "moved_to": 7})", "state file " + path + " has version 2 but does not point to state.db"},
        {R"({"volumes": []})", "state file " + path + " has no version"},
        {R"({"version": 1, "volumes": [{"driver": "x"}], "containers": []})", "state file " + path + " is damaged"},
        {R"({"version": 1, "volumes": [], "containers": [{"id": "c", "runtime": "oci", "process": {"pid": 1,
            "start_time": 1}, "status": "sleeping", "volumes": []}]})",
         "state file " + path + " is damaged"},
        {"", "state file " + path + " is empty"},
        // Edited by hand: the database would keep one of the two, silently.
        {R"({"version": 1, "volumes": [], "containers": [
            {"id": "c", "runtime": "oci", "process": {"pid": 1, "start_time": 1}, "status": "active", "volumes": []},
            {"id": "c", "runtime": "oci", "process": {"pid": 2, "start_time": 1}, "status": "active", "volumes": []}]})",
         "state file " + path + " records container c twice; it is left as it is"},
    };
    const auto store = open_state_store(node.dir);
    for (const auto& c : cases) {
        INFO(c.text);
        write_file(path, c.text);
        CHECK_THROWS_WITH(store->read(), Catch::StartsWith(c.message));
        CHECK_THROWS_WITH(store->transact(Scope::all(), [](State& s) { s.volumes.clear(); }),
                          Catch::StartsWith(c.message));
        CHECK(read_file(path) == c.text); // never silently started over
        CHECK_FALSE(fs::exists(node.db));
    }
}

TEST_CASE("a damaged state.json beside the database is an error that names it, both left alone",
          "[volumes][state][migration]") {
    const StateDir node;
    open_state_store(node.dir)->transact(Scope::all(), [](State& s) { s = parse_state(realistic_v1(), "v1"); });
    write_file(node.json, "{\"version\": 2, \"moved_to\": \"sta");
    const std::string db_before = read_file(node.db);
    CHECK_THROWS_WITH(node.read(), Catch::StartsWith("state file " + node.json.string() + " does not parse"));
    CHECK(read_file(node.json) == "{\"version\": 2, \"moved_to\": \"sta");
    CHECK(read_file(node.db) == db_before);
}

TEST_CASE("a version-1 state on a read-only state dir is read as it is", "[volumes][state][migration][root]") {
    DVDI_REQUIRE_ROOT();
    const StateDir node;
    test::in_private_mount_ns([&] {
        REQUIRE(::mount("dvdi-state", node.dir.c_str(), "tmpfs", 0, "size=1m,mode=0700") == 0);
        node.write_v1(realistic_v1());
        REQUIRE(::mount(nullptr, node.dir.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0);
        {
            const auto store = open_state_store(node.dir);
            REQUIRE(store->read().volumes.size() == 5);
            REQUIRE(store->read(Scope{.containers = {"web-1"}, .their_volumes = true}).volumes.size() == 1);
            REQUIRE_THROWS_WITH(store->transact(Scope{}, [](State&) {}), Catch::Contains("Read-only file system"));
            REQUIRE_FALSE(fs::exists(node.db));
        }
        REQUIRE(::umount(node.dir.c_str()) == 0);
    });
}
