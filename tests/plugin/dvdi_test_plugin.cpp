// dvdi-test-plugin: a Docker volume plugin (protocol v1) for tests. It serves the real protocol
// over HTTP/1.1 on a unix socket or a loopback TCP port, one thread per connection, keep-alive.
//
//   dvdi-test-plugin --root DIR (--socket PATH | --tcp ADDR:PORT) [options]
//     --root DIR          volumes are the directories DIR/NAME; DIR/.mounts.json holds the mount
//                         counts {"NAME": {"ID": n}}; Create's Opts go to DIR/.NAME.opts.json
//     --socket PATH       listen on this unix socket (removed at exit)
//     --tcp ADDR:PORT     listen on a numeric loopback address; port 0 picks a free one
//     --ready FILE        written (atomically) once listening: the address, `unix:///...` or
//                         `tcp://127.0.0.1:PORT`
//     --record FILE       every call received is appended as one JSON line, before it is answered:
//                         {"method": "VolumeDriver.Mount", "body": <JSON or the raw text>,
//                          "headers": {"host": ..., lower-case names}, "behaviour": "ok",
//                          "start": TICK}
//                         and, once its answer is ready (just before it is sent), another line
//                         {"call": TICK of its start, "end": TICK, "status": 200}. Ticks count
//                         the events of all connections in order, so calls can be told apart as
//                         overlapping or not without a clock. A streamed hostile answer (below)
//                         adds {"call": TICK of its start, "sent": BYTES} once it stopped: the
//                         bytes the socket took before the peer closed.
//     --control FILE      a JSON object {"METHOD": "BEHAVIOUR", "*": "BEHAVIOUR"} re-read on every
//                         call (a test can change it while the plugin runs); METHOD like
//                         "VolumeDriver.Get" or "Plugin.Activate", or "METHOD/NAME" for the calls
//                         about volume NAME only (it wins over METHOD)
//     --behave METHOD=BEHAVIOUR   the same, from the command line (the control file wins)
//     --socket-delay MS   start listening only after MS milliseconds
//     --scope local|global        what Capabilities answers
//     --controller DIR    one of several agents' plugins sharing a storage controller
//                         (tests/plugin/controller.hpp): the volumes are DIR/volumes/NAME, Mount
//                         and Unmount attach and detach through DIR/controller.json, Path answers
//                         a Mountpoint only while the volume is attached to this agent; Create's
//                         Opts {"attach": "multi"} make a multi-attach volume (default single)
//     --agent NAME        this plugin's agent (with --controller)
//     --preempt 0|1       REX-Ray's preempt (with --controller): a Mount of a single-attach volume
//                         attached to another agent takes it away instead of failing
//
// Behaviours: ok (default), 404 (`404 page not found`, as Go's mux), 500 (500 with Err), 200err
// (200 with Err set), empty (200 without a body), garbage (200 with a body that is not JSON),
// chunked (the right answer in chunked encoding), slow:MS (the right answer after MS ms), wait:PATH
// (the right answer once PATH exists, at most after 120 s), close
// (close the connection without answering), huge (a 2 MiB body), noimpl (Activate without
// VolumeDriver in Implements).
//
// Hostile behaviours, to show the hook's limits hold (tests/plugin/hostile.cpp sends them). The
// streamed ones stop when the peer closes (a failed write ends the connection quietly), and at
// the latest after 256 MiB or 120 s; the connection is closed after them:
//   drip:MS         the right answer, one byte every MS milliseconds
//   trailers        the right answer chunked, then a trailer section that never ends: trailer
//                   lines of ~1 KiB, sent as fast as the socket takes them
//   chunkext        the right answer's body (then spaces, forever) as 1-byte chunks, each with a
//                   ~4 KiB chunk extension
//   headers         the status line and Content-Type, then header lines of ~1 KiB that never end
//   errctl          500 with Err `test plugin: line1\nFORGED: line2\r\x1b[31mred\x1b[0m\x07`:
//                   real control characters (newline, CR, ESC, BEL), escaped in the JSON
//   mountpoint:VALUE  the call is handled as usual (a Mount is counted under its ID, so an
//                   Unmount with that ID succeeds), but the answer's Mountpoint (Mount, Path) is
//                   VALUE: `mountpoint:/`, `mountpoint:/etc`, `mountpoint:relative/dir`, or
//                   `mountpoint:` for an empty one
//
// State: Mount counts per (Name, ID); Unmount without a matching Mount is a 500 with Err; Get of
// a missing volume is a 500 with Err (as go-plugins-helpers plugins answer); Remove of a mounted
// volume is refused. SIGTERM or SIGINT: removes the socket and exits 0.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/error.hpp"
#include "lib/core/fd.hpp"
#include "lib/http/wire.hpp"
#include "tests/plugin/hostile.hpp"
#include "tests/plugin/plugin_state.hpp"

