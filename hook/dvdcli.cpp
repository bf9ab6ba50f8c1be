// dvdcli compatibility: Mesos' built-in docker/volume isolator runs
// `dvdcli mount --volumedriver=D --volumename=N [--volumeopts=K=V]...` once per container and
// `dvdcli unmount --volumedriver=D --volumename=N` once per volume, and takes trim(stdout) as the
// mountpoint. Installed as a `dvdcli` symlink (or run as `dvdi-hook dvdcli ...`), the hook answers
// instead, with "ensure mounted" / "ensure unmounted" semantics on this node, so the plugin sees
// one Mount and one Unmount with the same ID. Unlike dvdcli, a usage error is exit 1, never 0.
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "build_info.hpp"
#include "hook/commands.hpp"
#include "lib/volumes/volumes.hpp"
#include "version.hpp"

namespace dvdi::hook {

namespace {

/// Mesos runs dvdcli with the agent's environment, and no flags of ours: this names the config.
constexpr const char* kConfigVariable = "DVDI_HOOK_CONFIG";

struct DvdcliArgs {
    std::string driver;
    std::string name;
    std::vector<std::string> opts;
    bool explicit_create = false;
};

const core::Config& load_config(Globals& g) {
    if (g.config_path == core::kDefaultConfigPath) {
        if (const char* path = std::getenv(kConfigVariable); path != nullptr && *path != '\0') {
            g.config_path = path;
        }
    }
    return g.config();
}

// dvdcli's --volumeopts: each flag a comma-separated list of KEY=VALUE, read as DVDI_VOLUME_OPTS
// is; a repeated key: the last one wins (as in dvdcli). Unlike dvdcli, a value may contain '='.
volumes::Options parse_opts(const std::vector<std::string>& flags) {
    volumes::Options options;
    for (const auto& flag : flags) {
        for (auto& [key, value] : volumes::parse_option_list(flag, "--volumeopts")) {
            std::erase_if(options, [&](const auto& o) { return o.first == key; });
            options.emplace_back(std::move(key), std::move(value));
        }
    }
    return options;
}

void check_driver(const DvdcliArgs& a, const core::Config& config) {
    if (a.driver.empty()) {
        throw core::InputError("--volumedriver", "", "missing: the volume driver name");
    }
    volumes::check_driver_name(a.driver, "--volumedriver");
    volumes::Request r;
    r.driver = a.driver;
    r.origin = "--volumedriver";
    volumes::check_allowed_drivers({r}, config.allowed_drivers);
}

volumes::Request to_request(const DvdcliArgs& a, const core::Config& config) {
    check_driver(a, config);
    if (a.name.empty()) {
        throw core::InputError("--volumename", "", "missing: the volume name");
    }
    volumes::check_volume_name(a.name, "--volumename");
    volumes::Request r;
    r.driver = a.driver;
    r.name = a.name;
    r.options = parse_opts(a.opts);
    r.options_field = "--volumeopts";
    r.explicit_create = a.explicit_create;
    r.origin = "dvdcli";
    // Mesos' docker/volume isolator passes a task's driver_options here: tenant input.
    std::vector<volumes::Request> one{std::move(r)};
    volumes::apply_tenant_policy(one, config);
    return std::move(one.front());
}

// One holder per volume on the node: Mesos mounts once per container but unmounts once.
std::string holder_id(const volumes::Request& r) {
    return fmt::format("dvdcli:{}", r.key());
}

void mount_cmd(Globals& g, const DvdcliArgs& a) {
    const auto& config = load_config(g);
    const auto r = to_request(a, config);
    NodeContext ctx(config);
    fmt::print("{}\n", ctx.node.hold(holder_id(r), "dvdcli", r));
}

void unmount_cmd(Globals& g, const DvdcliArgs& a) {
    const auto& config = load_config(g);
    const auto r = to_request(a, config);
    NodeContext ctx(config);
    if (!ctx.node.unhold(holder_id(r))) {
        core::log::info("volume {} is not mounted through dvdcli on this node; nothing to do", r.key());
    }
}

void path_cmd(Globals& g, const DvdcliArgs& a) {
    const auto& config = load_config(g);
    const auto r = to_request(a, config);
    NodeContext ctx(config);
    auto state = ctx.store->read(volumes::Scope{.volumes = {r.key()}});
    const auto* v = state.find_volume(r.key());
    const std::string path = v != nullptr && v->status == volumes::VolumeStatus::mounted
                                 ? v->mountpoint
                                 : ctx.drivers->get(r.driver).path(r.name);
    if (!path.empty()) {
        fmt::print("{}\n", path);
    }
}

void create_cmd(Globals& g, const DvdcliArgs& a) {
    const auto& config = load_config(g);
    const auto r = to_request(a, config);
    volumes::open_driver(r.driver, config)->ensure_exists(r.name, r.options, false);
}

void remove_cmd(Globals& g, const DvdcliArgs& a) {
    const auto& config = load_config(g);
    const auto r = to_request(a, config);
    NodeContext ctx(config);
    auto state = ctx.store->read(volumes::Scope{.volumes = {r.key()}});
    if (const auto* v = state.find_volume(r.key())) {
        throw core::Error(
            fmt::format("volume {} is in use on this node (by {}); not removed", r.key(), fmt::join(v->users, ", ")));
    }
    ctx.drivers->get(r.driver).remove(r.name);
}

void get_cmd(Globals& g, const DvdcliArgs& a) {
    const auto& config = load_config(g);
    const auto r = to_request(a, config);
    for (const auto& v : volumes::open_driver(r.driver, config)->list()) {
        if (v.name == r.name) {
            fmt::print("{}\n", nlohmann::json{{"Name", v.name}, {"Mountpoint", v.mountpoint}}.dump());
            return;
        }
    }
    throw volumes::DriverError(fmt::format("driver {}: no volume {}", r.driver, core::quote(r.name)));
}

void list_cmd(Globals& g, const DvdcliArgs& a) {
    const auto& config = load_config(g);
    check_driver(a, config);
    for (const auto& v : volumes::open_driver(a.driver, config)->list()) {
        fmt::print("{}\n", v.name);
    }
}

bool is_global_option_with_value(std::string_view arg) {
    return arg == "--config" || arg == "--state-dir" || arg == "--log-level";
}

} // namespace

bool dvdcli_mode(int argc, char** argv) {
    if (argc < 1) {
        return false;
    }
    const std::string_view self = argv[0];
    if (self.substr(self.rfind('/') + 1) == "dvdcli") {
        return true;
    }
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (is_global_option_with_value(arg)) {
            ++i;
        } else if (!arg.starts_with("-")) {
            return arg == "dvdcli";
        }
    }
    return false;
}

