// The attack suite's node (docs/SECURITY.md): a node dir with a config the test shapes, the
// built hook as runc runs it, and what "nothing happened" means after an attack that must fail:
// no mount of the volume anywhere in this namespace, no record in the state, the plugin holding
// no mount, nothing new on the host.
#pragma once

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "lib/core/config.hpp"
#include "lib/volumes/node/state_store.hpp"
#include "tests/harness/harness.hpp"
#include "tests/hook/node_dir.hpp"
#include "tests/plugin/test_plugin.hpp"

namespace dvdi::test {

struct AttackNode : NodeDir {
    explicit AttackNode(const TestPlugin* plugin = nullptr) : NodeDir("dvdi-attack", plugin), plugin_(plugin) {}

    /// Rewrites config.json with what `change` makes of the node's config.
    void configure(const std::function<void(core::Config&)>& change) {
        core::Config c = core::parse_config(read_file(config), config.string());
        change(c);
        write_file(config, nlohmann::json(c).dump(2));
    }
    [[nodiscard]] core::Config loaded() const { return core::parse_config(read_file(config), config.string()); }

    [[nodiscard]] std::vector<std::string> hook(const std::string& stage) const {
        return {hook_binary().string(), "--config", config.string(), stage};
    }
    /// A bundle whose container runs `script` with `env`, the hook as prestart and poststop.
    [[nodiscard]] OciBundle bundle(const std::string& script, const std::vector<std::string>& env) const {
        OciBundle b({"sh", "-c", script});
        for (const auto& e : env) {
            b.add_env(e);
        }
        b.add_hook("prestart", hook("prestart"));
        b.add_hook("poststop", hook("poststop"));
        return b;
    }

    [[nodiscard]] volumes::State state() const {
        const fs::path dir = loaded().state_dir;
        return volumes::has_state(dir.string()) ? volumes::open_state_store(dir.string())->read() : volumes::State{};
    }

    /// Lines of this namespace's mount table that mention `text`.
    [[nodiscard]] static std::vector<std::string> mounts_mentioning(const std::string& text) {
        std::vector<std::string> out;
        const std::string table = read_file("/proc/self/mountinfo");
        std::size_t pos = 0;
        while (pos < table.size()) {
            const auto end = std::min(table.find('\n', pos), table.size());
            const std::string line = table.substr(pos, end - pos);
            if (line.find(text) != std::string::npos) {
                out.push_back(line);
            }
            pos = end + 1;
        }
        return out;
    }

    /// Every Mount the plugin accepted was unmounted with its ID, and it holds nothing now.
    void require_plugin_holds_nothing() const {
        if (plugin_ == nullptr) {
            return;
        }
        std::vector<std::string> mounted;
        std::vector<std::string> unmounted;
        for (const auto& c : plugin_->calls("VolumeDriver.Mount")) {
            mounted.push_back(c["body"]["ID"].get<std::string>());
        }
        for (const auto& c : plugin_->calls("VolumeDriver.Unmount")) {
            unmounted.push_back(c["body"]["ID"].get<std::string>());
        }
        std::sort(mounted.begin(), mounted.end());
        std::sort(unmounted.begin(), unmounted.end());
        INFO("plugin mounts: " << plugin_->mounts().dump());
        REQUIRE(mounted == unmounted);
        REQUIRE(plugin_->mounts() == nlohmann::json::object());
    }

  private:
    const TestPlugin* plugin_;
};

} // namespace dvdi::test
