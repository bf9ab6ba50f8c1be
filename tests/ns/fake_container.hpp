// A stand-in container for the placement tests: a forked process in its own mount namespace,
// which does small things on request from inside it (write a file, mount a tmpfs).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "lib/core/fd.hpp"
#include "lib/ns/mount_table.hpp"

namespace dvdi::test {

class FakeContainer {
  public:
    /// Forks the process: unshare(CLONE_NEWNS), then (when `private_root`) every mount made
    /// private, as runc does with a private rootfsPropagation. Without it the namespace's mounts
    /// stay peers of this one's shared mounts.
    explicit FakeContainer(bool private_root = true);
    FakeContainer(const FakeContainer&) = delete;
    FakeContainer& operator=(const FakeContainer&) = delete;
    ~FakeContainer(); ///< kills and reaps the process

    [[nodiscard]] pid_t pid() const { return pid_; }
    /// From inside: creates and writes `path`; 0 or the errno.
    int write_file(const std::string& path);
    /// From inside: mounts a tmpfs on `path`; 0 or the errno.
    int mount_tmpfs(const std::string& path);
    /// Kills and reaps the process now.
    void kill();

  private:
    int request(char op, const std::string& path);
    pid_t pid_ = -1;
    core::UniqueFd channel_;
};

/// Mount targets in the table of `pid` (0: this process).
std::vector<std::string> mount_targets(pid_t pid = 0);

/// Targets in `after` that are not in `before` and do not lie at or under `inside`.
std::vector<std::string> new_mounts_outside(const std::vector<std::string>& before,
                                            const std::vector<std::string>& after, const std::string& inside);

/// The names in a directory, sorted (empty when it does not exist).
std::vector<std::string> listing(const std::filesystem::path& dir);

} // namespace dvdi::test
