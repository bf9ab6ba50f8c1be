// The node logic against fakes: reference counts, rollback, idempotent release, gc.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <future>
#include <thread>

#include <catch2/catch.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/node/node.hpp"
#include "tests/harness/harness.hpp"
#include "tests/volumes/node/fakes.hpp"

using namespace dvdi;
using namespace dvdi::volumes;
using dvdi::test::FakeDriverSet;
using dvdi::test::MemoryStateStore;

namespace {

Request req(const std::string& driver, const std::string& name, const std::string& path = "/data") {
    Request r;
    r.driver = driver;
    r.name = name;
    r.container_path = path;
    r.origin = "test " + name;
    return r;
}

ContainerRef ctr(const std::string& id) {
    return {id, "oci", ProcessId{}};
}

// Records where each volume was "placed".
struct RecordingPlacer {
    std::vector<std::string> placed;
    std::string fail_on;
    Placer placer() {
        return place_each([this](const Request& r, const std::string& mountpoint) {
            if (r.name == fail_on) {
                throw core::Error("bind failed");
            }
            placed.push_back(r.name + "@" + mountpoint);
            return r.container_path.value_or(mountpoint);
        });
    }
};

struct Fixture {
    MemoryStateStore store;
    FakeDriverSet drivers;
    Node node{store, drivers};
    RecordingPlacer placer;
};

} // namespace