namespace fs = std::filesystem;
using namespace dvdi;
using dvdi::test::plugin::Answer;

namespace {

struct Args {
    fs::path root, socket, ready, record, control;
    std::string tcp;
    std::map<std::string, std::string> behave;
    int socket_delay_ms = 0;
    std::string scope = "local";
    fs::path controller;
    std::string agent;
    bool preempt = false;
};

std::atomic<bool> g_stop{false};
std::mutex g_record_mutex;
long g_tick = 0; // under g_record_mutex

Args parse_args(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (i + 1 >= argc) {
            throw core::Error("missing value after " + flag);
        }
        const std::string v = argv[++i];
        if (flag == "--root")
            a.root = v;
        else if (flag == "--socket")
            a.socket = v;
        else if (flag == "--tcp")
            a.tcp = v;
        else if (flag == "--ready")
            a.ready = v;
        else if (flag == "--record")
            a.record = v;
        else if (flag == "--control")
            a.control = v;
        else if (flag == "--socket-delay")
            a.socket_delay_ms = std::stoi(v);
        else if (flag == "--scope")
            a.scope = v;
        else if (flag == "--controller")
            a.controller = v;
        else if (flag == "--agent")
            a.agent = v;
        else if (flag == "--preempt")
            a.preempt = v == "1";
        else if (flag == "--behave" && v.find('=') != std::string::npos)
            a.behave[v.substr(0, v.find('='))] = v.substr(v.find('=') + 1);
        else
            throw core::Error("unknown flag " + flag);
    }
    if (!a.controller.empty() && a.agent.empty()) {
        throw core::Error("--controller needs --agent");
    }
    if (a.root.empty() || a.socket.empty() == a.tcp.empty()) {
        throw core::Error("usage: dvdi-test-plugin --root DIR (--socket PATH | --tcp ADDR:PORT) [...]");
    }
    return a;
}

std::string behaviour_for(const Args& args, const std::string& method, const std::string& volume) {
    auto rules = args.behave;
    if (!args.control.empty()) {
        std::ifstream in(args.control);
        std::stringstream s;
        s << in.rdbuf();
        const auto j = nlohmann::json::parse(s.str(), nullptr, false);
        if (j.is_object()) {
            for (const auto& [k, v] : j.items()) {
                rules[k] = v.is_string() ? v.get<std::string>() : v.dump();
            }
        }
    }
    if (const auto it = rules.find(method + "/" + volume); !volume.empty() && it != rules.end()) {
        return it->second;
    }
    if (const auto it = rules.find(method); it != rules.end()) {
        return it->second;
    }
    const auto all = rules.find("*");
    return all != rules.end() ? all->second : "ok";
}

// Returns the call's start tick (0 when nothing is recorded).
long record(const Args& args, const std::string& method, const http::Message& m, const std::string& behaviour) {
    if (args.record.empty()) {
        return 0;
    }
    nlohmann::json headers = nlohmann::json::object();
    for (auto [k, v] : m.headers) {
        std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::tolower(c); });
        headers[k] = v;
    }
    auto body = nlohmann::json::parse(m.body, nullptr, false);
    if (body.is_discarded()) {
        body = m.body;
    }
    std::lock_guard lock(g_record_mutex);
    const nlohmann::json line = {
        {"method", method}, {"body", body}, {"headers", headers}, {"behaviour", behaviour}, {"start", ++g_tick}};
    std::ofstream(args.record, std::ios::app) << line.dump() << "\n";
    return g_tick;
}

