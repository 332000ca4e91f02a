/* loop.sock_recv / sock_recv_into / sock_sendall as C awaitables. asyncio's
 * are coroutines; each call of goloop's built one too (a Python frame
 * around the C fast path in sockops.c), which cost more than the socket
 * call itself. A SockCall behaves as that coroutine did: nothing happens
 * until it is first awaited (sent into); then it makes the call, returns
 * its result, or yields the SockFuture of a blocked call to the task and
 * returns that future's result when resumed. throw() and close() leave the
 * poller (cancelling the future), as the exception or close would have
 * left the coroutine. It is registered as a collections.abc.Coroutine, so
 * asyncio.iscoroutine(), create_task() and ensure_future() take it.
 *
 * Debug mode, sockets that are not plain socket.socket objects and unusual
 * arguments never get a SockCall: the method returns the Python coroutine
 * (Loop._sock_recv_py ...), which has asyncio's checks and messages. */
#include "goloop.h"

typedef struct {
    PyObject_HEAD
    PyObject *loop;     /* the LoopCore */
    PyObject *args[3];  /* sock, n | sock, buf, nbytes | sock, data */
    PyObject *waiting;  /* the SockFuture of a blocked call, or an inner
                         * coroutine this call handed over to (inner) */
    int nargs;
    int inner;
    int kind;           /* GOLOOP_SOCK_RECV ... */
    int started;
    int done;
} SockCall;

static PyTypeObject SockCall_Type;
static PyObject *zero;             /* int 0 */
static PyObject *str_blocking, *str_result, *str_throw, *str_close;
static PyObject *slow_fn[3];        /* SocketOps.sock_recv, sock_recv_into, sock_sendall */
static const char *call_name[3] = {"sock_recv", "sock_recv_into", "sock_sendall"};

static void
release_args(SockCall *c)
{
    for (int i = 0; i < c->nargs; i++)
        Py_CLEAR(c->args[i]);
    c->nargs = 0;
}

/* The Python coroutine of the same call (asyncio's path): the SocketOps
 * method, given at import (_goloop._set_sock_methods). */
static PyObject *
slow_coroutine(PyObject *loop, int kind, PyObject *const *args, Py_ssize_t nargs)
{
    if (slow_fn[kind] == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "goloop: sock_* methods not set up");
        return NULL;
    }
    PyObject *small[8], **stack = small;
    if (nargs + 2 > 8 && (stack = PyMem_Malloc((size_t)(nargs + 2) * sizeof(PyObject *))) == NULL)
        return PyErr_NoMemory();
    stack[1] = loop;
    for (Py_ssize_t i = 0; i < nargs; i++)
        stack[i + 2] = args[i];
    PyObject *r = PyObject_Vectorcall(slow_fn[kind], stack + 1,
                                      (size_t)(nargs + 1) | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    if (stack != small)
        PyMem_Free(stack);
    return r;
}

/* The first send: make the call. PYGEN_RETURN with its result, PYGEN_NEXT
 * with the future to wait for, PYGEN_ERROR with an exception. */
static PySendResult
start(SockCall *c, PyObject **out)
{
    GoloopCore *core = (GoloopCore *)c->loop;
    PyObject *r;
    switch (c->kind) {
    case GOLOOP_SOCK_RECV:
        r = goloop_core_sock_recv(core, c->args, c->nargs);
        break;
    case GOLOOP_SOCK_RECV_INTO: {
        PyObject *a[3] = {c->args[0], c->args[1], zero};   /* nbytes: all of buf */
        r = goloop_core_sock_recv_into(core, a, 3);
        break;
    }
    default:
        r = goloop_core_sock_sendall(core, c->args, c->nargs);
        break;
    }
    if (r == Py_NotImplemented) {
        /* Not for the fast path after all (the socket changed since the
         * call): hand over to asyncio's path. */
        Py_DECREF(r);
        r = slow_coroutine(c->loop, c->kind, c->args, c->nargs);
        release_args(c);
        if (r == NULL)
            return PYGEN_ERROR;
        c->waiting = r;
        c->inner = 1;
        return PyIter_Send(r, Py_None, out);
    }
    release_args(c);
    if (r == NULL)
        return PYGEN_ERROR;
    if (!goloop_is_sock_future(r)) {
        *out = r;               /* done at once */
        return PYGEN_RETURN;
    }
    /* Blocked: the task waits on the future, as on `await fut`. */
    if (PyObject_SetAttr(r, str_blocking, Py_True) < 0) {
        Py_DECREF(r);
        return PYGEN_ERROR;
    }
    c->waiting = r;
    *out = Py_NewRef(r);
    return PYGEN_NEXT;
}

