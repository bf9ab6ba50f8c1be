// Runs one table case against a reader and checks the exact outcome.
#pragma once

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "lib/core/error.hpp"
#include "tests/volumes/requests/cases.hpp"

namespace dvdi::test::cases {

struct Outcome {
    std::vector<volumes::Request> requests;
    std::vector<std::string> warnings;
};

/// `read(input)` returns an Outcome or throws. Good cases compare every request field (through
/// their JSON form, which holds them all) and the warnings; bad ones the exact message.
template <typename Read> void check_case(const Case& c, Read&& read) {
    INFO("case: " << c.label);
    if (c.error.empty()) {
        Outcome got;
        try {
            got = read(c.input);
        } catch (const std::exception& e) {
            FAIL_CHECK("unexpected error: " << e.what());
            return;
        }
        CHECK(nlohmann::json(got.requests).dump() == nlohmann::json(c.expected).dump());
        CHECK(got.warnings == c.warnings);
    } else {
        try {
            (void)read(c.input);
            FAIL_CHECK("no error; expected: " << c.error);
        } catch (const core::InputError& e) {
            CHECK(std::string(e.what()) == c.error);
        }
    }
}

} // namespace dvdi::test::cases