TEST_CASE("a mount ID names the node and the container that took the mount", "[volumes][node]") {
    // What a plugin's view of a cluster shows: which node and which container holds a mount.
    MemoryStateStore store;
    FakeDriverSet drivers;
    NodeSettings settings;
    settings.node = "agent-2";
    Node node{store, drivers, {}, settings};
    RecordingPlacer placer;
    // A Mesos container ID or a holder may carry any character: none reaches the ID unescaped.
    node.acquire(ctr("3f2a9c0b-1d2e/x:y"), {req("rexray", "v1")}, placer.placer());
    node.acquire(ctr("second"), {req("rexray", "v1")}, placer.placer());
    const std::string id = store.read().volumes.at(0).mount_id;
    CHECK(id.starts_with("agent-2:3f2a9c0b-1d2:"));
    const std::string random = id.substr(std::string("agent-2:3f2a9c0b-1d2:").size());
    CHECK(random.size() == 32);
    CHECK(random.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(drivers["rexray"].count("Mount v1 " + id) == 1);
    CHECK(new_mount_id("agent-2", "c/../x:y").starts_with("agent-2:c_.._x_y:"));
    CHECK(new_mount_id("n", "c") != new_mount_id("n", "c"));
    CHECK(new_mount_id().size() == 64); // no node: Docker's form
}

TEST_CASE("the first user mounts, later users share, the last one unmounts with the same ID", "[volumes][node]") {
    Fixture f;
    f.node.acquire(ctr("c1"), {req("rexray", "v1")}, f.placer.placer());
    f.node.acquire(ctr("c2"), {req("rexray", "v1")}, f.placer.placer());
    auto& d = f.drivers["rexray"];
    REQUIRE(d.count("Mount v1") == 1);
    CHECK(f.placer.placed == std::vector<std::string>{"v1@/fake/rexray/v1", "v1@/fake/rexray/v1"});
    auto s = f.store.read();
    REQUIRE(s.volumes.size() == 1);
    CHECK(s.volumes[0].users == std::vector<std::string>{"c1", "c2"});
    CHECK(s.volumes[0].mount_id.size() == 64);
    CHECK(s.containers.size() == 2);
    CHECK(s.containers[0].status == ContainerStatus::active);
    CHECK(s.containers[0].volumes[0].placed);
    CHECK(s.containers[0].volumes[0].target == "/data");

    CHECK(f.node.release("c1"));
    CHECK(d.count("Unmount") == 0);
    CHECK(f.node.release("c2"));
    REQUIRE(d.count("Unmount") == 1);
    CHECK(d.calls.back() == "Unmount v1 " + s.volumes[0].mount_id);
    CHECK(d.mounted.empty());
    CHECK(f.store.read().empty());
}

TEST_CASE("a new busy period gets a new mount ID", "[volumes][node]") {
    Fixture f;
    f.node.acquire(ctr("c1"), {req("rexray", "v1")}, f.placer.placer());
    const auto first = f.store.read().volumes.at(0).mount_id;
    f.node.release("c1");
    f.node.acquire(ctr("c2"), {req("rexray", "v1")}, f.placer.placer());
    CHECK(f.store.read().volumes.at(0).mount_id != first);
    CHECK(f.drivers["rexray"].count("Mount v1") == 2);
}

TEST_CASE("volumes are told apart by driver and name", "[volumes][node]") {
    Fixture f;
    f.node.acquire(ctr("c1"), {req("a", "v"), req("b", "v", "/other")}, f.placer.placer());
    CHECK(f.drivers["a"].count("Mount v") == 1);
    CHECK(f.drivers["b"].count("Mount v") == 1);
    CHECK(f.store.read().volumes.size() == 2);
}

TEST_CASE("ensure_exists gets the options and the explicit-create flag", "[volumes][node]") {
    Fixture f;
    auto r = req("rexray", "v1");
    r.options = {{"size", "5"}, {"iops", "150"}};
    r.explicit_create = true;
    f.node.acquire(ctr("c1"), {r}, f.placer.placer());
    CHECK(f.drivers["rexray"].calls.at(0) == "Ensure v1 opts=2 explicit=true");
    CHECK(f.store.read().volumes.at(0).options == r.options);
}

TEST_CASE("rollback: a failing second volume releases the first, and says so", "[volumes][node]") {
    Fixture f;
    f.drivers["rexray"].failing = {"Mount v2"};
    try {
        f.node.acquire(ctr("c1"), {req("rexray", "v1"), req("rexray", "v2", "/b"), req("rexray", "v3", "/c")},
                       f.placer.placer());
        FAIL("acquire should fail");
    } catch (const core::Error& e) {
        CHECK(std::string(e.what()) == "volume rexray/v2 (test v2): fake rexray: Mount \"v2\": told to fail; "
                                       "released the volumes already taken (rexray/v1)");
    }
    auto& d = f.drivers["rexray"];
    CHECK(d.count("Mount v1") == 1);
    CHECK(d.count("Unmount v1") == 1);
    CHECK(d.count("Mount v3") == 0);
    CHECK(d.count("Unmount v2") == 0); // a failed Mount is never followed by an Unmount
    CHECK(d.mounted.empty());
    CHECK(f.store.read().empty());
}

TEST_CASE("rollback respects other users of a shared volume", "[volumes][node]") {
    Fixture f;
    f.node.acquire(ctr("c1"), {req("rexray", "shared")}, f.placer.placer());
    f.placer.fail_on = "v2";
    CHECK_THROWS_WITH(
        f.node.acquire(ctr("c2"), {req("rexray", "shared"), req("rexray", "v2", "/b")}, f.placer.placer()),
        Catch::Contains("volume rexray/v2 (test v2): bind failed; released the volumes already taken "
                        "(rexray/shared, rexray/v2)"));
    auto& d = f.drivers["rexray"];
    CHECK(d.count("Unmount shared") == 0); // c1 still holds it
    CHECK(d.count("Unmount v2") == 1);     // mounted for c2 alone: undone
    const auto s = f.store.read();
    REQUIRE(s.volumes.size() == 1);
    CHECK(s.volumes[0].users == std::vector<std::string>{"c1"});
    CHECK(s.containers.size() == 1);
}

TEST_CASE("release is idempotent and unknown containers are a no-op", "[volumes][node]") {
    Fixture f;
    CHECK_FALSE(f.node.release("never-seen"));
    f.node.acquire(ctr("c1"), {req("rexray", "v1")}, f.placer.placer());
    CHECK(f.node.release("c1"));
    CHECK_FALSE(f.node.release("c1"));
    CHECK(f.drivers["rexray"].count("Unmount") == 1);
}

TEST_CASE("a container cannot acquire twice", "[volumes][node]") {
    Fixture f;
    f.node.acquire(ctr("c1"), {req("rexray", "v1")}, f.placer.placer());
    CHECK_THROWS_AS(f.node.acquire(ctr("c1"), {req("rexray", "v2")}, f.placer.placer()), core::InputError);
    CHECK(f.drivers["rexray"].count("Mount v2") == 0);
}

TEST_CASE("a mountpoint that is not an absolute path is undone and refused", "[volumes][node]") {
    Fixture f;
    f.drivers["rexray"].mountpoint_override = "relative/path";
    CHECK_THROWS_WITH(f.node.acquire(ctr("c1"), {req("rexray", "v1")}, f.placer.placer()),
                      Catch::Contains("not an absolute path"));
    CHECK(f.drivers["rexray"].count("Unmount v1") == 1);
    CHECK(f.store.read().empty());
}

TEST_CASE("a failed unmount is kept for gc, which retries it", "[volumes][node][gc]") {
    Fixture f;
    f.node.acquire(ctr("c1"), {req("rexray", "v1")}, f.placer.placer());
    f.drivers["rexray"].failing = {"Unmount v1"};
    CHECK(f.node.release("c1")); // poststop succeeds; the failure is recorded
    auto s = f.store.read();
    REQUIRE(s.volumes.size() == 1);
    CHECK(s.volumes[0].status == VolumeStatus::unmount_failed);
    CHECK_THAT(s.volumes[0].last_error, Catch::Contains("told to fail"));
    CHECK(s.containers.empty());

    auto report = f.node.gc();
    CHECK(report.failures.size() == 1);
    f.drivers["rexray"].failing.clear();
    report = f.node.gc();
    CHECK(report.actions == std::vector<std::string>{"volume rexray/v1: unmounted (an earlier unmount had failed)"});
    CHECK(f.store.read().empty());
    CHECK(f.drivers["rexray"].mounted.empty());
}

TEST_CASE("a volume whose unmount failed is settled before the next user mounts it afresh", "[volumes][node]") {
    Fixture f;
    f.node.acquire(ctr("c1"), {req("rexray", "v1")}, f.placer.placer());
    const auto id = f.store.read().volumes.at(0).mount_id;
    f.drivers["rexray"].failing = {"Unmount v1"};
    f.node.release("c1");
    REQUIRE(f.store.read().volumes.at(0).status == VolumeStatus::unmount_failed);
    f.drivers["rexray"].failing.clear();
    f.node.acquire(ctr("c2"), {req("rexray", "v1")}, f.placer.placer());
    CHECK(f.drivers["rexray"].count("Unmount v1 " + id) == 2); // failed, then retried by the next acquire
    CHECK(f.drivers["rexray"].count("Mount v1") == 2);
    CHECK(f.store.read().volumes.at(0).mount_id != id);
    CHECK(f.store.read().volumes.at(0).status == VolumeStatus::mounted);
    f.node.release("c2");
    CHECK(f.drivers["rexray"].mounted.empty());
}

TEST_CASE("a volume whose unmount is refused and that the driver no longer holds is dropped, then mounted afresh",
          "[volumes][node][chaos]") {
    Fixture f;
    auto& d = f.drivers["rexray"];
    f.node.acquire(ctr("c1"), {req("rexray", "v1")}, f.placer.placer());
    const auto id = f.store.read().volumes.at(0).mount_id;
    // The driver restarts and forgets its mounts: every Unmount of that ID is refused now.
    d.mounted.clear();
    CHECK(f.node.release("c1"));
    CHECK(d.count("Path v1") == 1); // asked whether a mount is left: none
    CHECK(f.store.read().empty());
    // The same after a hook was killed between an accepted Unmount and its record: the next
    // user's hook finds `unmounting`, its Unmount is refused, Path says none: a fresh Mount.
    f.node.acquire(ctr("c2"), {req("rexray", "v1")}, f.placer.placer());
    const auto id2 = f.store.read().volumes.at(0).mount_id;
    CHECK(id2 != id);
    d.mounted.clear();
    f.store.transact(Scope::all(), [](State& s) {
        s.volumes.at(0).status = VolumeStatus::unmounting;
        s.volumes.at(0).intent_by = ProcessId{1, 1}; // the killed poststop (pid 1 never started at tick 1)
        s.volumes.at(0).users.clear();
        s.containers.clear();
    });
    f.node.acquire(ctr("c3"), {req("rexray", "v1")}, f.placer.placer());
    CHECK(d.count("Unmount v1 " + id2) == 1);
    CHECK(d.mounted.size() == 1); // c3's Mount: it uses a volume the driver holds
    CHECK(f.store.read().volumes.at(0).mount_id != id2);
    CHECK(f.store.read().volumes.at(0).users == std::vector<std::string>{"c3"});
}

TEST_CASE("a refused unmount the driver cannot explain stays, and gc says why", "[volumes][node][gc][chaos]") {
    Fixture f;
    auto& d = f.drivers["rexray"];
    f.node.acquire(ctr("c1"), {req("rexray", "v1")}, f.placer.placer());
    d.failing = {"Unmount v1", "Path v1!"};
    f.node.release("c1");
    auto report = f.node.gc();
    REQUIRE(report.failures.size() == 1);
    CHECK_THAT(report.failures[0], Catch::Contains("cannot say whether it still holds a mount") &&
                                       Catch::Contains("the record stays, gc retries it"));
    CHECK(f.store.read().volumes.at(0).status == VolumeStatus::unmount_failed);
    // Not handed out meanwhile.
    CHECK_THROWS_WITH(f.node.acquire(ctr("c2"), {req("rexray", "v1")}, f.placer.placer()),
                      Catch::Contains("an earlier unmount of it is not settled"));
    d.failing.clear();
    report = f.node.gc();
    CHECK(report.failures.empty());
    CHECK(f.store.read().empty());
}

TEST_CASE("gc releases containers whose process is gone, and keeps live ones", "[volumes][node][gc]") {
    Fixture f;
    const pid_t child = ::fork();
    if (child == 0) {
        ::_exit(0);
    }
    const auto dead = ns::process_id(child);
    REQUIRE(dead.has_value());
    ::waitpid(child, nullptr, 0);
    f.node.acquire({"gone", "oci", *dead}, {req("rexray", "v1")}, f.placer.placer());
    f.node.acquire({"alive", "oci", ns::self_process()}, {req("rexray", "v2")}, f.placer.placer());
    f.node.acquire({"manual", "manual", ProcessId{}}, {req("rexray", "v3")}, f.placer.placer());
    const auto report = f.node.gc();
    REQUIRE(report.actions.size() == 1);
    CHECK_THAT(report.actions[0], Catch::StartsWith("container gone (oci, pid "));
    CHECK_THAT(report.actions[0], Catch::EndsWith("is gone): released rexray/v1"));
    CHECK(f.drivers["rexray"].count("Unmount v1") == 1);
    CHECK(f.store.read().containers.size() == 2);
}

TEST_CASE("gc releases a container whose process is a zombie nobody reaps", "[volumes][node][gc]") {
    // A container's init that exited under a pid 1 that does not reap orphans stays a zombie
    // with the same pid and start time: the container is gone all the same (lib/ns's one
    // "alive" rule, the one the hook's placement applies too).
    Fixture f;
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::_exit(0);
    }
    siginfo_t info{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT) == 0); // not reaped
    const auto zombie = ns::process_id(child);
    REQUIRE(zombie.has_value());
    f.node.acquire({"zombie", "oci", *zombie}, {req("rexray", "v1")}, f.placer.placer());
    const auto report = f.node.gc();
    ::waitpid(child, nullptr, 0);
    REQUIRE(report.actions.size() == 1);
    CHECK_THAT(report.actions[0], Catch::EndsWith("is gone): released rexray/v1"));
    CHECK(f.drivers["rexray"].count("Unmount v1") == 1);
    CHECK(f.store.read().empty());
}

