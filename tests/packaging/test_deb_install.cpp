// The .deb installed on this machine for real: podman (no --hooks-dir) picks up the packaged
// hooks.d files, a container gets a `local` volume, the gc timer is enabled and its service's
// command settles an empty node, and removing the package leaves nothing.
//
// This changes the machine: it refuses to run over an installed dvdi-hook, and a guard purges
// the package and removes what the test created even when an assertion fails.
#include <cstdlib>
#include <fstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "build_info.hpp"
#include "tests/harness/harness.hpp"
#include "tests/packaging/packages.hpp"

using namespace dvdi::test;

namespace {

bool package_installed() {
    const auto r = run({"dpkg-query", "-W", "-f=${Status}", "dvdi-hook"});
    return r.status == 0 && r.out.find("installed") != std::string::npos &&
           r.out.find("not-installed") == std::string::npos;
}

/// Lines of this namespace's mount table that mention `needle`.
std::vector<std::string> mounts_with(const std::string& needle) {
    std::vector<std::string> out;
    std::ifstream in("/proc/self/mountinfo");
    for (std::string line; std::getline(in, line);) {
        if (line.find(needle) != std::string::npos) {
            out.push_back(line);
        }
    }
    return out;
}

/// Processes running the installed executable.
std::vector<std::string> installed_hook_processes() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
        std::error_code lec;
        const auto exe = fs::read_symlink(e.path() / "exe", lec).string();
        if (!lec && exe.starts_with("/usr/bin/dvdi-hook")) {
            out.push_back(e.path().filename().string() + " " + exe);
        }
    }
    return out;
}

/// What systemd and deb-systemd-helper hold about the gc units outside the package's files: the
/// timer's enablement link and deb-systemd-helper's record of it.
std::vector<std::string> gc_unit_traces() {
    std::vector<std::string> out;
    for (const char* dir : {"/etc/systemd", "/var/lib/systemd/deb-systemd-helper-enabled",
                            "/var/lib/systemd/deb-systemd-helper-masked"}) {
        std::error_code ec;
        for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec)) {
            if (it->path().filename().string().starts_with("dvdi-hook-gc.")) {
                out.push_back(it->path().string());
            }
        }
    }
    return out;
}

const fs::path kGcService = "/usr/lib/systemd/system/dvdi-hook-gc.service";
const fs::path kGcTimer = "/usr/lib/systemd/system/dvdi-hook-gc.timer";

const std::vector<std::string> kInstalled = {
    "/usr/bin/dvdi-hook",
    "/usr/share/containers/oci/hooks.d/dvdi-hook-prestart.json",
    "/usr/share/containers/oci/hooks.d/dvdi-hook-poststop.json",
    "/usr/lib/tmpfiles.d/dvdi-hook.conf",
    kGcService,
    kGcTimer,
    "/usr/share/man/man8/dvdi-hook.8.gz",
    "/usr/lib/dvdi-hook/bin/dvdcli",
    "/usr/lib/dvdi-hook/mesos/dvdi-hook-mesos-prepare",
};

