// The JSON a Mesos agent hands the criteo command-isolator module (SPEC S1.2, S5): prepare,
// isolate and cleanup all send {container_id, [pid], [container_config]}.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/volumes/requests/request.hpp"

namespace dvdi::volumes {

struct MesosInput {
    /// The full container id as Mesos prints it: outermost parent first, joined with '.'
    /// (`parent.child` for a nested container).
    std::string container_id;
    /// The same, one element per level, outermost first.
    std::vector<std::string> container_id_chain;
    /// The container's init process (isolate only); nullopt when absent.
    std::optional<std::int64_t> pid;
    /// container_config.directory: the host sandbox (absolute), when given.
    std::optional<std::string> directory;
    /// container_config.rootfs: the container's root filesystem on the host, when it has one.
    std::optional<std::string> rootfs;
    /// The DVDI_VOLUME_* variables of command_info.environment (type VALUE) first, then the
    /// DOCKER_VOLUME entries of container_info.volumes, in order; validated together.
    std::vector<Request> requests;
    std::vector<std::string> warnings; ///< for the caller to log (ignored variables)
};

/// The isolator input must not be empty (or only white space): the module always writes the
/// container's JSON, so an empty input is the caller's mistake (a stage run by hand, a wrapper
/// that lost its file), never "no volumes". Throws core::InputError naming the input; every
/// stage checks it first, prepare's fast path for containers without volumes included.
void check_mesos_input_present(std::string_view text);

/// Reads the isolator input `text`. `default_driver` is the driver of a request naming none.
///
/// container_info.volumes[i] with source.type "DOCKER_VOLUME": name = docker_volume.name,
/// driver = docker_volume.driver, options = docker_volume.driver_options.parameter[] {key,
/// value} in order, container_path (required; relative means under the sandbox), mode "RW"
/// (default) or "RO"; origin `container_config.container_info.volumes[i]`. Other volume types
/// are ignored, and so are executor_info/task_info (Mesos copies the same volumes there).
///
/// Throws core::InputError naming the JSON field (e.g.
/// `container_config.container_info.volumes[1].source.docker_volume.name`) or the variable,
/// for invalid JSON (including truncated text and invalid UTF-8), a missing or mistyped field,
/// a relative container path without a sandbox directory or any S1.3 rule.
[[nodiscard]] MesosInput parse_mesos_input(std::string_view text, std::string_view default_driver);

/// Only container_id and pid of the isolator input; container_config is not read (no
/// requests). For cleanup, which must release a container whatever its config says.
/// Throws core::InputError as parse_mesos_input does for those two fields.
[[nodiscard]] MesosInput parse_mesos_ids(std::string_view text);

} // namespace dvdi::volumes
