#include "tests/ns/fake_container.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "lib/core/error.hpp"

namespace dvdi::test {

namespace {

// The container's loop: only system calls after fork (the test may run threads).
[[noreturn]] void serve(int fd, bool private_root) {
    int ready = 0;
    if (::unshare(CLONE_NEWNS) != 0 ||
        (private_root && ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)) {
        ready = errno;
    }
    ::send(fd, &ready, sizeof(ready), MSG_NOSIGNAL);
    char buf[4097];
    for (;;) {
        const auto n = ::recv(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0) {
            ::_exit(0);
        }
        buf[n] = '\0';
        int err = 0;
        if (buf[0] == 'w') {
            const int f = ::open(buf + 1, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            err = f < 0 ? errno : (::write(f, "x", 1) == 1 ? 0 : errno);
            if (f >= 0) {
                ::close(f);
            }
        } else if (buf[0] == 'm') {
            err = ::mount("inside", buf + 1, "tmpfs", 0, "size=1m") == 0 ? 0 : errno;
        }
        ::send(fd, &err, sizeof(err), MSG_NOSIGNAL);
    }
}

} // namespace

FakeContainer::FakeContainer(bool private_root) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
        core::throw_errno("socketpair");
    }
    core::UniqueFd mine(fds[0]);
    core::UniqueFd theirs(fds[1]);
    pid_ = ::fork();
    if (pid_ < 0) {
        core::throw_errno("fork");
    }
    if (pid_ == 0) {
        serve(theirs.get(), private_root);
    }
    channel_ = std::move(mine);
    int ready = -1;
    if (::recv(channel_.get(), &ready, sizeof(ready), 0) != sizeof(ready) || ready != 0) {
        kill();
        throw core::SysError("fake container: unshare/mount", ready > 0 ? ready : EIO);
    }
}

FakeContainer::~FakeContainer() {
    kill();
}

void FakeContainer::kill() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
}

int FakeContainer::request(char op, const std::string& path) {
    const std::string msg = op + path;
    int err = -1;
    if (::send(channel_.get(), msg.data(), msg.size(), MSG_NOSIGNAL) < 0 ||
        ::recv(channel_.get(), &err, sizeof(err), 0) != sizeof(err)) {
        throw core::Error("fake container: no answer");
    }
    return err;
}

int FakeContainer::write_file(const std::string& path) {
    return request('w', path);
}

int FakeContainer::mount_tmpfs(const std::string& path) {
    return request('m', path);
}

std::vector<std::string> mount_targets(pid_t pid) {
    std::vector<std::string> out;
    for (const auto& e : ns::read_mount_table(pid)) {
        out.push_back(e.target);
    }
    return out;
}

std::vector<std::string> new_mounts_outside(const std::vector<std::string>& before,
                                            const std::vector<std::string>& after, const std::string& inside) {
    std::multiset<std::string> seen(before.begin(), before.end());
    std::vector<std::string> out;
    for (const auto& t : after) {
        if (const auto it = seen.find(t); it != seen.end()) {
            seen.erase(it);
        } else if (t != inside && t.rfind(inside + "/", 0) != 0) {
            out.push_back(t);
        }
    }
    return out;
}

std::vector<std::string> listing(const std::filesystem::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace dvdi::test
