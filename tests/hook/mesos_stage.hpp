// One Mesos isolator call as criteo's command-isolator module makes it: `dvdi-hook mesos STAGE
// INPUT OUTPUT ERROR` with fresh files (the module makes them with mkstemp) and the input also
// on stdin.
#pragma once

#include <string>

#include "tests/harness/harness.hpp"

namespace dvdi::test {

struct StageResult {
    int status = -1;
    std::string output; ///< the OUTPUT file
    std::string error;  ///< the ERROR file
    std::string err;    ///< stderr
};

inline StageResult mesos_stage(const fs::path& config, const std::string& name, const std::string& input) {
    TempDir files("dvdi-mesos-call");
    write_file(files / "in", input);
    write_file(files / "out", "");
    write_file(files / "err", "");
    CommandOptions o;
    o.input = input;
    const auto r = run({hook_binary().string(), "--config", config.string(), "mesos", name, (files / "in").string(),
                        (files / "out").string(), (files / "err").string()},
                       o);
    return {r.status, read_file(files / "out"), read_file(files / "err"), r.err};
}

} // namespace dvdi::test
