// The OCI hook stages: prestart/createRuntime take the container's volumes, poststop releases
// them. The runtime writes the container state to stdin; the requests come from the bundle's
// config.json, never from the hook's own environment (which the runtime sets from the hook
// entry) and never by executing anything of the container's.
#include <unistd.h>

#include <algorithm>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "hook/commands.hpp"
#include "lib/ns/ns.hpp"
#include "lib/volumes/volumes.hpp"

namespace dvdi::hook {

namespace {

constexpr std::size_t kMaxState = 1 << 20;
constexpr std::size_t kMaxConfigJson = 16 << 20;

void log_warnings(const std::vector<std::string>& warnings) {
    for (const auto& w : warnings) {
        core::log::warn("{}", w);
    }
}

void prestart(Globals& g) {
    const auto state = volumes::parse_oci_state(read_stdin(kMaxState, "OCI state on stdin"));
    const std::string config_path = state.bundle + "/config.json";
    const std::string text = read_text_file(config_path, kMaxConfigJson);
    // The path every container without volumes takes: no config file, no state, no JSON parse
    // of config.json.
    if (!volumes::might_request_volumes(text)) {
        return;
    }
    const core::Config& config = g.config();
    auto oci = volumes::parse_oci_config(text, state.bundle, config.default_driver);
    log_warnings(oci.warnings);
    if (oci.requests.empty()) {
        return;
    }
    volumes::apply_tenant_policy(oci.requests, config);
    if (!state.pid) {
        throw core::InputError("state.pid", "", "prestart/createRuntime needs the container's pid");
    }
    if (!oci.root_path) {
        throw core::InputError(config_path + ": root.path", "", "the container has no root file system");
    }
    // Pin the process first: the pid is checked against its start time from here on.
    const auto process = ns::ProcessHandle::open(static_cast<pid_t>(*state.pid));
    const auto identity = ns::process_id(process.pid());
    if (!identity) {
        throw core::Error(fmt::format("process {} (the container) has exited", process.pid()));
    }
    NodeContext ctx(config);
    const volumes::ContainerRoot root{volumes::ContainerRoot::Kind::oci, *oci.root_path, "",
                                      config.auto_create_prefixes};
    ctx.node.acquire({state.id, "oci", *identity}, oci.requests, volumes::make_placer(process, root));
}

void poststop(Globals& g) {
    const auto state = volumes::parse_oci_state(read_stdin(kMaxState, "OCI state on stdin"));
    // Cheap answer for containers without volumes while the bundle is still there; when it is
    // gone (or unreadable), ask the state.
    try {
        if (!volumes::might_request_volumes(read_text_file(state.bundle + "/config.json", kMaxConfigJson))) {
            return;
        }
    } catch (const std::exception& e) {
        core::log::debug("poststop: {}; looking the container up in the state", e.what());
    }
    const core::Config& config = g.config();
    if (!volumes::has_state(config.state_dir)) {
        core::log::info("container {} holds no volumes (no state on this node)", state.id);
        return;
    }
    NodeContext ctx(config);
    if (!ctx.node.release(state.id)) {
        core::log::info("container {} holds no volumes on this node", state.id);
    }
}

} // namespace

bool run_plain_oci_stage(int argc, char** argv, Globals& g) {
    const std::vector<std::string_view> args(argv + std::min(argc, 1), argv + argc);
    std::string_view config;
    std::size_t next = 0;
    if (args.size() == 3 && args[0] == "--config") {
        config = args[1];
        next = 2;
    } else if (args.size() == 2 && args[0].starts_with("--config=")) {
        config = args[0].substr(std::string_view("--config=").size());
        next = 1;
    } else if (args.size() != 1) {
        return false;
    }
    if (next > 0 && (config.empty() || config.front() == '-')) {
        return false; // what the command line makes of it, with its messages
    }
    const std::string_view stage = args[next];
    if (stage != "prestart" && stage != "createRuntime" && stage != "poststop") {
        return false;
    }
    if (next > 0) {
        g.config_path = std::string(config);
    }
    if (stage == "poststop") {
        poststop(g);
    } else {
        prestart(g);
    }
    return true;
}

void register_oci(CLI::App& app, Globals& g) {
    // Two commands rather than a name and an alias, so that each one's --help (and the man page
    // made from it) names the command that was run.
    app.add_subcommand("prestart", "OCI hook: take and place the container's volumes (state JSON on stdin)")
        ->callback([&g] { prestart(g); });
    app.add_subcommand("createRuntime",
                       "OCI hook: prestart under its current OCI name (the createRuntime stage): take and place the "
                       "container's volumes (state JSON on stdin)")
        ->callback([&g] { prestart(g); });
    auto* post = app.add_subcommand("poststop", "OCI hook: release the container's volumes (state JSON on stdin)");
    post->callback([&g] { poststop(g); });
}

} // namespace dvdi::hook
