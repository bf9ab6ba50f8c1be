// The driver interface the rest of the hook uses (SPEC S2): a Docker volume plugin spoken to
// over its socket, or the built-in `local` driver.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/core/config.hpp"
#include "lib/core/error.hpp"
#include "lib/volumes/requests/request.hpp"

namespace dvdi::volumes {

/// A driver call failed. what() reads `plugin NAME: VolumeDriver.CALL "VOLUME": "<plugin's Err>"`
/// (or `driver local: ...` for the built-in driver). A plugin's own text is always quoted
/// (core::quote): what() holds no control character, whatever the plugin sent.
class DriverError : public core::Error {
  public:
    using core::Error::Error;
};

/// The driver gave no usable answer: it could not be reached (no socket, refused, reset) within
/// the retry budget, the deadline passed, or its answer could not be read (too large, broken
/// framing, a 200 without a JSON body). The call may or may not have taken effect. Any other
/// DriverError is the driver's own answer.
class DriverUnreachable : public DriverError {
  public:
    using DriverError::DriverError;
    explicit DriverUnreachable(const DriverError& e) : DriverError(e.what()) {}
};

/// No plugin of that name is on this node: no socket or spec file appeared within
/// timeouts.plugin_wait. what() is missing_plugin()'s text: where it was looked for and the
/// plugins that were found.
class PluginNotFound : public DriverUnreachable {
  public:
    using DriverUnreachable::DriverUnreachable;
};

/// A volume as its driver describes it (Get, List).
struct VolumeInfo {
    std::string name;
    std::string mountpoint;           ///< empty when the driver reports none
    std::string created_at;           ///< the driver's CreatedAt (RFC 3339), empty when it gives none
    nlohmann::json status = nullptr;  ///< the driver's Status object, null when it gives none
    std::optional<Options> options{}; ///< the options it was created with, when the driver keeps them (local)
};

struct Capabilities {
    std::string scope = "local"; ///< "local" or "global"
};

class Driver {
  public:
    virtual ~Driver() = default;

    [[nodiscard]] virtual const std::string& name() const = 0;

    /// Makes sure the volume exists: Get, and when the driver reports no such volume, Create
    /// with `options` unless `explicit_create` (then it is a DriverError). Throws DriverError.
    virtual void ensure_exists(const std::string& volume, const Options& options, bool explicit_create) = 0;

    /// Mounts the volume on the node for user `id`; returns the host mountpoint as the driver
    /// reported it (a plugin's may be empty, relative or anywhere: the node checks it).
    virtual std::string mount(const std::string& volume, const std::string& id) = 0;

    /// Undoes mount(volume, id) with the same id.
    virtual void unmount(const std::string& volume, const std::string& id) = 0;

    /// The driver's Create, whether or not the volume exists (a plugin decides what a second
    /// Create means; `local` keeps an existing volume's options). Throws DriverError.
    virtual void create(const std::string& volume, const Options& options) = 0;

    /// The volume as the driver describes it (Get); nullopt when the driver has no volume of
    /// that name. Throws DriverUnreachable when the driver cannot say.
    virtual std::optional<VolumeInfo> get(const std::string& volume) = 0;

    virtual std::string path(const std::string& volume) = 0;
    virtual std::vector<VolumeInfo> list() = 0;
    virtual Capabilities capabilities() = 0;
    virtual void remove(const std::string& volume) = 0;
};

class Timer;

/// Finds the driver called `name`: `local` is always the built-in; anything else is a Docker
/// plugin found by discovery (SPEC S2.1) in the configured directories, looked for again as
/// dockerd does (Backoff) until timeouts.plugin_wait is spent. `timer` (null: real time) is the
/// clock of that wait and of the plugin's own retries. Throws core::InputError for a name that
/// is not a valid driver name (is_valid_driver_name) or not in allowed_drivers, and
/// PluginNotFound when no plugin of that name is found within timeouts.plugin_wait.
std::unique_ptr<Driver> open_driver(const std::string& name, const core::Config& config,
                                    std::shared_ptr<Timer> timer = nullptr);

} // namespace dvdi::volumes
