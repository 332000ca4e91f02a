/* Handle and TimerHandle: the callback objects the loop schedules.
 * Same public surface as asyncio.Handle / asyncio.TimerHandle (cancel,
 * cancelled, when, get_context, _run, repr), implemented in C so that
 * call_soon and the ready queue never run Python code of their own. */
#include "goloop.h"
#include <structmember.h>

GoloopHandle *
goloop_handle_new(PyTypeObject *type, PyObject *callback, PyObject *args,
                  PyObject *loop, PyObject *context)
{
    GoloopHandle *h = PyObject_GC_New(GoloopHandle, type);
    if (h == NULL)
        return NULL;
    Py_INCREF(callback);
    h->callback = callback;
    if (args == NULL)
        args = goloop_empty_tuple;
    Py_INCREF(args);
    h->args = args;
    Py_XINCREF(loop);
    h->loop = loop;
    if (context == NULL || context == Py_None) {
        h->context = PyContext_CopyCurrent();
        if (h->context == NULL) {
            h->source_traceback = h->repr = h->weakreflist = NULL;
            h->cancelled = h->scheduled = 0;
            h->when = 0;
            Py_DECREF(h);
            return NULL;
        }
    } else {
        Py_INCREF(context);
        h->context = context;
    }
    h->source_traceback = NULL;
    h->repr = NULL;
    h->weakreflist = NULL;
    h->when = 0;
    h->cancelled = 0;
    h->scheduled = 0;
    PyObject_GC_Track(h);
    return h;
}

static int
handle_clear(GoloopHandle *h)
{
    Py_CLEAR(h->callback);
    Py_CLEAR(h->args);
    Py_CLEAR(h->context);
    Py_CLEAR(h->loop);
    Py_CLEAR(h->source_traceback);
    Py_CLEAR(h->repr);
    return 0;
}

static int
handle_traverse(GoloopHandle *h, visitproc visit, void *arg)
{
    Py_VISIT(h->callback);
    Py_VISIT(h->args);
    Py_VISIT(h->context);
    Py_VISIT(h->loop);
    Py_VISIT(h->source_traceback);
    Py_VISIT(h->repr);
    return 0;
}

static void
handle_dealloc(GoloopHandle *h)
{
    PyObject_GC_UnTrack(h);
    if (h->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)h);
    handle_clear(h);
    Py_TYPE(h)->tp_free((PyObject *)h);
}

/* Python-visible constructor, same signature as asyncio.Handle:
 * Handle(callback, args, loop, context=None). */
static PyObject *
handle_tp_new(PyTypeObject *type, PyObject *a, PyObject *kw)
{
    static char *kwlist[] = {"callback", "args", "loop", "context", NULL};
    PyObject *callback, *args, *loop, *context = Py_None;
    if (!PyArg_ParseTupleAndKeywords(a, kw, "OOO|O:Handle", kwlist,
                                     &callback, &args, &loop, &context))
        return NULL;
    PyObject *tuple = args == Py_None ? goloop_empty_tuple : PySequence_Tuple(args);
    if (tuple == NULL)
        return NULL;
    if (args == Py_None)
        Py_INCREF(tuple);
    GoloopHandle *h = goloop_handle_new(type, callback, tuple, loop, context);
    Py_DECREF(tuple);
    return (PyObject *)h;
}

static PyObject *
timer_tp_new(PyTypeObject *type, PyObject *a, PyObject *kw)
{
    static char *kwlist[] = {"when", "callback", "args", "loop", "context", NULL};
    double when;
    PyObject *callback, *args, *loop, *context = Py_None;
    if (!PyArg_ParseTupleAndKeywords(a, kw, "dOOO|O:TimerHandle", kwlist,
                                     &when, &callback, &args, &loop, &context))
        return NULL;
    PyObject *tuple = args == Py_None ? goloop_empty_tuple : PySequence_Tuple(args);
    if (tuple == NULL)
        return NULL;
    if (args == Py_None)
        Py_INCREF(tuple);
    GoloopHandle *h = goloop_handle_new(type, callback, tuple, loop, context);
    Py_DECREF(tuple);
    if (h != NULL)
        h->when = when;
    return (PyObject *)h;
}

static int
loop_in_debug(GoloopHandle *h)
{
    if (h->loop != NULL && PyObject_TypeCheck(h->loop, &GoloopCore_Type))
        return ((GoloopCore *)h->loop)->debug;
    return 0;
}

static void
handle_do_cancel(GoloopHandle *h)
{
    if (h->cancelled)
        return;
    h->cancelled = 1;
    if (loop_in_debug(h) && h->repr == NULL && goloop_helper_handle_repr != NULL) {
        /* Keep the description: after cancel the callback is dropped. */
        PyObject *r = PyObject_CallOneArg(goloop_helper_handle_repr, (PyObject *)h);
        if (r == NULL)
            PyErr_Clear();
        h->repr = r;
    }
    Py_CLEAR(h->callback);
    Py_CLEAR(h->args);
}

