// End to end: real runtimes (runc, crun, podman) run dvdi-hook as their prestart/createRuntime and
// poststop hook. Each test asserts what the container saw and what the driver was asked.
#include <sys/mount.h>
#include <unistd.h>

#include <thread>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/node/state_store.hpp"
#include "tests/harness/harness.hpp"
#include "tests/harness/podman.hpp"
#include "tests/hook/node_dir.hpp"
#include "tests/ns/fake_container.hpp"
#include "tests/plugin/test_plugin.hpp"

using namespace dvdi;
using namespace dvdi::test;
using namespace std::chrono_literals;

namespace {

// A node for the hook (tests/hook/node_dir.hpp) and the hook entries that run it.
struct Node : NodeDir {
    explicit Node(const TestPlugin* plugin = nullptr) : NodeDir("dvdi-e2e", plugin) {}
    [[nodiscard]] std::vector<std::string> hook(const std::string& stage) const {
        return {hook_binary().string(), "--config", config.string(), stage};
    }
    void add_hooks(OciBundle& b, const std::string& create_stage = "prestart") const {
        b.add_hook(create_stage, hook(create_stage));
        b.add_hook("poststop", hook("poststop"));
    }
    [[nodiscard]] fs::path local_volume(const std::string& name) const { return dir / "data/volumes" / name / "_data"; }
    [[nodiscard]] volumes::State state() const { return volumes::open_state_store((dir / "state").string())->read(); }
};

OciBundle bundle(const std::string& script, const std::vector<std::string>& env) {
    OciBundle b({"sh", "-c", script});
    for (const auto& e : env) {
        b.add_env(e);
    }
    return b;
}

// crun 1.8 refuses a hybrid cgroup setup whose v2 hierarchy still has a controller (hugetlb on
// this VM). Moving hugetlb to a v1 hierarchy is what the machine's notes prescribe; it is done
// once, only when crun fails that way.
void make_crun_work() {
    OciBundle probe({"true"});
    probe.write();
    const auto r = run_container("crun", probe, "dvdi-crun-probe");
    if (r.status == 0 || r.err.find("hybrid mode not supported") == std::string::npos) {
        return;
    }
    fs::create_directories("/sys/fs/cgroup/hugetlb");
    if (::mount("cgroup", "/sys/fs/cgroup/hugetlb", "cgroup", 0, "hugetlb") != 0) {
        core::throw_errno("mount cgroup hugetlb", "/sys/fs/cgroup/hugetlb");
    }
}

std::string runtime_under_test() {
    const std::string runtime = GENERATE(as<std::string>{}, "runc", "crun");
    if (runtime == "crun") {
        make_crun_work();
    }
    return runtime;
}

// The same shape as the packaged hooks.d files, pointed at this build and `node`.
void write_hooks_d(const Node& node, const fs::path& hooks) {
    const nlohmann::json hook_file = {{"version", "1.0.0"},
                                      {"hook",
                                       {{"path", hook_binary().string()},
                                        {"args", node.hook("prestart")},
                                        {"env", {"PATH=/usr/bin:/bin"}},
                                        {"timeout", 60}}},
                                      {"when", {{"always", true}}},
                                      {"stages", {"prestart"}}};
    nlohmann::json post = hook_file;
    post["hook"]["args"] = node.hook("poststop");
    post["stages"] = {"poststop"};
    write_file(hooks / "dvdi-hook-prestart.json", hook_file.dump(2));
    write_file(hooks / "dvdi-hook-poststop.json", post.dump(2));
}

} // namespace

