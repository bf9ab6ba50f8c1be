// The node logic under faults, for real: hooks SIGKILLed at each step, then gc; a damaged or
// newer state, a full disk and a read-only state dir during an acquire. Each time the
// test plugin's record and mount counts tell whether anything stayed mounted without a record.
#include <sys/mount.h>

#include <algorithm>
#include <fstream>
#include <optional>

#include "tests/volumes/node/state_files.hpp"
#include "tests/volumes/node/test_node_hooks.hpp"

using namespace dvdi;
using namespace dvdi::volumes;
using namespace dvdi::test;

namespace {

struct Rig {
    TestPlugin plugin;
    TempDir tmp{"dvdi-node-faults"};
    core::Config config = plugin.config();
    std::string dir = (tmp / "state").string();

    [[nodiscard]] std::string driver() const { return plugin.name(); }
    [[nodiscard]] std::vector<Request> requests(const std::vector<std::string>& names) const {
        std::vector<Request> out;
        for (const auto& n : names) {
            out.push_back(volume_request(driver(), n));
        }
        return out;
    }
    [[nodiscard]] State state() const { return open_state_store(dir)->read(); }
    // The hooks here die at named steps, never with a Mount in flight at the driver: gc need not
    // wait for the Mount's deadline before taking a refused Unmount at its word (that rule has
    // a test of its own, in test_node.cpp).
    GcReport gc() const {
        const auto store = open_state_store(dir);
        const auto drivers = open_driver_set(config);
        return Node(*store, *drivers, {}, NodeSettings{.mount_window = std::chrono::milliseconds(0)}).gc();
    }
    void acquire(const std::string& id, const std::vector<std::string>& names) const {
        const auto store = open_state_store(dir);
        const auto drivers = open_driver_set(config);
        Node(*store, *drivers).acquire(ContainerRef{id, "manual", ProcessId{}}, requests(names), trivial_placer());
    }
    bool release(const std::string& id) const {
        const auto store = open_state_store(dir);
        const auto drivers = open_driver_set(config);
        return Node(*store, *drivers).release(id);
    }
    [[nodiscard]] std::string mount_id(const std::string& name) const {
        for (const auto& v : state().volumes) {
            if (v.key.name == name) {
                return v.mount_id;
            }
        }
        return {};
    }
};

StepObserver kill_at(Step step, const std::string& name) {
    return [step, name](Step s, const VolumeKey& key) {
        if (s == step && key.name == name) {
            ::raise(SIGKILL);
        }
    };
}

// Starts a hook that acquires `names` for container `id` (its own process being the container's,
// so gc sees it gone once it is killed), with `observer`.
std::unique_ptr<Hook> start_acquire(const Rig& rig, const std::string& id, const std::vector<std::string>& names,
                                    const StepObserver& observer) {
    return std::make_unique<Hook>([&rig, id, names, observer] {
        const auto store = open_state_store(rig.dir);
        const auto drivers = open_driver_set(rig.config);
        Node(*store, *drivers, observer)
            .acquire(ContainerRef{id, "oci", ns::self_process()}, rig.requests(names), trivial_placer());
        throw core::Error("the hook was not killed");
    });
}

// Runs the acquire in a hook that must be killed by `observer`; returns the hook's pid.
pid_t acquire_and_die(const Rig& rig, const std::string& id, const std::vector<std::string>& names,
                      const StepObserver& observer) {
    auto hook = start_acquire(rig, id, names, observer);
    const pid_t pid = hook->pid();
    REQUIRE(killed(hook->wait()));
    return pid;
}

std::string joined(const std::vector<std::string>& lines) {
    return fmt::format("{}", fmt::join(lines, "\n"));
}

} // namespace

