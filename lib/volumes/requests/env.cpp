#include "lib/volumes/requests/env.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include <fmt/format.h>

#include "lib/core/error.hpp"
#include "lib/volumes/requests/validate.hpp"

namespace dvdi::volumes {

namespace {

using core::InputError;

constexpr std::string_view kPrefix = "DVDI_VOLUME_";

enum Field : std::size_t { kName, kDriver, kOpts, kContainerPath, kMode, kExplicitCreate, kDvdcli, kFieldCount };

constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "NAME", "DRIVER", "OPTS", "CONTAINERPATH", "MODE", "EXPLICITCREATE", "DVDCLI",
};

constexpr std::string_view kUnknownRule = "not a known variable: DVDI_VOLUME_ variables are NAME, DRIVER, OPTS, "
                                          "CONTAINERPATH, MODE or EXPLICITCREATE, with an optional slot digit 0-9";

struct Var {
    std::string name;  ///< the whole variable name, e.g. DVDI_VOLUME_OPTS3
    std::string value; ///< trimmed
};

using Slot = std::array<std::optional<Var>, kFieldCount>;
using Slots = std::array<Slot, 10>;

std::string_view trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

// Splits `DVDI_VOLUME_<FIELD>[digit]` into field and slot; nullopt for anything else.
std::optional<std::pair<Field, std::size_t>> classify(std::string_view var) {
    const std::string_view rest = var.substr(kPrefix.size());
    for (std::size_t f = 0; f < kFieldCount; ++f) {
        if (!rest.starts_with(kFieldNames[f])) {
            continue;
        }
        const std::string_view suffix = rest.substr(kFieldNames[f].size());
        if (suffix.empty()) {
            return std::pair{static_cast<Field>(f), std::size_t{0}};
        }
        if (suffix.size() == 1 && suffix[0] >= '0' && suffix[0] <= '9') {
            return std::pair{static_cast<Field>(f), static_cast<std::size_t>(suffix[0] - '0')};
        }
    }
    return std::nullopt;
}

// A variable name as a message's field: printable ASCII as it is, anything else quoted.
std::string field_name(std::string_view var) {
    const bool plain = std::all_of(var.begin(), var.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
    return plain ? std::string(var) : core::quote(var);
}

void place(Slots& slots, std::string_view var, std::string_view value, std::vector<std::string>& warnings) {
    const auto where = classify(var);
    if (!where) {
        throw input_error(field_name(var), value, std::string(kUnknownRule));
    }
    const auto [field, slot] = *where;
    if (field == kDvdcli) {
        warnings.push_back(fmt::format("{} ignored: a task cannot choose what runs as root", var));
        return;
    }
    auto& cell = slots[slot][field];
    if (cell) {
        const std::string rule =
            cell->name == var ? "set twice"
                              : fmt::format("{} is also set (the bare name and 0 are the same slot)", cell->name);
        throw input_error(std::string(var), value, rule);
    }
    cell = Var{std::string(var), std::string(trim(value))};
}

Options parse_opts(const Var& var) {
    Options out = parse_option_list(var.value, var.name);
    check_unique_option_keys(out, var.name);
    return out;
}

Mode parse_mode(const Var& var) {
    const std::string m = lower(var.value);
    if (m.empty() || m == "rw") {
        return Mode::rw;
    }
    if (m == "ro") {
        return Mode::ro;
    }
    throw input_error(var.name, var.value, "a mode must be RW or RO");
}

bool parse_explicit_create(const Var& var) {
    const std::string v = lower(var.value);
    if (v.empty() || v == "false") {
        return false;
    }
    if (v == "true") {
        return true;
    }
    throw input_error(var.name, var.value, "must be true or false");
}

// The NAME variable a slot's other variables are missing, in the same spelling (bare or digit).
std::string name_variable(const Var& other, Field field) {
    const std::string_view suffix = std::string_view(other.name).substr(kPrefix.size() + kFieldNames[field].size());
    return fmt::format("{}NAME{}", kPrefix, suffix);
}

Request build(const Slot& slot, std::string_view default_driver) {
    const Var& name = *slot[kName];
    Request r;
    r.origin = name.name;
    check_volume_name(name.value, name.name);
    r.name = name.value;
    if (slot[kDriver]) {
        check_driver_name(slot[kDriver]->value, slot[kDriver]->name);
        r.driver = slot[kDriver]->value;
    } else {
        check_driver_name(default_driver, "default_driver");
        r.driver = default_driver;
        r.driver_defaulted = true;
    }
    if (slot[kOpts]) {
        r.options = parse_opts(*slot[kOpts]);
        r.options_field = slot[kOpts]->name;
    }
    if (slot[kContainerPath] && !slot[kContainerPath]->value.empty()) {
        r.path_field = slot[kContainerPath]->name;
        r.container_path =
            normalize_container_path(slot[kContainerPath]->value, PathRule::absolute, slot[kContainerPath]->name);
    }
    if (slot[kMode]) {
        r.mode = parse_mode(*slot[kMode]);
    }
    if (slot[kExplicitCreate]) {
        r.explicit_create = parse_explicit_create(*slot[kExplicitCreate]);
    }
    return r;
}

template <typename Each> EnvRequests parse(std::string_view default_driver, Each&& each) {
    EnvRequests out;
    Slots slots;
    bool any = false;
    each([&](std::string_view var, std::string_view value) {
        any = true;
        place(slots, var, value, out.warnings);
    });
    if (!any) {
        return out;
    }
    for (const Slot& slot : slots) {
        if (!slot[kName]) {
            for (std::size_t f = 0; f < kFieldCount; ++f) {
                if (slot[f]) {
                    throw input_error(slot[f]->name, slot[f]->value,
                                      fmt::format("{} is not set", name_variable(*slot[f], static_cast<Field>(f))));
                }
            }
            continue;
        }
        out.requests.push_back(build(slot, default_driver));
    }
    check_unique(out.requests);
    return out;
}

} // namespace

EnvRequests parse_env_requests(const std::vector<std::string>& env, std::string_view default_driver) {
    return parse(default_driver, [&](auto&& emit) {
        for (const std::string& entry : env) {
            if (!std::string_view(entry).starts_with(kPrefix)) {
                continue;
            }
            const std::size_t eq = entry.find('=');
            if (eq == std::string::npos) {
                throw input_error(field_name(entry), "", "an environment entry must be NAME=VALUE");
            }
            emit(std::string_view(entry).substr(0, eq), std::string_view(entry).substr(eq + 1));
        }
    });
}

EnvRequests parse_env_requests(const std::vector<std::pair<std::string, std::string>>& variables,
                               std::string_view default_driver) {
    return parse(default_driver, [&](auto&& emit) {
        for (const auto& [name, value] : variables) {
            if (std::string_view(name).starts_with(kPrefix)) {
                emit(name, value);
            }
        }
    });
}

} // namespace dvdi::volumes
