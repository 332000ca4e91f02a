/* Shared declarations of goloop's C layer: the extension types (Handle,
 * TimerHandle, LoopCore), the helpers Go calls through cgo, and the Go
 * functions (exported from package main) that C calls. This is the only
 * header that includes Python.h. */
#ifndef GOLOOP_H
#define GOLOOP_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* ---- Handle / TimerHandle ------------------------------------------- */

/* goloop's Handle and TimerHandle are real subclasses of asyncio.Handle and
 * asyncio.TimerHandle (heap types made at import), so isinstance checks
 * hold. Their own state lives after the base instance layout, at
 * goloop_handle_offset (the same for both types): use HDATA(obj). */
typedef struct {
    PyObject *callback;         /* NULL once cancelled */
    PyObject *args;             /* tuple; NULL once cancelled */
    PyObject *context;          /* contextvars.Context */
    PyObject *loop;             /* strong reference */
    PyObject *source_traceback; /* debug mode only, else NULL */
    PyObject *repr;             /* repr cached at cancel time (debug) */
    double when;                /* TimerHandle only */
    char cancelled;
    char scheduled;             /* TimerHandle: still in the timer heap */
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

GoloopHandle *goloop_handle_new(PyTypeObject *type, PyObject *callback,
                                PyObject *args, PyObject *loop,
                                PyObject *context);
/* Runs the callback in its context. Returns 0; on an exception it is
 * reported to the loop's exception handler, except SystemExit and
 * KeyboardInterrupt, which are left set and -1 is returned. */
int goloop_handle_run(GoloopHandle *h);
/* handle.cancel() for a Handle (not a TimerHandle). */
void goloop_handle_cancel(PyObject *h);

/* ---- LoopCore ------------------------------------------------------- */

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
    int wake_fd;                /* eventfd written by call_soon_threadsafe */
    int signal_fd;              /* write end of the signal wake-up pipe */
    Py_ssize_t timers_cancelled;/* cancelled handles still in the heap */
    PyObject *dict;
    PyObject *weakreflist;
} GoloopCore;

extern PyTypeObject GoloopCore_Type;

int goloop_ready_push(GoloopCore *core, PyObject *h); /* steals h */
int goloop_ready_push_batch(GoloopCore *core, PyObject **hs, int n, int incref);
/* Runs the ready callbacks present at entry. -1 with an exception set
 * when one must propagate (SystemExit, KeyboardInterrupt). */
int goloop_run_ready(GoloopCore *core);

/* ---- helpers called from Go ---------------------------------------- */

int goloop_wait(GoloopCore *core, int epfd, void *events, int maxevents,
                int timeout_ms, int *err);
void goloop_incref(PyObject *o);
void goloop_decref(PyObject *o);
void goloop_set_error(int kind, const char *msg);
int goloop_dispatch_signals(GoloopCore *core, const char *buf, int n);
int goloop_err_occurred(void);
void goloop_set_errno(int e);
int goloop_check_signals(void);
int goloop_handle_cancelled(GoloopHandle *h);

enum { GOLOOP_ERR_RUNTIME = 0, GOLOOP_ERR_OS = 1, GOLOOP_ERR_VALUE = 2,
       GOLOOP_ERR_TYPE = 3 };

/* ---- stream transport (stream.c) -------------------------------------- */

int goloop_stream_type_init(PyObject *module);

#define GOLOOP_READ_BUF (256 * 1024)   /* asyncio's max_size per recv */

/* recv/send via syscall(), MSG_DONTWAIT, EINTR retried (sockio.c). */
ssize_t goloop_recv(int fd, void *p, size_t n);
ssize_t goloop_send(int fd, const void *p, size_t n);

/* recv of up to max bytes from fd into a new bytes object (b"" at end of
 * stream). *hint: the previous read's size, updated (sockio.c). NULL
 * with no exception set: errno tells why (EAGAIN: nothing to read; any
 * other: an OS error for the caller to raise); NULL with an exception:
 * out of memory. exact: a stream socket's sock_recv, which must return
 * min(max, queued) bytes like socket.recv(max). */
PyObject *goloop_recv_bytes(int fd, Py_ssize_t max, Py_ssize_t *hint, int exact);

/* ---- sock_* fast paths (sockops.c) ------------------------------------ */

int goloop_sockops_init(PyObject *module);
PyObject *goloop_set_sock_future(PyObject *m, PyObject *cls);
PyObject *goloop_core_sock_recv(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs);
PyObject *goloop_core_sock_recv_into(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs);
PyObject *goloop_core_sock_sendall(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs);

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

/* visit(o, arg) for Go, which cannot call a C function pointer (bridge.c) */
int goloop_visit(visitproc visit, PyObject *o, void *arg);

/* Python helpers registered by goloop/_loop.py (_goloop._set_helpers). */
extern PyObject *goloop_helper_handle_repr;   /* (handle) -> str */
extern PyObject *goloop_empty_tuple;

/* ---- Go functions (exported from package main) ---------------------- */

extern int goloop_engine_new(GoloopCore *core);
extern void goloop_engine_close(GoloopCore *core);
extern int goloop_engine_traverse(GoloopCore *core, visitproc visit, void *arg);
extern int goloop_run(GoloopCore *core);
extern int goloop_timer_add(GoloopCore *core, GoloopHandle *h);
extern PyObject *goloop_watch(GoloopCore *core, int fd, int write,
                              GoloopHandle *h);
extern PyObject *goloop_unwatch(GoloopCore *core, int fd, int write);
extern int goloop_timer_count(GoloopCore *core);
extern int goloop_selftest_panic(void);
extern int goloop_getaddrinfo(GoloopCore *core, PyObject *fut, char *host,
                              char *port, int family, int type, int proto,
                              int flags);
extern int goloop_getnameinfo(GoloopCore *core, PyObject *fut, char *host,
                              char *port, unsigned flowinfo, unsigned scope_id,
                              int v6, int flags);

#endif
