// What `volume create` was given, kept in `<data_dir>/catalog.json` (inside lib/volumes/catalog).
#pragma once

#include <functional>
#include <map>
#include <string>

#include "lib/volumes/catalog/catalog.hpp"

namespace dvdi::volumes {

using CreatedVolumes = std::map<VolumeKey, CreatedVolume>;

/// `{"version": 1, "volumes": [{"driver", "name", "options": {..}, "labels": {..}}]}`, replaced
/// durably (core::replace_file) under an flock of `<data_dir>/catalog.lock`. A missing file
/// records nothing; one that cannot be read or parsed is an error naming it.
class CatalogRecords {
  public:
    explicit CatalogRecords(std::string data_dir);
    [[nodiscard]] CreatedVolumes read() const;
    /// Reads, lets `change` edit the records and writes them back, under the lock. The data dir
    /// must be root's and not writable by others (created 0700 when missing).
    void update(const std::function<void(CreatedVolumes&)>& change) const;

  private:
    std::string dir_;
    std::string path_;
};

} // namespace dvdi::volumes
