/* Fast paths of loop.sock_recv, sock_recv_into and sock_sendall for plain
 * socket.socket objects. The socket call is made here, on the fd; only
 * when it would block is a future made (goloop._sockets.SockFuture, an
 * asyncio.Future subclass whose cancel() unregisters us), with a SockOp
 * registered on the Go poller as the fd's reader or writer. When the fd
 * becomes ready the SockOp retries the call and settles the future, so a
 * blocked call costs one future and one watcher, and no Python frame, no
 * BlockingIOError and no done callback (the Python path's costs).
 *
 * Every entry point returns NotImplemented when it does not handle the
 * arguments (another socket type, an odd buffer): the Python method then
 * takes asyncio's path, with asyncio's checks and errors. All of it runs
 * on the loop's thread with the GIL held, so every call is MSG_DONTWAIT:
 * a socket left in blocking mode waits on the poller instead of blocking
 * the loop and every other thread. */
#include "goloop.h"
#include <string.h>
#include <sys/socket.h>
#include <errno.h>

enum { OP_RECV, OP_RECV_INTO, OP_SENDALL };

typedef struct {
    PyObject_HEAD
    PyObject *loop;     /* the LoopCore */
    PyObject *fut;      /* SockFuture; NULL once settled or cancelled */
    PyObject *sock;     /* kept alive while pending, as asyncio does */
    PyObject *handle;   /* watcher Handle whose callback is this op */
    PyObject *buf;      /* recv_into: the target (re-acquired per attempt) */
    Py_buffer view;     /* sendall: the data, held until done (like asyncio's memoryview) */
    Py_ssize_t n;       /* recv: max bytes; recv_into: nbytes; sendall: bytes sent */
    int fd;
    int kind;
} SockOp;

static PyTypeObject SockOp_Type;
static PyObject *sock_type;         /* socket.socket */
static PyObject *sock_kind_descr;   /* _socket.socket.type: the C getter */
static PyObject *sock_future_type;  /* goloop._sockets.SockFuture */
static PyObject *str_fileno, *str_set_result, *str_set_exception, *str_op,
                *str_transports, *str_data, *str_ensure, *str_done, *kw_loop;

/* ---- the socket calls ------------------------------------------------ */

/* The previous sock_recv size per fd, so that a connection whose reads
 * are large gets them straight into the bytes object (goloop_recv_bytes)
 * instead of through the shared buffer and a copy: ~5 us saved per 100 KiB
 * read. Indexed by fd and grown on demand; a stale entry after an fd is
 * reused only picks the first read's strategy. The GIL guards it.
 * NULL (no hint) for a negative fd or when the table cannot grow. */
static Py_ssize_t *recv_hints;
static Py_ssize_t recv_hints_len;

static Py_ssize_t *
recv_hint(int fd)
{
    if (fd < 0)  /* a closed socket's fileno(): no slot; recv gives EBADF */
        return NULL;
    if (fd >= recv_hints_len) {
        Py_ssize_t len = recv_hints_len ? recv_hints_len : 64;
        while (len <= fd)
            len *= 2;
        Py_ssize_t *grown = PyMem_Realloc(recv_hints, (size_t)len * sizeof(Py_ssize_t));
        if (grown == NULL)
            return NULL;
        memset(grown + recv_hints_len, 0, (size_t)(len - recv_hints_len) * sizeof(Py_ssize_t));
        recv_hints = grown;
        recv_hints_len = len;
    }
    return &recv_hints[fd];
}

/* 1 for a SOCK_STREAM socket, 0 for any other, -1 with an exception.
 * Through _socket.socket's own getter: socket.socket.type is a Python
 * property that builds an enum. */
static int
is_stream(PyObject *sock)
{
    PyObject *t = Py_TYPE(sock_kind_descr)->tp_descr_get(sock_kind_descr, sock,
                                                         (PyObject *)Py_TYPE(sock));
    if (t == NULL)
        return -1;
    long kind = PyLong_AsLong(t);
    Py_DECREF(t);
    if (kind == -1 && PyErr_Occurred())
        return -1;
    return (kind & 0xf) == SOCK_STREAM;
}

/* recv of up to n bytes, as socket.recv: min(n, what is queued). NULL +
 * errno EAGAIN: would block; NULL with an exception set: error. Only
 * stream sockets use the per-fd size hint: a datagram larger than a
 * hinted read would be cut. */
