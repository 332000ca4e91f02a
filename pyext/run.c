/* The iteration of a loop, in C: wait for I/O or the next timer, queue the
 * callbacks of ready fds and due timers, run the ready snapshot; again
 * until stop(). The loop thread makes no Go call per iteration: a cgo
 * crossing costs ~150 instructions of Go runtime bookkeeping each way (and
 * a pointer check per argument), several times what the work it would
 * do, and one system call per iteration is enough when C calls epoll
 * directly. Go keeps what needs goroutines (DNS lookups: their results
 * are settled through goloop_run_completions when the Go side flags
 * them) and the creation of the engine's fds.
 *
 * The order within an iteration is asyncio's: I/O callbacks in the order
 * the poller reported them, then timers now due, then the snapshot of the
 * ready queue runs; what those callbacks schedule runs in the next
 * iteration. */
#include "goloop.h"
#include <errno.h>
#include <math.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
/* Longest single wait; the loop just waits again after it. */
#define MAX_TIMEOUT_MS (24 * 3600 * 1000)
/* Timers this close to due are run now (the clock's resolution). */
#define CLOCK_RESOLUTION 1e-9
/* With callbacks ready and no fd watched but the loop's own, the poller
 * has nothing to report but signals: it is asked at least this often. */
#define IDLE_POLL_EVERY 1e-3

#define now goloop_monotonic

/* epoll_wait; the GIL is released only when it may block. */
static int
wait_events(GoloopCore *core, int epfd, void *events, int maxevents,
            int timeout_ms, int *err)
{
    int n;
    if (timeout_ms == 0) {
        n = epoll_wait(epfd, (struct epoll_event *)events, maxevents, 0);
        *err = n < 0 ? errno : 0;
        return n;
    }
    /* Set while the GIL is still held: a thread that appends a callback
     * after this point sees it and writes the wake-up eventfd. */
    core->polling = 1;
    Py_BEGIN_ALLOW_THREADS
    n = epoll_wait(epfd, (struct epoll_event *)events, maxevents, timeout_ms);
    *err = n < 0 ? errno : 0;
    Py_END_ALLOW_THREADS
    core->polling = 0;
    return n;
}

/* Signal numbers read from the wake-up pipe go to Loop._handle_signals;
 * then Python-level handlers (e.g. SIGINT -> KeyboardInterrupt) run. */
static int
dispatch_signals(GoloopCore *core, const char *buf, int n)
{
    if (n > 0) {
        PyObject *r = PyObject_CallMethod((PyObject *)core, "_handle_signals", "y#", buf, (Py_ssize_t)n);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
    }
    return PyErr_CheckSignals();
}

/* How long the wait may block: not at all when callbacks are ready, the
 * loop is stopping or DNS results wait; until the next timer (t: the
 * loop's time now); forever. */
static int
timeout_ms(GoloopCore *core, double t)
{
    if (core->len > 0 || core->stopping ||
        __atomic_load_n(&core->jobs_pending, __ATOMIC_ACQUIRE))
        return 0;
    if (core->ntimers == 0)
        return -1;
    double dt = core->timers[0].when - t;
    if (!(dt > 0))              /* due, or a NaN `when`: due at once */
        return 0;
    if (dt * 1000 >= MAX_TIMEOUT_MS)
        return MAX_TIMEOUT_MS;
    return (int)ceil(dt * 1000);
}

/* Signal numbers in the wake-up pipe go to Python (Loop._handle_signals),
 * then Python-level handlers run (SIGINT raises KeyboardInterrupt). */
static int
read_signals(GoloopCore *core)
{
    char buf[512];
    char *got = buf;
    Py_ssize_t n = 0, cap = sizeof buf;
    for (;;) {
        ssize_t r = read(core->signal_rfd, got + n, (size_t)(cap - n));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += r;
        if (n < cap)
            break;
        /* A full buffer: more may wait. */
        char *bigger = PyMem_Malloc((size_t)cap * 2);
        if (bigger == NULL)
            break;
        memcpy(bigger, got, (size_t)n);
        if (got != buf)
            PyMem_Free(got);
        got = bigger;
        cap *= 2;
    }
    int rc = dispatch_signals(core, got, (int)n);
    if (got != buf)
        PyMem_Free(got);
    return rc;
}

/* Queues the callbacks of the ready fds. A watcher whose handle was
 * cancelled is removed instead, as asyncio does; those handles are
 * released only after the loop over the events, since releasing one can
 * run Python code that changes the watcher table. */
