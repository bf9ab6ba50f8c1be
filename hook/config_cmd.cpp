#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "hook/commands.hpp"

namespace dvdi::hook {

void register_config(CLI::App& app, Globals& globals) {
    auto* cmd = app.add_subcommand("config", "Print the effective configuration (file, defaults and flags) as JSON");
    cmd->callback([&globals] {
        const nlohmann::json j = globals.config();
        fmt::print("{}\n", j.dump(2));
    });
}

} // namespace dvdi::hook
