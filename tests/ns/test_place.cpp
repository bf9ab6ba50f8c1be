// place_bind with a real "container": a forked process in its own mount namespace, and a
// rootfs directory. Each test runs in a private mount namespace of its own.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <vector>

#include <catch2/catch.hpp>

#include "lib/core/core.hpp"
#include "lib/ns/ns.hpp"
#include "tests/harness/harness.hpp"
#include "tests/ns/fake_container.hpp"

using namespace dvdi;
namespace fs = std::filesystem;

namespace {

// A rootfs, a volume source with one file, and a decoy directory beside them.
struct World {
    test::TempDir dir{"dvdi-place"};
    fs::path rootfs = dir / "rootfs";
    fs::path source = dir / "vol";
    fs::path decoy = dir / "decoy";
    World() {
        fs::create_directories(rootfs);
        fs::create_directories(source);
        fs::create_directories(decoy);
        test::write_file(source / "hello", "from the volume");
    }
    [[nodiscard]] ns::Target in_root(const std::string& path) const { return {rootfs.string(), path}; }
    // A path inside the container's view, read through /proc/PID/root.
    [[nodiscard]] static fs::path seen_by(pid_t pid, const fs::path& p) {
        return fs::path("/proc") / std::to_string(pid) / "root" / p.relative_path();
    }
};

} // namespace

TEST_CASE("place: a volume appears at the target inside the container and not on the host", "[ns][place][root]") {
    DVDI_REQUIRE_ROOT();
    World w;
    test::in_private_mount_ns([&] {
        test::FakeContainer c;
        const auto host_before = test::mount_targets();
        const auto handle = ns::ProcessHandle::open(c.pid());
        REQUIRE(ns::choose_bind_method(ns::probe_kernel_features()) == ns::BindMethod::detached_clone);
        ns::place_bind(handle, w.source.string(), w.in_root("/data"));
        const std::string target = (w.rootfs / "data").string();
        REQUIRE(ns::find_mount(target, c.pid()).has_value());
        REQUIRE(test::read_file(World::seen_by(c.pid(), target) / "hello") == "from the volume");
        // The host sees the created directory, empty, and no new mount.
        REQUIRE_FALSE(ns::find_mount(target).has_value());
        REQUIRE(test::mount_targets() == host_before);
        REQUIRE_FALSE(fs::exists(w.rootfs / "data" / "hello"));
        // Again with the same source: recognised, not stacked.
        ns::place_bind(handle, w.source.string(), w.in_root("/data"));
        const auto again = test::mount_targets(c.pid());
        REQUIRE(std::count(again.begin(), again.end(), target) == 1);
        // Another source on the same target: refused, naming it.
        REQUIRE_THROWS_WITH(ns::place_bind(handle, w.decoy.string(), w.in_root("data")),
                            Catch::Contains("is already a mountpoint") && Catch::Contains("not stacking"));
        const auto in = test::mount_targets(c.pid());
        REQUIRE(std::count(in.begin(), in.end(), target) == 1);
    });
}

TEST_CASE("place: a read-only volume is read-only inside, the host side stays writable", "[ns][place][root]") {
    DVDI_REQUIRE_ROOT();
    World w;
    test::in_private_mount_ns([&] {
        test::FakeContainer c;
        const auto handle = ns::ProcessHandle::open(c.pid());
        ns::BindOptions ro;
        ro.read_only = true;
        ro.nosuid = true;
        ro.nodev = true;
        ns::place_bind(handle, w.source.string(), w.in_root("/ro"), ro);
        const auto m = ns::find_mount((w.rootfs / "ro").string(), c.pid());
        REQUIRE(m.has_value());
        REQUIRE(m->options.find("ro") == 0);
        REQUIRE(m->options.find("nosuid") != std::string::npos);
        REQUIRE(c.write_file((w.rootfs / "ro" / "new").string()) == EROFS);
        REQUIRE_NOTHROW(test::write_file(w.source / "new", "host writes"));
        REQUIRE(test::read_file(World::seen_by(c.pid(), w.rootfs / "ro" / "new")) == "host writes");
    });
}

