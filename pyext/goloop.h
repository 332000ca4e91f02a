/* Shared declarations of goloop's C layer: the extension types (Handle,
 * TimerHandle, LoopCore), the helpers Go calls through cgo, and the Go
 * functions (exported from package main, exports_*.go) that C calls.
 * Every file of pyext/ includes it; no C outside pyext/ includes Python.h
 * (transports/ and loop/timerheap/ are plain C that this layer includes). */
#ifndef GOLOOP_H
#define GOLOOP_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "../loop/timerheap/timer_heap.h"
#include <stdint.h>

/* ---- Handle / TimerHandle ------------------------------------------- */

/* goloop's Handle and TimerHandle are real subclasses of asyncio.Handle and
 * asyncio.TimerHandle (heap types made at import), so isinstance checks
 * hold. Their plain state lives after asyncio.Handle's instance layout, at
 * goloop_handle_offset (the same for both types): use HDATA(obj). */
/* Up to this many callback arguments are stored in the handle itself:
 * call_soon(cb, fut) builds no tuple (a tuple is one more GC-tracked
 * allocation per callback); `_args` makes one on demand. */
#define GOLOOP_INLINE_ARGS 2

/* What a goloop handle keeps beyond the asyncio base's slots (handle.c
 * keeps its object fields -- callback, args, context, loop -- in those). */
typedef struct {
    PyObject *argv[GOLOOP_INLINE_ARGS]; /* the arguments, when not args_in_tuple */
    double when;                /* TimerHandle only */
    unsigned char nargs;        /* how many of argv are set */
    char args_in_tuple;         /* more than INLINE: the args slot holds them */
    char cancelled;
    char scheduled;             /* TimerHandle: still in the timer heap */
    char context_shown;         /* the context object was handed out: keep it */
} GoloopHandleData;

typedef PyObject GoloopHandle;

extern Py_ssize_t goloop_handle_offset;
#define HDATA(o) ((GoloopHandleData *)((char *)(o) + goloop_handle_offset))

extern PyTypeObject *GoloopHandle_Type;
extern PyTypeObject *GoloopTimerHandle_Type;
/* call_soon_threadsafe's handle where asyncio has events._ThreadSafeHandle
 * (3.14; cancel() waits for a running callback); NULL elsewhere. */
extern PyTypeObject *GoloopThreadSafeHandle_Type;

/* Creates both types as subclasses of asyncio's; 0 or -1. */
int goloop_handle_types_init(PyObject *module);

/* A new handle. args: a tuple or NULL (no arguments); context: a
 * Context, or NULL/None for a copy of the current one. */
GoloopHandle *goloop_handle_new(PyTypeObject *type, PyObject *callback,
                                PyObject *args, PyObject *loop,
                                PyObject *context);
/* The same with the arguments as an array (call_soon's fast path). */
GoloopHandle *goloop_handle_new_vec(PyTypeObject *type, PyObject *callback,
                                    PyObject *const *argv, Py_ssize_t nargs,
                                    PyObject *loop, PyObject *context);
/* A handle for the loop's ready queue or timer heap, left untracked by
 * the cyclic GC while only the loop holds it: a GC-tracked object per
 * callback made the collector's passes the largest cost of call_soon.
 * The loop's traversal visits what such a handle refers to
 * (goloop_handle_traverse_queued), and goloop_handle_release tracks it
 * if someone else still holds it when the loop lets it go, so cycles
 * through it are still found. */
GoloopHandle *goloop_handle_new_queued(PyTypeObject *type, PyObject *callback,
                                       PyObject *const *argv, Py_ssize_t nargs,
                                       PyObject *loop, PyObject *context);
/* Drops the loop's reference to a queued handle (see above). */
void goloop_handle_release(PyObject *h);
/* The loop's tp_traverse step for one queued handle. */
int goloop_handle_traverse_queued(PyObject *h, visitproc visit, void *arg);
/* Runs the callback in its context. Returns 0; on an exception it is
 * reported to the loop's exception handler, except SystemExit and
 * KeyboardInterrupt, which are left set and -1 is returned. */
int goloop_handle_run(GoloopHandle *h);
/* handle.cancel() for a Handle (not a TimerHandle). */
void goloop_handle_cancel(PyObject *h);

/* ---- callback contexts (contexts.c) ----------------------------------- */

