// Finding a Docker volume plugin by name (SPEC S2.1), as dockerd does.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/config.hpp"
#include "lib/http/client.hpp"

namespace dvdi::volumes {

/// One pass of dockerd's lookup, first hit wins: for each socket dir `NAME.sock`,
/// `NAME/NAME.sock` (must be a socket); then for each spec dir `NAME.spec`, `NAME/NAME.spec`,
/// `NAME.json`, `NAME/NAME.json`. A `.spec` holds a URL, a `.json` `{"Addr": URL}` (its "Name"
/// is ignored; TLSConfig is refused). Returns nullopt when nothing matches. Throws
/// core::InputError for a name that is not a valid driver name (is_valid_driver_name: it
/// never reaches the filesystem) and core::Error for a spec file that cannot be read or
/// parsed (naming the file).
[[nodiscard]] std::optional<http::Endpoint> find_plugin(const std::string& name, const core::Config& config);

/// Why `name` is not found, for an error that says what to do: where each kind of file was
/// looked for and the plugins that were found instead (at most 20 named), e.g. `no plugin
/// "rexray" was found: no socket rexray.sock in /run/docker/plugins, no rexray.spec or rexray.json
/// in /etc/docker/plugins (looked for 15 s, timeouts.plugin_wait 30 s); plugins found: a, b` (or
/// `no plugins found in DIRS`); the parenthesis only with `waited`. Words nothing as a missing
/// file ("No such file or directory"): podman takes a hook error with those words for a runtime
/// that is not installed (exit 127). `name` must be a valid driver name.
[[nodiscard]] std::string missing_plugin(const std::string& name, const core::Config& config,
                                         std::optional<std::chrono::milliseconds> waited = std::nullopt);

/// The names of every plugin the configured directories offer (sockets, `.spec` and `.json`
/// files, flat or in a NAME/ folder), sorted, without duplicates; names that are not valid
/// driver names are skipped.
[[nodiscard]] std::vector<std::string> list_plugins(const core::Config& config);

} // namespace dvdi::volumes
