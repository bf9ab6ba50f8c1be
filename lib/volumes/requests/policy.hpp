// The operator's policy over what a tenant may ask for (SPEC S7, docs/SECURITY.md; where a
// driver may mount is node/mountpoint_policy.hpp). A tenant writes the container's image, environment and task volumes;
// the operator writes the config. Nothing a tenant writes can make the hook mount a host path, a device or a network
// file system, or pass an option the operator did not allow.
#pragma once

#include <string>
#include <vector>

#include "lib/core/config.hpp"
#include "lib/volumes/requests/request.hpp"

namespace dvdi::volumes {

/// Applies the operator's rules to a tenant's requests (OCI prestart, Mesos prepare, dvdcli),
/// before any driver call:
///  - the driver is in allowed_drivers (when that list is set);
///  - a `local` request carries no options at all: a volume named by local_volumes gets the
///    operator's options from there, any other is a plain directory (as in Docker, only the
///    operator creates a local volume with options);
///  - a plugin request passes only the option keys driver_policy allows for its driver.
/// Throws core::InputError naming the request's field, the value and the rule.
void apply_tenant_policy(std::vector<Request>& requests, const core::Config& config);

/// The operator's own request (`dvdi-hook mount`): allowed_drivers; a `local` request without
/// options takes a matching local_volumes definition.
void apply_operator_policy(Request& request, const core::Config& config);

} // namespace dvdi::volumes
