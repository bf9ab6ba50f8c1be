#include <unistd.h>

#include <algorithm>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "lib/core/core.hpp"
#include "tests/harness/harness.hpp"

using namespace dvdi::core;
using namespace std::chrono_literals;

TEST_CASE("an empty config object gives every default of SPEC S5", "[core][config]") {
    const Config c = parse_config("{}", "test.json");
    CHECK(c.default_driver == "rexray");
    CHECK(c.state_dir == "/run/dvdi");
    CHECK(c.data_dir == "/var/lib/dvdi");
    CHECK(c.plugin_socket_dirs == std::vector<std::string>{"/run/docker/plugins"});
    CHECK(c.plugin_spec_dirs == std::vector<std::string>{"/etc/docker/plugins", "/usr/lib/docker/plugins"});
    CHECK(c.timeouts.connect == 10s);
    CHECK(c.timeouts.create == 120s);
    CHECK(c.timeouts.mount == 120s);
    CHECK(c.timeouts.other == 60s);
    CHECK(c.timeouts.retry_budget == 30s);
    CHECK(c.timeouts.plugin_wait == 30s); // the wait for a plugin's socket, as before it had a key
    CHECK(c.auto_create_prefixes == std::vector<std::string>{"/tmp"});
    CHECK(c.allowed_drivers.empty());
    CHECK(c.syslog);
    CHECK(c.log_level == "info");
    CHECK(c.node_name.empty()); // the host name, by node_name()
}

TEST_CASE("every key can be set and survives to_json", "[core][config]") {
    const char* text = R"({
        "default_driver": "local", "state_dir": "/var/run/x", "data_dir": "/srv/vols",
        "plugin_socket_dirs": ["/p/s"], "plugin_spec_dirs": ["/p/a", "/p/b"],
        "timeouts": {"connect": 0.5, "create": 7, "mount": 8, "other": 9, "retry_budget": 2,
                     "plugin_wait": 0.25},
        "auto_create_prefixes": ["/tmp", "/mnt"], "allowed_drivers": ["local", "rexray"],
        "node_name": "agent-7.dc1", "syslog": false, "log_level": "debug"})";
    const Config c = parse_config(text, "test.json");
    CHECK(c.default_driver == "local");
    CHECK(c.timeouts.connect == 500ms);
    CHECK(c.timeouts.create == 7s);
    CHECK(c.allowed_drivers.size() == 2);
    CHECK_FALSE(c.syslog);
    const nlohmann::json j = c;
    const Config again = parse_config(j.dump(), "round-trip");
    CHECK(again.timeouts.connect == 500ms);
    CHECK(c.timeouts.plugin_wait == 250ms);
    CHECK(again.timeouts.plugin_wait == 250ms);
    CHECK(again.plugin_spec_dirs == c.plugin_spec_dirs);
    CHECK(again.auto_create_prefixes == c.auto_create_prefixes);
    CHECK(again.node_name == "agent-7.dc1");
    CHECK(node_name(again) == "agent-7.dc1");
}

