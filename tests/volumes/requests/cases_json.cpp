// Mesos isolator input and OCI config.json cases (SPEC S1.2, S1.3).
#include <fmt/format.h>

#include "tests/volumes/requests/cases.hpp"

namespace dvdi::test::cases {

using volumes::Mode;

namespace {

constexpr const char* kV0 = "container_config.container_info.volumes[0]";

// The reference doc's example prepare input (Marathon 1.x external volume plus DVDI_* variables
// a user set), verbatim apart from the elided parts.
const std::string kDocExample = R"({"container_id":{"value":"5f1c"},
 "container_config":{
  "command_info":{"arguments":["mesos-executor","--launcher_dir=/usr/libexec/mesos"],
   "environment":{"variables":[
    {"name":"DVDI_VOLUME_NAME","type":"VALUE","value":"my-test-vol"},
    {"name":"DVDI_VOLUME_DRIVER","type":"VALUE","value":"rexray"},
    {"name":"DVDI_VOLUME_OPTS","type":"VALUE","value":"size=100,newfstype=xfs"},
    {"name":"DVDI_VOLUME_CONTAINERPATH","type":"VALUE","value":"/data"},
    {"name":"MARATHON_APP_ID","type":"VALUE","value":"/hello"}]},
   "shell":false,"value":"/usr/libexec/mesos/mesos-executor"},
  "container_info":{"type":"MESOS","volumes":[{"container_path":"test-rexray-volume","mode":"RW",
   "source":{"type":"DOCKER_VOLUME","docker_volume":{"driver":"rexray","name":"my-test-vol",
    "driver_options":{"parameter":[{"key":"size","value":"100"}]}}}}]},
  "directory":"/var/lib/mesos/slaves/a/frameworks/f/executors/e/runs/5f1c",
  "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.2}}],
  "user":"root"}})";

// An isolator input with these command_info.environment.variables and container_info.volumes.
std::string mesos(const std::string& variables, const std::string& volumes) {
    return fmt::format(R"({{"container_id":{{"value":"c1"}},"container_config":{{"directory":"/sandbox",)"
                       R"("command_info":{{"environment":{{"variables":[{}]}}}},)"
                       R"("container_info":{{"type":"MESOS","volumes":[{}]}}}}}})",
                       variables, volumes);
}

std::string var(const std::string& name, const std::string& value, const std::string& type = "VALUE") {
    return fmt::format(R"({{"name":"{}","type":"{}","value":"{}"}})", name, type, value);
}

// A DOCKER_VOLUME entry; `docker_volume` is the inner object's members.
std::string dv(const std::string& docker_volume, const std::string& rest = R"("container_path":"/data","mode":"RW")") {
    return fmt::format(R"({{{},"source":{{"type":"DOCKER_VOLUME","docker_volume":{{{}}}}}}})", rest, docker_volume);
}

std::vector<Case> mesos_good() {
    std::string doc_without_env = kDocExample;
    for (auto at = doc_without_env.find("DVDI_"); at != std::string::npos; at = doc_without_env.find("DVDI_")) {
        doc_without_env.replace(at, 5, "USER_");
    }
    return {
        {"Marathon 1.x external volume as Mesos sends it",
         doc_without_env,
         {req("rexray", "my-test-vol", kV0, "test-rexray-volume", {{"size", "100"}})}},
        {"DVDI variables in command_info",
         mesos(var("DVDI_VOLUME_NAME", "v") + "," + var("DVDI_VOLUME_OPTS", "a=1"), ""),
         {req("rexray", "v", "DVDI_VOLUME_NAME", {}, {{"a", "1"}})}},
        {"variables first, then volumes",
         mesos(var("DVDI_VOLUME_NAME", "v"), dv(R"("name":"w")")),
         {req("rexray", "v", "DVDI_VOLUME_NAME"), req("rexray", "w", kV0, "/data")}},
        {"SECRET variables are not read",
         mesos(var("DVDI_VOLUME_NAME", "v", "SECRET"), ""),
         {},
         "",
         {"container_config.command_info.environment.variables[0] ignored: only variables of type VALUE are read "
          "(\"DVDI_VOLUME_NAME\" has type \"SECRET\")"}},
        {"other volume types are ignored",
         mesos("", R"({"container_path":"/h","host_path":"/x","mode":"RW"},)"
                   R"({"container_path":"/s","mode":"RO","source":{"type":"SANDBOX_PATH"}},)" +
                       dv(R"("name":"v","driver":"ebs")")),
         {req("ebs", "v", "container_config.container_info.volumes[2]", "/data")}},
        {"RO mode and default driver",
         mesos("", dv(R"("name":"v")", R"("container_path":"/ro","mode":"RO")")),
         {req("rexray", "v", kV0, "/ro", {}, Mode::ro)}},
        {"no mode means RW",
         mesos("", dv(R"("name":"v")", R"("container_path":"sub/dir/")")),
         {req("rexray", "v", kV0, "sub/dir")}},
        {"unicode name", mesos("", dv(R"("name":"\u5377-données")")), {req("rexray", "卷-données", kV0, "/data")}},
        {"option values may hold ',' and '='",
         mesos("",
               dv(R"("name":"v","driver_options":{"parameter":[{"key":"o","value":"a=b,c"},{"key":"n","value":""}]})")),
         {req("rexray", "v", kV0, "/data", {{"o", "a=b,c"}, {"n", ""}})}},
        {"no container_config (isolate)", R"({"container_id":{"value":"c"},"pid":42})", {}},
    };
}

