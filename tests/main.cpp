// The test runner: Catch2 plus a listener that counts passed, failed and skipped test cases
// and prints the closing line `N passed, N failed[, N skipped]` that CI reads.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "tests/harness/harness.hpp"

namespace {

struct Counts {
    int passed = 0;
    int failed = 0;
    int skipped = 0;
} g_counts;

class CountingListener : public Catch::TestEventListenerBase {
  public:
    using TestEventListenerBase::TestEventListenerBase;

    void testCaseEnded(const Catch::TestCaseStats& stats) override {
        const bool skipped = dvdi::test::take_skipped();
        if (stats.totals.assertions.failed > 0 || stats.totals.testCases.failed > 0) {
            ++g_counts.failed;
        } else if (skipped) {
            ++g_counts.skipped;
        } else {
            ++g_counts.passed;
        }
    }
};

} // namespace

CATCH_REGISTER_LISTENER(CountingListener)

int main(int argc, char* argv[]) {
    const int failures = Catch::Session().run(argc, argv);
    std::fflush(stdout);
    std::string line = fmt::format("{} passed, {} failed", g_counts.passed, g_counts.failed);
    if (g_counts.skipped > 0) {
        line += fmt::format(", {} skipped", g_counts.skipped);
    }
    fmt::print("{}\n", line);
    return failures == 0 && g_counts.failed == 0 ? 0 : 1;
}
