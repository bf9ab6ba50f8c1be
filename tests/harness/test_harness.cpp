// The harness itself: its helpers are what every other test trusts.
#include <sys/mount.h>

#include <csignal>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "lib/ns/ns.hpp"
#include "tests/harness/harness.hpp"

using namespace dvdi;
using namespace dvdi::test;
using namespace std::chrono_literals;

TEST_CASE("run collects stdout, stderr, the exit status and stdin", "[harness]") {
    const auto r = run({"sh", "-c", "read x; echo out:$x; echo err >&2; exit 3"}, {.input = "hello\n"});
    CHECK(r.status == 3);
    CHECK(r.out == "out:hello\n");
    CHECK(r.err == "err\n");
    CHECK_FALSE(r.timed_out);
}

TEST_CASE("run kills a command that runs past its timeout, children included", "[harness]") {
    const auto start = std::chrono::steady_clock::now();
    const auto r = run({"sh", "-c", "sleep 30 & sleep 30"}, {.timeout = 300ms});
    CHECK(r.timed_out);
    CHECK(r.status == 128 + SIGKILL);
    CHECK(std::chrono::steady_clock::now() - start < 10s);
    CHECK(run({"pgrep", "-f", "^sleep 30$"}).status == 1); // nothing left behind
}

TEST_CASE("TempDir removes itself, detaching mounts below it first", "[harness][root]") {
    DVDI_REQUIRE_ROOT();
    in_private_mount_ns([] {
        fs::path kept;
        fs::path inner;
        {
            TempDir source("dvdi-src");
            write_file(source / "precious", "data");
            kept = source.path();
            TempDir dir;
            inner = dir / "bind";
            fs::create_directory(inner);
            REQUIRE(::mount(source.path().c_str(), inner.c_str(), nullptr, MS_BIND, nullptr) == 0);
            // Removing `dir` must not delete through the bind into `source`.
            fs::path dir_path = dir.path();
            { TempDir gone(std::move(dir)); }
            REQUIRE_FALSE(fs::exists(dir_path));
            REQUIRE(read_file(source / "precious") == "data");
        }
        REQUIRE_FALSE(fs::exists(kept));
    });
}

TEST_CASE("in_private_mount_ns keeps the body's mounts away from the parent", "[harness][root]") {
    DVDI_REQUIRE_ROOT();
    TempDir dir;
    in_private_mount_ns([&] {
        REQUIRE(::mount("inner", dir.path().c_str(), "tmpfs", 0, nullptr) == 0);
        write_file(dir / "file", "x");
        REQUIRE(ns::find_mount(dir.path()).has_value());
    });
    CHECK_FALSE(ns::find_mount(dir.path()).has_value());
    CHECK_FALSE(fs::exists(dir / "file"));
}

TEST_CASE("OciBundle runs under runc, and its prestart hook gets the OCI state", "[harness][e2e][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    TempDir out;
    OciBundle bundle({"sh", "-c", "echo hello from $(hostname); cat /etc/passwd | wc -l"});
    // A hook as the runtime runs it: absolute path, its own env, state JSON on stdin.
    bundle.add_hook("prestart", {"/bin/sh", "-c", "cat > " + (out / "state.json").string()});
    bundle.write();
    in_private_mount_ns([&] {
        const auto r = run_container("runc", bundle, "dvdi-harness-test");
        INFO(r.err);
        REQUIRE(r.status == 0);
        REQUIRE(r.out == "hello from dvdi-test\n1\n");
    });
    const auto state = nlohmann::json::parse(read_file(out / "state.json"));
    CHECK(state["id"] == "dvdi-harness-test");
    CHECK(state["status"] == "creating");
    CHECK(state["pid"].get<int>() > 0);
    CHECK(fs::equivalent(state["bundle"].get<std::string>(), bundle.dir()));
}
