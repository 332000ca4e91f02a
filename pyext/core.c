/* LoopCore: the C base class of goloop.Loop. It owns the ready queue and
 * implements the hot scheduling methods (call_soon, call_at, call_later,
 * call_soon_threadsafe, time) without entering Go; run, timers, fd
 * watchers and signals are delegated to the Go engine (package loop). */
#include "goloop.h"
#include <structmember.h>
#include <time.h>
#include <unistd.h>
#include <stdint.h>
#include <errno.h>

#define CHECK_FORK(ret) do { if (goloop_check_fork() < 0) return ret; } while (0)

static PyObject *
closed_error(void)
{
    PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
    return NULL;
}

/* ---- ready queue ring ----------------------------------------------- */

/* cap is a power of two (64, doubling), so wrapping is a mask, not a
 * signed division on every push and pop. */
#define RING_SLOT(core, i) (((core)->head + (i)) & ((core)->cap - 1))

int
goloop_ready_push(GoloopCore *core, PyObject *h)
{
    if (core->len == core->cap) {
        Py_ssize_t ncap = core->cap ? core->cap * 2 : 64;
        PyObject **nr = PyMem_Malloc(ncap * sizeof(PyObject *));
        if (nr == NULL) {
            goloop_handle_release(h);
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < core->len; i++)
            nr[i] = core->ring[RING_SLOT(core, i)];
        PyMem_Free(core->ring);
        core->ring = nr;
        core->head = 0;
        core->cap = ncap;
    }
    core->ring[RING_SLOT(core, core->len)] = h;
    core->len++;
    return 0;
}

static PyObject *
ready_pop(GoloopCore *core)
{
    PyObject *h = core->ring[core->head];
    core->head = RING_SLOT(core, 1);
    core->len--;
    return h;
}

static void
ready_clear(GoloopCore *core)
{
    while (core->len > 0)
        goloop_handle_release(ready_pop(core));
}


/* Debug mode: time the callback and have Python log it when slow. No
 * Python frame may hold the handle while it runs: a frame that outlives
 * the callback (linked from a traceback) would keep the handle, and so a
 * finished task, alive. */
static int
run_debug(GoloopCore *core, GoloopHandle *h)
{
    if (PyObject_SetAttrString((PyObject *)core, "_current_handle", (PyObject *)h) < 0)
        return -1;
    double start = goloop_monotonic();
    int r = goloop_handle_run(h);
    double took = goloop_monotonic() - start;
    if (r < 0) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyObject_SetAttrString((PyObject *)core, "_current_handle", Py_None);
        PyErr_Restore(type, value, tb);
        return -1;
    }
    if (PyObject_SetAttrString((PyObject *)core, "_current_handle", Py_None) < 0)
        return -1;
    PyObject *limit = PyObject_GetAttrString((PyObject *)core, "slow_callback_duration");
    if (limit == NULL)
        return -1;
    double lim = PyFloat_AsDouble(limit);
    Py_DECREF(limit);
    if (lim == -1.0 && PyErr_Occurred())
        return -1;
    if (took >= lim) {
        PyObject *res = PyObject_CallMethod((PyObject *)core, "_log_slow_callback", "Od", h, took);
        if (res == NULL)
            return -1;
        Py_DECREF(res);
    }
    return 0;
}

/* The coarse clock (a memory read in the vDSO, ~1-4 ms resolution): one
 * read per callback keeps the longest-callback metric always on. */
static double
coarse_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int
goloop_run_ready(GoloopCore *core)
{
    Py_ssize_t ntodo = core->len;
    if (ntodo == 0)
        return 0;
    GoloopMetrics *m = &core->metrics;
    double t0 = coarse_now();
    for (Py_ssize_t i = 0; i < ntodo && core->len > 0; i++) {
        GoloopHandle *h = (GoloopHandle *)ready_pop(core);
        int r = 0;
        if (!HDATA(h)->cancelled) {
            r = core->debug ? run_debug(core, h) : goloop_handle_run(h);
            m->callbacks++;
            double t1 = coarse_now();
            if (t1 - t0 > m->longest_callback)
                m->longest_callback = t1 - t0;
            t0 = t1;
        }
        goloop_handle_release(h);
        if (r < 0)
            return -1;
    }
    return 0;
}

/* ---- argument parsing shared by call_soon / call_at / ... ------------ */

static PyObject *str_context;   /* interned "context" */
PyTypeObject GoloopCore_Type;

