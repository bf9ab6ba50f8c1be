// Process identity: one reader of /proc/PID/stat and one "alive" rule, for the hook's handle on
// a container and for gc's judgement of a recorded process.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "lib/ns/ns.hpp"

using namespace dvdi;

TEST_CASE("process identity tells a live process from a gone one", "[ns][process]") {
    const auto self = ns::self_process();
    CHECK(self.pid == ::getpid());
    CHECK(self.start_time > 0);
    CHECK(ns::process_alive(self));
    CHECK_FALSE(ns::process_alive(ns::ProcessId{self.pid, self.start_time + 1})); // a reused pid
    CHECK_FALSE(ns::process_id(0).has_value());
    CHECK_FALSE(ns::process_id(-1).has_value());
    CHECK_FALSE(ns::process_alive(ns::ProcessId{999'999'999, 1}));
}

TEST_CASE("a zombie is not alive, for gc's rule and for the hook's handle alike", "[ns][process]") {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    const auto identity = ns::process_id(child);
    REQUIRE(identity.has_value());
    auto handle = ns::ProcessHandle::open(child);
    CHECK(ns::process_alive(*identity));
    CHECK(handle.alive());

    // Exited but not reaped: the pid and its start time still read the same from /proc.
    REQUIRE(::kill(child, SIGKILL) == 0);
    siginfo_t info{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT) == 0);
    CHECK(ns::process_id(child) == identity);
    CHECK_FALSE(ns::process_alive(*identity));
    CHECK_FALSE(handle.alive());
    ::waitpid(child, nullptr, 0);
    CHECK_FALSE(ns::process_alive(*identity));
}

TEST_CASE("a stopped process is alive", "[ns][process]") {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    const auto identity = ns::process_id(child);
    REQUIRE(::kill(child, SIGSTOP) == 0);
    siginfo_t info{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(child), &info, WSTOPPED | WNOWAIT) == 0);
    REQUIRE(identity.has_value());
    CHECK(ns::process_alive(*identity));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
}
