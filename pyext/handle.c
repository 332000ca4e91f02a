/* Handle and TimerHandle: the callback objects the loop schedules.
 * Subclasses of asyncio.Handle / asyncio.TimerHandle with the same public
 * surface (cancel, cancelled, when, get_context, _run, repr), implemented
 * in C so that call_soon and the ready queue never run Python code of
 * their own.
 *
 * Layout. The asyncio base's __slots__ storage (_callback, _args, _loop,
 * _context, _source_traceback, _repr, ...) is part of every instance, so
 * goloop keeps its object fields there -- each in the slot of the same
 * name, read through goloop's own accessors -- and appends only what has
 * no slot (GoloopHandleData: inline arguments, `when`, flags). A smaller
 * handle is a cheaper callback: fewer bytes to clear, fewer cache lines,
 * fewer pages for pymalloc to map. TimerHandle's own two slots (_when,
 * _scheduled) are shadowed by accessors too, so GoloopHandleData may
 * overlap them: it starts where asyncio.Handle ends, for both types. */
#include "goloop.h"
#include <structmember.h>
#include <string.h>

PyTypeObject *GoloopHandle_Type;
PyTypeObject *GoloopTimerHandle_Type;
PyTypeObject *GoloopThreadSafeHandle_Type;
Py_ssize_t goloop_handle_offset;

static int run_unlocked(PyObject *o);
static void handle_do_cancel(PyObject *o);

/* Offsets of the object fields in the base's slot storage (init). */
static Py_ssize_t off_callback, off_args, off_context, off_loop, off_tb, off_repr;

#define SLOT(o, off) (*(PyObject **)((char *)(o) + (off)))
#define CALLBACK(o) SLOT(o, off_callback) /* NULL once cancelled */
#define ARGS(o) SLOT(o, off_args)         /* tuple: the arguments when more
                                           * than INLINE, else a cache made
                                           * by the _args getter */
#define CONTEXT(o) SLOT(o, off_context)   /* NULL: an empty context, made
                                           * when first needed (contexts.c) */
#define LOOP(o) SLOT(o, off_loop)
#define SOURCE_TB(o) SLOT(o, off_tb)      /* debug mode only */
#define REPR(o) SLOT(o, off_repr)         /* repr cached at cancel (debug) */

/* Freed Handles and TimerHandles of goloop's own two types are kept for
 * reuse: a callback then costs no allocator call and does not count
 * towards the cyclic GC's next collection. */
#define FREE_MAX 256

typedef struct {
    PyObject *items[FREE_MAX];
    int len;
} FreeList;

static FreeList free_handles, free_timers;

static FreeList *
free_list_of(PyTypeObject *type)
{
    if (type == GoloopHandle_Type)
        return &free_handles;
    if (type == GoloopTimerHandle_Type)
        return &free_timers;
    return NULL;
}

/* A zeroed handle with one reference; tracked by the cyclic GC unless
 * `queued` (see goloop_handle_new_queued). */
static PyObject *
handle_alloc(PyTypeObject *type, int queued)
{
    FreeList *fl = free_list_of(type);
    if (fl == NULL || fl->len == 0) {
        PyObject *o = type->tp_alloc(type, 0);    /* zeroed and GC-tracked */
        if (o != NULL && queued)
            PyObject_GC_UnTrack(o);
        return o;
    }
    PyObject *o = fl->items[--fl->len];
    /* As tp_alloc leaves it: zeroed past the header (the slots and the
     * weakref list too), one reference, the heap type referenced. */
    memset((char *)o + sizeof(PyObject), 0, type->tp_basicsize - sizeof(PyObject));
    PyObject_Init(o, type);
    if (!queued)
        PyObject_GC_Track(o);
    return o;
}

void
goloop_handle_release(PyObject *h)
{
    /* Leaving the loop's hands: if someone else still holds the handle,
     * it may now be part of a cycle only the collector can free. */
    if (Py_REFCNT(h) > 1 && !PyObject_GC_IsTracked(h))
        PyObject_GC_Track(h);
    Py_DECREF(h);
}

int
goloop_handle_traverse_queued(PyObject *h, visitproc visit, void *arg)
{
    if (PyObject_GC_IsTracked(h))
        return visit(h, arg);
    /* Held by the loop alone: its references are the loop's own. Held
     * by someone else too: they keep it (and what it refers to) alive. */
    if (Py_REFCNT(h) == 1)
        return Py_TYPE(h)->tp_traverse(h, visit, arg);
    return 0;
}

