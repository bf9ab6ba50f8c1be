// `--log-level debug`: every driver call as one log line (the driver, the call, the volume, the
// mount ID, the outcome and how long it took).
#pragma once

#include <memory>

#include "lib/volumes/drivers/driver.hpp"

namespace dvdi::volumes {

/// Wraps `driver` so that each call logs one debug line when it returns or throws, e.g.
/// `driver rexray: Mount "v1" ID n1:c0ffee:ab12...: ok in 12 ms: /var/lib/rexray/volumes/v1`.
/// Only worth wrapping when debug is on (open_driver does so); the calls and what they throw
/// are unchanged.
[[nodiscard]] std::unique_ptr<Driver> log_calls(std::unique_ptr<Driver> driver);

} // namespace dvdi::volumes
