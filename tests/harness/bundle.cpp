#include <sys/stat.h>

#include <sstream>

#include <fmt/format.h>

#include "lib/core/core.hpp"
#include "tests/harness/harness.hpp"

namespace dvdi::test {

namespace {

// busybox-static: one static binary, so the rootfs needs no libraries.
constexpr const char* kBusybox = "/bin/busybox";

void make_rootfs(const fs::path& rootfs) {
    for (const char* d : {"bin", "dev", "proc", "sys", "tmp", "etc", "root"}) {
        fs::create_directories(rootfs / d);
    }
    fs::copy_file(kBusybox, rootfs / "bin/busybox");
    const auto applets = run({kBusybox, "--list"});
    if (applets.status != 0) {
        throw core::Error("busybox --list failed: " + applets.err);
    }
    std::istringstream names(applets.out);
    for (std::string name; std::getline(names, name);) {
        if (!name.empty() && name != "busybox") {
            fs::create_symlink("busybox", rootfs / "bin" / name);
        }
    }
    write_file(rootfs / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    write_file(rootfs / "etc/group", "root:x:0:\n");
}

} // namespace

OciBundle::OciBundle(std::vector<std::string> args) : dir_("dvdi-bundle") {
    make_rootfs(rootfs());
    // The runtime's own template, so the config is what users of `runc spec` start from.
    const auto spec = run({"runc", "spec", "--bundle", dir().string()});
    if (spec.status != 0) {
        throw core::Error(fmt::format("runc spec failed ({}): {}", spec.status, spec.err));
    }
    config_ = nlohmann::json::parse(read_file(dir() / "config.json"));
    config_["process"]["terminal"] = false;
    config_["process"]["args"] = args;
    config_["root"]["path"] = "rootfs";
    config_["root"]["readonly"] = false;
    config_["hostname"] = "dvdi-test";
}

void OciBundle::add_env(const std::string& entry) {
    config_["process"]["env"].push_back(entry);
}

void OciBundle::add_hook(const std::string& stage, const std::vector<std::string>& args,
                         const std::vector<std::string>& env, int timeout_s) {
    nlohmann::json hook = {{"path", args.at(0)}, {"args", args}, {"timeout", timeout_s}};
    if (!env.empty()) {
        hook["env"] = env;
    }
    config_["hooks"][stage].push_back(hook);
}

void OciBundle::write() const {
    write_file(dir() / "config.json", config_.dump(2));
}

CommandResult run_container(const std::string& runtime, const OciBundle& bundle, const std::string& id,
                            std::chrono::milliseconds timeout) {
    const std::string root = (bundle.dir() / "runtime-state").string();
    std::vector<std::string> global = {runtime, "--root", root};
    if (runtime == "crun") {
        // crun 1.8 cannot manage this VM's hybrid cgroup hierarchy; the tests do not need it.
        global.emplace_back("--cgroup-manager=disabled");
    }
    auto argv = global;
    argv.insert(argv.end(), {"run", "--bundle", bundle.dir().string(), id});
    CommandOptions options;
    options.timeout = timeout;
    options.cwd = bundle.dir();
    auto result = run(argv, options);
    auto del = global;
    del.insert(del.end(), {"delete", "--force", id});
    run(del);
    return result;
}

} // namespace dvdi::test
