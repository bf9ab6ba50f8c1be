// Test harness shared by every test file: skipping, running commands, temporary directories,
// private mount namespaces and OCI bundles for real runtimes.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dvdi::test {

namespace fs = std::filesystem;

/// Paths baked in by the build.
fs::path hook_binary(); ///< the dvdi-hook executable under test
fs::path source_root(); ///< the project's source tree
fs::path build_root();  ///< the build directory

/// Marks the running test case as skipped (counted in the closing summary line) and prints
/// why. Use DVDI_SKIP, which also returns from the test case.
void mark_skipped(const std::string& reason);
#define DVDI_SKIP(reason)                                                                                              \
    do {                                                                                                               \
        ::dvdi::test::mark_skipped(reason);                                                                            \
        return;                                                                                                        \
    } while (0)
/// Skips the test case unless it runs as root (tests tagged [root] start with this).
#define DVDI_REQUIRE_ROOT()                                                                                            \
    do {                                                                                                               \
        if (::geteuid() != 0) {                                                                                        \
            DVDI_SKIP("needs root (mounts and namespaces)");                                                           \
        }                                                                                                              \
    } while (0)
/// Skips the test case when `program` is not on PATH.
#define DVDI_REQUIRE_PROGRAM(program)                                                                                  \
    do {                                                                                                               \
        if (!::dvdi::test::find_program(program)) {                                                                    \
            DVDI_SKIP(std::string("needs ") + (program) + " on PATH");                                                 \
        }                                                                                                              \
    } while (0)

/// True when the last test case called mark_skipped (and clears the flag). For the runner.
bool take_skipped();

std::optional<fs::path> find_program(const std::string& name);

struct CommandResult {
    int status = -1; ///< exit status, or 128+signal when killed
    std::string out;
    std::string err;
    bool timed_out = false;
};

struct CommandOptions {
    std::string input;                           ///< written to stdin, then closed
    std::optional<std::vector<std::string>> env; ///< the whole environment; unset: inherit
    std::chrono::milliseconds timeout{120'000};  ///< then SIGKILL to the process group
    fs::path cwd;                                ///< empty: inherit
};

/// Runs argv[0] (searched on PATH) and collects its exit status and output. Never leaves the
/// process behind: on timeout its process group is killed and reaped.
CommandResult run(const std::vector<std::string>& argv, const CommandOptions& options = {});

/// Runs the undo steps of a test that changes the machine, whatever happens (never throws).
class Cleanup {
  public:
    explicit Cleanup(std::function<void()> undo) : undo_(std::move(undo)) {}
    Cleanup(const Cleanup&) = delete;
    Cleanup& operator=(const Cleanup&) = delete;
    ~Cleanup() {
        try {
            undo_();
        } catch (...) { // NOLINT(bugprone-empty-catch): a destructor must not throw
        }
    }

  private:
    std::function<void()> undo_;
};

/// A fresh directory under /tmp, removed with everything in it when the object dies. Mounts
/// left below it are detached first, so a failing test never deletes through a mount.
class TempDir {
  public:
    explicit TempDir(const std::string& prefix = "dvdi-test");
    TempDir(TempDir&&) noexcept;
    TempDir& operator=(TempDir&&) = delete;
    TempDir(const TempDir&) = delete;
    ~TempDir();
    [[nodiscard]] const fs::path& path() const { return path_; }
    [[nodiscard]] fs::path operator/(const std::string& rel) const { return path_ / rel; }

  private:
    fs::path path_;
};

/// Detaches every mount at or below `dir` in this mount namespace, deepest first.
void unmount_below(const fs::path& dir);

/// Test code in a forked child. Catch counts a failed assertion in the process that makes it:
/// in a child, that count dies with the child. A failed REQUIRE throws, which the child can see;
/// a failed CHECK (CHECK_THAT, FAIL_CHECK, CHECK_THROWS ...) only returns, and would be printed
/// by the child and lost. So the harness registers a Catch listener (harness.cpp) that records
/// every failed assertion of the process as Catch reports it, whatever the macro; a child runs
/// its test code through run_child_body, which returns what was recorded while it ran, and
/// hands that to the parent (a pipe, its exit status), where it fails the test case.

/// Runs `body` and returns what failed in it, empty when nothing did: each failed assertion
/// (file:line, the expression and its expansion, its INFO messages), then the exception that
/// ended the body, if any. Never throws. Meant for a forked child, which must then end with
/// _exit (returning would run the rest of the suite a second time).
[[nodiscard]] std::string run_child_body(const std::function<void()>& body) noexcept;

/// How a child started by run_in_child ended.
struct ChildOutcome {
    bool timed_out = false;
    int status = -1;      ///< exit status, or 128+signal when killed
    std::string failures; ///< what run_child_body returned in the child
    [[nodiscard]] bool ok() const { return !timed_out && status == 0 && failures.empty(); }
};

/// Runs `body` in a forked child (in its own process group) through run_child_body and waits
/// for it; the child is killed after `timeout`, and whatever it left running in its process
/// group is killed when it ends. Asserts nothing: the caller decides what the outcome means.
[[nodiscard]] ChildOutcome run_in_child(const std::function<void()>& body, std::chrono::milliseconds timeout);

/// Runs `body` in a forked child that first enters a new mount namespace with every mount made
/// private (so nothing it mounts reaches the host or the parent). Any failed assertion in the
/// child (CHECK as well as REQUIRE), an exception, a crash or a timeout fails the test case in
/// the parent, with what failed.
void in_private_mount_ns(const std::function<void()>& body,
                         std::chrono::milliseconds timeout = std::chrono::minutes(5));

/// Writes `text` to `path`, creating or truncating it.
void write_file(const fs::path& path, const std::string& text);
[[nodiscard]] std::string read_file(const fs::path& path);

/// A minimal OCI bundle for runc/crun: a busybox-static rootfs and a `runc spec`-style
/// config.json (namespaces, default mounts, masked paths). Lives in a temporary directory.
class OciBundle {
  public:
    /// `args` is the container's process (e.g. {"sh", "-c", "echo hi"}).
    explicit OciBundle(std::vector<std::string> args);

    [[nodiscard]] const fs::path& dir() const { return dir_.path(); }
    [[nodiscard]] fs::path rootfs() const { return dir_.path() / "rootfs"; }
    nlohmann::json& config() { return config_; }

    void add_env(const std::string& entry);
    /// Adds a hook to `stage` ("prestart", "createRuntime", "poststop", ...).
    void add_hook(const std::string& stage, const std::vector<std::string>& args,
                  const std::vector<std::string>& env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, int timeout_s = 60);
    /// Writes config.json; call after the last change.
    void write() const;

  private:
    TempDir dir_;
    nlohmann::json config_;
};

/// Runs a bundle with `runtime` ("runc" or "crun") and a private state root; the container is
/// deleted afterwards whatever happens.
CommandResult run_container(const std::string& runtime, const OciBundle& bundle, const std::string& id,
                            std::chrono::milliseconds timeout = std::chrono::seconds(60));

} // namespace dvdi::test
