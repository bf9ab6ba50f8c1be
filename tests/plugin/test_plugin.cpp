#include "tests/plugin/test_plugin.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "lib/core/error.hpp"

namespace dvdi::test {

namespace {

fs::path plugin_binary() {
    return DVDI_TEST_PLUGIN_PATH;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
        s.pop_back();
    }
    return s;
}

} // namespace

TestPlugin::TestPlugin(TestPluginOptions options)
    : options_(std::move(options)), tmp_("dvdi-plugin"), dir_(tmp_.path()) {
    fs::create_directories(socket_dir());
    fs::create_directories(spec_dir());
    write_file(dir_ / "control.json", "{}\n");
    start();
    if (options_.wait_ready && options_.socket_delay.count() == 0) {
        wait_ready();
    }
}

void TestPlugin::start() {
    std::vector<std::string> args = {plugin_binary().string(),
                                     "--root",
                                     (dir_ / "volumes").string(),
                                     "--ready",
                                     (dir_ / "ready").string(),
                                     "--record",
                                     (dir_ / "calls.jsonl").string(),
                                     "--control",
                                     (dir_ / "control.json").string(),
                                     "--scope",
                                     options_.scope,
                                     "--socket-delay",
                                     std::to_string(options_.socket_delay.count())};
    if (options_.tcp) {
        args.insert(args.end(), {"--tcp", "127.0.0.1:0"});
    } else {
        args.insert(args.end(), {"--socket", socket_path().string()});
    }
    if (!options_.controller.empty()) {
        args.insert(args.end(), {"--controller", options_.controller.string(), "--agent", options_.agent, "--preempt",
                                 options_.preempt ? "1" : "0"});
    }
    for (const auto& [method, behaviour] : options_.behave) {
        args.insert(args.end(), {"--behave", method + "=" + behaviour});
    }
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    const std::string log = (dir_ / "plugin.log").string();
    pid_ = ::fork();
    if (pid_ < 0) {
        core::throw_errno("fork");
    }
    if (pid_ == 0) {
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            ::dup2(fd, 2);
        }
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
}

void TestPlugin::restart() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    fs::remove(dir_ / "ready");
    ++restarts_;
    {
        std::ofstream record(dir_ / "calls.jsonl", std::ios::app);
        record << nlohmann::json{{"restart", restarts_}}.dump() << "\n";
    }
    const auto delay = options_.socket_delay;
    options_.socket_delay = std::chrono::milliseconds(0);
    start();
    options_.socket_delay = delay;
    wait_ready();
}

TestPlugin::~TestPlugin() {
    stop();
}

void TestPlugin::stop() {
    if (pid_ <= 0) {
        return;
    }
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 300; ++i) {
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
            pid_ = -1;
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

void TestPlugin::wait_ready(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!fs::exists(dir_ / "ready")) {
        int status = 0;
        if (pid_ <= 0 || ::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw core::Error("dvdi-test-plugin exited: " + read_file(dir_ / "plugin.log"));
        }
        if (std::chrono::steady_clock::now() > deadline) {
            throw core::Error("dvdi-test-plugin did not get ready: " + read_file(dir_ / "plugin.log"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (options_.tcp) {
        write_file(spec_dir() / (options_.name + ".spec"), address() + "\n");
    }
}

std::string TestPlugin::address() const {
    return trim(read_file(dir_ / "ready"));
}

core::Timeouts TestPlugin::fast_timeouts() {
    using std::chrono::milliseconds;
    return core::Timeouts{.connect = milliseconds(2000),
                          .create = milliseconds(2000),
                          .mount = milliseconds(2000),
                          .other = milliseconds(2000),
                          .retry_budget = milliseconds(4000),
                          .plugin_wait = milliseconds(4000)};
}

core::Config TestPlugin::config(core::Timeouts timeouts) const {
    core::Config c;
    c.plugin_socket_dirs = {socket_dir().string()};
    c.plugin_spec_dirs = {spec_dir().string()};
    c.data_dir = (dir_ / "data").string();
    c.state_dir = (dir_ / "state").string();
    c.timeouts = timeouts;
    c.syslog = false;
    return c;
}

std::vector<nlohmann::json> TestPlugin::calls(const std::string& method) const {
    std::vector<nlohmann::json> out;
    if (!fs::exists(dir_ / "calls.jsonl")) {
        return out;
    }
    std::vector<nlohmann::json> all;
    std::map<long, std::size_t> by_start;
    std::string text = read_file(dir_ / "calls.jsonl");
    text.erase(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1); // a line being written
    std::istringstream in(text);
    int instance = 0;
    for (std::string line; std::getline(in, line);) {
        auto j = nlohmann::json::parse(line);
        if (j.contains("restart")) {
            instance = j["restart"].get<int>();
            by_start.clear(); // a new instance counts its ticks from 0 again
            continue;
        }
        j["instance"] = instance;
        if (j.contains("call")) {
            if (const auto it = by_start.find(j["call"].get<long>()); it != by_start.end()) {
                for (const auto& [k, v] : j.items()) {
                    if (k != "call") {
                        all[it->second][k] = v;
                    }
                }
            }
            continue;
        }
        by_start[j.value("start", 0L)] = all.size();
        all.push_back(std::move(j));
    }
    for (auto& j : all) {
        if (method.empty() || j["method"] == method) {
            out.push_back(std::move(j));
        }
    }
    return out;
}

nlohmann::json TestPlugin::mounts() const {
    const auto path = dir_ / "volumes" / ".mounts.json"; // this instance's, with a controller too
    return fs::exists(path) ? nlohmann::json::parse(read_file(path)) : nlohmann::json::object();
}

void TestPlugin::behave(const std::string& method, const std::string& behaviour) {
    control_[method] = behaviour;
    const auto tmp = dir_ / "control.json.tmp";
    write_file(tmp, control_.dump() + "\n");
    fs::rename(tmp, dir_ / "control.json");
}

} // namespace dvdi::test
