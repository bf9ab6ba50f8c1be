// `doctor`: one pass/fail line per thing the hook depends on on this node.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "hook/commands.hpp"
#include "lib/ns/ns.hpp"
#include "lib/volumes/volumes.hpp"

namespace dvdi::hook {

namespace {

/// What a check found: `warn` when it passed with a caveat the operator should read.
struct Outcome {
    Outcome(std::string detail = {}, bool warn = false) : detail(std::move(detail)), warn(warn) {} // NOLINT
    std::string detail;
    bool warn = false;
};

class Checks {
  public:
    void check(const std::string& what, const std::function<Outcome()>& probe) {
        try {
            const Outcome o = probe();
            fmt::print("{}  {}{}\n", o.warn ? "warn" : "ok  ", what, o.detail.empty() ? "" : ": " + o.detail);
        } catch (const std::exception& e) {
            fmt::print("FAIL  {}: {}\n", what, e.what());
            ++failed_;
        }
    }
    int failed() const { return failed_; }

  private:
    int failed_ = 0;
};

// Whether a hook can write in `dir`: creates and removes a file there, as the state store and
// the local driver write theirs. (A state transaction that changes nothing writes nothing, and
// root's access(2) says nothing of a read-only bind mount's flags.) Throws core::SysError.
void probe_writable(const std::string& dir) {
    const std::string pattern = dir + "/.dvdi-doctor-XXXXXX";
    std::string path = pattern;
    const core::UniqueFd fd(::mkostemp(path.data(), O_CLOEXEC));
    if (!fd) {
        core::throw_errno("mkostemp", pattern);
    }
    ::unlink(path.c_str());
}

// The local driver's data dir, which the driver makes (root's, 0700, its parents too) when it
// first creates a volume: when it exists, it must be private and writable; when it does not, the
// nearest directory above it must be writable. doctor itself creates nothing.
Outcome check_data_dir(const std::string& data_dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists(fs::symlink_status(data_dir, ec))) {
        core::ensure_private_dir(data_dir, 0700, "data dir");
        probe_writable(data_dir);
        return fmt::format("data dir {} (root's, not writable by others, writable)", data_dir);
    }
    fs::path above = fs::path(data_dir).parent_path();
    while (!above.empty() && above != above.root_path() && !fs::exists(fs::symlink_status(above, ec))) {
        above = above.parent_path();
    }
    try {
        probe_writable(above.string());
    } catch (const std::exception& e) {
        throw core::Error(
            fmt::format("data dir {} does not exist, and the local driver cannot create it: {}", data_dir, e.what()));
    }
    return {fmt::format("data dir {} does not exist yet: the local driver creates it (root's, 0700) with its "
                        "first volume; nothing in it to check",
                        data_dir),
            true};
}

// The default driver must be there, or every request that names no driver fails: one pass of
// discovery (no wait), and the hook's own error text when it finds nothing.
Outcome check_default_driver(const core::Config& config) {
    const std::string& name = config.default_driver;
    if (name == "local") {
        return {"built in"};
    }
    if (volumes::find_plugin(name, config)) {
        return {fmt::format("plugin {} found", name)};
    }
    return {fmt::format("a request that names no driver fails: {}", volumes::missing_plugin(name, config)), true};
}

std::string listed(const std::vector<std::string>& v, std::string_view none) {
    return v.empty() ? std::string(none) : fmt::format("{}", fmt::join(v, ", "));
}

// What tenants may ask for on this node (docs/SECURITY.md): informational lines.
void print_policy(const core::Config& config) {
    fmt::print("info  policy: drivers tenants may use: {}\n", listed(config.allowed_drivers, "any"));
    fmt::print("info  policy: local driver: no options from tenants, no mount helpers, its mounts nosuid,nodev\n");
    for (const auto& d : config.local_volumes) {
        fmt::print("info  policy: local volume {}: type {} device {}{}\n", d.name, d.type, d.device,
                   d.o.empty() ? "" : " o " + d.o);
    }
    for (const auto& [driver, p] : config.driver_policy) {
        fmt::print("info  policy: driver {}: tenant options {}; mountpoints under {}\n", driver,
                   p.tenant_options ? listed(*p.tenant_options, "none") : "any",
                   listed(p.mountpoint_prefixes, "anywhere but the system directories"));
    }
    fmt::print("info  policy: host paths of tasks without an image: under {} (created under {})\n",
               listed(config.host_path_prefixes, "no extra prefix"), listed(config.auto_create_prefixes, "none"));
}

void doctor(Globals& g) {
    Checks c;
    for (const auto& f : ns::probe_kernel_features().all()) {
        c.check(fmt::format("kernel {}", f.name), [&f] {
            ns::require(f, "dvdi-hook places volumes with it");
            return Outcome();
        });
    }
    const core::Config* config = nullptr;
    // Only the default path may be missing (core::load_config): then the defaults are in use.
    const bool no_file = ::access(g.config_path.c_str(), F_OK) != 0 && errno == ENOENT;
    c.check(no_file ? std::string("config") : fmt::format("config {}", g.config_path), [&] {
        config = &g.config();
        return no_file ? fmt::format("no config file ({} does not exist): the defaults are in use; default driver {}",
                                     g.config_path, config->default_driver)
                       : fmt::format("default driver {}", config->default_driver);
    });
    if (config == nullptr) {
        throw core::Error("doctor: the configuration does not load");
    }
    print_policy(*config);
    c.check(fmt::format("state dir {}", config->state_dir), [&] {
        const auto store = volumes::open_state_store(config->state_dir);
        const auto s = store->read();
        store->transact(volumes::Scope{}, [](volumes::State&) {}); // writable as a hook writes it
        probe_writable(config->state_dir);
        return fmt::format("{} volume(s), {} container(s); writable", s.volumes.size(), s.containers.size());
    });
    c.check("driver local", [&] { return check_data_dir(config->data_dir); });
    for (const auto& name : volumes::list_plugins(*config)) {
        c.check(fmt::format("plugin {}", name), [&] {
            const auto driver = volumes::open_driver(name, *config);
            return Outcome(fmt::format("activated, scope {}", driver->capabilities().scope));
        });
    }
    c.check(fmt::format("default driver {}", config->default_driver), [&] { return check_default_driver(*config); });
    if (c.failed() > 0) {
        throw core::Error(fmt::format("doctor: {} check(s) failed", c.failed()));
    }
}

} // namespace

void register_doctor(CLI::App& app, Globals& g) {
    app.add_subcommand("doctor", "Check the kernel, the config, the state dir and every discovered plugin")
        ->callback([&g] { doctor(g); });
}

} // namespace dvdi::hook
