// The node logic under load, for real: the file state store, the plugin driver talking to the
// test plugin (which records every call), and hooks as separate processes.
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <random>

#include "tests/volumes/node/test_node_hooks.hpp"

using namespace dvdi;
using namespace dvdi::volumes;
using namespace dvdi::test;

namespace {

constexpr int kWorkers = 16;
constexpr int kContainers = 32; // worker w owns containers 2w and 2w+1
constexpr int kVolumes = 8;
constexpr int kOperations = 400;

struct Operation {
    int container = 0;
    bool acquire = false;
    std::vector<int> volumes;    ///< acquire: in this order
    bool expect_refused = false; ///< acquire of a container that holds volumes; release of one that holds none
};

std::string container_id(int c) {
    return fmt::format("load-c{:02}", c);
}

std::string volume_name(int v) {
    return fmt::format("lv{}", v);
}

// The plan of every worker, from the seed alone: each worker's operations are sequential, so
// whether a container holds volumes is known when the plan is made.
std::vector<std::vector<Operation>> make_plan(std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<std::vector<Operation>> plan(kWorkers);
    std::vector<bool> holds(kContainers, false);
    for (int i = 0; i < kOperations; ++i) {
        const int worker = i % kWorkers;
        Operation op;
        op.container = 2 * worker + static_cast<int>(rng() % 2);
        const int other = op.container ^ 1;
        const bool odd_one = rng() % 8 == 0; // sometimes the operation that is refused
        if (!odd_one && holds[other] && !holds[op.container] && rng() % 4 != 0) {
            // Mostly release before taking more, so that volumes fall idle now and then and
            // there are many busy periods.
            op.container = other;
        }
        op.acquire = holds[op.container] == odd_one;
        op.expect_refused = odd_one;
        if (op.acquire) {
            std::vector<int> all(kVolumes);
            std::iota(all.begin(), all.end(), 0);
            std::shuffle(all.begin(), all.end(), rng);
            all.resize(rng() % 4 == 0 ? 1 + rng() % kVolumes : 1 + rng() % 2); // mostly small
            op.volumes = all;
        }
        if (!op.expect_refused) {
            holds[op.container] = op.acquire;
        }
        plan[worker].push_back(op);
    }
    return plan;
}

void run_worker(const std::vector<Operation>& ops, int worker, const std::string& state_dir, const core::Config& config,
                const std::string& driver) {
    const auto store = open_state_store(state_dir);
    const auto drivers = open_driver_set(config);
    Node node(*store, *drivers);
    for (const auto& op : ops) {
        const std::string id = container_id(op.container);
        if (!op.acquire) {
            if (node.release(id) == op.expect_refused) {
                throw core::Error(fmt::format("release of {}: expected {}", id, !op.expect_refused));
            }
            continue;
        }
        std::vector<Request> requests;
        for (const int v : op.volumes) {
            requests.push_back(volume_request(driver, volume_name(v)));
        }
        try {
            node.acquire(ContainerRef{id, "oci", ProcessId{}}, requests, trivial_placer());
        } catch (const core::InputError& e) {
            if (!op.expect_refused) {
                throw;
            }
            continue;
        }
        if (op.expect_refused) {
            throw core::Error(fmt::format("acquire of {} should have been refused", id));
        }
    }
    for (const int c : {2 * worker, 2 * worker + 1}) {
        node.release(container_id(c));
    }
}

std::uint32_t load_seed() {
    if (const char* s = std::getenv("DVDI_LOAD_SEED")) {
        return static_cast<std::uint32_t>(std::strtoul(s, nullptr, 10));
    }
    return std::random_device{}();
}

} // namespace

TEST_CASE("16 hooks in parallel: one Mount per busy period, balanced Unmounts, an empty state after",
          "[volumes][node][load]") {
    const std::uint32_t seed = load_seed();
    std::cout << "node load test: seed " << seed << " (DVDI_LOAD_SEED=" << seed << " repeats it)\n";
    INFO("seed " << seed);
    TestPlugin plugin;
    const TempDir state("dvdi-node-load");
    const core::Config config = plugin.config();
    const auto plan = make_plan(seed);

    std::vector<std::unique_ptr<Hook>> hooks;
    for (int w = 0; w < kWorkers; ++w) {
        hooks.push_back(std::make_unique<Hook>(
            [&, w] { run_worker(plan[w], w, (state / "state").string(), config, plugin.name()); }));
    }
    for (auto& h : hooks) {
        CHECK(exited_ok(h->wait()));
    }

    std::set<std::string> names;
    for (int v = 0; v < kVolumes; ++v) {
        names.insert(volume_name(v));
    }
    const auto periods = check_mount_history(plugin, names);
    std::size_t mounts = 0;
    for (const auto& [name, ids] : periods) {
        mounts += ids.size();
    }
    std::cout << "node load test: " << mounts << " busy periods over " << kVolumes << " volumes\n";
    INFO(mounts << " busy periods");
    CHECK(mounts > 0);
    CHECK(plugin.calls("VolumeDriver.Mount").size() == mounts);
    CHECK(plugin.calls("VolumeDriver.Unmount").size() == mounts);
    // The only refusals: the first Get of each volume, which does not exist yet (then Create).
    std::map<std::string, int> refused_gets;
    for (const auto& c : plugin.calls()) {
        INFO(c.dump());
        if (c["method"] == "VolumeDriver.Get" && c["status"] == 500) {
            CHECK(++refused_gets[c["body"]["Name"]] == 1);
        } else {
            CHECK(succeeded(c));
        }
    }
    CHECK(plugin.calls("VolumeDriver.Create").size() == refused_gets.size());
    CHECK(plugin_mounts(plugin) == "{}");

    const auto store = open_state_store((state / "state").string());
    CHECK(store->read().empty());
    const auto drivers = open_driver_set(config);
    Node node(*store, *drivers);
    const auto report = node.gc();
    CHECK(report.actions.empty());
    CHECK(report.failures.empty());
}

