// The "storage controller" shared by the test plugins of several simulated agents (issue 17's
// cluster tests): one backend that knows which agent each volume is attached to, as an EBS-like
// block store (single-attach) or an NFS-like share (multi-attach) does, with REX-Ray's `preempt`.
//
// Everything is in one directory that every agent's plugin is given:
//   DIR/volumes/NAME      the volume's data (every agent's Mountpoint for it: the same files)
//   DIR/controller.json   {"volumes": {"NAME": {"attach": "single"|"multi",
//                                                "agents": {"AGENT": {"ID": n}}}}}
//   DIR/controller.lock   flock(2)ed around every read-modify-write of controller.json
//   DIR/log.jsonl         one line per call: {"agent", "call", "volume", "id", "ok", "error",
//                         "preempted": [agents whose attachment this Mount took away]}
// so that a test can assert, after the fact, that no agent ever detached another's attachment.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace dvdi::test::plugin {

struct ControllerOptions {
    std::filesystem::path dir; ///< shared by the agents' plugins
    std::string agent;         ///< this plugin's agent
    /// REX-Ray's `preempt`: a Mount of a single-attach volume attached to another agent takes
    /// it away from that agent ("equivalent to a power off of the existing instance for the
    /// device") instead of failing.
    bool preempt = false;
};

class Controller {
  public:
    explicit Controller(ControllerOptions options);

    [[nodiscard]] std::filesystem::path volumes_dir() const { return options_.dir / "volumes"; }
    [[nodiscard]] const std::string& agent() const { return options_.agent; }

    /// Records how the volume attaches, from Create's Opts: "attach": "multi", else single.
    void define(const std::string& volume, const nlohmann::json& opts);
    /// Attaches `volume` to this agent under `id`. Returns "" or the error the plugin answers
    /// (for a single-attach volume attached to another agent without preempt: "volume NAME is
    /// attached to agent OTHER").
    [[nodiscard]] std::string attach(const std::string& volume, const std::string& id);
    /// Detaches this agent's `id`. Returns "" or the error (the ID is not attached here: it
    /// never was, or another agent's Mount took it away).
    [[nodiscard]] std::string detach(const std::string& volume, const std::string& id);
    /// Whether some ID of this agent holds `volume` (what Path answers by).
    [[nodiscard]] bool attached_here(const std::string& volume);

  private:
    ControllerOptions options_;
};

} // namespace dvdi::test::plugin
