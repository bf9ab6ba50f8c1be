#include "lib/volumes/catalog/records.hpp"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

#include <fmt/format.h>

#include "lib/core/fd.hpp"
#include "lib/core/io.hpp"
#include "lib/core/private_dir.hpp"

namespace dvdi::volumes {

namespace {

constexpr int kVersion = 1;
constexpr std::size_t kMaxBytes = 16 << 20; // written by the operator's commands only

Options sorted_options(const nlohmann::json& j) {
    Options out;
    for (const auto& [k, v] : j.items()) {
        out.emplace_back(k, v.get<std::string>());
    }
    return out; // a JSON object iterates in key order
}

} // namespace

CatalogRecords::CatalogRecords(std::string data_dir) : dir_(std::move(data_dir)), path_(dir_ + "/catalog.json") {}

CreatedVolumes CatalogRecords::read() const {
    core::UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        if (errno == ENOENT) {
            return {};
        }
        core::throw_errno("open", path_);
    }
    const std::string text = core::read_all(fd.get(), path_, kMaxBytes);
    const auto bad = [&](std::string_view why) {
        return core::Error(fmt::format("{}: {}; it records what `dvdi-hook volume create` was given (move it away "
                                       "to start over: the volumes themselves stay)",
                                       path_, why));
    };
    if (text.size() > kMaxBytes) {
        throw bad(fmt::format("larger than {} bytes", kMaxBytes));
    }
    const auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        throw bad("not valid JSON");
    }
    if (j.value("version", 0) != kVersion) {
        throw bad(fmt::format("version {} (this dvdi-hook knows {})", j.value("version", 0), kVersion));
    }
    CreatedVolumes out;
    try {
        for (const auto& v : j.at("volumes")) {
            CreatedVolume c{.options = sorted_options(v.at("options")),
                            .labels = v.at("labels").get<std::map<std::string, std::string>>()};
            out.emplace(VolumeKey{v.at("driver").get<std::string>(), v.at("name").get<std::string>()}, std::move(c));
        }
    } catch (const nlohmann::json::exception& e) {
        throw bad(fmt::format("a record of the wrong shape ({})", e.what()));
    }
    return out;
}

void CatalogRecords::update(const std::function<void(CreatedVolumes&)>& change) const {
    core::ensure_private_dir(dir_, 0700, "data dir");
    const std::string lock_path = dir_ + "/catalog.lock";
    core::UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!lock) {
        core::throw_errno("open", lock_path);
    }
    while (::flock(lock.get(), LOCK_EX) != 0) {
        if (errno != EINTR) {
            core::throw_errno("flock", lock_path);
        }
    }
    auto records = read();
    change(records);
    nlohmann::json volumes = nlohmann::json::array();
    for (const auto& [key, c] : records) {
        nlohmann::json options = nlohmann::json::object();
        for (const auto& [k, v] : c.options) {
            options[k] = v;
        }
        volumes.push_back({{"driver", key.driver}, {"name", key.name}, {"options", options}, {"labels", c.labels}});
    }
    core::replace_file(path_, nlohmann::json{{"version", kVersion}, {"volumes", volumes}}.dump(2) + "\n");
}

} // namespace dvdi::volumes
