/* Small C helpers the Go engine calls through cgo: waiting in epoll with
 * the GIL released, reference counting (macros Go cannot call), errors,
 * and signal dispatch. Every function here runs on the loop thread with
 * the GIL held (goloop_wait releases it only around epoll_wait). */
#include "goloop.h"
#include <sys/epoll.h>
#include <errno.h>

int
goloop_wait(GoloopCore *core, int epfd, void *events, int maxevents,
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

int
goloop_visit(visitproc visit, PyObject *o, void *arg)
{
    return o != NULL ? visit(o, arg) : 0;
}

void goloop_incref(PyObject *o) { Py_INCREF(o); }
void goloop_decref(PyObject *o) { Py_DECREF(o); }
int goloop_err_occurred(void) { return PyErr_Occurred() != NULL; }

void
goloop_set_error(int kind, const char *msg)
{
    PyObject *type;
    switch (kind) {
    case GOLOOP_ERR_VALUE: type = PyExc_ValueError; break;
    case GOLOOP_ERR_TYPE: type = PyExc_TypeError; break;
    case GOLOOP_ERR_OS: type = PyExc_OSError; break;
    default: type = PyExc_RuntimeError; break;
    }
    PyErr_SetString(type, msg);
}

void
goloop_set_errno(int e)
{
    errno = e;
    PyErr_SetFromErrno(PyExc_OSError);
}

/* Signal numbers read from the wake-up pipe go to Loop._handle_signals;
 * then Python-level handlers (e.g. SIGINT -> KeyboardInterrupt) run. */
int
goloop_dispatch_signals(GoloopCore *core, const char *buf, int n)
{
    if (n > 0) {
        PyObject *r = PyObject_CallMethod((PyObject *)core, "_handle_signals", "y#", buf, (Py_ssize_t)n);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
    }
    return PyErr_CheckSignals();
}

int
goloop_check_signals(void)
{
    return PyErr_CheckSignals();
}

int
goloop_handle_cancelled(GoloopHandle *h)
{
    return HDATA(h)->cancelled;
}