/* Splits (fixed..., callback, *args, context=None) into its parts; the
 * arguments stay in the caller's array (*cargv, *cnargs). */
static int
parse_call(const char *name, Py_ssize_t nfixed, PyObject *const *args,
           Py_ssize_t nargs, PyObject *kwnames, PyObject **callback,
           PyObject *const **cargv, Py_ssize_t *cnargs, PyObject **context)
{
    *context = Py_None;
    if (kwnames != NULL) {
        Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t i = 0; i < nkw; i++) {
            PyObject *k = PyTuple_GET_ITEM(kwnames, i);
            if (k != str_context &&
                (!PyUnicode_Check(k) || PyUnicode_CompareWithASCIIString(k, "context") != 0)) {
                PyErr_Format(PyExc_TypeError,
                             "%s() got an unexpected keyword argument '%S'", name, k);
                return -1;
            }
            *context = args[nargs + i];
        }
    }
    if (nargs < nfixed + 1) {
        PyErr_Format(PyExc_TypeError, "%s() missing required positional argument", name);
        return -1;
    }
    *callback = args[nfixed];
    *cargv = args + nfixed + 1;
    *cnargs = nargs - nfixed - 1;
    return 0;
}

/* Debug mode: thread check and callback check, done in Python
 * (Loop._debug_check); then the creation traceback is attached. */
static int
debug_check(GoloopCore *core, PyObject *callback, const char *method)
{
    PyObject *r = PyObject_CallMethod((PyObject *)core, "_debug_check", "Os", callback, method);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static int
debug_attach(GoloopCore *core, GoloopHandle *h)
{
    PyObject *r = PyObject_CallMethod((PyObject *)core, "_debug_attach", "O", h);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static PyObject *
schedule_soon(GoloopCore *core, const char *name, PyObject *const *args,
              Py_ssize_t nargs, PyObject *kwnames, int threadsafe)
{
    PyObject *callback, *context;
    PyObject *const *cargv;
    Py_ssize_t cnargs;
    CHECK_FORK(NULL);
    if (parse_call(name, 0, args, nargs, kwnames, &callback, &cargv, &cnargs, &context) < 0)
        return NULL;
    if (core->closed)
        return closed_error();
    if (core->debug && debug_check(core, callback, name) < 0)
        return NULL;
    PyTypeObject *type = GoloopHandle_Type;
    if (threadsafe && GoloopThreadSafeHandle_Type != NULL)
        type = GoloopThreadSafeHandle_Type;
    GoloopHandle *h = goloop_handle_new_queued(type, callback, cargv, cnargs,
                                               (PyObject *)core, context);
    if (h == NULL)
        return NULL;
    if (core->debug && debug_attach(core, h) < 0) {
        Py_DECREF(h);
        return NULL;
    }
    Py_INCREF(h);
    if (goloop_ready_push(core, (PyObject *)h) < 0) {
        Py_DECREF(h);
        return NULL;
    }
    /* One wake-up write per wait: later callers see wake_pending and
     * skip the syscall; the engine clears it when it drains the fd. */
    if (threadsafe && core->polling && !core->wake_pending && core->wake_fd >= 0) {
        core->wake_pending = 1;
        uint64_t one = 1;
        ssize_t w;
        do {
            w = write(core->wake_fd, &one, sizeof one);
        } while (w < 0 && errno == EINTR);
    }
    return (PyObject *)h;
}

static PyObject *
core_call_soon(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs,
               PyObject *kwnames)
{
    return schedule_soon(core, "call_soon", args, nargs, kwnames, 0);
}

static PyObject *
core_call_soon_threadsafe(GoloopCore *core, PyObject *const *args,
                          Py_ssize_t nargs, PyObject *kwnames)
{
    return schedule_soon(core, "call_soon_threadsafe", args, nargs, kwnames, 1);
}


static PyObject *
schedule_at(GoloopCore *core, const char *name, double when, PyObject *const *args,
            Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *callback, *context;
    PyObject *const *cargv;
    Py_ssize_t cnargs;
    if (parse_call(name, 1, args, nargs, kwnames, &callback, &cargv, &cnargs, &context) < 0)
        return NULL;
    if (core->closed)
        return closed_error();
    if (core->debug && debug_check(core, callback, name) < 0)
        return NULL;
    GoloopHandle *h = goloop_handle_new_queued(GoloopTimerHandle_Type, callback, cargv, cnargs,
                                               (PyObject *)core, context);
    if (h == NULL)
        return NULL;
    HDATA(h)->when = when;
    if (core->debug && debug_attach(core, h) < 0) {
        Py_DECREF(h);
        return NULL;
    }
    /* The heap holds its own reference. */
    Py_INCREF(h);
    if (goloop_timer_push(core, h) < 0) {
        Py_DECREF(h);
        Py_DECREF(h);
        return NULL;
    }
    return (PyObject *)h;
}

static PyObject *
core_call_at(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs,
             PyObject *kwnames)
{
    CHECK_FORK(NULL);
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "call_at() missing required positional arguments: 'when' and 'callback'");
        return NULL;
    }
    if (args[0] == Py_None) {
#if PY_VERSION_HEX >= 0x030B0000
        PyErr_SetString(PyExc_TypeError, "when cannot be None");
#else
        PyErr_SetNone(PyExc_AssertionError);  /* 3.10's TimerHandle assert */
#endif
        return NULL;
    }
    double when = PyFloat_AsDouble(args[0]);
    if (when == -1.0 && PyErr_Occurred())
        return NULL;
    return schedule_at(core, "call_at", when, args, nargs, kwnames);
}

