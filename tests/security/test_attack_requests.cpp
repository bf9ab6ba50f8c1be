// The attack suite, part 1: a hostile container's own request (its environment and its image),
// end to end through real runc and the built hook. Each test is an attack that must fail: the
// container does not start, the error names the field, nothing appears on the host, nothing
// stays mounted, the node state is as before. docs/SECURITY.md lists what each one defends.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "tests/harness/harness.hpp"
#include "tests/security/attack.hpp"

using namespace dvdi;
using namespace dvdi::test;

namespace {

// Runs the attack's container and checks what every failed attack leaves: a failed start whose
// error says `expected`, no mount mentioning the node's dir, an empty state.
CommandResult attack(const AttackNode& node, const OciBundle& b, const std::string& expected) {
    b.write();
    auto r = run_container("runc", b, "dvdi-attack");
    // runc quotes the hook's stderr in its own message: its \" are the hook's ".
    for (auto at = r.err.find("\\\""); at != std::string::npos; at = r.err.find("\\\"", at + 1)) {
        r.err.erase(at, 1);
    }
    INFO("runc: " << r.status << "\n" << r.out << r.err);
    REQUIRE(r.status != 0);
    REQUIRE(r.out.find("ESCAPED") == std::string::npos);
    REQUIRE_THAT(r.err, Catch::Contains(expected));
    REQUIRE(AttackNode::mounts_mentioning(node.dir.path().string()).empty());
    REQUIRE(node.state().empty());
    return r;
}

} // namespace

TEST_CASE("attack: a container asks the local driver to bind the host's root into it", "[attack][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    in_private_mount_ns([] {
        const AttackNode node;
        // The exact request of the issue: local volume x, bound from the host's /, read-write.
        const auto b = node.bundle("cat /host/etc/hostname && echo ESCAPED",
                                   {"DVDI_VOLUME_NAME=x", "DVDI_VOLUME_DRIVER=local", "DVDI_VOLUME_CONTAINERPATH=/host",
                                    "DVDI_VOLUME_OPTS=type=none,device=/,o=bind"});
        attack(node, b, "DVDI_VOLUME_OPTS: \"type=none\": the local driver takes no options from a container");
        REQUIRE_FALSE(fs::exists(node.dir / "data/volumes/x")); // not even created as a plain volume
    });
}

TEST_CASE("attack: a container names a mount helper as the local driver's type to run its script", "[attack][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    in_private_mount_ns([] {
        const AttackNode node;
        // type=fuse.sh makes mount(8) run mount.fuse.sh, which runs `device` as root.
        const fs::path marker = node.dir / "helper-ran";
        const fs::path script = node.dir / "evil.sh";
        write_file(script, "#!/bin/sh\ntouch " + marker.string() + "\n");
        fs::permissions(script, fs::perms::owner_all);
        const auto b = node.bundle("echo ESCAPED", {"DVDI_VOLUME_NAME=fusevol", "DVDI_VOLUME_DRIVER=local",
                                                    "DVDI_VOLUME_CONTAINERPATH=/data",
                                                    "DVDI_VOLUME_OPTS=type=fuse.sh,device=" + script.string()});
        attack(node, b, "DVDI_VOLUME_OPTS: \"type=fuse.sh\"");
        REQUIRE_FALSE(fs::exists(marker));
    });
}

TEST_CASE("attack: a container path on the container's procfs or sysfs is refused up front", "[attack][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    in_private_mount_ns([] {
        const AttackNode node;
        for (const std::string path : {"/proc/sys/kernel", "/proc/1/attr", "/sys/kernel", "//sys/./fs/cgroup"}) {
            INFO(path);
            const auto b = node.bundle("echo ESCAPED", {"DVDI_VOLUME_NAME=k", "DVDI_VOLUME_DRIVER=local",
                                                        "DVDI_VOLUME_CONTAINERPATH=" + path});
            attack(node, b,
                   "DVDI_VOLUME_CONTAINERPATH: \"" + path +
                       "\": a container path cannot be under /proc or /sys (kernel file systems)");
            REQUIRE_FALSE(fs::exists(node.dir / "data/volumes/k")); // refused before any driver call
        }
    });
}

TEST_CASE("attack: an image symlink sends the volume onto the container's procfs or sysfs", "[attack][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    in_private_mount_ns([] {
        const AttackNode node;
        // The request looks harmless; the image's /data is a symlink the resolution follows
        // inside the root, onto the container's own /proc (runc CVE-2019-16884's class).
        for (const auto& [link, fs_name] : std::vector<std::pair<std::string, std::string>>{
                 {"/proc/1/attr", "procfs"}, {"/proc/sys/kernel", "procfs"}, {"/sys/kernel", "sysfs"}}) {
            INFO(link);
            auto b = node.bundle("echo ESCAPED", {"DVDI_VOLUME_NAME=sym", "DVDI_VOLUME_DRIVER=local",
                                                  "DVDI_VOLUME_CONTAINERPATH=/data"});
            fs::create_symlink(link, b.rootfs() / "data");
            const auto r = attack(node, b, "a kernel file system");
            REQUIRE_THAT(r.err, Catch::Contains("`/data` inside `") && Catch::Contains("on " + fs_name));
            // Taken and given back: the local driver holds no mount ID of it.
            REQUIRE(nlohmann::json::parse(read_file(node.dir / "data/volumes/sym/mounts.json"))["ids"].empty());
        }
    });
}