static PyObject *
do_recv(PyObject *sock, int fd, Py_ssize_t n)
{
    int stream = is_stream(sock);
    if (stream < 0)
        return NULL;
    Py_ssize_t no_hint = 0, *hint = stream ? recv_hint(fd) : NULL;
    PyObject *b = goloop_recv_bytes(fd, n, hint != NULL ? hint : &no_hint, stream);
    if (b == NULL && !PyErr_Occurred() && errno != EAGAIN && errno != EWOULDBLOCK)
        PyErr_SetFromErrno(PyExc_OSError);
    return b;
}

/* recv_into(buf, nbytes) -> int, same conventions as do_recv. A buffer
 * that cannot be had (released, resized away...) is handed to
 * sock.recv_into itself, for the socket module's own exception. */
static PyObject *
do_recv_into(int fd, PyObject *sock, PyObject *buf, Py_ssize_t nbytes)
{
    Py_buffer v;
    if (PyObject_GetBuffer(buf, &v, PyBUF_WRITABLE) < 0) {
        PyErr_Clear();
        return PyObject_CallMethod(sock, "recv_into", "On", buf, nbytes);
    }
    Py_ssize_t n = nbytes == 0 || nbytes > v.len ? v.len : nbytes;
    if (n == 0) {  /* the socket module answers 0 without a recv */
        PyBuffer_Release(&v);
        return PyLong_FromLong(0);
    }
    ssize_t r = goloop_recv(fd, v.buf, (size_t)n);
    int e = errno;
    PyBuffer_Release(&v);
    if (r < 0) {
        errno = e;
        if (e != EAGAIN && e != EWOULDBLOCK)
            PyErr_SetFromErrno(PyExc_OSError);
        return NULL;
    }
    return PyLong_FromSsize_t(r);
}

/* Sends what is left of op's data: 1 all sent, 0 would block, -1 error. */
static int
do_send_rest(SockOp *op, int fd)
{
    while (op->n < op->view.len) {
        ssize_t w = goloop_send(fd, (char *)op->view.buf + op->n, (size_t)(op->view.len - op->n));
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        op->n += w;
    }
    return 1;
}

/* ---- SockOp ------------------------------------------------------------ */

static int
op_is_write(SockOp *op)
{
    return op->kind == OP_SENDALL;
}

/* Leaves the poller (unless someone replaced our watcher, which cancels
 * it) and drops what the pending call held. */
static void
op_finish(SockOp *op)
{
    PyObject *h = op->handle;
    if (h != NULL) {
        op->handle = NULL;
        /* Not in a child forked after the Go runtime started: no Go call
         * is safe there, and the parent's poller is not ours anyway. */
        if (!HDATA(h)->cancelled && op->loop != NULL && !goloop_forked &&
            ((GoloopCore *)op->loop)->engine != 0) {
            PyObject *prev = goloop_unwatch((GoloopCore *)op->loop, op->fd, op_is_write(op),
                                            (GoloopHandle *)h);
            if (prev == NULL)
                PyErr_WriteUnraisable((PyObject *)op);
            else
                Py_DECREF(prev);
        }
        goloop_handle_cancel(h);
        Py_DECREF(h);
    }
    if (op->view.obj != NULL)
        PyBuffer_Release(&op->view);
    Py_CLEAR(op->fut);
    Py_CLEAR(op->sock);
    Py_CLEAR(op->buf);
}

/* fut.set_result/set_exception, unless the future is already done (it
 * was cancelled without our cancel(): then the result is dropped). */
