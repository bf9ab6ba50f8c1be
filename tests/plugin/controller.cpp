#include "tests/plugin/controller.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "lib/core/core.hpp"

namespace dvdi::test::plugin {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// controller.json under its flock, for one read-modify-write.
class Locked {
  public:
    explicit Locked(const fs::path& dir) : dir_(dir) {
        fd_ = core::UniqueFd(::open((dir / "controller.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
        if (!fd_ || ::flock(fd_.get(), LOCK_EX) != 0) {
            core::throw_errno("flock", (dir / "controller.lock").string());
        }
        std::ifstream in(dir / "controller.json");
        std::stringstream text;
        text << in.rdbuf();
        state = text.str().empty() ? json{{"volumes", json::object()}} : json::parse(text.str());
    }
    void save() {
        const fs::path tmp = dir_ / "controller.json.tmp";
        std::ofstream(tmp) << state.dump() << "\n";
        fs::rename(tmp, dir_ / "controller.json");
    }
    void log(json line) { std::ofstream(dir_ / "log.jsonl", std::ios::app) << line.dump() << "\n"; }
    json& volume(const std::string& name) {
        json& v = state["volumes"][name];
        if (!v.contains("attach")) {
            v["attach"] = "single";
        }
        if (!v.contains("agents")) {
            v["agents"] = json::object();
        }
        return v;
    }
    json state;

  private:
    fs::path dir_;
    core::UniqueFd fd_;
};

bool holds(const json& ids) {
    for (const auto& [id, n] : ids.items()) {
        if (n.get<int>() > 0) {
            return true;
        }
    }
    return false;
}

} // namespace

Controller::Controller(ControllerOptions options) : options_(std::move(options)) {
    fs::create_directories(volumes_dir());
}

void Controller::define(const std::string& volume, const json& opts) {
    Locked c(options_.dir);
    const bool multi = opts.is_object() && opts.value("attach", "") == "multi";
    c.volume(volume)["attach"] = multi ? "multi" : "single";
    c.save();
}

std::string Controller::attach(const std::string& volume, const std::string& id) {
    Locked c(options_.dir);
    json& v = c.volume(volume);
    json preempted = json::array();
    std::string error;
    if (v["attach"] == "single") {
        for (const auto& [other, ids] : v["agents"].items()) {
            if (other == options_.agent || !holds(ids)) {
                continue;
            }
            if (!options_.preempt) {
                error = "volume " + volume + " is attached to agent " + other;
                break;
            }
            preempted.push_back(other);
        }
    }
    if (error.empty()) {
        for (const auto& other : preempted) {
            v["agents"].erase(other.get<std::string>());
            v["preempted_by"][other.get<std::string>()] = options_.agent;
        }
        json& mine = v["agents"][options_.agent];
        if (!mine.is_object()) {
            mine = json::object();
        }
        mine[id] = mine.value(id, 0) + 1;
        c.save();
    }
    c.log({{"agent", options_.agent},
           {"call", "Mount"},
           {"volume", volume},
           {"id", id},
           {"ok", error.empty()},
           {"error", error},
           {"preempted", preempted}});
    return error;
}

std::string Controller::detach(const std::string& volume, const std::string& id) {
    Locked c(options_.dir);
    json& v = c.volume(volume);
    json& agents = v["agents"];
    std::string error;
    if (!agents.contains(options_.agent) || agents[options_.agent].value(id, 0) <= 0) {
        error = "volume " + volume + " is not attached to agent " + options_.agent + " under ID " + id;
        if (v.contains("preempted_by") && v["preempted_by"].contains(options_.agent)) {
            error += " (agent " + v["preempted_by"][options_.agent].get<std::string>() + " took it over)";
        }
    } else {
        json& mine = agents[options_.agent];
        mine[id] = mine[id].get<int>() - 1;
        if (mine[id].get<int>() == 0) {
            mine.erase(id);
        }
        if (mine.empty()) {
            agents.erase(options_.agent);
        }
        c.save();
    }
    c.log({{"agent", options_.agent},
           {"call", "Unmount"},
           {"volume", volume},
           {"id", id},
           {"ok", error.empty()},
           {"error", error},
           {"preempted", json::array()}});
    return error;
}

bool Controller::attached_here(const std::string& volume) {
    Locked c(options_.dir);
    const json& agents = c.volume(volume)["agents"];
    return agents.contains(options_.agent) && holds(agents[options_.agent]);
}

} // namespace dvdi::test::plugin
