/* Handle and TimerHandle: the callback objects the loop schedules.
 * Subclasses of asyncio.Handle / asyncio.TimerHandle with the same public
 * surface (cancel, cancelled, when, get_context, _run, repr), implemented
 * in C so that call_soon and the ready queue never run Python code of
 * their own. The asyncio base's __slots__ storage is left unused. */
#include "goloop.h"
#include <structmember.h>

PyTypeObject *GoloopHandle_Type;
PyTypeObject *GoloopTimerHandle_Type;
PyTypeObject *GoloopThreadSafeHandle_Type;
Py_ssize_t goloop_handle_offset;

static int run_unlocked(PyObject *o);
static void handle_do_cancel(PyObject *o);

GoloopHandle *
goloop_handle_new(PyTypeObject *type, PyObject *callback, PyObject *args,
                  PyObject *loop, PyObject *context)
{
    /* tp_alloc zeroes the object and tracks it in the GC. */
    PyObject *o = type->tp_alloc(type, 0);
    if (o == NULL)
        return NULL;
    GoloopHandleData *h = HDATA(o);
    if (context == NULL || context == Py_None) {
        h->context = PyContext_CopyCurrent();
        if (h->context == NULL) {
            Py_DECREF(o);
            return NULL;
        }
    } else {
        Py_INCREF(context);
        h->context = context;
    }
    Py_INCREF(callback);
    h->callback = callback;
    if (args == NULL)
        args = goloop_empty_tuple;
    Py_INCREF(args);
    h->args = args;
    Py_XINCREF(loop);
    h->loop = loop;
    return o;
}

static int
handle_clear(PyObject *o)
{
    GoloopHandleData *h = HDATA(o);
    Py_CLEAR(h->callback);
    Py_CLEAR(h->args);
    Py_CLEAR(h->context);
    Py_CLEAR(h->loop);
    Py_CLEAR(h->source_traceback);
    Py_CLEAR(h->repr);
    return 0;
}

static int
handle_traverse(PyObject *o, visitproc visit, void *arg)
{
    GoloopHandleData *h = HDATA(o);
    Py_VISIT(Py_TYPE(o));
    Py_VISIT(h->callback);
    Py_VISIT(h->args);
    Py_VISIT(h->context);
    Py_VISIT(h->loop);
    Py_VISIT(h->source_traceback);
    Py_VISIT(h->repr);
    return 0;
}

static void
handle_dealloc(PyObject *o)
{
    PyTypeObject *tp = Py_TYPE(o);
    PyObject_GC_UnTrack(o);
    /* A chain of handles (a handle whose callback is a handle...) is
     * freed iteratively, not by unbounded C recursion. */
    Py_TRASHCAN_BEGIN(o, handle_dealloc)
    if (tp->tp_weaklistoffset && *(PyObject **)((char *)o + tp->tp_weaklistoffset) != NULL)
        PyObject_ClearWeakRefs(o);
    handle_clear(o);
    tp->tp_free(o);
    Py_DECREF(tp);
    Py_TRASHCAN_END
}

/* The asyncio base's __init__ must not run: tp_new did the work. */
static int
handle_init(PyObject *o, PyObject *a, PyObject *kw)
{
    return 0;
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
        HDATA(h)->when = when;
    return (PyObject *)h;
}

static int
loop_in_debug(GoloopHandleData *h)
{
    if (h->loop != NULL && PyObject_TypeCheck(h->loop, &GoloopCore_Type))
        return ((GoloopCore *)h->loop)->debug;
    return 0;
}

static void
handle_do_cancel(PyObject *o)
{
    GoloopHandleData *h = HDATA(o);
    if (h->cancelled)
        return;
    h->cancelled = 1;
    if (loop_in_debug(h) && h->repr == NULL && goloop_helper_handle_repr != NULL) {
        /* Keep the description: after cancel the callback is dropped. */
        PyObject *r = PyObject_CallOneArg(goloop_helper_handle_repr, o);
        if (r == NULL)  /* cancel() cannot fail: a broken repr is reported */
            PyErr_WriteUnraisable(o);
        h->repr = r;
    }
    Py_CLEAR(h->callback);
    Py_CLEAR(h->args);
}

