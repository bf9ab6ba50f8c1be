#include "lib/volumes/drivers/driver.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "lib/core/log.hpp"
#include "lib/volumes/drivers/discovery.hpp"
#include "lib/volumes/drivers/local.hpp"
#include "lib/volumes/drivers/logged.hpp"
#include "lib/volumes/drivers/plugin.hpp"
#include "lib/volumes/requests/validate.hpp"

namespace dvdi::volumes {

namespace {

/// Discovery with dockerd's retry: a plugin whose socket is not there yet is looked for again,
/// for timeouts.plugin_wait.
http::Endpoint discover(const std::string& name, const core::Config& config, Timer& timer) {
    Backoff backoff(timer, config.timeouts.plugin_wait);
    for (;;) {
        if (auto endpoint = find_plugin(name, config)) {
            return *endpoint;
        }
        if (!backoff.retry(fmt::format("plugin {}: no socket or spec file yet", name))) {
            throw PluginNotFound(missing_plugin(name, config, backoff.elapsed()));
        }
    }
}

} // namespace

std::unique_ptr<Driver> open_driver(const std::string& name, const core::Config& config, std::shared_ptr<Timer> timer) {
    check_driver_name(name, "driver");
    if (!config.allowed_drivers.empty() &&
        std::find(config.allowed_drivers.begin(), config.allowed_drivers.end(), name) == config.allowed_drivers.end()) {
        throw core::InputError("driver", name, "not in allowed_drivers of the configuration");
    }
    std::unique_ptr<Driver> driver;
    if (name == "local") {
        driver = std::make_unique<LocalDriver>(config.data_dir);
    } else {
        if (!timer) {
            timer = std::make_shared<Timer>();
        }
        auto endpoint = discover(name, config, *timer);
        core::log::debug("plugin {}: at {}", name, endpoint.url());
        driver =
            std::make_unique<PluginDriver>(name, std::make_unique<HttpTransport>(endpoint, config.timeouts.connect),
                                           config.timeouts, std::move(timer));
    }
    // Every driver call of the hook comes through here: at debug level, each one is logged.
    return core::log::enabled(core::log::Level::debug) ? log_calls(std::move(driver)) : std::move(driver);
}

} // namespace dvdi::volumes
