#include "lib/core/log.hpp"

#include <syslog.h>
#include <unistd.h>

#include <array>
#include <string>

#include "lib/core/error.hpp"

namespace dvdi::core::log {

namespace {

Level g_level = Level::info;
bool g_syslog = false;
int g_fd = STDERR_FILENO;

constexpr std::array<std::string_view, 4> kNames = {"debug", "info", "warning", "error"};

int syslog_priority(Level level) {
    switch (level) {
    case Level::debug:
        return LOG_DEBUG;
    case Level::info:
        return LOG_INFO;
    case Level::warning:
        return LOG_WARNING;
    case Level::error:
        return LOG_ERR;
    }
    return LOG_ERR;
}

} // namespace

Level parse_level(std::string_view text, std::string_view field) {
    if (text == "warn") {
        return Level::warning;
    }
    for (std::size_t i = 0; i < kNames.size(); ++i) {
        if (text == kNames[i]) {
            return static_cast<Level>(i);
        }
    }
    throw InputError(std::string(field), text, "the log level must be debug, info, warning or error");
}

std::string_view level_name(Level level) noexcept {
    return kNames.at(static_cast<std::size_t>(level));
}

void set_level(Level level) noexcept {
    g_level = level;
}

bool enabled(Level level) noexcept {
    return level >= g_level;
}

void enable_syslog() noexcept {
    if (!g_syslog) {
        openlog("dvdi-hook", LOG_PID | LOG_NDELAY, LOG_DAEMON);
        g_syslog = true;
    }
}

void set_output_fd(int fd) noexcept {
    g_fd = fd >= 0 ? fd : STDERR_FILENO;
}

void write(Level level, std::string_view message) noexcept {
    try {
        // Messages carry text from outside (a plugin's Err, a path, a container's name): escaped
        // here, whatever the caller did, one call is one line and cannot drive a terminal.
        const std::string text = printable(message);
        // One write(2) per line, so lines of concurrent hooks do not interleave.
        const std::string line = fmt::format("dvdi-hook: {}: {}\n", level_name(level), text);
        [[maybe_unused]] const auto n = ::write(g_fd, line.data(), line.size());
        if (g_syslog) {
            ::syslog(syslog_priority(level), "%.*s", static_cast<int>(text.size()), text.data());
        }
    } catch (...) {
        // Logging must never turn into a second failure.
    }
}

void to_syslog(Level level, std::string_view message) noexcept {
    if (!g_syslog || !enabled(level)) {
        return;
    }
    try {
        const std::string text = printable(message);
        ::syslog(syslog_priority(level), "%.*s", static_cast<int>(text.size()), text.data());
    } catch (...) {
        // As write(): never a second failure.
    }
}

} // namespace dvdi::core::log
