#include "lib/volumes/drivers/local.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/fd.hpp"
#include "lib/core/io.hpp"
#include "lib/core/log.hpp"
#include "lib/core/private_dir.hpp"

namespace dvdi::volumes {

namespace {

namespace fs = std::filesystem;

struct LocalOptions {
    std::string type;
    std::string device;
    std::string o;
    [[nodiscard]] bool mounts() const { return !type.empty() || !device.empty(); }
};

void to_json(nlohmann::json& j, const LocalOptions& o) {
    j = {{"type", o.type}, {"device", o.device}, {"o", o.o}};
}
void from_json(const nlohmann::json& j, LocalOptions& o) {
    o.type = j.value("type", "");
    o.device = j.value("device", "");
    o.o = j.value("o", "");
}

struct MountState {
    std::vector<std::string> ids; ///< a multiset: one entry per Mount not yet undone
    bool mounted = false;         ///< this driver mounted a filesystem on _data
};

void to_json(nlohmann::json& j, const MountState& s) {
    j = {{"ids", s.ids}, {"mounted", s.mounted}};
}
void from_json(const nlohmann::json& j, MountState& s) {
    s.ids = j.value("ids", std::vector<std::string>{});
    s.mounted = j.value("mounted", false);
}

class KernelMounter : public Mounter {
  public:
    void mount(const ns::FsMountSpec& spec) override { ns::mount_filesystem(spec); }
    void unmount(const std::string& target) override { ns::unmount_filesystem(target); }
};

// What the file records; nothing recorded (an empty object) only when it does not exist. Any
// other failure is an error: taking an unreadable mounts.json for "no mounts" would mount the
// volume a second time and forget the IDs that hold it.
nlohmann::json read_json(const fs::path& path) {
    core::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
        if (errno == ENOENT) {
            return nlohmann::json::object();
        }
        core::throw_errno("open", path.string());
    }
    auto j = nlohmann::json::parse(core::read_all(fd.get(), path.string()), nullptr, false);
    if (j.is_discarded()) {
        throw core::Error(fmt::format("{}: not valid JSON", core::quote(path.string())));
    }
    return j;
}

void write_json(const fs::path& path, const nlohmann::json& j) {
    core::replace_file(path.string(), j.dump() + "\n");
}

/// Holds an exclusive flock on `<volume>/.lock` for as long as it lives.
core::UniqueFd lock_volume(const fs::path& dir) {
    const fs::path path = dir / ".lock";
    core::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) {
        core::throw_errno("open", path.string());
    }
    while (::flock(fd.get(), LOCK_EX) != 0) {
        if (errno != EINTR) {
            core::throw_errno("flock", path.string());
        }
    }
    return fd;
}

/// RFC 3339 in UTC, as Docker's CreatedAt.
std::string utc_time(std::time_t t) {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                       tm.tm_min, tm.tm_sec);
}

} // namespace

std::unique_ptr<Mounter> kernel_mounter() {
    return std::make_unique<KernelMounter>();
}

LocalDriver::LocalDriver(fs::path data_dir, std::unique_ptr<Mounter> mounter)
    : volumes_(std::move(data_dir) / "volumes"), mounter_(mounter ? std::move(mounter) : kernel_mounter()) {}

DriverError LocalDriver::error(std::string_view call, const std::string& volume, std::string_view what) const {
    return DriverError(fmt::format("driver local: VolumeDriver.{} {}: {}", call, core::quote(volume), what));
}

fs::path LocalDriver::volume_dir(std::string_view call, const std::string& volume) {
    if (volume.empty() || volume == "." || volume == ".." || volume.find('/') != std::string::npos ||
        volume.find('\0') != std::string::npos) {
        throw error(call, volume, "not a valid volume name for the local driver");
    }
    if (!dirs_checked_) {
        // Only root may change what root mounts and binds; only root may read what tenants
        // wrote. volumes/ is made 0700 even when an older version left it 0755, which closes
        // every volume below it to other host users (a container reaches its `_data` through
        // the bind, whatever the modes above it).
        core::ensure_private_dir(volumes_.parent_path().string(), 0700, "data dir");
        core::ensure_private_dir(volumes_.string(), 0700, "data dir");
        if (::chmod(volumes_.c_str(), 0700) != 0) {
            core::throw_errno("chmod", volumes_.string());
        }
        dirs_checked_ = true;
    }
    return volumes_ / volume;
}

void LocalDriver::ensure_exists(const std::string& volume, const Options& options, bool explicit_create) {
    const fs::path dir = volume_dir("Create", volume);
    if (fs::is_directory(dir / "_data")) {
        return;
    }
    if (explicit_create) {
        throw error("Get", volume, "no such volume (explicit create is on)");
    }
    LocalOptions opts;
    for (const auto& [k, v] : options) {
        if (k == "type") {
            opts.type = v;
        } else if (k == "device") {
            opts.device = v;
        } else if (k == "o") {
            opts.o = v;
        } else {
            throw error("Create", volume,
                        fmt::format("unknown option {} (the local driver knows type, device, o)", core::quote(k)));
        }
    }
    if (opts.type.empty() != opts.device.empty() || (!opts.o.empty() && !opts.mounts())) {
        throw error("Create", volume, "the options type and device go together (o needs both)");
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        core::throw_errno("mkdir", dir.string());
    }
    const auto lock = lock_volume(dir);
    write_json(dir / "opts.json", opts);
    // What the container sees as the volume's root: root's, 0755, as Docker makes it.
    if (::mkdir((dir / "_data").c_str(), 0755) != 0 && errno != EEXIST) {
        core::throw_errno("mkdir", (dir / "_data").string());
    }
    core::log::debug("driver local: created volume {}", volume);
}

