// The cheap "no volumes" answer (SPEC S6): most containers ask for none, and those must cost
// no JSON parsing beyond the OCI state.
#pragma once

#include <string_view>

namespace dvdi::volumes {

/// Scans raw text (an OCI config.json, the Mesos isolator input, or environment entries) for
/// the markers every request carries: `DVDI_VOLUME_` (a variable) or `DOCKER_VOLUME` (a Mesos
/// volume source). False means "certainly no volumes": parse_oci_config, parse_mesos_input and
/// parse_env_requests would return no request for this text (they may still reject it as bad
/// input, which a container without volumes does not need to hear about). True means "maybe":
/// parse to know. JSON `\u` escapes of letters or '_' answer true, since they could spell a
/// marker; other escapes (Go's `\u003c`) do not. Linear, no allocation.
[[nodiscard]] bool might_request_volumes(std::string_view raw_text) noexcept;

} // namespace dvdi::volumes