static GoloopHandle *
handle_init_common(PyObject *o, PyObject *callback, PyObject *loop, PyObject *context)
{
    if (context == NULL || context == Py_None) {
        if (goloop_context_capture(&CONTEXT(o)) < 0) {
            Py_DECREF(o);
            return NULL;
        }
    } else {
        Py_INCREF(context);
        CONTEXT(o) = context;
    }
    Py_INCREF(callback);
    CALLBACK(o) = callback;
    Py_XINCREF(loop);
    LOOP(o) = loop;
    return o;
}

static GoloopHandle *
handle_new_vec(PyTypeObject *type, PyObject *callback,
               PyObject *const *argv, Py_ssize_t nargs,
               PyObject *loop, PyObject *context, int queued)
{
    PyObject *o = handle_alloc(type, queued);
    if (o == NULL)
        return NULL;
    GoloopHandleData *h = HDATA(o);
    if (nargs <= GOLOOP_INLINE_ARGS) {
        for (Py_ssize_t i = 0; i < nargs; i++) {
            Py_INCREF(argv[i]);
            h->argv[i] = argv[i];
        }
    } else {
        PyObject *t = PyTuple_New(nargs);
        if (t == NULL) {
            Py_DECREF(o);
            return NULL;
        }
        for (Py_ssize_t i = 0; i < nargs; i++) {
            Py_INCREF(argv[i]);
            PyTuple_SET_ITEM(t, i, argv[i]);
        }
        ARGS(o) = t;
        h->args_in_tuple = 1;
        nargs = 0;
    }
    h->nargs = (unsigned char)nargs;
    return handle_init_common(o, callback, loop, context);
}

GoloopHandle *
goloop_handle_new_vec(PyTypeObject *type, PyObject *callback,
                      PyObject *const *argv, Py_ssize_t nargs,
                      PyObject *loop, PyObject *context)
{
    return handle_new_vec(type, callback, argv, nargs, loop, context, 0);
}

GoloopHandle *
goloop_handle_new_queued(PyTypeObject *type, PyObject *callback,
                         PyObject *const *argv, Py_ssize_t nargs,
                         PyObject *loop, PyObject *context)
{
    return handle_new_vec(type, callback, argv, nargs, loop, context, 1);
}

GoloopHandle *
goloop_handle_new(PyTypeObject *type, PyObject *callback, PyObject *args,
                  PyObject *loop, PyObject *context)
{
    if (args == NULL)
        return goloop_handle_new_vec(type, callback, NULL, 0, loop, context);
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n <= GOLOOP_INLINE_ARGS)
        return goloop_handle_new_vec(type, callback, &PyTuple_GET_ITEM(args, 0), n, loop, context);
    PyObject *o = handle_alloc(type, 0);
    if (o == NULL)
        return NULL;
    Py_INCREF(args);
    ARGS(o) = args;
    HDATA(o)->args_in_tuple = 1;
    return handle_init_common(o, callback, loop, context);
}

/* Drops the callback and its arguments (cancel, clear). */
static void
clear_call(PyObject *o)
{
    GoloopHandleData *h = HDATA(o);
    PyObject *argv[GOLOOP_INLINE_ARGS];
    Py_ssize_t n = h->nargs;
    /* Unlink everything first: a finalizer run by a release below may
     * look at this handle again. */
    for (Py_ssize_t i = 0; i < n; i++) {
        argv[i] = h->argv[i];
        h->argv[i] = NULL;
    }
    h->nargs = 0;
    h->args_in_tuple = 0;
    Py_CLEAR(CALLBACK(o));
    Py_CLEAR(ARGS(o));
    for (Py_ssize_t i = 0; i < n; i++)
        Py_DECREF(argv[i]);
}

static int
handle_clear(PyObject *o)
{
    clear_call(o);
    Py_CLEAR(CONTEXT(o));
    Py_CLEAR(LOOP(o));
    Py_CLEAR(SOURCE_TB(o));
    Py_CLEAR(REPR(o));
    return 0;
}

static int
handle_traverse(PyObject *o, visitproc visit, void *arg)
{
    GoloopHandleData *h = HDATA(o);
    Py_VISIT(Py_TYPE(o));
    Py_VISIT(CALLBACK(o));
    for (Py_ssize_t i = 0; i < h->nargs; i++)
        Py_VISIT(h->argv[i]);
    Py_VISIT(ARGS(o));
    Py_VISIT(CONTEXT(o));
    Py_VISIT(LOOP(o));
    Py_VISIT(SOURCE_TB(o));
    Py_VISIT(REPR(o));
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
    FreeList *fl = free_list_of(tp);
    if (fl != NULL && fl->len < FREE_MAX && Py_REFCNT(o) == 0)
        fl->items[fl->len++] = o;
    else
        tp->tp_free(o);
    Py_DECREF(tp);
    Py_TRASHCAN_END
}

