#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <catch2/catch.hpp>

#include "lib/core/core.hpp"

using namespace dvdi::core;

TEST_CASE("SysError names the operation, the path and the errno text", "[core][error]") {
    const SysError e("open_tree", "/var/lib/dvdi/volumes/v/_data", ENOENT);
    CHECK(std::string(e.what()) == "open_tree(`/var/lib/dvdi/volumes/v/_data`): does not exist (ENOENT)");
    CHECK(e.code() == ENOENT);
    CHECK(std::string(SysError("setns", EPERM).what()) == "setns: not allowed (EPERM)");
    CHECK(std::string(SysError("open", "/x", EROFS).what()) == "open(`/x`): Read-only file system");
}

TEST_CASE("no errno text trips podman's reading of a hook's error as its own", "[core][error]") {
    // podman (libpod) reports a runtime error containing "no such file or directory" or "not
    // found" as "OCI runtime attempted to invoke a command that was not found" (exit 127), and
    // one containing "permission denied" or "operation not permitted" as a permission error.
    for (int err = 1; err < 134; ++err) {
        std::string text = errno_text(err);
        std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
        INFO(err << ": " << text);
        for (const char* trap :
             {"no such file", "not found", "permission denied", "operation not permitted", "executable file"}) {
            CHECK(text.find(trap) == std::string::npos);
        }
    }
}

TEST_CASE("throw_errno captures errno at the failing call", "[core][error]") {
    errno = 0;
    try {
        if (::open("/nonexistent/dvdi", O_RDONLY) < 0) {
            throw_errno("open", "/nonexistent/dvdi");
        }
        FAIL("open should have failed");
    } catch (const SysError& e) {
        CHECK(e.code() == ENOENT);
        CHECK(e.path() == "/nonexistent/dvdi");
    }
}

TEST_CASE("InputError reads FIELD: \"VALUE\": RULE", "[core][error]") {
    const InputError e("DVDI_VOLUME_NAME3", "a/b", "a volume name cannot contain '/'");
    CHECK(std::string(e.what()) == R"(DVDI_VOLUME_NAME3: "a/b": a volume name cannot contain '/')");
    CHECK(e.field() == "DVDI_VOLUME_NAME3");
}

TEST_CASE("quote escapes control bytes and invalid UTF-8 and truncates long values", "[core][error]") {
    CHECK(quote("plain") == "\"plain\"");
    CHECK(quote("a\"b\\c") == R"("a\"b\\c")");
    CHECK(quote(std::string("a\0b\n", 4)) == R"("a\x00b\x0a")");
    CHECK(quote("caf\xc3\xa9") == "\"caf\xc3\xa9\""); // valid UTF-8 stays readable
    CHECK(quote("bad\xc3(") == R"("bad\xc3(")");      // a broken sequence is escaped
    CHECK(quote(std::string(200, 'x'), 10) == "\"xxxxxxxxxx\"... (200 bytes)");
}

TEST_CASE("printable escapes every control byte and invalid UTF-8 as \\xNN and changes nothing else", "[core][error]") {
    CHECK(printable("plain \"text\" with \\ and caf\xc3\xa9") == "plain \"text\" with \\ and caf\xc3\xa9");
    CHECK(printable(std::string("a\0b", 3)) == R"(a\x00b)");
    // What a forged log line needs: newline, CR, tab, ESC (ANSI colours), BEL, DEL.
    CHECK(printable("x\nFORGED: y\r\t\x1b[31mred\x1b[0m\x07\x7f") ==
          R"(x\x0aFORGED: y\x0d\x09\x1b[31mred\x1b[0m\x07\x7f)");
    CHECK(printable("bad\xc3(") == R"(bad\xc3()");              // a broken sequence
    CHECK(printable("\xed\xa0\x80") == R"(\xed\xa0\x80)");      // a surrogate is not UTF-8
    CHECK(printable("\xc0\xaf") == R"(\xc0\xaf)");              // nor an overlong '/'
    CHECK(printable("\xf0\x9f\x98\x80") == "\xf0\x9f\x98\x80"); // a 4-byte sequence stays
    CHECK(printable("") == "");
    for (int c = 0; c < 256; ++c) {
        const std::string out = printable(std::string(1, static_cast<char>(c)));
        const bool kept = c >= 0x20 && c < 0x7F;
        INFO(c);
        CHECK((out == std::string(1, static_cast<char>(c))) == kept);
        for (const char o : out) {
            CHECK(static_cast<unsigned char>(o) >= 0x20);
            CHECK(static_cast<unsigned char>(o) < 0x7F);
        }
    }
}

TEST_CASE("UniqueFd closes what it owns and hands it over on release", "[core][fd]") {
    int raw = -1;
    {
        UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        REQUIRE(fd);
        raw = fd.get();
        UniqueFd moved(std::move(fd));
        CHECK_FALSE(fd);
        CHECK(moved.get() == raw);
    }
    CHECK(::fcntl(raw, F_GETFD) == -1); // closed by the destructor
    CHECK(errno == EBADF);

    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    const int released = fd.release();
    CHECK_FALSE(fd);
    CHECK(::fcntl(released, F_GETFD) != -1); // still open: the caller owns it now
    ::close(released);
}

TEST_CASE("read_all, write_all and replace_file: whole files, errors naming them", "[core][io]") {
    char tmpl[] = "/tmp/dvdi-io-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    const std::string dir = tmpl;
    const std::string path = dir + "/f";
    const std::string big(200000, 'x'); // more than one read(2) chunk
    replace_file(path, "old");
    replace_file(path, big);
    {
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        CHECK(read_all(fd.get(), path) == big);
    }
    {
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        const auto head = read_all(fd.get(), path, 10); // stops once past the limit
        CHECK(head.size() > 10);
        CHECK(head.size() < big.size());
        CHECK_THROWS_WITH(write_all(fd.get(), "x", path), "write(`" + path + "`): Bad file descriptor");
    }
    CHECK(::access((path + ".tmp").c_str(), F_OK) != 0);
    {
        UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_CLOEXEC));
        CHECK_THROWS_WITH(read_all(fd.get(), dir), "read(`" + dir + "`): Is a directory");
    }
    // The temporary file is never written through a symlink; the old file stays whole.
    REQUIRE(::symlink("/nonexistent", (path + ".tmp").c_str()) == 0);
    CHECK_THROWS_WITH(replace_file(path, "new"), "open(`" + path + ".tmp`): Too many levels of symbolic links");
    {
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        CHECK(read_all(fd.get(), path) == big);
    }
    ::unlink((path + ".tmp").c_str());
    ::unlink(path.c_str());
    CHECK(::rmdir(dir.c_str()) == 0);
}

