// Error types shared by every module. Exceptions travel up to hook/main.cpp, which prints one
// line and maps the type to the exit status: InputError -> 2, everything else -> 1.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace dvdi::core {

/// An operation failed (exit status 1). The message is complete and printable as it is.
class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// A system call failed. what() reads ``op(`path`): TEXT`` (or `op: TEXT` without a path), TEXT
/// being errno_text(errno), e.g. ``open_tree(`/var/lib/dvdi/volumes/v/_data`): does not exist
/// (ENOENT)``.
class SysError : public Error {
  public:
    SysError(std::string op, std::string path, int err);
    SysError(std::string op, int err);

    [[nodiscard]] int code() const noexcept { return code_; }
    [[nodiscard]] const std::string& op() const noexcept { return op_; }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }

  private:
    std::string op_;
    std::string path_;
    int code_;
};

/// strerror(err), except for the errors whose strerror podman reads as its own: it shows a hook's
/// error containing "No such file or directory" as "OCI runtime attempted to invoke a command that
/// was not found" (exit 127, as for any "not found" or "no such file"), and one containing
/// "Permission denied" or "Operation not permitted" as a permission error of the runtime. Those
/// read `does not exist (ENOENT)`, `access refused (EACCES)` and `not allowed (EPERM)`.
[[nodiscard]] std::string errno_text(int err);

/// Throws SysError with the current errno. For use right after the failing call.
[[noreturn]] void throw_errno(std::string op, std::string path = {});

/// Bad input: a request, a config file, a flag (exit status 2). what() names the field, the
/// value and the rule: `DVDI_VOLUME_NAME3: "a/b": a volume name cannot contain '/'`.
class InputError : public std::invalid_argument {
  public:
    InputError(std::string field, std::string_view value, std::string rule);
    /// Without a value, when the rule says where: `config file /etc/x.json: line 3, column 9: ...`.
    InputError(std::string field, std::string rule);
    /// The same with a word for what the value is: `DVDI_VOLUME_OPTS: item "=5": <rule>`.
    InputError(std::string field, std::string_view label, std::string_view value, std::string rule);

    [[nodiscard]] const std::string& field() const noexcept { return field_; }
    [[nodiscard]] const std::string& rule() const noexcept { return rule_; }

    /// The same error with `; <more>` at the end of its message (what a module boundary adds,
    /// e.g. what it undid); field() and rule() stay.
    [[nodiscard]] InputError extended(std::string_view more) const;

  private:
    struct Whole {};
    InputError(Whole, std::string message, std::string field, std::string rule);

    std::string field_;
    std::string rule_;
};

/// Length of the well-formed UTF-8 sequence starting at s[i] (1 for ASCII), or 0 when it is not
/// one: overlong forms, surrogates and code points past U+10FFFF are not (RFC 3629).
[[nodiscard]] std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept;

/// Renders an untrusted value for an error message: double-quoted, control characters and
/// invalid UTF-8 escaped, at most `max` bytes of the original followed by `...`.
[[nodiscard]] std::string quote(std::string_view value, std::size_t max = 80);

/// The text with every control character (below 0x20, and 0x7F: newline, CR, tab, ESC ...) and
/// every byte that is not part of well-formed UTF-8 written as `\xNN`; nothing else changes
/// (no quotes, no length limit). What a sink (a log line, a file read by other tools) applies
/// so that one message stays one line and cannot drive a terminal.
[[nodiscard]] std::string printable(std::string_view text);

} // namespace dvdi::core
