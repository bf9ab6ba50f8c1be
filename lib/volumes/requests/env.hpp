// The DVDI_VOLUME_* environment variables (SPEC S1.1), as mesos-module-dvdi read them.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/volumes/requests/request.hpp"

namespace dvdi::volumes {

/// What one environment asks for, and what the caller should log.
struct EnvRequests {
    std::vector<Request> requests; ///< slot order 0..9; origin is the slot's NAME variable
    std::vector<std::string> warnings;
};

/// Reads the requests from environment entries `NAME=VALUE` (OCI `process.env`). Entries not
/// starting with `DVDI_VOLUME_` are ignored. `default_driver` is the driver of a slot without
/// DVDI_VOLUME_DRIVER (config's default_driver).
///
/// Slots 0-9: `DVDI_VOLUME_<FIELD>` is slot 0 like `DVDI_VOLUME_<FIELD>0`; FIELD is NAME,
/// DRIVER, OPTS, CONTAINERPATH, MODE or EXPLICITCREATE. Every value is trimmed of surrounding
/// spaces and tabs. OPTS: comma-separated `k=v` split on the first '=', pieces and both sides
/// trimmed, empty pieces skipped. An empty CONTAINERPATH, OPTS or MODE counts as unset. MODE is
/// RW or RO (any case, default RW); EXPLICITCREATE is true or false (any case, default false).
/// DVDI_VOLUME_DVDCLI* is ignored with a warning.
///
/// Throws core::InputError naming the variable, its value and the rule: an unknown
/// DVDI_VOLUME_ variable (NAME10, NAMES), a slot set twice (bare and 0), a slot's variable
/// without its NAME, a `DVDI_VOLUME_` entry without '=', any S1.3 rule (validate.hpp),
/// including duplicates across slots.
[[nodiscard]] EnvRequests parse_env_requests(const std::vector<std::string>& env, std::string_view default_driver);

/// The same from (name, value) pairs (Mesos `environment.variables`).
[[nodiscard]] EnvRequests parse_env_requests(const std::vector<std::pair<std::string, std::string>>& variables,
                                             std::string_view default_driver);

} // namespace dvdi::volumes
