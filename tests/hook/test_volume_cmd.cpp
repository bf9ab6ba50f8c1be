// `dvdi-hook volume create|ls|inspect|rm` through the built binary, against the built-in `local`
// driver and a real test plugin over its socket: what the driver was asked, what was printed,
// the exit status, and what the node recorded.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/harness/harness.hpp"
#include "tests/hook/node_dir.hpp"
#include "tests/plugin/test_plugin.hpp"

using namespace dvdi;
using namespace dvdi::test;
using nlohmann::json;

namespace {

struct Cli : NodeDir {
    explicit Cli(const TestPlugin* plugin = nullptr) : NodeDir("dvdi-volume-cmd", plugin) {}
    CommandResult operator()(std::vector<std::string> args) const {
        args.insert(args.begin(), {hook_binary().string(), "--config", config.string()});
        return run(args);
    }
    [[nodiscard]] fs::path catalog() const { return dir / "data" / "catalog.json"; }
};

// The lines of `text` that contain `needle`.
std::size_t lines_with(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        n += line.find(needle) != std::string::npos ? 1 : 0;
    }
    return n;
}

} // namespace

TEST_CASE("volume create/ls/inspect/rm with the local driver, as docker volume", "[hook][volume-cmd]") {
    const Cli cli;
    const auto created = cli({"volume", "create", "-d", "local", "plain"});
    INFO(created.err);
    REQUIRE(created.status == 0);
    CHECK(created.out == "plain\n"); // as Docker: the name
    CHECK(fs::is_directory(cli.dir / "data/volumes/plain/_data"));
    // The operator's options for a local volume (what a tenant may not set); not mounted yet.
    REQUIRE(cli({"volume", "create", "-d", "local", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m",
                 "--label", "team=storage", "--label", "tier", "scratch"})
                .status == 0);

    SECTION("creating it again with the same options and labels is not an error") {
        const auto again = cli({"volume", "create", "-d", "local", "-o", "o=size=1m", "-o", "type=tmpfs", "-o",
                                "device=tmpfs", "--label", "tier", "--label", "team=storage", "scratch"});
        INFO(again.err);
        CHECK(again.status == 0);
        CHECK(again.out == "scratch\n");
        CHECK(cli({"volume", "create", "-d", "local", "plain"}).status == 0);
    }
    SECTION("creating it again with other options or labels is, naming both, and changes nothing") {
        const auto other = cli({"volume", "create", "-d", "local", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o",
                                "o=size=2m", "--label", "team=storage", "--label", "tier", "scratch"});
        CHECK(other.status == 1);
        CHECK(other.out.empty());
        CHECK_THAT(other.err, Catch::Contains("volume local/scratch already exists with "
                                              "\"device=tmpfs,o=size=1m,type=tmpfs\"") &&
                                  Catch::Contains("asked for \"device=tmpfs,o=size=2m,type=tmpfs\""));
        const auto relabel = cli({"volume", "create", "-d", "local", "--label", "x=1", "plain"});
        CHECK(relabel.status == 1);
        CHECK_THAT(relabel.err, Catch::Contains("already exists with no options and no labels"));
        const auto inspect = json::parse(cli({"volume", "inspect", "scratch"}).out);
        CHECK(inspect[0]["Options"]["o"] == "size=1m");
    }
    SECTION("ls: Docker's table, -q, --format json") {
        const auto table = cli({"volume", "ls"});
        INFO(table.err);
        REQUIRE(table.status == 0);
        CHECK(table.out == "DRIVER    VOLUME NAME   ON THIS NODE\n"
                           "local     plain         -\n"
                           "local     scratch       -\n");
        CHECK(cli({"volume", "ls", "-q"}).out == "plain\nscratch\n");
        const auto lines = cli({"volume", "ls", "--format", "json"});
        REQUIRE(lines.status == 0);
        std::vector<json> rows;
        std::istringstream in(lines.out);
        for (std::string line; std::getline(in, line);) {
            rows.push_back(json::parse(line));
        }
        REQUIRE(rows.size() == 2);
        CHECK(rows[1]["Name"] == "scratch");
        CHECK(rows[1]["Driver"] == "local");
        CHECK(rows[1]["Labels"] == "team=storage,tier=");
        CHECK(rows[1]["Scope"] == "local");
        CHECK(rows[1]["Node"].is_null());
    }
    SECTION("inspect: Docker's JSON, the options the driver keeps and the labels this node keeps") {
        const auto r = cli({"volume", "inspect", "scratch", "plain"});
        INFO(r.err);
        REQUIRE(r.status == 0);
        const auto j = json::parse(r.out);
        REQUIRE(j.size() == 2);
        CHECK(j[0]["Name"] == "scratch");
        CHECK(j[0]["Driver"] == "local");
        CHECK(j[0]["Mountpoint"] == (cli.dir / "data/volumes/scratch/_data").string());
        CHECK(j[0]["Options"] == json{{"type", "tmpfs"}, {"device", "tmpfs"}, {"o", "size=1m"}});
        CHECK(j[0]["Labels"] == json{{"team", "storage"}, {"tier", ""}});
        CHECK(j[0]["Scope"] == "local");
        CHECK(j[0]["CreatedAt"].get<std::string>().size() == 20); // 2026-12-01T05:28:25Z
        CHECK(j[0]["Node"].is_null());
        CHECK(j[1]["Options"].is_null());
        CHECK(j[1]["Labels"].is_null());
        const auto missing = cli({"volume", "inspect", "nope"});
        CHECK(missing.status == 1);
        CHECK_THAT(missing.err, Catch::Contains("no such volume: \"nope\""));
        // Several names, one missing: the others are shown, the missing one said, exit 1.
        const auto some = cli({"volume", "inspect", "plain", "nope"});
        CHECK(some.status == 1);
        CHECK(json::parse(some.out).size() == 1);
        CHECK(lines_with(some.err, "no such volume: \"nope\"") == 1);
    }
    SECTION("rm removes the volume and its record; again is an error, unless -f") {
        const auto r = cli({"volume", "rm", "scratch", "plain"});
        INFO(r.err);
        REQUIRE(r.status == 0);
        CHECK(r.out == "scratch\nplain\n");
        CHECK_FALSE(fs::exists(cli.dir / "data/volumes/scratch"));
        CHECK(json::parse(read_file(cli.catalog()))["volumes"].empty());
        const auto again = cli({"volume", "rm", "scratch"});
        CHECK(again.status == 1);
        CHECK_THAT(again.err, Catch::Contains("no such volume: \"scratch\""));
        const auto forced = cli({"volume", "rm", "-f", "scratch"});
        CHECK(forced.status == 0);
        CHECK(forced.out.empty());
        CHECK(cli({"volume", "ls", "-q"}).out.empty());
    }
}

