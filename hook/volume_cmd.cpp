// `dvdi-hook volume create|ls|inspect|rm`: the operator's volume commands, with the behaviour and
// the output of `docker volume` (lib/volumes/catalog does the work).
#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "hook/commands.hpp"
#include "lib/volumes/volumes.hpp"

namespace dvdi::hook {

namespace {

// A plugin's bytes that are not UTF-8 are shown as U+FFFD rather than failing the whole answer.
constexpr auto kReplace = nlohmann::json::error_handler_t::replace;

struct VolumeCmdArgs {
    std::string driver;
    std::vector<std::string> names;
    std::vector<std::string> opts;
    std::vector<std::string> labels;
    bool quiet = false;
    bool force = false;
    std::string format;
};

struct CatalogContext {
    explicit CatalogContext(const core::Config& config)
        : store(volumes::open_state_store(config.state_dir)), drivers(volumes::open_driver_set(config)),
          catalog(config, *drivers, *store) {}
    std::unique_ptr<volumes::StateStore> store;
    std::unique_ptr<volumes::DriverSet> drivers;
    volumes::Catalog catalog;
};

// A label: KEY=VALUE, or KEY alone for the value "" (as Docker's --label).
std::pair<std::string, std::string> label(const std::string& item) {
    const auto eq = item.find('=');
    if (eq == 0) {
        throw core::InputError("--label", item, "a label is KEY or KEY=VALUE");
    }
    if (eq == std::string::npos) {
        return {item, ""};
    }
    return {item.substr(0, eq), item.substr(eq + 1)};
}

void create_cmd(Globals& g, const VolumeCmdArgs& a) {
    volumes::CreateRequest r{.driver = a.driver, .name = a.names.front()};
    for (const auto& o : a.opts) {
        r.options.push_back(volumes::parse_option_item(o, false, "--opt")); // as `mount -o`
    }
    for (const auto& l : a.labels) {
        auto [key, value] = label(l);
        r.labels[key] = value; // the last one wins, as in Docker
    }
    CatalogContext c(g.config());
    (void)c.catalog.create(std::move(r));
    fmt::print("{}\n", a.names.front());
}

// As Docker's table (tabwriter, minimum width 10, padding 3), with this node's use last.
void print_table(const std::vector<volumes::CatalogEntry>& entries) {
    std::size_t driver_width = std::string_view("DRIVER").size();
    std::size_t name_width = std::string_view("VOLUME NAME").size();
    for (const auto& e : entries) {
        driver_width = std::max(driver_width, e.driver.size());
        name_width = std::max(name_width, core::printable(e.info.name).size());
    }
    driver_width = std::max<std::size_t>(10, driver_width + 3);
    name_width = std::max<std::size_t>(10, name_width + 3);
    fmt::print("{:<{}}{:<{}}{}\n", "DRIVER", driver_width, "VOLUME NAME", name_width, "ON THIS NODE");
    for (const auto& e : entries) {
        fmt::print("{:<{}}{:<{}}{}\n", e.driver, driver_width, core::printable(e.info.name), name_width,
                   volumes::node_use(e));
    }
}

void ls_cmd(Globals& g, const VolumeCmdArgs& a) {
    if (!a.format.empty() && a.format != "json" && a.format != "table") {
        throw core::InputError("--format", a.format, "table or json");
    }
    CatalogContext c(g.config());
    const auto listing = c.catalog.list(a.driver);
    for (const auto& f : listing.failures) {
        core::log::warn("{}", f);
    }
    if (a.quiet) {
        for (const auto& e : listing.volumes) {
            fmt::print("{}\n", core::printable(e.info.name));
        }
    } else if (a.format == "json") {
        for (const auto& e : listing.volumes) {
            fmt::print("{}\n", volumes::list_json(e).dump(-1, ' ', false, kReplace));
        }
    } else {
        print_table(listing.volumes);
    }
    // A driver named with -d that does not answer is a failure; among all of them, the others
    // are still a listing (as `docker volume ls` with a plugin down), said on stderr.
    if (!a.driver.empty() && !listing.failures.empty()) {
        throw core::Error(fmt::format("driver {}: not listed", a.driver));
    }
}

// Each name on its own, as Docker: what succeeds is printed, each failure is one line on stderr,
// and the exit status is the worst.
template <typename Fn> void each_name(const VolumeCmdArgs& a, std::string_view verb, Fn&& fn) {
    for (const auto& name : a.names) {
        volumes::check_volume_name(name, "NAME"); // bad input: exit 2 before anything is done
    }
    std::size_t failed = 0;
    std::string last;
    for (const auto& name : a.names) {
        try {
            fn(name);
        } catch (const core::InputError&) {
            throw;
        } catch (const std::exception& e) {
            if (a.names.size() == 1) {
                throw;
            }
            core::log::error("{}", e.what());
            ++failed;
        }
    }
    if (failed != 0) {
        throw core::Error(fmt::format("volume {}: {} of {} failed (see above)", verb, failed, a.names.size()));
    }
}

void inspect_cmd(Globals& g, const VolumeCmdArgs& a) {
    CatalogContext c(g.config());
    nlohmann::json out = nlohmann::json::array();
    try {
        each_name(a, "inspect", [&](const std::string& name) {
            out.push_back(volumes::inspect_json(c.catalog.inspect(name, a.driver)));
        });
    } catch (...) {
        if (!out.empty()) { // what was found, even when one failed
            fmt::print("{}\n", out.dump(4, ' ', false, kReplace));
        }
        throw;
    }
    fmt::print("{}\n", out.dump(4, ' ', false, kReplace));
}

void rm_cmd(Globals& g, const VolumeCmdArgs& a) {
    CatalogContext c(g.config());
    each_name(a, "rm", [&](const std::string& name) {
        if (c.catalog.remove(name, a.driver, a.force)) {
            fmt::print("{}\n", name);
        }
    });
}

} // namespace

void register_volume(CLI::App& app, Globals& g) {
    static VolumeCmdArgs create_args;
    static VolumeCmdArgs ls_args;
    static VolumeCmdArgs inspect_args;
    static VolumeCmdArgs rm_args;
    auto* volume = app.add_subcommand("volume", "Manage volumes as `docker volume` does: create, ls, inspect, rm");
    volume->require_subcommand(1);

    auto* create = volume->add_subcommand(
        "create", "Create a volume (the driver's Create); again with the same options and labels is not an error");
    create->add_option("name", create_args.names, "Volume name")->required()->expected(1);
    create->add_option("-d,--driver", create_args.driver, "Volume driver (default: the config's default_driver)");
    create->add_option("-o,--opt", create_args.opts,
                       "Driver option KEY=VALUE (repeatable; for local: type, device, o)");
    create->add_option("--label", create_args.labels, "Label KEY=VALUE, kept on this node (repeatable)");
    create->callback([&g] { create_cmd(g, create_args); });

    auto* ls = volume->add_subcommand(
        "ls", "List the volumes of every driver (local and each plugin found), with this node's use of each");
    ls->add_option("-d,--driver", ls_args.driver, "Only this driver's volumes");
    ls->add_flag("-q,--quiet", ls_args.quiet, "Only the volume names");
    ls->add_option("--format", ls_args.format, "table (default) or json (one JSON object a line)");
    ls->callback([&g] { ls_cmd(g, ls_args); });

    auto* inspect = volume->add_subcommand(
        "inspect", "Show volumes as JSON as `docker volume inspect` does, with this node's record as \"Node\"");
    inspect->add_option("name", inspect_args.names, "Volume names")->required();
    inspect->add_option("-d,--driver", inspect_args.driver,
                        "The volumes' driver (default: wherever a volume of that name is)");
    inspect->callback([&g] { inspect_cmd(g, inspect_args); });

    auto* rm = volume->add_subcommand("rm", "Remove volumes (the driver's Remove); refused while in use on this node");
    rm->add_option("name", rm_args.names, "Volume names")->required();
    rm->add_option("-d,--driver", rm_args.driver, "The volumes' driver (default: wherever a volume of that name is)");
    rm->add_flag("-f,--force", rm_args.force, "A volume that does not exist is not an error");
    rm->callback([&g] { rm_cmd(g, rm_args); });
}

} // namespace dvdi::hook
