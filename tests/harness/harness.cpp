#include "tests/harness/harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

// The listener interfaces (TestEventListenerBase, AssertionStats) outside the runner's own file.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "lib/core/core.hpp"
#include "lib/ns/ns.hpp"

namespace dvdi::test {

namespace {

bool g_skipped = false;

using Clock = std::chrono::steady_clock;

void set_nonblocking(int fd) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

struct Pipe {
    core::UniqueFd read;
    core::UniqueFd write;
    Pipe() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) {
            core::throw_errno("pipe2");
        }
        read.reset(fds[0]);
        write.reset(fds[1]);
    }
};

// Reads what is available on fd into out; false at EOF or error.
bool drain(int fd, std::string& out) {
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            out.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        return n < 0 && errno == EAGAIN;
    }
}

int decode_status(int status) {
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    return 128 + WTERMSIG(status);
}

// Every failed assertion of this process, described as Catch reported it, in order (for
// run_child_body). Catch calls listeners for every failed assertion whatever its macro; passing
// ones are not reported (without -s) and not needed.
std::vector<std::string> g_failed_assertions;

std::string describe(const Catch::AssertionStats& stats) {
    const Catch::AssertionResult& r = stats.assertionResult;
    std::string text = fmt::format("{}:{}: ", r.getSourceInfo().file, r.getSourceInfo().line);
    text += r.hasExpression() ? r.getExpressionInMacro() : std::string(r.getTestMacroName());
    if (r.hasExpandedExpression()) {
        text += " with expansion " + r.getExpandedExpression();
    }
    // The INFO messages in scope, and the assertion's own message (FAIL_CHECK, an exception).
    for (const auto& info : stats.infoMessages) {
        text += "\n    with message: " + info.message;
    }
    return text;
}

class FailedAssertionRecorder : public Catch::TestEventListenerBase {
  public:
    using TestEventListenerBase::TestEventListenerBase;
    bool assertionEnded(const Catch::AssertionStats& stats) override {
        if (!stats.assertionResult.isOk()) {
            g_failed_assertions.push_back(describe(stats));
        }
        return true;
    }
};

} // namespace

CATCH_REGISTER_LISTENER(FailedAssertionRecorder)

fs::path hook_binary() {
    return DVDI_HOOK_PATH;
}
fs::path source_root() {
    return DVDI_SOURCE_ROOT;
}
fs::path build_root() {
    return DVDI_BUILD_ROOT;
}

void mark_skipped(const std::string& reason) {
    g_skipped = true;
    std::cout << fmt::format("SKIPPED: {}: {}\n", Catch::getResultCapture().getCurrentTestName(), reason) << std::flush;
}

bool take_skipped() {
    return std::exchange(g_skipped, false);
}

std::string run_child_body(const std::function<void()>& body) noexcept {
    try {
        const std::size_t before = g_failed_assertions.size();
        std::string thrown;
        try {
            body();
        } catch (const Catch::TestFailureException&) {
            // A failed REQUIRE (or FAIL): recorded already.
        } catch (const std::exception& e) {
            thrown = fmt::format("an exception: {}", e.what());
        } catch (...) {
            thrown = "an exception of an unknown type";
        }
        std::vector<std::string> failed(g_failed_assertions.begin() + static_cast<std::ptrdiff_t>(before),
                                        g_failed_assertions.end());
        if (!thrown.empty()) {
            failed.push_back(std::move(thrown));
        }
        return fmt::format("{}", fmt::join(failed, "\n"));
    } catch (...) {
        return "the child could not describe what failed in it (out of memory?)";
    }
}

std::optional<fs::path> find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        const fs::path candidate = fs::path(dir) / name;
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    return std::nullopt;
}

