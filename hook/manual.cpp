// The commands a person runs: mount, unmount, list, gc, doctor.
#include <unistd.h>

#include <algorithm>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "hook/commands.hpp"
#include "lib/ns/ns.hpp"
#include "lib/volumes/volumes.hpp"

namespace dvdi::hook {

namespace {

struct VolumeArgs {
    std::string driver;
    std::string name;
    std::vector<std::string> opts;
    bool explicit_create = false;
    bool read_only = false;
    int pid = 0;
    std::string target;
};

void add_volume_args(CLI::App* cmd, VolumeArgs& a, bool with_options) {
    cmd->add_option("name", a.name, "Volume name")->required();
    cmd->add_option("-d,--driver", a.driver, "Volume driver (default: the config's default_driver)");
    cmd->add_option("--pid", a.pid, "Also place it in this process's mount namespace (with --target)");
    cmd->add_option("--target", a.target, "Where to place it in that namespace (absolute)");
    if (with_options) {
        cmd->add_option("-o,--opt", a.opts, "Driver option KEY=VALUE (repeatable)");
        cmd->add_flag("--explicit-create", a.explicit_create, "Fail when the volume does not exist");
        cmd->add_flag("--ro", a.read_only, "Place it read-only (with --pid)");
    }
}

volumes::Request to_request(const VolumeArgs& a, const core::Config& config) {
    volumes::Request r;
    r.driver = a.driver.empty() ? config.default_driver : a.driver;
    r.driver_defaulted = a.driver.empty();
    r.name = a.name;
    r.origin = "volume";
    r.explicit_create = a.explicit_create;
    r.mode = a.read_only ? volumes::Mode::ro : volumes::Mode::rw;
    for (const auto& o : a.opts) {
        r.options.push_back(volumes::parse_option_item(o, false, "--opt"));
    }
    if ((a.pid != 0) != !a.target.empty()) {
        throw core::InputError("--pid/--target", a.target, "--pid and --target go together");
    }
    if (!a.target.empty()) {
        r.container_path = a.target;
    }
    r.options_field = "--opt";
    r.path_field = "--target";
    volumes::check_request(r, volumes::PathRule::absolute, "volume");
    volumes::apply_operator_policy(r, config);
    return r;
}

// One holder per volume (and per process and target when placed): mounting by hand is "ensure
// mounted", so repeating it does nothing more.
std::string holder_id(const volumes::Request& r, int pid) {
    return pid == 0 ? fmt::format("manual:{}", r.key())
                    : fmt::format("manual:{}:{}:{}", r.key(), pid, r.container_path.value_or(""));
}

void mount_cmd(Globals& g, const VolumeArgs& a) {
    const auto& config = g.config();
    const auto r = to_request(a, config);
    NodeContext ctx(config);
    const std::string id = holder_id(r, a.pid);
    // Node::hold, as for dvdcli: its holder lock makes concurrent mounts of one volume (for one
    // process and target, with --pid) answer the same mountpoint after one driver Mount.
    if (a.pid == 0) {
        fmt::print("{}\n", ctx.node.hold(id, "manual", r));
        return;
    }
    const auto process = ns::ProcessHandle::open(a.pid);
    const auto identity = ns::process_id(a.pid);
    const volumes::ContainerRoot root{volumes::ContainerRoot::Kind::host, "", "", config.auto_create_prefixes};
    fmt::print("{}\n",
               ctx.node.hold(id, "manual", r, identity.value_or(ns::ProcessId{}), volumes::make_placer(process, root)));
}

void unmount_cmd(Globals& g, const VolumeArgs& a) {
    const auto& config = g.config();
    const auto r = to_request(a, config);
    NodeContext ctx(config);
    const std::string id = holder_id(r, a.pid);
    if (!ctx.node.unhold(id)) {
        core::log::info("volume {} was not mounted by hand{}", r.key(),
                        a.pid == 0 ? "" : fmt::format(" for process {}", a.pid));
    }
}

// The table: one line per volume, and under a volume whose last driver call failed, that error
// (one line, escaped: it may quote a plugin's text). The status is spelled as in the state file
// and `list --json`, from the one mapping that writes them. IDs are Docker's short ones unless
// `no_trunc` (volumes::short_id).
void print_table(const volumes::State& state, bool no_trunc) {
    const auto id = [no_trunc](const std::string& full) { return no_trunc ? full : volumes::short_id(full); };
    fmt::print("{:<12} {:<24} {:<14} {:<40} {:<12} {}\n", "DRIVER", "NAME", "STATUS", "MOUNTPOINT", "MOUNT ID",
               "USERS");
    for (const auto& v : state.volumes) {
        const nlohmann::json record = v;
        std::vector<std::string> users;
        std::transform(v.users.begin(), v.users.end(), std::back_inserter(users), id);
        fmt::print("{:<12} {:<24} {:<14} {:<40} {:<12} {}\n", v.key.driver, v.key.name,
                   record.at("status").get<std::string>(), v.mountpoint, id(v.mount_id), fmt::join(users, ","));
        if (!v.last_error.empty()) {
            fmt::print("{:<12} last error: {}\n", "", core::printable(v.last_error));
        }
    }
}

void list_cmd(Globals& g, bool json, bool no_trunc) {
    const auto& config = g.config();
    const auto state = volumes::open_state_store(config.state_dir)->read();
    if (json) {
        nlohmann::json out = state;
        out["node"] = core::node_name(config); // what the mount IDs begin with
        fmt::print("{}\n", out.dump(2));
        return;
    }
    print_table(state, no_trunc);
}

// The operator's way out for a volume whose plugin is gone for good (docs/FAILURES.md).
void forget_cmd(Globals& g, const VolumeArgs& a) {
    const auto& config = g.config();
    volumes::check_volume_name(a.name, "volume");
    const std::string driver = a.driver.empty() ? config.default_driver : a.driver;
    volumes::check_driver_name(driver, "--driver");
    NodeContext ctx(config);
    if (const auto dropped = ctx.node.forget({driver, a.name})) {
        fmt::print("{}\n", *dropped);
    } else {
        fmt::print("volume {}: nothing recorded on this node\n", volumes::VolumeKey{driver, a.name});
    }
}

void gc_cmd(Globals& g) {
    NodeContext ctx(g.config());
    const auto report = ctx.node.gc();
    // Each line once (the library sends them to syslog only): what was done on stdout, what
    // failed on stderr, where cron's `>/dev/null` and a terminal both still show it.
    for (const auto& a : report.actions) {
        fmt::print("{}\n", core::printable(a));
    }
    for (const auto& f : report.failures) {
        fmt::print(stderr, "FAILED: {}\n", core::printable(f));
    }
    if (report.actions.empty() && report.failures.empty()) {
        fmt::print("nothing to do\n");
    }
    if (!report.failures.empty()) {
        throw core::Error(fmt::format("gc: {} step(s) failed", report.failures.size()));
    }
}

} // namespace

void register_doctor(CLI::App& app, Globals& g);

void register_manual(CLI::App& app, Globals& g) {
    static VolumeArgs mount_args;
    static VolumeArgs unmount_args;
    static bool json = false;
    static bool no_trunc = false;
    auto* mount = app.add_subcommand("mount", "Mount a volume on this node by hand (prints the mountpoint)");
    add_volume_args(mount, mount_args, true);
    mount->callback([&g] { mount_cmd(g, mount_args); });
    auto* unmount = app.add_subcommand("unmount", "Release a volume mounted by hand");
    add_volume_args(unmount, unmount_args, false);
    unmount->callback([&g] { unmount_cmd(g, unmount_args); });
    auto* list = app.add_subcommand("list", "List the volumes mounted on this node and who holds them");
    list->add_flag("--json", json, "The node state as JSON (IDs whole)");
    list->add_flag("--no-trunc", no_trunc,
                   "Show IDs whole. Without it, as Docker's short IDs, 12 characters: a mount ID (NODE:CONTAINER:HEX) "
                   "by the first 12 hex digits of its random part, a hexadecimal container ID by its first 12; "
                   "other holders (manual:..., dvdcli:..., Mesos container IDs) whole");
    list->callback([&g] { list_cmd(g, json, no_trunc); });
    app.add_subcommand("gc", "Release volumes of containers that are gone, finish interrupted work, retry unmounts")
        ->callback([&g] { gc_cmd(g); });
    static VolumeArgs forget_args;
    auto* forget = app.add_subcommand(
        "forget", "Drop this node's record of a volume whose driver is gone for good, without calling the driver "
                  "(refused while a running container uses it)");
    forget->add_option("name", forget_args.name, "Volume name")->required();
    forget->add_option("-d,--driver", forget_args.driver, "Volume driver (default: the config's default_driver)");
    forget->callback([&g] { forget_cmd(g, forget_args); });
    register_doctor(app, g);
}

} // namespace dvdi::hook
