/* StreamCore: the C base of goloop's socket stream transport (TCP and
 * Unix). It owns the hot paths: reading (recv -> protocol.data_received,
 * or recv_into a BufferedProtocol's buffer), write (send at once, queue
 * the rest in a C buffer), flow control and the close state machine. The
 * Go poller drives it: the transport's _read_ready/_write_ready are
 * goloop Handles registered on its fd. The Python subclass
 * (goloop._transport.SocketTransport) adds the cold parts: construction,
 * repr, extra info, error reporting, connection_lost.
 *
 * It is a heap subclass of asyncio.Transport (isinstance holds); its state
 * lives after the base layout, at stream_offset. The I/O state machine
 * itself (owned fd, write buffer, flow-control thresholds, close and EOF
 * sequencing) is plain C in transports/stream_io.h; this file is its
 * Python face: it does what that state machine decides. */
#include "goloop.h"
#include "../transports/stream_io.h"
#include <sys/socket.h>
#include <sys/uio.h>
#include <errno.h>
#include <string.h>

/* Every method that acts is refused in a child forked after the Go
 * runtime started: the socket and the poller registrations are the
 * parent's (the getters stay harmless reads of C memory). */
#define CHECK_FORK() do { if (goloop_check_fork() < 0) return NULL; } while (0)

typedef struct {
    PyObject *loop;          /* goloop Loop (a LoopCore) */
    PyObject *sock;          /* socket.socket; NULL once connection lost */
    PyObject *protocol;
    PyObject *read_handle;   /* Handle(self._read_ready) */
    PyObject *empty_waiter;  /* loop.sendfile: future done when drained */
    PyObject *write_handle;  /* Handle(self._write_ready) */
    PyObject *context;       /* 3.15: the context every callback runs in; else NULL */
    sio_stream io;           /* fd, write buffer, flow control, close state */
    Py_ssize_t last_read;    /* size of the previous read (goloop_recv_bytes) */
    int fd_number;           /* the fd's number, kept for repr and the loop's table */
    char paused;             /* reading paused by pause_reading() */
    char buffered;           /* protocol is a BufferedProtocol */
    char reading;            /* reader registered in the poller */
    char writing;            /* writer registered in the poller */
} StreamData;

static Py_ssize_t stream_offset;
#define SD(o) ((StreamData *)((char *)(o) + stream_offset))

/* interned method names */
static PyObject *str_data_received, *str_get_buffer, *str_buffer_updated;

static PyObject *
call_method0(PyObject *o, const char *name)
{
    return PyObject_CallMethod(o, name, NULL);
}

/* The fd for a system call: ours while the socket object still holds
 * it; -1 (EBADF, a fatal error as asyncio's sock.send() gets) once the
 * user closed or detached it behind the transport's back. */
static int
io_fd(StreamData *s)
{
    if (s->io.fd >= 0 && s->sock != NULL && goloop_sock_fd(s->sock) != s->io.fd)
        sio_disown_fd(&s->io);
    return s->io.fd;
}

/* ---- poller registration -------------------------------------------- */

static int
watch(PyObject *self, int write)
{
    StreamData *s = SD(self);
    if (write ? s->writing : s->reading)
        return 0;
    PyObject *h = write ? s->write_handle : s->read_handle;
    if (h == NULL || s->loop == NULL)
        return 0;  /* released: connection_lost already ran */
    if (((GoloopCore *)s->loop)->engine == 0) {
        /* asyncio's loop._add_writer/_add_reader check this too: data
         * must not sit in a buffer nothing will ever flush. */
        PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
        return -1;
    }
    if (goloop_check_fork() < 0)
        return -1;
    PyObject *prev = goloop_watch((GoloopCore *)s->loop, io_fd(s), write, h);
    if (prev == NULL)
        return -1;
    if (prev != Py_None && prev != h)
        goloop_handle_cancel(prev);  /* replaced, as add_reader would */
    Py_DECREF(prev);
    if (write)
        s->writing = 1;
    else
        s->reading = 1;
    return 0;
}

static void
unwatch(PyObject *self, int write)
{
    StreamData *s = SD(self);
    if (!(write ? s->writing : s->reading))
        return;
    if (write)
        s->writing = 0;
    else
        s->reading = 0;
    PyObject *h = write ? s->write_handle : s->read_handle;
    if (s->loop == NULL || h == NULL || s->fd_number < 0 ||
        ((GoloopCore *)s->loop)->engine == 0 || goloop_forked)
        return;  /* closed loop, or a forked child: no Go call there */
    /* The number we registered, and only our own registration: another
     * socket's on that number, if it was reused, stays. */
    PyObject *prev = goloop_unwatch((GoloopCore *)s->loop, s->fd_number, write,
                                    (GoloopHandle *)h);
    if (prev == NULL)
        PyErr_Clear();
    else
        Py_DECREF(prev);
}

/* ---- errors and closing ------------------------------------------------ */

