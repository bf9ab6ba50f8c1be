// Mesos through criteo's command-isolator module (SPEC S5): the module runs
// `<command> INPUT OUTPUT ERROR` with the input also on stdin. prepare takes the container's
// volumes (driver Mount) before the container has a process; isolate binds them into the
// process's mount namespace once it exists; cleanup releases them. The module shows the text of
// the ERROR file as the launch's failure message, so every error is also written there.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "hook/commands.hpp"
#include "lib/ns/ns.hpp"
#include "lib/volumes/volumes.hpp"

namespace dvdi::hook {

namespace {

constexpr std::size_t kMaxInput = 16 << 20;

/// The three files the module passes; empty when run by hand (input from stdin, no output).
struct MesosFiles {
    std::string input;
    std::string output;
    std::string error;
};

std::string read_input(const MesosFiles& f) {
    std::string text =
        f.input.empty() ? read_stdin(kMaxInput, "Mesos isolator input on stdin") : read_text_file(f.input, kMaxInput);
    volumes::check_mesos_input_present(text);
    return text;
}

void write_file(const std::string& path, const std::string& text) {
    core::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) {
        core::throw_errno("open", path);
    }
    core::write_all(fd.get(), text, path);
}

void log_warnings(const std::vector<std::string>& warnings) {
    for (const auto& w : warnings) {
        core::log::warn("{}", w);
    }
}

bool state_exists(const core::Config& config) {
    return volumes::has_state(config.state_dir);
}

volumes::ContainerRoot mesos_root(const volumes::MesosInput& in, const core::Config& config) {
    return {volumes::ContainerRoot::Kind::mesos, in.rootfs.value_or(""), in.directory.value_or(""),
            config.auto_create_prefixes, config.host_path_prefixes};
}

void prepare(Globals& g, const MesosFiles& f) {
    const std::string text = read_input(f);
    if (!volumes::might_request_volumes(text)) {
        return; // empty output: nothing to ask of the containerizer
    }
    const core::Config& config = g.config();
    auto in = volumes::parse_mesos_input(text, config.default_driver);
    log_warnings(in.warnings);
    if (in.requests.empty()) {
        return;
    }
    volumes::apply_tenant_policy(in.requests, config);
    const auto root = mesos_root(in, config);
    volumes::check_targets(in.requests, root);
    NodeContext ctx(config);
    // The container has no process yet: take the volumes now (slow attaches happen under
    // prepare's raised timeout) and leave the binding to isolate.
    bool needs_namespace = false;
    ctx.node.acquire({in.container_id, "mesos", {}}, in.requests,
                     volumes::place_each([&](const volumes::Request& r, const std::string& mountpoint) {
                         needs_namespace = needs_namespace || volumes::target_for(r, mountpoint, root).has_value();
                         return std::string();
                     }));
    if (needs_namespace && !f.output.empty()) {
        // A ContainerLaunchInfo as stout writes it: clone_namespaces is a repeated int32.
        write_file(f.output, nlohmann::json{{"clone_namespaces", {CLONE_NEWNS}}}.dump() + "\n");
    }
}

void isolate(Globals& g, const MesosFiles& f) {
    const std::string text = read_input(f);
    const core::Config& config = g.config();
    if (!state_exists(config)) {
        return; // nothing was prepared on this node
    }
    const auto in = volumes::parse_mesos_input(text, config.default_driver);
    NodeContext ctx(config);
    if (ctx.store->read(volumes::Scope{.containers = {in.container_id}}).find_container(in.container_id) == nullptr) {
        core::log::debug("container {} holds no volumes on this node", in.container_id);
        return;
    }
    if (!in.pid) {
        throw core::InputError("pid", "", "isolate needs the container's pid");
    }
    // Pin the process first: the pid is checked against its start time from here on.
    const auto process = ns::ProcessHandle::open(static_cast<pid_t>(*in.pid));
    const auto identity = ns::process_id(process.pid());
    if (!identity) {
        throw core::Error(fmt::format("process {} (the container) has exited", process.pid()));
    }
    ctx.node.attach(in.container_id, *identity, volumes::make_placer(process, mesos_root(in, config)));
}

void cleanup(Globals& g, const MesosFiles& f) {
    // Only the id: a container is released whatever its config says.
    const auto in = volumes::parse_mesos_ids(read_input(f));
    const core::Config& config = g.config();
    if (!state_exists(config)) {
        core::log::info("container {} holds no volumes (no state on this node)", in.container_id);
        return;
    }
    NodeContext ctx(config);
    if (!ctx.node.release(in.container_id)) {
        core::log::info("container {} holds no volumes on this node", in.container_id);
    }
}

// The module shows the ERROR file's text as the failure message: one line, then main prints
// the same line on stderr and maps the error to the exit status.
void run_stage(void (*stage)(Globals&, const MesosFiles&), Globals& g, const MesosFiles& f) {
    try {
        stage(g, f);
    } catch (const std::exception& e) {
        if (!f.error.empty()) {
            try {
                // One line, whatever a plugin's text held: Mesos shows it as the failure message.
                write_file(f.error, core::printable(e.what()) + "\n");
            } catch (const std::exception& w) {
                core::log::warn("cannot write the error file: {}", w.what());
            }
        }
        throw;
    }
}

} // namespace

void register_mesos(CLI::App& app, Globals& g) {
    static MesosFiles files;
    auto* mesos = app.add_subcommand("mesos", "Mesos isolator commands (criteo command-isolator module)");
    mesos->require_subcommand(1);
    const auto add = [&](const char* name, const char* help, void (*stage)(Globals&, const MesosFiles&)) {
        auto* cmd = mesos->add_subcommand(name, help);
        cmd->add_option("INPUT", files.input, "The module's input file (default: stdin)");
        cmd->add_option("OUTPUT", files.output, "Where the reply goes");
        cmd->add_option("ERROR", files.error, "Where the error message goes");
        cmd->callback([stage, &g] { run_stage(stage, g, files); });
    };
    add("prepare", "Take the container's volumes (driver Mount); reply with a ContainerLaunchInfo", prepare);
    add("isolate", "Bind the container's volumes into its process's mount namespace", isolate);
    add("cleanup", "Release the container's volumes", cleanup);
}

} // namespace dvdi::hook
