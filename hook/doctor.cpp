// `doctor`: one pass/fail line per thing the hook depends on on this node.
#include <unistd.h>

#include <fmt/format.h>

#include "hook/commands.hpp"
#include "lib/ns/ns.hpp"
#include "lib/volumes/volumes.hpp"

namespace dvdi::hook {

namespace {

class Checks {
  public:
    void check(const std::string& what, const std::function<std::string()>& probe) {
        try {
            const std::string detail = probe();
            fmt::print("ok    {}{}\n", what, detail.empty() ? "" : ": " + detail);
        } catch (const std::exception& e) {
            fmt::print("FAIL  {}: {}\n", what, e.what());
            ++failed_;
        }
    }
    int failed() const { return failed_; }

  private:
    int failed_ = 0;
};

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
            return std::string();
        });
    }
    const core::Config* config = nullptr;
    c.check(fmt::format("config {}", g.config_path), [&] {
        config = &g.config();
        const bool file = ::access(g.config_path.c_str(), F_OK) == 0;
        return fmt::format("{}default driver {}", file ? "" : "no such file, the defaults are in force; ",
                           config->default_driver);
    });
    if (config == nullptr) {
        throw core::Error("doctor: the configuration does not load");
    }
    print_policy(*config);
    c.check(fmt::format("state dir {}", config->state_dir), [&] {
        const auto store = volumes::open_state_store(config->state_dir);
        const auto s = store->read();
        store->transact([](volumes::State&) {}); // writable and lockable
        return fmt::format("{} volume(s), {} container(s)", s.volumes.size(), s.containers.size());
    });
    c.check("driver local", [&] {
        core::ensure_private_dir(config->data_dir, 0700, "data dir");
        return fmt::format("data dir {} (root's, not writable by others)", config->data_dir);
    });
    for (const auto& name : volumes::list_plugins(*config)) {
        c.check(fmt::format("plugin {}", name), [&] {
            const auto driver = volumes::open_driver(name, *config);
            return fmt::format("activated, scope {}", driver->capabilities().scope);
        });
    }
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