TEST_CASE("volume commands against a plugin: Create with the options, labels kept here, rm refused while in use",
          "[hook][volume-cmd]") {
    TestPluginOptions o;
    o.scope = "global";
    TestPlugin plugin(o);
    const Cli cli(&plugin);
    const auto created = cli({"volume", "create", "-d", "testplug", "-o", "size=5", "--label", "team=a", "v1"});
    INFO(created.err);
    REQUIRE(created.status == 0);
    CHECK(created.out == "v1\n");
    auto creates = plugin.calls("VolumeDriver.Create");
    REQUIRE(creates.size() == 1);
    CHECK(creates[0]["body"] == json{{"Name", "v1"}, {"Opts", {{"size", "5"}}}}); // labels never reach the driver

    // The same again: no second Create. Other options: an error, and no Create either.
    CHECK(cli({"volume", "create", "-d", "testplug", "-o", "size=5", "--label", "team=a", "v1"}).status == 0);
    const auto other = cli({"volume", "create", "-d", "testplug", "-o", "size=6", "--label", "team=a", "v1"});
    CHECK(other.status == 1);
    CHECK_THAT(other.err, Catch::Contains("volume testplug/v1 already exists with \"size=5\" and \"team=a\"; "
                                          "asked for \"size=6\" and \"team=a\""));
    CHECK(plugin.calls("VolumeDriver.Create").size() == 1);
    // A volume the plugin has that this node did not create: its options cannot be compared.
    fs::create_directories(plugin.volumes_dir() / "foreign");
    CHECK(cli({"volume", "create", "-d", "testplug", "foreign"}).status == 0);
    const auto foreign = cli({"volume", "create", "-d", "testplug", "-o", "size=1", "foreign"});
    CHECK(foreign.status == 1);
    CHECK_THAT(foreign.err, Catch::Contains("was not made by `dvdi-hook volume create` on this node"));
    CHECK(plugin.calls("VolumeDriver.Create").size() == 1);
    REQUIRE(cli({"volume", "create", "-d", "local", "here"}).status == 0);

    const auto table = cli({"volume", "ls"});
    INFO(table.err);
    REQUIRE(table.status == 0);
    CHECK(table.out == "DRIVER     VOLUME NAME   ON THIS NODE\n"
                       "local      here          -\n"
                       "testplug   foreign       -\n"
                       "testplug   v1            -\n");
    CHECK(cli({"volume", "ls", "-d", "testplug", "-q"}).out == "foreign\nv1\n");

    // Found without -d: the node's record of `volume create` names the driver.
    const auto inspected = cli({"volume", "inspect", "v1"});
    INFO(inspected.err);
    REQUIRE(inspected.status == 0);
    auto j = json::parse(inspected.out).at(0);
    CHECK(j["Driver"] == "testplug");
    CHECK(j["Scope"] == "global"); // the plugin's Capabilities
    CHECK(j["Options"] == json{{"size", "5"}});
    CHECK(j["Labels"] == json{{"team", "a"}});
    CHECK(j["Mountpoint"] == (plugin.volumes_dir() / "v1").string());
    CHECK(j["Status"] == json::object());
    CHECK(j["Node"].is_null());
    CHECK(cli({"volume", "inspect", "foreign"}).status == 0); // found by asking every driver

    // In use on this node: inspect and ls show it, rm is refused without calling Remove.
    REQUIRE(cli({"mount", "-d", "testplug", "v1"}).status == 0);
    j = json::parse(cli({"volume", "inspect", "v1"}).out).at(0);
    CHECK(j["Node"]["status"] == "mounted");
    CHECK(j["Node"]["users"] == json{"manual:testplug/v1"});
    CHECK(lines_with(cli({"volume", "ls"}).out, "v1            mounted, 1 user") == 1);
    const auto busy = cli({"volume", "rm", "v1"});
    CHECK(busy.status == 1);
    CHECK_THAT(busy.err, Catch::Contains("volume testplug/v1 is in use on this node (status mounted, users: "
                                         "manual:testplug/v1): not removed"));
    CHECK(plugin.calls("VolumeDriver.Remove").empty());
    REQUIRE(cli({"unmount", "-d", "testplug", "v1"}).status == 0);
    const auto removed = cli({"volume", "rm", "v1"});
    INFO(removed.err);
    REQUIRE(removed.status == 0);
    CHECK(removed.out == "v1\n");
    REQUIRE(plugin.calls("VolumeDriver.Remove").size() == 1);
    CHECK(plugin.calls("VolumeDriver.Remove")[0]["body"]["Name"] == "v1");
    CHECK(read_file(cli.catalog()).find("\"v1\"") == std::string::npos); // its record went with it

    // The same name at two drivers: inspect and rm without -d are bad input naming both.
    REQUIRE(cli({"volume", "create", "-d", "local", "foreign"}).status == 0);
    const auto ambiguous = cli({"volume", "rm", "foreign"});
    CHECK(ambiguous.status == 2);
    CHECK_THAT(ambiguous.err, Catch::Contains("drivers local, testplug each have a volume of that name: name one "
                                              "with -d"));
    CHECK(fs::exists(cli.dir / "data/volumes/foreign"));
    CHECK(plugin.calls("VolumeDriver.Remove").size() == 1);
    REQUIRE(cli({"volume", "rm", "-d", "local", "foreign"}).status == 0);
}