void
goloop_handle_cancel(PyObject *o)
{
    handle_do_cancel(o);
}

static PyObject *
handle_cancel(PyObject *o, PyObject *unused)
{
    handle_do_cancel(o);
    Py_RETURN_NONE;
}

static PyObject *
timer_cancel(PyObject *o, PyObject *unused)
{
    GoloopHandleData *h = HDATA(o);
    if (!h->cancelled && h->scheduled && h->loop != NULL) {
        if (PyObject_TypeCheck(h->loop, &GoloopCore_Type)) {
            ((GoloopCore *)h->loop)->timers_cancelled++;
        } else {
            PyObject *r = PyObject_CallMethod(h->loop, "_timer_handle_cancelled", "O", o);
            if (r == NULL)
                return NULL;
            Py_DECREF(r);
        }
    }
    handle_do_cancel(o);
    Py_RETURN_NONE;
}

static PyObject *
handle_cancelled(PyObject *o, PyObject *unused)
{
    GoloopHandleData *h = HDATA(o);
    return PyBool_FromLong(h->cancelled);
}

static PyObject * __attribute__((unused))
handle_get_context(PyObject *o, PyObject *unused)
{
    GoloopHandleData *h = HDATA(o);
    if (h->context == NULL)
        Py_RETURN_NONE;
    Py_INCREF(h->context);
    return h->context;
}

