#include "tests/harness/podman.hpp"

#include <fmt/format.h>

#include "lib/core/core.hpp"

extern char** environ;

namespace dvdi::test {

Podman::Podman(const std::map<std::string, std::string>& volume_plugins, const std::string& hooks_dir)
    : hooks_dir_(hooks_dir) {
    std::string conf = "[engine]\ncgroup_manager = \"cgroupfs\"\nruntime = \"runc\"\nevents_logger = \"file\"\n";
    if (!volume_plugins.empty()) {
        conf += "\n[engine.volume_plugins]\n";
        for (const auto& [name, socket] : volume_plugins) {
            conf += fmt::format("{} = \"{}\"\n", name, socket);
        }
    }
    write_file(dir() / "containers.conf", conf);
    for (char** e = environ; *e != nullptr; ++e) {
        env_.emplace_back(*e);
    }
    env_.push_back("CONTAINERS_CONF=" + (dir() / "containers.conf").string());
}

CommandResult Podman::operator()(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"podman",
                                     "--root",
                                     (dir() / "root").string(),
                                     "--runroot",
                                     (dir() / "runroot").string(),
                                     "--tmpdir",
                                     (dir() / "tmp").string(),
                                     "--storage-driver",
                                     "vfs",
                                     "--cgroup-manager=cgroupfs",
                                     "--runtime",
                                     "runc"};
    if (!hooks_dir_.empty()) {
        argv.insert(argv.end(), {"--hooks-dir", hooks_dir_});
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, {.env = env_, .timeout = std::chrono::seconds(120)});
}

CommandResult Podman::run_container(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"run",      "--rm",           "--net", "none", "--ulimit", "nofile=1024:1024",
                                     "--ulimit", "nproc=1024:1024"};
    argv.insert(argv.end(), args.begin(), args.end());
    return (*this)(argv);
}

void Podman::import_busybox() const {
    OciBundle image({"sh"}); // only for its busybox rootfs
    const auto tar = dir() / "rootfs.tar";
    const auto packed = run({"tar", "-C", image.rootfs().string(), "-cf", tar.string(), "."});
    if (packed.status != 0) {
        throw core::Error("tar of the busybox rootfs failed: " + packed.err);
    }
    const auto imported = (*this)({"import", tar.string(), kImage});
    if (imported.status != 0) {
        throw core::Error("podman import failed: " + imported.err);
    }
}

} // namespace dvdi::test
