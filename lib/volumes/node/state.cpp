#include "lib/volumes/node/state.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/core.hpp"

namespace dvdi::volumes {

using nlohmann::json;

NLOHMANN_JSON_SERIALIZE_ENUM(VolumeStatus, {{VolumeStatus::mounting, "mounting"},
                                            {VolumeStatus::mounted, "mounted"},
                                            {VolumeStatus::unmounting, "unmounting"},
                                            {VolumeStatus::unmount_failed, "unmount_failed"}})
NLOHMANN_JSON_SERIALIZE_ENUM(ContainerStatus,
                             {{ContainerStatus::acquiring, "acquiring"}, {ContainerStatus::active, "active"}})

namespace {
// ns::ProcessId is lib/ns's type; its JSON form lives with the records that hold it.
json process_json(const ProcessId& p) {
    return json{{"pid", p.pid}, {"start_time", p.start_time}};
}
void read_process(const json& j, ProcessId& p) {
    j.at("pid").get_to(p.pid);
    j.at("start_time").get_to(p.start_time);
}
void read_key(const json& j, VolumeKey& k) {
    j.at("driver").get_to(k.driver);
    j.at("name").get_to(k.name);
}
} // namespace

void VolumeRecord::note_error(std::string_view what) {
    std::string text = core::printable(what);
    if (text.size() > kMaxLastError) {
        std::size_t end = kMaxLastError - 3;
        // printable() leaves only well-formed UTF-8: back up to the start of a character.
        while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
            --end;
        }
        text = text.substr(0, end) + "...";
    }
    last_error = std::move(text);
}

std::string short_id(std::string_view id) {
    constexpr std::size_t kShort = 12;
    const auto hex = [](std::string_view s) {
        return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
    };
    const auto colon = id.rfind(':');
    const std::string_view random = colon == std::string_view::npos ? id : id.substr(colon + 1);
    // A mount ID's random part is 32 hex digits after a node name, 64 without one.
    const std::size_t least = colon == std::string_view::npos ? kShort + 1 : 32;
    if (random.size() >= least && hex(random)) {
        return std::string(random.substr(0, kShort));
    }
    return std::string(id);
}

void to_json(json& j, const VolumeRecord& v) {
    j = json{{"driver", v.key.driver},    {"name", v.key.name},
             {"mount_id", v.mount_id},    {"mountpoint", v.mountpoint},
             {"options", v.options},      {"status", v.status},
             {"users", v.users},          {"intent_by", process_json(v.intent_by)},
             {"last_error", v.last_error}};
    if (v.intent_at != 0) {
        j["intent_at"] = v.intent_at;
    }
}
void from_json(const json& j, VolumeRecord& v) {
    read_key(j, v.key);
    j.at("mount_id").get_to(v.mount_id);
    j.at("mountpoint").get_to(v.mountpoint);
    j.at("options").get_to(v.options);
    j.at("status").get_to(v.status);
    if (!j.at("status").is_string() || j.at("status") != json(v.status)) {
        throw core::Error("unknown volume status " + j.at("status").dump());
    }
    j.at("users").get_to(v.users);
    read_process(j.at("intent_by"), v.intent_by);
    j.at("last_error").get_to(v.last_error);
    v.intent_at = j.value("intent_at", std::int64_t{0});
}

void to_json(json& j, const Placement& p) {
    j = json{{"driver", p.key.driver},
             {"name", p.key.name},
             {"target", p.target},
             {"placed", p.placed},
             {"container_path", p.container_path ? json(*p.container_path) : json(nullptr)},
             {"read_only", p.mode == Mode::ro}};
}
void from_json(const json& j, Placement& p) {
    read_key(j, p.key);
    j.at("target").get_to(p.target);
    j.at("placed").get_to(p.placed);
    if (const auto& cp = j.at("container_path"); !cp.is_null()) {
        p.container_path = cp.get<std::string>();
    }
    p.mode = j.at("read_only").get<bool>() ? Mode::ro : Mode::rw;
}