TEST_CASE("a hook SIGKILLed at any step of an acquire leaves a state that gc finishes", "[volumes][node][faults]") {
    Rig rig;
    std::vector<std::string> expected;
    std::set<std::string> names = {"v1"};
    const auto gone = [](pid_t pid, const std::string& what) {
        return fmt::format("container victim (oci, pid {} is gone): released {}", pid, what);
    };

    SECTION("before the driver's Mount") {
        const pid_t pid = acquire_and_die(rig, "victim", {"v1"}, kill_at(Step::before_mount, "v1"));
        const auto s = rig.state();
        REQUIRE(s.volumes.size() == 1);
        CHECK(s.volumes[0].status == VolumeStatus::mounting);
        CHECK(rig.plugin.calls("VolumeDriver.Mount").empty());
        expected = {gone(pid, "nothing"),
                    fmt::format("volume {}/v1: interrupted mount never happened (the driver refused its Unmount: "
                                "plugin {}: VolumeDriver.Unmount \"v1\": \"Unmount of v1 with ID {} without a "
                                "matching Mount\")",
                                rig.driver(), rig.driver(), s.volumes[0].mount_id)};
    }
    SECTION("during a slow Mount") {
        const std::string gate = (rig.tmp / "gate").string();
        rig.plugin.behave("VolumeDriver.Mount", "wait:" + gate);
        auto hook = start_acquire(rig, "victim", {"v1"}, {});
        const pid_t pid = hook->pid();
        REQUIRE(wait_until([&] { return !rig.plugin.calls("VolumeDriver.Mount").empty(); }));
        REQUIRE(killed(hook->kill()));
        expected = {gone(pid, "nothing"), fmt::format("volume {}/v1: undid interrupted mount (mount ID {})",
                                                      rig.driver(), rig.mount_id("v1"))};
        write_file(gate, ""); // let the plugin answer the dead hook's Mount
        REQUIRE(wait_until([&] { return rig.plugin.calls("VolumeDriver.Mount").at(0).contains("end"); }));
    }
    SECTION("after the Mount, before its outcome is recorded") {
        const pid_t pid = acquire_and_die(rig, "victim", {"v1"}, kill_at(Step::after_mount, "v1"));
        expected = {gone(pid, "nothing"), fmt::format("volume {}/v1: undid interrupted mount (mount ID {})",
                                                      rig.driver(), rig.mount_id("v1"))};
    }
    SECTION("after the Mount is recorded, before the bind") {
        const pid_t pid = acquire_and_die(rig, "victim", {"v1"}, kill_at(Step::before_place, "v1"));
        expected = {gone(pid, rig.driver() + "/v1")};
    }
    SECTION("after the bind, before it is recorded") {
        const pid_t pid = acquire_and_die(rig, "victim", {"v1"}, kill_at(Step::after_place, "v1"));
        expected = {gone(pid, rig.driver() + "/v1")};
    }
    SECTION("before the second volume's Mount, the first one held") {
        names.insert("v2");
        const pid_t pid = acquire_and_die(rig, "victim", {"v1", "v2"}, kill_at(Step::before_mount, "v2"));
        const auto id2 = rig.mount_id("v2");
        // Both Mounts are recorded in one write after the last one: v1's outcome was not.
        expected = {
            gone(pid, "nothing"),
            fmt::format("volume {}/v1: undid interrupted mount (mount ID {})", rig.driver(), rig.mount_id("v1")),
            fmt::format("volume {}/v2: interrupted mount never happened (the driver refused its Unmount: "
                        "plugin {}: VolumeDriver.Unmount \"v2\": \"Unmount of v2 with ID {} without a "
                        "matching Mount\")",
                        rig.driver(), rig.driver(), id2)};
    }
    SECTION("before the Unmount of a release") {
        auto hook = std::make_unique<Hook>([&rig] {
            const auto store = open_state_store(rig.dir);
            const auto drivers = open_driver_set(rig.config);
            Node node(*store, *drivers, kill_at(Step::before_unmount, "v1"));
            node.acquire(ContainerRef{"victim", "oci", ns::self_process()}, rig.requests({"v1"}), trivial_placer());
            node.release("victim");
        });
        (void)hook->pid();
        REQUIRE(killed(hook->wait()));
        CHECK(rig.plugin.calls("VolumeDriver.Unmount").empty());
        // The container's record went with the write that marked v1 unmounting.
        expected = {
            fmt::format("volume {}/v1: finished interrupted unmount (mount ID {})", rig.driver(), rig.mount_id("v1"))};
    }

    const auto report = rig.gc();
    CHECK(joined(report.actions) == joined(expected));
    CHECK(report.failures.empty());
    CHECK(rig.state().empty());
    CHECK(plugin_mounts(rig.plugin) == "{}");
    // The dead hook's own calls may overlap gc's (a Mount still running in the plugin).
    check_mount_history(rig.plugin, names, false);
    CHECK(rig.gc().actions.empty()); // nothing left to do
}

