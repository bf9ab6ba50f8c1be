#include <fmt/format.h>

#include "build_info.hpp"
#include "hook/commands.hpp"
#include "lib/ns/ns.hpp"
#include "version.hpp"

namespace dvdi::hook {

void register_version(CLI::App& app, Globals& /*globals*/) {
    // `dvdi-hook --version`: the first line of `dvdi-hook version`, as other tools answer it.
    app.set_version_flag(
        "--version", [] { return fmt::format("dvdi-hook {}", DVDI_VERSION); }, "Print the version and exit");
    auto* cmd = app.add_subcommand("version", "Print the version, the build and the kernel features this hook uses");
    cmd->callback([] {
        fmt::print("dvdi-hook {}\n", DVDI_VERSION);
        fmt::print("commit: {}\n", DVDI_COMMIT);
        fmt::print("build type: {}\n", DVDI_BUILD_TYPE);
        for (const auto& f : ns::probe_kernel_features().all()) {
            fmt::print("kernel {}: {} (Linux >= {})\n", f.name, f.available ? "yes" : "no", f.min_kernel);
        }
    });
}

} // namespace dvdi::hook
