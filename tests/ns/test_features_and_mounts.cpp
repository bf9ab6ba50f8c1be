#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "lib/core/core.hpp"
#include "lib/ns/ns.hpp"
#include "tests/harness/harness.hpp"

using namespace dvdi;
namespace fs = std::filesystem;

TEST_CASE("kernel feature probe finds the mount API on this kernel", "[ns][features]") {
    const auto k = ns::probe_kernel_features();
    // The project targets Linux >= 5.12; every machine it is tested on has all four.
    CHECK(k.open_tree_move_mount.available);
    CHECK(k.mount_setattr.available);
    CHECK(k.openat2.available);
    CHECK(k.pidfd_open.available);
    CHECK(k.all().size() == 4);
}

TEST_CASE("require names the missing feature and the minimum kernel", "[ns][features]") {
    ns::Feature missing{"openat2", "5.6", false};
    CHECK_THROWS_WITH(
        ns::require(missing, "resolving a target inside the container root"),
        "the kernel lacks openat2 (Linux >= 5.6 is needed): resolving a target inside the container root");
    ns::Feature present{"openat2", "5.6", true};
    CHECK_NOTHROW(ns::require(present, "x"));
}

TEST_CASE("mount table: a tmpfs mounted in a private namespace is found with libmount", "[ns][mounts][root]") {
    DVDI_REQUIRE_ROOT();
    test::TempDir dir;
    const std::string target = (dir / "mnt").string();
    fs::create_directory(target);
    test::in_private_mount_ns([&] {
        REQUIRE(::mount("dvdi-test", target.c_str(), "tmpfs", 0, "size=1m") == 0);
        const auto m = ns::find_mount(target);
        REQUIRE(m.has_value());
        REQUIRE(m->fstype == "tmpfs");
        REQUIRE(m->source == "dvdi-test");
        REQUIRE(::umount(target.c_str()) == 0);
        REQUIRE_FALSE(ns::find_mount(target).has_value());
    });
    // Nothing of it reached this (the parent's) namespace.
    CHECK_FALSE(ns::find_mount(target).has_value());
}

TEST_CASE("mount table of another process's namespace, read through /proc/PID", "[ns][mounts][root]") {
    DVDI_REQUIRE_ROOT();
    test::TempDir dir;
    const std::string target = (dir / "mnt").string();
    fs::create_directory(target);
    test::in_private_mount_ns([&] {
        int ready[2];
        REQUIRE(::pipe(ready) == 0);
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            // A "container": its own mount namespace with a mount the parent cannot see.
            const bool ok = ::unshare(CLONE_NEWNS) == 0 &&
                            ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
                            ::mount("inside", target.c_str(), "tmpfs", 0, "size=1m") == 0;
            [[maybe_unused]] auto n = ::write(ready[1], ok ? "1" : "0", 1);
            ::pause();
            ::_exit(0);
        }
        char c = 0;
        REQUIRE(::read(ready[0], &c, 1) == 1);
        const auto inside = ns::find_mount(target, child);
        const auto outside = ns::find_mount(target);
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
        REQUIRE(c == '1');
        REQUIRE(inside.has_value());
        REQUIRE(inside->source == "inside");
        REQUIRE_FALSE(outside.has_value());
        REQUIRE_THROWS_AS(ns::read_mount_table(child), core::SysError); // reaped: gone
    });
}