static PyObject *
handle_py_run(PyObject *h, PyObject *unused)
{
    if (goloop_handle_run(h) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
timer_when(PyObject *o, PyObject *unused)
{
    GoloopHandleData *h = HDATA(o);
    return PyFloat_FromDouble(h->when);
}

static PyObject *
handle_repr(PyObject *h)
{
    if (goloop_helper_handle_repr == NULL)
        return PyUnicode_FromFormat("<%s object at %p>", Py_TYPE(h)->tp_name, h);
    return PyObject_CallOneArg(goloop_helper_handle_repr, (PyObject *)h);
}

static Py_hash_t
timer_hash(PyObject *o)
{
    PyObject *f = PyFloat_FromDouble(HDATA(o)->when);
    if (f == NULL)
        return -1;
    Py_hash_t r = PyObject_Hash(f);
    Py_DECREF(f);
    return r;
}

static PyObject *
timer_richcompare(PyObject *ao, PyObject *other, int op)
{
    if (!PyObject_TypeCheck(other, GoloopTimerHandle_Type))
        Py_RETURN_NOTIMPLEMENTED;
    GoloopHandleData *a = HDATA(ao), *b = HDATA(other);
    if (op == Py_EQ || op == Py_NE) {
        int eq = ao == other ||
                 (a->when == b->when && a->cancelled == b->cancelled &&
                  a->callback == b->callback && a->args == b->args);
        if (!eq && a->when == b->when && a->cancelled == b->cancelled &&
            a->callback != NULL && b->callback != NULL) {
            /* Owned for the comparison: a user __eq__ may cancel either
             * handle, which drops its callback and args. */
            PyObject *ac = a->callback, *bc = b->callback;
            PyObject *aa = a->args ? a->args : Py_None, *ba = b->args ? b->args : Py_None;
            Py_INCREF(ac);
            Py_INCREF(bc);
            Py_INCREF(aa);
            Py_INCREF(ba);
            int r = PyObject_RichCompareBool(ac, bc, Py_EQ);
            if (r > 0)
                r = PyObject_RichCompareBool(aa, ba, Py_EQ);
            Py_DECREF(ac);
            Py_DECREF(bc);
            Py_DECREF(aa);
            Py_DECREF(ba);
            if (r < 0)
                return NULL;
            eq = r;
        }
        return PyBool_FromLong(op == Py_EQ ? eq : !eq);
    }
    if (op == Py_LE || op == Py_GE) {
        PyObject *eqr = timer_richcompare(ao, other, Py_EQ);
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
get_callback(PyObject *o, void *c)
{
    GoloopHandleData *h = HDATA(o);
    PyObject *v = h->callback ? h->callback : Py_None;
    Py_INCREF(v);
    return v;
}

static PyObject *
get_args(PyObject *o, void *c)
{
    GoloopHandleData *h = HDATA(o);
    PyObject *v = h->args ? h->args : Py_None;
    Py_INCREF(v);
    return v;
}

static PyObject *
get_cancelled(PyObject *o, void *c)
{
    GoloopHandleData *h = HDATA(o);
    return PyBool_FromLong(h->cancelled);
}

static PyObject *
get_scheduled(PyObject *o, void *c)
{
    GoloopHandleData *h = HDATA(o);
    return PyBool_FromLong(h->scheduled);
}

static PyObject *
get_when(PyObject *o, void *c)
{
    GoloopHandleData *h = HDATA(o);
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

static PyObject *get_loop(PyObject *o, void *c) { return get_obj(HDATA(o)->loop); }
static PyObject *get_context(PyObject *o, void *c) { return get_obj(HDATA(o)->context); }
static PyObject *get_repr(PyObject *o, void *c) { return get_obj(HDATA(o)->repr); }
static PyObject *get_tb(PyObject *o, void *c) { return get_obj(HDATA(o)->source_traceback); }

static int
set_tb(PyObject *o, PyObject *v, void *c)
{
    GoloopHandleData *h = HDATA(o);
    if (v == Py_None)
        v = NULL;
    Py_XINCREF(v);
    Py_XSETREF(h->source_traceback, v);
    return 0;
}

#if PY_VERSION_HEX >= 0x030D0000
/* call_soon_threadsafe's handle on 3.14+, a subclass of asyncio's
 * events._ThreadSafeHandle. asyncio holds an RLock around cancel(),
 * cancelled() and _run(): another thread asking about or cancelling a
 * callback that already started waits until it returns, while the loop's
 * thread (a callback cancelling its own handle) goes straight through.
 * Here the lock is a PyMutex, which lets go of the GIL while it waits, and
 * the thread holding it; both live after the handle's data. */
typedef struct {
    PyMutex mutex;
    unsigned long owner;    /* thread holding mutex, 0 when free */
} TSLock;
#define TSLOCK(o) ((TSLock *)(HDATA(o) + 1))

/* 1 if taken here (release it), 0 if this thread already holds it. */
static int
ts_acquire(PyObject *o)
{
    TSLock *l = TSLOCK(o);
    unsigned long me = PyThread_get_thread_ident();
    if (l->owner == me)
        return 0;
    PyMutex_Lock(&l->mutex);
    l->owner = me;
    return 1;
}

static void
ts_release(PyObject *o, int taken)
{
    if (!taken)
        return;
    TSLock *l = TSLOCK(o);
    l->owner = 0;
    PyMutex_Unlock(&l->mutex);
}

static PyObject *
ts_cancel(PyObject *o, PyObject *unused)
{
    int taken = ts_acquire(o);
    handle_do_cancel(o);
    ts_release(o, taken);
    Py_RETURN_NONE;
}

static PyObject *
ts_cancelled(PyObject *o, PyObject *unused)
{
    int taken = ts_acquire(o);
    int c = HDATA(o)->cancelled;
    ts_release(o, taken);
    return PyBool_FromLong(c);
}
#define TSLOCK_SIZE ((Py_ssize_t)sizeof(TSLock))
#else
#define TSLOCK_SIZE 0
#endif

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

/* TimerHandle's base is asyncio.TimerHandle, not goloop.Handle: it lists
 * every accessor and method itself. */
static PyGetSetDef timer_getset[] = {
    {"_callback", (getter)get_callback, NULL, NULL, NULL},
    {"_args", (getter)get_args, NULL, NULL, NULL},
    {"_cancelled", (getter)get_cancelled, NULL, NULL, NULL},
    {"_loop", (getter)get_loop, NULL, NULL, NULL},
    {"_context", (getter)get_context, NULL, NULL, NULL},
    {"_repr", (getter)get_repr, NULL, NULL, NULL},
    {"_source_traceback", (getter)get_tb, (setter)set_tb, NULL, NULL},
    {"_when", (getter)get_when, NULL, NULL, NULL},
    {"_scheduled", (getter)get_scheduled, NULL, NULL, NULL},
    {NULL}
};

static PyMethodDef handle_methods[] = {
    {"cancel", (PyCFunction)handle_cancel, METH_NOARGS, "Cancel the callback."},
    {"cancelled", (PyCFunction)handle_cancelled, METH_NOARGS, NULL},
#if PY_VERSION_HEX >= 0x030C0000 /* asyncio's handles have it from 3.12 */
    {"get_context", (PyCFunction)handle_get_context, METH_NOARGS, NULL},
#endif
    {"_run", (PyCFunction)handle_py_run, METH_NOARGS, NULL},
    {NULL}
};

#if PY_VERSION_HEX >= 0x030D0000
static PyMethodDef ts_methods[] = {
    {"cancel", (PyCFunction)ts_cancel, METH_NOARGS, "Cancel the callback."},
    {"cancelled", (PyCFunction)ts_cancelled, METH_NOARGS, NULL},
    {"get_context", (PyCFunction)handle_get_context, METH_NOARGS, NULL},
    {"_run", (PyCFunction)handle_py_run, METH_NOARGS, NULL},
    {NULL}
};

static PyType_Slot ts_slots[] = {
    {Py_tp_dealloc, handle_dealloc},
    {Py_tp_repr, handle_repr},
    {Py_tp_doc, "A callback scheduled on a goloop loop from any thread."},
    {Py_tp_traverse, handle_traverse},
    {Py_tp_clear, handle_clear},
    {Py_tp_methods, ts_methods},
    {Py_tp_getset, handle_getset},
    {Py_tp_init, handle_init},
    {Py_tp_new, handle_tp_new},
    {0, NULL},
};
#endif

static PyMethodDef timer_methods[] = {
    {"cancel", (PyCFunction)timer_cancel, METH_NOARGS, "Cancel the timer."},
    {"cancelled", (PyCFunction)handle_cancelled, METH_NOARGS, NULL},
#if PY_VERSION_HEX >= 0x030C0000 /* asyncio's handles have it from 3.12 */
    {"get_context", (PyCFunction)handle_get_context, METH_NOARGS, NULL},
#endif
    {"_run", (PyCFunction)handle_py_run, METH_NOARGS, NULL},
    {"when", (PyCFunction)timer_when, METH_NOARGS,
     "The absolute time (loop.time() clock) the callback is scheduled for."},
    {NULL}
};

static PyType_Slot handle_slots[] = {
    {Py_tp_dealloc, handle_dealloc},
    {Py_tp_repr, handle_repr},
    {Py_tp_doc, "A callback scheduled on a goloop loop."},
    {Py_tp_traverse, handle_traverse},
    {Py_tp_clear, handle_clear},
    {Py_tp_methods, handle_methods},
    {Py_tp_getset, handle_getset},
    {Py_tp_init, handle_init},
    {Py_tp_new, handle_tp_new},
    {0, NULL},
};

static PyType_Slot timer_slots[] = {
    {Py_tp_dealloc, handle_dealloc},
    {Py_tp_repr, handle_repr},
    {Py_tp_hash, timer_hash},
    {Py_tp_richcompare, timer_richcompare},
    {Py_tp_doc, "A timed callback scheduled on a goloop loop."},
    {Py_tp_traverse, handle_traverse},
    {Py_tp_clear, handle_clear},
    {Py_tp_methods, timer_methods},
    {Py_tp_getset, timer_getset},
    {Py_tp_init, handle_init},
    {Py_tp_new, timer_tp_new},
    {0, NULL},
};

static PyTypeObject *
make_type(const char *name, PyObject *base, PyType_Slot *slots, Py_ssize_t extra)
{
    PyType_Spec spec = {
        .name = name,
        .basicsize = (int)(goloop_handle_offset + sizeof(GoloopHandleData) + extra),
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
        .slots = slots,
    };
    return (PyTypeObject *)PyType_FromSpecWithBases(&spec, base);
}

int
goloop_handle_types_init(PyObject *module)
{
    PyObject *events = PyImport_ImportModule("asyncio.events");
    if (events == NULL)
        return -1;
    PyObject *base = PyObject_GetAttrString(events, "Handle");
    PyObject *tbase = PyObject_GetAttrString(events, "TimerHandle");
    PyObject *tsbase = NULL;
#if PY_VERSION_HEX >= 0x030D0000
    if (PyObject_GetOptionalAttrString(events, "_ThreadSafeHandle", &tsbase) < 0) {
        Py_DECREF(events);
        Py_XDECREF(base);
        Py_XDECREF(tbase);
        return -1;
    }
#endif
    Py_DECREF(events);
    int rc = -1;
    if (base == NULL || tbase == NULL)
        goto done;
    Py_ssize_t a = ((PyTypeObject *)base)->tp_basicsize;
    Py_ssize_t b = ((PyTypeObject *)tbase)->tp_basicsize;
    goloop_handle_offset = (a > b ? a : b);
    if (tsbase != NULL && ((PyTypeObject *)tsbase)->tp_basicsize > goloop_handle_offset)
        goloop_handle_offset = ((PyTypeObject *)tsbase)->tp_basicsize;
    goloop_handle_offset = (goloop_handle_offset + 7) & ~(Py_ssize_t)7;
    GoloopHandle_Type = make_type("goloop.Handle", base, handle_slots, 0);
    if (GoloopHandle_Type == NULL)
        goto done;
    GoloopTimerHandle_Type = make_type("goloop.TimerHandle", tbase, timer_slots, 0);
    if (GoloopTimerHandle_Type == NULL)
        goto done;
#if PY_VERSION_HEX >= 0x030D0000
    if (tsbase != NULL) {
        GoloopThreadSafeHandle_Type = make_type("goloop.ThreadSafeHandle", tsbase,
                                                ts_slots, TSLOCK_SIZE);
        if (GoloopThreadSafeHandle_Type == NULL)
            goto done;
    }
#endif
    Py_INCREF(GoloopHandle_Type);
    Py_INCREF(GoloopTimerHandle_Type);
    if (PyModule_AddObject(module, "Handle", (PyObject *)GoloopHandle_Type) < 0 ||
        PyModule_AddObject(module, "TimerHandle", (PyObject *)GoloopTimerHandle_Type) < 0)
        goto done;
    rc = 0;
done:
    Py_XDECREF(base);
    Py_XDECREF(tbase);
    Py_XDECREF(tsbase);
    return rc;
}

/* Reports an exception raised by a callback the way asyncio does: through
 * loop.call_exception_handler, via the Python helper _report_callback_error. */
static int
report_error(PyObject *h)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL)
        PyException_SetTraceback(value, tb);
    PyObject *r = NULL;
    PyObject *loop = HDATA(h)->loop;
    if (loop != NULL && value != NULL)
        r = PyObject_CallMethod(loop, "_report_callback_error", "OO", h, value);
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
goloop_handle_run(PyObject *o)
{
#if PY_VERSION_HEX >= 0x030D0000
    if (Py_TYPE(o) == GoloopThreadSafeHandle_Type) {
        int taken = ts_acquire(o);
        int r = run_unlocked(o);
        ts_release(o, taken);
        return r;
    }
#endif
    return run_unlocked(o);
}

static int
run_unlocked(PyObject *o)
{
    GoloopHandleData *h = HDATA(o);
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
    return report_error(o);
}
