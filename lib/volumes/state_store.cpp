// The file-backed StateStore. One JSON file, replaced atomically: write state.json.tmp, fsync
// it, rename it over state.json, fsync the directory. A crash at any instant leaves either the
// old or the new file, never a torn one. flock(2) locks die with their holder, so a SIGKILLed
// hook never leaves the node locked.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lib/core/core.hpp"
#include "lib/volumes/state.hpp"

namespace dvdi::volumes {

namespace {

using core::UniqueFd;

class FileLock final : public Lock {
  public:
    FileLock(const std::string& path, int operation) {
        fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd_ && errno == EROFS) {
            // A read-only state dir can still be read (list, doctor); flock works on any fd.
            fd_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
            errno = fd_ ? 0 : EROFS;
        }
        if (!fd_) {
            core::throw_errno("open", path);
        }
        while (::flock(fd_.get(), operation) != 0) {
            if (errno != EINTR) {
                core::throw_errno("flock", path);
            }
        }
    }

  private:
    UniqueFd fd_;
};

void write_all(int fd, const std::string& data, const std::string& path) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            core::throw_errno("write", path);
        }
        done += static_cast<std::size_t>(n);
    }
}

void make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
        core::throw_errno("mkdir", path);
    }
}

// FNV-1a over "driver\0name": a fixed-length file name for any volume name. A collision only
// makes two volumes share a lock.
std::string lock_name(const VolumeKey& key) {
    std::uint64_t h = 14695981039346656037ULL;
    const auto mix = [&h](std::string_view s) {
        for (const char c : s) {
            h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
        }
    };
    mix(key.driver);
    mix(std::string_view("\0", 1));
    mix(key.name);
    return fmt::format("{:016x}.lock", h);
}

class FileStateStore final : public StateStore {
  public:
    explicit FileStateStore(std::string dir)
        : dir_(std::move(dir)), state_path_(dir_ + "/state.json"), lock_path_(dir_ + "/state.lock") {
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(dir_).parent_path(), ec);
        make_dir(dir_);
    }

    void transact(const std::function<void(State&)>& change) override {
        FileLock lock(lock_path_, LOCK_EX);
        const std::string before = read_text();
        State s = before.empty() ? State{} : parse_state(before, state_path_);
        change(s);
        const std::string after = nlohmann::json(s).dump(1) + "\n";
        if (after != before) {
            save(after);
        }
    }

    State read() override {
        FileLock lock(lock_path_, LOCK_SH);
        const std::string text = read_text();
        return text.empty() ? State{} : parse_state(text, state_path_);
    }

    std::unique_ptr<Lock> lock_volume(const VolumeKey& key) override {
        const std::string locks = dir_ + "/locks";
        make_dir(locks);
        return std::make_unique<FileLock>(locks + "/" + lock_name(key), LOCK_EX);
    }

    std::unique_ptr<Lock> lock_volumes(const std::vector<VolumeKey>& keys) override {
        // Ordered by lock file name, so two keys that share a file (a hash collision) are taken
        // once, not twice (which would wait for itself).
        std::vector<std::string> names;
        names.reserve(keys.size());
        for (const auto& k : keys) {
            names.push_back(lock_name(k));
        }
        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end());
        const std::string locks = dir_ + "/locks";
        make_dir(locks);
        auto all = std::make_unique<Locks>();
        for (const auto& name : names) {
            all->held.push_back(std::make_unique<FileLock>(locks + "/" + name, LOCK_EX));
        }
        return all;
    }

  private:
    struct Locks final : Lock {
        std::vector<std::unique_ptr<FileLock>> held;
    };

    // The file's text; empty when there is no state file yet.
    std::string read_text() const {
        UniqueFd fd(::open(state_path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        if (!fd) {
            if (errno == ENOENT) {
                return {};
            }
            core::throw_errno("open", state_path_);
        }
        std::string text;
        char buf[65536];
        for (;;) {
            const ssize_t n = ::read(fd.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0) {
                core::throw_errno("read", state_path_);
            }
            if (n == 0) {
                break;
            }
            text.append(buf, static_cast<std::size_t>(n));
        }
        if (text.empty()) {
            throw core::Error(fmt::format("state file {} is empty; it is left as it is", state_path_));
        }
        return text;
    }

    void save(const std::string& text) {
        const std::string tmp = state_path_ + ".tmp";
        try {
            UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
            if (!fd) {
                core::throw_errno("open", tmp);
            }
            write_all(fd.get(), text, tmp);
            if (::fsync(fd.get()) != 0) {
                core::throw_errno("fsync", tmp);
            }
            if (::rename(tmp.c_str(), state_path_.c_str()) != 0) {
                core::throw_errno("rename", state_path_);
            }
        } catch (...) {
            ::unlink(tmp.c_str());
            throw;
        }
        UniqueFd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir || ::fsync(dir.get()) != 0) {
            core::throw_errno("fsync", dir_);
        }
    }

    std::string dir_;
    std::string state_path_;
    std::string lock_path_;
};

} // namespace

std::unique_ptr<StateStore> open_state_store(const std::string& dir) {
    return std::make_unique<FileStateStore>(dir);
}

} // namespace dvdi::volumes