TEST_CASE("a hook SIGKILLed while another container holds the volume leaves it mounted for that one",
          "[volumes][node][faults]") {
    Rig rig;
    rig.acquire("holder", {"v1"});
    const auto holder_id = rig.mount_id("v1");
    const auto [step, at] = GENERATE(std::pair{Step::before_place, "v1"}, std::pair{Step::after_place, "v1"},
                                     std::pair{Step::before_mount, "v2"}, std::pair{Step::after_mount, "v2"},
                                     std::pair{Step::before_place, "v2"}, std::pair{Step::after_place, "v2"});
    INFO("killed at step " << static_cast<int>(step) << " of " << at);
    acquire_and_die(rig, "victim", {"v1", "v2"}, kill_at(step, at));

    const auto report = rig.gc();
    INFO(joined(report.actions));
    CHECK(report.failures.empty());
    REQUIRE(report.actions.size() >= 1);
    CHECK(report.actions[0].starts_with("container victim (oci, pid "));
    const auto s = rig.state();
    REQUIRE(s.volumes.size() == 1);
    CHECK(s.volumes[0].key.name == "v1");
    CHECK(s.volumes[0].status == VolumeStatus::mounted);
    CHECK(s.volumes[0].users == std::vector<std::string>{"holder"});
    REQUIRE(s.containers.size() == 1);
    CHECK(s.containers[0].id == "holder");
    CHECK(plugin_mounts(rig.plugin) == nlohmann::json{{"v1", {{holder_id, 1}}}}.dump());

    CHECK(rig.release("holder"));
    CHECK(rig.state().empty());
    CHECK(plugin_mounts(rig.plugin) == "{}");
    const auto periods = check_mount_history(rig.plugin, {"v1", "v2"});
    CHECK(periods.at("v1") == std::vector<std::string>{holder_id});
}

namespace {

// Runs an acquire of v1 for container "c1" in a hook (its process being the container's) and
// returns what it threw ("" when it did not).
std::string failed_acquire(const Rig& rig, const StepObserver& observer = {}) {
    const auto out = rig.tmp / "error.txt";
    std::filesystem::remove(out);
    Hook hook([&] {
        const auto store = open_state_store(rig.dir);
        const auto drivers = open_driver_set(rig.config);
        std::string message;
        try {
            Node(*store, *drivers, observer)
                .acquire(ContainerRef{"c1", "oci", ns::self_process()}, rig.requests({"v1"}), trivial_placer());
        } catch (const std::exception& e) {
            message = e.what();
        }
        write_file(out, message);
    });
    REQUIRE(exited_ok(hook.wait()));
    return read_file(out);
}

// Nothing is mounted that the state does not record: every (name, ID) the plugin counts as
// mounted is a volume in the state with that ID.
void check_no_unrecorded_mount(const Rig& rig, const std::optional<State>& state) {
    const auto mounts = rig.plugin.mounts();
    for (const auto& [name, ids] : mounts.items()) {
        for (const auto& [id, n] : ids.items()) {
            INFO("mounted: " << name << " " << id);
            REQUIRE(state.has_value());
            const auto it = std::find_if(state->volumes.begin(), state->volumes.end(),
                                         [&](const VolumeRecord& v) { return v.key.name == name && v.mount_id == id; });
            CHECK(it != state->volumes.end());
        }
    }
}

} // namespace

