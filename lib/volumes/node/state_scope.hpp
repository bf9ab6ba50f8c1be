// The one rule of what a scoped read or change sees and writes (state.hpp's Scope), shared by
// the real store (state_store.cpp, over SQLite) and the in-memory fake of the tests, so that
// the fake enforces the same scope as the database: a change is given the rows it names and no
// others, and only the rows it changed are written back.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lib/volumes/node/state.hpp"

namespace dvdi::volumes {

/// Where a store's rows are, one at a time: what load() needs of a store.
class RowSource {
  public:
    virtual ~RowSource() = default;
    [[nodiscard]] virtual std::optional<VolumeRecord> volume(const VolumeKey& key) = 0;
    [[nodiscard]] virtual std::optional<ContainerRecord> container(const std::string& id) = 0;
    /// The containers with a placement of `key`, in the order they were recorded.
    [[nodiscard]] virtual std::vector<std::string> containers_placing(const VolumeKey& key) = 0;
    /// Every row (Scope::all()).
    [[nodiscard]] virtual State everything() = 0;
};

/// The rows of a whole state in memory (the tests' fake store; a version-1 file read as it is).
class StateRows final : public RowSource {
  public:
    explicit StateRows(const State& all) : all_(all) {}
    [[nodiscard]] std::optional<VolumeRecord> volume(const VolumeKey& key) override;
    [[nodiscard]] std::optional<ContainerRecord> container(const std::string& id) override;
    [[nodiscard]] std::vector<std::string> containers_placing(const VolumeKey& key) override;
    [[nodiscard]] State everything() override { return all_; }

  private:
    const State& all_;
};

/// The rows `scope` names, in the order named (each once), with State::scope set to it resolved:
/// the volumes of the named containers and the containers of the named volumes added when
/// asked. For Scope::all(), every row and no State::scope. Throws what `rows` throws.
[[nodiscard]] State load(const Scope& scope, RowSource& rows);

/// What a change did to the rows it was given: each row written (added or changed) or erased,
/// by its key.
struct StateChanges {
    std::vector<VolumeRecord> put_volumes;
    std::vector<VolumeKey> erased_volumes;
    std::vector<ContainerRecord> put_containers;
    std::vector<std::string> erased_containers;

    [[nodiscard]] bool empty() const {
        return put_volumes.empty() && erased_volumes.empty() && put_containers.empty() && erased_containers.empty();
    }
};

/// The difference between `before` (as load() gave it) and `after` (as the change left it).
/// Throws core::Error, naming the row, when `after` holds a row outside `before.scope` or a key
/// twice: a change never writes what it was not given.
[[nodiscard]] StateChanges diff(const State& before, const State& after);

/// Applies `changes` to a whole state: a changed row stays where it was, a new one goes last.
void apply(State& all, const StateChanges& changes);

} // namespace dvdi::volumes