TEST_CASE("volume commands with a plugin that is down: the others are still listed, the plugin is named",
          "[hook][volume-cmd]") {
    TestPlugin plugin;
    const Cli cli(&plugin);
    REQUIRE(cli({"volume", "create", "-d", "testplug", "gone"}).status == 0);
    REQUIRE(cli({"volume", "create", "-d", "local", "here"}).status == 0);
    plugin.stop();

    const auto all = cli({"volume", "ls"});
    INFO(all.err);
    CHECK(all.status == 0); // as `docker volume ls` with a plugin down: a warning
    CHECK(all.out == "DRIVER    VOLUME NAME   ON THIS NODE\n"
                     "local     here          -\n");
    CHECK(lines_with(all.err, "warning: driver testplug did not answer") == 1);

    const auto named = cli({"volume", "ls", "-d", "testplug"});
    CHECK(named.status == 1);
    CHECK_THAT(named.err, Catch::Contains("driver testplug: not listed"));
    const auto inspect = cli({"volume", "inspect", "gone"});
    CHECK(inspect.status == 1);
    CHECK_THAT(inspect.err, Catch::Contains("driver testplug did not answer: ") &&
                                Catch::Contains("no plugin \"testplug\" was found"));
    const auto rm = cli({"volume", "rm", "gone"});
    CHECK(rm.status == 1);
    // Nor is a local volume removed by name alone while a driver that may hold the same name is
    // silent: which volume it is must be sure.
    const auto unsure = cli({"volume", "rm", "here"});
    CHECK(unsure.status == 1);
    CHECK_THAT(unsure.err, Catch::Contains("not every driver answered (see above), so it may be at one of them too: "
                                           "name its driver with -d"));
    CHECK(fs::exists(cli.dir / "data/volumes/here"));
    CHECK(json::parse(read_file(cli.catalog()))["volumes"].size() == 2); // its record stays
    const auto create = cli({"volume", "create", "-d", "testplug", "new"});
    CHECK(create.status == 1);
    CHECK(json::parse(read_file(cli.catalog()))["volumes"].size() == 2);
}

