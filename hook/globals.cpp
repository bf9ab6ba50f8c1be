#include "hook/commands.hpp"

namespace dvdi::hook {

const core::Config& Globals::config() {
    if (config_) {
        return *config_;
    }
    core::Config c = core::load_config(config_path, config_path != core::kDefaultConfigPath);
    if (!state_dir.empty()) {
        if (state_dir.front() != '/') {
            throw core::InputError("--state-dir", state_dir, "must be an absolute path");
        }
        c.state_dir = state_dir;
    }
    if (!log_level.empty()) {
        c.log_level = log_level;
    }
    core::log::set_level(core::log::parse_level(c.log_level, log_level.empty() ? "log_level" : "--log-level"));
    if (c.syslog) {
        core::log::enable_syslog();
    }
    config_ = std::move(c);
    return *config_;
}

} // namespace dvdi::hook
