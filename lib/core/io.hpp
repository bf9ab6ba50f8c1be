// Reading and writing whole files and descriptors: the one read loop, the one write loop and the
// one durable replace of a file (temp, fsync, rename, fsync the directory).
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

namespace dvdi::core {

/// Reads `fd` (borrowed: it stays the caller's) to its end, retrying EINTR, but stops once more
/// than `limit` bytes were read: a result longer than `limit` means the input was too long.
/// Throws SysError(`read`, `path`); `path` names what `fd` is, for the message.
[[nodiscard]] std::string read_all(int fd, const std::string& path,
                                   std::size_t limit = std::numeric_limits<std::size_t>::max() - 1);

/// Writes all of `data` to `fd` (borrowed), retrying short writes and EINTR. Throws
/// SysError(`write`, `path`).
void write_all(int fd, std::string_view data, const std::string& path);

/// Replaces the file at `path` with `data` so that a crash at any instant leaves either the old
/// or the new file, never a torn one: writes `<path>.tmp` (mode 0600, not through a symlink),
/// fsyncs it, renames it over `path` and fsyncs the directory. Throws SysError naming the step
/// and the file; the temporary file is removed when the rename did not happen.
void replace_file(const std::string& path, std::string_view data);

} // namespace dvdi::core
