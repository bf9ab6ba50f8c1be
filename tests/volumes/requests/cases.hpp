// The table of request inputs shared by the Catch2 tests (which assert the exact outcome) and
// the fuzz seed corpus (tests/fuzz/write_seeds.cpp writes every input out). Plain data: no
// Catch2 here.
#pragma once

#include <string>
#include <vector>

#include "lib/volumes/requests/request.hpp"

namespace dvdi::test::cases {

inline constexpr const char* kDefaultDriver = "rexray";
inline constexpr const char* kBundle = "/b"; ///< bundle of every config.json case

struct Case {
    std::string label;
    std::string input;                      ///< env: entries separated by '\n'; else JSON text
    std::vector<volumes::Request> expected; ///< good case: exactly these requests
    std::string error;                      ///< bad case: exactly this InputError::what()
    std::vector<std::string> warnings;      ///< good case: exactly these warnings
};

std::vector<Case> env_cases();
std::vector<Case> mesos_cases();
std::vector<Case> oci_config_cases();
/// State JSON texts (good and bad) for the OCI state reader's seeds; asserted in its tests.
std::vector<std::string> oci_state_inputs();

/// A request as the readers build it.
volumes::Request req(std::string driver, std::string name, std::string origin,
                     std::optional<std::string> container_path = std::nullopt, volumes::Options options = {},
                     volumes::Mode mode = volumes::Mode::rw, bool explicit_create = false);

/// Splits an env case's input into entries.
std::vector<std::string> env_entries(const std::string& input);

} // namespace dvdi::test::cases