TEST_CASE("a container writes into a local volume and a second one reads it back", "[hook][e2e][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    DVDI_REQUIRE_PROGRAM("crun");
    const std::string runtime = runtime_under_test();
    INFO(runtime);
    const Node node;
    const std::vector<std::string> env = {"DVDI_VOLUME_NAME=e2e-data", "DVDI_VOLUME_DRIVER=local",
                                          "DVDI_VOLUME_CONTAINERPATH=/data"};
    auto writer = bundle("echo hello-from-" + runtime + " > /data/msg && cat /proc/self/mountinfo", env);
    auto reader = bundle("cat /data/msg", env);
    // runc and crun both run prestart; createRuntime is the same command under its new name.
    node.add_hooks(writer, "prestart");
    node.add_hooks(reader, "createRuntime");
    writer.write();
    reader.write();
    in_private_mount_ns([&] {
        const auto w = run_container(runtime, writer, "dvdi-e2e-writer");
        INFO(w.err);
        REQUIRE(w.status == 0);
        REQUIRE(w.out.find(" /data ") != std::string::npos); // the container saw a mount at /data
        const auto r = run_container(runtime, reader, "dvdi-e2e-reader");
        INFO(r.err);
        REQUIRE(r.status == 0);
        REQUIRE(r.out == "hello-from-" + runtime + "\n");
        // Nothing of the volume stays mounted on the "host" once both are gone.
        REQUIRE(run({"grep", "-c", "e2e-data", "/proc/self/mountinfo"}).out == "0\n");
    });
    CHECK(read_file(node.local_volume("e2e-data") / "msg") == "hello-from-" + runtime + "\n");
    CHECK(node.state().empty());
}

TEST_CASE("two containers share one plugin volume: one Mount, one Unmount", "[hook][e2e][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    TestPlugin plugin;
    const Node node(&plugin);
    const std::vector<std::string> env = {"DVDI_VOLUME_NAME=shared", "DVDI_VOLUME_DRIVER=" + plugin.name(),
                                          "DVDI_VOLUME_CONTAINERPATH=/data"};
    // The first container waits, holding the volume, until the second one has written.
    auto first =
        bundle("touch /data/first-up; while [ ! -f /data/second-done ]; do sleep 0.1; done; echo first-ok", env);
    auto second = bundle("test -f /data/first-up && touch /data/second-done && echo second-ok", env);
    node.add_hooks(first);
    node.add_hooks(second);
    first.write();
    second.write();
    in_private_mount_ns([&] {
        CommandResult a;
        std::thread t([&] { a = run_container("runc", first, "dvdi-share-1", 60s); });
        const auto volume = plugin.volumes_dir() / "shared";
        for (int i = 0; i < 300 && !fs::exists(volume / "first-up"); ++i) {
            std::this_thread::sleep_for(100ms);
        }
        const auto b = run_container("runc", second, "dvdi-share-2");
        t.join();
        INFO(a.err << b.err);
        REQUIRE(b.out == "second-ok\n");
        REQUIRE(a.out == "first-ok\n");
    });
    const auto mounts = plugin.calls("VolumeDriver.Mount");
    const auto unmounts = plugin.calls("VolumeDriver.Unmount");
    REQUIRE(mounts.size() == 1);
    REQUIRE(unmounts.size() == 1);
    CHECK(unmounts[0]["body"] == mounts[0]["body"]);
    CHECK(plugin.mounts() == nlohmann::json::object());
    CHECK(node.state().empty());
}

TEST_CASE("two volumes and a read-only one", "[hook][e2e][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    TestPlugin plugin;
    const Node node(&plugin);
    auto b = bundle("echo a > /a/f && echo b > /b/f && cat /ro/seed && (echo x > /ro/f 2>&1 || echo ro-refused)",
                    {"DVDI_VOLUME_NAME=va", "DVDI_VOLUME_DRIVER=" + plugin.name(), "DVDI_VOLUME_CONTAINERPATH=/a",
                     "DVDI_VOLUME_NAME1=vb", "DVDI_VOLUME_CONTAINERPATH1=/b", "DVDI_VOLUME_NAME2=vro",
                     "DVDI_VOLUME_DRIVER2=" + plugin.name(), "DVDI_VOLUME_CONTAINERPATH2=/ro", "DVDI_VOLUME_MODE2=RO"});
    node.add_hooks(b);
    b.write();
    fs::create_directories(plugin.volumes_dir() / "vro");
    write_file(plugin.volumes_dir() / "vro/seed", "seeded\n");
    in_private_mount_ns([&] {
        const auto r = run_container("runc", b, "dvdi-three");
        INFO(r.err);
        REQUIRE(r.status == 0);
        REQUIRE(r.out.starts_with("seeded\n"));
        REQUIRE(r.out.find("ro-refused") != std::string::npos);
    });
    CHECK(read_file(plugin.volumes_dir() / "va/f") == "a\n");
    CHECK(read_file(node.local_volume("vb") / "f") == "b\n"); // default driver: local
    CHECK_FALSE(fs::exists(plugin.volumes_dir() / "vro/f"));
    CHECK(plugin.calls("VolumeDriver.Mount").size() == 2);
    CHECK(plugin.calls("VolumeDriver.Unmount").size() == 2);
    CHECK(node.state().empty());
}