std::vector<std::string> dvdcli_args(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    const std::string_view self = argv[0];
    if (self.substr(self.rfind('/') + 1) != "dvdcli") {
        args.erase(std::find(args.begin(), args.end(), "dvdcli"));
    }
    std::reverse(args.begin(), args.end()); // CLI11 takes the vector last argument first
    return args;
}

void register_dvdcli(CLI::App& app, Globals& g) {
    static DvdcliArgs a;
    app.add_option("--volumedriver", a.driver, "The volume driver (plugin) name");
    app.add_option("--volumename", a.name, "The volume name");
    const auto add = [&](const char* name, const char* help, void (*cmd)(Globals&, const DvdcliArgs&)) {
        auto* sub = app.add_subcommand(name, help);
        sub->callback([cmd, &g] { cmd(g, a); });
        return sub;
    };
    auto* mount = add("mount", "Ensure the volume is mounted on this node; print the mountpoint", mount_cmd);
    mount->add_option("--volumeopts", a.opts, "KEY=VALUE[,KEY=VALUE...] options to create it with (repeatable)");
    mount->add_flag("--explicitcreate", a.explicit_create, "Fail when the volume does not exist");
    add("unmount", "Ensure the volume is not mounted through dvdcli on this node", unmount_cmd);
    add("path", "Print the volume's mountpoint", path_cmd);
    add("create", "Create the volume unless it exists", create_cmd)
        ->add_option("--volumeopts", a.opts, "KEY=VALUE[,KEY=VALUE...] (repeatable)");
    add("remove", "Remove the volume (refused while it is mounted on this node)", remove_cmd);
    add("get", "Print the volume's name and mountpoint as JSON", get_cmd);
    add("list", "List the driver's volumes, one name a line", list_cmd);
    app.add_subcommand("version", "Print the version")->callback([] {
        fmt::print("dvdi-hook {} (dvdcli compatible)\n", DVDI_VERSION);
    });
}

} // namespace dvdi::hook
