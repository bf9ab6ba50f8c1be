// dvdi::core: what every module shares. The public header of lib/core.
//  - error.hpp:  Error (exit 1), SysError (errno at the syscall), InputError (exit 2), quote()
//  - fd.hpp:     UniqueFd, the one owning file descriptor
//  - io.hpp:     read_all, write_all, replace_file (temp, fsync, rename, fsync the directory)
//  - log.hpp:    log::debug/info/warn/error to stderr and optionally syslog
//  - config.hpp: Config and its loader for /etc/dvdi-hook/config.json
//  - private_dir.hpp: ensure_private_dir, for the directories only root may change
#pragma once

#include "lib/core/config.hpp"
#include "lib/core/error.hpp"
#include "lib/core/fd.hpp"
#include "lib/core/io.hpp"
#include "lib/core/log.hpp"
#include "lib/core/private_dir.hpp"
