#include <fcntl.h>
#include <unistd.h>

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

NodeContext::NodeContext(const core::Config& config)
    : store(volumes::open_state_store(config.state_dir)), drivers(volumes::open_driver_set(config)),
      node(*store, *drivers, {}, volumes::NodeSettings::from(config)) {}

namespace {

std::string read_fd(int fd, std::size_t limit, std::string_view what, const std::string& path) {
    std::string text = core::read_all(fd, path, limit);
    if (text.size() > limit) {
        throw core::InputError(std::string(what), text.substr(0, 40), fmt::format("larger than {} bytes", limit));
    }
    return text;
}

} // namespace

std::string read_stdin(std::size_t limit, std::string_view what) {
    // A person who runs a hook stage by hand would otherwise wait on a silent terminal.
    if (::isatty(0) == 1) {
        throw core::InputError(std::string(what), "a terminal",
                               "this command reads what its caller writes to it (the runtime, the isolator); "
                               "give it on stdin, e.g. `dvdi-hook prestart < state.json`");
    }
    return read_fd(0, limit, what, "stdin");
}

std::string read_text_file(const std::string& path, std::size_t limit) {
    core::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        core::throw_errno("open", path);
    }
    return read_fd(fd.get(), limit, path, path);
}

} // namespace dvdi::hook