TEST_CASE("a failing second volume stops the container and releases the first", "[hook][e2e][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    TestPlugin plugin;
    const Node node(&plugin);
    auto b = bundle("echo should-not-run",
                    {"DVDI_VOLUME_NAME=good", "DVDI_VOLUME_DRIVER=" + plugin.name(), "DVDI_VOLUME_CONTAINERPATH=/good",
                     "DVDI_VOLUME_NAME1=bad", "DVDI_VOLUME_DRIVER1=nosuchplugin", "DVDI_VOLUME_CONTAINERPATH1=/bad"});
    node.add_hooks(b);
    b.write();
    in_private_mount_ns([&] {
        const auto r = run_container("runc", b, "dvdi-fail");
        REQUIRE(r.status != 0);
        REQUIRE(r.out.empty());
        INFO(r.err);
        REQUIRE(r.err.find(R"(volume nosuchplugin/bad (DVDI_VOLUME_NAME1): no plugin \"nosuchplugin\" was found: )") !=
                std::string::npos);
        REQUIRE(r.err.find("; plugins found: " + plugin.name() + ";") != std::string::npos);
        REQUIRE(r.err.find("released the volumes already taken (" + plugin.name() + "/good)") != std::string::npos);
    });
    const auto mounts = plugin.calls("VolumeDriver.Mount");
    REQUIRE(mounts.size() == 1);
    REQUIRE(plugin.calls("VolumeDriver.Unmount").size() == 1);
    CHECK(plugin.mounts() == nlohmann::json::object());
    CHECK(node.state().empty());
}

TEST_CASE("a container path that is a file in the image names its variable; the volumes are released",
          "[hook][e2e][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    TestPlugin plugin;
    const Node node(&plugin);
    // The image has a regular file where the request wants a volume (a typo, or a tenant hoping
    // to have a volume of its own content mounted over the image's /etc/passwd): refused with
    // the slot's CONTAINERPATH variable named, the file left as it was, nothing mounted, and the
    // volumes already mounted for the container given back to the driver.
    auto b = bundle("echo should-not-run",
                    {"DVDI_VOLUME_NAME=first", "DVDI_VOLUME_DRIVER=" + plugin.name(),
                     "DVDI_VOLUME_CONTAINERPATH=/first", "DVDI_VOLUME_NAME2=over",
                     "DVDI_VOLUME_DRIVER2=" + plugin.name(), "DVDI_VOLUME_CONTAINERPATH2=/etc/passwd"});
    node.add_hooks(b);
    b.write();
    const std::string passwd = read_file(b.rootfs() / "etc/passwd");
    in_private_mount_ns([&] {
        const auto r = run_container("runc", b, "dvdi-file-target");
        REQUIRE(r.status != 0);
        REQUIRE(r.out.empty());
        INFO(r.err);
        CHECK(r.err.find(
                  R"(DVDI_VOLUME_CONTAINERPATH2: \"/etc/passwd\": is a file, not a directory, in the container)") !=
              std::string::npos);
        CHECK(r.err.find("released the volumes already taken (" + plugin.name() + "/first, " + plugin.name() +
                         "/over)") != std::string::npos);
        CHECK(r.err.find("DVDI_VOLUME_NAME") == std::string::npos);
        CHECK(r.err.find("exit status 2") != std::string::npos); // an input error: exit 2
        CHECK(run({"grep", "-c", plugin.volumes_dir().string(), "/proc/self/mountinfo"}).out == "0\n");
    });
    CHECK(read_file(b.rootfs() / "etc/passwd") == passwd);
    CHECK(plugin.calls("VolumeDriver.Mount").size() == 2);
    CHECK(plugin.calls("VolumeDriver.Unmount").size() == 2);
    CHECK(plugin.mounts() == nlohmann::json::object());
    CHECK(node.state().empty());
}