/* A new reference to the arguments as a tuple (made once, then cached),
 * or to None once the handle was cancelled. */
static PyObject *
args_tuple(PyObject *o)
{
    GoloopHandleData *h = HDATA(o);
    if (CALLBACK(o) == NULL && ARGS(o) == NULL)
        Py_RETURN_NONE;
    if (ARGS(o) == NULL) {
        PyObject *t = PyTuple_New(h->nargs);
        if (t == NULL)
            return NULL;
        for (Py_ssize_t i = 0; i < h->nargs; i++) {
            Py_INCREF(h->argv[i]);
            PyTuple_SET_ITEM(t, i, h->argv[i]);
        }
        ARGS(o) = t;
    }
    Py_INCREF(ARGS(o));
    return ARGS(o);
}

/* The handle's context, made now if it runs in an empty one (a new
 * reference). Once handed out it stays the handle's own. */
static PyObject *
context_of(PyObject *o)
{
    if (CONTEXT(o) == NULL && (CONTEXT(o) = PyContext_New()) == NULL)
        return NULL;
    HDATA(o)->context_shown = 1;
    Py_INCREF(CONTEXT(o));
    return CONTEXT(o);
}

/* The asyncio base's __init__ must not run: tp_new did the work. */
static int
handle_init(PyObject *o, PyObject *a, PyObject *kw)
{
    return 0;
}

/* Handle(callback, args, loop, context=None)'s args as a tuple. */
static PyObject *
args_to_tuple(PyObject *args)
{
    if (args == Py_None) {
        Py_INCREF(goloop_empty_tuple);
        return goloop_empty_tuple;
    }
    return PySequence_Tuple(args);
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
    PyObject *tuple = args_to_tuple(args);
    if (tuple == NULL)
        return NULL;
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
    PyObject *tuple = args_to_tuple(args);
    if (tuple == NULL)
        return NULL;
    GoloopHandle *h = goloop_handle_new(type, callback, tuple, loop, context);
    Py_DECREF(tuple);
    if (h != NULL)
        HDATA(h)->when = when;
    return (PyObject *)h;
}

/* Whether a handle's loop is a goloop core. The loop is an instance of a
 * subclass (goloop.Loop): the subclass seen last is remembered, with a
 * reference so its address cannot be reused, which turns the MRO walk of
 * PyObject_TypeCheck into one comparison on every cancel(). */
static PyTypeObject *known_core_subtype;

static int
is_core(PyObject *loop)
{
    PyTypeObject *tp = Py_TYPE(loop);
    if (tp == known_core_subtype || tp == &GoloopCore_Type)
        return 1;
    if (!PyType_IsSubtype(tp, &GoloopCore_Type))
        return 0;
    Py_INCREF(tp);
    Py_XSETREF(known_core_subtype, tp);
    return 1;
}

static int
loop_in_debug(PyObject *o)
{
    PyObject *loop = LOOP(o);
    if (loop != NULL && is_core(loop))
        return ((GoloopCore *)loop)->debug;
    return 0;
}

