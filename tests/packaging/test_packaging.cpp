// Packaging (issue 8): the data files shared by the .deb and the .rpm, the man page against the
// CLI it documents, and the built packages: their file lists and metadata, lintian, and the .deb
// installed for real, picked up by podman, and removed.
//
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "build_info.hpp"
#include "tests/harness/harness.hpp"
#include "tests/packaging/packages.hpp"

using namespace dvdi::test;
using nlohmann::json;

namespace {

fs::path files_dir() {
    return source_root() / "packaging" / "files";
}

CommandResult must_run(const std::vector<std::string>& argv) {
    auto r = run(argv);
    INFO(argv.front() << " exited " << r.status << ": " << r.err);
    REQUIRE(r.status == 0);
    return r;
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        out.push_back(line);
    }
    return out;
}

// ---- the CLI and the man page -------------------------------------------------------------

/// What a man page or the CLI offers: "version", "mesos prepare", "mesos prepare --flag", "--config".
using Surface = std::set<std::string>;

/// Walks `dvdi-hook [PATH...] --help` recursively (CLI11's format: "Options:" and
/// "Subcommands:" sections of two-space-indented entries) and collects commands and flags.
void walk_cli(const std::vector<std::string>& path, Surface& out) {
    auto argv = std::vector<std::string>{hook_binary().string()};
    argv.insert(argv.end(), path.begin(), path.end());
    argv.emplace_back("--help");
    const auto r = must_run(argv);
    std::string prefix;
    for (const auto& p : path) {
        prefix += (prefix.empty() ? "" : " ") + p;
    }
    std::string section;
    static const std::regex entry(R"(^  (\S+).*)");
    for (const auto& line : split_lines(r.out)) {
        if (!line.empty() && line.back() == ':' && line.front() != ' ') {
            section = line.substr(0, line.size() - 1);
            continue;
        }
        std::smatch m;
        if (line.empty() || !std::regex_match(line, m, entry)) {
            continue;
        }
        std::string head = m[1];
        if (section == "Subcommands") {
            head = head.substr(0, head.find(',')); // "NAME, ALIAS": a command and its aliases
            out.insert(prefix.empty() ? head : prefix + " " + head);
            auto sub = path;
            sub.push_back(head);
            walk_cli(sub, out);
        } else if (section != "Positionals" && head.starts_with("-")) {
            std::istringstream names(head);
            for (std::string name; std::getline(names, name, ',');) {
                if (name == "-h" || name == "--help") {
                    continue; // every command has it; the man page says so once
                }
                out.insert(prefix.empty() ? name : prefix + " " + name);
            }
        }
    }
}

std::string unroff(std::string s) {
    s = std::regex_replace(s, std::regex(R"(\\f[BIRP])"), "");
    s = std::regex_replace(s, std::regex(R"(\\-)"), "-");
    return s;
}

/// The commands (`.SS "dvdi-hook CMD"`) and the flags (`.TP` heads starting with `\fB\-`) of
/// the GLOBAL OPTIONS and COMMANDS sections.
Surface man_surface(const std::string& page) {
    Surface out;
    std::string section;
    std::string command;
    bool head_next = false;
    static const std::regex flag(R"((-[-A-Za-z0-9]+))");
    for (const auto& line : split_lines(page)) {
        if (line.starts_with(".SH ")) {
            section = line.substr(4);
            command.clear();
            continue;
        }
        if (section != "GLOBAL OPTIONS" && section != "COMMANDS") {
            continue;
        }
        if (line.starts_with(".SS ")) {
            command = unroff(line.substr(4));
            command.erase(std::remove(command.begin(), command.end(), '"'), command.end());
            REQUIRE(command.starts_with("dvdi-hook "));
            command = command.substr(10);
            out.insert(command);
        } else if (line == ".TP") {
            head_next = true;
        } else if (head_next) {
            head_next = false;
            const std::string head = unroff(line);
            if (!head.starts_with("-")) {
                continue; // a positional argument
            }
            // "--config PATH" or "-v, --verbose": the names before the value text.
            for (auto it = std::sregex_iterator(head.begin(), head.end(), flag); it != std::sregex_iterator(); ++it) {
                const std::string name = (*it)[1];
                if (it->position() != 0 && head[static_cast<std::size_t>(it->position()) - 2] != ',') {
                    break;
                }
                if (name != "-h" && name != "--help") {
                    out.insert(command.empty() ? name : command + " " + name);
                }
            }
        }
    }
    return out;
}