TEST_CASE("attack: '..' in a container path is refused in every form, never normalised into place", "[attack][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    in_private_mount_ns([] {
        const AttackNode node;
        for (const std::string path : {"/x/../../etc", "/data/..", "/a/../b", "/../../../../etc"}) {
            INFO(path);
            const auto b = node.bundle("echo ESCAPED", {"DVDI_VOLUME_NAME=dots", "DVDI_VOLUME_DRIVER=local",
                                                        "DVDI_VOLUME_CONTAINERPATH=" + path});
            attack(node, b, "DVDI_VOLUME_CONTAINERPATH: \"" + path + "\": a container path cannot contain '..'");
        }
    });
}

TEST_CASE("attack: an image symlink to the host's /etc lands inside the container's root", "[attack][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    in_private_mount_ns([] {
        const AttackNode node;
        // Not refused, and harmless: the symlink is followed inside the root, so the volume goes
        // onto the container's own /etc, never the host's.
        auto b =
            node.bundle("echo pwned > /data/dvdi-attack-pwned && cat /etc/dvdi-attack-pwned",
                        {"DVDI_VOLUME_NAME=etcvol", "DVDI_VOLUME_DRIVER=local", "DVDI_VOLUME_CONTAINERPATH=/data"});
        fs::create_symlink("../../../../../../etc", b.rootfs() / "data");
        b.write();
        const auto before = AttackNode::mounts_mentioning(" /etc");
        const auto r = run_container("runc", b, "dvdi-attack-etc");
        INFO(r.err);
        REQUIRE(r.status == 0);
        REQUIRE(r.out == "pwned\n");
        REQUIRE_FALSE(fs::exists("/etc/dvdi-attack-pwned"));
        REQUIRE(read_file(node.dir / "data/volumes/etcvol/_data/dvdi-attack-pwned") == "pwned\n");
        REQUIRE(AttackNode::mounts_mentioning(" /etc") == before);
        REQUIRE(node.state().empty());
    });
}

TEST_CASE("attack: option keys the operator did not allow for a plugin never reach it", "[attack][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    TestPlugin plugin;
    in_private_mount_ns([&] {
        AttackNode node(&plugin);
        node.configure([&](core::Config& c) { c.driver_policy[plugin.name()].tenant_options = {"size"}; });
        const auto b = node.bundle("echo ESCAPED", {"DVDI_VOLUME_NAME=opt", "DVDI_VOLUME_DRIVER=" + plugin.name(),
                                                    "DVDI_VOLUME_OPTS=size=1,mountopts=suid"});
        attack(node, b,
               "DVDI_VOLUME_OPTS: \"mountopts\": option mountopts is not allowed for driver testplug on this node "
               "(driver_policy.testplug.tenant_options: size)");
        REQUIRE(plugin.calls().empty());
    });
}

TEST_CASE("attack: what a tenant can get from the local driver is a directory or the operator's volume",
          "[attack][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    in_private_mount_ns([] {
        AttackNode node;
        node.configure([](core::Config& c) {
            c.local_volumes.push_back({.name = "scratch-*", .type = "tmpfs", .device = "tmpfs", .o = "size=8m,suid"});
        });
        // The operator's tmpfs for a matching name, nosuid,nodev whatever `o` says; a plain
        // directory for any other name.
        const auto b =
            node.bundle("grep -E ' /(data|plain) ' /proc/self/mountinfo",
                        {"DVDI_VOLUME_NAME=scratch-1", "DVDI_VOLUME_DRIVER=local", "DVDI_VOLUME_CONTAINERPATH=/data",
                         "DVDI_VOLUME_NAME1=plain", "DVDI_VOLUME_DRIVER1=local", "DVDI_VOLUME_CONTAINERPATH1=/plain"});
        b.write();
        const auto r = run_container("runc", b, "dvdi-attack-ok");
        INFO(r.err);
        REQUIRE(r.status == 0);
        const auto data = r.out.substr(0, r.out.find('\n'));
        REQUIRE_THAT(data, Catch::Contains(" /data ") && Catch::Contains("nosuid") && Catch::Contains("nodev") &&
                               Catch::Contains("- tmpfs tmpfs"));
        REQUIRE_THAT(r.out, Catch::Contains(" /plain "));
        REQUIRE_THAT(read_file(node.dir / "data/volumes/scratch-1/opts.json"), Catch::Contains("\"tmpfs\""));
        REQUIRE_THAT(read_file(node.dir / "data/volumes/plain/opts.json"), Catch::Contains("\"type\":\"\""));
        // Other host users cannot reach a tenant's data.
        struct stat st {};
        REQUIRE(::stat((node.dir / "data/volumes/plain").c_str(), &st) == 0);
        REQUIRE((st.st_mode & 07777) == 0700);
        REQUIRE(::stat((node.dir / "data/volumes").c_str(), &st) == 0);
        REQUIRE((st.st_mode & 07777) == 0700);
        REQUIRE(AttackNode::mounts_mentioning(node.dir.path().string()).empty());
        REQUIRE(node.state().empty());
    });
}