TEST_CASE("config errors name the file, the key, the value and the rule", "[core][config]") {
    struct Case {
        const char* text;
        const char* message;
    };
    const Case cases[] = {
        {R"({"default_drivr": "x"})", R"(c.json: default_drivr: "x": unknown configuration key)"},
        {R"({"timeouts": {"mount": 1, "umount": 2}})", R"(c.json: timeouts.umount: "2": unknown configuration key)"},
        {R"({"state_dir": "run/dvdi"})", R"(c.json: state_dir: "run/dvdi": must be an absolute path)"},
        {R"({"state_dir": 5})", R"(c.json: state_dir: "5": must be a string)"},
        {R"({"plugin_spec_dirs": "/etc"})", "c.json: plugin_spec_dirs: "},
        {R"({"auto_create_prefixes": ["tmp"]})", R"(c.json: auto_create_prefixes: "tmp": must be an absolute path)"},
        {R"({"timeouts": {"connect": 0}})", "c.json: timeouts.connect: \"0\": must be a number of seconds"},
        {R"({"timeouts": {"connect": "10"}})", "c.json: timeouts.connect: "},
        {R"({"timeouts": 5})", "c.json: timeouts: \"5\": must be an object"},
        {R"({"timeouts": {"plugin_wait": -1}})", "c.json: timeouts.plugin_wait: \"-1\": must be a number of seconds"},
        {R"({"timeouts": {"plugin_wait": 90000}})", "c.json: timeouts.plugin_wait: \"90000\": must be a number"},
        {R"({"timeouts": {"plugin_wiat": 5}})", "c.json: timeouts.plugin_wiat: \"5\": unknown configuration key"},
        {R"({"default_driver": "../x"})", "c.json: default_driver: \"../x\": a driver name must match"},
        {R"({"allowed_drivers": ["ok", "a/b"]})", "c.json: allowed_drivers: \"a/b\""},
        {R"({"syslog": "yes"})", "c.json: syslog: "},
        {R"({"log_level": "loud"})", "c.json: log_level: \"loud\""},
        // The node's name goes into every mount ID a plugin sees: no separator, no path.
        {R"({"node_name": "a:b"})", "c.json: node_name: \"a:b\": must be at most 253 characters"},
        {R"({"node_name": "../x"})", "c.json: node_name: \"../x\": must be"},
        {R"({"node_name": "-x"})", "c.json: node_name: \"-x\": must be"},
        {R"([1, 2])", "c.json: \"[1,2]\": the configuration must be a JSON object"},
        {R"({"state_dir": )", "config file c.json: line 1, column 15: not valid JSON: "},
    };
    for (const auto& c : cases) {
        INFO(c.text);
        CHECK_THROWS_AS(parse_config(c.text, "c.json"), InputError);
        CHECK_THROWS_WITH(parse_config(c.text, "c.json"), Catch::StartsWith(c.message));
    }
}

TEST_CASE("a broken config file is reported by position and reason, never echoed", "[core][config]") {
    // What an operator's broken file looks like (truncated by a full disk, a stray byte from a
    // bad copy, a trailing comma), and what a hostile one would try: bytes that drive the
    // terminal or a secret near the error must not come back in the message.
    const struct {
        std::string text;
        std::string message;
    } cases[] = {
        {"{\n  \"state_dir\": \"/run/dvdi\",\n  \"default_dri", "config file /etc/c.json: line 3, column 15: "},
        {"{\n  \"state_dir\": \"/run/\xff\x1b[2Jsecret\"\n}", "config file /etc/c.json: line 2, column 22: "},
        {"{\"syslog\": true,\n \"log_level\": \"info\",\n}", "config file /etc/c.json: line 3, column 1: "},
        {"\xff\xfe{}", "config file /etc/c.json: line 1, column 1: "},
        {"", "config file /etc/c.json: line 1, column 1: "},
    };
    for (const auto& c : cases) {
        std::string message;
        try {
            (void)parse_config(c.text, "/etc/c.json");
        } catch (const InputError& e) {
            message = e.what();
        }
        INFO(c.text);
        INFO(message);
        CHECK(message.starts_with(c.message + "not valid JSON: syntax error"));
        // Nothing of the file: no raw byte of it, no escaped one, no word near the error.
        CHECK(message.find("\\x") == std::string::npos);
        CHECK(message.find("\\u") == std::string::npos);
        CHECK(message.find("last read") == std::string::npos);
        CHECK(message.find("secret") == std::string::npos);
        CHECK(message.find("default_dri") == std::string::npos);
        CHECK(message.find("info") == std::string::npos);
        CHECK(std::all_of(message.begin(), message.end(), [](char ch) { return ch >= 0x20 && ch < 0x7f; }));
    }
}

TEST_CASE("a missing config file is the defaults only when it was not named", "[core][config]") {
    dvdi::test::TempDir dir;
    const auto missing = (dir / "none.json").string();
    CHECK(load_config(missing, false).state_dir == "/run/dvdi");
    CHECK_THROWS_WITH(load_config(missing, true), Catch::Contains("cannot read the configuration file"));
    dvdi::test::write_file(dir / "c.json", R"({"state_dir": "/srv/state"})");
    CHECK(load_config((dir / "c.json").string(), true).state_dir == "/srv/state");
    dvdi::test::write_file(dir / "bad.json", R"({"bogus": 1})");
    CHECK_THROWS_WITH(load_config((dir / "bad.json").string(), false),
                      Catch::StartsWith((dir / "bad.json").string() + ": bogus"));
}

