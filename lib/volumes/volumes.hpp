// dvdi::volumes: what a container asks for (requests and their parsing), the drivers that
// provide volumes (Docker plugin client, the built-in `local` driver) and the node's state.
//  - driver.hpp:        the Driver interface, DriverError, open_driver()
//  - plugin_driver.hpp: a Docker volume plugin spoken to over HTTP (Transport, Timer seams)
//  - local_driver.hpp:  the built-in `local` driver (Mounter seam)
//  - discovery.hpp:     finding a plugin's socket or spec file by name
//  - http_client.hpp:   the small HTTP/1.1 client (unix sockets, TCP), http_wire.hpp its parser
#pragma once

#include "lib/volumes/discovery.hpp"
#include "lib/volumes/driver.hpp"
#include "lib/volumes/http_client.hpp"
#include "lib/volumes/local_driver.hpp"
#include "lib/volumes/plugin_driver.hpp"

// Requests (SPEC S1). A front end reads its input with one of the readers, each a pure function
// from text to validated requests that throws core::InputError (exit 2) naming the variable or
// JSON field, the value and the rule:
//  - OCI:   parse_oci_state(stdin); then, only when might_request_volumes(config.json text),
//           parse_oci_config(text, state.bundle, config.default_driver).
//  - Mesos: might_request_volumes(input), then parse_mesos_input(input, default_driver).
//  - env:   parse_env_requests(entries, default_driver) (the others use it for variables).
// Readers never log: the returned `warnings` are the caller's to log. allowed_drivers is
// checked by check_allowed_drivers() (optional, before any driver call) and by open_driver().
#include "lib/volumes/env_requests.hpp"
#include "lib/volumes/mesos_input.hpp"
#include "lib/volumes/oci_input.hpp"
// What a tenant may ask for and where a driver may mount (SPEC S7): apply_tenant_policy()
// after reading a container's requests, before any driver call.
#include "lib/volumes/policy.hpp"
#include "lib/volumes/prefilter.hpp"
#include "lib/volumes/request.hpp"
#include "lib/volumes/validate.hpp"