static PyObject *
handle_cancel(GoloopHandle *h, PyObject *unused)
{
    handle_do_cancel(h);
    Py_RETURN_NONE;
}

static PyObject *
timer_cancel(GoloopHandle *h, PyObject *unused)
{
    if (!h->cancelled && h->scheduled && h->loop != NULL) {
        if (PyObject_TypeCheck(h->loop, &GoloopCore_Type)) {
            ((GoloopCore *)h->loop)->timers_cancelled++;
        } else {
            PyObject *r = PyObject_CallMethod(h->loop, "_timer_handle_cancelled", "O", h);
            if (r == NULL)
                return NULL;
            Py_DECREF(r);
        }
    }
    handle_do_cancel(h);
    Py_RETURN_NONE;
}

static PyObject *
handle_cancelled(GoloopHandle *h, PyObject *unused)
{
    return PyBool_FromLong(h->cancelled);
}

static PyObject *
handle_get_context(GoloopHandle *h, PyObject *unused)
{
    if (h->context == NULL)
        Py_RETURN_NONE;
    Py_INCREF(h->context);
    return h->context;
}

static PyObject *
handle_py_run(GoloopHandle *h, PyObject *unused)
{
    if (goloop_handle_run(h) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
timer_when(GoloopHandle *h, PyObject *unused)
{
    return PyFloat_FromDouble(h->when);
}

static PyObject *
handle_repr(GoloopHandle *h)
{
    if (goloop_helper_handle_repr == NULL)
        return PyUnicode_FromFormat("<%s object at %p>", Py_TYPE(h)->tp_name, h);
    return PyObject_CallOneArg(goloop_helper_handle_repr, (PyObject *)h);
}

static Py_hash_t
timer_hash(GoloopHandle *h)
{
    PyObject *f = PyFloat_FromDouble(h->when);
    if (f == NULL)
        return -1;
    Py_hash_t r = PyObject_Hash(f);
    Py_DECREF(f);
    return r;
}

static PyObject *
timer_richcompare(GoloopHandle *a, PyObject *other, int op)
{
    if (!PyObject_TypeCheck(other, &GoloopTimerHandle_Type))
        Py_RETURN_NOTIMPLEMENTED;
    GoloopHandle *b = (GoloopHandle *)other;
    if (op == Py_EQ || op == Py_NE) {
        int eq = (PyObject *)a == other ||
                 (a->when == b->when && a->cancelled == b->cancelled &&
                  a->callback == b->callback && a->args == b->args);
        if (!eq && a->when == b->when && a->cancelled == b->cancelled &&
            a->callback != NULL && b->callback != NULL) {
            int r = PyObject_RichCompareBool(a->callback, b->callback, Py_EQ);
            if (r < 0)
                return NULL;
            if (r) {
                r = PyObject_RichCompareBool(a->args, b->args, Py_EQ);
                if (r < 0)
                    return NULL;
            }
            eq = r;
        }
        return PyBool_FromLong(op == Py_EQ ? eq : !eq);
    }
    if (op == Py_LE || op == Py_GE) {
        PyObject *eqr = timer_richcompare(a, other, Py_EQ);
        if (eqr == NULL)
            return NULL;
        int eq = eqr == Py_True;
        Py_DECREF(eqr);
        if (eq)
            Py_RETURN_TRUE;
    }
    Py_RETURN_RICHCOMPARE(a->when, b->when, op);
}

static PyObject *
get_callback(GoloopHandle *h, void *c)
{
    PyObject *o = h->callback ? h->callback : Py_None;
    Py_INCREF(o);
    return o;
}

static PyObject *
get_args(GoloopHandle *h, void *c)
{
    PyObject *o = h->args ? h->args : Py_None;
    Py_INCREF(o);
    return o;
}

static PyObject *
get_cancelled(GoloopHandle *h, void *c)
{
    return PyBool_FromLong(h->cancelled);
}

static PyObject *
get_scheduled(GoloopHandle *h, void *c)
{
    return PyBool_FromLong(h->scheduled);
}

static PyObject *
get_when(GoloopHandle *h, void *c)
{
    return PyFloat_FromDouble(h->when);
}

static PyObject *
get_obj(PyObject *o)
{
    if (o == NULL)
        o = Py_None;
    Py_INCREF(o);
    return o;
}

static PyObject *get_loop(GoloopHandle *h, void *c) { return get_obj(h->loop); }
static PyObject *get_context(GoloopHandle *h, void *c) { return get_obj(h->context); }
static PyObject *get_repr(GoloopHandle *h, void *c) { return get_obj(h->repr); }
static PyObject *get_tb(GoloopHandle *h, void *c) { return get_obj(h->source_traceback); }

static int
set_tb(GoloopHandle *h, PyObject *v, void *c)
{
    if (v == Py_None)
        v = NULL;
    Py_XINCREF(v);
    Py_XSETREF(h->source_traceback, v);
    return 0;
}

static PyGetSetDef handle_getset[] = {
    {"_callback", (getter)get_callback, NULL, NULL, NULL},
    {"_args", (getter)get_args, NULL, NULL, NULL},
    {"_cancelled", (getter)get_cancelled, NULL, NULL, NULL},
    {"_loop", (getter)get_loop, NULL, NULL, NULL},
    {"_context", (getter)get_context, NULL, NULL, NULL},
    {"_repr", (getter)get_repr, NULL, NULL, NULL},
    {"_source_traceback", (getter)get_tb, (setter)set_tb, NULL, NULL},
    {NULL}
};

static PyGetSetDef timer_getset[] = {
    {"_when", (getter)get_when, NULL, NULL, NULL},
    {"_scheduled", (getter)get_scheduled, NULL, NULL, NULL},
    {NULL}
};

static PyMethodDef handle_methods[] = {
    {"cancel", (PyCFunction)handle_cancel, METH_NOARGS, "Cancel the callback."},
    {"cancelled", (PyCFunction)handle_cancelled, METH_NOARGS, NULL},
    {"get_context", (PyCFunction)handle_get_context, METH_NOARGS, NULL},
    {"_run", (PyCFunction)handle_py_run, METH_NOARGS, NULL},
    {NULL}
};

static PyMethodDef timer_methods[] = {
    {"cancel", (PyCFunction)timer_cancel, METH_NOARGS, "Cancel the timer."},
    {"when", (PyCFunction)timer_when, METH_NOARGS,
     "The absolute time (loop.time() clock) the callback is scheduled for."},
    {NULL}
};

PyTypeObject GoloopHandle_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "goloop.Handle",
    .tp_basicsize = sizeof(GoloopHandle),
    .tp_dealloc = (destructor)handle_dealloc,
    .tp_repr = (reprfunc)handle_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A callback scheduled on a goloop loop.",
    .tp_traverse = (traverseproc)handle_traverse,
    .tp_clear = (inquiry)handle_clear,
    .tp_free = PyObject_GC_Del,
    .tp_weaklistoffset = offsetof(GoloopHandle, weakreflist),
    .tp_methods = handle_methods,
    .tp_getset = handle_getset,
    .tp_new = handle_tp_new,
};

PyTypeObject GoloopTimerHandle_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "goloop.TimerHandle",
    .tp_basicsize = sizeof(GoloopHandle),
    .tp_dealloc = (destructor)handle_dealloc,
    .tp_repr = (reprfunc)handle_repr,
    .tp_hash = (hashfunc)timer_hash,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A timed callback scheduled on a goloop loop.",
    .tp_traverse = (traverseproc)handle_traverse,
    .tp_clear = (inquiry)handle_clear,
    .tp_free = PyObject_GC_Del,
    .tp_richcompare = (richcmpfunc)timer_richcompare,
    .tp_weaklistoffset = offsetof(GoloopHandle, weakreflist),
    .tp_methods = timer_methods,
    .tp_getset = timer_getset,
    .tp_base = &GoloopHandle_Type,
    .tp_new = timer_tp_new,
};

