// Replays every input a fuzz run ever found crashing (tests/fuzz/regressions/<target>/*, kept
// by scripts/fuzz.sh) through the same step the fuzzer runs.
#include <catch2/catch.hpp>

#include "tests/fuzz/targets.hpp"
#include "tests/harness/harness.hpp"

using namespace dvdi;

TEST_CASE("fuzz regressions replay without error", "[volumes][fuzz]") {
    const auto root = test::source_root() / "tests/fuzz/regressions";
    int replayed = 0;
    for (const std::string& target : fuzz::target_names()) {
        const auto dir = root / target;
        REQUIRE(test::fs::is_directory(dir));
        for (const auto& entry : test::fs::directory_iterator(dir)) {
            if (!entry.is_regular_file() || entry.path().filename().string().starts_with('.')) {
                continue;
            }
            INFO(entry.path().string());
            const std::string data = test::read_file(entry.path());
            CHECK_NOTHROW(fuzz::run_step(target, data));
            ++replayed;
        }
    }
    CHECK(replayed > 0);
}
