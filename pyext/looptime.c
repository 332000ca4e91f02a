/* The loop's clock. asyncio's loop reads self.time() wherever it needs
 * the time (call_later, the iteration's timeout and due timers), so code
 * and tests that replace loop.time -- a subclass method, or an instance
 * attribute set by mock.patch.object -- move the timers with it. goloop
 * reads CLOCK_MONOTONIC directly (time.monotonic()'s clock, full
 * resolution) unless time is overridden: an instance attribute is seen
 * when it is set (LoopCore's setattr), a class attribute through the
 * type's version tag (changed by any change to the class or a base).
 * Setting loop.__dict__["time"] directly goes unnoticed. Loop thread,
 * GIL held. */
#include "goloop.h"
#include <time.h>

static PyObject *str_time;
static PyObject *own_time;      /* LoopCore.__dict__["time"] */

int
goloop_looptime_init(void)
{
    if ((str_time = PyUnicode_InternFromString("time")) == NULL)
        return -1;
    own_time = PyDict_GetItemWithError(GoloopCore_Type.tp_dict, str_time);
    if (own_time == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "goloop: LoopCore has no time()");
        return -1;
    }
    Py_INCREF(own_time);
    return 0;
}

double
goloop_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int
goloop_core_setattro(PyObject *o, PyObject *name, PyObject *v)
{
    int r = PyObject_GenericSetAttr(o, name, v);
    if (r == 0 && PyUnicode_Check(name) && PyUnicode_Compare(name, str_time) == 0)
        ((GoloopCore *)o)->time_attr = v != NULL;
    return r;
}

/* Whether loop.time is something other than LoopCore's own. */
static int
overridden(GoloopCore *core)
{
    if (core->time_attr)
        return 1;
    PyTypeObject *tp = Py_TYPE(core);
    if (tp->tp_version_tag == 0 || tp->tp_version_tag != core->time_type_tag) {
        core->time_type_custom = _PyType_Lookup(tp, str_time) != own_time;
        core->time_type_tag = tp->tp_version_tag;   /* _PyType_Lookup assigns one */
    }
    return core->time_type_custom;
}

int
goloop_loop_time(GoloopCore *core, double *t)
{
    if (!overridden(core)) {
        *t = goloop_monotonic();
        return 0;
    }
    PyObject *r = PyObject_CallMethodNoArgs((PyObject *)core, str_time);
    if (r == NULL)
        return -1;
    *t = PyFloat_AsDouble(r);
    Py_DECREF(r);
    return *t == -1.0 && PyErr_Occurred() ? -1 : 0;
}
