// The log module: levels, fmt-style messages; to stderr and optionally syslog.
// stdout is never written here: it belongs to what a command outputs.
#pragma once

#include <string_view>

#include <fmt/format.h>

namespace dvdi::core::log {

enum class Level { debug, info, warning, error };

/// Parses "debug", "info", "warning" (or "warn"), "error"; throws InputError naming `field`.
[[nodiscard]] Level parse_level(std::string_view text, std::string_view field);
[[nodiscard]] std::string_view level_name(Level level) noexcept;

void set_level(Level level) noexcept;
[[nodiscard]] bool enabled(Level level) noexcept;

/// Also sends every message at or above the current level to syslog (facility daemon).
void enable_syslog() noexcept;

/// Redirects the stderr output to `fd` (tests); -1 restores stderr. The fd stays the caller's.
void set_output_fd(int fd) noexcept;

/// Writes one line `dvdi-hook: <level>: <message>`, whatever the current level, with the
/// message passed through core::printable (control characters and invalid UTF-8 as \xNN), so
/// it is exactly one line on stderr and in syslog whatever it contains.
void write(Level level, std::string_view message) noexcept;

/// Sends `message` to syslog only (when enabled and `level` is on), escaped as write() does: for
/// a line the command itself prints (gc's report on stdout), so that a terminal shows it once.
void to_syslog(Level level, std::string_view message) noexcept;

template <typename... Args> void debug(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(Level::debug)) {
        write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
    }
}
template <typename... Args> void info(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(Level::info)) {
        write(Level::info, fmt::format(f, std::forward<Args>(args)...));
    }
}
template <typename... Args> void warn(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(Level::warning)) {
        write(Level::warning, fmt::format(f, std::forward<Args>(args)...));
    }
}
template <typename... Args> void error(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(Level::error)) {
        write(Level::error, fmt::format(f, std::forward<Args>(args)...));
    }
}

} // namespace dvdi::core::log
