// The drivers of one run, each opened once.
#pragma once

#include <memory>
#include <string>

#include "lib/core/config.hpp"
#include "lib/volumes/drivers/driver.hpp"

namespace dvdi::volumes {

/// The drivers of one run, each opened once (so a plugin connection is reused).
class DriverSet {
  public:
    virtual ~DriverSet() = default;
    /// Throws what open_driver throws.
    virtual Driver& get(const std::string& name) = 0;
};

/// Opens drivers with open_driver(name, config); `config` must outlive the set.
[[nodiscard]] std::unique_ptr<DriverSet> open_driver_set(const core::Config& config);

} // namespace dvdi::volumes
