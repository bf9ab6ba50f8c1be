// The directories the hook keeps its own files in (the node state, the `local` driver's
// volumes): only root may change them, or a local user could swap the records or the data that
// root acts on.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace dvdi::core {

/// Makes sure `path` is a directory that only this process's user (root, for the hook) can
/// change: creates it with `mode` when missing (its missing parents 0755), then checks that it
/// is a directory owned by the effective uid and not writable by group or others. Throws
/// core::Error naming `what`, the directory, its owner and its mode, e.g.
/// ``state dir `/run/dvdi` has mode 0777 and owner uid 1000: it must be owned by root and not
/// writable by group or others``; core::SysError when it cannot be created or examined.
void ensure_private_dir(const std::string& path, mode_t mode, std::string_view what);

} // namespace dvdi::core
