// Requests (SPEC S1), the public header of lib/volumes/requests: what a container asks for, read
// from text by pure functions that never call a driver or touch the file system. A front end reads
// its input with one of the readers, each throwing core::InputError (exit 2) naming the variable
// or JSON field, the value and the rule:
//  - OCI:   parse_oci_state(stdin); then, only when might_request_volumes(config.json text),
//           parse_oci_config(text, state.bundle, config.default_driver)          (oci.hpp)
//  - Mesos: might_request_volumes(input), then parse_mesos_input(input, default_driver) (mesos.hpp)
//  - env:   parse_env_requests(entries, default_driver) (the others use it for variables) (env.hpp)
// Readers never log: the returned `warnings` are the caller's to log. Then apply_tenant_policy()
// (policy.hpp: what a tenant may ask for, SPEC S7) before any driver call. validate.hpp holds
// every rule, prefilter.hpp the cheap "could this ask for volumes at all" test.
#pragma once

#include "lib/volumes/requests/env.hpp"
#include "lib/volumes/requests/mesos.hpp"
#include "lib/volumes/requests/oci.hpp"
#include "lib/volumes/requests/policy.hpp"
#include "lib/volumes/requests/prefilter.hpp"
#include "lib/volumes/requests/request.hpp"
#include "lib/volumes/requests/validate.hpp"
