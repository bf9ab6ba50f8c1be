// dvdi-chaos-hook: stands between a runtime and dvdi-hook in the chaos suite, and SIGKILLs the
// hook at a chosen moment, as a runtime past a hook's timeout (or an OOM kill) would.
//
//   dvdi-chaos-hook --kill-after-us N -- /path/to/dvdi-hook ARGS...
//     N < 0: the hook runs undisturbed. N >= 0: N microseconds after its start, the hook (and
//     only the hook: not its children, which must go on their own) is SIGKILLed.
// stdin, stdout and stderr are the hook's own. Exits with the hook's status (128+signal when
// it was killed). Killed itself (by the runtime past the hook's timeout), it takes the hook
// with it.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
    if (argc < 5 || std::strcmp(argv[1], "--kill-after-us") != 0 || std::strcmp(argv[3], "--") != 0) {
        const char usage[] = "usage: dvdi-chaos-hook --kill-after-us N -- HOOK ARGS...\n";
        [[maybe_unused]] auto n = ::write(2, usage, sizeof usage - 1);
        return 2;
    }
    const long kill_after = std::strtol(argv[2], nullptr, 10);
    const pid_t self = ::getpid();
    const pid_t hook = ::fork();
    if (hook < 0) {
        return 1;
    }
    if (hook == 0) {
        // When the runtime kills this wrapper (its hook timeout), the hook dies with it, as if
        // the runtime had killed the hook itself.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != self) {
            ::_exit(137);
        }
        ::execv(argv[4], argv + 4);
        ::_exit(127);
    }
    if (kill_after >= 0) {
        // Poll for the hook's exit while waiting, so a hook that finishes first is not killed.
        const long step = 200;
        for (long waited = 0; waited < kill_after; waited += step) {
            int status = 0;
            if (::waitpid(hook, &status, WNOHANG) == hook) {
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            const timespec ts{0, step * 1000};
            ::nanosleep(&ts, nullptr);
        }
        ::kill(hook, SIGKILL);
    }
    int status = 0;
    while (::waitpid(hook, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