/* What a new handle runs in when given no context: *out becomes a new
 * reference to a copy of the current context, or NULL when the current
 * context is empty (the handle then runs in a fresh empty context, which
 * goloop_context_lease makes). 0, or -1 with an exception set. */
int goloop_context_capture(PyObject **out);
/* An empty context for one run (new reference), from a small pool. */
PyObject *goloop_context_lease(void);
/* After a run in a leased context stored in *slot: when nothing else
 * refers to it, it was never handed out (shown) and the callback left it
 * empty, it goes back to the pool and *slot becomes NULL again; else the
 * handle keeps it, as asyncio's handle keeps its context. */
void goloop_context_settle(PyObject **slot, int shown);

/* ---- LoopCore ------------------------------------------------------- */

/* One scheduled TimerHandle in the loop's timer heap (timers.c; the
 * ordering is loop/timerheap/timer_heap.h); the heap owns a reference to
 * h. */
typedef goloop_timer GoloopTimer;

/* What add_reader/add_writer installed on one fd (watchers.c); the table
 * owns a reference to each handle. */
typedef struct {
    PyObject *reader;
    PyObject *writer;
} GoloopWatch;

/* What loop.metrics() reports (run.c keeps them; always on: counters and
 * a few clock reads per iteration, see bench/). */
typedef struct {
    uint64_t iterations;
    uint64_t callbacks;         /* callbacks run */
    uint64_t io_events;         /* ready fds reported by the poller */
    double wait_time;           /* seconds spent blocked in the poller */
    double run_time;            /* seconds spent in run_forever */
    double longest_callback;    /* seconds (coarse clock: ms resolution) */
} GoloopMetrics;

typedef struct {
    PyObject_HEAD
    PyObject **ring;            /* ready queue: FIFO ring of GoloopHandle* */
    Py_ssize_t head, len, cap;
    uint64_t engine;            /* Go engine id; 0 = none (closed) */
    int closed;
    int stopping;
    int debug;
    volatile int polling;       /* loop thread waits in epoll without GIL */
    int wake_pending;           /* wake_fd written, not yet drained */
    int epfd;                   /* the poller (made by the Go engine) */
    int wake_fd;                /* eventfd written by call_soon_threadsafe */
    int signal_fd;              /* write end of the signal wake-up pipe */
    int signal_rfd;             /* its read end, watched by the poller */
    int jobs_pending;           /* set (atomically) by Go when DNS results wait */
    GoloopWatch *watch;         /* indexed by fd */
    int nwatch;
    int nwatched;               /* fds with a reader or writer installed */
    double last_poll;           /* when the poller was last asked (run.c) */
    GoloopMetrics metrics;
    char time_attr;             /* an instance attribute `time` is set */
    char time_type_custom;      /* the class overrides time() ... */
    unsigned int time_type_tag; /* ... as of this tp_version_tag */
    GoloopTimer *timers;        /* min-heap on (when, seq) */
    Py_ssize_t ntimers, timers_cap;
    uint64_t timer_seq;
    Py_ssize_t timers_cancelled;/* cancelled handles still in the heap */
    /* loop._task_factory, a member: create_task reads it without a dict.
     * LoopCore has no __dict__ or weakref slot of its own: goloop.Loop, a
     * Python subclass, gets the interpreter's managed ones, and with them
     * the specialized `loop.method(...)` calls (3.13+: inline values), which
     * an explicit dict offset rules out once the dict exists. */
    PyObject *task_factory;
} GoloopCore;

extern PyTypeObject GoloopCore_Type;
/* Readies the LoopCore type and what its methods use; 0 or -1. */
int goloop_core_type_init(void);

int goloop_ready_push(GoloopCore *core, PyObject *h); /* steals h */
/* Runs the ready callbacks present at entry. -1 with an exception set
 * when one must propagate (SystemExit, KeyboardInterrupt). */
int goloop_run_ready(GoloopCore *core);

/* ---- the timer heap (timers.c) --------------------------------------- */

/* Adds a TimerHandle (its `when` set), handing over one reference. */
int goloop_timer_push(GoloopCore *core, PyObject *h);
/* Bookkeeping of TimerHandle.cancel() for a timer still in the heap. */
void goloop_timer_cancelled(GoloopCore *core, PyObject *h);
/* Moves the timers due at `now` to the ready queue; -1 + exception. */
int goloop_timers_run_due(GoloopCore *core, double now);
/* Whether goloop_timers_purge has work (cheap; Go asks before calling). */
int goloop_timers_need_purge(GoloopCore *core);
void goloop_timers_purge(GoloopCore *core);
/* Drops every timer (close). */
void goloop_timers_clear(GoloopCore *core);
int goloop_timers_traverse(GoloopCore *core, visitproc visit, void *arg);

