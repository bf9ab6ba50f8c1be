// The built-in `local` driver (SPEC S2.2): Docker's local driver without a daemon. A volume is
// `<data_dir>/volumes/<name>/_data` (`<name>` 0700: no other host user reads a tenant's data);
// with the options `type`, `device` and `o` given at Create, Mount mounts that filesystem there
// (`mount -t type -o o,nosuid,nodev device`, never through a mount helper) for the first user
// and Unmount unmounts it after the last. Options come from the operator only (SPEC S7:
// volumes::apply_tenant_policy refuses them in a tenant's request).
//
// On disk, beside `_data`: `opts.json` (the options of Create, {"type","device","o"}) and
// `mounts.json` ({"ids": [...], "mounted": bool}: the mount IDs in use, a multiset, and
// whether this driver mounted something on `_data`), both replaced durably (core::replace_file)
// under an flock of `<name>/.lock`, so concurrent hooks on one node agree. A missing file records
// nothing; one that cannot be read or parsed is an error naming it, never taken as empty.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "lib/ns/fs_mount.hpp"
#include "lib/volumes/drivers/driver.hpp"

namespace dvdi::volumes {

/// The seam at the kernel: the real one calls ns::mount_filesystem / ns::unmount_filesystem.
class Mounter {
  public:
    virtual ~Mounter() = default;
    virtual void mount(const ns::FsMountSpec& spec) = 0;
    virtual void unmount(const std::string& target) = 0;
};

/// ns::mount_filesystem and ns::unmount_filesystem.
[[nodiscard]] std::unique_ptr<Mounter> kernel_mounter();

class LocalDriver : public Driver {
  public:
    /// `mounter` null: the kernel's.
    explicit LocalDriver(std::filesystem::path data_dir, std::unique_ptr<Mounter> mounter = nullptr);

    [[nodiscard]] const std::string& name() const override { return name_; }
    /// Creates the volume with `options` (only type, device, o; type and device together) when
    /// it does not exist; an existing volume keeps its options, as in Docker.
    void ensure_exists(const std::string& volume, const Options& options, bool explicit_create) override;
    /// As ensure_exists without explicit create: an existing volume keeps its options.
    void create(const std::string& volume, const Options& options) override;
    /// With the options of Create (opts.json) and its time as CreatedAt.
    std::optional<VolumeInfo> get(const std::string& volume) override;
    std::string mount(const std::string& volume, const std::string& id) override;
    /// Throws DriverError when `id` holds no mount of `volume`.
    void unmount(const std::string& volume, const std::string& id) override;
    /// The mountpoint while some mount ID holds the volume, else "".
    std::string path(const std::string& volume) override;
    std::vector<VolumeInfo> list() override;
    Capabilities capabilities() override { return Capabilities{}; }
    /// Refuses while a mount ID is in use.
    void remove(const std::string& volume) override;

  private:
    /// <data_dir>/volumes/<volume>; the first call checks data_dir and volumes/ (created 0700,
    /// owned by root, not writable by others; volumes/ made 0700).
    [[nodiscard]] std::filesystem::path volume_dir(std::string_view call, const std::string& volume);
    [[nodiscard]] DriverError error(std::string_view call, const std::string& volume, std::string_view what) const;

    std::string name_ = "local";
    std::filesystem::path volumes_;
    std::unique_ptr<Mounter> mounter_;
    bool dirs_checked_ = false;
};

} // namespace dvdi::volumes