CommandResult run(const std::vector<std::string>& argv, const CommandOptions& options) {
    Pipe in, out, err;
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    std::vector<char*> envp;
    if (options.env) {
        for (const auto& e : *options.env) {
            envp.push_back(const_cast<char*>(e.c_str()));
        }
        envp.push_back(nullptr);
    }
    std::cout.flush();
    const pid_t pid = ::fork();
    if (pid < 0) {
        core::throw_errno("fork");
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        ::dup2(in.read.get(), 0);
        ::dup2(out.write.get(), 1);
        ::dup2(err.write.get(), 2);
        if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) {
            ::_exit(127);
        }
        if (options.env) {
            ::execvpe(args[0], args.data(), envp.data());
        } else {
            ::execvp(args[0], args.data());
        }
        const std::string msg = fmt::format("exec {}: {}\n", argv[0], std::strerror(errno));
        [[maybe_unused]] auto n = ::write(2, msg.data(), msg.size());
        ::_exit(127);
    }
    in.read.reset();
    out.write.reset();
    err.write.reset();
    set_nonblocking(in.write.get());
    set_nonblocking(out.read.get());
    set_nonblocking(err.read.get());

    CommandResult result;
    std::size_t written = 0;
    if (options.input.empty()) {
        in.write.reset();
    }
    const auto deadline = Clock::now() + options.timeout;
    int status = 0;
    bool exited = false;
    bool out_open = true;
    bool err_open = true;
    while (!exited || out_open || err_open) {
        pollfd fds[3] = {{out.read.get(), POLLIN, 0}, {err.read.get(), POLLIN, 0}, {in.write.get(), POLLOUT, 0}};
        ::poll(fds, 3, 50);
        if (out_open) {
            out_open = drain(out.read.get(), result.out);
        }
        if (err_open) {
            err_open = drain(err.read.get(), result.err);
        }
        if (in.write && written < options.input.size()) {
            const ssize_t n = ::write(in.write.get(), options.input.data() + written, options.input.size() - written);
            if (n > 0) {
                written += static_cast<std::size_t>(n);
            } else if (n < 0 && errno != EAGAIN) {
                written = options.input.size(); // the child closed its stdin
            }
            if (written == options.input.size()) {
                in.write.reset();
            }
        }
        if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) {
            exited = true;
            // A grandchild may keep the pipes open; what the command wrote is already there.
            drain(out.read.get(), result.out);
            drain(err.read.get(), result.err);
            break;
        }
        if (Clock::now() > deadline) {
            ::kill(-pid, SIGKILL);
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            result.timed_out = true;
            exited = true;
            break;
        }
    }
    result.status = decode_status(status);
    return result;
}

TempDir::TempDir(const std::string& prefix) {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
        core::throw_errno("mkdtemp", tmpl);
    }
    path_ = tmpl;
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

TempDir::~TempDir() {
    if (path_.empty()) {
        return;
    }
    try {
        unmount_below(path_);
    } catch (...) {
    }
    std::error_code ec;
    fs::remove_all(path_, ec);
}

void unmount_below(const fs::path& dir) {
    const std::string prefix = dir.string();
    for (int round = 0; round < 16; ++round) {
        std::vector<std::string> targets;
        for (const auto& m : ns::read_mount_table()) {
            if (m.target == prefix || m.target.starts_with(prefix + "/")) {
                targets.push_back(m.target);
            }
        }
        if (targets.empty()) {
            return;
        }
        std::sort(targets.begin(), targets.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
        for (const auto& t : targets) {
            ::umount2(t.c_str(), MNT_DETACH);
        }
    }
}

ChildOutcome run_in_child(const std::function<void()>& body, std::chrono::milliseconds timeout) {
    Pipe report;
    std::cout.flush();
    std::cerr.flush();
    const pid_t pid = ::fork();
    if (pid < 0) {
        core::throw_errno("fork");
    }
    if (pid == 0) {
        report.read.reset();
        ::setpgid(0, 0);
        const std::string failures = run_child_body(body);
        std::cout.flush();
        std::cerr.flush();
        for (std::size_t done = 0; done < failures.size();) {
            const ssize_t n = ::write(report.write.get(), failures.data() + done, failures.size() - done);
            if (n <= 0) {
                break;
            }
            done += static_cast<std::size_t>(n);
        }
        ::_exit(failures.empty() ? 0 : 1);
    }
    report.write.reset();
    set_nonblocking(report.read.get());
    ChildOutcome outcome;
    int status = 0;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        pollfd pfd{report.read.get(), POLLIN, 0};
        ::poll(&pfd, 1, 50);
        drain(report.read.get(), outcome.failures);
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            drain(report.read.get(), outcome.failures);
            break;
        }
        if (Clock::now() > deadline) {
            ::kill(-pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            outcome.timed_out = true;
            break;
        }
    }
    // Whatever the body started and left running dies with it.
    ::kill(-pid, SIGKILL);
    outcome.status = decode_status(status);
    return outcome;
}

void in_private_mount_ns(const std::function<void()>& body, std::chrono::milliseconds timeout) {
    const auto child = run_in_child(
        [&] {
            if (::unshare(CLONE_NEWNS) != 0) {
                core::throw_errno("unshare", "CLONE_NEWNS");
            }
            if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
                core::throw_errno("mount MS_REC|MS_PRIVATE", "/");
            }
            body();
        },
        timeout);
    INFO("private-namespace child: " << (child.timed_out ? "timed out" : fmt::format("exit status {}", child.status))
                                     << (child.failures.empty() ? "" : ":\n" + child.failures));
    REQUIRE(child.ok());
}

void write_file(const fs::path& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
    if (!f.flush()) {
        throw core::Error("cannot write " + path.string());
    }
}

std::string read_file(const fs::path& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        throw core::Error("cannot read " + path.string());
    }
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

} // namespace dvdi::test
