/* Fatal signals (SIGSEGV, SIGBUS, SIGFPE) in code that is not Go's, such
 * as a C extension called from a callback, end the process as they would
 * without goloop: through Python's faulthandler when it is enabled, else
 * by the signal's default action (death by SIGSEGV, a core dump). Left to
 * itself, the Go runtime of this library prints a goroutine dump and
 * exits by SIGQUIT when no handler existed before it loaded, and it also
 * does so for the signal faulthandler re-raises after its own report.
 *
 * Go's handler forwards a fault outside Go code to the handler it found
 * installed when it started, and keeps faults in Go code (a nil pointer:
 * a panic, recovered into a RuntimeError at every export). So:
 *   1. a constructor that runs before the Go runtime's own (priority 101
 *      sorts before the unprioritized entry Go adds) records what the
 *      process had (before_go) and installs `forwarded`, which Go then
 *      records as that previous handler;
 *   2. once the runtime is up (module init), `on_fatal` goes in front of
 *      Go's handler: a fault from the kernel goes to Go, which decides;
 *      the same signal sent by a process or by raise() (faulthandler
 *      chaining to the handler it replaced) goes where it would have
 *      gone without Go.
 * No Python and no Go runs here: only async-signal-safe calls. */
#include "goloop.h"
#include <signal.h>
#include <string.h>

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE};
#define NFATAL (int)(sizeof fatal_signals / sizeof fatal_signals[0])

static struct sigaction before_go[NFATAL];  /* the process's, before Go */
static struct sigaction go_handler[NFATAL]; /* the Go runtime's */
static int captured, chained;

static int
slot(int sig)
{
    for (int i = 0; i < NFATAL; i++)
        if (fatal_signals[i] == sig)
            return i;
    return -1;
}

static int
is_function(const struct sigaction *sa)
{
    if (sa->sa_flags & SA_SIGINFO)
        return sa->sa_sigaction != NULL;
    return sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN;
}

/* What the process would do without Go: the handler it had, else the
 * default action. A fault from the kernel happens again when the handler
 * returns (the instruction is re-run); a sent signal is sent again. */
static void
without_go(int sig, siginfo_t *info, void *ctx, int from_kernel)
{
    int i = slot(sig);
    if (i >= 0 && is_function(&before_go[i])) {
        if (before_go[i].sa_flags & SA_SIGINFO)
            before_go[i].sa_sigaction(sig, info, ctx);
        else
            before_go[i].sa_handler(sig);
        return;
    }
    /* Default (an ignored SIGSEGV would fault forever: default too). */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    if (!from_kernel)
        raise(sig);  /* delivered once this handler returns */
}

/* Go's handler calls this for a fault outside Go code. */
static void
forwarded(int sig, siginfo_t *info, void *ctx)
{
    without_go(sig, info, ctx, 1);
}

static void
on_fatal(int sig, siginfo_t *info, void *ctx)
{
    int i = slot(sig);
    if (i >= 0 && info != NULL && info->si_code > 0) {
        go_handler[i].sa_sigaction(sig, info, ctx);
        return;
    }
    without_go(sig, info, ctx, 0);
}

__attribute__((constructor(101))) static void
capture_before_go(void)
{
    for (int i = 0; i < NFATAL; i++) {
        if (sigaction(fatal_signals[i], NULL, &before_go[i]) != 0)
            return;
    }
    for (int i = 0; i < NFATAL; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = forwarded;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigfillset(&sa.sa_mask);
        sigaction(fatal_signals[i], &sa, NULL);
    }
    captured = 1;
}

void
goloop_fatal_signals_init(void)
{
    if (!captured || chained)
        return;
    chained = 1;
    for (int i = 0; i < NFATAL; i++) {
        struct sigaction cur;
        if (sigaction(fatal_signals[i], NULL, &cur) != 0)
            continue;
        if (cur.sa_sigaction == forwarded && (cur.sa_flags & SA_SIGINFO)) {
            /* The runtime did not install over it (a linker that ran our
             * constructor after Go's): give back what was there. */
            sigaction(fatal_signals[i], &before_go[i], NULL);
            continue;
        }
        /* Only in front of Go's own handler (not of one installed since,
         * e.g. by faulthandler, which already chains to Go's). */
        if (!(cur.sa_flags & SA_SIGINFO) || cur.sa_sigaction == NULL ||
            cur.sa_sigaction == on_fatal)
            continue;
        go_handler[i] = cur;
        struct sigaction sa = cur;
        sa.sa_sigaction = on_fatal;
        sigaction(fatal_signals[i], &sa, NULL);
    }
}
