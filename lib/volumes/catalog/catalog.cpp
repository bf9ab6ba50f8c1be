#include "lib/volumes/catalog/catalog.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lib/core/log.hpp"
#include "lib/volumes/catalog/records.hpp"
#include "lib/volumes/drivers/discovery.hpp"
#include "lib/volumes/node/state_scope.hpp"
#include "lib/volumes/requests/policy.hpp"
#include "lib/volumes/requests/validate.hpp"

namespace dvdi::volumes {

namespace {

constexpr std::size_t kMaxLabels = 64;

Options sorted(Options options) {
    std::sort(options.begin(), options.end());
    return options;
}

std::string shown(const Options& options) {
    std::vector<std::string> items;
    for (const auto& [k, v] : options) {
        items.push_back(k + "=" + v);
    }
    return items.empty() ? "no options" : core::quote(fmt::format("{}", fmt::join(items, ",")), 200);
}

std::string shown(const Labels& labels) {
    std::vector<std::string> items;
    for (const auto& [k, v] : labels) {
        items.push_back(k + "=" + v);
    }
    return items.empty() ? "no labels" : core::quote(fmt::format("{}", fmt::join(items, ",")), 200);
}

bool is_allowed(const core::Config& config, const std::string& driver) {
    const auto& allowed = config.allowed_drivers;
    return allowed.empty() || std::find(allowed.begin(), allowed.end(), driver) != allowed.end();
}

void check_driver(const core::Config& config, const std::string& driver) {
    check_driver_name(driver, "--driver");
    Request r;
    r.driver = driver;
    r.origin = "--driver";
    check_allowed_drivers({r}, config.allowed_drivers);
}

const VolumeRecord* recorded(const State& node, const VolumeKey& key) {
    const auto it =
        std::find_if(node.volumes.begin(), node.volumes.end(), [&](const VolumeRecord& v) { return v.key == key; });
    return it == node.volumes.end() ? nullptr : &*it;
}

} // namespace

std::string catalog_path(const core::Config& config) {
    return config.data_dir + "/catalog.json";
}

Catalog::Catalog(const core::Config& config, DriverSet& drivers, StateStore& store)
    : config_(config), drivers_(drivers), store_(store) {}

bool Catalog::create(CreateRequest request) {
    Request r;
    r.driver = request.driver.empty() ? config_.default_driver : request.driver;
    r.name = std::move(request.name);
    r.options = std::move(request.options);
    r.origin = "--driver";
    r.options_field = "--opt";
    check_volume_name(r.name, "NAME");
    check_driver_name(r.driver, "--driver");
    for (const auto& [key, value] : r.options) {
        check_option(key, value, false, "--opt");
    }
    check_unique_option_keys(r.options, "--opt");
    if (request.labels.size() > kMaxLabels) {
        throw core::InputError("--label", request.labels.begin()->first,
                               fmt::format("at most {} labels per volume", kMaxLabels));
    }
    for (const auto& [key, value] : request.labels) {
        check_option(key, value, false, "--label");
    }
    apply_operator_policy(r, config_); // allowed_drivers; a plain local name takes its local_volumes entry
    const CreatedVolume wanted{.options = sorted(r.options), .labels = std::move(request.labels)};

    auto& driver = drivers_.get(r.driver);
    const CatalogRecords records(config_.data_dir);
    const auto existing = driver.get(r.name);
    if (existing) {
        const auto known = records.read();
        const auto it = known.find(r.key());
        // What the volume was created with: the driver's word when it keeps it (local), else
        // this node's record of `volume create`.
        std::optional<Options> options = existing->options ? std::optional(sorted(*existing->options)) : std::nullopt;
        if (!options && it != known.end()) {
            options = it->second.options;
        }
        const Labels labels = it != known.end() ? it->second.labels : Labels{};
        if (!options) {
            if (wanted.options.empty() && wanted.labels.empty()) {
                return false;
            }
            throw core::Error(
                fmt::format("volume {} already exists and was not made by `dvdi-hook volume create` on this "
                            "node, so its options are not known here: create it without -o and "
                            "--label, or remove it first",
                            r.key()));
        }
        if (*options != wanted.options || labels != wanted.labels) {
            throw core::Error(fmt::format("volume {} already exists with {} and {}; asked for {} and {}: remove it "
                                          "first to create it again",
                                          r.key(), shown(*options), shown(labels), shown(wanted.options),
                                          shown(wanted.labels)));
        }
        return false;
    }
    driver.create(r.name, r.options);
    records.update([&](CreatedVolumes& all) { all[r.key()] = wanted; });
    core::log::debug("volume {}: created with {} and {}", r.key(), shown(wanted.options), shown(wanted.labels));
    return true;
}

std::vector<std::string> Catalog::drivers_to_list(const State& node) const {
    std::set<std::string> names{"local"};
    for (auto& p : list_plugins(config_)) {
        names.insert(std::move(p));
    }
    // A driver this node uses or made volumes at is expected, even when its plugin is gone:
    // asking it says so.
    for (const auto& v : node.volumes) {
        names.insert(v.key.driver);
    }
    for (const auto& [key, c] : CatalogRecords(config_.data_dir).read()) {
        names.insert(key.driver);
    }
    std::vector<std::string> out;
    if (is_allowed(config_, "local")) {
        out.emplace_back("local");
    }
    for (const auto& n : names) {
        if (n != "local" && is_allowed(config_, n)) {
            out.push_back(n);
        }
    }
    return out;
}

void Catalog::fill(CatalogEntry& entry, const State& node) {
    const VolumeKey key{entry.driver, entry.info.name};
    if (const auto* v = recorded(node, key)) {
        entry.node = *v;
    }
}

Listing Catalog::list(const std::string& driver) {
    const State node = store_.read();
    std::vector<std::string> drivers;
    if (!driver.empty()) {
        check_driver(config_, driver);
        drivers.push_back(driver);
    } else {
        drivers = drivers_to_list(node);
    }
    const auto created = CatalogRecords(config_.data_dir).read();
    Listing out;
    for (const auto& d : drivers) {
        std::vector<CatalogEntry> entries;
        try {
            auto& drv = drivers_.get(d);
            for (auto& info : drv.list()) {
                entries.push_back(CatalogEntry{.driver = d, .info = std::move(info)});
            }
            const std::string scope = drv.capabilities().scope;
            for (auto& e : entries) {
                e.scope = scope;
            }
        } catch (const core::InputError&) {
            throw;
        } catch (const std::exception& e) {
            out.failures.push_back(fmt::format("driver {} did not answer: {}", d, e.what()));
            // What this node records of it is still worth showing.
            entries.clear();
            for (const auto& v : node.volumes) {
                if (v.key.driver == d) {
                    entries.push_back(CatalogEntry{.driver = d, .info = VolumeInfo{.name = v.key.name}});
                }
            }
        }
        std::sort(entries.begin(), entries.end(),
                  [](const CatalogEntry& a, const CatalogEntry& b) { return a.info.name < b.info.name; });
        for (auto& e : entries) {
            fill(e, node);
            if (const auto it = created.find({e.driver, e.info.name}); it != created.end()) {
                e.created = it->second;
            }
            out.volumes.push_back(std::move(e));
        }
    }
    return out;
}

std::vector<CatalogEntry> Catalog::find(const std::string& name, const std::string& driver,
                                        std::vector<std::string>& failures) {
    std::vector<std::string> candidates;
    if (!driver.empty()) {
        check_driver(config_, driver);
        candidates.push_back(driver);
    } else {
        // Every driver: names are unique per driver only, and a name found at one driver may be
        // at another too.
        candidates = drivers_to_list(store_.read());
    }
    std::vector<CatalogEntry> found;
    for (const auto& d : candidates) {
        try {
            if (auto info = drivers_.get(d).get(name)) {
                found.push_back(CatalogEntry{.driver = d, .info = std::move(*info)});
            }
        } catch (const core::InputError&) {
            throw;
        } catch (const std::exception& e) {
            if (!driver.empty()) {
                throw;
            }
            failures.push_back(fmt::format("driver {} did not answer: {}", d, e.what()));
        }
    }
    return found;
}

std::optional<CatalogEntry> Catalog::resolve(const std::string& name, const std::string& driver, bool missing_ok,
                                             bool every_driver) {
    check_volume_name(name, "NAME");
    std::vector<std::string> failures;
    auto found = find(name, driver, failures);
    for (const auto& f : failures) {
        core::log::warn("{}", f);
    }
    if (every_driver && !failures.empty()) {
        throw core::Error(fmt::format("volume {}: not every driver answered (see above), so it may be at one of them "
                                      "too: name its driver with -d",
                                      core::quote(name)));
    }
    if (found.empty()) {
        if (missing_ok && failures.empty()) {
            return std::nullopt;
        }
        throw core::Error(fmt::format("no such volume: {}{}", core::quote(name),
                                      failures.empty() ? "" : " (some drivers did not answer: see above)"));
    }
    if (found.size() > 1) {
        std::vector<std::string> drivers;
        for (const auto& e : found) {
            drivers.push_back(e.driver);
        }
        throw core::InputError(
            "NAME", name,
            fmt::format("drivers {} each have a volume of that name: name one with -d", fmt::join(drivers, ", ")));
    }
    return std::move(found.front());
}

CatalogEntry Catalog::inspect(const std::string& name, const std::string& driver) {
    CatalogEntry entry = std::move(*resolve(name, driver, false, false));
    entry.scope = drivers_.get(entry.driver).capabilities().scope;
    fill(entry, store_.read(Scope{.volumes = {{entry.driver, entry.info.name}}}));
    const auto created = CatalogRecords(config_.data_dir).read();
    if (const auto it = created.find({entry.driver, entry.info.name}); it != created.end()) {
        entry.created = it->second;
    }
    return entry;
}

bool Catalog::remove(const std::string& name, const std::string& driver, bool force) {
    const auto found = resolve(name, driver, force, true);
    if (!found) {
        return false;
    }
    const VolumeKey key{found->driver, name};
    {
        // Under the volume's lock no hook mounts it between the check and the Remove.
        const auto lock = store_.lock_volume(key);
        const State node = store_.read(Scope{.volumes = {key}});
        if (const auto* v = recorded(node, key)) {
            throw core::Error(fmt::format("volume {} is in use on this node (status {}, users: {}): not removed; stop "
                                          "its containers, or `dvdi-hook unmount` what was mounted by hand, first",
                                          key, to_string(v->status),
                                          v->users.empty() ? "none" : fmt::format("{}", fmt::join(v->users, ", "))));
        }
        drivers_.get(key.driver).remove(name);
    }
    const CatalogRecords records(config_.data_dir);
    if (records.read().contains(key)) {
        records.update([&](CreatedVolumes& all) { all.erase(key); });
    }
    core::log::debug("volume {}: removed", key);
    return true;
}

nlohmann::json inspect_json(const CatalogEntry& e) {
    nlohmann::json j{{"Driver", e.driver},
                     {"Mountpoint", e.info.mountpoint},
                     {"Name", e.info.name},
                     {"Scope", e.scope.empty() ? "local" : e.scope}};
    if (!e.info.created_at.empty()) {
        j["CreatedAt"] = e.info.created_at;
    }
    if (!e.info.status.is_null()) {
        j["Status"] = e.info.status;
    }
    j["Labels"] = e.created && !e.created->labels.empty() ? nlohmann::json(e.created->labels) : nlohmann::json(nullptr);
    const Options* options = e.info.options ? &*e.info.options : e.created ? &e.created->options : nullptr;
    j["Options"] = nullptr;
    if (options != nullptr && !options->empty()) {
        j["Options"] = nlohmann::json::object();
        for (const auto& [k, v] : *options) {
            j["Options"][k] = v;
        }
    }
    j["Node"] = e.node ? nlohmann::json(*e.node) : nlohmann::json(nullptr);
    return j;
}

nlohmann::json list_json(const CatalogEntry& e) {
    std::vector<std::string> labels;
    if (e.created) {
        for (const auto& [k, v] : e.created->labels) {
            labels.push_back(k + "=" + v);
        }
    }
    return {{"Driver", e.driver},
            {"Labels", fmt::format("{}", fmt::join(labels, ","))},
            {"Mountpoint", e.info.mountpoint},
            {"Name", e.info.name},
            {"Scope", e.scope.empty() ? "local" : e.scope},
            {"Node", e.node ? nlohmann::json(*e.node) : nlohmann::json(nullptr)}};
}

std::string node_use(const CatalogEntry& e) {
    if (!e.node) {
        return "-";
    }
    std::string status = to_string(e.node->status);
    std::replace(status.begin(), status.end(), '_', ' ');
    if (e.node->status == VolumeStatus::mounted) {
        return fmt::format("{}, {} user{}", status, e.node->users.size(), e.node->users.size() == 1 ? "" : "s");
    }
    return status;
}

} // namespace dvdi::volumes