static int
settle(PyObject *fut, PyObject *method, PyObject *value)
{
    PyObject *done = PyObject_CallMethodNoArgs(fut, str_done);
    if (done == NULL)
        return -1;
    int is_done = PyObject_IsTrue(done);
    Py_DECREF(done);
    if (is_done != 0)
        return is_done < 0 ? -1 : 0;
    PyObject *r = PyObject_CallMethodOneArg(fut, method, value);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* The poller's callback: the fd is ready, retry the call. */
static PyObject *
op_call(PyObject *self, PyObject *args, PyObject *kw)
{
    SockOp *op = (SockOp *)self;
    if (op->fut == NULL)
        Py_RETURN_NONE;
    /* The socket may have been closed while we waited, and its number
     * given to another socket whose registration revived ours: ask the
     * socket object for its fd again (-1 once closed: EBADF, as asyncio's
     * sock.recv() gets) and never use a number it gave up. */
    int fd = goloop_sock_fd(op->sock);
    PyObject *res = NULL;
    switch (op->kind) {
    case OP_RECV:
        res = do_recv(op->sock, fd, op->n);
        break;
    case OP_RECV_INTO:
        res = do_recv_into(fd, op->sock, op->buf, op->n);
        break;
    default: {
        int r = do_send_rest(op, fd);
        if (r > 0)
            res = Py_NewRef(Py_None);
        else if (r == 0)
            errno = EAGAIN;
        break;
    }
    }
    if (res == NULL && !PyErr_Occurred())
        Py_RETURN_NONE;  /* spurious wake-up: keep waiting */
    PyObject *fut = Py_NewRef(op->fut);
    op_finish(op);
    int rc;
    if (res != NULL) {
        rc = settle(fut, str_set_result, res);
        Py_DECREF(res);
    } else {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (tb != NULL)
            PyException_SetTraceback(value, tb);
        rc = settle(fut, str_set_exception, value);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
    }
    Py_DECREF(fut);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* op.cancel(): called by SockFuture.cancel() before the future cancels. */
static PyObject *
op_cancel(PyObject *self, PyObject *unused)
{
    op_finish((SockOp *)self);
    Py_RETURN_NONE;
}

static int
op_traverse(PyObject *self, visitproc visit, void *arg)
{
    SockOp *op = (SockOp *)self;
    Py_VISIT(op->loop);
    Py_VISIT(op->fut);
    Py_VISIT(op->sock);
    Py_VISIT(op->handle);
    Py_VISIT(op->buf);
    Py_VISIT(op->view.obj);
    return 0;
}

static int
op_clear(PyObject *self)
{
    SockOp *op = (SockOp *)self;
    Py_CLEAR(op->handle);  /* no unwatch here: the poller holds its own reference */
    if (op->view.obj != NULL)
        PyBuffer_Release(&op->view);
    Py_CLEAR(op->fut);
    Py_CLEAR(op->sock);
    Py_CLEAR(op->buf);
    Py_CLEAR(op->loop);
    return 0;
}

static void
op_dealloc(PyObject *self)
{
    PyObject_GC_UnTrack(self);
    op_clear(self);
    Py_TYPE(self)->tp_free(self);
}

static PyMethodDef op_methods[] = {
    {"cancel", op_cancel, METH_NOARGS, "Stop waiting: leave the poller, drop the call's references."},
    {NULL}
};

static PyTypeObject SockOp_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "goloop._goloop.SockOp",
    .tp_basicsize = sizeof(SockOp),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A blocked sock_* call waiting for its fd (internal).",
    .tp_call = op_call,
    .tp_traverse = op_traverse,
    .tp_clear = op_clear,
    .tp_dealloc = op_dealloc,
    .tp_methods = op_methods,
};

/* ---- starting a call ---------------------------------------------------- */

/* The fd of a plain socket.socket, or -2 when sock is anything else (the
 * caller then answers NotImplemented). -1 with an exception: error. */
static int
plain_socket_fd(PyObject *sock)
{
    if (sock_type == NULL || sock_future_type == NULL || (PyObject *)Py_TYPE(sock) != sock_type)
        return -2;
    PyObject *r = PyObject_CallMethodNoArgs(sock, str_fileno);
    if (r == NULL)
        return -1;
    long fd = PyLong_AsLong(r);
    Py_DECREF(r);
    if (fd == -1 && PyErr_Occurred())
        return -1;
    return (int)fd;
}

/* asyncio refuses sock_* calls on an fd a transport owns; only a blocked
 * call reaches that check, as in asyncio. Looks in the loop's
 * _transports first so the common case costs two dict lookups. */
static int
ensure_no_transport(PyObject *loop, int fd)
{
    PyObject *transports = PyObject_GetAttr(loop, str_transports);
    if (transports == NULL)
        return -1;
    PyObject *data = PyObject_GetAttr(transports, str_data);
    Py_DECREF(transports);
    if (data == NULL)
        return -1;
    int present = 0;
    if (PyDict_Check(data) && PyDict_GET_SIZE(data) > 0) {
        PyObject *key = PyLong_FromLong(fd);
        if (key == NULL) {
            Py_DECREF(data);
            return -1;
        }
        present = PyDict_Contains(data, key);
        Py_DECREF(key);
    }
    Py_DECREF(data);
    if (present <= 0)
        return present;
    PyObject *fdo = PyLong_FromLong(fd);
    if (fdo == NULL)
        return -1;
    PyObject *r = PyObject_CallMethodOneArg(loop, str_ensure, fdo);
    Py_DECREF(fdo);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* Makes the future and the op, and registers the op on fd. Takes over
 * `view` (sendall) when given. */
static PyObject *
start_wait(GoloopCore *core, PyObject *sock, int fd, int kind, Py_ssize_t n,
           PyObject *buf, Py_buffer *view)
{
    if (core->engine == 0 || goloop_check_fork() < 0) {
        if (view != NULL)
            PyBuffer_Release(view);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
        return NULL;
    }
    if (ensure_no_transport((PyObject *)core, fd) < 0) {
        if (view != NULL)
            PyBuffer_Release(view);
        return NULL;
    }
    SockOp *op = PyObject_GC_New(SockOp, &SockOp_Type);
    if (op == NULL) {
        if (view != NULL)
            PyBuffer_Release(view);
        return NULL;
    }
    op->loop = Py_NewRef((PyObject *)core);
    op->fut = NULL;
    op->sock = Py_NewRef(sock);
    op->handle = NULL;
    op->buf = Py_XNewRef(buf);
    if (view != NULL)
        op->view = *view;
    else
        memset(&op->view, 0, sizeof op->view);
    op->n = n;
    op->fd = fd;
    op->kind = kind;
    PyObject_GC_Track((PyObject *)op);

    PyObject *args[1] = {(PyObject *)core};
    PyObject *fut = PyObject_Vectorcall(sock_future_type, args, 0, kw_loop);
    if (fut == NULL)
        goto fail;
    op->fut = Py_NewRef(fut);
    if (PyObject_SetAttr(fut, str_op, (PyObject *)op) < 0)
        goto fail_fut;
    PyObject *h = (PyObject *)goloop_handle_new(GoloopHandle_Type, (PyObject *)op, NULL,
                                                (PyObject *)core, NULL);
    if (h == NULL)
        goto fail_fut;
    PyObject *prev = goloop_watch(core, fd, op_is_write(op), (GoloopHandle *)h);
    if (prev == NULL) {
        Py_DECREF(h);
        goto fail_fut;
    }
    op->handle = h;
    if (prev != Py_None)
        goloop_handle_cancel(prev);  /* replaced, as add_reader would */
    Py_DECREF(prev);
    Py_DECREF(op);
    return fut;

fail_fut:
    Py_DECREF(fut);
fail:
    op_finish(op);
    Py_DECREF(op);
    return NULL;
}

/* _sock_recv(sock, n) -> bytes, a SockFuture, or NotImplemented */
PyObject *
goloop_core_sock_recv(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs)
{
    if (goloop_check_fork() < 0)
        return NULL;
    if (nargs != 2 || !PyLong_CheckExact(args[1]))
        Py_RETURN_NOTIMPLEMENTED;
    Py_ssize_t n = PyLong_AsSsize_t(args[1]);
    if (n <= 0) {   /* errors, 0 and negative sizes: socket.recv's own answers */
        PyErr_Clear();
        Py_RETURN_NOTIMPLEMENTED;
    }
    int fd = plain_socket_fd(args[0]);
    if (fd == -2)
        Py_RETURN_NOTIMPLEMENTED;
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    PyObject *r = do_recv(args[0], fd, n);
    if (r != NULL || PyErr_Occurred())
        return r;
    return start_wait(core, args[0], fd, OP_RECV, n, NULL, NULL);
}

/* _sock_recv_into(sock, buf, nbytes) -> int, a SockFuture, or NotImplemented */
PyObject *
goloop_core_sock_recv_into(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs)
{
    if (goloop_check_fork() < 0)
        return NULL;
    if (nargs != 3 || !PyLong_CheckExact(args[2]) ||
        !(PyByteArray_CheckExact(args[1]) || PyMemoryView_Check(args[1])))
        Py_RETURN_NOTIMPLEMENTED;
    Py_ssize_t nbytes = PyLong_AsSsize_t(args[2]);
    if (nbytes < 0) {
        PyErr_Clear();
        Py_RETURN_NOTIMPLEMENTED;
    }
    if (PyMemoryView_Check(args[1])) {
        Py_buffer *mv = PyMemoryView_GET_BUFFER(args[1]);
        if (mv->readonly || mv->itemsize != 1 || !PyBuffer_IsContiguous(mv, 'C'))
            Py_RETURN_NOTIMPLEMENTED;
    }
    int fd = plain_socket_fd(args[0]);
    if (fd == -2)
        Py_RETURN_NOTIMPLEMENTED;
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    PyObject *r = do_recv_into(fd, args[0], args[1], nbytes);
    if (r != NULL || PyErr_Occurred())
        return r;
    return start_wait(core, args[0], fd, OP_RECV_INTO, nbytes, args[1], NULL);
}

/* _sock_sendall(sock, data) -> None, a SockFuture, or NotImplemented */
PyObject *
goloop_core_sock_sendall(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs)
{
    if (goloop_check_fork() < 0)
        return NULL;
    if (nargs != 2 || !(PyBytes_CheckExact(args[1]) || PyByteArray_CheckExact(args[1])))
        Py_RETURN_NOTIMPLEMENTED;
    int fd = plain_socket_fd(args[0]);
    if (fd == -2)
        Py_RETURN_NOTIMPLEMENTED;
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    SockOp tmp = {.fd = fd, .kind = OP_SENDALL};
    if (PyObject_GetBuffer(args[1], &tmp.view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (tmp.view.len == 0) {
        /* asyncio still calls send(b"") once; so do we, for its errors */
        ssize_t w = goloop_send(fd, "", 0);
        PyBuffer_Release(&tmp.view);
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return PyErr_SetFromErrno(PyExc_OSError);
        Py_RETURN_NONE;
    }
    int r = do_send_rest(&tmp, fd);
    if (r != 0) {
        PyBuffer_Release(&tmp.view);
        if (r < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    return start_wait(core, args[0], fd, OP_SENDALL, tmp.n, NULL, &tmp.view);
}

void
goloop_sock_future_abandon(PyObject *fut)
{
    PyObject *op = PyObject_GetAttr(fut, str_op);
    if (op == NULL) {
        PyErr_Clear();
        return;
    }
    if (PyObject_SetAttr(fut, str_op, Py_None) < 0)
        PyErr_Clear();
    if (Py_TYPE(op) == &SockOp_Type)
        op_finish((SockOp *)op);
    Py_DECREF(op);
}

int
goloop_is_sock_future(PyObject *o)
{
    return sock_future_type != NULL && (PyObject *)Py_TYPE(o) == sock_future_type;
}

int
goloop_sock_call_fits(int kind, PyObject *const *args, Py_ssize_t nargs)
{
    if (sock_type == NULL || sock_future_type == NULL || nargs < 1 ||
        (PyObject *)Py_TYPE(args[0]) != sock_type)
        return 0;
    switch (kind) {
    case GOLOOP_SOCK_RECV: {
        if (nargs != 2 || !PyLong_CheckExact(args[1]))
            return 0;
        Py_ssize_t n = PyLong_AsSsize_t(args[1]);
        if (n == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
        return n > 0;       /* 0 and negative sizes: socket.recv's own answers */
    }
    case GOLOOP_SOCK_RECV_INTO:
        return nargs == 2 && (PyByteArray_CheckExact(args[1]) || PyMemoryView_Check(args[1]));
    default:
        return nargs == 2 && (PyBytes_CheckExact(args[1]) || PyByteArray_CheckExact(args[1]));
    }
}

/* _goloop._set_sock_future(SockFuture): the future type blocked calls use. */
PyObject *
goloop_set_sock_future(PyObject *m, PyObject *cls)
{
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "_set_sock_future expects a class");
        return NULL;
    }
    Py_XSETREF(sock_future_type, Py_NewRef(cls));
    Py_RETURN_NONE;
}

int
goloop_sockops_init(PyObject *module)
{
    if (PyType_Ready(&SockOp_Type) < 0)
        return -1;
    PyObject *socket_mod = PyImport_ImportModule("socket");
    if (socket_mod == NULL)
        return -1;
    sock_type = PyObject_GetAttrString(socket_mod, "socket");
    Py_DECREF(socket_mod);
    if (sock_type == NULL)
        return -1;
    PyObject *c_socket_mod = PyImport_ImportModule("_socket");
    if (c_socket_mod == NULL)
        return -1;
    PyObject *c_sock_type = PyObject_GetAttrString(c_socket_mod, "socket");
    Py_DECREF(c_socket_mod);
    if (c_sock_type == NULL)
        return -1;
    sock_kind_descr = PyObject_GetAttrString(c_sock_type, "type");
    Py_DECREF(c_sock_type);
    if (sock_kind_descr == NULL)
        return -1;
    if (Py_TYPE(sock_kind_descr)->tp_descr_get == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "goloop: _socket.socket.type is not a descriptor");
        return -1;
    }
    if ((str_fileno = PyUnicode_InternFromString("fileno")) == NULL ||
        (str_set_result = PyUnicode_InternFromString("set_result")) == NULL ||
        (str_set_exception = PyUnicode_InternFromString("set_exception")) == NULL ||
        (str_op = PyUnicode_InternFromString("_op")) == NULL ||
        (str_transports = PyUnicode_InternFromString("_transports")) == NULL ||
        (str_data = PyUnicode_InternFromString("data")) == NULL ||
        (str_ensure = PyUnicode_InternFromString("_ensure_fd_no_transport")) == NULL ||
        (str_done = PyUnicode_InternFromString("done")) == NULL ||
        (kw_loop = Py_BuildValue("(s)", "loop")) == NULL)
        return -1;
    return 0;
}
