#include <catch2/catch.hpp>

#include "tests/harness/harness.hpp"

using namespace dvdi::test;

TEST_CASE("the C++ sources follow .clang-format", "[format]") {
    DVDI_REQUIRE_PROGRAM("clang-format");
    const auto r = run({"bash", (source_root() / "scripts/check-format.sh").string()});
    INFO(r.out << r.err);
    CHECK(r.status == 0);
}