namespace {

// A store whose writes fail while `refuse` says so of a change (the rows before and after): a full
// disk, for the writes of one container.
class RefusingStore final : public StateStore {
  public:
    /// Given the rows before and after the change.
    std::function<bool(const State&, const State&)> refuse;
    void transact(const Scope& scope, const std::function<void(State&)>& change) override {
        inner_.transact(scope, [&](State& s) {
            const State before = s;
            change(s);
            if (refuse && refuse(before, s)) {
                throw core::SysError("write", "state.db-wal", ENOSPC);
            }
        });
    }
    using StateStore::read;
    State read(const Scope& scope) override { return inner_.read(scope); }
    std::unique_ptr<Lock> lock_volume(const VolumeKey& key) override { return inner_.lock_volume(key); }
    std::unique_ptr<Lock> lock_volumes(const std::vector<VolumeKey>& keys) override {
        return inner_.lock_volumes(keys);
    }

  private:
    MemoryStateStore inner_;
};

// A process that ran and is gone.
ProcessId gone_process() {
    const pid_t child = ::fork();
    if (child == 0) {
        ::_exit(0);
    }
    const auto id = ns::process_id(child);
    ::waitpid(child, nullptr, 0);
    REQUIRE(id.has_value());
    return *id;
}

std::size_t count_of(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) {
        ++n;
    }
    return n;
}

} // namespace

