#include "tests/plugin/plugin_state.hpp"

#include <algorithm>
#include <fstream>

namespace dvdi::test::plugin {

namespace fs = std::filesystem;

namespace {

Answer error(std::string text) {
    return Answer{500, {{"Err", std::move(text)}}};
}

bool bad_name(const std::string& name) {
    return name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos || name.front() == '.';
}

std::string str(const nlohmann::json& j, const char* key) {
    if (!j.is_object()) {
        return {};
    }
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

} // namespace

bool PluginState::exists(const std::string& name) const {
    return fs::is_directory(volumes_ / name);
}

PluginState::PluginState(std::filesystem::path root, std::string scope, std::optional<ControllerOptions> controller)
    : root_(std::move(root)), volumes_(root_), scope_(std::move(scope)) {
    if (controller) {
        controller_.emplace(std::move(*controller));
        volumes_ = controller_->volumes_dir();
    }
    save_mounts(); // a restarted plugin has forgotten every mount ID
}

void PluginState::save_mounts() {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [name, ids] : mounts_) {
        for (const auto& [id, n] : ids) {
            if (n > 0) {
                j[name][id] = n;
            }
        }
    }
    const fs::path tmp = root_ / ".mounts.json.tmp";
    std::ofstream(tmp) << j.dump() << "\n";
    fs::rename(tmp, root_ / ".mounts.json");
}

Answer PluginState::create(const std::string& name, const nlohmann::json& opts) {
    if (controller_ && !exists(name)) {
        controller_->define(name, opts);
    }
    fs::create_directories(volumes_ / name);
    if (opts.is_object() && !opts.empty()) {
        std::ofstream(volumes_ / ("." + name + ".opts.json")) << opts.dump() << "\n";
    }
    return {200, {{"Err", ""}}};
}

Answer PluginState::remove(const std::string& name) {
    if (!exists(name)) {
        return error("no such volume: " + name);
    }
    for (const auto& [id, n] : mounts_[name]) {
        if (n > 0) {
            return error("volume " + name + " is mounted (ID " + id + ")");
        }
    }
    fs::remove_all(volumes_ / name);
    fs::remove(volumes_ / ("." + name + ".opts.json"));
    return {200, {{"Err", ""}}};
}

Answer PluginState::mount(const std::string& name, const std::string& id) {
    if (!exists(name)) {
        return error("no such volume: " + name);
    }
    if (controller_) {
        if (auto refused = controller_->attach(name, id); !refused.empty()) {
            return error(std::move(refused));
        }
    }
    ++mounts_[name][id];
    if (!controller_) {
        std::ofstream(volumes_ / name / kMountedMarker) << "mounted\n";
    }
    save_mounts();
    return {200, {{"Mountpoint", (volumes_ / name).string()}, {"Err", ""}}};
}

Answer PluginState::unmount(const std::string& name, const std::string& id) {
    if (controller_) {
        // The controller is the truth: an attachment another agent's Mount took away is gone
        // even though this instance counted it, and one this instance forgot (a restart) is
        // still there.
        auto refused = controller_->detach(name, id);
        auto& counted = mounts_[name][id];
        if (!refused.empty() || counted <= 1) {
            mounts_[name].erase(id);
        } else {
            --counted;
        }
        save_mounts();
        if (!refused.empty()) {
            return error(std::move(refused));
        }
        return {200, {{"Err", ""}}};
    }
    auto& n = mounts_[name][id];
    if (n <= 0) {
        return error("Unmount of " + name + " with ID " + id + " without a matching Mount");
    }
    --n;
    if (!controller_ && !mounted(name)) {
        std::error_code ec;
        fs::remove(volumes_ / name / kMountedMarker, ec);
    }
    save_mounts();
    return {200, {{"Err", ""}}};
}

bool PluginState::mounted(const std::string& name) const {
    const auto it = mounts_.find(name);
    return it != mounts_.end() &&
           std::any_of(it->second.begin(), it->second.end(), [](const auto& m) { return m.second > 0; });
}

Answer PluginState::get(const std::string& name) {
    if (!exists(name)) {
        return error("no such volume: " + name);
    }
    // No CreatedAt: dockerd cannot decode "" there (the protocol reference, section 4).
    return {
        200,
        {{"Volume", {{"Name", name}, {"Mountpoint", (volumes_ / name).string()}, {"Status", nlohmann::json::object()}}},
         {"Err", ""}}};
}

Answer PluginState::list() {
    nlohmann::json vols = nlohmann::json::array();
    for (const auto& e : fs::directory_iterator(volumes_)) {
        const auto name = e.path().filename().string();
        if (e.is_directory() && name.front() != '.') {
            vols.push_back({{"Name", name}, {"Mountpoint", e.path().string()}});
        }
    }
    return {200, {{"Volumes", vols}, {"Err", ""}}};
}

Answer PluginState::handle(const std::string& method, const nlohmann::json& request) {
    std::lock_guard lock(mutex_);
    if (method == "Plugin.Activate") {
        return {200, {{"Implements", {"VolumeDriver"}}}};
    }
    if (method == "VolumeDriver.Capabilities") {
        return {200, {{"Capabilities", {{"Scope", scope_}}}}};
    }
    if (method == "VolumeDriver.List") {
        return list();
    }
    const auto name = str(request, "Name");
    if (!method.starts_with("VolumeDriver.")) {
        return {404, nullptr};
    }
    if (bad_name(name)) {
        return error("bad volume name \"" + name + "\"");
    }
    const auto call = method.substr(13);
    if (call == "Create") {
        return create(name, request.is_object() ? request.value("Opts", nlohmann::json()) : nlohmann::json());
    }
    if (call == "Remove") {
        return remove(name);
    }
    if (call == "Mount") {
        return mount(name, str(request, "ID"));
    }
    if (call == "Unmount") {
        return unmount(name, str(request, "ID"));
    }
    if (call == "Get") {
        return get(name);
    }
    if (call == "Path") {
        // As REX-Ray answers: the mountpoint only while the volume is mounted on this node.
        if (!exists(name)) {
            return error("no such volume: " + name);
        }
        const bool here = controller_ ? controller_->attached_here(name) : mounted(name);
        return {200, {{"Mountpoint", here ? (volumes_ / name).string() : ""}, {"Err", ""}}};
    }
    return {404, nullptr};
}

} // namespace dvdi::test::plugin