CommandResult generate_man(const fs::path& tmpl) {
    return run(
        {"python3", (source_root() / "packaging/man/gen-man.py").string(), hook_binary().string(), tmpl.string()});
}

std::set<std::string> config_keys() {
    TempDir dir;
    write_file(dir / "empty.json", "{}");
    const auto r = must_run({hook_binary().string(), "--config", (dir / "empty.json").string(), "config"});
    std::set<std::string> keys;
    const auto config = json::parse(r.out); // items() refers to it: not a temporary
    for (const auto& [key, value] : config.items()) {
        keys.insert(key);
    }
    return keys;
}

std::string section_of(const std::string& page, const std::string& name) {
    const auto start = page.find("\n.SH " + name + "\n");
    REQUIRE(start != std::string::npos);
    const auto end = page.find("\n.SH ", start + 1);
    return page.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

} // namespace

TEST_CASE("packaging: the hooks.d files are schema 1.0.0, match every container, and have env and timeout",
          "[packaging]") {
    for (const std::string stage : {"prestart", "poststop"}) {
        INFO(stage);
        const auto hook = json::parse(read_file(files_dir() / ("dvdi-hook-" + stage + ".json")));
        CHECK(hook["version"] == "1.0.0");
        CHECK(hook.size() == 4); // version, hook, when, stages: a typo'd key would be ignored
        CHECK(hook["hook"]["path"] == "/usr/bin/dvdi-hook");
        CHECK(hook["hook"]["args"] == json({"dvdi-hook", stage}));
        REQUIRE(hook["hook"]["env"].is_array());
        CHECK_FALSE(hook["hook"]["env"].empty());
        CHECK(hook["hook"]["env"][0].get<std::string>().starts_with("PATH=/"));
        CHECK(hook["hook"]["timeout"].is_number_integer());
        CHECK(hook["hook"]["timeout"].get<int>() > 0);
        CHECK(hook["when"] == json({{"always", true}}));
        CHECK(hook["stages"] == json({stage}));
    }
}

TEST_CASE("packaging: config.json writes out exactly the built-in defaults", "[packaging]") {
    const auto file = files_dir() / "config.json";
    TempDir dir;
    write_file(dir / "empty.json", "{}");
    const auto defaults = must_run({hook_binary().string(), "--config", (dir / "empty.json").string(), "config"});
    const auto loaded = must_run({hook_binary().string(), "--config", file.string(), "config"});
    CHECK(json::parse(read_file(file)) == json::parse(defaults.out)); // every key, every value
    CHECK(json::parse(loaded.out) == json::parse(defaults.out));
}

TEST_CASE("packaging: the Mesos example names the wrappers, which exec the mesos commands", "[packaging]") {
    const auto examples = dvdi::test::source_root() / "examples/mesos";
    const auto modules = json::parse(read_file(examples / "dvdi-hook-modules.json"));
    const auto& module = modules["libraries"][0]["modules"][0];
    CHECK(module["name"] == "com_criteo_mesos_CommandIsolator");
    std::map<std::string, std::string> params;
    for (const auto& p : module["parameters"]) {
        params[p["key"]] = p["value"];
    }
    CHECK(params["module_name"] == "dvdi-hook");
    for (const std::string call : {"prepare", "isolate", "cleanup"}) {
        INFO(call);
        const std::string wrapper = "dvdi-hook-mesos-" + call;
        CHECK(params["isolator_" + call + "_command"] == "/usr/lib/dvdi-hook/mesos/" + wrapper);
        CHECK(std::stoi(params["isolator_" + call + "_timeout"]) > 0);
        const auto path = examples / wrapper;
        CHECK((fs::status(path).permissions() & fs::perms::owner_exec) != fs::perms::none);
        CHECK_THAT(read_file(path), Catch::Contains(" mesos " + call + " \"$@\"\n"));
    }
    CHECK(params.size() == 7);
}

