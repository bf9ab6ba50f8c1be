// OCI config.json and state cases.
#include <fmt/format.h>

#include "tests/volumes/requests/cases.hpp"

namespace dvdi::test::cases {

namespace {

// A runc-spec-like config.json with these process.env entries (JSON strings) and mounts.
std::string config(const std::string& env, const std::string& mounts = R"({"destination":"/proc","type":"proc"})") {
    return fmt::format(R"({{"ociVersion":"1.0.2","process":{{"args":["sh"],"cwd":"/","env":[{}]}},)"
                       R"("root":{{"path":"rootfs"}},"mounts":[{}]}})",
                       env, mounts);
}

// About 1 MiB: thousands of unrelated variables around one volume.
std::string big_config() {
    std::string env;
    for (int i = 0; env.size() < (1U << 20); ++i) {
        env += fmt::format(R"("VAR_{}={}",)", i, std::string(200, 'x'));
    }
    return config(env + R"("DVDI_VOLUME_NAME=big","DVDI_VOLUME_CONTAINERPATH=/big")");
}

} // namespace

std::vector<Case> oci_config_cases() {
    const std::string origin = "/b/config.json";
    return {
        {"one volume in process.env",
         config(R"("PATH=/bin","DVDI_VOLUME_NAME=v","DVDI_VOLUME_CONTAINERPATH=/data")"),
         {req("rexray", "v", "DVDI_VOLUME_NAME", "/data")}},
        {"no process", R"({"ociVersion":"1.0.2","root":{"path":"/r"}})", {}},
        {"no env", config(""), {}},
        {"a config.json of 1 MiB", big_config(), {req("rexray", "big", "DVDI_VOLUME_NAME", "/big")}},
        {"DVDCLI in process.env",
         config(R"("DVDI_VOLUME_NAME=v","DVDI_VOLUME_DVDCLI=/x")"),
         {req("rexray", "v", "DVDI_VOLUME_NAME")},
         "",
         {"DVDI_VOLUME_DVDCLI ignored: a task cannot choose what runs as root"}},
        {"a volume beside other mounts",
         config(R"("DVDI_VOLUME_NAME2=v","DVDI_VOLUME_CONTAINERPATH2=/data")",
                R"({"destination":"/proc"},{"destination":"/data/sub"})"),
         {req("rexray", "v", "DVDI_VOLUME_NAME2", "/data")}},
        {"a volume where config.json mounts something",
         config(R"("DVDI_VOLUME_NAME2=v","DVDI_VOLUME_CONTAINERPATH2=/data/")",
                R"({"destination":"/proc"},{"destination":"/data"})"),
         {},
         "DVDI_VOLUME_CONTAINERPATH2: \"/data\": config.json already mounts something there (config.mounts[1])"},
        {"a relative mount destination counts from '/'",
         config(R"("DVDI_VOLUME_NAME=v","DVDI_VOLUME_CONTAINERPATH=/data")", R"({"destination":"data"})"),
         {},
         "DVDI_VOLUME_CONTAINERPATH: \"/data\": config.json already mounts something there (config.mounts[0])"},
        {"a mount without destination",
         config(R"("DVDI_VOLUME_NAME=v")", R"({"type":"tmpfs"})"),
         {},
         "config.mounts[0].destination: \"\": missing: a string is required"},
        {"env is not an array",
         R"({"process":{"env":"DVDI_VOLUME_NAME=v"}})",
         {},
         "config.process.env: \"DVDI_VOLUME_NAME=v\": must be a JSON array"},
        {"an env entry that is not a string",
         config(R"("DVDI_VOLUME_NAME=v",7)"),
         {},
         "config.process.env[1]: \"7\": must be a string"},
        {"a bad request in process.env",
         config(R"("DVDI_VOLUME_NAME3=a/b")"),
         {},
         "DVDI_VOLUME_NAME3: \"a/b\": a volume name cannot contain '/'"},
        {"not an object", "\"config\"", {}, origin + ": \"config\": must be a JSON object"},
        {"truncated",
         config(R"("DVDI_VOLUME_NAME=v")").substr(0, 70),
         {},
         origin +
             R"x(: "\":[\"sh\"],\"cwd\":\"/\",\"env\":[\"DVDI_": not valid JSON: parse error at line 1, column 71: )x"
             R"x(syntax error while parsing value - invalid string: missing closing quote; last read: '"DVDI_')x"},
        {"not UTF-8",
         config("\"DVDI_VOLUME_NAME=\xc3\x28\""),
         {},
         origin +
             R"x(: ":\"/\",\"env\":[\"DVDI_VOLUME_NAME=\xc3(": not valid JSON: parse error at line 1, column 84: )x"
             R"x(syntax error while parsing value - invalid string: ill-formed UTF-8 byte; last read: )x"
             R"x('"DVDI_VOLUME_NAME=\xc3(')x"},
    };
}

std::vector<std::string> oci_state_inputs() {
    return {
        R"({"ociVersion":"1.0.2","id":"c1","status":"creating","pid":4242,"bundle":"/run/b","annotations":{"a":"b"}})",
        R"({"ociVersion":"1.0.0","id":"c1","status":"created","pid":4242,"bundle":"/b","root":"/b/rootfs"})",
        R"({"ociVersion":"1.0.0","id":"c1","status":"stopped","pid":0,"bundle":"/b"})",
        R"({"ociVersion":"1.0.2","id":"c1","status":"stopped","bundle":"/b"})",
        R"({"ociVersion":"1.0.2","id":"c1","status":"creating","pid":-4,"bundle":"/b"})",
        R"({"ociVersion":"1.0.2","status":"creating","bundle":"/b"})",
        R"({"ociVersion":"1.0.2","id":"c1","status":"creating","bundle":"b"})",
        R"({"ociVersion":"1.0.2","id":"c1","status":"creating","bundle":"/b","annotations":{"k":1}})",
        R"({"ociVersion":"1.0.2","id":"c1","status":"creating","bundle":"/b","annotations":[]})",
        R"({"ociVersion":"1.0.2","id":"c1","status":"creat)",
    };
}

} // namespace dvdi::test::cases