void to_json(json& j, const ContainerRecord& c) {
    j = json{{"id", c.id},
             {"runtime", c.runtime},
             {"process", process_json(c.process)},
             {"status", c.status},
             {"volumes", c.volumes}};
}
void from_json(const json& j, ContainerRecord& c) {
    j.at("id").get_to(c.id);
    j.at("runtime").get_to(c.runtime);
    read_process(j.at("process"), c.process);
    if (j.at("status") == "releasing") {
        // Written by the 0.1.0 builds before one write per phase, by a poststop that was cut
        // short: read as active, so gc releases it once its process is gone, as it did then.
        c.status = ContainerStatus::active;
    } else {
        j.at("status").get_to(c.status);
        if (!j.at("status").is_string() || j.at("status") != json(c.status)) {
            throw core::Error("unknown container status " + j.at("status").dump());
        }
    }
    j.at("volumes").get_to(c.volumes);
}

bool Scope::has_volume(const VolumeKey& key) const {
    return everything || std::find(volumes.begin(), volumes.end(), key) != volumes.end();
}

bool Scope::has_container(const std::string& id) const {
    return everything || std::find(containers.begin(), containers.end(), id) != containers.end();
}

void State::check_in_scope(const VolumeKey& key) const {
    if (scope && !scope->has_volume(key)) {
        throw core::Error(fmt::format("the state change needs volume {}, which is outside its scope", key));
    }
}

void State::check_in_scope(const std::string& container_id) const {
    if (scope && !scope->has_container(container_id)) {
        throw core::Error(fmt::format("the state change needs container {}, which is outside its scope", container_id));
    }
}

VolumeRecord* State::find_volume(const VolumeKey& key) {
    check_in_scope(key);
    const auto it = std::find_if(volumes.begin(), volumes.end(), [&](const auto& v) { return v.key == key; });
    return it == volumes.end() ? nullptr : &*it;
}

ContainerRecord* State::find_container(const std::string& id) {
    check_in_scope(id);
    const auto it = std::find_if(containers.begin(), containers.end(), [&](const auto& c) { return c.id == id; });
    return it == containers.end() ? nullptr : &*it;
}

void State::erase_volume(const VolumeKey& key) {
    check_in_scope(key);
    std::erase_if(volumes, [&](const auto& v) { return v.key == key; });
}

void State::erase_container(const std::string& id) {
    check_in_scope(id);
    std::erase_if(containers, [&](const auto& c) { return c.id == id; });
}

std::string to_string(VolumeStatus status) {
    return json(status).get<std::string>();
}

std::string to_string(ContainerStatus status) {
    return json(status).get<std::string>();
}

VolumeStatus parse_volume_status(std::string_view text) {
    const json j = text;
    const auto status = j.get<VolumeStatus>();
    if (j != json(status)) {
        throw core::Error("unknown volume status " + j.dump());
    }
    return status;
}

ContainerStatus parse_container_status(std::string_view text) {
    const json j = text;
    const auto status = j.get<ContainerStatus>();
    if (j != json(status)) {
        throw core::Error("unknown container status " + j.dump());
    }
    return status;
}

void to_json(json& j, const State& s) {
    j = json{{"version", State::kVersion}, {"volumes", s.volumes}, {"containers", s.containers}};
}

State parse_state(std::string_view text, std::string_view origin) {
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::exception& e) {
        throw core::Error(fmt::format("state file {} does not parse ({}); it is left as it is: inspect it, "
                                      "and remove it only when nothing of it is mounted",
                                      origin, e.what()));
    }
    if (!doc.is_object() || !doc.contains("version") || !doc["version"].is_number_integer()) {
        throw core::Error(fmt::format("state file {} has no version; it is left as it is", origin));
    }
    if (doc["version"] != State::kVersion) {
        throw core::Error(fmt::format("state file {} has version {}, this dvdi-hook knows version {}; "
                                      "it is left as it is (was a newer dvdi-hook installed and then removed?)",
                                      origin, doc["version"].dump(), State::kVersion));
    }
    try {
        State s;
        doc.at("volumes").get_to(s.volumes);
        doc.at("containers").get_to(s.containers);
        return s;
    } catch (const std::exception& e) {
        throw core::Error(fmt::format("state file {} is damaged ({}); it is left as it is", origin, e.what()));
    }
}

} // namespace dvdi::volumes
