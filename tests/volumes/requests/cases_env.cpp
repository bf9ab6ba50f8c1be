// DVDI_VOLUME_* environment cases (SPEC S1.1, S1.3).
#include <fmt/format.h>

#include "tests/volumes/requests/cases.hpp"

namespace dvdi::test::cases {

using volumes::Mode;

namespace {

const std::string kUnknown = "not a known variable: DVDI_VOLUME_ variables are NAME, DRIVER, OPTS, CONTAINERPATH, "
                             "MODE or EXPLICITCREATE, with an optional slot digit 0-9";
const std::string kDriverRule = "a driver name must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$";

std::vector<Case> good_cases() {
    const std::string n255(255, 'n');
    const std::string big_value(4096, 'v');
    std::string ten;
    std::vector<volumes::Request> ten_expected;
    for (int i = 0; i < 10; ++i) {
        const std::string var = i == 0 ? "DVDI_VOLUME_NAME" : fmt::format("DVDI_VOLUME_NAME{}", i);
        ten += fmt::format("{}=vol{}\n", var, i);
        ten_expected.push_back(req("rexray", fmt::format("vol{}", i), var));
    }
    return {
        {"single volume", "DVDI_VOLUME_NAME=v1", {req("rexray", "v1", "DVDI_VOLUME_NAME")}},
        {"a full slot (README example)",
         "DVDI_VOLUME_NAME=v1\nDVDI_VOLUME_DRIVER=ebs\nDVDI_VOLUME_OPTS=size=5,iops=150,volumetype=io1,newfstype=xfs,"
         "overwritefs=true\nDVDI_VOLUME_CONTAINERPATH=/data",
         {req("ebs", "v1", "DVDI_VOLUME_NAME", "/data",
              {{"size", "5"}, {"iops", "150"}, {"volumetype", "io1"}, {"newfstype", "xfs"}, {"overwritefs", "true"}})}},
        {"multiple volumes with suffixes",
         "DVDI_VOLUME_NAME=a\nDVDI_VOLUME_NAME1=b\nDVDI_VOLUME_DRIVER1=ebs\nDVDI_VOLUME_NAME2=c\n"
         "DVDI_VOLUME_CONTAINERPATH2=/c",
         {req("rexray", "a", "DVDI_VOLUME_NAME"), req("ebs", "b", "DVDI_VOLUME_NAME1"),
          req("rexray", "c", "DVDI_VOLUME_NAME2", "/c")}},
        {"slots come out in slot order",
         "DVDI_VOLUME_NAME9=z\nDVDI_VOLUME_NAME=a",
         {req("rexray", "a", "DVDI_VOLUME_NAME"), req("rexray", "z", "DVDI_VOLUME_NAME9")}},
        {"NAME0 is slot 0", "DVDI_VOLUME_NAME0=v\nDVDI_VOLUME_DRIVER=local", {req("local", "v", "DVDI_VOLUME_NAME0")}},
        {"all ten slots", ten, ten_expected},
        {"other variables are ignored", "PATH=/bin\nX=DVDI_VOLUME_NAME=a\ndvdi_volume_name=b\nHOME", {}},
        {"no variables at all", "", {}},
        {"options with '=' in the value",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_OPTS=opt=a=b,x==y",
         {req("rexray", "v", "DVDI_VOLUME_NAME", {}, {{"opt", "a=b"}, {"x", "=y"}})}},
        {"empty OPTS", "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_OPTS=", {req("rexray", "v", "DVDI_VOLUME_NAME")}},
        {"OPTS of empty pieces",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_OPTS= , ,, ",
         {req("rexray", "v", "DVDI_VOLUME_NAME")}},
        {"white space around options",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_OPTS= size = 5 ,\tiops=10 ",
         {req("rexray", "v", "DVDI_VOLUME_NAME", {}, {{"size", "5"}, {"iops", "10"}})}},
        {"white space around the name and driver",
         "DVDI_VOLUME_NAME=  v1 \t\nDVDI_VOLUME_DRIVER= ebs ",
         {req("ebs", "v1", "DVDI_VOLUME_NAME")}},
        {"unicode name", "DVDI_VOLUME_NAME=données-卷-🚀", {req("rexray", "données-卷-🚀", "DVDI_VOLUME_NAME")}},
        {"a name of 255 bytes", "DVDI_VOLUME_NAME=" + n255, {req("rexray", n255, "DVDI_VOLUME_NAME")}},
        {"an option value of 4096 bytes (the most)",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_OPTS=k=" + big_value,
         {req("rexray", "v", "DVDI_VOLUME_NAME", {}, {{"k", big_value}})}},
        {"missing container path",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_CONTAINERPATH=",
         {req("rexray", "v", "DVDI_VOLUME_NAME")}},
        {"container path normalised",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_CONTAINERPATH=//data/./x//",
         {req("rexray", "v", "DVDI_VOLUME_NAME", "/data/x")}},
        {"RO mode",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_MODE=RO",
         {req("rexray", "v", "DVDI_VOLUME_NAME", {}, {}, Mode::ro)}},
        {"mode in lower case",
         "DVDI_VOLUME_NAME1=v\nDVDI_VOLUME_MODE1=ro\nDVDI_VOLUME_NAME2=w\nDVDI_VOLUME_MODE2=rw",
         {req("rexray", "v", "DVDI_VOLUME_NAME1", {}, {}, Mode::ro), req("rexray", "w", "DVDI_VOLUME_NAME2")}},
        {"explicit create",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_EXPLICITCREATE= TRUE ",
         {req("rexray", "v", "DVDI_VOLUME_NAME", {}, {}, Mode::rw, true)}},
        {"explicit create false",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_EXPLICITCREATE=false",
         {req("rexray", "v", "DVDI_VOLUME_NAME")}},
        {"DVDI_VOLUME_DVDCLI is ignored",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_DVDCLI=/tmp/evil\nDVDI_VOLUME_DVDCLI3=/x",
         {req("rexray", "v", "DVDI_VOLUME_NAME")},
         "",
         {"DVDI_VOLUME_DVDCLI ignored: a task cannot choose what runs as root",
          "DVDI_VOLUME_DVDCLI3 ignored: a task cannot choose what runs as root"}},
        {"same name, same driver, other case is another volume",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_NAME1=V",
         {req("rexray", "v", "DVDI_VOLUME_NAME"), req("rexray", "V", "DVDI_VOLUME_NAME1")}},
    };
}

std::vector<Case> bad_cases() {
    return {
        {"duplicate slot: bare and 0",
         "DVDI_VOLUME_NAME=a\nDVDI_VOLUME_NAME0=b",
         {},
         "DVDI_VOLUME_NAME0: \"b\": DVDI_VOLUME_NAME is also set (the bare name and 0 are the same slot)"},
        {"duplicate slot: DRIVER0 and DRIVER",
         "DVDI_VOLUME_NAME=a\nDVDI_VOLUME_DRIVER0=x\nDVDI_VOLUME_DRIVER=y",
         {},
         "DVDI_VOLUME_DRIVER: \"y\": DVDI_VOLUME_DRIVER0 is also set (the bare name and 0 are the same slot)"},
        {"a variable set twice", "DVDI_VOLUME_NAME=a\nDVDI_VOLUME_NAME=b", {}, "DVDI_VOLUME_NAME: \"b\": set twice"},
        {"DVDI_VOLUME_NAME10", "DVDI_VOLUME_NAME10=x", {}, "DVDI_VOLUME_NAME10: \"x\": " + kUnknown},
        {"DVDI_VOLUME_NAMES", "DVDI_VOLUME_NAMES=x,y", {}, "DVDI_VOLUME_NAMES: \"x,y\": " + kUnknown},
        {"an unknown field", "DVDI_VOLUME_NAME=a\nDVDI_VOLUME_SIZE=5", {}, "DVDI_VOLUME_SIZE: \"5\": " + kUnknown},
        {"a lower-case field", "DVDI_VOLUME_name=a", {}, "DVDI_VOLUME_name: \"a\": " + kUnknown},
        {"the bare prefix", "DVDI_VOLUME_=a", {}, "DVDI_VOLUME_: \"a\": " + kUnknown},
        {"an unknown variable with a control character",
         "DVDI_VOLUME_\x01=a",
         {},
         "\"DVDI_VOLUME_\\x01\": \"a\": " + kUnknown},
        {"an entry without '='",
         "DVDI_VOLUME_NAME",
         {},
         "DVDI_VOLUME_NAME: \"\": an environment entry must be NAME=VALUE"},
        {"OPTS without its NAME",
         "DVDI_VOLUME_NAME=a\nDVDI_VOLUME_OPTS2=size=5",
         {},
         "DVDI_VOLUME_OPTS2: \"size=5\": DVDI_VOLUME_NAME2 is not set"},
        {"DRIVER0 without a NAME",
         "DVDI_VOLUME_DRIVER0=ebs",
         {},
         "DVDI_VOLUME_DRIVER0: \"ebs\": DVDI_VOLUME_NAME0 is not set"},
        {"an option without '='",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_OPTS=size=5,fast",
         {},
         "DVDI_VOLUME_OPTS: item \"fast\": an option is KEY=VALUE, and this item has no '='"},
        {"an option without a key",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_OPTS= =5",
         {},
         "DVDI_VOLUME_OPTS: item \"=5\": an option needs a key before '='"},
        {"a repeated option key",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_OPTS=size=5, size=6",
         {},
         "DVDI_VOLUME_OPTS: \"size\": an option key may appear only once"},
        {"a control character in an option value",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_OPTS=k=a\x01z",
         {},
         "DVDI_VOLUME_OPTS: item \"k=a\\x01z\": an option value cannot contain ',' or control characters"},
        {"a name of white space only",
         "DVDI_VOLUME_NAME= \t ",
         {},
         "DVDI_VOLUME_NAME: \"\": a volume name cannot be empty"},
        {"an empty name", "DVDI_VOLUME_NAME4=", {}, "DVDI_VOLUME_NAME4: \"\": a volume name cannot be empty"},
        {"a name with '/'",
         "DVDI_VOLUME_NAME3=a/b",
         {},
         "DVDI_VOLUME_NAME3: \"a/b\": a volume name cannot contain '/'"},
        {"the name '..'", "DVDI_VOLUME_NAME=..", {}, "DVDI_VOLUME_NAME: \"..\": a volume name cannot be '.' or '..'"},
        // An attacker climbs out of the container root lexically, or aims at the container's
        // kernel interfaces: refused with the variable named, never normalised into place.
        // What a tenant would try to fill the node state (and /run) with.
        {"an option value of 4097 bytes",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_OPTS=k=" + std::string(4097, 'v'),
         {},
         "DVDI_VOLUME_OPTS: item \"k=" + std::string(78, 'v') +
             "\"... (4099 bytes): an option value is at most 4096 bytes"},
        {"a container path of 5000 bytes",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_CONTAINERPATH=/" + std::string(4999, 'p'),
         {},
         "DVDI_VOLUME_CONTAINERPATH: \"/" + std::string(79, 'p') +
             "\"... (5000 bytes): a container path is at most 4096 bytes"},
        {"'..' in a container path, even one that would stay inside the root",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_CONTAINERPATH=/x/../../etc",
         {},
         "DVDI_VOLUME_CONTAINERPATH: \"/x/../../etc\": a container path cannot contain '..'"},
        {"'..' that names a sibling",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_CONTAINERPATH=/a/../b",
         {},
         "DVDI_VOLUME_CONTAINERPATH: \"/a/../b\": a container path cannot contain '..'"},
        {"a container path under /proc",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_CONTAINERPATH=//proc/./sys/kernel",
         {},
         "DVDI_VOLUME_CONTAINERPATH: \"//proc/./sys/kernel\": a container path cannot be under /proc or /sys "
         "(kernel file systems)"},
        {"a container path under /sys",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_CONTAINERPATH=/sys/kernel",
         {},
         "DVDI_VOLUME_CONTAINERPATH: \"/sys/kernel\": a container path cannot be under /proc or /sys "
         "(kernel file systems)"},
        {"a tab inside the name",
         "DVDI_VOLUME_NAME=a\tb",
         {},
         "DVDI_VOLUME_NAME: \"a\\x09b\": a volume name cannot contain control characters"},
        {"a name of 256 bytes",
         "DVDI_VOLUME_NAME=" + std::string(256, 'n'),
         {},
         "DVDI_VOLUME_NAME: \"" + std::string(80, 'n') + "\"... (256 bytes): a volume name is at most 255 bytes"},
        {"a name that is not UTF-8",
         "DVDI_VOLUME_NAME=caf\xe9",
         {},
         "DVDI_VOLUME_NAME: \"caf\\xe9\": a volume name must be valid UTF-8"},
        {"a driver with '/'",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_DRIVER=rexray/ebs",
         {},
         "DVDI_VOLUME_DRIVER: \"rexray/ebs\": " + kDriverRule},
        {"an empty driver", "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_DRIVER=", {}, "DVDI_VOLUME_DRIVER: \"\": " + kDriverRule},
        {"a driver of 129 characters",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_DRIVER=" + std::string(129, 'd'),
         {},
         "DVDI_VOLUME_DRIVER: \"" + std::string(80, 'd') + "\"... (129 bytes): " + kDriverRule},
        {"a relative container path",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_CONTAINERPATH=data",
         {},
         "DVDI_VOLUME_CONTAINERPATH: \"data\": a container path must be absolute"},
        {"the container root as container path",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_CONTAINERPATH=/./",
         {},
         "DVDI_VOLUME_CONTAINERPATH: \"/./\": a container path cannot be the container's root"},
        {"a bad mode",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_MODE=readonly",
         {},
         "DVDI_VOLUME_MODE: \"readonly\": a mode must be RW or RO"},
        {"a bad explicit create",
         "DVDI_VOLUME_NAME=v\nDVDI_VOLUME_EXPLICITCREATE=yes",
         {},
         "DVDI_VOLUME_EXPLICITCREATE: \"yes\": must be true or false"},
        {"the same volume twice",
         "DVDI_VOLUME_NAME=a\nDVDI_VOLUME_NAME1=a",
         {},
         "DVDI_VOLUME_NAME1: \"a\": volume rexray/a is requested twice (also by DVDI_VOLUME_NAME)"},
        {"one name with two drivers",
         "DVDI_VOLUME_NAME=a\nDVDI_VOLUME_NAME1=a\nDVDI_VOLUME_DRIVER1=ebs",
         {},
         "DVDI_VOLUME_NAME1: \"a\": one volume name with two drivers: rexray by DVDI_VOLUME_NAME, ebs here"},
        {"two volumes at one container path",
         "DVDI_VOLUME_NAME=a\nDVDI_VOLUME_CONTAINERPATH=/data\nDVDI_VOLUME_NAME1=b\nDVDI_VOLUME_CONTAINERPATH1=/data/",
         {},
         "DVDI_VOLUME_NAME1: \"/data\": container path already used by volume rexray/a (DVDI_VOLUME_NAME)"},
    };
}

} // namespace

std::vector<Case> env_cases() {
    auto out = good_cases();
    for (auto& c : bad_cases()) {
        out.push_back(std::move(c));
    }
    return out;
}

std::vector<std::string> env_entries(const std::string& input) {
    std::vector<std::string> out;
    if (input.empty()) {
        return out;
    }
    std::size_t pos = 0;
    while (true) {
        const std::size_t nl = input.find('\n', pos);
        out.push_back(input.substr(pos, nl - pos));
        if (nl == std::string::npos) {
            return out;
        }
        pos = nl + 1;
    }
}

volumes::Request req(std::string driver, std::string name, std::string origin,
                     std::optional<std::string> container_path, volumes::Options options, volumes::Mode mode,
                     bool explicit_create) {
    volumes::Request r;
    r.driver = std::move(driver);
    r.name = std::move(name);
    r.options = std::move(options);
    r.container_path = std::move(container_path);
    r.mode = mode;
    r.explicit_create = explicit_create;
    r.origin = std::move(origin);
    return r;
}

} // namespace dvdi::test::cases
