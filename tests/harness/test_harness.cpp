// The harness itself: its helpers are what every other test trusts.
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <stdexcept>

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

namespace {

// For a child that fails on purpose: its own report of the failure goes to /dev/null.
void quiet() {
    std::cout.flush();
    const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
}

} // namespace

TEST_CASE("run_in_child carries every failed assertion of the child out, whatever its macro, and what it threw",
          "[harness]") {
    struct Case {
        std::string expected; // in what the child reports
        std::function<void()> body;
    };
    const std::vector<Case> cases = {
        {"CHECK( answer == 42 ) with expansion 41 == 42",
         [] {
             const int answer = 41;
             CHECK(answer == 42);
         }},
        {"CHECK_FALSE( yes )",
         [] {
             const bool yes = true;
             CHECK_FALSE(yes);
         }},
        {"CHECK_THAT( text, Catch::Contains(\"xyz\") ) with expansion \"abc\" contains: \"xyz\"",
         [] {
             const std::string text = "abc";
             CHECK_THAT(text, Catch::Contains("xyz"));
         }},
        {"CHECK_THROWS( (void)0 )", [] { CHECK_THROWS((void)0); }},
        {"CHECK_NOTHROW( throw std::runtime_error(\"thrown inside\") )\n    with message: thrown inside",
         [] { CHECK_NOTHROW(throw std::runtime_error("thrown inside")); }},
        {"FAIL_CHECK\n    with message: told to fail", [] { FAIL_CHECK("told to fail"); }},
        {"REQUIRE( 1 == 2 )", [] { REQUIRE(1 == 2); }},
        {"CHECK( false )\n    with message: the context",
         [] {
             INFO("the context");
             CHECK(false);
         }},
        {"an exception: boom", [] { throw std::runtime_error("boom"); }},
        {"an exception of an unknown type", [] { throw 42; }},
    };
    for (const auto& c : cases) {
        const auto child = run_in_child(
            [&] {
                quiet();
                c.body();
                CHECK(true); // a passing assertion after the failure adds nothing
            },
            30s);
        INFO(c.expected); // (not in scope in the child, whose failures would quote it)
        CHECK_FALSE(child.ok());
        CHECK(child.status == 1);
        CHECK_THAT(child.failures, Catch::Contains(c.expected));
        CHECK_THAT(child.failures, !Catch::Contains("CHECK( true )"));
    }
    const auto passing = run_in_child(
        [] {
            CHECK(1 + 1 == 2);
            REQUIRE_THAT(std::string("abc"), Catch::Contains("b"));
        },
        30s);
    CHECK(passing.ok());
    CHECK(passing.failures.empty());
}

// Run by the test below in a test process of its own, which it fails on purpose through a CHECK
// in the private-namespace child alone. Hidden, and skipped unless that test runs it.
TEST_CASE("harness self-test: a failed CHECK in a private-namespace child", "[.][harness-selftest]") {
    if (std::getenv("DVDI_HARNESS_SELFTEST") == nullptr) {
        DVDI_SKIP("run by the [harness] test of in_private_mount_ns, which expects it to fail");
    }
    in_private_mount_ns([] {
        const int answer = 41;
        CHECK(answer == 42);
    });
}

TEST_CASE("a failed CHECK inside in_private_mount_ns fails the test case that runs it", "[harness][root]") {
    DVDI_REQUIRE_ROOT();
    std::vector<std::string> env{"DVDI_HARNESS_SELFTEST=1"};
    for (char** e = environ; *e != nullptr; ++e) {
        env.emplace_back(*e);
    }
    const auto r = run({fs::read_symlink("/proc/self/exe").string(), "[harness-selftest]"}, {.env = env});
    INFO(r.out << r.err);
    CHECK(r.status == 1);
    CHECK_THAT(r.out, Catch::EndsWith("0 passed, 1 failed\n"));
    // The parent's report says what failed in the child.
    CHECK_THAT(r.out, Catch::Contains("private-namespace child: exit status 1:"));
    CHECK_THAT(r.out, Catch::Contains("test_harness.cpp:") && Catch::Contains("CHECK( answer == 42 ) with expansion") &&
                          Catch::Contains("41 == 42"));
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