void record_end(const Args& args, long start, int status) {
    if (args.record.empty()) {
        return;
    }
    std::lock_guard lock(g_record_mutex);
    const nlohmann::json line = {{"call", start}, {"end", ++g_tick}, {"status", status}};
    std::ofstream(args.record, std::ios::app) << line.dump() << "\n";
}

void record_sent(const Args& args, long start, std::size_t sent) {
    if (args.record.empty()) {
        return;
    }
    std::lock_guard lock(g_record_mutex);
    std::ofstream(args.record, std::ios::app) << nlohmann::json{{"call", start}, {"sent", sent}}.dump() << "\n";
}

std::string reason(int status) {
    return status == 200 ? "OK" : status == 404 ? "Not Found" : "Internal Server Error";
}

std::string chunked(const std::string& body) {
    std::string out;
    for (std::size_t i = 0; i < body.size(); i += 7) {
        const auto piece = body.substr(i, 7);
        out += fmt::format("{:x}\r\n{}\r\n", piece.size(), piece);
    }
    return out + "0\r\n\r\n";
}

/// An answer before framing: `head` is the status line and headers, each ending in CRLF.
struct Reply {
    int status = 200;
    std::string head;
    std::string body;
};

/// The fixed answers of the error behaviours, as {status, body}; nullopt for the others.
std::optional<std::pair<int, std::string>> fixed_answer(const std::string& behaviour) {
    const std::string injected = R"({"Err":"test plugin: injected failure"})"
                                 "\n";
    if (behaviour == "404") {
        return std::pair{404, std::string("404 page not found\n")};
    }
    if (behaviour == "500" || behaviour == "200err") {
        return std::pair{behaviour == "500" ? 500 : 200, injected};
    }
    if (behaviour == "errctl") {
        // Real control characters in the Err string, escaped as JSON on the wire.
        return std::pair{
            500, nlohmann::json{{"Err", "test plugin: line1\nFORGED: line2\r\x1b[31mred\x1b[0m\x07"}}.dump() + "\n"};
    }
    if (behaviour == "empty") {
        return std::pair{200, std::string()};
    }
    if (behaviour == "garbage") {
        return std::pair{200, std::string("<html>this is not JSON{\n")};
    }
    if (behaviour == "huge") {
        return std::pair{200, R"({"Err":")" + std::string(2 * 1024 * 1024, 'x') + "\"}\n"};
    }
    if (behaviour == "noimpl") {
        return std::pair{200, std::string(R"({"Implements":["NetworkDriver"]})"
                                          "\n")};
    }
    return std::nullopt;
}

/// The answer to send, or nullopt to close the connection without an answer.
std::optional<Reply> render(Answer a, const std::string& behaviour) {
    if (behaviour == "close") {
        return std::nullopt;
    }
    if (behaviour.starts_with("slow:")) {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(behaviour.substr(5))));
    } else if (behaviour.starts_with("wait:")) {
        for (int i = 0; i < 12000 && !fs::exists(behaviour.substr(5)); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    } else if (behaviour.starts_with("mountpoint:") && a.body.is_object() && a.body.contains("Mountpoint")) {
        a.body["Mountpoint"] = behaviour.substr(11);
    }
    Reply r{.status = a.status, .head = {}, .body = a.body.is_null() ? "404 page not found\n" : a.body.dump() + "\n"};
    if (auto fixed = fixed_answer(behaviour)) {
        std::tie(r.status, r.body) = std::move(*fixed);
    }
    const auto type = r.status == 404 ? "text/plain; charset=utf-8" : "application/vnd.docker.plugins.v1+json";
    r.head = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\n", r.status, reason(r.status), type);
    return r;
}

/// The answer's bytes, framed by Content-Length or (behaviour `chunked`) chunked encoding.
std::string framed(const Reply& r, const std::string& behaviour) {
    if (behaviour == "chunked") {
        return r.head + "Transfer-Encoding: chunked\r\n\r\n" + chunked(r.body);
    }
    return r.head + fmt::format("Content-Length: {}\r\n\r\n", r.body.size()) + r.body;
}

