// podman for tests: everything it keeps (--root, --runroot, --tmpdir, its containers.conf) under
// a TempDir, vfs storage, cgroupfs and runc (this VM has no systemd user session). Run it inside
// in_private_mount_ns so none of its mounts stays on the machine.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tests/harness/harness.hpp"

namespace dvdi::test {

class Podman {
  public:
    /// `volume_plugins`: name -> socket path for [engine.volume_plugins]; `hooks_dir`: empty for
    /// podman's default hooks directories.
    explicit Podman(const std::map<std::string, std::string>& volume_plugins = {}, const std::string& hooks_dir = {});

    [[nodiscard]] const fs::path& dir() const { return dir_.path(); }

    /// Runs `podman <global flags> args...`.
    CommandResult operator()(const std::vector<std::string>& args) const;

    /// `podman run --rm --net none` with the ulimits this VM needs, then `args`.
    CommandResult run_container(const std::vector<std::string>& args) const;

    /// Imports a busybox-static rootfs as `localhost/dvdi-busybox:test`; throws on failure.
    void import_busybox() const;
    static constexpr const char* kImage = "localhost/dvdi-busybox:test";

  private:
    TempDir dir_{"dvdi-podman"};
    std::vector<std::string> env_;
    std::string hooks_dir_;
};

} // namespace dvdi::test
