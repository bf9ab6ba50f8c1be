// dvdi-hook's entry point: builds the command line, runs the one subcommand, and is the only
// place that catches errors: it prints one line and maps the error to the exit status
// (0 ok, 1 the operation failed, 2 bad input or usage).
#include <fmt/format.h>

#include "hook/commands.hpp"

namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

void add_global_options(CLI::App& app, dvdi::hook::Globals& g) {
    app.add_option("--config", g.config_path, "Configuration file")->capture_default_str()->option_text("PATH");
    app.add_option("--state-dir", g.state_dir, "Directory of the node state (overrides the config's state_dir)")
        ->option_text("DIR");
    app.add_option("--log-level", g.log_level, "debug, info, warning or error (overrides the config's log_level)")
        ->check(CLI::IsMember({"debug", "info", "warning", "warn", "error"}))
        ->option_text("LEVEL");
}

// dvdcli mode has its own app and its own exit statuses: dvdcli's callers (Mesos' docker/volume
// isolator) know only 0 and "failed", so every error, a usage error included, is 1.
int dvdcli_main(int argc, char** argv) {
    using namespace dvdi;
    CLI::App app{"dvdi-hook as dvdcli: volumes for Mesos' docker/volume isolator (exit 1 on any error)", "dvdcli"};
    app.require_subcommand(1);
    app.fallthrough();
    hook::Globals globals;
    add_global_options(app, globals);
    hook::register_dvdcli(app, globals);
    try {
        auto args = hook::dvdcli_args(argc, argv);
        app.parse(args);
        return 0;
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) {
            return app.exit(e);
        }
        core::log::write(core::log::Level::error, fmt::format("{} (see dvdcli --help)", e.what()));
        return kExitFailed;
    } catch (const std::exception& e) {
        core::log::write(core::log::Level::error, e.what());
        return kExitFailed;
    }
}

} // namespace

int main(int argc, char** argv) {
    using namespace dvdi;
    if (hook::dvdcli_mode(argc, argv)) {
        return dvdcli_main(argc, argv);
    }
    hook::Globals globals;
    try {
        if (hook::run_plain_oci_stage(argc, argv, globals)) {
            return 0;
        }
        CLI::App app{"dvdi-hook: external storage volumes for containers (OCI hook, Mesos isolator, dvdcli)",
                     "dvdi-hook"};
        app.require_subcommand(1);
        app.fallthrough();
        add_global_options(app, globals);
        hook::register_version(app, globals);
        hook::register_config(app, globals);
        hook::register_oci(app, globals);
        hook::register_manual(app, globals);
        hook::register_mesos(app, globals);
        hook::register_volume(app, globals);
        try {
            app.parse(argc, argv);
        } catch (const CLI::ParseError& e) {
            if (e.get_exit_code() == 0) {
                return app.exit(e); // --help prints to stdout and exits 0
            }
            core::log::write(core::log::Level::error, fmt::format("{} (see dvdi-hook --help)", e.what()));
            return kExitUsage;
        }
        return 0;
    } catch (const core::InputError& e) {
        core::log::write(core::log::Level::error, e.what());
        return kExitUsage;
    } catch (const std::exception& e) {
        core::log::write(core::log::Level::error, e.what());
        return kExitFailed;
    }
}