/* ---- fd watchers (watchers.c) ---------------------------------------- */

/* Installs h as fd's reader or writer (a new reference); returns the
 * handle it replaces (the caller owns it) or None; NULL + exception. */
PyObject *goloop_watch(GoloopCore *core, int fd, int write, GoloopHandle *h);
/* Removes fd's reader or writer: the removed handle (the caller owns it)
 * or None. With `only` set, just while that handle is the one installed:
 * a transport or a pending sock_* call names the registration it owns, so
 * once its fd number was closed and handed to another socket, whose
 * registration replaced it, it cannot remove the newcomer's. */
PyObject *goloop_unwatch(GoloopCore *core, int fd, int write, PyObject *only);
/* fd's watched directions: 1 reader, 2 writer; 0 for none. */
int goloop_watch_mask(GoloopCore *core, int fd);
void goloop_watchers_clear(GoloopCore *core);
int goloop_watchers_traverse(GoloopCore *core, visitproc visit, void *arg);

/* ---- the loop's clock (looptime.c) ------------------------------------ */

int goloop_looptime_init(void);
/* LoopCore's tp_setattro: notes when `time` is set on an instance. */
int goloop_core_setattro(PyObject *o, PyObject *name, PyObject *v);
/* CLOCK_MONOTONIC in seconds: time.monotonic()'s clock. */
double goloop_monotonic(void);
/* loop.time(): the clock above, or the loop's overridden time() (a
 * subclass method or an instance attribute). 0, or -1 + exception. */
int goloop_loop_time(GoloopCore *core, double *t);

/* ---- the iteration (run.c) -------------------------------------------- */

/* Iterates until stop() or close; -1 with an exception set when one must
 * propagate (KeyboardInterrupt, SystemExit, a signal handler's). */
int goloop_run_loop(GoloopCore *core);

/* ---- helpers called from Go ---------------------------------------- */

void goloop_incref(PyObject *o);
void goloop_decref(PyObject *o);
void goloop_set_error(int kind, const char *msg);
int goloop_err_occurred(void);
void goloop_set_errno(int e);

enum { GOLOOP_ERR_RUNTIME = 0, GOLOOP_ERR_OS = 1, GOLOOP_ERR_VALUE = 2,
       GOLOOP_ERR_TYPE = 3 };

/* ---- stream transport (stream.c) -------------------------------------- */

int goloop_stream_type_init(PyObject *module);

#define GOLOOP_READ_BUF (256 * 1024)   /* asyncio's max_size per recv */

/* recv/send via syscall(), MSG_DONTWAIT, EINTR retried (sockio.c). */
ssize_t goloop_recv(int fd, void *p, size_t n);
ssize_t goloop_send(int fd, const void *p, size_t n);

/* recv of up to GOLOOP_READ_BUF bytes into the shared receive buffer;
 * *data points to it. Valid until the next recv into it: copy out before
 * any Python code runs. */
ssize_t goloop_recv_shared(int fd, const char **data);

/* recv of up to max bytes from fd into a new bytes object (b"" at end of
 * stream). *hint: the previous read's size, updated (sockio.c). NULL
 * with no exception set: errno tells why (EAGAIN: nothing to read; any
 * other: an OS error for the caller to raise); NULL with an exception:
 * out of memory. exact: a stream socket's sock_recv, which must return
 * min(max, queued) bytes like socket.recv(max). */
PyObject *goloop_recv_bytes(int fd, Py_ssize_t max, Py_ssize_t *hint, int exact);

/* The fd a socket object holds now (-1 once closed or detached), cheap:
 * checked before each system call on a cached fd (sockfd.c). */
int goloop_sockfd_init(void);
int goloop_sock_fd(PyObject *sock);

/* ---- asyncio.StreamReader fed natively (streamreader.c) -------------- */

int goloop_streamreader_init(void);
/* The StreamReader a plain StreamReaderProtocol would feed (new
 * reference), or NULL with no exception set: use data_received. */
PyObject *goloop_stream_reader_of(PyObject *protocol);
/* What StreamReader.feed_data(data) does; 0, or -1 with an exception. */
int goloop_stream_feed(PyObject *reader, const char *data, Py_ssize_t n);

