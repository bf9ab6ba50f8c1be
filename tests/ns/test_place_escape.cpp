// place_bind against a hostile rootfs: symlinks, "..", files, and a racing swap. After each,
// no mount may exist outside the root, on the host or in the container, and nothing may have
// been created outside the root.
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <catch2/catch.hpp>

#include "lib/core/core.hpp"
#include "lib/ns/ns.hpp"
#include "tests/harness/harness.hpp"
#include "tests/ns/fake_container.hpp"

using namespace dvdi;
namespace fs = std::filesystem;

namespace {

constexpr const char* kProbe = "dvdi-escape-probe";

struct Hostile {
    test::TempDir dir{"dvdi-escape"};
    fs::path rootfs = dir / "r1" / "r2" / "rootfs"; // ../../../decoy from inside it is the decoy
    fs::path source = dir / "vol";
    fs::path decoy = dir / "decoy";
    Hostile() {
        fs::create_directories(rootfs);
        fs::create_directories(source);
        fs::create_directories(decoy);
    }
};

// Runs one placement attempt and checks that it failed or stayed inside the root.
void attempt(const Hostile& h, test::FakeContainer& c, const std::string& path) {
    const auto host_before = test::mount_targets();
    const auto in_before = test::mount_targets(c.pid());
    const auto decoy_before = test::listing(h.decoy);
    const auto dir_before = test::listing(h.dir.path());
    try {
        ns::place_bind(ns::ProcessHandle::open(c.pid()), h.source.string(), {h.rootfs.string(), path});
    } catch (const std::exception& e) {
        INFO("refused: " << e.what());
    }
    INFO("path " << path);
    REQUIRE(test::mount_targets() == host_before);
    REQUIRE(test::new_mounts_outside(in_before, test::mount_targets(c.pid()), h.rootfs.string()).empty());
    REQUIRE_FALSE(ns::find_mount("/etc/" + std::string(kProbe), c.pid()).has_value());
    REQUIRE_FALSE(fs::exists(fs::path("/etc") / kProbe));
    REQUIRE(test::listing(h.decoy) == decoy_before);
    REQUIRE(test::listing(h.dir.path()) == dir_before);
}

} // namespace

TEST_CASE("place: symlinks in the rootfs cannot lead the mount out of it", "[ns][place][attack][root]") {
    DVDI_REQUIRE_ROOT();
    Hostile h;
    fs::create_directory_symlink("/etc", h.rootfs / "data");
    fs::create_directory_symlink("../../../../../../../../../../etc", h.rootfs / "up");
    fs::create_directory_symlink("../../../decoy", h.rootfs / "updecoy");
    fs::create_directory_symlink("/b", h.rootfs / "a"); // an absolute chain: /a -> /b -> /c -> /etc
    fs::create_directory_symlink("/c", h.rootfs / "b");
    fs::create_directory_symlink("/etc", h.rootfs / "c");
    fs::create_directory_symlink(h.decoy, h.rootfs / "abs");
    test::in_private_mount_ns([&] {
        test::FakeContainer c;
        for (const auto* p : {"/data", "/up", "/updecoy", "/a", "/abs"}) {
            attempt(h, c, p);
            attempt(h, c, std::string(p) + "/" + kProbe);
        }
        // Whatever succeeded did so inside the root: /data -> /etc means rootfs/etc.
        for (const auto& t : test::mount_targets(c.pid())) {
            if (t.find(h.dir.path().string()) == 0) {
                REQUIRE(t.rfind(h.rootfs.string() + "/", 0) == 0);
            }
        }
    });
}

TEST_CASE("place: '..' in the requested path and a file as target are refused", "[ns][place][attack][root]") {
    DVDI_REQUIRE_ROOT();
    Hostile h;
    test::write_file(h.rootfs / "file", "not a directory");
    test::in_private_mount_ns([&] {
        test::FakeContainer c;
        const auto handle = ns::ProcessHandle::open(c.pid());
        const auto src = h.source.string();
        REQUIRE_THROWS_AS(ns::place_bind(handle, src, {h.rootfs.string(), "/../../decoy"}), core::InputError);
        REQUIRE_THROWS_AS(ns::place_bind(handle, src, {h.rootfs.string(), "data/../../x"}), core::InputError);
        REQUIRE_THROWS_WITH(ns::place_bind(handle, src, {h.rootfs.string(), "/file"}),
                            Catch::Contains("Not a directory"));
        REQUIRE_THROWS_WITH(ns::place_bind(handle, src, {h.rootfs.string(), "/file/sub"}),
                            Catch::Contains("Not a directory"));
        attempt(h, c, "/../../../decoy");
        attempt(h, c, "/file");
        REQUIRE(test::read_file(h.rootfs / "file") == "not a directory");
    });
}

