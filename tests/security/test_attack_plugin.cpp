// The attack suite, part 3: a hostile or broken plugin, end to end through real runc and the
// built hook (tests/volumes/test_plugin_attacks.cpp holds the same attacks against the client
// alone). Each attack must fail the container with a clear error, leave the plugin holding no
// mount (a refused Mountpoint is unmounted with the same ID), nothing mounted, no state, and
// the hook's memory bounded.
#include <algorithm>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "tests/harness/harness.hpp"
#include "tests/hook/mesos_stage.hpp"
#include "tests/security/attack.hpp"

using namespace dvdi;
using namespace dvdi::test;
using namespace std::chrono_literals;

namespace {

bool has_control_byte(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && c != '\n') || u == 0x7F;
    });
}

CommandResult run_attack(const AttackNode& node, const TestPlugin& plugin, const std::string& name) {
    auto b = node.bundle("echo ESCAPED", {"DVDI_VOLUME_NAME=" + name, "DVDI_VOLUME_DRIVER=" + plugin.name(),
                                          "DVDI_VOLUME_CONTAINERPATH=/data"});
    b.write();
    auto r = run_container("runc", b, "dvdi-attack-plugin");
    INFO(r.err);
    REQUIRE(r.status != 0);
    REQUIRE(r.out.find("ESCAPED") == std::string::npos);
    REQUIRE(AttackNode::mounts_mentioning(plugin.volumes_dir().string()).empty());
    REQUIRE(node.state().empty());
    node.require_plugin_holds_nothing();
    return r;
}

} // namespace

TEST_CASE("attack: a plugin answers Mount with /, a system directory, a relative or no path", "[attack][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    TestPlugin plugin;
    in_private_mount_ns([&] {
        const AttackNode node(&plugin);
        for (const std::string& mountpoint : {std::string("/"), std::string("/etc"), std::string("relative/dir"),
                                              std::string(), plugin.socket_dir().string()}) {
            INFO("Mountpoint " << mountpoint);
            plugin.behave("VolumeDriver.Mount", "mountpoint:" + mountpoint);
            const auto r = run_attack(node, plugin, "mp");
            REQUIRE_THAT(r.err, Catch::Contains("returned the mountpoint") && Catch::Contains("which is refused") &&
                                    Catch::Contains("unmounted it again"));
        }
        // Each Mount the plugin accepted was undone with its ID (require_plugin_holds_nothing).
        REQUIRE(plugin.calls("VolumeDriver.Mount").size() == 5);
        REQUIRE(plugin.calls("VolumeDriver.Unmount").size() == 5);
    });
}

TEST_CASE("attack: a plugin floods the hook with an endless answer; the hook's memory stays bounded",
          "[attack][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    TestPlugin plugin;
    in_private_mount_ns([&] {
        AttackNode node(&plugin);
        for (const std::string flood : {"trailers", "chunkext", "headers", "huge"}) {
            INFO(flood);
            plugin.behave("VolumeDriver.Mount", flood);
            const auto r = run_attack(node, plugin, "flood");
            REQUIRE_THAT(r.err, Catch::Contains("over 1") || Catch::Contains("more than 100 header lines"));
            REQUIRE_THAT(r.err, Catch::Contains("(unmounted it again)")); // it may have counted the Mount
            // The same by hand, measured: the plugin would send 256 MiB; the hook stops at its
            // cap (about 1 MiB) and its peak RSS stays small.
            const auto measured = run({"/usr/bin/time", "-f", "maxrss-kib=%M", hook_binary().string(), "--config",
                                       node.config.string(), "mount", "-d", plugin.name(), "flood"});
            REQUIRE(measured.status != 0);
            const auto at = measured.err.find("maxrss-kib=");
            REQUIRE(at != std::string::npos);
            INFO(measured.err);
            REQUIRE(std::stol(measured.err.substr(at + 11)) < 32 * 1024);
            node.require_plugin_holds_nothing();
        }
    });
}

TEST_CASE("attack: control characters in a plugin's Err cannot forge a line in runc's, the log's or Mesos' output",
          "[attack][root]") {
    DVDI_REQUIRE_ROOT();
    DVDI_REQUIRE_PROGRAM("runc");
    TestPlugin plugin;
    in_private_mount_ns([&] {
        const AttackNode node(&plugin);
        // A refusal, as a plugin words it (Create refused: nothing was mounted; the test plugin
        // makes the volume all the same, so each attempt names a new one).
        plugin.behave("VolumeDriver.Create", "errctl");
        const auto r = run_attack(node, plugin, "forged");
        REQUIRE_THAT(r.err, Catch::Contains("FORGED: line2"));
        REQUIRE_FALSE(has_control_byte(r.err));
        // The Mesos module shows the ERROR file as the task's failure message: one line.
        const std::string input =
            R"({"container_id":{"value":"forged-task"},"container_config":{"directory":")" +
            (node.dir / "sandbox").string() +
            R"(","command_info":{"environment":{"variables":[{"name":"DVDI_VOLUME_NAME","type":"VALUE","value":"forged2"},)"
            R"({"name":"DVDI_VOLUME_DRIVER","type":"VALUE","value":")" +
            plugin.name() + R"("}]}}}})";
        const auto m = mesos_stage(node.config, "prepare", input);
        REQUIRE(m.status == 1);
        REQUIRE(std::count(m.error.begin(), m.error.end(), '\n') == 1);
        REQUIRE_FALSE(has_control_byte(m.error));
        REQUIRE_THAT(m.error, Catch::Contains("FORGED: line2"));
        REQUIRE(std::count(m.err.begin(), m.err.end(), '\n') == 1);
        REQUIRE(node.state().empty());
    });
}
