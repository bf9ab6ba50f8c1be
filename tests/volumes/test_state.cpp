// The file-backed state store: durability, refusal to start over, locks across processes.
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/state.hpp"
#include "tests/harness/harness.hpp"

using namespace dvdi;
using namespace dvdi::volumes;
using dvdi::test::read_file;
using dvdi::test::TempDir;
using dvdi::test::write_file;

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
        char go = 0;
        [[maybe_unused]] auto r = ::read(to_child[0], &go, 1);
        const auto s = open_state_store(dir.path().string());
        { auto other = s->lock_volume({"local", "b"}); } // a different volume: no wait
        [[maybe_unused]] auto n = ::write(to_parent[1], "b", 1);
        auto same = s->lock_volume({"local", "a"}); // waits for the parent
        n = ::write(to_parent[1], "a", 1);
        ::_exit(0);
    }
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
    CHECK(WIFEXITED(status));
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
            char go = 0;
            [[maybe_unused]] auto r = ::read(to_child[0], &go, 1);
            const auto s = open_state_store(dir.path().string());
            auto both = s->lock_volumes(order);
            [[maybe_unused]] auto n = ::write(to_parent[1], "x", 1);
            ::_exit(0);
        }
        children.push_back(child);
    }
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
        CHECK(WIFEXITED(status));
    }
}

TEST_CASE("process identity tells a live process from a gone one", "[volumes][state]") {
    const auto self = self_process();
    CHECK(self.pid == ::getpid());
    CHECK(self.start_time > 0);
    CHECK(process_alive(self));
    CHECK_FALSE(process_alive(ProcessId{self.pid, self.start_time + 1})); // a reused pid
    CHECK_FALSE(process_id(0).has_value());
    CHECK_FALSE(process_alive(ProcessId{999'999'999, 1}));
}