static PyObject *
core_call_later(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs,
                PyObject *kwnames)
{
    CHECK_FORK(NULL);
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "call_later() missing required positional arguments: 'delay' and 'callback'");
        return NULL;
    }
    if (args[0] == Py_None) {
        PyErr_SetString(PyExc_TypeError, "delay must not be None");
        return NULL;
    }
    double delay = PyFloat_AsDouble(args[0]);
    if (delay == -1.0 && PyErr_Occurred())
        return NULL;
    /* asyncio's call_later goes through call_at: its messages say call_at. */
    double now;
    if (goloop_loop_time(core, &now) < 0)
        return NULL;
    return schedule_at(core, "call_at", now + delay, args, nargs, kwnames);
}

static PyObject *
core_time(GoloopCore *core, PyObject *unused)
{
    CHECK_FORK(NULL);
    return PyFloat_FromDouble(goloop_monotonic());
}

static PyObject *
core_stop(GoloopCore *core, PyObject *unused)
{
    CHECK_FORK(NULL);
    core->stopping = 1;
    Py_RETURN_NONE;
}

static PyObject *
core_is_closed(GoloopCore *core, PyObject *unused)
{
    return PyBool_FromLong(core->closed);
}

/* Runs loop iterations until stop(); the Python run_forever wraps this
 * with the running-loop bookkeeping. */
static PyObject *
core_run(GoloopCore *core, PyObject *unused)
{
    CHECK_FORK(NULL);
    if (core->closed || core->engine == 0)
        return closed_error();
    int r = goloop_run_loop(core);
    core->stopping = 0;
    if (r < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Drops every scheduled callback and releases the engine's fds. */
static PyObject *
core_close(GoloopCore *core, PyObject *unused)
{
    CHECK_FORK(NULL);
    core->closed = 1;
    ready_clear(core);
    goloop_timers_clear(core);
    goloop_watchers_clear(core);
    if (core->engine != 0)
        goloop_engine_close(core);
    core->engine = 0;
    Py_RETURN_NONE;
}

static PyObject *
core_make_handle(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_make_handle(callback, args, context)");
        return NULL;
    }
    PyObject *tuple = PySequence_Tuple(args[1]);
    if (tuple == NULL)
        return NULL;
    GoloopHandle *h = goloop_handle_new(GoloopHandle_Type, args[0], tuple,
                                        (PyObject *)core, args[2]);
    Py_DECREF(tuple);
    return (PyObject *)h;
}

static int
parse_watch(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs,
            Py_ssize_t want, int *fd)
{
    if (goloop_check_fork() < 0)
        return -1;
    if (nargs != want) {
        PyErr_SetString(PyExc_TypeError, "wrong number of arguments");
        return -1;
    }
    if (core->closed || core->engine == 0) {
        closed_error();
        return -1;
    }
    long v = PyLong_AsLong(args[0]);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < INT_MIN || v > INT_MAX) {  /* as selectors/epoll: not truncated to another fd */
        PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to C int");
        return -1;
    }
    *fd = (int)v;
    return 0;
}

