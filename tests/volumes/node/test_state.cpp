// The file-backed state store: durability, refusal to start over, locks across processes.
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/node/state_store.hpp"
#include "tests/harness/harness.hpp"
#include "tests/ns/fake_container.hpp"

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

} // namespace

TEST_CASE("the state round-trips through the file, with a version", "[volumes][state]") {
    TempDir dir;
    const auto store = open_state_store((dir / "state").string());
    CHECK(store->read().empty()); // no file yet: nothing recorded
    store->transact([](State& s) {
        s.volumes.push_back(record("v1"));
        s.containers.push_back(
            ContainerRecord{"c1", "oci", {42, 7}, ContainerStatus::active, {{{"local", "v1"}, "/d", true}}});
    });
    const auto doc = nlohmann::json::parse(read_file(dir / "state/state.json"));
    CHECK(doc["version"] == 1);
    const State s = store->read();
    REQUIRE(s.volumes.size() == 1);
    CHECK(s.volumes[0].options == Options{{"size", "1"}});
    CHECK(s.volumes[0].intent_by == ProcessId{42, 7});
    REQUIRE(s.containers.size() == 1);
    CHECK(s.containers[0].volumes[0].target == "/d");
    CHECK_FALSE(std::filesystem::exists(dir / "state/state.json.tmp"));
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
    store->transact([](State& s) { s.volumes.push_back(record("v1")); });
    const std::string before = read_file(dir / "state.json");
    CHECK_THROWS_WITH(store->transact([](State& s) {
        s.volumes.clear();
        throw core::Error("changed my mind");
    }),
                      "changed my mind");
    CHECK(read_file(dir / "state.json") == before);
}

TEST_CASE("an unreadable or unknown state file is an error that names it, and is left alone", "[volumes][state]") {
    TempDir dir;
    const auto path = (dir / "state.json").string();
    const auto store = open_state_store(dir.path().string());
    struct Case {
        std::string text;
        std::string message;
    };
    const Case cases[] = {
        {"{\"version\": 1, \"volumes\": [", "state file " + path + " does not parse"},
        {R"({"version": 2, "volumes": [], "containers": []})",
         "state file " + path + " has version 2, this dvdi-hook knows version 1"},
        {R"({"volumes": []})", "state file " + path + " has no version"},
        {R"({"version": 1, "volumes": [{"driver": "x"}], "containers": []})", "state file " + path + " is damaged"},
        {R"({"version": 1, "volumes": [], "containers": [{"id": "c", "runtime": "oci", "process": {"pid": 1,
            "start_time": 1}, "status": "sleeping", "volumes": []}]})",
         "state file " + path + " is damaged"},
        {"", "state file " + path + " is empty"},
    };
    for (const auto& c : cases) {
        INFO(c.text);
        write_file(path, c.text);
        CHECK_THROWS_WITH(store->read(), Catch::StartsWith(c.message));
        CHECK_THROWS_WITH(store->transact([](State& s) { s.volumes.clear(); }), Catch::StartsWith(c.message));
        CHECK(read_file(path) == c.text); // never silently started over
    }
}

TEST_CASE("a read-only state dir and a full disk are clear errors that keep the old state", "[volumes][state][root]") {
    DVDI_REQUIRE_ROOT();
    TempDir dir;
    dvdi::test::in_private_mount_ns([&] {
        const std::string mnt = dir.path().string();
        REQUIRE(::mount("dvdi-state", mnt.c_str(), "tmpfs", 0, "size=64k") == 0);
        const auto store = open_state_store(mnt + "/state");
        store->transact([](State& s) { s.volumes.push_back(record("v1")); });
        const std::string before = read_file(mnt + "/state/state.json");

        // Full: fill the tmpfs, then try to record a large change.
        write_file(mnt + "/filler", std::string(60 * 1024, 'x'));
        REQUIRE_THROWS_WITH(store->transact([](State& s) {
            for (int i = 0; i < 200; ++i) {
                s.volumes.push_back(record("volume-with-a-long-name-" + std::to_string(i)));
            }
        }),
                            Catch::Contains("No space left on device"));
        REQUIRE(read_file(mnt + "/state/state.json") == before);
        REQUIRE_FALSE(std::filesystem::exists(mnt + "/state/state.json.tmp"));

        // Read-only.
        REQUIRE(::mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0);
        REQUIRE(store->read().volumes.size() == 1);
        REQUIRE_THROWS_WITH(store->transact([](State& s) { s.volumes.clear(); }),
                            Catch::Contains("Read-only file system"));
        REQUIRE(read_file(mnt + "/state/state.json") == before);
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

TEST_CASE("a volume's lock file goes with its last record; gc sweeps what a killed hook left", "[volumes][state]") {
    TempDir dir;
    const auto store = open_state_store(dir.path().string());
    const fs::path locks = dir / "locks";
    const auto files = [&] { return test::listing(locks).size(); };
    {
        auto held = store->lock_volumes({{"local", "a"}, {"local", "b"}});
        store->transact([](State& s) { s.volumes.push_back(record("a")); });
        CHECK(files() == 2);
    }
    CHECK(files() == 1); // b has no record: its file went; a's stays with its record
    {
        auto held = store->lock_volume({"local", "a"});
        store->transact([](State& s) { s.erase_volume({"local", "a"}); });
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
    store->transact([](State& s) { s.volumes.push_back(record("kept")); });
    { auto kept = store->lock_volume({"local", "kept"}); }
    auto busy = store->lock_volume({"local", "busy"});
    CHECK(files() == 3);
    CHECK(store->sweep_locks() == 1);
    CHECK(files() == 2);
    busy.reset();
    CHECK(files() == 1);
}
