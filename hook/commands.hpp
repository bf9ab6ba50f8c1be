// The subcommands of dvdi-hook. hook/ stays thin: each file reads arguments and calls lib/.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/volumes.hpp"

namespace dvdi::hook {

/// The options every subcommand shares, and the config they select.
class Globals {
  public:
    std::string config_path{core::kDefaultConfigPath};
    std::string state_dir; ///< overrides the config's state_dir when not empty
    std::string log_level; ///< overrides the config's log_level when not empty

    /// Loads the config once (the file named by --config must exist; the default path may be
    /// absent), applies the flag overrides and sets up logging. Throws core::InputError.
    const core::Config& config();

  private:
    std::optional<core::Config> config_;
};

/// What the commands that take or release volumes share: the node's state store, the drivers
/// of this run and the node logic over them.
struct NodeContext {
    explicit NodeContext(const core::Config& config);
    std::unique_ptr<volumes::StateStore> store;
    std::unique_ptr<volumes::DriverSet> drivers;
    volumes::Node node;
};

/// Reads all of standard input; more than `limit` bytes is an InputError naming `what`.
[[nodiscard]] std::string read_stdin(std::size_t limit, std::string_view what);
/// Reads the file at `path` (at most `limit` bytes); throws core::SysError or InputError.
[[nodiscard]] std::string read_text_file(const std::string& path, std::size_t limit);

void register_version(CLI::App& app, Globals& globals);
void register_config(CLI::App& app, Globals& globals);
void register_oci(CLI::App& app, Globals& globals);
/// The invocation a runtime's hook entry uses, `[--config PATH | --config=PATH] STAGE` with
/// STAGE prestart, createRuntime or poststop and nothing else: runs that stage as the command
/// line would, without building it (most hook runs are containers without volumes, for which
/// building the command line was most of the work), and returns true. False for any other
/// arguments, which main parses. Throws what the stage throws.
[[nodiscard]] bool run_plain_oci_stage(int argc, char** argv, Globals& globals);
void register_manual(CLI::App& app, Globals& globals);
void register_mesos(CLI::App& app, Globals& globals);
/// `volume create|ls|inspect|rm` (hook/volume_cmd.cpp).
void register_volume(CLI::App& app, Globals& globals);

/// dvdcli compatibility (hook/dvdcli.cpp): true when run as `dvdcli` (argv[0]'s basename) or as
/// `dvdi-hook [global options] dvdcli ...`.
[[nodiscard]] bool dvdcli_mode(int argc, char** argv);
/// The arguments for the dvdcli app: without the program name and the `dvdcli` word, in the
/// reversed order CLI::App::parse(std::vector<std::string>&) takes.
[[nodiscard]] std::vector<std::string> dvdcli_args(int argc, char** argv);
/// Registers dvdcli's commands (mount, unmount, path, create, remove, get, list, version) and
/// flags on its own app.
void register_dvdcli(CLI::App& app, Globals& globals);

} // namespace dvdi::hook