TEST_CASE("place: nested volumes at /a and /a/b", "[ns][place][root]") {
    DVDI_REQUIRE_ROOT();
    World w;
    const fs::path second = w.dir / "vol2";
    fs::create_directories(second);
    test::write_file(second / "two", "second volume");
    test::in_private_mount_ns([&] {
        test::FakeContainer c;
        const auto handle = ns::ProcessHandle::open(c.pid());
        ns::place_bind(handle, w.source.string(), w.in_root("/a"));
        ns::place_bind(handle, second.string(), w.in_root("/a/b"));
        REQUIRE(ns::find_mount((w.rootfs / "a").string(), c.pid()).has_value());
        REQUIRE(ns::find_mount((w.rootfs / "a" / "b").string(), c.pid()).has_value());
        REQUIRE(test::read_file(World::seen_by(c.pid(), w.rootfs / "a" / "hello")) == "from the volume");
        REQUIRE(test::read_file(World::seen_by(c.pid(), w.rootfs / "a" / "b" / "two")) == "second volume");
        // b was made inside the first volume (as Docker does), nothing on the host is mounted.
        REQUIRE(fs::is_directory(w.source / "b"));
        REQUIRE_FALSE(ns::find_mount((w.rootfs / "a").string()).has_value());
    });
}

TEST_CASE("place: the process died after its handle was taken: clear error, nothing mounted", "[ns][place][root]") {
    DVDI_REQUIRE_ROOT();
    World w;
    test::in_private_mount_ns([&] {
        const auto host_before = test::mount_targets();
        test::FakeContainer c;
        const auto handle = ns::ProcessHandle::open(c.pid());
        REQUIRE(handle.alive());
        c.kill(); // its pid is free for reuse from here on
        REQUIRE_FALSE(handle.alive());
        REQUIRE_THROWS_WITH(ns::place_bind(handle, w.source.string(), w.in_root("/data")),
                            Catch::Contains("has exited or its pid was reused") && Catch::Contains("nothing"));
        REQUIRE(test::mount_targets() == host_before);
        REQUIRE_THROWS_AS(ns::ProcessHandle::open(999'999'999), core::Error);
        REQUIRE_THROWS_AS(ns::ProcessHandle::open(0), core::InputError);
    });
}

TEST_CASE("place: the process exits mid-way, after the target was resolved", "[ns][place][root]") {
    DVDI_REQUIRE_ROOT();
    World w;
    test::in_private_mount_ns([&] {
        const auto host_before = test::mount_targets();
        test::FakeContainer c;
        const auto handle = ns::ProcessHandle::open(c.pid());
        ns::BindOptions o;
        o.before_attach = [&] { c.kill(); };
        REQUIRE_THROWS_WITH(ns::place_bind(handle, w.source.string(), w.in_root("/data"), o),
                            Catch::Contains("has exited"));
        REQUIRE(test::mount_targets() == host_before);
    });
}