/* ---- sock_* fast paths (sockops.c) ------------------------------------ */

int goloop_sockops_init(PyObject *module);
PyObject *goloop_set_sock_future(PyObject *m, PyObject *cls);
PyObject *goloop_core_sock_recv(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs);
PyObject *goloop_core_sock_recv_into(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs);
PyObject *goloop_core_sock_sendall(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs);

/* Takes a blocked call off the poller and drops what it holds, leaving
 * its future as it is (nobody waits on it any more). No exception. */
void goloop_sock_future_abandon(PyObject *fut);
/* Whether o is a SockFuture (a blocked call's future). */
int goloop_is_sock_future(PyObject *o);
/* Whether the sock_* call with these arguments may take the C path (a
 * plain socket.socket and plain arguments); no I/O, no exception. */
int goloop_sock_call_fits(int kind, PyObject *const *args, Py_ssize_t nargs);

/* ---- loop.sock_recv/sock_recv_into/sock_sendall awaitables (sockcall.c) */

enum { GOLOOP_SOCK_RECV = 0, GOLOOP_SOCK_RECV_INTO = 1, GOLOOP_SOCK_SENDALL = 2 };
int goloop_sockcall_init(PyObject *module);
/* loop.<kind>(*args): a SockCall, or asyncio's path's coroutine. */
PyObject *goloop_sock_call(GoloopCore *core, int kind, PyObject *const *args, Py_ssize_t nargs);
PyObject *goloop_set_sock_methods(PyObject *m, PyObject *args);

/* ---- sendfile(2), stat/unlink of socket paths (fsops.c) ------------ */

/* Adds _sendfile, _path_stat, _path_unlink to the module; 0 or -1. */
int goloop_fsops_init(PyObject *module);

/* ---- loop.create_task (tasks.c) ------------------------------------ */

int goloop_tasks_init(void);
PyObject *goloop_core_create_task(GoloopCore *core, PyObject *const *args,
                                  Py_ssize_t nargs, PyObject *kwnames);

/* ---- name resolution (resolve.c) ------------------------------------- */

struct addrinfo;
int goloop_gai(const char *host, const char *port, int family, int type,
               int proto, int flags, struct addrinfo **res, int *err_no);
PyObject *goloop_gai_finish(struct addrinfo *res, int code, int err_no);
void goloop_gai_free(struct addrinfo *res);
int goloop_gni(const char *host, const char *port, unsigned flowinfo,
               unsigned scope_id, int v6, int flags, char *hbuf, int hlen,
               char *sbuf, int slen, int *err_no);
PyObject *goloop_gni_finish(int code, int err_no, const char *hbuf, const char *sbuf);
int goloop_settle_future(PyObject *fut, PyObject *result);

/* ---- module-wide state ---------------------------------------------- */

/* Set in a child process forked after the Go runtime started. */
extern volatile int goloop_forked;
int goloop_check_fork(void);          /* -1 + RuntimeError in such a child */
int goloop_is_finalizing(void);

/* Puts goloop's handler of SIGSEGV/SIGBUS/SIGFPE in front of the Go
 * runtime's, so that faults outside Go code end the process as they
 * would without Go (fatalsig.c). Once, after the runtime started. */
void goloop_fatal_signals_init(void);

/* visit(o, arg) for Go, which cannot call a C function pointer (bridge.c) */
int goloop_visit(visitproc visit, PyObject *o, void *arg);

/* Python helpers registered by goloop/_loop.py (_goloop._set_helpers). */
extern PyObject *goloop_helper_handle_repr;   /* (handle) -> str */
extern PyObject *goloop_empty_tuple;

/* ---- Go functions (exported from package main) ---------------------- */

extern int goloop_engine_new(GoloopCore *core);
extern void goloop_engine_close(GoloopCore *core);
extern int goloop_engine_traverse(GoloopCore *core, visitproc visit, void *arg);
/* Settles the futures of finished DNS jobs (loop thread); -1 + exception. */
extern int goloop_run_completions(GoloopCore *core);
extern int goloop_selftest_panic(void);
extern int goloop_selftest_fault(void);
extern int goloop_getaddrinfo(GoloopCore *core, PyObject *fut, char *host,
                              char *port, int family, int type, int proto,
                              int flags);
extern int goloop_getnameinfo(GoloopCore *core, PyObject *fut, char *host,
                              char *port, unsigned flowinfo, unsigned scope_id,
                              int v6, int flags);

#endif