TEST_CASE("a bad request fails the container with the rule, and changes nothing", "[hook][e2e][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    TestPlugin plugin;
    const Node node(&plugin);
    auto b = bundle("echo should-not-run",
                    {"DVDI_VOLUME_NAME=ok", "DVDI_VOLUME_DRIVER=" + plugin.name(), "DVDI_VOLUME_NAME3=a/b"});
    node.add_hooks(b);
    b.write();
    in_private_mount_ns([&] {
        const auto r = run_container("runc", b, "dvdi-bad");
        REQUIRE(r.status != 0);
        INFO(r.err);
        REQUIRE(r.err.find(R"(DVDI_VOLUME_NAME3: \"a/b\": a volume name cannot contain '/')") != std::string::npos);
    });
    CHECK(plugin.calls("VolumeDriver.Mount").empty());
    CHECK(node.state().empty());
    CHECK_FALSE(volumes::has_state((node.dir / "state").string()));
}

TEST_CASE("podman runs the hook from a hooks.d file for a container that asks for a volume", "[hook][e2e][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("podman");
    const Node node;
    TempDir hooks("dvdi-hooks.d");
    write_hooks_d(node, hooks.path());
    const Podman podman({}, hooks.path().string());
    in_private_mount_ns([&] {
        podman.import_busybox();
        const auto w = podman.run_container({"-e", "DVDI_VOLUME_NAME=podvol", "-e", "DVDI_VOLUME_CONTAINERPATH=/data",
                                             Podman::kImage, "sh", "-c", "echo from-podman > /data/f"});
        INFO(w.err);
        REQUIRE(w.status == 0);
        const auto r = podman.run_container({"-e", "DVDI_VOLUME_NAME=podvol", "-e", "DVDI_VOLUME_CONTAINERPATH=/data",
                                             Podman::kImage, "cat", "/data/f"});
        INFO(r.err);
        REQUIRE(r.status == 0);
        REQUIRE(r.out == "from-podman\n");
        // A container without DVDI_VOLUME_* runs as usual.
        const auto plain = podman.run_container({Podman::kImage, "echo", "plain"});
        REQUIRE(plain.out == "plain\n");
    });
    CHECK(read_file(node.local_volume("podvol") / "f") == "from-podman\n");
    CHECK(node.state().empty());
}