static int is_fatal_exit(void);
static int finish_report(PyObject *self, PyObject *r);

/* self._fatal_error(exc, message): reports (Python) then force-closes.
 * -1 when that raised SystemExit or KeyboardInterrupt (left set, to
 * propagate as asyncio's does); any other failure is unraisable. */
static int
fatal_error(PyObject *self, const char *message)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL && tb != NULL)
        PyException_SetTraceback(value, tb);
    PyObject *r = PyObject_CallMethod(self, "_fatal_error", "Os", value ? value : Py_None, message);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return finish_report(self, r);
}

static int
is_fatal_exit(void)
{
    return PyErr_ExceptionMatches(PyExc_SystemExit) ||
           PyErr_ExceptionMatches(PyExc_KeyboardInterrupt);
}

/* The end of an error report's call r: 0, or -1 with SystemExit or
 * KeyboardInterrupt left set; anything else it raised is unraisable. */
static int
finish_report(PyObject *self, PyObject *r)
{
    if (r != NULL) {
        Py_DECREF(r);
        return 0;
    }
    if (is_fatal_exit())
        return -1;
    PyErr_WriteUnraisable(self);
    return 0;
}

/* loop.call_soon(self._call_connection_lost, exc[, context=...]) */
static int
schedule_connection_lost(PyObject *self, PyObject *exc)
{
    PyObject *meth = PyObject_GetAttrString(self, "_call_connection_lost");
    if (meth == NULL)
        return -1;
    PyObject *r;
    if (SD(self)->context == NULL) {
        r = PyObject_CallMethod(SD(self)->loop, "call_soon", "OO", meth, exc);
    } else {
        PyObject *call_soon = PyObject_GetAttrString(SD(self)->loop, "call_soon");
        PyObject *kw = call_soon ? Py_BuildValue("{sO}", "context", SD(self)->context) : NULL;
        PyObject *a = kw ? PyTuple_Pack(2, meth, exc) : NULL;
        r = a ? PyObject_Call(call_soon, a, kw) : NULL;
        Py_XDECREF(a);
        Py_XDECREF(kw);
        Py_XDECREF(call_soon);
    }
    Py_DECREF(meth);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static int
force_close(PyObject *self, PyObject *exc)
{
    int flags = sio_force_close(&SD(self)->io);
    if (flags == 0)
        return 0;
    if (flags & SIO_FC_DROP_WRITER)
        unwatch(self, 1);
    if (flags & SIO_FC_DROP_READER)
        unwatch(self, 0);
    return schedule_connection_lost(self, exc);
}

/* ---- flow control ------------------------------------------------------ */

static int
protocol_error(PyObject *self, const char *message)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *r = PyObject_CallMethod(self, "_protocol_error", "sO", message, value ? value : Py_None);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return finish_report(self, r);
}

static int
maybe_pause_protocol(PyObject *self)
{
    StreamData *s = SD(self);
    if (!sio_should_pause(&s->io))
        return 0;
    PyObject *r = call_method0(s->protocol, "pause_writing");
    if (r == NULL) {
        if (is_fatal_exit())
            return -1;
        return protocol_error(self, "protocol.pause_writing() failed");
    }
    Py_DECREF(r);
    return 0;
}

static int
maybe_resume_protocol(PyObject *self)
{
    StreamData *s = SD(self);
    if (!sio_should_resume(&s->io))
        return 0;
    PyObject *r = call_method0(s->protocol, "resume_writing");
    if (r == NULL) {
        if (is_fatal_exit())
            return -1;
        return protocol_error(self, "protocol.resume_writing() failed");
    }
    Py_DECREF(r);
    return 0;
}

/* ---- writing (the buffer itself is transports/stream_io.h) ------------ */

/* Checks write()'s argument and state like asyncio. 1: go on, 0: return
 * None silently, -1: exception set. */
static int
write_precheck(PyObject *self, PyObject *data, Py_buffer *view)
{
    StreamData *s = SD(self);
    if (!PyBytes_Check(data) && !PyByteArray_Check(data) && !PyMemoryView_Check(data)) {
        PyErr_Format(PyExc_TypeError,
#if PY_VERSION_HEX >= 0x030E0000 /* asyncio's wording from 3.14 */
                     "data argument must be a bytes, bytearray, or memoryview object, "
                     "not '%.100s'",
#else
                     "data argument must be a bytes-like object, not '%.100s'",
#endif
                     Py_TYPE(data)->tp_name);
        return -1;
    }
    if (s->io.eof) {
        PyErr_SetString(PyExc_RuntimeError, "Cannot call write() after write_eof()");
        return -1;
    }
    if (s->empty_waiter != NULL && s->empty_waiter != Py_None) {
        PyErr_SetString(PyExc_RuntimeError, "unable to write; sendfile is in progress");
        return -1;
    }
    if (PyBytes_CheckExact(data)) {
        /* The common case, without the buffer protocol's bookkeeping:
         * view->obj stays NULL, so PyBuffer_Release() is a no-op. */
        view->obj = NULL;
        view->buf = PyBytes_AS_STRING(data);
        view->len = PyBytes_GET_SIZE(data);
    } else if (PyObject_GetBuffer(data, view, PyBUF_SIMPLE) < 0) {
        /* e.g. a non-contiguous memoryview: asyncio's send() fails on it,
         * which is a fatal write error, not an exception from write(). */
        if (!PyErr_ExceptionMatches(PyExc_BufferError))
            return -1;
        return fatal_error(self, "Fatal write error on socket transport");
    }
    if (view->len == 0) {
        PyBuffer_Release(view);
        return 0;
    }
    if (s->io.conn_lost) {
        PyBuffer_Release(view);
        if (s->io.conn_lost >= SIO_CONN_LOST_LOG_THRESHOLD) {
            PyObject *r = call_method0(self, "_log_write_after_close");
            if (r == NULL)
                return -1;
            Py_DECREF(r);
        }
        s->io.conn_lost++;
        return 0;
    }
    return 1;
}

