// The attack suite, part 2: the node's own files, and Mesos tasks without an image, which share
// the host's root file system. Each test is an attack that must fail, or shows that what a
// tenant gets is no more than docs/SECURITY.md says.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/harness/harness.hpp"
#include "tests/hook/mesos_stage.hpp"
#include "tests/ns/fake_container.hpp"
#include "tests/security/attack.hpp"

using namespace dvdi;
using namespace dvdi::test;
using nlohmann::json;

namespace {

// A command task without an image, as the agent describes it: a sandbox, no rootfs, the
// volumes asked for with DVDI_VOLUME_* variables.
json imageless_task(const std::string& id, const fs::path& sandbox, const std::vector<std::string>& env,
                    pid_t pid = 0) {
    json vars = json::array();
    for (const auto& e : env) {
        vars.push_back({{"name", e.substr(0, e.find('='))}, {"type", "VALUE"}, {"value", e.substr(e.find('=') + 1)}});
    }
    json in = {{"container_id", {{"value", id}}},
               {"container_config",
                {{"command_info", {{"environment", {{"variables", vars}}}, {"value", "sleep 100"}}},
                 {"directory", sandbox.string()},
                 {"user", "root"}}}};
    if (pid != 0) {
        in["pid"] = pid;
    }
    return in;
}

// The mount at `target` in the namespace of `pid`, as a mountinfo line ("" when none).
std::string mount_at(pid_t pid, const std::string& target) {
    const std::string table = read_file(fmt::format("/proc/{}/mountinfo", pid));
    std::size_t pos = 0;
    std::string found;
    while (pos < table.size()) {
        const auto end = std::min(table.find('\n', pos), table.size());
        const std::string line = table.substr(pos, end - pos);
        if (line.find(" " + target + " ") != std::string::npos) {
            found = line; // the last one is the topmost
        }
        pos = end + 1;
    }
    return found;
}

} // namespace

TEST_CASE("attack: a state dir or data dir that others can write is refused before anything is done",
          "[attack][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    in_private_mount_ns([] {
        const AttackNode node;
        const std::vector<std::string> env = {"DVDI_VOLUME_NAME=v", "DVDI_VOLUME_DRIVER=local",
                                              "DVDI_VOLUME_CONTAINERPATH=/data"};
        // A local user who can write the state dir could swap the records root acts on.
        fs::create_directories(node.dir / "state");
        fs::permissions(node.dir / "state", fs::perms::all);
        auto b = node.bundle("echo started", env);
        b.write();
        auto r = run_container("runc", b, "dvdi-attack-dirs");
        INFO(r.err);
        REQUIRE(r.status != 0);
        REQUIRE_THAT(r.err, Catch::Contains("state dir `" + (node.dir / "state").string() + "` has mode 0777") &&
                                Catch::Contains("must be owned by root and not writable by group or others"));
        REQUIRE_FALSE(fs::exists(node.dir / "data/volumes/v"));
        REQUIRE_FALSE(fs::exists(node.dir / "state/state.db"));
        REQUIRE_FALSE(fs::exists(node.dir / "state/state.json"));
        fs::permissions(node.dir / "state", fs::perms::owner_all);
        // The same for the local driver's data dir (group-writable is enough to refuse).
        fs::create_directories(node.dir / "data");
        fs::permissions(node.dir / "data", fs::perms::owner_all | fs::perms::group_all);
        r = run_container("runc", b, "dvdi-attack-dirs");
        REQUIRE(r.status != 0);
        REQUIRE_THAT(r.err, Catch::Contains("data dir `" + (node.dir / "data").string() + "` has mode 0770"));
        REQUIRE_FALSE(fs::exists(node.dir / "data/volumes"));
        REQUIRE(AttackNode::mounts_mentioning(node.dir.path().string()).empty());
        REQUIRE(node.state().empty());
    });
}

TEST_CASE("attack: naming many volumes leaves no file per name in the state dir", "[attack][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    in_private_mount_ns([] {
        const AttackNode node;
        // Ten fresh names per container, three containers: each name's lock file goes with its
        // last record, so /run does not fill with names a tenant made up.
        for (int c = 0; c < 3; ++c) {
            std::vector<std::string> env;
            for (int i = 0; i < 10; ++i) {
                const std::string slot = i == 0 ? "" : std::to_string(i);
                env.push_back(fmt::format("DVDI_VOLUME_NAME{}=junk-{}-{}", slot, c, i));
                env.push_back(fmt::format("DVDI_VOLUME_DRIVER{}=local", slot));
                env.push_back(fmt::format("DVDI_VOLUME_CONTAINERPATH{}=/v{}", slot, i));
            }
            auto b = node.bundle("true", env);
            b.write();
            const auto r = run_container("runc", b, fmt::format("dvdi-attack-names-{}", c));
            INFO(r.err);
            REQUIRE(r.status == 0);
        }
        REQUIRE(listing(node.dir / "state/locks").empty());
        REQUIRE(node.state().empty());
        // What a killed hook may leave, gc removes.
        write_file(node.dir / "state/locks/00000000deadbeef.lock", "");
        const auto gc = run({hook_binary().string(), "--config", node.config.string(), "gc"});
        REQUIRE(gc.status == 0);
        REQUIRE(listing(node.dir / "state/locks").empty());
    });
}