TEST_CASE("packaging: the gc units: a oneshot service runs the packaged binary's gc, an enabled timer starts it, "
          "and no hardening takes the service out of the host's mount namespace",
          "[packaging]") {
    const std::string service = read_file(files_dir() / "dvdi-hook-gc.service");
    const std::string timer = read_file(files_dir() / "dvdi-hook-gc.timer");

    CHECK(unit_values(service, "Service", "Type") == std::vector<std::string>{"oneshot"});
    const auto argv = exec_start_argv(service);
    CHECK(argv == std::vector<std::string>{"/usr/bin/dvdi-hook", "gc"}); // no quoting, no prefix
    Surface cli;
    walk_cli({}, cli);
    CHECK(cli.contains("gc"));
    const auto hook = json::parse(read_file(files_dir() / "dvdi-hook-prestart.json"));
    CHECK(hook["hook"]["path"] == "/usr/bin/dvdi-hook"); // where install.sh puts the binary
    CHECK_THAT(unit_values(service, "Unit", "After").at(0), Catch::Contains("systemd-tmpfiles-setup.service"));
    CHECK_THAT(service, !Catch::Contains("\n[Install]\n")); // static: the timer is the one switch

    CHECK(unit_values(timer, "Timer", "OnBootSec").size() == 1);
    CHECK(unit_values(timer, "Timer", "OnUnitActiveSec").size() == 1);
    CHECK(unit_values(timer, "Timer", "Unit").empty()); // it starts dvdi-hook-gc.service
    CHECK(unit_values(timer, "Install", "WantedBy") == std::vector<std::string>{"timers.target"});

    // gc unmounts on the host and enters containers' mount namespaces as root: each of these
    // would give the service a mount namespace of its own, or take capabilities or setns away.
    for (const char* key : {"ProtectSystem",
                            "ProtectHome",
                            "PrivateTmp",
                            "PrivateDevices",
                            "PrivateMounts",
                            "PrivateUsers",
                            "PrivateNetwork",
                            "ProtectKernelTunables",
                            "ProtectKernelModules",
                            "ProtectKernelLogs",
                            "ProtectControlGroups",
                            "ProtectProc",
                            "ProcSubset",
                            "ProtectClock",
                            "ProtectHostname",
                            "ReadOnlyPaths",
                            "ReadWritePaths",
                            "InaccessiblePaths",
                            "TemporaryFileSystem",
                            "BindPaths",
                            "RootDirectory",
                            "MountFlags",
                            "RestrictNamespaces",
                            "CapabilityBoundingSet",
                            "User",
                            "DynamicUser"}) {
        INFO(key);
        CHECK(unit_values(service, "Service", key).empty());
    }
}