static PySendResult
call_send(PyObject *self, PyObject *arg, PyObject **out)
{
    SockCall *c = (SockCall *)self;
    *out = NULL;
    if (c->done) {
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited coroutine");
        return PYGEN_ERROR;
    }
    PySendResult r;
    if (!c->started) {
        c->started = 1;
        if (arg != Py_None) {
            PyErr_SetString(PyExc_TypeError,
                            "can't send non-None value to a just-started coroutine");
            c->done = 1;
            release_args(c);
            return PYGEN_ERROR;
        }
        r = start(c, out);
    } else if (c->inner) {
        r = PyIter_Send(c->waiting, arg, out);   /* the inner coroutine */
    } else {
        /* Resumed by the task: the future is done. */
        *out = PyObject_CallMethodNoArgs(c->waiting, str_result);
        r = *out == NULL ? PYGEN_ERROR : PYGEN_RETURN;
    }
    if (r != PYGEN_NEXT) {
        c->done = 1;
        Py_CLEAR(c->waiting);
    }
    return r;
}

/* Leaves the poller: a blocked call is taken off it (its future is left
 * as it is: nobody waits on it any more, as when asyncio's coroutine is
 * closed or thrown into); an inner coroutine is closed. */
static int
abandon(SockCall *c)
{
    PyObject *w = c->waiting;
    if (w == NULL)
        return 0;
    c->waiting = NULL;
    int rc = 0;
    if (c->inner) {
        PyObject *r = PyObject_CallMethodNoArgs(w, str_close);
        rc = r == NULL ? -1 : 0;
        Py_XDECREF(r);
    } else {
        goloop_sock_future_abandon(w);
    }
    Py_DECREF(w);
    return rc;
}

static PyObject *
call_send_method(PyObject *self, PyObject *arg)
{
    PyObject *out;
    PySendResult r = call_send(self, arg, &out);
    if (r == PYGEN_NEXT)
        return out;
    if (r == PYGEN_RETURN) {
        if (out == Py_None)
            PyErr_SetNone(PyExc_StopIteration);
        else {
            PyObject *e = PyObject_CallOneArg(PyExc_StopIteration, out);
            if (e != NULL) {
                PyErr_SetObject(PyExc_StopIteration, e);
                Py_DECREF(e);
            }
        }
        Py_DECREF(out);
    }
    return NULL;
}

static PyObject *
call_iternext(PyObject *self)
{
    PyObject *out;
    PySendResult r = call_send(self, Py_None, &out);
    if (r == PYGEN_NEXT)
        return out;
    if (r == PYGEN_RETURN) {
        if (out != Py_None) {
            PyObject *e = PyObject_CallOneArg(PyExc_StopIteration, out);
            if (e != NULL) {
                PyErr_SetObject(PyExc_StopIteration, e);
                Py_DECREF(e);
            }
        }
        Py_DECREF(out);
    }
    return NULL;
}

static PyObject *
call_throw(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    SockCall *c = (SockCall *)self;
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "throw expected 1 to 3 arguments");
        return NULL;
    }
    if (c->waiting != NULL && c->inner) {
        /* An inner coroutine: it takes the exception itself. */
        PyObject *meth = PyObject_GetAttr(c->waiting, str_throw);
        if (meth == NULL)
            return NULL;
        PyObject *r = PyObject_Vectorcall(meth, args, (size_t)nargs, NULL);
        Py_DECREF(meth);
        if (r == NULL) {
            c->done = 1;
            Py_CLEAR(c->waiting);
        }
        return r;
    }
    c->started = c->done = 1;
    release_args(c);
    if (abandon(c) < 0)
        return NULL;
    /* Raised where the call was suspended, as the generator would. */
    PyObject *typ = args[0], *val = nargs > 1 ? args[1] : Py_None;
    PyObject *tb = nargs > 2 ? args[2] : Py_None;
    if (PyExceptionInstance_Check(typ)) {
        PyErr_SetObject((PyObject *)Py_TYPE(typ), typ);
        if (tb != Py_None)
            PyException_SetTraceback(typ, tb);
        return NULL;
    }
    if (!PyExceptionClass_Check(typ)) {
        PyErr_Format(PyExc_TypeError,
                     "exceptions must be classes or instances deriving from BaseException, not %s",
                     Py_TYPE(typ)->tp_name);
        return NULL;
    }
    PyErr_SetObject(typ, val);
    if (tb != Py_None) {
        PyObject *t, *v, *b;
        PyErr_Fetch(&t, &v, &b);
        PyErr_NormalizeException(&t, &v, &b);
        if (v != NULL)
            PyException_SetTraceback(v, tb);
        PyErr_Restore(t, v, b);
    }
    return NULL;
}