static int
dispatch(GoloopCore *core, struct epoll_event *events, int n)
{
    PyObject *drop[2 * MAX_EVENTS];
    int ndrop = 0, signals = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        int fd = events[i].data.fd;
        uint32_t ev = events[i].events;
        if (fd == core->wake_fd) {
            uint64_t v;
            ssize_t r;
            do {
                r = read(fd, &v, sizeof v);
            } while (r < 0 && errno == EINTR);
            core->wake_pending = 0;
            continue;
        }
        if (fd == core->signal_rfd) {
            signals = 1;
            continue;
        }
        if (fd < 0 || fd >= core->nwatch)
            continue;
        GoloopWatch *w = &core->watch[fd];
        PyObject *h;
        if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && (h = w->reader) != NULL) {
            if (HDATA(h)->cancelled) {
                PyObject *old = goloop_unwatch(core, fd, 0, h);
                if (old != NULL && old != Py_None)
                    drop[ndrop++] = old;
                else
                    Py_XDECREF(old);
            } else {
                Py_INCREF(h);
                if (goloop_ready_push(core, h) < 0) {
                    rc = -1;
                    break;
                }
            }
        }
        if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && (h = w->writer) != NULL) {
            if (HDATA(h)->cancelled) {
                PyObject *old = goloop_unwatch(core, fd, 1, h);
                if (old != NULL && old != Py_None)
                    drop[ndrop++] = old;
                else
                    Py_XDECREF(old);
            } else {
                Py_INCREF(h);
                if (goloop_ready_push(core, h) < 0) {
                    rc = -1;
                    break;
                }
            }
        }
    }
    for (int i = 0; i < ndrop; i++)
        Py_DECREF(drop[i]);
    if (rc == 0 && signals)
        rc = read_signals(core);
    return rc;
}

static int
run_once(GoloopCore *core)
{
    if (core->timers_cancelled > 0 && goloop_timers_need_purge(core))
        goloop_timers_purge(core);

    struct epoll_event events[MAX_EVENTS];
    double lt = 0;              /* loop.time(), read only when timers need it */
    if (core->ntimers > 0 && goloop_loop_time(core, &lt) < 0)
        return -1;
    int err = 0, timeout = timeout_ms(core, lt), n = 0;
    double t = 0;
    core->metrics.iterations++;
    /* Busy and watching no fd of the program (a loop of callbacks and
     * tasks): a poll could only find a signal, and the wake-up fd has
     * nothing to say to a loop that is not waiting. asyncio's one poll per
     * iteration is then a system call per iteration for nothing; poll at
     * most every IDLE_POLL_EVERY instead. With any fd watched, every
     * iteration polls, so I/O callbacks keep asyncio's order. */
    if (timeout == 0 && core->nwatched == 0 &&
        (t = now()) - core->last_poll < IDLE_POLL_EVERY)
        goto polled;
    core->last_poll = t != 0 ? t : now();
    if (timeout != 0) {
        n = wait_events(core, core->epfd, events, MAX_EVENTS, timeout, &err);
        core->metrics.wait_time += now() - core->last_poll;
    } else {
        n = wait_events(core, core->epfd, events, MAX_EVENTS, 0, &err);
    }
    if (n < 0) {
        if (err != EINTR) {
            errno = err;
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        /* A signal interrupted the wait: run Python's handlers now, so
         * Ctrl-C raises KeyboardInterrupt at once. */
        if (PyErr_CheckSignals() < 0)
            return -1;
        n = 0;
    }
    if (n > 0) {
        core->metrics.io_events += (uint64_t)n;
        if (dispatch(core, events, n) < 0)
            return -1;
    }
polled:
    if (__atomic_load_n(&core->jobs_pending, __ATOMIC_ACQUIRE) &&
        goloop_run_completions(core) < 0)
        return -1;
    if (core->ntimers > 0) {
        if (goloop_loop_time(core, &lt) < 0)
            return -1;
        if (!(core->timers[0].when >= lt + CLOCK_RESOLUTION) &&  /* NaN is due */
            goloop_timers_run_due(core, lt) < 0)
            return -1;
    }
    return goloop_run_ready(core);
}

int
goloop_run_loop(GoloopCore *core)
{
    double start = now();
    int rc = 0;
    while (core->engine != 0) {
        if (run_once(core) < 0) {
            rc = -1;
            break;
        }
        if (core->stopping)
            break;
    }
    core->metrics.run_time += now() - start;
    return rc;
}
