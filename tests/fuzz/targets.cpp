#include "tests/fuzz/targets.hpp"

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "lib/core/error.hpp"
#include "lib/volumes/volumes.hpp"

namespace dvdi::fuzz {

namespace {

void require(bool ok, const std::string& what) {
    if (!ok) {
        throw std::logic_error("fuzz invariant failed: " + what);
    }
}

void check_message(const core::InputError& e) {
    const std::string_view m = e.what();
    require(volumes::is_valid_utf8(m), "error message is not UTF-8");
    for (const char c : m) {
        require(static_cast<unsigned char>(c) >= 0x20 && c != 0x7F, "control character in an error message");
    }
}

void check_requests(std::string_view data, const std::vector<volumes::Request>& requests) {
    require(requests.empty() || volumes::might_request_volumes(data), "prefilter said no, reader found a request");
    for (const volumes::Request& r : requests) {
        const nlohmann::json j = r;
        require(nlohmann::json(j.get<volumes::Request>()) == j, "to_json/from_json round trip");
    }
}

// Runs `read`; bad input must come back as an InputError with a printable message.
template <typename Read> void expect_input_error_only(Read&& read) {
    try {
        read();
    } catch (const core::InputError& e) {
        check_message(e);
    }
}

} // namespace

void env_step(std::string_view data) {
    std::vector<std::string> entries;
    for (std::size_t pos = 0; pos <= data.size();) {
        const std::size_t nl = std::min(data.find('\n', pos), data.size());
        entries.emplace_back(data.substr(pos, nl - pos));
        pos = nl + 1;
    }
    expect_input_error_only([&] { check_requests(data, volumes::parse_env_requests(entries, "rexray").requests); });
}

void mesos_step(std::string_view data) {
    expect_input_error_only([&] {
        const auto in = volumes::parse_mesos_input(data, "rexray");
        require(!in.container_id.empty(), "empty container id");
        check_requests(data, in.requests);
    });
}

void oci_step(std::string_view data) {
    expect_input_error_only([&] {
        const auto s = volumes::parse_oci_state(data);
        require(s.bundle.starts_with('/'), "relative bundle");
    });
    expect_input_error_only([&] {
        const auto c = volumes::parse_oci_config(data, "/b", "rexray");
        require(!c.root_path || c.root_path->starts_with('/'), "relative root path");
        check_requests(data, c.requests);
    });
}

const std::vector<std::string>& target_names() {
    static const std::vector<std::string> names = {"env", "mesos", "oci"};
    return names;
}

void run_step(const std::string& name, std::string_view data) {
    if (name == "env") {
        env_step(data);
    } else if (name == "mesos") {
        mesos_step(data);
    } else if (name == "oci") {
        oci_step(data);
    } else {
        throw std::invalid_argument("no fuzz target " + name);
    }
}

} // namespace dvdi::fuzz
