#include <map>

#include "lib/volumes/drivers/driver_set.hpp"

namespace dvdi::volumes {

namespace {

class OpenedDrivers final : public DriverSet {
  public:
    explicit OpenedDrivers(const core::Config& config) : config_(config) {}
    Driver& get(const std::string& name) override {
        auto& slot = drivers_[name];
        if (!slot) {
            slot = open_driver(name, config_);
        }
        return *slot;
    }

  private:
    const core::Config& config_;
    std::map<std::string, std::unique_ptr<Driver>> drivers_;
};

} // namespace

std::unique_ptr<DriverSet> open_driver_set(const core::Config& config) {
    return std::make_unique<OpenedDrivers>(config);
}

} // namespace dvdi::volumes
