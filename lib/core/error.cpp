#include "lib/core/error.hpp"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace dvdi::core {

namespace {

std::string sys_message(const std::string& op, const std::string& path, int err) {
    if (path.empty()) {
        return fmt::format("{}: {}", op, std::strerror(err));
    }
    return fmt::format("{}(`{}`): {}", op, path, std::strerror(err));
}

} // namespace

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

std::string quote(std::string_view value, std::size_t max) {
    std::string out = "\"";
    const std::size_t end = std::min(value.size(), max);
    for (std::size_t i = 0; i < end;) {
        const auto c = static_cast<unsigned char>(value[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
            ++i;
        } else if (c >= 0x20 && c < 0x7F) {
            out += static_cast<char>(c);
            ++i;
        } else if (const std::size_t n = c >= 0x80 ? utf8_sequence(value, i) : 0; n > 1) {
            out.append(value.substr(i, n));
            i += n;
        } else {
            out += fmt::format("\\x{:02x}", c);
            ++i;
        }
    }
    out += '"';
    if (value.size() > max) {
        out += fmt::format("... ({} bytes)", value.size());
    }
    return out;
}

} // namespace dvdi::core