TEST_CASE("attack: a Mesos task without an image cannot place a volume over the host's /etc", "[attack][mesos][root]") {
    DVDI_REQUIRE_ROOT();
    in_private_mount_ns([] {
        const AttackNode node;
        const fs::path sandbox = node.dir / "sandbox";
        fs::create_directories(sandbox);
        FakeContainer task; // shares the host's root, in a mount namespace of its own
        for (const std::string path : {"/etc", "/etc/pam.d", "/usr/bin", "/"}) {
            INFO(path);
            const auto in = imageless_task(
                "imageless-1", sandbox,
                {"DVDI_VOLUME_NAME=pam", "DVDI_VOLUME_DRIVER=local", "DVDI_VOLUME_CONTAINERPATH=" + path}, task.pid());
            const auto r = mesos_stage(node.config, "prepare", in.dump());
            REQUIRE(r.status == 2);
            REQUIRE_THAT(r.error, Catch::Contains("DVDI_VOLUME_CONTAINERPATH: \"" + path + "\""));
            if (path != "/") {
                REQUIRE_THAT(r.error, Catch::Contains("a task without an image can place a volume only under the "
                                                      "host paths the node's operator allows"));
            }
            REQUIRE_FALSE(fs::exists(node.dir / "data/volumes/pam")); // no driver call
            REQUIRE(node.state().empty());
            REQUIRE(mount_at(task.pid(), path).find(node.dir.path().string()) == std::string::npos);
        }
    });
}

TEST_CASE("attack: a Mesos task's host path is placed only under the operator's prefixes, nosuid,nodev",
          "[attack][mesos][root]") {
    DVDI_REQUIRE_ROOT();
    in_private_mount_ns([] {
        AttackNode node;
        const fs::path explicit_dir = node.dir / "ebs-explicit";
        const fs::path other = node.dir / "not-listed";
        fs::create_directories(explicit_dir);
        fs::create_directories(other);
        fs::create_symlink("/etc", explicit_dir / "link");
        // No auto-create prefix: only what host_path_prefixes lists (the seed's /etc/ebs-explicit
        // works once its operator lists it; here a directory of the test stands for it).
        node.configure([&](core::Config& c) {
            c.auto_create_prefixes = {};
            c.host_path_prefixes = {explicit_dir.string()};
        });
        const fs::path sandbox = node.dir / "sandbox";
        fs::create_directories(sandbox);
        FakeContainer task;
        const auto env = [](const fs::path& p) {
            return std::vector<std::string>{"DVDI_VOLUME_NAME=ebs", "DVDI_VOLUME_DRIVER=local",
                                            "DVDI_VOLUME_CONTAINERPATH=" + p.string()};
        };
        const auto run_task = [&](const std::string& id, const fs::path& path) {
            const auto in = imageless_task(id, sandbox, env(path), task.pid());
            auto r = mesos_stage(node.config, "prepare", in.dump());
            if (r.status == 0) {
                r = mesos_stage(node.config, "isolate", in.dump());
            }
            return r;
        };

        // Listed: placed, and nothing set-uid or device-like can come from the volume.
        auto r = run_task("ok-1", explicit_dir);
        INFO(r.err);
        REQUIRE(r.status == 0);
        const std::string line = mount_at(task.pid(), explicit_dir.string());
        REQUIRE_THAT(line, Catch::Contains("nosuid") && Catch::Contains("nodev"));
        REQUIRE(mesos_stage(node.config, "cleanup", imageless_task("ok-1", sandbox, {}).dump()).status == 0);

        // Not listed: refused before any driver call, naming the field.
        r = run_task("bad-1", other);
        REQUIRE(r.status == 2);
        REQUIRE_THAT(r.error, Catch::Contains("DVDI_VOLUME_CONTAINERPATH: \"" + other.string() + "\""));

        // Listed, but a symlink under it leads to /etc: walked beneath the prefix, it fails, and
        // the volume taken for it is given back.
        r = run_task("bad-2", explicit_dir / "link");
        REQUIRE(r.status == 1);
        REQUIRE(mesos_stage(node.config, "cleanup", imageless_task("bad-2", sandbox, {}).dump()).status == 0);
        REQUIRE(mount_at(task.pid(), "/etc").find(node.dir.path().string()) == std::string::npos);
        REQUIRE(node.state().empty());
        REQUIRE(nlohmann::json::parse(read_file(node.dir / "data/volumes/ebs/mounts.json"))["ids"].empty());
    });
}
