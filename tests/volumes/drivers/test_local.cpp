#include <sys/mount.h>
#include <sys/stat.h>

#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "lib/core/core.hpp"
#include "lib/ns/ns.hpp"
#include "lib/volumes/volumes.hpp"
#include "tests/harness/harness.hpp"

using namespace dvdi;
namespace fs = std::filesystem;

namespace {

class FakeMounter : public volumes::Mounter {
  public:
    std::vector<std::string>* log;
    explicit FakeMounter(std::vector<std::string>* l) : log(l) {}
    void mount(const ns::FsMountSpec& s) override {
        log->push_back("mount -t " + s.fstype + " -o " + s.options + " " + s.source + " " + s.target);
    }
    void unmount(const std::string& target) override { log->push_back("umount " + target); }
};

/// Loop devices backed by `file`, from /sys/block/loop*/loop/backing_file.
std::vector<std::string> loops_backed_by(const fs::path& file) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator("/sys/block")) {
        const auto backing = e.path() / "loop/backing_file";
        if (e.path().filename().string().starts_with("loop") && fs::exists(backing)) {
            auto text = test::read_file(backing);
            if (text.starts_with(file.string())) {
                out.push_back(e.path().filename().string());
            }
        }
    }
    return out;
}

} // namespace

TEST_CASE("local driver: options are checked at Create and kept for Mount", "[volumes][drivers]") {
    test::TempDir dir;
    std::vector<std::string> log;
    volumes::LocalDriver d(dir.path(), std::make_unique<FakeMounter>(&log));
    CHECK_THROWS_WITH(d.ensure_exists("v", {{"size", "1g"}}, false),
                      "driver local: VolumeDriver.Create \"v\": unknown option \"size\" (the local driver knows "
                      "type, device, o)");
    CHECK_THROWS_WITH(d.ensure_exists("v", {{"o", "size=1m"}}, false), Catch::Contains("type and device go together"));
    CHECK_THROWS_WITH(d.ensure_exists("v", {}, true), Catch::Contains("no such volume (explicit create is on)"));
    CHECK_THROWS_WITH(d.ensure_exists("../x", {}, false), Catch::Contains("not a valid volume name"));
    CHECK_FALSE(fs::exists(dir / "volumes/v"));

    d.ensure_exists("v", {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m"}}, false);
    d.ensure_exists("v", {{"type", "ext4"}, {"device", "/dev/x"}}, false); // exists: options unchanged
    const auto data = (dir / "volumes/v/_data").string();
    CHECK(d.mount("v", "c1") == data);
    CHECK(d.mount("v", "c2") == data);
    CHECK(d.mount("v", "c2") == data);
    // nosuid,nodev last: they win over anything in `o`.
    CHECK(log == std::vector<std::string>{"mount -t tmpfs -o size=1m,nosuid,nodev tmpfs " + data});
    CHECK_THROWS_WITH(d.remove("v"), Catch::Contains("in use (3 mount IDs)"));
    CHECK(d.path("v") == data); // mounted: its mountpoint
    CHECK_THROWS_WITH(d.unmount("v", "c3"), "driver local: VolumeDriver.Unmount \"v\": not mounted with ID \"c3\"");
    d.unmount("v", "c2");
    d.unmount("v", "c1");
    CHECK(log.size() == 1);
    d.unmount("v", "c2");
    CHECK(log.back() == "umount " + data);
    CHECK(d.path("v").empty()); // no ID holds it: no mountpoint (what settles a refused Unmount)
    CHECK(d.list().size() == 1);
    d.remove("v");
    CHECK(d.list().empty());
}

TEST_CASE("local driver: a record it cannot read is an error naming the file, never \"nothing mounted\"",
          "[volumes][drivers]") {
    test::TempDir dir;
    std::vector<std::string> log;
    volumes::LocalDriver d(dir.path(), std::make_unique<FakeMounter>(&log));
    d.ensure_exists("v", {{"type", "tmpfs"}, {"device", "tmpfs"}}, false);
    const auto data = (dir / "volumes/v/_data").string();
    REQUIRE(d.mount("v", "c1") == data);
    REQUIRE(log.size() == 1);
    const auto record = dir / "volumes/v/mounts.json";
    const std::string saved = test::read_file(record);
    // Failures even root gets (EACCES does not stop root): a symlink, which is not followed
    // (ELOOP), and a directory (EISDIR).
    fs::remove(record);
    fs::create_symlink("mounts.json", record);
    CHECK_THROWS_WITH(d.mount("v", "c2"), "open(`" + record.string() + "`): Too many levels of symbolic links");
    CHECK_THROWS_WITH(d.unmount("v", "c1"), Catch::Contains(record.string()));
    CHECK_THROWS_WITH(d.path("v"), Catch::Contains(record.string()));
    CHECK_THROWS_WITH(d.remove("v"), Catch::Contains(record.string()));
    CHECK(fs::is_directory(data));
    fs::remove(record);
    fs::create_directory(record);
    CHECK_THROWS_WITH(d.mount("v", "c2"), "read(`" + record.string() + "`): Is a directory");
    CHECK_THROWS_WITH(d.remove("v"), Catch::Contains(record.string()));
    CHECK(fs::is_directory(data));
    // Nothing was mounted a second time, and the IDs that hold the volume are still known.
    CHECK(log.size() == 1);
    fs::remove(record);
    test::write_file(record, saved);
    d.unmount("v", "c1");
    CHECK(log.back() == "umount " + data);
    // Only a missing record means nothing is recorded.
    fs::remove(record);
    CHECK(d.path("v").empty());
    d.remove("v");
    CHECK_FALSE(fs::exists(dir / "volumes/v"));
}

TEST_CASE("local driver: without options a volume is a plain directory, nothing is mounted", "[volumes][drivers]") {
    test::TempDir dir;
    std::vector<std::string> log;
    volumes::LocalDriver d(dir.path(), std::make_unique<FakeMounter>(&log));
    d.ensure_exists("plain", {}, false);
    d.mount("plain", "c1");
    d.unmount("plain", "c1");
    CHECK(log.empty());
    CHECK(d.capabilities().scope == "local");
}

TEST_CASE("local driver: tmpfs with o=size=... and a bind of a directory, real mounts", "[volumes][drivers][root]") {
    DVDI_REQUIRE_ROOT();
    test::TempDir dir;
    test::in_private_mount_ns([&] {
        volumes::LocalDriver d(dir / "data");
        d.ensure_exists("t", {{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=2m,mode=0750"}}, false);
        const auto data = d.mount("t", "c1");
        const auto m = ns::find_mount(data);
        REQUIRE(m.has_value());
        REQUIRE(m->fstype == "tmpfs");
        REQUIRE(m->options.find("size=2048k") != std::string::npos);
        test::write_file(fs::path(data) / "f", "x");
        d.unmount("t", "c1");
        REQUIRE_FALSE(ns::find_mount(data).has_value());
        REQUIRE_FALSE(fs::exists(fs::path(data) / "f"));

        fs::create_directories(dir / "src");
        test::write_file(dir / "src/hello", "hi");
        d.ensure_exists("b", {{"type", "none"}, {"device", (dir / "src").string()}, {"o", "bind"}}, false);
        const auto b = d.mount("b", "c1");
        REQUIRE(test::read_file(fs::path(b) / "hello") == "hi");
        d.unmount("b", "c1");
        REQUIRE_FALSE(ns::find_mount(b).has_value());
    });
}

TEST_CASE("local driver: an ext4 loop file is mounted and its loop device released", "[volumes][drivers][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("mkfs.ext4");
    test::TempDir dir;
    const auto image = dir / "disk.img";
    {
        const auto r = test::run({"truncate", "-s", "16M", image.string()});
        REQUIRE(r.status == 0);
        const auto mk = test::run({"mkfs.ext4", "-q", "-F", image.string()});
        REQUIRE(mk.status == 0);
    }
    test::in_private_mount_ns([&] {
        volumes::LocalDriver d(dir / "data");
        d.ensure_exists("e", {{"type", "ext4"}, {"device", image.string()}}, false);
        const auto data = d.mount("e", "c1");
        const auto m = ns::find_mount(data);
        REQUIRE(m.has_value());
        REQUIRE(m->fstype == "ext4");
        REQUIRE(m->source.starts_with("/dev/loop"));
        REQUIRE(loops_backed_by(image).size() == 1);
        test::write_file(fs::path(data) / "written", "through ext4");
        d.unmount("e", "c1");
        REQUIRE_FALSE(ns::find_mount(data).has_value());
        // Mount again: the file is on the filesystem, not in the directory below.
        d.mount("e", "c2");
        REQUIRE(test::read_file(fs::path(data) / "written") == "through ext4");
        d.unmount("e", "c2");
    });
    // Autoclear: no loop device is left on the file (checked in the parent, after the namespace is gone).
    for (int i = 0; i < 50 && !loops_backed_by(image).empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CHECK(loops_backed_by(image).empty());
    CHECK(test::run({"losetup", "-j", image.string()}).out.empty());
}

TEST_CASE("local driver: volumes are root's alone; a data dir others can write is refused", "[volumes][drivers]") {
    test::TempDir dir;
    std::vector<std::string> log;
    volumes::LocalDriver d(dir / "data", std::make_unique<FakeMounter>(&log));
    d.ensure_exists("v", {}, false);
    const auto mode = [](const fs::path& p) {
        struct stat st {};
        REQUIRE(::stat(p.c_str(), &st) == 0);
        return st.st_mode & 07777;
    };
    CHECK(mode(dir / "data") == 0700);
    CHECK(mode(dir / "data/volumes") == 0700);
    CHECK(mode(dir / "data/volumes/v") == 0700);       // no other host user reads a tenant's data
    CHECK(mode(dir / "data/volumes/v/_data") == 0755); // what the container sees
    // An older version's 0755 volumes/ is closed on first use.
    fs::permissions(dir / "data/volumes", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                              fs::perms::others_read | fs::perms::others_exec);
    volumes::LocalDriver again(dir / "data", std::make_unique<FakeMounter>(&log));
    CHECK(again.path("v").empty());
    CHECK(mode(dir / "data/volumes") == 0700);
    // A data dir a local user can write: the records and data root acts on could be swapped.
    fs::permissions(dir / "data", fs::perms::all);
    volumes::LocalDriver open(dir / "data", std::make_unique<FakeMounter>(&log));
    CHECK_THROWS_WITH(open.path("v"), Catch::Contains("data dir `" + (dir / "data").string() + "` has mode 0777"));
}

TEST_CASE("local driver: no mount helper is ever run, whatever the type names", "[volumes][drivers][attack][root]") {
    DVDI_REQUIRE_ROOT();
    test::TempDir dir;
    test::in_private_mount_ns([&] {
        // A helper libmount would find for `type=dvdiattack` (/sbin is /usr/sbin on Debian):
        // it leaves a marker when run. Bound over /usr/sbin in this namespace only.
        const fs::path sbin = dir / "sbin";
        const fs::path marker = dir / "helper-ran";
        fs::create_directories(sbin);
        test::write_file(sbin / "mount.dvdiattack", "#!/bin/sh\ntouch " + marker.string() + "\n");
        fs::permissions(sbin / "mount.dvdiattack", fs::perms::owner_all);
        const fs::path target = fs::canonical("/sbin");
        REQUIRE(::mount(sbin.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) == 0);
        REQUIRE(fs::exists("/sbin/mount.dvdiattack"));
        volumes::LocalDriver d(dir / "data");
        d.ensure_exists("h", {{"type", "dvdiattack"}, {"device", (dir / "evil").string()}}, false);
        REQUIRE_THROWS_WITH(d.mount("h", "c1"), Catch::Contains("driver local: VolumeDriver.Mount \"h\""));
        REQUIRE_FALSE(fs::exists(marker));
        REQUIRE_FALSE(ns::find_mount((dir / "data/volumes/h/_data").string()).has_value());
    });
}