TEST_CASE("packaging: the man page documents exactly the CLI's commands and flags, and the config keys",
          "[packaging][man]") {
    DVDI_REQUIRE_PROGRAM("python3");
    const auto tmpl = source_root() / "packaging/man/dvdi-hook.8.in";
    const auto gen = generate_man(tmpl);
    INFO(gen.err);
    REQUIRE(gen.status == 0);
    const std::string& page = gen.out;

    Surface cli;
    walk_cli({}, cli);
    CHECK(cli.contains("version"));
    CHECK(cli.contains("--config"));
    // Both OCI create stages are commands of their own, each with its own section.
    CHECK(cli.contains("prestart"));
    CHECK(cli.contains("createRuntime"));
    CHECK(man_surface(page) == cli); // both ways: nothing missing, nothing stale

    for (const char* s : {"NAME", "SYNOPSIS", "DESCRIPTION", "GLOBAL OPTIONS", "COMMANDS", "CONFIGURATION",
                          "ENVIRONMENT", "EXIT STATUS", "FILES"}) {
        CHECK_THAT(page, Catch::Contains(std::string("\n.SH ") + s + "\n"));
    }
    std::set<std::string> documented;
    const std::string config = section_of(page, "CONFIGURATION");
    static const std::regex key(R"(\n\.TP\n\.B (\S+)\n)");
    for (auto it = std::sregex_iterator(config.begin(), config.end(), key); it != std::sregex_iterator(); ++it) {
        documented.insert((*it)[1]);
    }
    CHECK(documented == config_keys());
    for (const char* v : {"DVDI_VOLUME_NAME", "DVDI_VOLUME_DRIVER", "DVDI_VOLUME_OPTS", "DVDI_VOLUME_CONTAINERPATH",
                          "DVDI_VOLUME_MODE", "DVDI_VOLUME_EXPLICITCREATE", "DVDI_VOLUME_DVDCLI"}) {
        CHECK_THAT(section_of(page, "ENVIRONMENT"), Catch::Contains(std::string(".B ") + v + "\n"));
    }
    const std::string files = section_of(page, "FILES");
    for (const char* f : {"/usr/bin/dvdi\\-hook", "/etc/dvdi\\-hook/config.json", "dvdi\\-hook\\-prestart.json",
                          "dvdi\\-hook\\-poststop.json", "/run/dvdi", "/usr/lib/dvdi\\-hook/bin/dvdcli",
                          "dvdi\\-hook\\-gc.timer", "dvdi\\-hook\\-gc.service"}) {
        CHECK_THAT(files, Catch::Contains(f));
    }
    CHECK_THAT(section_of(page, "EXIT STATUS"), Catch::Contains(".B 2\nBad input or usage."));

    if (find_program("man")) { // groff renders it without a warning
        TempDir dir;
        write_file(dir / "dvdi-hook.8", page);
        CommandOptions o;
        o.env = std::vector<std::string>{"PATH=/usr/bin:/bin", "MANWIDTH=80", "LC_ALL=C.UTF-8"};
        const auto r = run({"man", "--warnings", "-l", (dir / "dvdi-hook.8").string()}, o);
        CHECK(r.status == 0);
        CHECK(r.err.empty());
        CHECK_THAT(r.out, Catch::Contains("dvdi-hook version"));
    }
}

TEST_CASE("packaging: the man page generator refuses a template whose config keys are out of date",
          "[packaging][man]") {
    DVDI_REQUIRE_PROGRAM("python3");
    std::string tmpl = read_file(source_root() / "packaging/man/dvdi-hook.8.in");
    const auto at = tmpl.find(".TP\n.B syslog\n");
    REQUIRE(at != std::string::npos);
    tmpl.replace(at, 14, ".TP\n.B sys_log\n");
    TempDir dir;
    write_file(dir / "stale.8.in", tmpl);
    const auto r = generate_man(dir / "stale.8.in");
    CHECK(r.status != 0);
    CHECK_THAT(r.err, Catch::Contains("undocumented ['syslog'], unknown ['sys_log']"));
}

// ---- the built packages ---------------------------------------------------------------------

