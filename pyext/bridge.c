/* Small C helpers the Go engine calls through cgo: reference counting
 * (macros Go cannot call), errors, GC visits. Every function here runs
 * with the GIL held. */
#include "goloop.h"
#include <errno.h>

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