TEST_CASE("place: a hook killed while placing leaves no child behind to hold its stdout or the volume",
          "[ns][place][chaos][root]") {
    DVDI_REQUIRE_ROOT();
    World w;
    test::in_private_mount_ns([&] {
        test::FakeContainer c;
        const auto before = test::mount_targets(c.pid());
        // The hook, as a runtime runs it: its stdout is a pipe the runtime reads to EOF. It is
        // SIGKILLed (as runc does past a hook's timeout) while its placement child waits for
        // the go-ahead.
        int out[2];
        REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
        const pid_t hook = ::fork();
        REQUIRE(hook >= 0);
        if (hook == 0) {
            ::dup2(out[1], STDOUT_FILENO);
            ns::BindOptions o;
            o.before_attach = [] { ::kill(::getpid(), SIGKILL); };
            try {
                ns::place_bind(ns::ProcessHandle::open(c.pid()), w.source.string(), w.in_root("/data"), o);
            } catch (...) {
            }
            ::_exit(3);
        }
        ::close(out[1]);
        const core::UniqueFd reader(out[0]);
        int status = 0;
        REQUIRE(::waitpid(hook, &status, 0) == hook);
        REQUIRE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
        // EOF on the runtime's pipe: nobody holds the hook's stdout any more. (A bounded wait,
        // not a measurement: before the fix the child held it for ever.)
        pollfd pfd{reader.get(), POLLIN, 0};
        REQUIRE(::poll(&pfd, 1, 10'000) == 1);
        char byte = 0;
        REQUIRE(::read(reader.get(), &byte, 1) == 0);
        REQUIRE(test::mount_targets(c.pid()) == before);
    });
}

namespace {

// The children of this process, from every thread's /proc list.
std::vector<pid_t> own_children() {
    std::vector<pid_t> out;
    for (const auto& task : fs::directory_iterator("/proc/self/task")) {
        std::ifstream in(task.path() / "children");
        pid_t p = 0;
        while (in >> p) {
            out.push_back(p);
        }
    }
    return out;
}

} // namespace

TEST_CASE("place: a container's binds are placed by one child process, in order", "[ns][place][root]") {
    DVDI_REQUIRE_ROOT();
    World w;
    test::in_private_mount_ns([&] {
        test::FakeContainer c;
        const auto handle = ns::ProcessHandle::open(c.pid());
        std::vector<fs::path> sources;
        std::vector<ns::Bind> binds;
        std::vector<std::vector<pid_t>> children_at_attach;
        for (int i = 0; i < 3; ++i) {
            sources.push_back(w.dir / ("vol" + std::to_string(i)));
            fs::create_directories(sources.back());
            test::write_file(sources.back() / "id", std::to_string(i));
            ns::BindOptions o;
            // Runs in this process while the child waits to attach this bind: which child is it?
            o.before_attach = [&] {
                auto kids = own_children();
                std::erase(kids, c.pid());
                children_at_attach.push_back(kids);
            };
            binds.push_back(ns::Bind{sources.back().string(), w.in_root("/data" + std::to_string(i)), o});
        }
        ns::PlaceProgress progress;
        ns::place_binds(handle, binds, progress);
        REQUIRE(progress.placed == 3);
        for (int i = 0; i < 3; ++i) {
            const fs::path target = w.rootfs / ("data" + std::to_string(i));
            REQUIRE(test::read_file(World::seen_by(c.pid(), target) / "id") == std::to_string(i));
        }
        // One and the same placing child at every bind, gone afterwards.
        REQUIRE(children_at_attach.size() == 3);
        REQUIRE(children_at_attach[0].size() == 1);
        REQUIRE(children_at_attach[1] == children_at_attach[0]);
        REQUIRE(children_at_attach[2] == children_at_attach[0]);
        auto left = own_children();
        std::erase(left, c.pid());
        REQUIRE(left.empty());
    });
}

TEST_CASE("place: when the second of three binds fails, the first stays placed and the third is not tried",
          "[ns][place][root]") {
    DVDI_REQUIRE_ROOT();
    World w;
    test::in_private_mount_ns([&] {
        test::FakeContainer c;
        const auto handle = ns::ProcessHandle::open(c.pid());
        test::write_file(w.rootfs / "file", "not a directory");
        const std::vector<ns::Bind> binds{{w.source.string(), w.in_root("/first"), {}},
                                          {w.source.string(), w.in_root("/file"), {}},
                                          {w.decoy.string(), w.in_root("/third"), {}}};
        ns::PlaceProgress progress;
        REQUIRE_THROWS_WITH(ns::place_binds(handle, binds, progress), Catch::Contains("file"));
        REQUIRE(progress.at == 1);
        REQUIRE(progress.placed == 1);
        REQUIRE(ns::find_mount((w.rootfs / "first").string(), c.pid()).has_value());
        REQUIRE_FALSE(ns::find_mount((w.rootfs / "file").string(), c.pid()).has_value());
        REQUIRE_FALSE(fs::exists(w.rootfs / "third"));
        // A bad source fails before any child starts: nothing placed, the bad one named.
        ns::PlaceProgress early;
        const std::vector<ns::Bind> bad{{w.decoy.string(), w.in_root("/fourth"), {}},
                                        {"relative/source", w.in_root("/fifth"), {}}};
        REQUIRE_THROWS_AS(ns::place_binds(handle, bad, early), core::InputError);
        REQUIRE(early.at == 1);
        REQUIRE(early.placed == 0);
        REQUIRE_FALSE(fs::exists(w.rootfs / "fourth"));
    });
}
