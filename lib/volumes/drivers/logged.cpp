#include "lib/volumes/drivers/logged.hpp"

#include <chrono>

#include <fmt/format.h>

#include "lib/core/core.hpp"

namespace dvdi::volumes {

namespace {

class LoggedDriver : public Driver {
  public:
    explicit LoggedDriver(std::unique_ptr<Driver> inner) : inner_(std::move(inner)) {}

    [[nodiscard]] const std::string& name() const override { return inner_->name(); }

    // Get, then Create when the driver has no such volume: one line, as the interface has one
    // call (the plugin's own calls are both in its answer's time).
    void ensure_exists(const std::string& volume, const Options& options, bool explicit_create) override {
        logged(explicit_create ? "Get" : "Get/Create", volume, {}, [&] {
            inner_->ensure_exists(volume, options, explicit_create);
            return std::string();
        });
    }
    std::string mount(const std::string& volume, const std::string& id) override {
        return logged("Mount", volume, id, [&] { return inner_->mount(volume, id); });
    }
    void unmount(const std::string& volume, const std::string& id) override {
        logged("Unmount", volume, id, [&] {
            inner_->unmount(volume, id);
            return std::string();
        });
    }
    void create(const std::string& volume, const Options& options) override {
        logged("Create", volume, {}, [&] {
            inner_->create(volume, options);
            return std::string();
        });
    }
    std::optional<VolumeInfo> get(const std::string& volume) override {
        std::optional<VolumeInfo> out;
        logged("Get", volume, {}, [&] {
            out = inner_->get(volume);
            return std::string(out ? "found" : "no such volume");
        });
        return out;
    }
    std::string path(const std::string& volume) override {
        return logged("Path", volume, {}, [&] { return inner_->path(volume); });
    }
    std::vector<VolumeInfo> list() override {
        std::vector<VolumeInfo> out;
        logged("List", {}, {}, [&] {
            out = inner_->list();
            return fmt::format("{} volume(s)", out.size());
        });
        return out;
    }
    Capabilities capabilities() override {
        Capabilities out;
        logged("Capabilities", {}, {}, [&] {
            out = inner_->capabilities();
            return fmt::format("scope {}", out.scope);
        });
        return out;
    }
    void remove(const std::string& volume) override {
        logged("Remove", volume, {}, [&] {
            inner_->remove(volume);
            return std::string();
        });
    }

  private:
    // Runs `call` (which returns what to show of its answer) and logs one line either way.
    template <typename Call>
    std::string logged(std::string_view call, const std::string& volume, const std::string& id, Call&& run) {
        const auto start = std::chrono::steady_clock::now();
        const auto head = [&] {
            std::string h = fmt::format("driver {}: {}", inner_->name(), call);
            if (!volume.empty()) {
                h += fmt::format(" {}", core::quote(volume)); // not " " + string&&: GCC 12's -Wrestrict at -O3
            }
            if (!id.empty()) {
                h += fmt::format(" ID {}", id);
            }
            return h;
        };
        const auto took = [&] {
            return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start)
                .count();
        };
        try {
            std::string answer = run();
            core::log::debug("{}: ok in {} ms{}{}", head(), took(), answer.empty() ? "" : ": ", answer);
            return answer;
        } catch (const std::exception& e) {
            core::log::debug("{}: failed in {} ms: {}", head(), took(), e.what());
            throw;
        }
    }

    std::unique_ptr<Driver> inner_;
};

} // namespace

std::unique_ptr<Driver> log_calls(std::unique_ptr<Driver> driver) {
    return std::make_unique<LoggedDriver>(std::move(driver));
}

} // namespace dvdi::volumes