TEST_CASE("a damaged or newer state: a clear error, the file left alone, nothing mounted", "[volumes][node][faults]") {
    Rig rig;
    const std::string json = rig.dir + "/state.json";
    const std::string db = rig.dir + "/state.db";
    std::string path; // the file found wrong, left as it is
    std::string says;

    SECTION("a state.json that does not parse, found at the start") {
        std::filesystem::create_directories(rig.dir);
        path = json;
        write_file(path, "{\"version\": 1, \"volumes\": [tru");
        says = "state file " + path + " does not parse";
        CHECK(failed_acquire(rig).starts_with(says));
        CHECK(rig.plugin.calls("VolumeDriver.Mount").empty());
    }
    SECTION("a database of a newer schema, found at the start") {
        (void)open_state_store(rig.dir)->transact(Scope{}, [](State&) {});
        path = db;
        sql(path, "PRAGMA user_version = 3");
        says = "state database `" + path + "` has schema version 3, this dvdi-hook knows version 2";
        CHECK(failed_acquire(rig).starts_with(says));
        CHECK(rig.plugin.calls("VolumeDriver.Mount").empty());
    }
    SECTION("a database of a newer schema, written by another hook while the driver mounts") {
        path = db;
        says = "state database `" + path + "` has schema version 3, this dvdi-hook knows version 2";
        const auto error = failed_acquire(rig, [&](Step s, const VolumeKey&) {
            if (s == Step::after_mount) {
                sql(path, "PRAGMA user_version = 3");
            }
        });
        CHECK(error.starts_with("volume " + rig.driver() + "/v1 (test v1): " + says));
        CHECK(error.find("unmounted it again") != std::string::npos);
        CHECK(rig.plugin.calls("VolumeDriver.Mount").size() == 1);
    }
    const std::string before = read_file(path);
    CHECK(plugin_mounts(rig.plugin) == "{}");
    check_mount_history(rig.plugin, {"v1"});
    // gc refuses too: it never starts over.
    CHECK_THROWS_WITH(rig.gc(), Catch::Contains(says));
    CHECK(read_file(path) == before);
}

