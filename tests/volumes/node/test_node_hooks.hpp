// Shared by the load and fault tests of the node logic: hooks as real forked processes, each
// with its own state store and drivers (opened after the fork, as a hook opens them), and
// checks over what the test plugin recorded.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/node/node.hpp"
#include "tests/harness/harness.hpp"
#include "tests/plugin/test_plugin.hpp"

namespace dvdi::test {

/// A forked "hook". The body runs in the child (through run_child_body), which exits 0 when
/// nothing failed in it and 1 (with what failed on stderr) when it threw or an assertion failed;
/// it never returns into the test runner. The destructor SIGKILLs and reaps a child still
/// running, so nothing outlives a failing test.
class Hook {
  public:
    explicit Hook(const std::function<void()>& body) {
        std::cout.flush();
        std::cerr.flush();
        pid_ = ::fork();
        if (pid_ < 0) {
            core::throw_errno("fork");
        }
        if (pid_ == 0) {
            const std::string failures = run_child_body(body);
            if (!failures.empty()) {
                std::cerr << "hook " << ::getpid() << ": " << failures << "\n";
            }
            std::cout.flush();
            std::cerr.flush();
            ::_exit(failures.empty() ? 0 : 1);
        }
    }
    Hook(const Hook&) = delete;
    Hook& operator=(const Hook&) = delete;
    ~Hook() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }

    [[nodiscard]] pid_t pid() const { return pid_; }

    /// Waits for the child, killing it after `timeout`; returns its wait status.
    int wait(std::chrono::milliseconds timeout = std::chrono::minutes(4)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        int status = 0;
        while (::waitpid(pid_, &status, WNOHANG) != pid_) {
            if (std::chrono::steady_clock::now() > deadline) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                pid_ = -1;
                throw core::Error("a hook did not finish in time; killed it");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        pid_ = -1;
        return status;
    }

    /// SIGKILLs the child and reaps it; returns its wait status.
    int kill() {
        ::kill(pid_, SIGKILL);
        return wait();
    }

    /// True while the child runs (it is not reaped here).
    [[nodiscard]] bool running() const {
        siginfo_t info{};
        return pid_ > 0 && ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
               info.si_pid == 0;
    }

  private:
    pid_t pid_ = -1;
};

inline bool exited_ok(int status) {
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
inline bool killed(int status) {
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

/// Polls `done` every 5 ms; false after `timeout`.
inline bool wait_until(const std::function<bool()>& done,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

inline volumes::Request volume_request(const std::string& driver, const std::string& name) {
    volumes::Request r;
    r.driver = driver;
    r.name = name;
    r.container_path = "/mnt/" + name;
    r.origin = "test " + name;
    return r;
}

/// A placer that only checks the mountpoint is there.
inline volumes::Placer trivial_placer() {
    return volumes::place_each([](const volumes::Request& r, const std::string& mountpoint) {
        if (!std::filesystem::is_directory(mountpoint)) {
            throw core::Error(fmt::format("{}: mountpoint {} is not a directory", r.name, mountpoint));
        }
        return mountpoint;
    });
}

/// The recorded calls about volume `name` (the body's Name), in the order they arrived.
inline std::vector<nlohmann::json> calls_for(const TestPlugin& plugin, const std::string& name) {
    std::vector<nlohmann::json> out;
    for (auto& c : plugin.calls()) {
        if (c["body"].is_object() && c["body"].value("Name", "") == name) {
            out.push_back(std::move(c));
        }
    }
    return out;
}

inline bool succeeded(const nlohmann::json& call) {
    return call.contains("status") && call["status"] == 200;
}

/// Every successful Mount of (name, ID) is followed, before any other Mount of that name, by a
/// successful Unmount of the same ID, each ID is used for one busy period only, and (with
/// `no_overlap`) no call about one volume overlaps another about the same volume. Returns the
/// IDs, per name, in order.
inline std::map<std::string, std::vector<std::string>>
check_mount_history(const TestPlugin& plugin, const std::set<std::string>& names, bool no_overlap = true) {
    std::map<std::string, std::vector<std::string>> periods;
    for (const auto& name : names) {
        INFO("volume " << name);
        const auto calls = calls_for(plugin, name);
        for (std::size_t i = 0; no_overlap && i + 1 < calls.size(); ++i) {
            INFO("call " << calls[i].dump() << " then " << calls[i + 1].dump());
            REQUIRE(calls[i].contains("end"));
            CHECK(calls[i]["end"].get<long>() < calls[i + 1]["start"].get<long>());
        }
        std::string open; // the ID mounted now
        std::set<std::string> seen;
        for (const auto& c : calls) {
            const auto method = c["method"].get<std::string>();
            if ((method != "VolumeDriver.Mount" && method != "VolumeDriver.Unmount") || !succeeded(c)) {
                continue;
            }
            const auto id = c["body"].value("ID", "");
            INFO(method << " " << id);
            if (method == "VolumeDriver.Mount") {
                CHECK(open.empty());           // never two Mounts without an Unmount between
                CHECK(seen.insert(id).second); // a new ID for each busy period
                open = id;
                periods[name].push_back(id);
            } else {
                CHECK(id == open);
                open.clear();
            }
        }
        CHECK(open.empty());
    }
    return periods;
}

/// What the test plugin still counts as mounted, {"NAME": {"ID": n}}.
inline std::string plugin_mounts(const TestPlugin& plugin) {
    return plugin.mounts().dump();
}

} // namespace dvdi::test
