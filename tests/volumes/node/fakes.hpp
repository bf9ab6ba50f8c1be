// Fakes for the seams of lib/volumes: the state store and the drivers. For unit tests of the
// node logic only; the real store and the real plugin client are tested on their own.
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "lib/volumes/drivers/driver.hpp"
#include "lib/volumes/node/node.hpp"
#include "lib/volumes/node/state_scope.hpp"
#include "lib/volumes/node/state_store.hpp"

namespace dvdi::test {

/// The state in memory, loaded and written by scope with the real store's own rules
/// (state_scope.hpp): a change sees only the rows its scope names, and recording or looking up
/// any other row is an error, as with the database.
class MemoryStateStore final : public volumes::StateStore {
  public:
    void transact(const volumes::Scope& scope, const std::function<void(volumes::State&)>& change) override {
        std::lock_guard g(mutex_);
        volumes::StateRows rows(state_);
        volumes::State part = volumes::load(scope, rows);
        const volumes::State before = part;
        change(part);
        volumes::apply(state_, volumes::diff(before, part));
        ++writes_;
    }
    using StateStore::read;
    volumes::State read(const volumes::Scope& scope) override {
        std::lock_guard g(mutex_);
        volumes::StateRows rows(state_);
        return volumes::load(scope, rows);
    }
    std::unique_ptr<volumes::Lock> lock_volume(const volumes::VolumeKey& key) override {
        std::unique_lock g(mutex_);
        auto& m = volume_locks_[key];
        if (!m) {
            m = std::make_unique<std::mutex>();
        }
        std::mutex& vm = *m;
        g.unlock();
        return std::make_unique<Held>(vm);
    }
    std::unique_ptr<volumes::Lock> lock_volumes(const std::vector<volumes::VolumeKey>& keys) override {
        std::vector<volumes::VolumeKey> sorted = keys;
        std::sort(sorted.begin(), sorted.end());
        sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
        auto all = std::make_unique<AllHeld>();
        for (const auto& k : sorted) {
            all->held.push_back(lock_volume(k));
        }
        return all;
    }
    int writes() const { return writes_; }

  private:
    struct AllHeld final : volumes::Lock {
        std::vector<std::unique_ptr<volumes::Lock>> held;
    };
    struct Held final : volumes::Lock {
        explicit Held(std::mutex& m) : lock(m) {}
        std::lock_guard<std::mutex> lock;
    };
    std::mutex mutex_;
    volumes::State state_;
    std::map<volumes::VolumeKey, std::unique_ptr<std::mutex>> volume_locks_;
    int writes_ = 0;
};

/// Records every call as "Call name [id]" and fails the calls it is told to.
class FakeDriver final : public volumes::Driver {
  public:
    explicit FakeDriver(std::string name) : name_(std::move(name)) {}
    const std::string& name() const override { return name_; }

    void ensure_exists(const std::string& v, const volumes::Options& o, bool explicit_create) override {
        record(fmt::format("Ensure {} opts={} explicit={}", v, o.size(), explicit_create));
        fail_if("Ensure", v);
    }
    std::string mount(const std::string& v, const std::string& id) override {
        record(fmt::format("Mount {} {}", v, id));
        fail_if("Mount", v);
        ++mounted[{v, id}];
        return mountpoint_override.empty() ? "/fake/" + name_ + "/" + v : mountpoint_override;
    }
    void unmount(const std::string& v, const std::string& id) override {
        record(fmt::format("Unmount {} {}", v, id));
        fail_if("Unmount", v);
        auto it = mounted.find({v, id});
        if (it == mounted.end()) {
            throw volumes::DriverError(fmt::format("fake {}: Unmount {} {}: not mounted", name_, v, id));
        }
        if (--it->second == 0) {
            mounted.erase(it);
        }
    }
    /// The mountpoint while some ID holds a mount of `v`, else "" (as REX-Ray and the test plugin).
    std::string path(const std::string& v) override {
        record("Path " + v);
        fail_if("Path", v);
        const bool held =
            std::any_of(mounted.begin(), mounted.end(), [&](const auto& m) { return m.first.first == v; });
        return held ? "/fake/" + name_ + "/" + v : "";
    }
    void create(const std::string& v, const volumes::Options& o) override {
        record(fmt::format("Create {} opts={}", v, o.size()));
        fail_if("Create", v);
    }
    std::optional<volumes::VolumeInfo> get(const std::string& v) override {
        record("Get " + v);
        fail_if("Get", v);
        return volumes::VolumeInfo{.name = v};
    }
    std::vector<volumes::VolumeInfo> list() override { return {}; }
    volumes::Capabilities capabilities() override { return {}; }
    void remove(const std::string& v) override { record("Remove " + v); }

    /// "Mount v2" makes Mount of v2 fail; "Unmount v1!" throws DriverUnreachable.
    std::vector<std::string> failing;
    std::vector<std::string> calls;
    std::map<std::pair<std::string, std::string>, int> mounted;
    std::string mountpoint_override;

    int count(const std::string& prefix) const {
        return static_cast<int>(
            std::count_if(calls.begin(), calls.end(), [&](const std::string& c) { return c.starts_with(prefix); }));
    }

  private:
    void record(std::string call) {
        std::lock_guard g(mutex_);
        calls.push_back(std::move(call));
    }
    void fail_if(const std::string& call, const std::string& v) {
        for (const auto& f : failing) {
            if (f == call + " " + v) {
                throw volumes::DriverError(fmt::format("fake {}: {} \"{}\": told to fail", name_, call, v));
            }
            if (f == call + " " + v + "!") {
                throw volumes::DriverUnreachable(fmt::format("fake {}: {} \"{}\": unreachable", name_, call, v));
            }
        }
    }
    std::string name_;
    std::mutex mutex_;
};

class FakeDriverSet final : public volumes::DriverSet {
  public:
    volumes::Driver& get(const std::string& name) override {
        auto& d = drivers[name];
        if (!d) {
            d = std::make_unique<FakeDriver>(name);
        }
        return *d;
    }
    FakeDriver& operator[](const std::string& name) { return static_cast<FakeDriver&>(get(name)); }
    std::map<std::string, std::unique_ptr<FakeDriver>> drivers;
};

} // namespace dvdi::test