/// podman with private storage under `dir`, the flags this VM needs, and no --hooks-dir.
std::vector<std::string> podman(const TempDir& dir, std::vector<std::string> args) {
    std::vector<std::string> argv = {"podman",
                                     "--root",
                                     (dir / "root").string(),
                                     "--runroot",
                                     (dir / "runroot").string(),
                                     "--tmpdir",
                                     (dir / "tmp").string(),
                                     "--storage-driver",
                                     "vfs",
                                     "--cgroup-manager=cgroupfs",
                                     "--runtime",
                                     "runc",
                                     "--events-backend",
                                     "none"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

} // namespace

TEST_CASE("packaging: the .deb installs, podman picks up its hooks.d files, a local volume works, and "
          "removing it leaves nothing",
          "[packaging][root][deb]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("dpkg");
    DVDI_REQUIRE_PROGRAM("podman");
    DVDI_REQUIRE_PROGRAM("runc");
    DVDI_REQUIRE_PACKAGE(deb, "deb");
    if (package_installed()) {
        DVDI_SKIP("a dvdi-hook package is already installed on this machine; not replacing it");
    }
    for (const auto& f : kInstalled) {
        if (fs::exists(fs::symlink_status(f))) {
            DVDI_SKIP(f + " exists but belongs to no dvdi-hook package; not overwriting it");
        }
    }
    if (const auto traces = gc_unit_traces(); !traces.empty()) {
        DVDI_SKIP(traces.front() + " is left from an earlier dvdi-hook; the test would not see its own");
    }

    const std::string volume = fmt::format("dvdi-pkg-test-{}", ::getpid());
    const bool had_state_dir = fs::exists("/run/dvdi");
    const bool had_data_dir = fs::exists("/var/lib/dvdi");
    const fs::path volume_dir = fs::path("/var/lib/dvdi/volumes") / volume;
    Cleanup undo([&] {
        run({"dpkg", "--purge", "dvdi-hook"});
        std::error_code ec;
        fs::remove_all(volume_dir, ec);
        if (!had_data_dir) {
            fs::remove_all("/var/lib/dvdi", ec);
        }
        if (!had_state_dir) {
            fs::remove_all("/run/dvdi", ec);
        }
    });

    const auto install = run({"dpkg", "-i", deb.string()});
    INFO(install.out << install.err);
    REQUIRE(install.status == 0);
    for (const auto& f : kInstalled) {
        CHECK(fs::exists(f));
    }
    CHECK(fs::exists("/etc/dvdi-hook/config.json"));
    if (find_program("systemd-tmpfiles")) {
        CHECK(fs::is_directory("/run/dvdi")); // the postinst applied the tmpfiles entry
        CHECK((fs::status("/run/dvdi").permissions() & fs::perms::all) == fs::perms::owner_all);
    }
    CHECK(run({"/usr/bin/dvdi-hook", "version"}).status == 0);
    CHECK(run({"/usr/lib/dvdi-hook/bin/dvdcli", "--help"}).status == 0);

    // gc by itself: the timer is enabled (by deb-systemd-helper, without a running systemd; pid 1
    // need not be systemd here, so nothing is started), the service is static, started by it.
    const auto enabled = run({"systemctl", "is-enabled", "dvdi-hook-gc.timer", "dvdi-hook-gc.service"});
    INFO("systemctl is-enabled: " << enabled.out << enabled.err);
    CHECK(enabled.status == 0);
    CHECK(enabled.out == "enabled\nstatic\n");
    CHECK(fs::is_symlink("/etc/systemd/system/timers.target.wants/dvdi-hook-gc.timer"));
    if (find_program("systemd-analyze")) { // the units as systemd loads them, offline
        const auto verify = run({"systemd-analyze", "verify", kGcService.string(), kGcTimer.string()});
        INFO("systemd-analyze verify: " << verify.out << verify.err);
        CHECK(verify.status == 0);
        CHECK(verify.err.empty());
    }
    // The service's command, read from the installed unit, on this node, which holds nothing
    // (the package's default state dir, fresh from the postinst unless it was there before).
    const auto gc_argv = exec_start_argv(read_file(kGcService));
    REQUIRE(gc_argv.size() >= 2);
    CHECK(gc_argv[0] == "/usr/bin/dvdi-hook");
    const auto gc = run(gc_argv);
    INFO("the gc service's command: " << gc.status << "\nstdout: " << gc.out << "\nstderr: " << gc.err
                                      << (had_state_dir ? "\n(/run/dvdi was there before the test)" : ""));
    CHECK(gc.status == 0);
    CHECK(gc.out == "nothing to do\n");
    // `dvdi-hook WORD --help` prints the top-level help for any WORD: look for the command itself.
    const auto help = run({"/usr/bin/dvdi-hook", "--help"}).out;
    const bool front_end =
        help.find("\n  prestart") != std::string::npos && help.find("\n  poststop") != std::string::npos;

    in_private_mount_ns(
        [&] {
            TempDir dir("dvdi-podman");
            OciBundle bundle({"sh"}); // its busybox-static rootfs becomes the image
            const auto tar = run({"tar", "-C", bundle.rootfs().string(), "-cf", (dir / "rootfs.tar").string(), "."});
            REQUIRE(tar.status == 0);
            const auto import =
                run(podman(dir, {"import", (dir / "rootfs.tar").string(), "localhost/dvdi-busybox:test"}));
            INFO(import.err);
            REQUIRE(import.status == 0);

            const auto r = run(
                podman(dir, {"run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit",
                             "nproc=1024:1024", "-e", "DVDI_VOLUME_NAME=" + volume, "-e", "DVDI_VOLUME_DRIVER=local",
                             "-e", "DVDI_VOLUME_CONTAINERPATH=/data", "localhost/dvdi-busybox:test", "sh", "-c",
                             "echo written-in-container >/data/hello && cat /data/hello"}));
            INFO("podman run: " << r.status << "\nstdout: " << r.out << "\nstderr: " << r.err);
            if (!front_end) {
                // This build has no `prestart` yet: the packaged hook ran, and its usage error
                // failed the container, which shows podman picked up the hooks.d file.
                REQUIRE(r.status != 0);
                REQUIRE_THAT(r.err, Catch::Contains("dvdi-hook"));
            } else {
                REQUIRE(r.status == 0);
                REQUIRE(r.out == "written-in-container\n");
                REQUIRE(read_file(volume_dir / "_data/hello") == "written-in-container\n");
                REQUIRE(mounts_with(volume).empty()); // poststop released it
            }
            run(podman(dir, {"rm", "--all", "--force"}));
            run(podman(dir, {"rmi", "--all", "--force"}));
        },
        std::chrono::minutes(3));

    const auto remove = run({"dpkg", "-r", "dvdi-hook"});
    INFO(remove.out << remove.err);
    CHECK(remove.status == 0);
    for (const auto& f : kInstalled) {
        CHECK_FALSE(fs::exists(fs::symlink_status(f)));
    }
    CHECK(fs::exists("/etc/dvdi-hook/config.json")); // a conffile stays until purge
    // The timer's enablement is the administrator's configuration: Debian keeps it (a dangling
    // link, which systemd ignores) until purge, when deb-systemd-helper removes it.
    CHECK(run({"dpkg", "--purge", "dvdi-hook"}).status == 0);
    CHECK_FALSE(fs::exists("/etc/dvdi-hook"));
    CHECK(gc_unit_traces().empty());
    CHECK(mounts_with("/var/lib/dvdi").empty());
    CHECK(mounts_with("/run/dvdi").empty());
    CHECK(installed_hook_processes().empty());

    if (!front_end) {
        DVDI_SKIP("install, podman picking up the hooks.d files, and removal pass; the volume inside the "
                  "container needs `dvdi-hook prestart`/`poststop` (the OCI front end, issue 7), absent in this build");
    }
}