void serve_connection(const Args& args, test::plugin::PluginState& state, core::UniqueFd fd) {
    http::Reader reader(fd.get());
    const auto far = [] { return http::Clock::now() + std::chrono::hours(1); };
    try {
        while (auto m = reader.read_message(far(), 4 * http::kMaxBody)) {
            const auto sp1 = m->start_line.find(' ');
            const auto sp2 = m->start_line.find(' ', sp1 + 1);
            const std::string path = sp1 == std::string::npos ? "" : m->start_line.substr(sp1 + 1, sp2 - sp1 - 1);
            const std::string method = path.starts_with('/') ? path.substr(1) : path;
            auto request = nlohmann::json::parse(m->body, nullptr, false);
            if (request.is_discarded()) {
                request = nullptr;
            }
            const auto volume = request.is_object() ? request.value("Name", nlohmann::json()) : nlohmann::json();
            const std::string behaviour =
                behaviour_for(args, method, volume.is_string() ? volume.get<std::string>() : "");
            const long start = record(args, method, *m, behaviour);
            const auto out = render(state.handle(method, request), behaviour);
            if (!out) {
                return;
            }
            record_end(args, start, out->status);
            if (test::plugin::is_hostile(behaviour)) {
                record_sent(args, start, test::plugin::send_hostile(fd.get(), behaviour, out->head, out->body));
                return;
            }
            http::write_all(fd.get(), framed(*out, behaviour), far());
            if (!m->keep_alive()) {
                return;
            }
        }
    } catch (const std::exception& e) {
        std::cerr << "dvdi-test-plugin: connection: " << e.what() << "\n";
    }
}

core::UniqueFd listen_on(const Args& args, std::string& address) {
    core::UniqueFd fd;
    if (!args.socket.empty()) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, args.socket.c_str(), sizeof addr.sun_path - 1);
        fd.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        fs::remove(args.socket);
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            core::throw_errno("bind", args.socket.string());
        }
        address = "unix://" + args.socket.string();
    } else {
        const auto colon = args.tcp.rfind(':');
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(std::stoi(args.tcp.substr(colon + 1))));
        if (::inet_pton(AF_INET, args.tcp.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
            throw core::Error("--tcp needs a numeric IPv4 address: " + args.tcp);
        }
        fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        const int one = 1;
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            core::throw_errno("bind", args.tcp);
        }
        socklen_t len = sizeof addr;
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
        address = fmt::format("tcp://{}:{}", args.tcp.substr(0, colon), ntohs(addr.sin_port));
    }
    if (::listen(fd.get(), 64) != 0) {
        core::throw_errno("listen");
    }
    return fd;
}

void write_ready(const fs::path& ready, const std::string& address) {
    if (!ready.empty()) {
        const fs::path tmp = ready.string() + ".tmp";
        std::ofstream(tmp) << address << "\n";
        fs::rename(tmp, ready);
    }
}

} // namespace

int main(int argc, char** argv) {
    try {
        const Args args = parse_args(argc, argv);
        struct sigaction sa {};
        sa.sa_handler = [](int) { g_stop = true; };
        ::sigaction(SIGTERM, &sa, nullptr);
        ::sigaction(SIGINT, &sa, nullptr);
        ::signal(SIGPIPE, SIG_IGN);
        fs::create_directories(args.root);
        std::optional<test::plugin::ControllerOptions> controller;
        if (!args.controller.empty()) {
            controller = test::plugin::ControllerOptions{args.controller, args.agent, args.preempt};
        }
        test::plugin::PluginState state(args.root, args.scope, controller);
        for (int waited = 0; waited < args.socket_delay_ms && !g_stop; waited += 10) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        std::string address;
        const auto listener = listen_on(args, address);
        write_ready(args.ready, address);
        while (!g_stop) {
            pollfd pfd{listener.get(), POLLIN, 0};
            if (::poll(&pfd, 1, 100) <= 0) {
                continue;
            }
            core::UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (conn) {
                std::thread(serve_connection, std::cref(args), std::ref(state), std::move(conn)).detach();
            }
        }
        if (!args.socket.empty()) {
            fs::remove(args.socket);
        }
        std::_Exit(0); // detached connection threads may still be blocked; nothing to flush
    } catch (const std::exception& e) {
        std::cerr << "dvdi-test-plugin: " << e.what() << "\n";
        return 1;
    }
}