TEST_CASE("gc settles each container and volume on its own: what fails is reported, the rest is done, all logged",
          "[volumes][node][gc]") {
    RefusingStore store;
    FakeDriverSet drivers;
    Node node(store, drivers);
    RecordingPlacer placer;
    const ProcessId dead = gone_process();
    for (const std::string id : {"gone-1", "gone-2", "gone-3"}) {
        node.acquire({id, "oci", dead}, {req("rexray", "v-" + id)}, placer.placer());
    }
    // A mounted volume whose one user's record is gone (a release interrupted between its two
    // writes), and whose Unmount cannot reach the driver.
    store.transact(Scope::all(), [](State& s) {
        s.volumes.push_back(VolumeRecord{
            {"rexray", "orphan"}, "id-o", "/fake/rexray/orphan", {}, VolumeStatus::mounted, {"ghost"}, {}, ""});
    });
    drivers["rexray"].mounted[{"orphan", "id-o"}] = 1;
    drivers["rexray"].failing = {"Unmount orphan!"};
    // The write that releases gone-2 fails.
    store.refuse = [](const State& before, const State& after) {
        const auto has = [](const State& s) {
            return std::any_of(s.containers.begin(), s.containers.end(),
                               [](const auto& c) { return c.id == "gone-2"; });
        };
        return has(before) && !has(after);
    };
    const test::TempDir dir("dvdi-gc-log");
    const core::UniqueFd log(::open((dir / "log").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    core::log::set_output_fd(log.get());
    const test::Cleanup restore([] { core::log::set_output_fd(-1); });

    GcReport report;
    REQUIRE_NOTHROW(report = node.gc());
    const std::string pid = std::to_string(dead.pid);
    CHECK(report.actions == std::vector<std::string>{
                                "container gone-1 (oci, pid " + pid + " is gone): released rexray/v-gone-1",
                                "container gone-3 (oci, pid " + pid + " is gone): released rexray/v-gone-3",
                                "volume rexray/orphan: dropped user ghost (no such container)",
                            });
    CHECK(report.failures ==
          std::vector<std::string>{
              "container gone-2 (oci, pid " + pid +
                  " is gone): releasing it: write(`state.db-wal`): No space left on device; gc retries it",
              "volume rexray/orphan: unmounting it (no container holds it): the Unmount failed (fake rexray: Unmount "
              "\"orphan\": unreachable); gc retries it",
          });
    CHECK(drivers["rexray"].count("Unmount v-gone-1") == 1);
    CHECK(drivers["rexray"].count("Unmount v-gone-2") == 0);
    CHECK(drivers["rexray"].count("Unmount v-gone-3") == 1);
    // The caller prints the report (the gc command: each line once on a terminal); the log's
    // stderr does not repeat it (syslog gets it, core::log::to_syslog).
    const std::string logged = test::read_file(dir / "log");
    INFO(logged);
    for (const auto& line : report.actions) {
        CHECK(count_of(logged, line) == 0);
    }
    for (const auto& line : report.failures) {
        CHECK(count_of(logged, line) == 0);
    }

    // Once the disk has room and the driver answers, the next pass settles the rest.
    store.refuse = nullptr;
    drivers["rexray"].failing.clear();
    report = node.gc();
    CHECK(report.failures.empty());
    CHECK(report.actions ==
          std::vector<std::string>{"container gone-2 (oci, pid " + pid + " is gone): released rexray/v-gone-2",
                                   "volume rexray/orphan: unmounted (an earlier unmount had failed)"});
    CHECK(store.read().empty());
    CHECK(drivers["rexray"].mounted.empty());
}

TEST_CASE("gc undoes a mount that a dead hook left half done, and finishes an unmount", "[volumes][node][gc]") {
    Fixture f;
    auto& d = f.drivers["rexray"];
    d.mounted[{"v1", "id1"}] = 1; // the dead hook's Mount reached the driver
    f.store.transact(Scope::all(), [](State& s) {
        s.volumes.push_back(VolumeRecord{{"rexray", "v1"}, "id1", "", {}, VolumeStatus::mounting, {}, {1, 1}, ""});
        s.volumes.push_back(VolumeRecord{{"rexray", "v2"}, "id2", "", {}, VolumeStatus::mounting, {}, {1, 1}, ""});
        s.volumes.push_back(VolumeRecord{{"rexray", "v3"}, "id3", "/m", {}, VolumeStatus::unmounting, {}, {1, 1}, ""});
    });
    d.mounted[{"v3", "id3"}] = 1;
    // v2's Mount never reached the driver: its Unmount is refused, which settles it too.
    const auto report = f.node.gc();
    CHECK(d.mounted.empty());
    CHECK(f.store.read().empty());
    CHECK(report.failures.empty());
    CHECK(std::count_if(report.actions.begin(), report.actions.end(),
                        [](const std::string& a) { return a.find("interrupted") != std::string::npos; }) >= 3);
}

TEST_CASE("gc keeps an interrupted mount when the driver cannot be reached", "[volumes][node][gc]") {
    Fixture f;
    f.drivers["rexray"].failing = {"Unmount v1!"};
    f.store.transact(Scope::all(), [](State& s) {
        s.volumes.push_back(VolumeRecord{{"rexray", "v1"}, "id1", "", {}, VolumeStatus::mounting, {}, {1, 1}, ""});
    });
    const auto report = f.node.gc();
    REQUIRE(report.failures.size() == 1);
    CHECK_THAT(report.failures[0], Catch::Contains("will retry"));
    // Still `mounting`: its Mount's window holds when the driver answers again.
    CHECK(f.store.read().volumes.at(0).status == VolumeStatus::mounting);
    CHECK_THAT(f.store.read().volumes.at(0).last_error, Catch::Contains("unreachable"));
}

TEST_CASE("a live hook's intent is left alone by gc", "[volumes][node][gc]") {
    Fixture f;
    f.store.transact(Scope::all(), [](State& s) {
        s.volumes.push_back(
            VolumeRecord{{"rexray", "v1"}, "id1", "", {}, VolumeStatus::mounting, {}, ns::self_process(), ""});
    });
    const auto report = f.node.gc();
    CHECK(report.actions.empty());
    CHECK(f.drivers["rexray"].calls.empty());
}

TEST_CASE("a placer that places nothing leaves the volume for attach", "[volumes][node][mesos]") {
    Fixture f;
    f.node.acquire({"m1", "mesos", ProcessId{}}, {req("rexray", "v1", "data")},
                   place_each([](const Request&, const std::string&) { return std::string(); }));
    REQUIRE_FALSE(f.store.read().find_container("m1")->volumes.at(0).placed);
    f.node.attach("m1", ns::self_process(), f.placer.placer());
    REQUIRE(f.placer.placed.size() == 1);
    const auto p = f.store.read().find_container("m1")->volumes.at(0);
    CHECK(p.placed);
    CHECK(p.target == "data");
    CHECK(f.store.read().find_container("m1")->process == ns::self_process());
    f.node.attach("m1", ns::self_process(), f.placer.placer()); // placed ones are not placed again
    CHECK(f.placer.placed.size() == 1);
}

TEST_CASE("hold is ensure-mounted and unhold ensure-unmounted", "[volumes][node][dvdcli]") {
    Fixture f;
    const std::string mp1 = f.node.hold("dvdcli:rexray/v1", "dvdcli", req("rexray", "v1"));
    const std::string mp2 = f.node.hold("dvdcli:rexray/v1", "dvdcli", req("rexray", "v1"));
    auto& d = f.drivers["rexray"];
    CHECK(d.count("Mount v1") == 1);
    CHECK(mp1 == mp2);
    CHECK_FALSE(mp1.empty());
    CHECK(f.store.read().find_container("dvdcli:rexray/v1")->runtime == "dvdcli");
    CHECK(f.node.unhold("dvdcli:rexray/v1"));
    CHECK(d.count("Unmount v1") == 1);
    CHECK_FALSE(f.node.unhold("dvdcli:rexray/v1"));
    CHECK(d.count("Unmount v1") == 1);
    CHECK(f.store.read().empty());
}

TEST_CASE("the state is written once per phase, not once per volume", "[volumes][node]") {
    // prestart: the container and the intents; the Mounts' outcomes; where the volumes went.
    // poststop: the container gone and the unmount intents; the Unmounts' outcomes.
    for (const int n : {1, 10}) {
        INFO(n << " volume(s)");
        Fixture f;
        std::vector<Request> requests;
        for (int i = 0; i < n; ++i) {
            requests.push_back(req("rexray", fmt::format("v{}", i), fmt::format("/d{}", i)));
        }
        f.node.acquire(ctr("c1"), requests, f.placer.placer());
        CHECK(f.store.writes() == 3);
        CHECK(f.drivers["rexray"].count("Mount") == n);
        CHECK(f.placer.placed.size() == static_cast<std::size_t>(n));
        // A second container on a volume mounted already: no Mount, and nothing to record of one.
        requests.resize(1);
        f.node.acquire(ctr("c2"), requests, f.placer.placer());
        CHECK(f.store.writes() == 3 + 2);
        CHECK(f.drivers["rexray"].count("Mount") == n);
        // The first container's release: no Unmount of v0 (c2 holds it), so no outcome to record
        // when it held nothing else.
        CHECK(f.node.release("c1"));
        CHECK(f.store.writes() == 5 + (n == 1 ? 1 : 2));
        CHECK(f.drivers["rexray"].count("Unmount") == n - 1);
        const auto s = f.store.read();
        REQUIRE(s.volumes.size() == 1);
        CHECK(s.volumes[0].users == std::vector<std::string>{"c2"});
        const int before = f.store.writes();
        CHECK(f.node.release("c2"));
        CHECK(f.store.writes() == before + 2);
        CHECK(f.store.read().empty());
    }
}

TEST_CASE("a container's slow placement does not hold up another container on the same volume", "[volumes][node]") {
    Fixture f;
    std::promise<void> placing;
    std::promise<void> finish;
    auto finish_now = finish.get_future().share();
    std::thread slow([&] {
        f.node.acquire(ctr("c1"), {req("rexray", "shared")}, place_each([&](const Request&, const std::string& mp) {
                           placing.set_value();
                           finish_now.wait();
                           return mp;
                       }));
    });
    placing.get_future().wait(); // c1 is placing: its Mount is done and recorded
    auto second = std::async(std::launch::async, [&] {
        RecordingPlacer p;
        f.node.acquire(ctr("c2"), {req("rexray", "shared")}, p.placer());
    });
    const bool done = second.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
    finish.set_value();
    slow.join();
    REQUIRE(done);
    second.get();
    CHECK(f.drivers["rexray"].count("Mount") == 1);
    const auto s = f.store.read();
    REQUIRE(s.volumes.size() == 1);
    CHECK(s.volumes[0].users == std::vector<std::string>{"c1", "c2"});
}

TEST_CASE("a Mount with no answer that cannot be undone either stays recorded for gc, among other volumes",
          "[volumes][node]") {
    Fixture f;
    // v2's Mount was sent but got no answer (it may have happened), and its Unmount cannot
    // reach the driver either: only gc can settle it, so its `mounting` record must stay.
    f.drivers["rexray"].failing = {"Mount v2!", "Unmount v2!"};
    CHECK_THROWS_WITH(
        f.node.acquire(ctr("c1"), {req("rexray", "v1"), req("rexray", "v2", "/b"), req("rexray", "v3", "/c")},
                       f.placer.placer()),
        Catch::StartsWith("volume rexray/v2 (test v2): fake rexray: Mount \"v2\": unreachable (unmounting it again "
                          "failed too") &&
            Catch::EndsWith("released the volumes already taken (rexray/v1)"));
    auto& d = f.drivers["rexray"];
    CHECK(d.count("Unmount v1") == 1);
    CHECK(d.count("Mount v3") == 0);
    const auto s = f.store.read();
    REQUIRE(s.volumes.size() == 1);
    CHECK(s.volumes[0].key.name == "v2");
    CHECK(s.volumes[0].status == VolumeStatus::mounting);
    CHECK(s.volumes[0].users.empty());
    CHECK(s.containers.empty());
}

TEST_CASE("a container released while its volumes are placed (gc, its process gone) is reported, not "
          "recorded",
          "[volumes][node]") {
    Fixture f;
    CHECK_THROWS_WITH(
        f.node.acquire(ctr("c1"), {req("rexray", "v1")}, place_each([&](const Request&, const std::string& mp) {
                           CHECK(f.node.release("c1")); // what gc does meanwhile
                           return mp;
                       })),
        "container c1 was released while it was starting");
    CHECK(f.drivers["rexray"].count("Unmount v1") == 1);
    CHECK(f.drivers["rexray"].mounted.empty());
    CHECK(f.store.read().empty());
}

TEST_CASE("a volume whose undone Mount is still unsettled is not handed out without a mountpoint", "[volumes][node]") {
    Fixture f;
    f.drivers["rexray"].failing = {"Unmount v1!"};
    // What an undo that could not reach the driver leaves, once gc's first retry failed too.
    f.store.transact(Scope::all(), [](State& s) {
        s.volumes.push_back(VolumeRecord{
            {"rexray", "v1"}, "id-1", "", {}, VolumeStatus::unmount_failed, {}, ProcessId{}, "driver unreachable"});
    });
    CHECK_THROWS_WITH(f.node.acquire(ctr("c1"), {req("rexray", "v1")}, f.placer.placer()),
                      Catch::Contains("volume rexray/v1 (test v1): an earlier unmount of it is not settled (fake "
                                      "rexray: Unmount \"v1\": unreachable)"));
    CHECK(f.drivers["rexray"].count("Mount") == 0); // only the retried Unmount
    CHECK(f.placer.placed.empty());
    const auto after = f.store.read();
    REQUIRE(after.volumes.size() == 1);
    CHECK(after.volumes[0].status == VolumeStatus::unmount_failed);
    CHECK(after.containers.empty());
}

TEST_CASE("forget: the operator drops a volume whose driver is gone, never while a live user holds it",
          "[volumes][node][gc][chaos]") {
    Fixture f;
    auto& d = f.drivers["rexray"];
    f.node.acquire(ctr("c1"), {req("rexray", "v1")}, f.placer.placer()); // c1: no process to watch
    // A holder without a process (or a live container) keeps it: nothing changes.
    CHECK_THROWS_WITH(f.node.forget({"rexray", "v1"}),
                      Catch::Contains("volume rexray/v1 is in use by c1") && Catch::Contains("nothing was changed"));
    f.node.acquire({"live", "oci", ns::self_process()}, {req("rexray", "v1")}, f.placer.placer());
    CHECK(f.node.release("c1"));
    CHECK_THROWS_WITH(f.node.forget({"rexray", "v1"}), Catch::Contains("in use by live (oci, pid"));
    CHECK(f.node.release("live"));
    // The plugin is gone for good: every call fails; gc cannot settle the record.
    f.node.acquire(ctr("c2"), {req("rexray", "v1")}, f.placer.placer());
    d.failing = {"Unmount v1!", "Path v1!"};
    f.node.release("c2");
    CHECK_FALSE(f.node.gc().failures.empty());
    const auto calls = d.calls.size();
    const auto dropped = f.node.forget({"rexray", "v1"});
    REQUIRE(dropped.has_value());
    CHECK_THAT(*dropped, Catch::StartsWith("volume rexray/v1: forgot its unsettled record (mount ID ") &&
                             Catch::Contains("without calling the driver"));
    CHECK(d.calls.size() == calls);
    CHECK(f.store.read().empty());
    CHECK(f.node.gc().failures.empty());
    CHECK_FALSE(f.node.forget({"rexray", "v1"}).has_value());
}

TEST_CASE("gc gives a dead hook's Mount until its deadline before a refused Unmount counts as never sent",
          "[volumes][node][gc][chaos]") {
    MemoryStateStore store;
    FakeDriverSet drivers;
    // runc killed the hook at its timeout while the plugin was still attaching: the Mount may
    // land after the hook died. Within the deadline the record stays; past it, it goes.
    Node node(store, drivers, {}, NodeSettings{.mount_window = std::chrono::seconds(60)});
    const pid_t child = ::fork();
    if (child == 0) {
        ::_exit(0);
    }
    const auto dead = ns::process_id(child);
    REQUIRE(dead.has_value());
    ::waitpid(child, nullptr, 0);
    store.transact(Scope::all(), [&](State& s) {
        s.volumes.push_back(VolumeRecord{{"rexray", "v1"},
                                         "late",
                                         "",
                                         {},
                                         VolumeStatus::mounting,
                                         {},
                                         *dead,
                                         "",
                                         static_cast<std::int64_t>(std::time(nullptr))});
    });
    auto report = node.gc();
    REQUIRE(report.failures.size() == 1);
    CHECK_THAT(report.failures[0], Catch::Contains("may still land at the driver until its deadline"));
    CHECK(store.read().volumes.at(0).status == VolumeStatus::mounting);
    // The late Mount lands; the next gc's Unmount is accepted.
    drivers["rexray"].mounted[{"v1", "late"}] = 1;
    report = node.gc();
    CHECK(report.failures.empty());
    CHECK(drivers["rexray"].mounted.empty());
    CHECK(store.read().empty());
    // One that never lands: dropped once its deadline has passed.
    store.transact(Scope::all(), [&](State& s) {
        s.volumes.push_back(VolumeRecord{{"rexray", "v1"},
                                         "never",
                                         "",
                                         {},
                                         VolumeStatus::mounting,
                                         {},
                                         *dead,
                                         "",
                                         static_cast<std::int64_t>(std::time(nullptr)) - 61});
    });
    report = node.gc();
    CHECK(report.failures.empty());
    CHECK(store.read().empty());
}