/* _watch(fd, write, handle) -> previous handle or None */
static PyObject *
core_watch(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs)
{
    int fd;
    if (parse_watch(core, args, nargs, 3, &fd) < 0)
        return NULL;
    if (!PyObject_TypeCheck(args[2], GoloopHandle_Type)) {
        PyErr_SetString(PyExc_TypeError, "_watch expects a goloop Handle");
        return NULL;
    }
    int write = PyObject_IsTrue(args[1]);
    if (write < 0)
        return NULL;
    return goloop_watch(core, fd, write, (GoloopHandle *)args[2]);
}

/* _unwatch(fd, write[, handle]) -> removed handle or None. With handle:
 * only while that handle is the registered one (the caller's own
 * registration, not whatever now watches a reused fd number). */
static PyObject *
core_unwatch(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs)
{
    int fd;
    if (parse_watch(core, args, nargs, nargs == 3 ? 3 : 2, &fd) < 0)
        return NULL;
    int write = PyObject_IsTrue(args[1]);
    if (write < 0)
        return NULL;
    GoloopHandle *only = NULL;
    if (nargs == 3) {
        if (!PyObject_TypeCheck(args[2], GoloopHandle_Type)) {
            PyErr_SetString(PyExc_TypeError, "_unwatch expects a goloop Handle");
            return NULL;
        }
        only = (GoloopHandle *)args[2];
    }
    return goloop_unwatch(core, fd, write, only);
}

/* _watch_mask(fd) -> 1 (reader) | 2 (writer); 0 when nothing watches fd */
static PyObject *
core_watch_mask(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs)
{
    int fd;
    if (parse_watch(core, args, nargs, 1, &fd) < 0)
        return NULL;
    return PyLong_FromLong(goloop_watch_mask(core, fd));
}

static PyObject *
core_timer_count(GoloopCore *core, PyObject *unused)
{
    return PyLong_FromSsize_t(core->ntimers);
}

static PyObject *
core_ready_count(GoloopCore *core, PyObject *unused)
{
    return PyLong_FromSsize_t(core->len);
}

static PyObject *
core_get_debug(GoloopCore *core, PyObject *unused)
{
    return PyBool_FromLong(core->debug);
}

