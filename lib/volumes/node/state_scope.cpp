#include "lib/volumes/node/state_scope.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "lib/core/core.hpp"

namespace dvdi::volumes {

namespace {

template <typename T> void add_once(std::vector<T>& list, const T& item) {
    if (std::find(list.begin(), list.end(), item) == list.end()) {
        list.push_back(item);
    }
}

std::string described(const VolumeKey& key) {
    return fmt::format("volume {}", key);
}

std::string described(const std::string& container_id) {
    return "container " + container_id;
}

// The rows of one kind (volumes or containers): `key_of` gives a row's key, `in_scope` whether
// the change was given it.
template <typename Row, typename Key, typename KeyOf, typename InScope>
void diff_rows(const std::vector<Row>& before, const std::vector<Row>& after, KeyOf key_of, InScope in_scope,
               std::vector<Row>& put, std::vector<Key>& erased) {
    std::map<Key, const Row*> old;
    for (const Row& r : before) {
        old.emplace(key_of(r), &r);
    }
    std::set<Key> seen;
    for (const Row& r : after) {
        const Key& key = key_of(r);
        if (!in_scope(key)) {
            throw core::Error(fmt::format("the state change records {}, which is outside its scope", described(key)));
        }
        if (!seen.insert(key).second) {
            throw core::Error(fmt::format("the state change records {} twice", described(key)));
        }
        const auto it = old.find(key);
        if (it == old.end() || !(*it->second == r)) {
            put.push_back(r);
        }
    }
    for (const auto& [key, row] : old) {
        if (!seen.contains(key)) {
            erased.push_back(key);
        }
    }
}

} // namespace

std::optional<VolumeRecord> StateRows::volume(const VolumeKey& key) {
    const auto it =
        std::find_if(all_.volumes.begin(), all_.volumes.end(), [&](const VolumeRecord& v) { return v.key == key; });
    return it == all_.volumes.end() ? std::nullopt : std::optional(*it);
}

std::optional<ContainerRecord> StateRows::container(const std::string& id) {
    const auto it = std::find_if(all_.containers.begin(), all_.containers.end(),
                                 [&](const ContainerRecord& c) { return c.id == id; });
    return it == all_.containers.end() ? std::nullopt : std::optional(*it);
}

std::vector<std::string> StateRows::containers_placing(const VolumeKey& key) {
    std::vector<std::string> ids;
    for (const auto& c : all_.containers) {
        if (std::any_of(c.volumes.begin(), c.volumes.end(), [&](const Placement& p) { return p.key == key; })) {
            ids.push_back(c.id);
        }
    }
    return ids;
}

State load(const Scope& scope, RowSource& rows) {
    if (scope.everything) {
        State all = rows.everything();
        all.scope.reset();
        return all;
    }
    Scope resolved;
    for (const auto& id : scope.containers) {
        add_once(resolved.containers, id);
    }
    for (const auto& key : scope.volumes) {
        add_once(resolved.volumes, key);
    }
    State s;
    for (const auto& id : resolved.containers) {
        if (auto c = rows.container(id)) {
            s.containers.push_back(std::move(*c));
        }
    }
    if (scope.their_volumes) {
        for (const auto& c : s.containers) {
            for (const auto& p : c.volumes) {
                add_once(resolved.volumes, p.key);
            }
        }
    }
    if (scope.their_containers) {
        for (const auto& key : scope.volumes) {
            for (const auto& id : rows.containers_placing(key)) {
                if (std::find(resolved.containers.begin(), resolved.containers.end(), id) !=
                    resolved.containers.end()) {
                    continue;
                }
                resolved.containers.push_back(id);
                if (auto c = rows.container(id)) {
                    s.containers.push_back(std::move(*c));
                }
            }
        }
    }
    for (const auto& key : resolved.volumes) {
        if (auto v = rows.volume(key)) {
            s.volumes.push_back(std::move(*v));
        }
    }
    s.scope = std::move(resolved);
    return s;
}

StateChanges diff(const State& before, const State& after) {
    StateChanges out;
    const auto& scope = before.scope;
    diff_rows<VolumeRecord, VolumeKey>(
        before.volumes, after.volumes, [](const VolumeRecord& v) -> const VolumeKey& { return v.key; },
        [&](const VolumeKey& k) { return !scope || scope->has_volume(k); }, out.put_volumes, out.erased_volumes);
    diff_rows<ContainerRecord, std::string>(
        before.containers, after.containers, [](const ContainerRecord& c) -> const std::string& { return c.id; },
        [&](const std::string& id) { return !scope || scope->has_container(id); }, out.put_containers,
        out.erased_containers);
    return out;
}

void apply(State& all, const StateChanges& changes) {
    for (const auto& key : changes.erased_volumes) {
        std::erase_if(all.volumes, [&](const VolumeRecord& v) { return v.key == key; });
    }
    for (const auto& id : changes.erased_containers) {
        std::erase_if(all.containers, [&](const ContainerRecord& c) { return c.id == id; });
    }
    for (const auto& v : changes.put_volumes) {
        const auto it =
            std::find_if(all.volumes.begin(), all.volumes.end(), [&](const VolumeRecord& x) { return x.key == v.key; });
        if (it == all.volumes.end()) {
            all.volumes.push_back(v);
        } else {
            *it = v;
        }
    }
    for (const auto& c : changes.put_containers) {
        const auto it = std::find_if(all.containers.begin(), all.containers.end(),
                                     [&](const ContainerRecord& x) { return x.id == c.id; });
        if (it == all.containers.end()) {
            all.containers.push_back(c);
        } else {
            *it = c;
        }
    }
}

} // namespace dvdi::volumes
