#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <catch2/catch.hpp>

#include "lib/core/core.hpp"

using namespace dvdi::core;

TEST_CASE("SysError names the operation, the path and the errno text", "[core][error]") {
    const SysError e("open_tree", "/var/lib/dvdi/volumes/v/_data", ENOENT);
    CHECK(std::string(e.what()) == "open_tree(`/var/lib/dvdi/volumes/v/_data`): No such file or directory");
    CHECK(e.code() == ENOENT);
    CHECK(std::string(SysError("setns", EPERM).what()) == "setns: Operation not permitted");
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

TEST_CASE("log writes one prefixed line per message at or above the level", "[core][log]") {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
    UniqueFd r(fds[0]), w(fds[1]);
    log::set_output_fd(w.get());
    log::set_level(log::Level::warning);
    log::info("hidden {}", 1);
    log::warn("volume {} is slow", "v1");
    log::warn_errno(ENOENT, "stat x");
    log::set_output_fd(-1);
    log::set_level(log::Level::info);

    char buf[512] = {};
    const ssize_t n = ::read(r.get(), buf, sizeof buf - 1);
    REQUIRE(n > 0);
    CHECK(std::string(buf) == "dvdi-hook: warning: volume v1 is slow\n"
                              "dvdi-hook: warning: stat x: No such file or directory\n");
}

TEST_CASE("log levels parse by name and reject anything else", "[core][log]") {
    CHECK(log::parse_level("debug", "f") == log::Level::debug);
    CHECK(log::parse_level("warn", "f") == log::Level::warning);
    CHECK(log::parse_level("error", "f") == log::Level::error);
    CHECK_THROWS_WITH(log::parse_level("loud", "--log-level"), Catch::Contains("--log-level: \"loud\""));
}
