// One fuzz step per request reader, shared by the libFuzzer targets (dvdi-fuzz-*) and the
// Catch2 suite, which replays tests/fuzz/regressions/<target>/* through the same functions.
// A step feeds `data` to its reader; a core::InputError is the expected answer to bad input.
// Anything else escapes: another exception, or std::logic_error when an invariant fails:
//  - an error message is printable UTF-8 (it goes to stderr, syslog, Mesos' error file);
//  - might_request_volumes(data) == false implies no request;
//  - every request survives to_json/from_json unchanged.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dvdi::fuzz {

/// `data` split on '\n' into environment entries.
void env_step(std::string_view data);
/// `data` as the Mesos isolator input.
void mesos_step(std::string_view data);
/// `data` as an OCI state and as a config.json of bundle "/b".
void oci_step(std::string_view data);

/// The target names, as in dvdi-fuzz-<name> and tests/fuzz/regressions/<name>.
const std::vector<std::string>& target_names();
/// Runs the step of target `name`.
void run_step(const std::string& name, std::string_view data);

} // namespace dvdi::fuzz