void LocalDriver::create(const std::string& volume, const Options& options) {
    ensure_exists(volume, options, false);
}

std::optional<VolumeInfo> LocalDriver::get(const std::string& volume) {
    const fs::path dir = volume_dir("Get", volume);
    const fs::path data = dir / "_data";
    if (!fs::is_directory(data)) {
        return std::nullopt;
    }
    const auto lock = lock_volume(dir);
    const auto opts = read_json(dir / "opts.json").get<LocalOptions>();
    VolumeInfo info{.name = volume, .mountpoint = data.string(), .options = Options{}};
    for (const auto& [key, value] : {std::pair{"type", opts.type}, {"device", opts.device}, {"o", opts.o}}) {
        if (!value.empty()) {
            info.options->emplace_back(key, value);
        }
    }
    struct stat st {};
    if (::stat((dir / "opts.json").c_str(), &st) == 0) {
        info.created_at = utc_time(st.st_mtim.tv_sec);
    }
    return info;
}

std::string LocalDriver::mount(const std::string& volume, const std::string& id) {
    const fs::path dir = volume_dir("Mount", volume);
    const fs::path data = dir / "_data";
    if (!fs::is_directory(data)) {
        throw error("Mount", volume, "no such volume");
    }
    const auto lock = lock_volume(dir);
    auto state = read_json(dir / "mounts.json").get<MountState>();
    if (state.ids.empty() && !state.mounted) {
        const auto opts = read_json(dir / "opts.json").get<LocalOptions>();
        if (opts.mounts()) {
            try {
                // nosuid,nodev last, so they win over anything in `o`: a file system mounted
                // for containers never brings a setuid binary or a device node to the host.
                const std::string options = (opts.o.empty() ? "" : opts.o + ",") + "nosuid,nodev";
                mounter_->mount(
                    {.source = opts.device, .target = data.string(), .fstype = opts.type, .options = options});
            } catch (const std::exception& e) {
                throw error("Mount", volume, e.what());
            }
            state.mounted = true;
        }
    }
    state.ids.push_back(id);
    write_json(dir / "mounts.json", state);
    return data.string();
}

void LocalDriver::unmount(const std::string& volume, const std::string& id) {
    const fs::path dir = volume_dir("Unmount", volume);
    if (!fs::is_directory(dir / "_data")) {
        throw error("Unmount", volume, "no such volume");
    }
    const auto lock = lock_volume(dir);
    auto state = read_json(dir / "mounts.json").get<MountState>();
    const auto it = std::find(state.ids.begin(), state.ids.end(), id);
    if (it == state.ids.end()) {
        throw error("Unmount", volume, fmt::format("not mounted with ID {}", core::quote(id)));
    }
    state.ids.erase(it);
    if (state.ids.empty() && state.mounted) {
        try {
            mounter_->unmount((dir / "_data").string());
        } catch (const std::exception& e) {
            throw error("Unmount", volume, e.what()); // the ID stays recorded: a retry may succeed
        }
        state.mounted = false;
    }
    write_json(dir / "mounts.json", state);
}

std::string LocalDriver::path(const std::string& volume) {
    const fs::path dir = volume_dir("Path", volume);
    const fs::path data = dir / "_data";
    if (!fs::is_directory(data)) {
        throw error("Path", volume, "no such volume");
    }
    // A mountpoint only while some ID holds it (as REX-Ray): what the node asks to settle a
    // refused Unmount.
    const auto lock = lock_volume(dir);
    const auto state = read_json(dir / "mounts.json").get<MountState>();
    return state.ids.empty() && !state.mounted ? std::string() : data.string();
}

std::vector<VolumeInfo> LocalDriver::list() {
    std::vector<VolumeInfo> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(volumes_, ec)) {
        if (fs::is_directory(entry.path() / "_data")) {
            out.push_back({.name = entry.path().filename().string(), .mountpoint = (entry.path() / "_data").string()});
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

void LocalDriver::remove(const std::string& volume) {
    const fs::path dir = volume_dir("Remove", volume);
    if (!fs::is_directory(dir / "_data")) {
        throw error("Remove", volume, "no such volume");
    }
    {
        const auto lock = lock_volume(dir);
        const auto state = read_json(dir / "mounts.json").get<MountState>();
        if (!state.ids.empty() || state.mounted) {
            throw error("Remove", volume, fmt::format("in use ({} mount IDs)", state.ids.size()));
        }
    }
    fs::remove_all(dir);
}

} // namespace dvdi::volumes