/* Queues an existing handle (signal handlers: made once, run per signal). */
static PyObject *
core_ready_append(GoloopCore *core, PyObject *h)
{
    if (!PyObject_TypeCheck(h, GoloopHandle_Type)) {
        PyErr_SetString(PyExc_TypeError, "_ready_append expects a goloop Handle");
        return NULL;
    }
    if (core->closed)
        return closed_error();
    Py_INCREF(h);
    if (goloop_ready_push(core, h) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* _getaddrinfo(fut, host: bytes|None, port: bytes|None, family, type,
 * proto, flags): resolve on a goroutine, settle fut on the loop thread. */
static PyObject *
core_getaddrinfo(GoloopCore *core, PyObject *args)
{
    PyObject *fut;
    const char *host, *port;
    int family, type, proto, flags;
    CHECK_FORK(NULL);
    if (!PyArg_ParseTuple(args, "Oz#z#iiii:_getaddrinfo", &fut, &host, &(Py_ssize_t){0},
                          &port, &(Py_ssize_t){0}, &family, &type, &proto, &flags))
        return NULL;
    if (core->closed || core->engine == 0)
        return closed_error();
    if (goloop_getaddrinfo(core, fut, (char *)host, (char *)port, family, type, proto, flags) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* _getnameinfo(fut, host: str, port: str, flowinfo, scope_id, v6, flags) */
static PyObject *
core_getnameinfo(GoloopCore *core, PyObject *args)
{
    PyObject *fut;
    const char *host, *port;
    unsigned int flowinfo, scope_id;
    int v6, flags;
    CHECK_FORK(NULL);
    if (!PyArg_ParseTuple(args, "OssIIpi:_getnameinfo", &fut, &host, &port,
                          &flowinfo, &scope_id, &v6, &flags))
        return NULL;
    if (core->closed || core->engine == 0)
        return closed_error();
    if (goloop_getnameinfo(core, fut, (char *)host, (char *)port, flowinfo, scope_id, v6, flags) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
core_check_fork(GoloopCore *core, PyObject *unused)
{
    CHECK_FORK(NULL);
    Py_RETURN_NONE;
}

/* loop.metrics(): what the loop did since it was made. */
static PyObject *
core_metrics(GoloopCore *core, PyObject *unused)
{
    GoloopMetrics *m = &core->metrics;
    return Py_BuildValue("{s:K,s:K,s:K,s:d,s:d,s:d,s:d,s:n,s:i,s:n,s:n}",
                         "iterations", (unsigned long long)m->iterations,
                         "callbacks", (unsigned long long)m->callbacks,
                         "io_events", (unsigned long long)m->io_events,
                         "run_time", m->run_time,
                         "wait_time", m->wait_time,
                         "busy_time", m->run_time - m->wait_time,
                         "longest_callback", m->longest_callback,
                         "ready", core->len,
                         "fds_watched", core->nwatched,
                         "timers", core->ntimers,
                         "timers_cancelled", core->timers_cancelled);
}

static PyObject *
core_sock_recv(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs)
{
    return goloop_sock_call(core, GOLOOP_SOCK_RECV, args, nargs);
}

static PyObject *
core_sock_recv_into(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs)
{
    return goloop_sock_call(core, GOLOOP_SOCK_RECV_INTO, args, nargs);
}

static PyObject *
core_sock_sendall(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs)
{
    return goloop_sock_call(core, GOLOOP_SOCK_SENDALL, args, nargs);
}

static PyMethodDef core_methods[] = {
    {"_check_fork", (PyCFunction)core_check_fork, METH_NOARGS,
     "Raise RuntimeError in a child forked after the Go runtime started."},
    {"_getaddrinfo", (PyCFunction)core_getaddrinfo, METH_VARARGS, NULL},
    {"_getnameinfo", (PyCFunction)core_getnameinfo, METH_VARARGS, NULL},
    {"get_debug", (PyCFunction)core_get_debug, METH_NOARGS, "True in debug mode."},
    {"_ready_append", (PyCFunction)core_ready_append, METH_O, NULL},
    {"call_soon", (PyCFunction)(void (*)(void))core_call_soon,
     METH_FASTCALL | METH_KEYWORDS, "Schedule callback(*args) to run soon."},
    {"call_soon_threadsafe", (PyCFunction)(void (*)(void))core_call_soon_threadsafe,
     METH_FASTCALL | METH_KEYWORDS, "Like call_soon, callable from any thread."},
    {"call_at", (PyCFunction)(void (*)(void))core_call_at,
     METH_FASTCALL | METH_KEYWORDS, "Schedule callback(*args) at loop time `when`."},
    {"call_later", (PyCFunction)(void (*)(void))core_call_later,
     METH_FASTCALL | METH_KEYWORDS, "Schedule callback(*args) after `delay` seconds."},
    {"time", (PyCFunction)core_time, METH_NOARGS, "The loop's clock (time.monotonic)."},
    {"metrics", (PyCFunction)core_metrics, METH_NOARGS,
     "What the loop did since it was made: iterations, callbacks run, I/O events, "
     "seconds running, waiting and busy, the longest callback (ms resolution), and "
     "what it holds now (ready callbacks, watched fds, timers)."},
    {"stop", (PyCFunction)core_stop, METH_NOARGS, "Stop after the current iteration."},
    {"is_closed", (PyCFunction)core_is_closed, METH_NOARGS, NULL},
    {"_run", (PyCFunction)core_run, METH_NOARGS, NULL},
    {"_close_core", (PyCFunction)core_close, METH_NOARGS, NULL},
    {"_make_handle", (PyCFunction)(void (*)(void))core_make_handle, METH_FASTCALL, NULL},
    {"_watch", (PyCFunction)(void (*)(void))core_watch, METH_FASTCALL, NULL},
    {"_unwatch", (PyCFunction)(void (*)(void))core_unwatch, METH_FASTCALL, NULL},
    {"_watch_mask", (PyCFunction)(void (*)(void))core_watch_mask, METH_FASTCALL, NULL},
    {"_timer_count", (PyCFunction)core_timer_count, METH_NOARGS, NULL},
    {"sock_recv", (PyCFunction)(void (*)(void))core_sock_recv, METH_FASTCALL,
     "Receive up to n bytes from sock (a coroutine, as asyncio's)."},
    {"sock_recv_into", (PyCFunction)(void (*)(void))core_sock_recv_into, METH_FASTCALL,
     "Receive into buf from sock (a coroutine, as asyncio's)."},
    {"sock_sendall", (PyCFunction)(void (*)(void))core_sock_sendall, METH_FASTCALL,
     "Send all of data to sock (a coroutine, as asyncio's)."},
    {"_c_sock_recv", (PyCFunction)(void (*)(void))goloop_core_sock_recv, METH_FASTCALL, NULL},
    {"_c_sock_recv_into", (PyCFunction)(void (*)(void))goloop_core_sock_recv_into, METH_FASTCALL, NULL},
    {"_c_sock_sendall", (PyCFunction)(void (*)(void))goloop_core_sock_sendall, METH_FASTCALL, NULL},
    {"create_task", (PyCFunction)(void (*)(void))goloop_core_create_task,
     METH_FASTCALL | METH_KEYWORDS, "Schedule a coroutine as an asyncio.Task."},
    {"_ready_count", (PyCFunction)core_ready_count, METH_NOARGS, NULL},
    {NULL}
};

/* __dict__ of instances: Python classes in the MRO (AbstractEventLoop)
 * have a __dict__ descriptor tied to their own layout. */
static PyGetSetDef core_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL}
};

static PyMemberDef core_members[] = {
    {"_debug", T_INT, offsetof(GoloopCore, debug), 0, NULL},
    {"_stopping", T_INT, offsetof(GoloopCore, stopping), 0, NULL},
    {"_closed", T_INT, offsetof(GoloopCore, closed), READONLY, NULL},
    {"_signal_fd", T_INT, offsetof(GoloopCore, signal_fd), READONLY, NULL},
    {"_task_factory", T_OBJECT, offsetof(GoloopCore, task_factory), 0, NULL},
    {NULL}
};

static PyObject *
core_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    if (goloop_check_fork() < 0)
        return NULL;
    GoloopCore *core = (GoloopCore *)type->tp_alloc(type, 0);
    if (core == NULL)
        return NULL;
    core->epfd = -1;
    core->wake_fd = -1;
    core->signal_fd = -1;
    core->signal_rfd = -1;
    if (goloop_engine_new(core) < 0) {
        Py_DECREF(core);
        return NULL;
    }
    return (PyObject *)core;
}

static int
core_traverse(GoloopCore *core, visitproc visit, void *arg)
{
    for (Py_ssize_t i = 0; i < core->len; i++) {
        int r = goloop_handle_traverse_queued(core->ring[RING_SLOT(core, i)], visit, arg);
        if (r != 0)
            return r;
    }
    Py_VISIT(core->task_factory);
    int r = goloop_timers_traverse(core, visit, arg);
    if (r != 0)
        return r;
    r = goloop_watchers_traverse(core, visit, arg);
    if (r != 0)
        return r;
    /* The references the Go engine owns (the DNS jobs' futures, held by
     * policy's resolver): each refers back to the loop, so without them the
     * collector could not free an unclosed loop (nor run its __del__,
     * which warns and closes it, as asyncio's). */
    if (core->engine != 0 && !goloop_forked)
        return goloop_engine_traverse(core, visit, arg);
    return 0;
}

static int
core_clear(GoloopCore *core)
{
    ready_clear(core);
    goloop_timers_clear(core);
    goloop_watchers_clear(core);
    Py_CLEAR(core->task_factory);
    /* An unreachable loop (the collector clears cycles through it): the
     * engine's references (timers, watchers) and fds go too. */
    if (core->engine != 0 && !goloop_forked) {
        core->closed = 1;
        goloop_engine_close(core);
        core->engine = 0;
    }
    return 0;
}

static void
core_dealloc(GoloopCore *core)
{
    PyTypeObject *tp = Py_TYPE(core);
    PyObject_GC_UnTrack(core);
    core_clear(core);
    /* In a forked child the Go runtime is gone: leak rather than hang. */
    if (core->engine != 0 && !goloop_forked)
        goloop_engine_close(core);
    core->engine = 0;
    PyMem_Free(core->ring);
    core->ring = NULL;
    tp->tp_free((PyObject *)core);
}

int
goloop_core_type_init(void)
{
    if (str_context == NULL && (str_context = PyUnicode_InternFromString("context")) == NULL)
        return -1;
    return PyType_Ready(&GoloopCore_Type);
}

PyTypeObject GoloopCore_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "goloop._goloop.LoopCore",
    .tp_basicsize = sizeof(GoloopCore),
    .tp_dealloc = (destructor)core_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "C core of goloop.Loop: ready queue and scheduling fast paths.",
    .tp_traverse = (traverseproc)core_traverse,
    .tp_clear = (inquiry)core_clear,
    .tp_setattro = goloop_core_setattro,
    .tp_methods = core_methods,
    .tp_members = core_members,
    .tp_getset = core_getset,
    .tp_new = core_new,
    .tp_free = PyObject_GC_Del,
};
