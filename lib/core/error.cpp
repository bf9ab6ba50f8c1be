#include "lib/core/error.hpp"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace dvdi::core {

namespace {

std::string sys_message(const std::string& op, const std::string& path, int err) {
    if (path.empty()) {
        return fmt::format("{}: {}", op, errno_text(err));
    }
    return fmt::format("{}(`{}`): {}", op, path, errno_text(err));
}

// Appends the character at s[i]: a well-formed UTF-8 sequence as it is, a control character
// (below 0x20, or 0x7F) or a byte that is not UTF-8 as \xNN. Returns the bytes of s it took.
std::size_t append_printable(std::string& out, std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c >= 0x20 && c != 0x7F ? utf8_sequence(s, i) : 0;
    if (n == 0) {
        out += fmt::format("\\x{:02x}", c);
        return 1;
    }
    out.append(s.substr(i, n));
    return n;
}

} // namespace

std::string errno_text(int err) {
    switch (err) {
    case ENOENT:
        return "does not exist (ENOENT)";
    case EACCES:
        return "access refused (EACCES)";
    case EPERM:
        return "not allowed (EPERM)";
    default:
        return std::strerror(err);
    }
}

SysError::SysError(std::string op, std::string path, int err)
    : Error(sys_message(op, path, err)), op_(std::move(op)), path_(std::move(path)), code_(err) {}

SysError::SysError(std::string op, int err) : SysError(std::move(op), std::string{}, err) {}

void throw_errno(std::string op, std::string path) {
    const int err = errno;
    throw SysError(std::move(op), std::move(path), err);
}

std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = byte(0);
    if (c < 0x80) {
        return 1;
    }
    std::size_t n = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (i + n > s.size() || byte(1) < lo || byte(1) > hi) {
        return 0;
    }
    for (std::size_t k = 2; k < n; ++k) {
        if ((byte(k) & 0xC0) != 0x80) {
            return 0;
        }
    }
    return n;
}

InputError::InputError(std::string field, std::string_view value, std::string rule)
    : std::invalid_argument(fmt::format("{}: {}: {}", field, quote(value), rule)), field_(std::move(field)),
      rule_(std::move(rule)) {}

InputError::InputError(std::string field, std::string rule)
    : std::invalid_argument(fmt::format("{}: {}", field, rule)), field_(std::move(field)), rule_(std::move(rule)) {}

InputError::InputError(std::string field, std::string_view label, std::string_view value, std::string rule)
    : std::invalid_argument(fmt::format("{}: {} {}: {}", field, label, quote(value), rule)), field_(std::move(field)),
      rule_(std::move(rule)) {}

InputError::InputError(Whole, std::string message, std::string field, std::string rule)
    : std::invalid_argument(message), field_(std::move(field)), rule_(std::move(rule)) {}

InputError InputError::extended(std::string_view more) const {
    return InputError(Whole{}, fmt::format("{}; {}", what(), more), field_, rule_);
}

std::string quote(std::string_view value, std::size_t max) {
    std::string out = "\"";
    const std::size_t end = std::min(value.size(), max);
    for (std::size_t i = 0; i < end;) {
        const char c = value[i];
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
            ++i;
        } else {
            i += append_printable(out, value, i);
        }
    }
    out += '"';
    if (value.size() > max) {
        out += fmt::format("... ({} bytes)", value.size());
    }
    return out;
}

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        i += append_printable(out, text, i);
    }
    return out;
}

} // namespace dvdi::core
