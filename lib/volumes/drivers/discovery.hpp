// Finding a Docker volume plugin by name (SPEC S2.1), as dockerd does.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/config.hpp"
#include "lib/http/client.hpp"

namespace dvdi::volumes {

/// A driver name that can be used as a file name: 1-128 of [A-Za-z0-9_.-], not starting with
/// '.' or '-'. Anything else never reaches the filesystem.
[[nodiscard]] bool is_safe_driver_name(std::string_view name);

/// One pass of dockerd's lookup, first hit wins: for each socket dir `NAME.sock`,
/// `NAME/NAME.sock` (must be a socket); then for each spec dir `NAME.spec`, `NAME/NAME.spec`,
/// `NAME.json`, `NAME/NAME.json`. A `.spec` holds a URL, a `.json` `{"Addr": URL}` (its "Name"
/// is ignored; TLSConfig is refused). Returns nullopt when nothing matches. Throws
/// core::InputError for an unsafe name and core::Error for a spec file that cannot be read or
/// parsed (naming the file).
[[nodiscard]] std::optional<http::Endpoint> find_plugin(const std::string& name, const core::Config& config);

/// The names of every plugin the configured directories offer (sockets, `.spec` and `.json`
/// files, flat or in a NAME/ folder), sorted, without duplicates; unsafe names are skipped.
[[nodiscard]] std::vector<std::string> list_plugins(const core::Config& config);

} // namespace dvdi::volumes