/* Reports an exception raised by a callback the way asyncio does: through
 * loop.call_exception_handler, via the Python helper _report_callback_error. */
static int
report_error(GoloopHandle *h)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL)
        PyException_SetTraceback(value, tb);
    PyObject *r = NULL;
    if (h->loop != NULL && value != NULL)
        r = PyObject_CallMethod(h->loop, "_report_callback_error", "OO", h, value);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    if (r == NULL) {
        /* The handler itself failed: propagate like asyncio only for the
         * exceptions that must stop the loop, else print and go on. */
        if (PyErr_ExceptionMatches(PyExc_SystemExit) ||
            PyErr_ExceptionMatches(PyExc_KeyboardInterrupt))
            return -1;
        PyErr_WriteUnraisable((PyObject *)h);
        return 0;
    }
    Py_DECREF(r);
    return 0;
}

int
goloop_handle_run(GoloopHandle *h)
{
    if (h->cancelled || h->callback == NULL)
        return 0;
    PyObject *callback = h->callback, *args = h->args, *ctx = h->context;
    Py_INCREF(callback);
    Py_INCREF(args);
    Py_INCREF(ctx);
    PyObject *res = NULL;
    if (PyContext_Enter(ctx) == 0) {
        res = PyObject_Vectorcall(callback, &PyTuple_GET_ITEM(args, 0),
                                  PyTuple_GET_SIZE(args), NULL);
        if (PyContext_Exit(ctx) < 0) {
            Py_CLEAR(res);
        }
    }
    Py_DECREF(callback);
    Py_DECREF(args);
    Py_DECREF(ctx);
    if (res != NULL) {
        Py_DECREF(res);
        return 0;
    }
    if (PyErr_ExceptionMatches(PyExc_SystemExit) ||
        PyErr_ExceptionMatches(PyExc_KeyboardInterrupt))
        return -1;
    return report_error(h);
}