TEST_CASE("volume commands: bad input is exit 2 naming the field, with no driver call and nothing recorded",
          "[hook][volume-cmd]") {
    TestPlugin plugin;
    const Cli cli(&plugin);
    struct Case {
        std::vector<std::string> args;
        std::string says;
    };
    for (const auto& c : std::vector<Case>{
             {{"volume", "create", "-d", "testplug", "a/b"}, "NAME: \"a/b\": a volume name cannot contain '/'"},
             {{"volume", "create", "-d", "testplug", ".."}, "a volume name cannot be '.' or '..'"},
             {{"volume", "create", "-d", "testplug", "a\x1b[2Jb"}, "control characters"},
             {{"volume", "create", "-d", "testplug", "-o", "=5", "v"},
              "--opt: item \"=5\": an option needs a key before '='"},
             {{"volume", "create", "-d", "testplug", "-o", "novalue", "v"}, "--opt: item \"novalue\""},
             {{"volume", "create", "-d", "testplug", "-o", "k=a\nb", "v"}, "control characters"},
             {{"volume", "create", "-d", "testplug", "--label", "=x", "v"}, "--label: \"=x\""},
             {{"volume", "create", "-d", "../../etc/x", "v"}, "--driver"},
             {{"volume", "ls", "--format", "xml"}, "--format: \"xml\": table or json"},
             {{"volume", "ls", "-d", "a/b"}, "--driver"},
             {{"volume", "inspect", "a/b"}, "NAME: \"a/b\""},
             {{"volume", "rm", "ok", "a/b"}, "NAME: \"a/b\""},
             {{"volume"}, "subcommand"},
             {{"volume", "create"}, "name"},
         }) {
        const auto r = cli(c.args);
        INFO(fmt::format("{}", fmt::join(c.args, " ")) << ": " << r.err);
        CHECK(r.status == 2);
        CHECK_THAT(r.err, Catch::Contains(c.says));
        CHECK(r.out.empty());
    }
    CHECK(plugin.calls("VolumeDriver.Create").empty());
    CHECK(plugin.calls("VolumeDriver.Remove").empty());
    CHECK_FALSE(fs::exists(cli.catalog()));
    CHECK_FALSE(fs::exists(cli.dir / "data/volumes/v"));
}

TEST_CASE("volume ls and inspect never pass a plugin's control bytes to the operator's terminal",
          "[hook][volume-cmd][attack]") {
    // A storage operator's plugin (or whoever can create a directory in its store) lists a volume
    // whose name carries terminal escapes: clearing the screen, retitling the window. The table
    // and -q show it escaped, the JSON forms as JSON escapes: no raw ESC reaches the terminal.
    TestPlugin plugin;
    const Cli cli(&plugin);
    fs::create_directories(plugin.volumes_dir() / "evil\x1b[2J\x1b]0;pwned\x07");
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"volume", "ls"}, {"volume", "ls", "-q"}, {"volume", "ls", "--format", "json"}}) {
        const auto r = cli(args);
        INFO(fmt::format("{}", fmt::join(args, " ")) << ": " << r.err);
        CHECK(r.status == 0);
        CHECK(r.out.find("evil") != std::string::npos);
        CHECK(r.out.find('\x1b') == std::string::npos);
        CHECK(r.out.find('\x07') == std::string::npos);
    }
    const auto inspect = cli({"volume", "inspect", "not-utf8-\xff"});
    INFO(inspect.err);
    CHECK(inspect.status == 2); // not a valid name to ask for: never sent to the driver
    CHECK(inspect.err.find('\xff') == std::string::npos);
}