TEST_CASE("a Mount that hangs on one volume stalls the hooks of no other volume, and the hooks of its own",
          "[volumes][node][load]") {
    TestPlugin plugin;
    const TempDir state("dvdi-node-slow");
    const std::string gate = (state / "gate").string();
    plugin.behave("VolumeDriver.Mount/slowvol", "wait:" + gate);
    auto timeouts = TestPlugin::fast_timeouts();
    timeouts.mount = std::chrono::seconds(120);
    const core::Config config = plugin.config(timeouts);
    const std::string dir = (state / "state").string();
    const auto acquire = [&](const std::string& id, const std::string& volume) {
        return [&, id, volume] {
            const auto store = open_state_store(dir);
            const auto drivers = open_driver_set(config);
            Node(*store, *drivers)
                .acquire(ContainerRef{id, "oci", ProcessId{}}, {volume_request(plugin.name(), volume)},
                         trivial_placer());
        };
    };
    const auto mount_of = [&](const std::string& volume) {
        for (const auto& c : plugin.calls("VolumeDriver.Mount")) {
            if (c["body"]["Name"] == volume) {
                return c;
            }
        }
        return nlohmann::json();
    };

    Hook slow(acquire("c-slow", "slowvol"));
    REQUIRE(wait_until([&] { return !mount_of("slowvol").is_null(); }));
    Hook same(acquire("c-same", "slowvol")); // waits for the volume lock
    Hook other(acquire("c-other", "fastvol"));
    REQUIRE(exited_ok(other.wait()));
    // The other volume's hook is done while the slow Mount is still unanswered, and the second
    // hook of the slow volume is still waiting for it.
    CHECK_FALSE(mount_of("slowvol").contains("end"));
    CHECK(same.running());

    write_file(gate, "");
    REQUIRE(exited_ok(slow.wait()));
    REQUIRE(exited_ok(same.wait()));
    const auto slow_mount = mount_of("slowvol");
    const auto fast_mount = mount_of("fastvol");
    CHECK(fast_mount["start"].get<long>() > slow_mount["start"].get<long>());
    CHECK(fast_mount["end"].get<long>() < slow_mount["end"].get<long>());
    CHECK(plugin.calls("VolumeDriver.Mount").size() == 2); // the second user of slowvol shares its mount

    const auto store = open_state_store(dir);
    const auto drivers = open_driver_set(config);
    Node node(*store, *drivers);
    const auto s = store->read();
    REQUIRE(s.volumes.size() == 2);
    for (const auto& id : {"c-slow", "c-same", "c-other"}) {
        CHECK(node.release(id));
    }
    check_mount_history(plugin, {"slowvol", "fastvol"});
    CHECK(plugin_mounts(plugin) == "{}");
    CHECK(store->read().empty());
}

TEST_CASE("64 containers take one volume at once, then let it go at once: one Mount, one Unmount",
          "[volumes][node][load]") {
    constexpr int kAtOnce = 64;
    TestPlugin plugin;
    const TempDir state("dvdi-node-64");
    const core::Config config = plugin.config();
    const std::string dir = (state / "state").string();
    const auto id = [](int c) { return fmt::format("c{:02}", c); };
    const auto all_at_once = [&](const std::function<void(Node&, const std::string&)>& step) {
        std::vector<std::unique_ptr<Hook>> hooks;
        for (int c = 0; c < kAtOnce; ++c) {
            hooks.push_back(std::make_unique<Hook>([&, c] {
                const auto store = open_state_store(dir);
                const auto drivers = open_driver_set(config);
                Node node(*store, *drivers);
                step(node, id(c));
            }));
        }
        for (auto& h : hooks) {
            CHECK(exited_ok(h->wait()));
        }
    };

    all_at_once([&](Node& node, const std::string& c) {
        node.acquire(ContainerRef{c, "oci", ProcessId{}}, {volume_request(plugin.name(), "shared")}, trivial_placer());
    });
    const auto s = open_state_store(dir)->read();
    REQUIRE(s.volumes.size() == 1);
    CHECK(s.volumes[0].status == VolumeStatus::mounted);
    CHECK(s.volumes[0].users.size() == kAtOnce);
    CHECK(s.containers.size() == kAtOnce);
    CHECK(plugin.calls("VolumeDriver.Mount").size() == 1);

    all_at_once([&](Node& node, const std::string& c) {
        if (!node.release(c)) {
            throw core::Error("release of " + c + " found nothing");
        }
    });
    CHECK(plugin.calls("VolumeDriver.Unmount").size() == 1);
    CHECK(plugin_mounts(plugin) == "{}");
    CHECK(open_state_store(dir)->read().empty());
    check_mount_history(plugin, {"shared"});
}