namespace {

struct Entry {
    char type = '-'; ///< 'd', '-', 'l'
    std::string perms;
    std::string link; ///< symlink target
    bool operator==(const Entry&) const = default;
};
using FileList = std::map<std::string, Entry>;

/// Files and links (not directories: a .deb lists every parent, an .rpm only those it owns),
/// outside the distribution-specific documentation directories.
FileList payload_only(const FileList& all) {
    FileList out;
    for (const auto& [path, e] : all) {
        if (e.type != 'd' && !path.starts_with("/usr/share/doc/") && !path.starts_with("/usr/share/licenses/") &&
            !path.starts_with("/usr/share/lintian/")) {
            out[path] = e;
        }
    }
    return out;
}

FileList deb_files(const fs::path& deb) {
    FileList out;
    // drwxr-xr-x root/root         0 2025-01-01 00:00 ./usr/bin/
    static const std::regex line(R"(^(\S)(\S{9}) \S+\s+\d+ \S+ \S+ \.(/\S*?)/?(?: -> (\S+))?$)");
    for (const auto& l : split_lines(must_run({"dpkg-deb", "-c", deb.string()}).out)) {
        std::smatch m;
        REQUIRE(std::regex_match(l, m, line));
        if (m[3] != "") {
            out[m[3]] = {m[1].str()[0], m[2], m[4]};
        }
    }
    return out;
}

FileList rpm_files(const fs::path& rpm) {
    FileList out;
    const auto r = must_run({"rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILENAMES} %{FILELINKTOS}\n]", rpm.string()});
    for (const auto& l : split_lines(r.out)) {
        std::istringstream in(l);
        std::string perms, path, link;
        in >> perms >> path >> link;
        out[path] = {perms[0], perms.substr(1), link};
    }
    return out;
}

const std::set<std::string> kPayload = {
    "/etc/dvdi-hook/config.json",
    "/usr/bin/dvdi-hook",
    "/usr/lib/dvdi-hook/bin/dvdcli",
    "/usr/lib/dvdi-hook/mesos/dvdi-hook-mesos-cleanup",
    "/usr/lib/dvdi-hook/mesos/dvdi-hook-mesos-isolate",
    "/usr/lib/dvdi-hook/mesos/dvdi-hook-mesos-prepare",
    "/usr/lib/systemd/system/dvdi-hook-gc.service",
    "/usr/lib/systemd/system/dvdi-hook-gc.timer",
    "/usr/lib/tmpfiles.d/dvdi-hook.conf",
    "/usr/share/containers/oci/hooks.d/dvdi-hook-poststop.json",
    "/usr/share/containers/oci/hooks.d/dvdi-hook-prestart.json",
    "/usr/share/dvdi-hook/mesos/modules.json",
    "/usr/share/man/man8/dvdi-hook.8.gz",
};

/// The operator's documentation both packages install from the source tree: README.md and
/// docs/*.md, under /usr/share/doc/dvdi-hook/ (docs/ kept, so the README's links hold).
std::map<std::string, fs::path> expected_docs() {
    std::map<std::string, fs::path> out = {{"/usr/share/doc/dvdi-hook/README.md", source_root() / "README.md"}};
    for (const auto& e : fs::directory_iterator(source_root() / "docs")) {
        if (e.path().extension() == ".md") {
            out["/usr/share/doc/dvdi-hook/docs/" + e.path().filename().string()] = e.path();
        }
    }
    return out;
}

/// The documentation files of a package, without the distribution's own (the .deb's copyright
/// and changelog).
std::set<std::string> doc_files(const FileList& all) {
    std::set<std::string> out;
    for (const auto& [path, e] : all) {
        if (e.type != 'd' && path.starts_with("/usr/share/doc/dvdi-hook/") &&
            path != "/usr/share/doc/dvdi-hook/copyright" && path != "/usr/share/doc/dvdi-hook/changelog.Debian.gz") {
            out.insert(path);
        }
    }
    return out;
}

std::set<std::string> keys_of(const std::map<std::string, fs::path>& m) {
    std::set<std::string> out;
    for (const auto& [k, v] : m) {
        out.insert(k);
    }
    return out;
}

std::string deb_field(const fs::path& deb, const std::string& field) {
    auto out = must_run({"dpkg-deb", "-f", deb.string(), field}).out;
    while (!out.empty() && out.back() == '\n') {
        out.pop_back();
    }
    return out;
}

} // namespace

