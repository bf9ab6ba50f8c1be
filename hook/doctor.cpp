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
        return fmt::format("default driver {}", config->default_driver);
    });
    if (config == nullptr) {
        throw core::Error("doctor: the configuration does not load");
    }
    c.check(fmt::format("state dir {}", config->state_dir), [&] {
        const auto store = volumes::open_state_store(config->state_dir);
        const auto s = store->read();
        store->transact([](volumes::State&) {}); // writable and lockable
        return fmt::format("{} volume(s), {} container(s)", s.volumes.size(), s.containers.size());
    });
    c.check("driver local", [&] { return fmt::format("data dir {}", config->data_dir); });
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