static void
handle_do_cancel(PyObject *o)
{
    GoloopHandleData *h = HDATA(o);
    if (h->cancelled)
        return;
    h->cancelled = 1;
    if (loop_in_debug(o) && REPR(o) == NULL && goloop_helper_handle_repr != NULL) {
        /* Keep the description: after cancel the callback is dropped. */
        PyObject *r = PyObject_CallOneArg(goloop_helper_handle_repr, o);
        if (r == NULL)  /* cancel() cannot fail: a broken repr is reported */
            PyErr_WriteUnraisable(o);
        Py_XSETREF(REPR(o), r);
    }
    clear_call(o);
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
    PyObject *loop = LOOP(o);
    if (!h->cancelled && h->scheduled && loop != NULL) {
        if (is_core(loop)) {
            goloop_timer_cancelled((GoloopCore *)loop, o);
        } else {
            PyObject *r = PyObject_CallMethod(loop, "_timer_handle_cancelled", "O", o);
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
    return PyBool_FromLong(HDATA(o)->cancelled);
}

static PyObject * __attribute__((unused))
handle_get_context(PyObject *o, PyObject *unused)
{
    return context_of(o);
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
    return PyFloat_FromDouble(HDATA(o)->when);
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
timer_richcompare(PyObject *ao, PyObject *bo, int op)
{
    if (!PyObject_TypeCheck(bo, GoloopTimerHandle_Type))
        Py_RETURN_NOTIMPLEMENTED;
    GoloopHandleData *a = HDATA(ao), *b = HDATA(bo);
    if (op == Py_EQ || op == Py_NE) {
        int eq = ao == bo;
        if (!eq && a->when == b->when && a->cancelled == b->cancelled) {
            PyObject *ac = CALLBACK(ao), *bc = CALLBACK(bo);
            if (ac == NULL || bc == NULL) {
                eq = ac == bc;  /* both cancelled: no call left to compare */
            } else {
                /* asyncio compares (callback, args): owned for the
                 * comparison, as a user __eq__ may cancel either handle,
                 * which drops its callback and arguments. */
                Py_INCREF(ac);
                Py_INCREF(bc);
                PyObject *aa = args_tuple(ao), *ba = aa ? args_tuple(bo) : NULL;
                int r = -1;
                if (ba != NULL) {
                    r = PyObject_RichCompareBool(ac, bc, Py_EQ);
                    if (r > 0)
                        r = PyObject_RichCompareBool(aa, ba, Py_EQ);
                }
                Py_DECREF(ac);
                Py_DECREF(bc);
                Py_XDECREF(aa);
                Py_XDECREF(ba);
                if (r < 0)
                    return NULL;
                eq = r;
            }
        }
        return PyBool_FromLong(op == Py_EQ ? eq : !eq);
    }
    if (op == Py_LE || op == Py_GE) {
        PyObject *eqr = timer_richcompare(ao, bo, Py_EQ);
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
get_obj(PyObject *o)
{
    if (o == NULL)
        o = Py_None;
    Py_INCREF(o);
    return o;
}

static PyObject *get_callback(PyObject *o, void *c) { return get_obj(CALLBACK(o)); }
static PyObject *get_args(PyObject *o, void *c) { return args_tuple(o); }
static PyObject *get_cancelled(PyObject *o, void *c) { return PyBool_FromLong(HDATA(o)->cancelled); }
static PyObject *get_scheduled(PyObject *o, void *c) { return PyBool_FromLong(HDATA(o)->scheduled); }
static PyObject *get_when(PyObject *o, void *c) { return PyFloat_FromDouble(HDATA(o)->when); }
static PyObject *get_loop(PyObject *o, void *c) { return get_obj(LOOP(o)); }
static PyObject *get_context(PyObject *o, void *c) { return context_of(o); }
static PyObject *get_repr(PyObject *o, void *c) { return get_obj(REPR(o)); }
static PyObject *get_tb(PyObject *o, void *c) { return get_obj(SOURCE_TB(o)); }

static int
set_tb(PyObject *o, PyObject *v, void *c)
{
    if (v == Py_None)
        v = NULL;
    Py_XINCREF(v);
    Py_XSETREF(SOURCE_TB(o), v);
    return 0;
}

#if PY_VERSION_HEX >= 0x030D0000
/* call_soon_threadsafe's handle on 3.14+, a subclass of asyncio's
 * events._ThreadSafeHandle. asyncio holds an RLock around cancel(),
 * cancelled() and _run(): another thread asking about or cancelling a
 * callback that already started waits until it returns, while the loop's
 * thread (a callback cancelling its own handle) goes straight through.
 * Here the lock is a PyMutex, which lets go of the GIL while it waits, and
 * the thread holding it; both live after the handle's data. The base's
 * _lock slot storage is part of the memory GoloopHandleData overlaps (see
 * the layout note above): `_lock` reads None here. */
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

#if PY_VERSION_HEX >= 0x030D0000
static PyObject *get_none(PyObject *o, void *c) { Py_RETURN_NONE; }

static PyGetSetDef ts_getset[] = {
    {"_callback", (getter)get_callback, NULL, NULL, NULL},
    {"_args", (getter)get_args, NULL, NULL, NULL},
    {"_cancelled", (getter)get_cancelled, NULL, NULL, NULL},
    {"_loop", (getter)get_loop, NULL, NULL, NULL},
    {"_context", (getter)get_context, NULL, NULL, NULL},
    {"_repr", (getter)get_repr, NULL, NULL, NULL},
    {"_source_traceback", (getter)get_tb, (setter)set_tb, NULL, NULL},
    {"_lock", (getter)get_none, NULL, NULL, NULL},
    {NULL}
};

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
    {Py_tp_getset, ts_getset},
    {Py_tp_init, handle_init},
    {Py_tp_new, handle_tp_new},
    {0, NULL},
};
#endif

static PyTypeObject *
make_type(const char *name, PyObject *base, PyType_Slot *slots, Py_ssize_t extra)
{
    Py_ssize_t size = goloop_handle_offset + (Py_ssize_t)sizeof(GoloopHandleData) + extra;
    if (size < ((PyTypeObject *)base)->tp_basicsize)
        size = ((PyTypeObject *)base)->tp_basicsize;
    PyType_Spec spec = {
        .name = name,
        .basicsize = (int)size,
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
        .slots = slots,
    };
    return (PyTypeObject *)PyType_FromSpecWithBases(&spec, base);
}

/* The offset of the __slots__ member `name` of asyncio.Handle, checked to
 * be an object slot inside the instance and not the weakref list. */
static int
slot_offset(PyTypeObject *base, const char *name, Py_ssize_t *off)
{
    PyObject *d = PyDict_GetItemString(base->tp_dict, name);   /* borrowed */
    if (d == NULL || !PyObject_TypeCheck(d, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_ImportError,
                     "goloop: asyncio.Handle has no slot %s (unsupported asyncio)", name);
        return -1;
    }
    PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
    if (m->type != T_OBJECT_EX && m->type != T_OBJECT) {
        PyErr_Format(PyExc_ImportError, "goloop: asyncio.Handle.%s is not an object slot", name);
        return -1;
    }
    if (m->offset < (Py_ssize_t)sizeof(PyObject) ||
        m->offset + (Py_ssize_t)sizeof(PyObject *) > base->tp_basicsize ||
        m->offset == base->tp_weaklistoffset) {
        PyErr_Format(PyExc_ImportError, "goloop: unexpected layout of asyncio.Handle.%s", name);
        return -1;
    }
    *off = m->offset;
    return 0;
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
    PyTypeObject *hb = (PyTypeObject *)base;
    if (slot_offset(hb, "_callback", &off_callback) < 0 ||
        slot_offset(hb, "_args", &off_args) < 0 ||
        slot_offset(hb, "_context", &off_context) < 0 ||
        slot_offset(hb, "_loop", &off_loop) < 0 ||
        slot_offset(hb, "_source_traceback", &off_tb) < 0 ||
        slot_offset(hb, "_repr", &off_repr) < 0)
        goto done;
    goloop_handle_offset = (hb->tp_basicsize + 7) & ~(Py_ssize_t)7;
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
    PyObject *loop = LOOP(h);
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
    PyObject *callback = CALLBACK(o);
    if (h->cancelled || callback == NULL)
        return 0;
    /* Owned for the call: the callback may cancel its own handle, which
     * drops the callback and the arguments. */
    PyObject *args = NULL, *argv[GOLOOP_INLINE_ARGS];
    PyObject *const *items = argv;
    Py_ssize_t n = h->nargs;
    Py_INCREF(callback);
    if (h->args_in_tuple) {
        args = ARGS(o);
        Py_INCREF(args);
        items = &PyTuple_GET_ITEM(args, 0);
        n = PyTuple_GET_SIZE(args);
    } else {
        for (Py_ssize_t i = 0; i < n; i++) {
            argv[i] = h->argv[i];
            Py_INCREF(argv[i]);
        }
    }
    int leased = CONTEXT(o) == NULL;
    if (leased)
        CONTEXT(o) = goloop_context_lease();
    PyObject *ctx = CONTEXT(o), *res = NULL;
    if (ctx != NULL) {
        Py_INCREF(ctx);
        if (PyContext_Enter(ctx) == 0) {
            res = PyObject_Vectorcall(callback, items, n, NULL);
            if (PyContext_Exit(ctx) < 0)
                Py_CLEAR(res);
        }
    }
    Py_DECREF(callback);
    if (args != NULL)
        Py_DECREF(args);
    else
        for (Py_ssize_t i = 0; i < n; i++)
            Py_DECREF(argv[i]);
    if (ctx != NULL) {
        Py_DECREF(ctx);
        if (leased && CONTEXT(o) == ctx)
            goloop_context_settle(&CONTEXT(o), h->context_shown);
    }
    if (res != NULL) {
        Py_DECREF(res);
        return 0;
    }
    if (PyErr_ExceptionMatches(PyExc_SystemExit) ||
        PyErr_ExceptionMatches(PyExc_KeyboardInterrupt))
        return -1;
    return report_error(o);
}
