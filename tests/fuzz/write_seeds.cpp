// Writes the seed corpus of every fuzz target from the test tables (tests/volumes/cases*.cpp):
// dvdi-fuzz-seeds DIR makes DIR/env, DIR/mesos and DIR/oci, one file per case input. Inputs
// over 64 KiB (the 1 MiB config.json) are left out: they would only slow the fuzzer down.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "tests/volumes/requests/cases.hpp"

namespace {

namespace fs = std::filesystem;
using namespace dvdi::test::cases;

int write_all(const fs::path& dir, const std::vector<std::string>& inputs) {
    fs::create_directories(dir);
    int n = 0;
    for (const std::string& input : inputs) {
        if (input.size() > 65536) {
            continue;
        }
        std::ofstream(dir / fmt::format("seed-{:03}", n++), std::ios::binary) << input;
    }
    return n;
}

std::vector<std::string> inputs_of(const std::vector<Case>& cases) {
    std::vector<std::string> out;
    for (const Case& c : cases) {
        out.push_back(c.input);
    }
    return out;
}

} // namespace

int main(int argc, char* argv[]) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: dvdi-fuzz-seeds DIR\n");
        return 2;
    }
    const fs::path dir = argv[1];
    auto oci = inputs_of(oci_config_cases());
    for (auto& s : oci_state_inputs()) {
        oci.push_back(std::move(s));
    }
    const int n = write_all(dir / "env", inputs_of(env_cases())) + write_all(dir / "mesos", inputs_of(mesos_cases())) +
                  write_all(dir / "oci", oci);
    fmt::print("dvdi-fuzz-seeds: {} seeds in {}\n", n, dir.string());
    return 0;
}