TEST_CASE("place: a target swapped for a symlink while the hook runs stays inside the root",
          "[ns][place][attack][root]") {
    DVDI_REQUIRE_ROOT();
    Hostile h;
    fs::create_directory(h.rootfs / "data");
    fs::create_directory_symlink("../../../decoy", h.rootfs / "swap");
    test::in_private_mount_ns([&] {
        test::FakeContainer c;
        std::atomic<bool> stop{false};
        // Atomically exchanges the directory "data" and the symlink "swap", as fast as it can.
        std::thread racer([&] {
            const auto a = (h.rootfs / "data").string();
            const auto b = (h.rootfs / "swap").string();
            while (!stop) {
                ::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE);
            }
        });
        const auto before = test::mount_targets(c.pid());
        int placed = 0;
        for (int i = 0; i < 100; ++i) {
            try {
                ns::place_bind(ns::ProcessHandle::open(c.pid()), h.source.string(),
                               {h.rootfs.string(), i % 2 == 0 ? "/data" : "/data/sub"});
                ++placed;
            } catch (const std::exception&) {
            }
        }
        stop = true;
        racer.join();
        INFO("placements that succeeded: " << placed);
        REQUIRE(test::new_mounts_outside(before, test::mount_targets(c.pid()), h.rootfs.string()).empty());
        attempt(h, c, "/data"); // the checks, once more, after the race
        REQUIRE(test::listing(h.decoy).empty());
    });
}

TEST_CASE("place: a target that resolves onto a kernel file system is refused, wherever the path led",
          "[ns][place][attack][root]") {
    DVDI_REQUIRE_ROOT();
    Hostile h;
    test::in_private_mount_ns([&] {
        // The container's own procfs and sysfs, as a runtime mounts them before the hook runs,
        // and image symlinks onto them.
        for (const char* d : {"proc", "sys"}) {
            fs::create_directories(h.rootfs / d);
        }
        REQUIRE(::mount("proc", (h.rootfs / "proc").c_str(), "proc", 0, nullptr) == 0);
        REQUIRE(::mount("sysfs", (h.rootfs / "sys").c_str(), "sysfs", 0, nullptr) == 0);
        fs::create_directory_symlink("/proc/1/attr", h.rootfs / "attr");
        fs::create_directory_symlink("../sys/kernel", h.rootfs / "kern");
        test::FakeContainer c;
        const auto handle = ns::ProcessHandle::open(c.pid());
        const auto before = test::mount_targets(c.pid());
        for (const auto& [path, fs_name] : std::vector<std::pair<std::string, std::string>>{
                 {"/proc/sys/kernel", "procfs"}, {"/attr", "procfs"}, {"/kern", "sysfs"}, {"/sys/fs", "sysfs"}}) {
            INFO(path);
            REQUIRE_THROWS_WITH(ns::place_bind(handle, h.source.string(), {h.rootfs.string(), path}),
                                Catch::Contains("resolves to a directory on " + fs_name + ", a kernel file system"));
        }
        REQUIRE(test::mount_targets(c.pid()) == before);
    });
}

TEST_CASE("place: a tenant's host path stays beneath its allowed prefix", "[ns][place][attack][root]") {
    DVDI_REQUIRE_ROOT();
    Hostile h;
    const fs::path prefix = h.dir / "allowed";
    fs::create_directories(prefix / "real");
    fs::create_directory_symlink(h.decoy, prefix / "out");
    fs::create_directory_symlink("/etc", prefix / "etc");
    test::in_private_mount_ns([&] {
        test::FakeContainer c;
        const auto handle = ns::ProcessHandle::open(c.pid());
        const auto before = test::mount_targets(c.pid());
        const auto target = [&](const fs::path& p) {
            ns::Target t;
            t.path = p.string();
            t.host_prefixes = std::vector<std::string>{prefix.string()};
            return t;
        };
        // Outside every prefix: refused before the namespace is entered.
        REQUIRE_THROWS_WITH(ns::place_bind(handle, h.source.string(), target(h.decoy)),
                            Catch::Contains("a host path must lie under an allowed host prefix"));
        // Symlinks under the prefix that lead out of it: walked beneath the prefix, they fail.
        for (const char* link : {"out", "etc"}) {
            INFO(link);
            REQUIRE_THROWS(ns::place_bind(handle, h.source.string(), target(prefix / link)));
        }
        REQUIRE(test::listing(h.decoy).empty());
        REQUIRE(test::mount_targets(c.pid()) == before);
        // Inside it: placed.
        ns::BindOptions o;
        o.nosuid = o.nodev = true;
        ns::place_bind(handle, h.source.string(), target(prefix / "real"), o);
        const auto placed = ns::find_mount((prefix / "real").string(), c.pid());
        REQUIRE(placed.has_value());
        REQUIRE_THAT(placed->options, Catch::Contains("nosuid") && Catch::Contains("nodev"));
    });
}