std::vector<Case> mesos_bad() {
    return {
        {"the reference example asks for my-test-vol twice",
         kDocExample,
         {},
         std::string(kV0) +
             ": \"my-test-vol\": volume rexray/my-test-vol is requested twice (also by DVDI_VOLUME_NAME)"},
        {"one name with two drivers across the forms",
         mesos(var("DVDI_VOLUME_NAME", "v"), dv(R"("name":"v","driver":"ebs")")),
         {},
         std::string(kV0) + ": \"v\": one volume name with two drivers: rexray by DVDI_VOLUME_NAME, ebs here"},
        {"a bad DVDI variable in command_info",
         mesos(var("DVDI_VOLUME_NAME3", "a/b"), ""),
         {},
         "DVDI_VOLUME_NAME3: \"a/b\": a volume name cannot contain '/'"},
        {"a bad mode",
         mesos("", dv(R"("name":"v")", R"("container_path":"/d","mode":"RWX")")),
         {},
         std::string(kV0) + ".mode: \"RWX\": a mode must be \"RW\" or \"RO\""},
        {"missing container path",
         mesos("", dv(R"("name":"v")", R"("mode":"RW")")),
         {},
         std::string(kV0) + ".container_path: \"\": missing: a string is required"},
        {"container path climbing out of the sandbox",
         mesos("", dv(R"("name":"v")", R"("container_path":"a/../../x")")),
         {},
         std::string(kV0) + ".container_path: \"a/../../x\": a container path cannot contain '..'"},
        {"container path '.'",
         mesos("", dv(R"("name":"v")", R"("container_path":".")")),
         {},
         std::string(kV0) + ".container_path: \".\": a container path cannot be the sandbox itself"},
        {"missing docker_volume",
         mesos("", R"({"container_path":"/d","source":{"type":"DOCKER_VOLUME"}})"),
         {},
         std::string(kV0) + ".source.docker_volume: \"\": missing: a DOCKER_VOLUME source needs docker_volume"},
        {"missing name",
         mesos("", dv(R"("driver":"ebs")")),
         {},
         std::string(kV0) + ".source.docker_volume.name: \"\": missing: a string is required"},
        {"a name that is not a string",
         mesos("", dv(R"("name":42)")),
         {},
         std::string(kV0) + ".source.docker_volume.name: \"42\": must be a string"},
        {"a name with a control character",
         mesos("", dv(R"("name":"a\nb")")),
         {},
         std::string(kV0) + ".source.docker_volume.name: \"a\\x0ab\": a volume name cannot contain control characters"},
        {"a bad driver",
         mesos("", dv(R"("name":"v","driver":"-x")")),
         {},
         std::string(kV0) +
             ".source.docker_volume.driver: \"-x\": a driver name must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"},
        {"a repeated parameter key",
         mesos("",
               dv(R"("name":"v","driver_options":{"parameter":[{"key":"k","value":"1"},{"key":"k","value":"2"}]})")),
         {},
         std::string(kV0) +
             ".source.docker_volume.driver_options.parameter: \"k\": an option key may appear only once"},
        {"a parameter key with '='",
         mesos("", dv(R"("name":"v","driver_options":{"parameter":[{"key":"a=b","value":"1"}]})")),
         {},
         std::string(kV0) + ".source.docker_volume.driver_options.parameter[0]: \"a=b\": an option key cannot contain "
                            "'=', ',' or control characters"},
        {"volumes is not an array",
         R"({"container_id":{"value":"c"},"container_config":{"container_info":{"volumes":{}}}})",
         {},
         "container_config.container_info.volumes: \"{}\": must be a JSON array"},
        {"a relative path without sandbox",
         R"({"container_id":{"value":"c"},"container_config":{"container_info":{"volumes":[)" +
             dv(R"("name":"v")", R"("container_path":"d")") + "]}}}",
         {},
         std::string(kV0) + ".container_path: \"d\": a relative container path needs container_config.directory or "
                            "container_config.rootfs"},
        {"no container_id",
         R"({"container_config":{}})",
         {},
         "container_id: \"\": missing: Mesos sends the container's id"},
        {"a container id with '/'",
         R"({"container_id":{"value":"a/b"}})",
         {},
         "container_id.value: \"a/b\": a container id must be non-empty UTF-8 without '/' or control characters"},
        {"a negative pid",
         R"({"container_id":{"value":"c"},"pid":-1})",
         {},
         "pid: \"-1\": must be an integer from 1 to 2147483647"},
        {"not a JSON object", "[]", {}, "Mesos isolator input: \"[]\": must be a JSON object"},
        {"truncated JSON",
         kDocExample.substr(0, 60),
         {},
         R"x(Mesos isolator input: "1c\"},\x0a \"container_config\":{\x0a  \"c": not valid JSON: parse error at line 3, )x"
         R"x(column 5: syntax error while parsing object key - invalid string: missing closing quote; last read: '"c'; )x"
         R"x(expected string literal)x"},
        {"JSON that is not UTF-8",
         R"({"container_id":{"value":"caf)"
         "\xe9"
         R"("}})",
         {},
         R"x(Mesos isolator input: "{\"container_id\":{\"value\":\"caf\xe9\"": not valid JSON: parse error at line 1, )x"
         R"x(column 31: syntax error while parsing value - invalid string: ill-formed UTF-8 byte; last read: '"caf\xe9"')x"},
        {"empty input",
         "",
         {},
         "Mesos isolator input: \"\": empty: the command-isolator module writes the container's JSON (its "
         "container_id and container_config) to the INPUT file and stdin"},
    };
}

} // namespace

std::vector<Case> mesos_cases() {
    auto out = mesos_good();
    for (auto& c : mesos_bad()) {
        out.push_back(std::move(c));
    }
    return out;
}

} // namespace dvdi::test::cases