static PyObject *
call_close(PyObject *self, PyObject *unused)
{
    SockCall *c = (SockCall *)self;
    c->started = c->done = 1;
    release_args(c);
    if (abandon(c) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
call_await(PyObject *self)
{
    return Py_NewRef(self);
}

static PyObject *
get_name(PyObject *self, void *closure)
{
    return PyUnicode_FromString(call_name[((SockCall *)self)->kind]);
}

static PyObject *
get_running(PyObject *self, void *closure)
{
    SockCall *c = (SockCall *)self;
    return PyBool_FromLong(c->started && !c->done);
}

static int
call_traverse(PyObject *self, visitproc visit, void *arg)
{
    SockCall *c = (SockCall *)self;
    Py_VISIT(c->loop);
    for (int i = 0; i < c->nargs; i++)
        Py_VISIT(c->args[i]);
    Py_VISIT(c->waiting);
    return 0;
}

static int
call_clear(PyObject *self)
{
    SockCall *c = (SockCall *)self;
    release_args(c);
    Py_CLEAR(c->waiting);
    Py_CLEAR(c->loop);
    return 0;
}

static void
call_dealloc(PyObject *self)
{
    SockCall *c = (SockCall *)self;
    PyObject_GC_UnTrack(self);
    if (c->waiting != NULL) {
        /* Dropped while blocked (never resumed): leave the poller. An
         * inner coroutine closes itself when it is freed. */
        if (c->inner)
            Py_CLEAR(c->waiting);
        else
            (void)abandon(c);
    }
    call_clear(self);
    Py_TYPE(self)->tp_free(self);
}

static PyAsyncMethods call_as_async = {
    .am_await = call_await,
    .am_send = call_send,
};

static PyMethodDef call_methods[] = {
    {"send", call_send_method, METH_O, NULL},
    {"throw", (PyCFunction)(void (*)(void))call_throw, METH_FASTCALL, NULL},
    {"close", call_close, METH_NOARGS, NULL},
    {NULL}
};

static PyGetSetDef call_getset[] = {
    {"__name__", get_name, NULL, NULL, NULL},
    {"__qualname__", get_name, NULL, NULL, NULL},
    {"cr_running", get_running, NULL, NULL, NULL},
    {NULL}
};

static PyTypeObject SockCall_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "goloop._goloop.SockCall",
    .tp_basicsize = sizeof(SockCall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "An awaitable loop.sock_* call (a coroutine to asyncio).",
    .tp_as_async = &call_as_async,
    .tp_iter = call_await,
    .tp_iternext = call_iternext,
    .tp_traverse = call_traverse,
    .tp_clear = call_clear,
    .tp_dealloc = call_dealloc,
    .tp_methods = call_methods,
    .tp_getset = call_getset,
};

PyObject *
goloop_sock_call(GoloopCore *core, int kind, PyObject *const *args, Py_ssize_t nargs)
{
    if (core->debug || !goloop_sock_call_fits(kind, args, nargs))
        return slow_coroutine((PyObject *)core, kind, args, nargs);
    SockCall *c = PyObject_GC_New(SockCall, &SockCall_Type);
    if (c == NULL)
        return NULL;
    c->loop = Py_NewRef((PyObject *)core);
    for (Py_ssize_t i = 0; i < nargs; i++)
        c->args[i] = Py_NewRef(args[i]);
    c->nargs = (int)nargs;
    c->waiting = NULL;
    c->inner = 0;
    c->kind = kind;
    c->started = c->done = 0;
    PyObject_GC_Track((PyObject *)c);
    return (PyObject *)c;
}

/* _goloop._set_sock_methods(recv, recv_into, sendall): the Python
 * implementations (SocketOps') for what the C path does not take. */
PyObject *
goloop_set_sock_methods(PyObject *m, PyObject *args)
{
    PyObject *f[3];
    if (!PyArg_ParseTuple(args, "OOO:_set_sock_methods", &f[0], &f[1], &f[2]))
        return NULL;
    for (int i = 0; i < 3; i++)
        Py_XSETREF(slow_fn[i], Py_NewRef(f[i]));
    Py_RETURN_NONE;
}

int
goloop_sockcall_init(PyObject *module)
{
    if (PyType_Ready(&SockCall_Type) < 0)
        return -1;
    if ((zero = PyLong_FromLong(0)) == NULL ||
        (str_blocking = PyUnicode_InternFromString("_asyncio_future_blocking")) == NULL ||
        (str_result = PyUnicode_InternFromString("result")) == NULL ||
        (str_throw = PyUnicode_InternFromString("throw")) == NULL ||
        (str_close = PyUnicode_InternFromString("close")) == NULL)
        return -1;
    Py_INCREF(&SockCall_Type);
    return PyModule_AddObject(module, "SockCall", (PyObject *)&SockCall_Type);
}