TEST_CASE("log writes one prefixed line per message at or above the level", "[core][log]") {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
    UniqueFd r(fds[0]), w(fds[1]);
    log::set_output_fd(w.get());
    log::set_level(log::Level::warning);
    log::info("hidden {}", 1);
    log::warn("volume {} is slow", "v1");
    log::error("volume {} failed", "v2");
    log::set_output_fd(-1);
    log::set_level(log::Level::info);

    char buf[512] = {};
    const ssize_t n = ::read(r.get(), buf, sizeof buf - 1);
    REQUIRE(n > 0);
    CHECK(std::string(buf) == "dvdi-hook: warning: volume v1 is slow\n"
                              "dvdi-hook: error: volume v2 failed\n");
}

TEST_CASE("log: a message with newlines, CR and terminal escapes is still exactly one line", "[core][log]") {
    // An attacker's text (a plugin's Err, a path) with a newline tries to add a line of its own,
    // a CR to overwrite the line on a terminal, ESC sequences to recolour or move the cursor.
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
    UniqueFd r(fds[0]), w(fds[1]);
    log::set_output_fd(w.get());
    log::error("mount failed: {}", "line1\nFORGED: dvdi-hook: info: ok\r\x1b[2K\x1b[31mred\x1b[0m\x07\xff");
    log::set_output_fd(-1);

    char buf[512] = {};
    const ssize_t n = ::read(r.get(), buf, sizeof buf - 1);
    REQUIRE(n > 0);
    const std::string out(buf, static_cast<std::size_t>(n));
    CHECK(out ==
          R"(dvdi-hook: error: mount failed: line1\x0aFORGED: dvdi-hook: info: ok\x0d\x1b[2K\x1b[31mred\x1b[0m\x07\xff)"
          "\n");
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
    CHECK(std::none_of(out.begin(), out.end() - 1, [](char c) { return static_cast<unsigned char>(c) < 0x20; }));
}

TEST_CASE("log levels parse by name and reject anything else", "[core][log]") {
    CHECK(log::parse_level("debug", "f") == log::Level::debug);
    CHECK(log::parse_level("warn", "f") == log::Level::warning);
    CHECK(log::parse_level("error", "f") == log::Level::error);
    CHECK_THROWS_WITH(log::parse_level("loud", "--log-level"), Catch::Contains("--log-level: \"loud\""));
}