TEST_CASE("packaging: the .deb holds the binary, the hooks, the config as a conffile, tmpfiles, man page, "
          "Mesos files, the dvdcli link and the README and docs",
          "[packaging]") {
    DVDI_REQUIRE_PROGRAM("dpkg-deb");
    DVDI_REQUIRE_PACKAGE(deb, "deb");
    const auto files = deb_files(deb);
    std::set<std::string> payload;
    for (const auto& [path, e] : payload_only(files)) {
        payload.insert(path);
    }
    CHECK(payload == kPayload);
    CHECK(files.at("/usr/bin/dvdi-hook").perms == "rwxr-xr-x");
    CHECK(files.at("/etc/dvdi-hook/config.json").perms == "rw-r--r--");
    CHECK(files.at("/usr/lib/dvdi-hook/bin/dvdcli") == Entry{'l', "rwxrwxrwx", "../../../bin/dvdi-hook"});
    CHECK(files.contains("/usr/share/doc/dvdi-hook/copyright"));

    CHECK(must_run({"dpkg-deb", "-I", deb.string(), "conffiles"}).out == "/etc/dvdi-hook/config.json\n");
    CHECK(deb_field(deb, "Package") == "dvdi-hook");
    CHECK(deb_field(deb, "Version") == std::string(DVDI_VERSION) + "-1");
    // The tmpfiles entry is applied at installation, not only at the next boot.
    CHECK_THAT(must_run({"dpkg-deb", "-I", deb.string(), "postinst"}).out, Catch::Contains("--create dvdi-hook.conf"));
    // The gc timer is enabled and started at installation, stopped at removal, forgotten at purge;
    // the service is not started by dpkg (that would run gc inside it).
    const auto postinst = must_run({"dpkg-deb", "-I", deb.string(), "postinst"}).out;
    CHECK_THAT(postinst, Catch::Contains("deb-systemd-helper enable 'dvdi-hook-gc.timer'"));
    CHECK_THAT(postinst, Catch::Contains("deb-systemd-invoke $_dh_action 'dvdi-hook-gc.timer'"));
    CHECK_THAT(postinst, !Catch::Contains("dvdi-hook-gc.service"));
    CHECK_THAT(must_run({"dpkg-deb", "-I", deb.string(), "prerm"}).out,
               Catch::Contains("deb-systemd-invoke stop 'dvdi-hook-gc.timer'"));
    CHECK_THAT(must_run({"dpkg-deb", "-I", deb.string(), "postrm"}).out,
               Catch::Contains("deb-systemd-helper purge 'dvdi-hook-gc.timer'"));

    // The packaged executable is the static one, and its man page renders.
    TempDir dir;
    must_run({"dpkg-deb", "-x", deb.string(), dir.path().string()});
    CHECK_THAT(must_run({"file", "-L", (dir / "usr/bin/dvdi-hook").string()}).out,
               Catch::Contains("statically linked"));
    CHECK_THAT(must_run({(dir / "usr/bin/dvdi-hook").string(), "version"}).out,
               Catch::StartsWith(std::string("dvdi-hook ") + DVDI_VERSION + "\n"));
    CHECK(json::parse(read_file(dir / "etc/dvdi-hook/config.json")) ==
          json::parse(read_file(files_dir() / "config.json")));

    // The README and docs/*.md, uncompressed and as in the source tree.
    const auto docs = expected_docs();
    CHECK(doc_files(files) == keys_of(docs));
    for (const auto& [path, source] : docs) {
        INFO(path);
        if (files.contains(path)) { // (a missing one fails above)
            CHECK(files.at(path).perms == "rw-r--r--");
            CHECK(read_file(dir / path.substr(1)) == read_file(source));
        }
    }
}

TEST_CASE("packaging: lintian finds nothing in the .deb and its source beyond the explained overrides",
          "[packaging][lintian]") {
    DVDI_REQUIRE_PROGRAM("lintian");
    DVDI_REQUIRE_PACKAGE(deb, "deb");
    std::vector<std::string> argv = {"lintian", "--fail-on", "error,warning", "--display-info", deb.string()};
    for (const auto& e : fs::directory_iterator(packages_dir())) {
        if (e.path().extension() == ".dsc") {
            argv.push_back(e.path().string());
        }
    }
    CommandOptions o;
    o.timeout = std::chrono::minutes(5);
    const auto r = run(argv, o);
    INFO(r.out << r.err);
    CHECK(r.status == 0);
    // Errors and warnings fail above; informational tags are listed here so a new one is seen.
    for (const auto& l : split_lines(r.out)) {
        CHECK_FALSE((l.starts_with("E: ") || l.starts_with("W: ")));
    }
}