TEST_CASE("the operator's tenant policy: local_volumes, driver_policy, host_path_prefixes", "[core][config]") {
    const char* text = R"({
        "local_volumes": [{"name": "scratch-*", "type": "tmpfs", "device": "tmpfs", "o": "size=1m"},
                          {"name": "nfs", "type": "nfs", "device": ":/export"}],
        "driver_policy": {"rexray": {"tenant_options": ["size"], "mountpoint_prefixes": ["/var/lib/rexray"]},
                          "open": {}},
        "host_path_prefixes": ["/etc/ebs-explicit"]})";
    const Config c = parse_config(text, "c.json");
    REQUIRE(c.local_volumes.size() == 2);
    CHECK(find_local_volume(c, "scratch-12")->o == "size=1m");
    CHECK(find_local_volume(c, "nfs")->type == "nfs");
    CHECK(find_local_volume(c, "nfs2") == nullptr);
    CHECK(*c.driver_policy.at("rexray").tenant_options == std::vector<std::string>{"size"});
    CHECK_FALSE(c.driver_policy.at("open").tenant_options.has_value()); // absent: any key
    CHECK(c.host_path_prefixes == std::vector<std::string>{"/etc/ebs-explicit"});
    const Config again = parse_config(nlohmann::json(c).dump(), "round-trip");
    CHECK(again.local_volumes.size() == 2);
    CHECK(*again.driver_policy.at("rexray").tenant_options == std::vector<std::string>{"size"});
    CHECK_FALSE(again.driver_policy.at("open").tenant_options.has_value());
    CHECK(again.driver_policy.at("rexray").mountpoint_prefixes == std::vector<std::string>{"/var/lib/rexray"});

    const auto error = [](const char* t) {
        try {
            (void)parse_config(t, "c.json");
        } catch (const InputError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK(error(R"({"local_volumes": [{"name": "x", "type": "tmpfs"}]})") ==
          "c.json: local_volumes[0].type: \"tmpfs\": type and device are both needed (a plain directory volume "
          "needs no definition)");
    CHECK(error(R"({"local_volumes": [{"name": "a/b", "type": "t", "device": "d"}]})") ==
          "c.json: local_volumes[0].name: \"a/b\": a volume name or pattern, not empty, without '/'");
    CHECK(error(R"({"local_volumes": [{"name": "x", "type": "t", "device": "d", "opts": "y"}]})") ==
          "c.json: local_volumes[0].opts: \"y\": unknown configuration key");
    CHECK(error(R"({"driver_policy": {"local": {}}})") ==
          "c.json: driver_policy.local: \"local\": the local driver takes no options from tenants and its "
          "mountpoints are its own: define local_volumes instead");
    CHECK(error(R"({"driver_policy": {"a/b": {}}})") ==
          "c.json: driver_policy.a/b: \"a/b\": a driver name must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
    CHECK(error(R"({"driver_policy": {"x": {"mountpoint_prefixes": ["rel"]}}})") ==
          "c.json: driver_policy.x.mountpoint_prefixes: \"rel\": must be an absolute path");
    CHECK(error(R"({"host_path_prefixes": ["etc"]})") ==
          "c.json: host_path_prefixes: \"etc\": must be an absolute path");
}

TEST_CASE("the node's name defaults to the host name, made safe for a mount ID", "[core][config]") {
    const std::string name = node_name(Config{});
    REQUIRE_FALSE(name.empty());
    CHECK(name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
          std::string::npos);
    char host[256] = {};
    REQUIRE(::gethostname(host, sizeof host - 1) == 0);
    if (std::string(host).find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
        std::string::npos) {
        CHECK(name == host);
    }
    CHECK(node_name(parse_config(R"({"node_name": "n1"})", "c.json")) == "n1");
}