TEST_CASE("podman shows the hook's error for a driver that is not installed, not \"command not found\"",
          "[hook][e2e][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("podman");
    TestPlugin plugin;
    const Node node(&plugin);
    TempDir hooks("dvdi-hooks.d");
    write_hooks_d(node, hooks.path());
    const Podman podman({}, hooks.path().string());
    // podman (libpod) reads a runtime's error as its own: one containing "not found" or "no such
    // file" exits 127 (define.ExitCode), and with "no such file or directory" it also shows "OCI
    // runtime attempted to invoke a command that was not found" instead of the hook's words
    // (getOCIRuntimeError). Any other runtime error is "OCI runtime error", exit 126.
    const auto check_failed = [&](const CommandResult& r) {
        INFO(r.err);
        CHECK(r.status != 0);
        CHECK(r.status != 127);
        CHECK(r.out.find("should-not-run") == std::string::npos);
        CHECK_THAT(r.err, Catch::Contains("Error: OCI runtime error: ") && Catch::Contains("dvdi-hook: error: "));
        CHECK_THAT(r.err, !Catch::Contains("command that was not found"));
        CHECK_THAT(r.err, Catch::Contains("; plugins found: " + plugin.name()));
    };
    in_private_mount_ns([&] {
        podman.import_busybox();
        // A tenant's typo in the driver's name.
        const auto named =
            podman.run_container({"-e", "DVDI_VOLUME_NAME=v", "-e", "DVDI_VOLUME_DRIVER=nosuch", "-e",
                                  "DVDI_VOLUME_CONTAINERPATH=/data", Podman::kImage, "echo", "should-not-run"});
        check_failed(named);
        CHECK_THAT(named.err, Catch::Contains("was found: no socket nosuch.sock in "));
        // No driver named, and the node's default driver is not installed.
        auto c = core::parse_config(read_file(node.config), "config");
        c.default_driver = "rexray";
        write_file(node.config, nlohmann::json(c).dump());
        const auto defaulted =
            podman.run_container({"-e", "DVDI_VOLUME_NAME=v", "-e", "DVDI_VOLUME_CONTAINERPATH=/data", Podman::kImage,
                                  "echo", "should-not-run"});
        check_failed(defaulted);
        CHECK_THAT(defaulted.err, Catch::Contains("no driver was named, so the default driver") &&
                                      Catch::Contains("was found: no socket rexray.sock in "));
    });
    CHECK(plugin.calls("VolumeDriver.Mount").empty());
    CHECK(node.state().empty());
}

TEST_CASE("the hooks of a container without volumes open no state, and create none", "[hook][oci]") {
    const Node node;
    const fs::path state_dir = node.dir / "state";
    const fs::path novol = node.dir / "novol";
    fs::create_directories(novol);
    write_file(novol / "config.json", R"({"process": {"env": ["PATH=/bin"]}, "root": {"path": "rootfs"}})");
    const auto oci_state = [&](const std::string& id, const fs::path& bundle, const std::string& status) {
        return nlohmann::json{
            {"ociVersion", "1.0.2"}, {"id", id}, {"status", status}, {"pid", ::getpid()}, {"bundle", bundle.string()}}
            .dump();
    };
    CHECK(run(node.hook("prestart"), {.input = oci_state("c1", novol, "creating")}).status == 0);
    CHECK(run(node.hook("poststop"), {.input = oci_state("c1", novol, "stopped")}).status == 0);
    // Its bundle gone, poststop asks the state, which a node that never held a volume does not have.
    const auto gone = run(node.hook("poststop"), {.input = oci_state("c1", node.dir / "gone", "stopped")});
    CHECK(gone.status == 0);
    CHECK_THAT(gone.err, Catch::Contains("container c1 holds no volumes (no state on this node)"));
    CHECK(test::listing(state_dir).empty());
    CHECK_FALSE(volumes::has_state(state_dir.string()));

    // On a node with a state, the answer comes from the container's own row.
    volumes::open_state_store(state_dir.string())->transact(volumes::Scope{}, [](volumes::State&) {});
    const auto db_before = read_file(state_dir / "state.db");
    const auto asked = run(node.hook("poststop"), {.input = oci_state("c2", node.dir / "gone", "stopped")});
    CHECK(asked.status == 0);
    CHECK_THAT(asked.err, Catch::Contains("container c2 holds no volumes on this node"));
    CHECK(read_file(state_dir / "state.db") == db_before);

    // With its bundle there, the no-volume hooks do not open the state at all: not even a
    // database they could not read stops them.
    write_file(state_dir / "state.db", "not a database");
    const auto files = test::listing(state_dir);
    CHECK(run(node.hook("prestart"), {.input = oci_state("c3", novol, "creating")}).status == 0);
    CHECK(run(node.hook("poststop"), {.input = oci_state("c3", novol, "stopped")}).status == 0);
    CHECK(read_file(state_dir / "state.db") == "not a database");
    CHECK(test::listing(state_dir) == files);
    // (A hook that does open it says so: the database is damaged.)
    CHECK(run(node.hook("poststop"), {.input = oci_state("c3", node.dir / "gone", "stopped")}).status == 1);
}