namespace {

// Fills the file system of `dir` to the last byte.
void fill(const std::string& dir) {
    std::ofstream f(dir + "/filler", std::ios::binary);
    const std::string block(4096, 'x');
    while (f.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
    f.close();
    std::ofstream g(dir + "/filler2", std::ios::binary);
    while (g.put('x') && g.flush()) {
    }
}

void unfill(const std::string& dir) {
    std::filesystem::remove(dir + "/filler");
    std::filesystem::remove(dir + "/filler2");
}

// Covers `dir` with a read-only bind mount of itself (a remount of the mount the hook has files
// open on for writing would fail with EBUSY); the hook's next open finds the read-only one.
void make_read_only(const std::string& dir) {
    if (::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0) {
        core::throw_errno("bind", dir);
    }
    if (::mount(nullptr, dir.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
        core::throw_errno("remount read-only", dir);
    }
}

void make_writable(const std::string& dir) {
    if (::umount2(dir.c_str(), MNT_DETACH) != 0) {
        core::throw_errno("umount2", dir);
    }
}

} // namespace

TEST_CASE("a full disk or a read-only state dir during an acquire: a clear error, no mount without a record",
          "[volumes][node][faults][root]") {
    DVDI_REQUIRE_ROOT();
    Rig rig;
    std::filesystem::create_directories(rig.dir);
    const bool full_disk = GENERATE(true, false);
    // From the start, after the Mount, or after the placement (the last write). A read-only
    // state dir only from the start: once a hook has the database open for writing, the file
    // system cannot be remounted read-only (EBUSY), and a read-only mount laid over the dir
    // does not reach the files the hook has open.
    const Step when = GENERATE(Step::before_mount, Step::after_mount, Step::after_place);
    const bool at_start = when == Step::before_mount;
    if (!full_disk && !at_start) {
        return;
    }
    INFO((full_disk ? "full disk" : "read-only") << (at_start                    ? " from the start"
                                                     : when == Step::after_mount ? " after the Mount"
                                                                                 : " after the placement"));
    in_private_mount_ns([&] {
        const std::string& dir = rig.dir;
        if (full_disk && ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=256k,mode=0700") != 0) {
            core::throw_errno("mount tmpfs", dir);
        }
        (void)rig.state();
        const auto fault = [&] { full_disk ? fill(dir) : make_read_only(dir); };
        const auto undo = [&] { full_disk ? unfill(dir) : make_writable(dir); };
        if (at_start) {
            fault();
        }
        const auto error = failed_acquire(rig, [&](Step s, const VolumeKey&) {
            if (s == when && !at_start) {
                fault();
            }
        });
        INFO(error);
        const std::string says = full_disk ? "No space left on device" : "Read-only file system";
        REQUIRE(error.find(says) != std::string::npos);
        // A volume's lock file exists only while it has a record: a state dir read-only from the
        // start refuses even that, before anything else is done.
        const bool lock_refused = at_start && !full_disk;
        REQUIRE(error.find(dir + (lock_refused ? "/locks" : "/state.db")) != std::string::npos);
        // A full tmpfs still takes writes into the unused end of a file's last page: a WAL
        // frame of a 1 KiB page may fit there, so the first write to fail after the Mount is
        // the Mount's record or, when it fitted, the placements'. (That the Mount's record
        // failing unmounts it again is pinned by the newer-schema test above.)
        const bool mount_record_failed = error.starts_with("volume " + rig.driver() + "/v1 (test v1): ");
        if (at_start) {
            REQUIRE(rig.plugin.calls("VolumeDriver.Mount").empty());
        } else if (when == Step::after_mount && mount_record_failed) {
            REQUIRE(error.find("unmounted it again") != std::string::npos);
        } else {
            // Mounted, recorded and placed: the release that follows cannot write either, so
            // the volume stays recorded (held by c1) for gc.
            REQUIRE(error.starts_with("recording where the volumes of container c1 went: "));
            REQUIRE(error.find("gc finishes it") != std::string::npos);
        }
        check_no_unrecorded_mount(rig, rig.state());
        if (at_start || mount_record_failed) {
            REQUIRE(plugin_mounts(rig.plugin) == "{}");
        }

        // Once the fault is gone, gc finishes what the hook (gone now) could not record.
        undo();
        const auto report = rig.gc();
        INFO(joined(report.actions) << "\n" << joined(report.failures));
        REQUIRE(report.failures.empty());
        REQUIRE(rig.state().empty());
        REQUIRE(plugin_mounts(rig.plugin) == "{}");
    });
    check_mount_history(rig.plugin, {"v1"});
}

TEST_CASE("a Mount that gets no answer in time is undone, not forgotten", "[volumes][node][faults]") {
    Rig rig;
    auto timeouts = TestPlugin::fast_timeouts();
    timeouts.mount = std::chrono::milliseconds(300);
    rig.config = rig.plugin.config(timeouts);
    // The plugin mounts, then answers too late: the hook cannot tell whether the Mount happened.
    rig.plugin.behave("VolumeDriver.Mount", "slow:1500");
    const auto error = failed_acquire(rig);
    CHECK(error.starts_with("volume " + rig.driver() + "/v1 (test v1): plugin " + rig.driver() +
                            ": VolumeDriver.Mount \"v1\": no answer within 0.3 s (unmounted it again)"));
    CHECK(plugin_mounts(rig.plugin) == "{}");
    CHECK(rig.plugin.calls("VolumeDriver.Unmount").size() == 1);
    CHECK(rig.state().empty());
}
