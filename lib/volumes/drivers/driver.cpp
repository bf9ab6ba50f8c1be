#include "lib/volumes/drivers/driver.hpp"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "lib/core/log.hpp"
#include "lib/volumes/drivers/discovery.hpp"
#include "lib/volumes/drivers/local.hpp"
#include "lib/volumes/drivers/plugin.hpp"
#include "lib/volumes/requests/validate.hpp"

namespace dvdi::volumes {

namespace {

/// Discovery with dockerd's retry: a plugin whose socket is not there yet is looked for again
/// after 1, 2, 4, 8 s while the next look still starts within the retry budget.
http::Endpoint discover(const std::string& name, const core::Config& config) {
    const auto start = http::Clock::now();
    std::chrono::milliseconds wait{1000};
    for (;;) {
        if (auto endpoint = find_plugin(name, config)) {
            return *endpoint;
        }
        const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(http::Clock::now() - start);
        if (elapsed + wait >= config.timeouts.retry_budget) {
            std::string dirs;
            for (const auto& d : config.plugin_socket_dirs) {
                dirs += (dirs.empty() ? "" : ", ") + d;
            }
            for (const auto& d : config.plugin_spec_dirs) {
                dirs += (dirs.empty() ? "" : ", ") + d;
            }
            throw DriverUnreachable(
                fmt::format("plugin {}: not found (no socket, .spec or .json in {}; looked for {:g} s)", name, dirs,
                            static_cast<double>(elapsed.count()) / 1000.0));
        }
        core::log::debug("plugin {}: not found yet; looking again in {} ms", name, wait.count());
        std::this_thread::sleep_for(wait);
        wait *= 2;
    }
}

} // namespace

std::unique_ptr<Driver> open_driver(const std::string& name, const core::Config& config) {
    check_driver_name(name, "driver");
    if (!config.allowed_drivers.empty() &&
        std::find(config.allowed_drivers.begin(), config.allowed_drivers.end(), name) == config.allowed_drivers.end()) {
        throw core::InputError("driver", name, "not in allowed_drivers of the configuration");
    }
    if (name == "local") {
        return std::make_unique<LocalDriver>(config.data_dir);
    }
    auto endpoint = discover(name, config);
    core::log::debug("plugin {}: at {}", name, endpoint.url());
    return std::make_unique<PluginDriver>(name, std::make_unique<HttpTransport>(endpoint, config.timeouts.connect),
                                          config.timeouts);
}

} // namespace dvdi::volumes
