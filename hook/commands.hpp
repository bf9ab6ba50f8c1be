// The subcommands of dvdi-hook. hook/ stays thin: each file reads arguments and calls lib/.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "lib/core/core.hpp"

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

void register_version(CLI::App& app, Globals& globals);
void register_config(CLI::App& app, Globals& globals);

} // namespace dvdi::hook
