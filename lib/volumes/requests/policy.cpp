#include "lib/volumes/requests/policy.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lib/volumes/requests/validate.hpp"

namespace dvdi::volumes {

namespace {

void refuse_local_options(const Request& r) {
    if (!r.options.empty()) {
        throw input_error(r.options_origin(), fmt::format("{}={}", r.options.front().first, r.options.front().second),
                          "the local driver takes no options from a container: a local volume with options "
                          "(type, device, o) is defined by the node's operator (local_volumes in the "
                          "configuration, or dvdi-hook mount -o)");
    }
}

void take_definition(Request& r, const core::Config& config) {
    if (const auto* d = core::find_local_volume(config, r.name)) {
        r.options = {{"type", d->type}, {"device", d->device}};
        if (!d->o.empty()) {
            r.options.emplace_back("o", d->o);
        }
    }
}

void check_tenant_options(const Request& r, const core::Config& config) {
    const auto it = config.driver_policy.find(r.driver);
    if (it == config.driver_policy.end() || !it->second.tenant_options) {
        return;
    }
    const auto& allowed = *it->second.tenant_options;
    for (const auto& [key, value] : r.options) {
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            throw input_error(r.options_origin(), key,
                              fmt::format("option {} is not allowed for driver {} on this node (driver_policy.{}."
                                          "tenant_options: {})",
                                          key, r.driver, r.driver,
                                          allowed.empty() ? "none" : fmt::format("{}", fmt::join(allowed, ", "))));
        }
    }
}

} // namespace

void apply_tenant_policy(std::vector<Request>& requests, const core::Config& config) {
    check_allowed_drivers(requests, config.allowed_drivers);
    for (Request& r : requests) {
        if (r.driver == "local") {
            refuse_local_options(r);
            take_definition(r, config);
        } else {
            check_tenant_options(r, config);
        }
    }
}

void apply_operator_policy(Request& request, const core::Config& config) {
    check_allowed_drivers({request}, config.allowed_drivers);
    if (request.driver == "local" && request.options.empty()) {
        take_definition(request, config);
    }
}

} // namespace dvdi::volumes