static PyObject *
stream_write(PyObject *self, PyObject *data)
{
    CHECK_FORK();
    StreamData *s = SD(self);
    Py_buffer view;
    int go = write_precheck(self, data, &view);
    if (go <= 0)
        return go < 0 ? NULL : (Py_INCREF(Py_None), Py_None);
    if (sio_pending(&s->io) == 0)
        (void)io_fd(s);  /* it sends at once: is the fd still ours? */
    int r = sio_write(&s->io, view.buf, view.len);
    PyBuffer_Release(&view);
    if (r < 0) {
        if (r == SIO_ERR_NOMEM)
            return PyErr_NoMemory();
        PyErr_SetFromErrno(PyExc_OSError);
        if (fatal_error(self, "Fatal write error on socket transport") < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    if (r == SIO_START_WRITER && watch(self, 1) < 0) {
        sio_discard(&s->io);  /* as if never buffered: nothing was before */
        return NULL;
    }
    if (maybe_pause_protocol(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Any bytes-like item, as asyncio's (3.12+: memoryview(item); before:
 * b"".join(items)); the TypeError worded as that version words it. */
static int
writelines_item(PyObject *item, Py_ssize_t i, Py_buffer *view)
{
    if (PyObject_GetBuffer(item, view, PyBUF_SIMPLE) == 0)
        return 0;
    if (!PyErr_ExceptionMatches(PyExc_TypeError))
        return -1;
    PyErr_Clear();
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_Format(PyExc_TypeError, "memoryview: a bytes-like object is required, not '%.200s'",
                 Py_TYPE(item)->tp_name);
#else
    PyErr_Format(PyExc_TypeError, "sequence item %zd: expected a bytes-like object, %.80s found",
                 i, Py_TYPE(item)->tp_name);
#endif
    return -1;
}

/* All or nothing, as asyncio's: every item is checked (a generator runs
 * to its end) before anything is buffered, so a refused item leaves the
 * transport as it was. The state checks come where that version of
 * asyncio makes them: 3.12+ before looking at the items (its own
 * writelines), older ones after (b"".join, then write()). The chunks are
 * appended together so they go out in one send when possible. */
static PyObject *
stream_writelines(PyObject *self, PyObject *seq)
{
    CHECK_FORK();
    StreamData *s = SD(self);
#if PY_VERSION_HEX >= 0x030C0000
    if (s->io.eof) {
        PyErr_SetString(PyExc_RuntimeError, "Cannot call writelines() after write_eof()");
        return NULL;
    }
    if (s->empty_waiter != NULL && s->empty_waiter != Py_None) {
        PyErr_SetString(PyExc_RuntimeError, "unable to writelines; sendfile is in progress");
        return NULL;
    }
    int any = PyObject_IsTrue(seq);  /* `if not list_of_data: return` */
    if (any <= 0)
        return any < 0 ? NULL : Py_NewRef(Py_None);
#endif
#if PY_VERSION_HEX >= 0x030E0000
    if (s->io.conn_lost) {  /* 3.14 counts the lost write before looking at the items */
        if (s->io.conn_lost >= SIO_CONN_LOST_LOG_THRESHOLD) {
            PyObject *r = call_method0(self, "_log_write_after_close");
            if (r == NULL)
                return NULL;
            Py_DECREF(r);
        }
        s->io.conn_lost++;
        Py_RETURN_NONE;
    }
#endif
    PyObject *items = PySequence_List(seq);
    if (items == NULL) {
#if PY_VERSION_HEX < 0x030C0000
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_TypeError, "can only join an iterable");
        }
#endif
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(items), total = 0;
    Py_buffer *views = PyMem_Calloc(n ? n : 1, sizeof(Py_buffer));
    if (views == NULL) {
        Py_DECREF(items);
        return PyErr_NoMemory();
    }
    Py_ssize_t got = 0;
    PyObject *result = NULL;
    for (; got < n; got++) {
        PyObject *item = PyList_GET_ITEM(items, got);
#if PY_VERSION_HEX >= 0x030E0000
        /* gh-155888 (3.14): an empty (falsy) item is skipped, whatever it is */
        int t = PyObject_IsTrue(item);
        if (t < 0)
            goto done;
        if (t == 0)
            continue;
#endif
        if (writelines_item(item, got, &views[got]) < 0)
            goto done;
        total += views[got].len;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (s->io.eof) {
        PyErr_SetString(PyExc_RuntimeError, "Cannot call write() after write_eof()");
        goto done;
    }
    if (s->empty_waiter != NULL && s->empty_waiter != Py_None) {
        PyErr_SetString(PyExc_RuntimeError, "unable to write; sendfile is in progress");
        goto done;
    }
    if (total > 0 && s->io.conn_lost) {  /* write() of the joined bytes */
        if (s->io.conn_lost >= SIO_CONN_LOST_LOG_THRESHOLD) {
            PyObject *r = call_method0(self, "_log_write_after_close");
            if (r == NULL)
                goto done;
            Py_DECREF(r);
        }
        s->io.conn_lost++;
    }
#endif
    if (total == 0 || s->io.conn_lost) {
        /* Nothing to send, or nowhere to send it: the connection is
         * gone (asyncio 3.12+ would still buffer it, and register a
         * writer on the fd number it no longer owns). */
        result = Py_NewRef(Py_None);
        goto done;
    }
    Py_ssize_t before = s->io.len;
    int direct = s->io.len == 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (views[i].len && sio_append(&s->io, views[i].buf, views[i].len) < 0) {
            s->io.len = before;
            PyErr_NoMemory();
            goto done;
        }
    }
    if (direct) {
        (void)io_fd(s);
        if (sio_flush(&s->io) < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            sio_discard(&s->io);
            PyErr_SetFromErrno(PyExc_OSError);
            if (fatal_error(self, "Fatal write error on socket transport") < 0)
                goto done;
            result = Py_NewRef(Py_None);
            goto done;
        }
        if (sio_pending(&s->io) > 0 && watch(self, 1) < 0)
            goto done;
    }
    if (maybe_pause_protocol(self) < 0)
        goto done;
    result = Py_NewRef(Py_None);
done:
    for (Py_ssize_t i = 0; i < got && i < n; i++)
        PyBuffer_Release(&views[i]);
    PyMem_Free(views);
    Py_DECREF(items);
    return result;
}

static int
shutdown_write(PyObject *self)
{
    PyObject *r = PyObject_CallMethod(SD(self)->sock, "shutdown", "i", SHUT_WR);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static PyObject *
stream_write_ready(PyObject *self, PyObject *unused)
{
    CHECK_FORK();
    StreamData *s = SD(self);
    if (s->io.conn_lost || s->sock == NULL)
        Py_RETURN_NONE;
    if (sio_pending(&s->io) > 0) {
        (void)io_fd(s);
        if (sio_flush(&s->io) < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                Py_RETURN_NONE;
            int err = errno;
            unwatch(self, 1);
            sio_discard(&s->io);
            errno = err;
            PyErr_SetFromErrno(PyExc_OSError);
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyErr_NormalizeException(&type, &value, &tb);
            PyObject *r = PyObject_CallMethod(self, "_write_failed", "O", value);
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(tb);
            if (r == NULL)
                return NULL;
            Py_DECREF(r);
            Py_RETURN_NONE;
        }
    }
    if (maybe_resume_protocol(self) < 0)
        return NULL;
    if (sio_pending(&s->io) == 0) {
        unwatch(self, 1);
        PyObject *r;
        if (s->empty_waiter != NULL && s->empty_waiter != Py_None) {
            r = call_method0(self, "_write_drained");
            if (r == NULL)
                return NULL;
            Py_DECREF(r);
        }
        switch (sio_drained(&s->io)) {
        case SIO_LOSE_NOW:
            r = PyObject_CallMethod(self, "_call_connection_lost", "O", Py_None);
            if (r == NULL)
                return NULL;
            Py_DECREF(r);
            break;
        case SIO_SHUTDOWN_NOW:
            if (shutdown_write(self) < 0)
                return NULL;
            break;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *
stream_write_eof(PyObject *self, PyObject *unused)
{
    CHECK_FORK();
    if (sio_write_eof(&SD(self)->io) == SIO_SHUTDOWN_NOW && shutdown_write(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* ---- reading ------------------------------------------------------------- */

static void
on_eof(PyObject *self)
{
    StreamData *s = SD(self);
    PyObject *keep = call_method0(s->protocol, "eof_received");
    if (keep == NULL) {
        if (!is_fatal_exit())
            (void)fatal_error(self, "Fatal error: protocol.eof_received() call failed.");
        return;
    }
    int k = PyObject_IsTrue(keep);
    Py_DECREF(keep);
    if (k < 0) {
        (void)fatal_error(self, "Fatal error: protocol.eof_received() call failed.");
        return;
    }
    if (k) {
        unwatch(self, 0);
        return;
    }
    PyObject *r = call_method0(self, "close");
    if (r == NULL)
        PyErr_WriteUnraisable(self);
    Py_XDECREF(r);
}

/* A read for asyncio's StreamReaderProtocol: straight into the reader's
 * buffer (streamreader.c), no bytes object, no Python frame. */
static PyObject *
read_ready_reader(PyObject *self, PyObject *reader)
{
    StreamData *s = SD(self);
    const char *data;
    ssize_t n = goloop_recv_shared(io_fd(s), &data);
    if (n <= 0) {
        int e = errno;
        Py_DECREF(reader);
        if (n == 0) {
            on_eof(self);
            if (PyErr_Occurred())
                return NULL;
            Py_RETURN_NONE;
        }
        if (e == EAGAIN || e == EWOULDBLOCK)
            Py_RETURN_NONE;
        errno = e;
        PyErr_SetFromErrno(PyExc_OSError);
        if (fatal_error(self, "Fatal read error on socket transport") < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    int r = goloop_stream_feed(reader, data, (Py_ssize_t)n);
    Py_DECREF(reader);
    if (r < 0) {
        if (is_fatal_exit() || fatal_error(self, "Fatal error: protocol.data_received() call failed.") < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
read_ready_data(PyObject *self)
{
    StreamData *s = SD(self);
    PyObject *reader = goloop_stream_reader_of(s->protocol);
    if (reader != NULL)
        return read_ready_reader(self, reader);
    PyObject *data = goloop_recv_bytes(io_fd(s), GOLOOP_READ_BUF, &s->last_read, 0);
    if (data == NULL) {
        if (PyErr_Occurred())
            return NULL;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            Py_RETURN_NONE;
        PyErr_SetFromErrno(PyExc_OSError);
        if (fatal_error(self, "Fatal read error on socket transport") < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    if (PyBytes_GET_SIZE(data) == 0) {
        Py_DECREF(data);
        on_eof(self);
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    PyObject *protocol = s->protocol;
    Py_INCREF(protocol);  /* data_received may replace it and drop the last reference */
    PyObject *r = PyObject_CallMethodOneArg(protocol, str_data_received, data);
    Py_DECREF(protocol);
    Py_DECREF(data);
    if (r == NULL) {
        if (is_fatal_exit() || fatal_error(self, "Fatal error: protocol.data_received() call failed.") < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    Py_DECREF(r);
    Py_RETURN_NONE;
}

static PyObject *
read_ready_buffered(PyObject *self)
{
    StreamData *s = SD(self);
    /* get_buffer() is Python code: it may replace the protocol (dropping
     * the last reference to this one) or close the transport. */
    PyObject *protocol = s->protocol;
    Py_INCREF(protocol);
    PyObject *args[2] = {protocol, NULL};
    args[1] = PyLong_FromLong(-1);  /* a cached small int: cannot fail */
    PyObject *buf = PyObject_VectorcallMethod(str_get_buffer, args, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(args[1]);
    Py_buffer view;
    if (buf == NULL)
        goto get_buffer_failed;
    if (s->sock == NULL) {  /* released meanwhile: the fd is not ours */
        Py_DECREF(buf);
        Py_DECREF(protocol);
        Py_RETURN_NONE;
    }
    if (PyObject_GetBuffer(buf, &view, PyBUF_WRITABLE) < 0) {
        Py_DECREF(buf);
        goto get_buffer_failed;
    }
    if (view.len == 0) {
        PyBuffer_Release(&view);
        Py_DECREF(buf);
        PyErr_SetString(PyExc_RuntimeError, "get_buffer() returned an empty buffer");
        goto get_buffer_failed;
    }
    ssize_t n = goloop_recv(io_fd(s), view.buf, (size_t)view.len);
    int e = errno;
    PyBuffer_Release(&view);
    Py_DECREF(buf);
    Py_DECREF(protocol);
    if (n < 0) {
        if (e == EAGAIN || e == EWOULDBLOCK)
            Py_RETURN_NONE;
        errno = e;
        PyErr_SetFromErrno(PyExc_OSError);
        if (fatal_error(self, "Fatal read error on socket transport") < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    if (n == 0) {
        on_eof(self);
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    if (s->protocol == NULL)
        Py_RETURN_NONE;
    protocol = args[0] = s->protocol;  /* the protocol now, as asyncio */
    Py_INCREF(protocol);
    args[1] = PyLong_FromSsize_t((Py_ssize_t)n);
    if (args[1] == NULL) {
        Py_DECREF(protocol);
        return NULL;
    }
    PyObject *r = PyObject_VectorcallMethod(str_buffer_updated, args, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(args[1]);
    Py_DECREF(protocol);
    if (r == NULL) {
        if (is_fatal_exit() || fatal_error(self, "Fatal error: protocol.buffer_updated() call failed.") < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    Py_DECREF(r);
    Py_RETURN_NONE;

get_buffer_failed:
    Py_DECREF(protocol);
    if (is_fatal_exit() || fatal_error(self, "Fatal error: protocol.get_buffer() call failed.") < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
stream_read_ready(PyObject *self, PyObject *unused)
{
    CHECK_FORK();
    StreamData *s = SD(self);
    if (s->io.conn_lost || s->protocol == NULL)
        Py_RETURN_NONE;
    return s->buffered ? read_ready_buffered(self) : read_ready_data(self);
}

/* ---- state methods ------------------------------------------------------ */

static PyObject *
stream_is_closing(PyObject *self, PyObject *unused)
{
    return PyBool_FromLong(SD(self)->io.closing);
}

static PyObject *
stream_is_reading(PyObject *self, PyObject *unused)
{
    StreamData *s = SD(self);
    return PyBool_FromLong(!s->io.closing && !s->paused);
}

static PyObject *
stream_pause_reading(PyObject *self, PyObject *unused)
{
    CHECK_FORK();
    StreamData *s = SD(self);
    if (s->io.closing || s->paused)
        Py_RETURN_NONE;
    s->paused = 1;
    unwatch(self, 0);
    Py_RETURN_NONE;
}

static PyObject *
stream_resume_reading(PyObject *self, PyObject *unused)
{
    CHECK_FORK();
    StreamData *s = SD(self);
    if (s->io.closing || !s->paused)
        Py_RETURN_NONE;
    s->paused = 0;
    if (watch(self, 0) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* Called (via call_soon) after connection_made: start reading. */
static PyObject *
stream_start_reading(PyObject *self, PyObject *unused)
{
    CHECK_FORK();
    StreamData *s = SD(self);
    if (s->io.closing || s->paused || s->io.conn_lost)
        Py_RETURN_NONE;
    if (watch(self, 0) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
stream_close(PyObject *self, PyObject *unused)
{
    CHECK_FORK();
    int next = sio_close(&SD(self)->io);
    if (next == SIO_NOTHING)
        Py_RETURN_NONE;
    unwatch(self, 0);
    if (next == SIO_LOSE_NOW) {
        unwatch(self, 1);
        if (schedule_connection_lost(self, Py_None) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
stream_force_close(PyObject *self, PyObject *exc)
{
    CHECK_FORK();
    if (force_close(self, exc) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
stream_abort(PyObject *self, PyObject *unused)
{
    return stream_force_close(self, Py_None);
}

static PyObject *
stream_get_write_buffer_size(PyObject *self, PyObject *unused)
{
    return PyLong_FromSsize_t(SD(self)->io.len);
}

static PyObject *
stream_get_write_buffer_limits(PyObject *self, PyObject *unused)
{
    StreamData *s = SD(self);
    return Py_BuildValue("(nn)", s->io.low, s->io.high);
}

/* _set_limits(high, low): already validated by Python. */
static PyObject *
stream_set_limits(PyObject *self, PyObject *args)
{
    CHECK_FORK();
    StreamData *s = SD(self);
    if (!PyArg_ParseTuple(args, "nn", &s->io.high, &s->io.low))
        return NULL;
    if (maybe_pause_protocol(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
stream_get_protocol(PyObject *self, PyObject *unused)
{
    PyObject *p = SD(self)->protocol ? SD(self)->protocol : Py_None;
    Py_INCREF(p);
    return p;
}

/* _set_protocol_core(protocol, buffered) */
static PyObject *
stream_set_protocol_core(PyObject *self, PyObject *args)
{
    CHECK_FORK();
    PyObject *protocol;
    int buffered;
    if (!PyArg_ParseTuple(args, "Op", &protocol, &buffered))
        return NULL;
    StreamData *s = SD(self);
    Py_INCREF(protocol);
    Py_XSETREF(s->protocol, protocol);
    s->buffered = (char)buffered;
    Py_RETURN_NONE;
}

/* _init_core(loop, sock, fd, protocol, buffered, context=None): handles
 * bound to our _read_ready/_write_ready are made here; they form a cycle
 * with self that _release_core() (after connection_lost) breaks. A
 * context (3.15's per-connection one) is where reads, writes and
 * connection_lost run; without one the handles copy the current one. */
static PyObject *
stream_init_core(PyObject *self, PyObject *args)
{
    CHECK_FORK();
    PyObject *loop, *sock, *protocol;
    int fd, buffered;
    PyObject *context = Py_None;
    if (!PyArg_ParseTuple(args, "OOiOp|O", &loop, &sock, &fd, &protocol, &buffered,
                          &context))
        return NULL;
    if (context != Py_None && !PyContext_CheckExact(context)) {
        PyErr_SetString(PyExc_TypeError, "a contextvars.Context was expected");
        return NULL;
    }
    if (!PyObject_TypeCheck(loop, &GoloopCore_Type)) {
        PyErr_SetString(PyExc_TypeError, "a goloop loop is required");
        return NULL;
    }
    StreamData *s = SD(self);
    PyObject *rm = PyObject_GetAttrString(self, "_read_ready");
    PyObject *wm = rm ? PyObject_GetAttrString(self, "_write_ready") : NULL;
    PyObject *rh = wm ? (PyObject *)goloop_handle_new(GoloopHandle_Type, rm, NULL, loop, context) : NULL;
    PyObject *wh = rh ? (PyObject *)goloop_handle_new(GoloopHandle_Type, wm, NULL, loop, context) : NULL;
    Py_XDECREF(rm);
    Py_XDECREF(wm);
    if (wh == NULL) {
        Py_XDECREF(rh);
        return NULL;
    }
    Py_INCREF(loop);
    Py_XSETREF(s->loop, loop);
    Py_INCREF(sock);
    Py_XSETREF(s->sock, sock);
    Py_INCREF(protocol);
    Py_XSETREF(s->protocol, protocol);
    Py_XSETREF(s->context, context == Py_None ? NULL : Py_NewRef(context));
    Py_XSETREF(s->read_handle, rh);
    Py_XSETREF(s->write_handle, wh);
    sio_init(&s->io, fd);
    s->fd_number = fd;
    s->buffered = (char)buffered;
    Py_RETURN_NONE;
}

/* Drops the poller registrations and the references that keep the
 * transport alive; returns the socket (to close) or None. */
static PyObject *
stream_release_core(PyObject *self, PyObject *unused)
{
    StreamData *s = SD(self);
    unwatch(self, 0);
    unwatch(self, 1);
    /* From here on the fd number may belong to another socket: every
     * path that sends or receives checks conn_lost (or closing) first,
     * and the fd itself is -1 (EBADF), the buffer freed. */
    sio_release(&s->io);
    PyObject *sock = s->sock ? s->sock : Py_None;
    if (s->sock == NULL)
        Py_INCREF(sock);
    s->sock = NULL;
    Py_CLEAR(s->protocol);
    Py_CLEAR(s->read_handle);
    Py_CLEAR(s->write_handle);
    Py_CLEAR(s->loop);
    return sock;
}

static PyObject *
get_sock(PyObject *self, void *c)
{
    PyObject *o = SD(self)->sock ? SD(self)->sock : Py_None;
    Py_INCREF(o);
    return o;
}

static PyObject *
get_loop(PyObject *self, void *c)
{
    PyObject *o = SD(self)->loop ? SD(self)->loop : Py_None;
    Py_INCREF(o);
    return o;
}

static PyObject *
get_flag(PyObject *self, void *c)
{
    StreamData *s = SD(self);
    intptr_t which = (intptr_t)c;
    long v = which == 0 ? s->io.closing : which == 1 ? s->io.eof :
             which == 2 ? s->io.conn_lost : which == 3 ? s->io.protocol_paused :
             which == 4 ? s->paused : which == 5 ? s->fd_number : s->buffered;
    return PyLong_FromLong(v);
}

static PyObject *
get_protocol_attr(PyObject *self, void *c)
{
    return stream_get_protocol(self, NULL);
}

static PyObject *
get_empty_waiter(PyObject *self, void *c)
{
    PyObject *o = SD(self)->empty_waiter ? SD(self)->empty_waiter : Py_None;
    Py_INCREF(o);
    return o;
}

static int
set_empty_waiter(PyObject *self, PyObject *v, void *c)
{
    if (v == Py_None)
        v = NULL;
    Py_XINCREF(v);
    Py_XSETREF(SD(self)->empty_waiter, v);
    return 0;
}

static PyGetSetDef stream_getset[] = {
    {"_empty_waiter", get_empty_waiter, set_empty_waiter, NULL, NULL},
    {"_sock", get_sock, NULL, NULL, NULL},
    {"_loop", get_loop, NULL, NULL, NULL},
    {"_protocol", get_protocol_attr, NULL, NULL, NULL},
    {"_closing", get_flag, NULL, NULL, (void *)0},
    {"_eof", get_flag, NULL, NULL, (void *)1},
    {"_conn_lost", get_flag, NULL, NULL, (void *)2},
    {"_protocol_paused", get_flag, NULL, NULL, (void *)3},
    {"_paused", get_flag, NULL, NULL, (void *)4},
    {"_sock_fd", get_flag, NULL, NULL, (void *)5},
    {NULL}
};

static PyMethodDef stream_methods[] = {
    {"write", (PyCFunction)stream_write, METH_O, "Write bytes: sent at once when possible, else queued."},
    {"writelines", (PyCFunction)stream_writelines, METH_O, "Write a sequence of bytes-like objects."},
    {"write_eof", (PyCFunction)stream_write_eof, METH_NOARGS, "Shut the write side once the buffer is flushed."},
    {"is_closing", (PyCFunction)stream_is_closing, METH_NOARGS, NULL},
    {"is_reading", (PyCFunction)stream_is_reading, METH_NOARGS, NULL},
    {"pause_reading", (PyCFunction)stream_pause_reading, METH_NOARGS, NULL},
    {"resume_reading", (PyCFunction)stream_resume_reading, METH_NOARGS, NULL},
    {"close", (PyCFunction)stream_close, METH_NOARGS, "Close after the buffered data is sent."},
    {"abort", (PyCFunction)stream_abort, METH_NOARGS, "Close at once, dropping buffered data."},
    {"get_write_buffer_size", (PyCFunction)stream_get_write_buffer_size, METH_NOARGS, NULL},
    {"get_write_buffer_limits", (PyCFunction)stream_get_write_buffer_limits, METH_NOARGS, NULL},
    {"get_protocol", (PyCFunction)stream_get_protocol, METH_NOARGS, NULL},
    {"_set_limits", (PyCFunction)stream_set_limits, METH_VARARGS, NULL},
    {"_set_protocol_core", (PyCFunction)stream_set_protocol_core, METH_VARARGS, NULL},
    {"_read_ready", (PyCFunction)stream_read_ready, METH_NOARGS, NULL},
    {"_write_ready", (PyCFunction)stream_write_ready, METH_NOARGS, NULL},
    {"_start_reading", (PyCFunction)stream_start_reading, METH_NOARGS, NULL},
    {"_force_close", (PyCFunction)stream_force_close, METH_O, NULL},
    {"_init_core", (PyCFunction)stream_init_core, METH_VARARGS, NULL},
    {"_release_core", (PyCFunction)stream_release_core, METH_NOARGS, NULL},
    {NULL}
};

static int
stream_traverse(PyObject *self, visitproc visit, void *arg)
{
    StreamData *s = SD(self);
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(s->loop);
    Py_VISIT(s->sock);
    Py_VISIT(s->protocol);
    Py_VISIT(s->read_handle);
    Py_VISIT(s->write_handle);
    Py_VISIT(s->empty_waiter);
    Py_VISIT(s->context);
    /* Python subclasses: the base (asyncio.Transport) has no dict/slots
     * that hold references besides _extra, which is never set. */
    return 0;
}

static int
stream_clear(PyObject *self)
{
    StreamData *s = SD(self);
    Py_CLEAR(s->loop);
    Py_CLEAR(s->sock);
    Py_CLEAR(s->protocol);
    Py_CLEAR(s->read_handle);
    Py_CLEAR(s->write_handle);
    Py_CLEAR(s->empty_waiter);
    Py_CLEAR(s->context);
    return 0;
}

static void
stream_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    stream_clear(self);
    sio_free_buffer(&SD(self)->io);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static newfunc base_new;

/* No fd is ours until _init_core: a zeroed 0 would be stdin. */
static PyObject *
stream_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    /* object.__new__ refuses arguments once tp_new is overridden: the
     * Python subclass's __init__ takes them. */
    PyObject *self = base_new(type, goloop_empty_tuple, NULL);
    if (self != NULL) {
        sio_init(&SD(self)->io, -1);
        SD(self)->fd_number = -1;
    }
    return self;
}

static int
stream_init(PyObject *self, PyObject *a, PyObject *kw)
{
    return 0;  /* the Python subclass's __init__ does the work */
}

static PyType_Slot stream_slots[] = {
    {Py_tp_dealloc, stream_dealloc},
    {Py_tp_traverse, stream_traverse},
    {Py_tp_clear, stream_clear},
    {Py_tp_methods, stream_methods},
    {Py_tp_getset, stream_getset},
    {Py_tp_init, stream_init},
    {Py_tp_new, stream_new},
    {Py_tp_doc, "C core of goloop's socket stream transport."},
    {0, NULL},
};

int
goloop_stream_type_init(PyObject *module)
{
    if (str_data_received == NULL &&
        ((str_data_received = PyUnicode_InternFromString("data_received")) == NULL ||
         (str_get_buffer = PyUnicode_InternFromString("get_buffer")) == NULL ||
         (str_buffer_updated = PyUnicode_InternFromString("buffer_updated")) == NULL))
        return -1;
    PyObject *transports = PyImport_ImportModule("asyncio.transports");
    if (transports == NULL)
        return -1;
    PyObject *base = PyObject_GetAttrString(transports, "Transport");
    Py_DECREF(transports);
    if (base == NULL)
        return -1;
    stream_offset = (((PyTypeObject *)base)->tp_basicsize + 7) & ~(Py_ssize_t)7;
    base_new = ((PyTypeObject *)base)->tp_new;
    PyType_Spec spec = {
        .name = "goloop._goloop.StreamCore",
        .basicsize = (int)(stream_offset + sizeof(StreamData)),
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
        .slots = stream_slots,
    };
    PyObject *type = PyType_FromSpecWithBases(&spec, base);
    Py_DECREF(base);
    if (type == NULL)
        return -1;
    if (PyModule_AddObject(module, "StreamCore", type) < 0) {
        Py_DECREF(type);
        return -1;
    }
    return 0;
}
