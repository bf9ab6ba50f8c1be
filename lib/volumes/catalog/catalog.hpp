// The catalog, the public header of lib/volumes/catalog: the volumes the operator manages by
// hand, as `docker volume create|ls|inspect|rm` does, over every driver of the node.
//  - what `volume create` was given (options and labels) is kept on this node, as dockerd keeps
//    it in its metadata.db: a second create compares against it, and inspect shows it;
//  - what a volume is, the driver says (Get, List, Capabilities);
//  - whether this node uses it, the node state says (a volume recorded there is not removed).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/core/config.hpp"
#include "lib/volumes/drivers/driver_set.hpp"
#include "lib/volumes/node/state.hpp"
#include "lib/volumes/node/state_store.hpp"
#include "lib/volumes/requests/request.hpp"

namespace dvdi::volumes {

using Labels = std::map<std::string, std::string>;

/// What `volume create` was given for one volume, as recorded on this node.
struct CreatedVolume {
    Options options; ///< sorted by key
    Labels labels;
};

/// One volume as the catalog shows it.
struct CatalogEntry {
    std::string driver;
    VolumeInfo info;                      ///< from the driver; only the name when it did not answer
    std::string scope;                    ///< "local" or "global" (Capabilities); empty when unknown
    std::optional<CreatedVolume> created; ///< this node's record of `volume create`
    std::optional<VolumeRecord> node;     ///< this node's use of it (the node state)
};

/// A listing over several drivers: what answered, and one line per driver that did not.
struct Listing {
    std::vector<CatalogEntry> volumes;
    std::vector<std::string> failures;
};

/// What `volume create` asks for. Labels never reach the driver (as in Docker).
struct CreateRequest {
    std::string driver; ///< empty: the config's default_driver, as the hooks use
    std::string name;
    Options options;
    Labels labels;
};

class Catalog {
  public:
    /// `config`, `drivers` and `store` must outlive the catalog.
    Catalog(const core::Config& config, DriverSet& drivers, StateStore& store);

    /// The driver's Create, after the operator policy (allowed_drivers; a `local` volume
    /// without options takes its local_volumes definition), and records the options and labels.
    /// An existing volume is not an error when it was created with the same options and labels
    /// (returns false, nothing is called); with others it is core::Error naming both. Throws
    /// core::InputError for a bad name, driver, option or label (naming the flag), DriverError.
    bool create(CreateRequest request);

    /// Every volume of `driver` (empty: `local`, every plugin found and the drivers this node
    /// records volumes of or created volumes at, less those outside allowed_drivers), sorted by
    /// driver and name.
    /// A driver that does not answer is a line in `failures` and does not hide the others; the
    /// volumes this node records for it are still listed. Throws core::InputError for a bad or
    /// disallowed `driver`.
    Listing list(const std::string& driver);

    /// The volume called `name`: at `driver`, or, when empty, wherever it is (every driver
    /// asked with Get; those that do not answer are warnings). Throws core::Error when no driver
    /// has it (naming the drivers that did not answer), core::InputError when several do (name
    /// one with -d), DriverError.
    CatalogEntry inspect(const std::string& name, const std::string& driver);

    /// The driver's Remove, and the record of `volume create` with it. Refused (core::Error
    /// naming its users) while this node records the volume as in use, checked under the
    /// volume's lock so that no hook mounts it meanwhile. A volume that does not exist is an
    /// error unless `force` (then returns false). Without `driver`, every driver must answer.
    bool remove(const std::string& name, const std::string& driver, bool force);

  private:
    [[nodiscard]] std::vector<std::string> drivers_to_list(const State& node) const;
    [[nodiscard]] std::vector<CatalogEntry> find(const std::string& name, const std::string& driver,
                                                 std::vector<std::string>& failures);
    /// The one volume called `name` (see inspect); nullopt when none and `missing_ok` and every
    /// driver answered. Drivers that did not answer are logged as warnings; with
    /// `every_driver` (rm: which volume it is must be sure) they are an error.
    [[nodiscard]] std::optional<CatalogEntry> resolve(const std::string& name, const std::string& driver,
                                                      bool missing_ok, bool every_driver);
    void fill(CatalogEntry& entry, const State& node);

    const core::Config& config_;
    DriverSet& drivers_;
    StateStore& store_;
};

/// `docker volume inspect`'s form: CreatedAt (when known), Driver, Labels, Mountpoint, Name,
/// Options, Scope, Status (when the driver gives one), and "Node": this node's record or null.
[[nodiscard]] nlohmann::json inspect_json(const CatalogEntry& entry);

/// `docker volume ls --format json`'s form of one line: Driver, Labels ("k=v,k=v"), Mountpoint,
/// Name, Scope, and "Node" as in inspect_json.
[[nodiscard]] nlohmann::json list_json(const CatalogEntry& entry);

/// This node's use in a word or two: "-" (not recorded), "mounted, 2 users", "unmount failed".
[[nodiscard]] std::string node_use(const CatalogEntry& entry);

/// The file that records `volume create` on this node: `<data_dir>/catalog.json`.
[[nodiscard]] std::string catalog_path(const core::Config& config);

} // namespace dvdi::volumes
