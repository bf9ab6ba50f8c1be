#include "lib/ns/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "lib/core/error.hpp"
#include "lib/ns/sys.hpp"

namespace dvdi::ns {

namespace {

struct Stat {
    std::uint64_t start_time = 0;
    char state = '?'; ///< field 3: R, S, D, ... Z (zombie), X (dead)
};

// Fields 3 and 22 of /proc/PID/stat, the one reader of it. The command name (field 2) may
// contain spaces and ')', so fields are counted from the last ')'.
std::optional<Stat> read_stat(pid_t pid) noexcept {
    if (pid <= 0) {
        return std::nullopt;
    }
    try {
        std::ifstream in(fmt::format("/proc/{}/stat", pid));
        std::string line;
        if (!std::getline(in, line)) {
            return std::nullopt;
        }
        const auto close = line.rfind(')');
        if (close == std::string::npos) {
            return std::nullopt;
        }
        std::istringstream rest(line.substr(close + 1));
        Stat st;
        std::string field;
        for (int i = 3; i <= 22 && (rest >> field); ++i) {
            if (i == 3) {
                st.state = field.empty() ? '?' : field[0];
            } else if (i == 22) {
                st.start_time = std::stoull(field);
                return st;
            }
        }
    } catch (...) {
    }
    return std::nullopt;
}

std::uint64_t inode_of(int fd, const std::string& what) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        core::throw_errno("fstat", what);
    }
    return st.st_ino;
}

} // namespace

std::optional<ProcessId> process_id(pid_t pid) noexcept {
    const auto st = read_stat(pid);
    if (!st) {
        return std::nullopt;
    }
    return ProcessId{pid, st->start_time};
}

ProcessId self_process() {
    auto p = process_id(::getpid());
    if (!p) {
        throw core::Error("cannot read /proc/self/stat: is /proc mounted?");
    }
    return *p;
}

bool process_alive(const ProcessId& p) noexcept {
    const auto st = read_stat(p.pid);
    return st && st->start_time == p.start_time && st->state != 'Z' && st->state != 'X';
}

ProcessHandle ProcessHandle::open(pid_t pid) {
    if (pid <= 0) {
        throw core::InputError("pid", std::to_string(pid), "must be the host pid of a running process (> 0)");
    }
    ProcessHandle h;
    h.pid_ = pid;
    // The pidfd first: from here on it refers to this process and no other, whatever happens
    // to the number. A kernel without pidfd_open (< 5.3) leaves only the start-time check.
    h.pidfd_.reset(sys::pidfd_open(pid));
    if (!h.pidfd_ && errno != ENOSYS) {
        core::throw_errno("pidfd_open", fmt::format("pid {}", pid));
    }
    const auto id = process_id(pid);
    if (!id) {
        core::throw_errno("read", fmt::format("/proc/{}/stat", pid));
    }
    h.id_ = *id;
    const std::string ns_path = fmt::format("/proc/{}/ns/mnt", pid);
    h.mnt_ns_.reset(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!h.mnt_ns_) {
        core::throw_errno("open", ns_path);
    }
    h.mnt_ns_ino_ = inode_of(h.mnt_ns_.get(), ns_path);
    // Opened through /proc/PID, the namespace fd could belong to a process that took the pid
    // after ours died. If ours is still alive now, the pid cannot have been reused in between.
    h.require_alive("while its mount namespace was being opened");
    return h;
}

bool ProcessHandle::alive() const noexcept {
    if (pidfd_) {
        // A pidfd polls readable once the process has exited (zombie or reaped).
        pollfd p{pidfd_.get(), POLLIN, 0};
        if (::poll(&p, 1, 0) != 0) {
            return false;
        }
    }
    return process_alive(id_);
}

void ProcessHandle::require_alive(const char* when) const {
    if (!alive()) {
        throw core::Error(fmt::format("process {} (the container) has exited or its pid was reused {}; nothing "
                                      "was mounted",
                                      pid_, when));
    }
}

std::uint64_t own_mount_ns_inode() {
    struct stat st {};
    if (::stat("/proc/self/ns/mnt", &st) != 0) {
        core::throw_errno("stat", "/proc/self/ns/mnt");
    }
    return st.st_ino;
}

} // namespace dvdi::ns
