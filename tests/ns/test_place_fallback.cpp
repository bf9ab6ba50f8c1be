// place_bind's fallback for kernels without the new mount API (through the feature seam, since
// this kernel has everything), host paths without a root, and propagation.
#include <sys/mount.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "lib/core/core.hpp"
#include "lib/ns/ns.hpp"
#include "tests/harness/harness.hpp"
#include "tests/ns/fake_container.hpp"

using namespace dvdi;
namespace fs = std::filesystem;

namespace {

ns::KernelFeatures without(bool open_tree, bool setattr, bool openat2) {
    ns::KernelFeatures k;
    k.open_tree_move_mount.available = open_tree;
    k.mount_setattr.available = setattr;
    k.openat2.available = openat2;
    k.pidfd_open.available = true;
    return k;
}

} // namespace

TEST_CASE("place: the bind method follows the kernel's features", "[ns][place]") {
    CHECK(ns::choose_bind_method(without(true, true, true)) == ns::BindMethod::detached_clone);
    CHECK(ns::choose_bind_method(without(false, true, true)) == ns::BindMethod::plain_bind);
    CHECK(ns::choose_bind_method(without(true, false, true)) == ns::BindMethod::plain_bind);
    CHECK_THROWS_WITH(ns::choose_bind_method(without(true, true, false)),
                      Catch::StartsWith("the kernel lacks openat2 (Linux >= 5.6 is needed)"));
}

TEST_CASE("place: without open_tree, a plain bind only when the source is visible inside", "[ns][place][root]") {
    DVDI_REQUIRE_ROOT();
    test::TempDir dir("dvdi-fallback");
    const auto rootfs = dir / "rootfs";
    const auto source = dir / "shown" / "vol";
    const auto hidden = dir / "hidden" / "vol";
    for (const auto& d : {rootfs, source, hidden}) {
        fs::create_directories(d);
    }
    test::write_file(source / "hello", "visible");
    test::in_private_mount_ns([&] {
        test::FakeContainer c;
        REQUIRE(c.mount_tmpfs((dir / "hidden").string()) == 0); // the container cannot see hidden/vol
        const auto handle = ns::ProcessHandle::open(c.pid());
        const auto old_kernel = without(false, false, true);
        ns::BindOptions ro;
        ro.read_only = true;
        REQUIRE(ns::choose_bind_method(old_kernel) == ns::BindMethod::plain_bind);
        ns::place_bind(handle, source.string(), {rootfs.string(), "/data"}, ro, old_kernel);
        REQUIRE(ns::find_mount((rootfs / "data").string(), c.pid()).has_value());
        REQUIRE_FALSE(ns::find_mount((rootfs / "data").string()).has_value());
        REQUIRE(c.write_file((rootfs / "data" / "x").string()) == EROFS);
        REQUIRE(ns::find_mount((rootfs / "data").string(), c.pid())->propagation.empty()); // private
        const auto before = test::mount_targets(c.pid());
        REQUIRE_THROWS_WITH(ns::place_bind(handle, hidden.string(), {rootfs.string(), "/other"}, {}, old_kernel),
                            Catch::Contains("the kernel lacks open_tree/move_mount") &&
                                Catch::Contains("is not visible in the mount namespace"));
        REQUIRE(test::mount_targets(c.pid()) == before);
    });
}

TEST_CASE("place: a host path without a root is created only under the auto-create prefixes", "[ns][place][root]") {
    DVDI_REQUIRE_ROOT();
    test::TempDir dir("dvdi-hostpath");
    const auto source = dir / "vol";
    fs::create_directories(source);
    fs::create_directories(dir / "allowed");
    fs::create_directories(dir / "exists");
    test::write_file(source / "hello", "host path");
    test::in_private_mount_ns([&] {
        test::FakeContainer c;
        const auto handle = ns::ProcessHandle::open(c.pid());
        const std::vector<std::string> prefixes{(dir / "allowed").string()};
        const auto made = (dir / "allowed" / "x" / "y").string();
        ns::place_bind(handle, source.string(), {std::nullopt, made, prefixes});
        REQUIRE(ns::find_mount(made, c.pid()).has_value());
        REQUIRE_FALSE(ns::find_mount(made).has_value());
        const auto outside = (dir / "other" / "z").string();
        REQUIRE_THROWS_WITH(ns::place_bind(handle, source.string(), {std::nullopt, outside, prefixes}),
                            Catch::Contains("does not exist") && Catch::Contains("auto-create prefixes"));
        REQUIRE_FALSE(fs::exists(dir / "other"));
        // An existing host path outside the prefixes is fine; a relative one is not.
        ns::place_bind(handle, source.string(), {std::nullopt, (dir / "exists").string()});
        REQUIRE(ns::find_mount((dir / "exists").string(), c.pid()).has_value());
        REQUIRE_THROWS_AS(ns::place_bind(handle, source.string(), {std::nullopt, "rel/path"}), core::InputError);
        // A symlink under the prefix cannot send the creation elsewhere.
        fs::create_directory_symlink(dir / "exists", dir / "allowed" / "link");
        REQUIRE_THROWS(ns::place_bind(handle, source.string(),
                                      {std::nullopt, (dir / "allowed" / "link" / "new").string(), prefixes}));
        REQUIRE_FALSE(fs::exists(dir / "exists" / "new"));
    });
}

TEST_CASE("place: the volume does not propagate back to the host or to peers", "[ns][place][root]") {
    DVDI_REQUIRE_ROOT();
    test::TempDir dir("dvdi-propagation");
    const auto rootfs = dir / "rootfs";
    const auto source = dir / "vol";
    fs::create_directories(rootfs);
    fs::create_directories(source / "sub");
    test::in_private_mount_ns([&] {
        // The source sits on a shared mount, as on a systemd host.
        REQUIRE(::mount(source.c_str(), source.c_str(), nullptr, MS_BIND, nullptr) == 0);
        REQUIRE(::mount(nullptr, source.c_str(), nullptr, MS_SHARED, nullptr) == 0);
        {
            test::FakeContainer c;
            ns::place_bind(ns::ProcessHandle::open(c.pid()), source.string(), {rootfs.string(), "/data"});
            // A mount made inside the volume, in the container, stays there.
            REQUIRE(c.mount_tmpfs((rootfs / "data" / "sub").string()) == 0);
            REQUIRE(ns::find_mount((rootfs / "data" / "sub").string(), c.pid()).has_value());
            REQUIRE_FALSE(ns::find_mount((source / "sub").string()).has_value());
            REQUIRE(ns::find_mount((rootfs / "data").string(), c.pid())->propagation.empty());
        }
        // A container whose root is a peer of the host's (rootfsPropagation shared): refused,
        // since the volume would appear on the host too.
        REQUIRE(::mount(rootfs.c_str(), rootfs.c_str(), nullptr, MS_BIND, nullptr) == 0);
        REQUIRE(::mount(nullptr, rootfs.c_str(), nullptr, MS_SHARED, nullptr) == 0);
        test::FakeContainer peer(false);
        REQUIRE_THROWS_WITH(
            ns::place_bind(ns::ProcessHandle::open(peer.pid()), source.string(), {rootfs.string(), "/data"}),
            Catch::Contains("which is shared") && Catch::Contains("propagate"));
        REQUIRE_FALSE(ns::find_mount((rootfs / "data").string()).has_value());
        REQUIRE_FALSE(ns::find_mount((rootfs / "data").string(), peer.pid()).has_value());
    });
}