TEST_CASE("packaging: the .rpm has the .deb's files, modes, config file and metadata", "[packaging][rpm]") {
    DVDI_REQUIRE_PROGRAM("rpm");
    DVDI_REQUIRE_PROGRAM("dpkg-deb");
    DVDI_REQUIRE_PACKAGE(deb, "deb");
    DVDI_REQUIRE_PACKAGE(rpm, "rpm");

    const auto from_deb = payload_only(deb_files(deb));
    const auto from_rpm = payload_only(rpm_files(rpm));
    CHECK(from_rpm == from_deb);
    const auto rpm_all = rpm_files(rpm);
    CHECK(rpm_all.contains("/usr/share/licenses/dvdi-hook/LICENSE"));
    // The same README and docs/*.md as the .deb, at the same paths, and marked as documentation.
    CHECK(doc_files(rpm_all) == keys_of(expected_docs()));
    CHECK(doc_files(rpm_all) == doc_files(deb_files(deb)));
    std::set<std::string> marked;
    for (const auto& l : split_lines(must_run({"rpm", "-qpd", rpm.string()}).out)) {
        marked.insert(l);
    }
    for (const auto& path : keys_of(expected_docs())) {
        INFO(path);
        CHECK(marked.contains(path));
        if (rpm_all.contains(path)) { // (a missing one fails above)
            CHECK(rpm_all.at(path).perms == "rw-r--r--");
        }
    }
    CHECK(rpm_all.contains("/etc/dvdi-hook"));     // the package owns its own directories
    CHECK(rpm_all.contains("/usr/lib/dvdi-hook")); // (and not the shared ones)
    CHECK_FALSE(rpm_all.contains("/usr/share/containers/oci/hooks.d"));

    CHECK(must_run({"rpm", "-qp", "--configfiles", rpm.string()}).out == "/etc/dvdi-hook/config.json\n");
    // The same gc timer handling as the .deb's maintainer scripts, written out (no systemd macros here).
    const auto scripts = must_run({"rpm", "-qp", "--scripts", rpm.string()}).out;
    CHECK_THAT(scripts, Catch::Contains("systemctl --no-reload enable dvdi-hook-gc.timer"));
    CHECK_THAT(scripts, Catch::Contains("systemctl start dvdi-hook-gc.timer"));
    CHECK_THAT(scripts, Catch::Contains("systemctl --no-reload disable dvdi-hook-gc.timer"));
    CHECK_THAT(scripts, Catch::Contains("systemctl stop dvdi-hook-gc.timer"));
    const auto qf = must_run(
        {"rpm", "-qp", "--qf", "%{NAME}\n%{VERSION}-%{RELEASE}\n%{ARCH}\n%{LICENSE}\n%{SUMMARY}\n", rpm.string()});
    const auto meta = split_lines(qf.out);
    REQUIRE(meta.size() == 5);
    CHECK(meta[0] == deb_field(deb, "Package"));
    CHECK(meta[1] == deb_field(deb, "Version"));
    const std::map<std::string, std::string> arch = {{"amd64", "x86_64"}, {"arm64", "aarch64"}};
    CHECK(meta[2] == arch.at(deb_field(deb, "Architecture")));
    CHECK(meta[3] == "Apache-2.0");
    CHECK_THAT(read_file(source_root() / "packaging/deb/debian/copyright"), Catch::Contains("License: Apache-2.0\n"));
    auto synopsis = split_lines(deb_field(deb, "Description")).at(0);
    auto summary = meta[4];
    synopsis[0] = static_cast<char>(std::tolower(synopsis[0]));
    summary[0] = static_cast<char>(std::tolower(summary[0]));
    CHECK(summary == synopsis);
    const auto info = must_run({"rpm", "-qip", rpm.string()}).out;
    CHECK_THAT(info, Catch::Contains("License     : Apache-2.0"));
    CHECK_THAT(info, Catch::Contains(std::string("Version     : ") + DVDI_VERSION));
}
