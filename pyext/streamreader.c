/* Feeding asyncio's own StreamReader from the stream transport's read
 * path. asyncio.open_connection/start_server put a StreamReaderProtocol on
 * the transport; each read then costs three Python frames (data_received,
 * feed_data, _wakeup_waiter) and a bytes object that is copied into the
 * reader's buffer and dropped. When the protocol and the reader are
 * exactly asyncio's classes (a subclass may override any of it), goloop
 * does what those three methods do, in the same order, on the same
 * attributes: the data goes from the receive buffer straight onto the
 * reader's bytearray, the waiter is woken, reading is paused past twice
 * the limit. Anything unusual (a reader at EOF, a buffer that is not a
 * plain bytearray, a missing attribute) takes asyncio's own path.
 * Loop thread, GIL held. */
#include "goloop.h"

static PyTypeObject *protocol_type;   /* asyncio.streams.StreamReaderProtocol */
static PyTypeObject *reader_type;     /* asyncio.streams.StreamReader */
static PyObject *str_reader_wr, *str_eof, *str_buffer, *str_waiter, *str_transport,
                *str_paused, *str_limit, *str_cancelled, *str_set_result,
                *str_pause_reading;

int
goloop_streamreader_init(void)
{
    PyObject *streams = PyImport_ImportModule("asyncio.streams");
    if (streams == NULL)
        return -1;
    protocol_type = (PyTypeObject *)PyObject_GetAttrString(streams, "StreamReaderProtocol");
    reader_type = (PyTypeObject *)PyObject_GetAttrString(streams, "StreamReader");
    Py_DECREF(streams);
    if (protocol_type == NULL || reader_type == NULL)
        return -1;
    if ((str_reader_wr = PyUnicode_InternFromString("_stream_reader_wr")) == NULL ||
        (str_eof = PyUnicode_InternFromString("_eof")) == NULL ||
        (str_buffer = PyUnicode_InternFromString("_buffer")) == NULL ||
        (str_waiter = PyUnicode_InternFromString("_waiter")) == NULL ||
        (str_transport = PyUnicode_InternFromString("_transport")) == NULL ||
        (str_paused = PyUnicode_InternFromString("_paused")) == NULL ||
        (str_limit = PyUnicode_InternFromString("_limit")) == NULL ||
        (str_cancelled = PyUnicode_InternFromString("cancelled")) == NULL ||
        (str_set_result = PyUnicode_InternFromString("set_result")) == NULL ||
        (str_pause_reading = PyUnicode_InternFromString("pause_reading")) == NULL)
        return -1;
    return 0;
}

/* The reader protocol.data_received would feed (a new reference), NULL
 * with no exception when there is none or it is not a plain open
 * StreamReader with a bytearray buffer (asyncio's path then runs). */
PyObject *
goloop_stream_reader_of(PyObject *protocol)
{
    if (Py_TYPE(protocol) != protocol_type)
        return NULL;
    PyObject *wr = PyObject_GetAttr(protocol, str_reader_wr);
    if (wr == NULL || !PyWeakref_CheckRef(wr)) {
        Py_XDECREF(wr);
        PyErr_Clear();
        return NULL;
    }
    PyObject *reader = PyObject_CallNoArgs(wr);   /* the referent, or None */
    Py_DECREF(wr);
    if (reader == NULL) {
        PyErr_Clear();
        return NULL;
    }
    if (Py_TYPE(reader) != reader_type) {   /* None (gone) included: asyncio's path */
        Py_DECREF(reader);
        return NULL;
    }
    PyObject *eof = PyObject_GetAttr(reader, str_eof);
    int at_eof = eof == NULL ? -1 : PyObject_IsTrue(eof);
    Py_XDECREF(eof);
    if (at_eof != 0) {          /* feed_data would assert: asyncio's path */
        PyErr_Clear();
        Py_DECREF(reader);
        return NULL;
    }
    return reader;
}

/* Wakes the read*() call waiting for data, as _wakeup_waiter. */
static int
wake_waiter(PyObject *reader)
{
    PyObject *waiter = PyObject_GetAttr(reader, str_waiter);
    if (waiter == NULL)
        return -1;
    if (waiter == Py_None) {
        Py_DECREF(waiter);
        return 0;
    }
    if (PyObject_SetAttr(reader, str_waiter, Py_None) < 0) {
        Py_DECREF(waiter);
        return -1;
    }
    PyObject *c = PyObject_CallMethodNoArgs(waiter, str_cancelled);
    int cancelled = c == NULL ? -1 : PyObject_IsTrue(c);
    Py_XDECREF(c);
    if (cancelled == 0) {
        PyObject *r = PyObject_CallMethodOneArg(waiter, str_set_result, Py_None);
        cancelled = r == NULL ? -1 : 0;
        Py_XDECREF(r);
    }
    Py_DECREF(waiter);
    return cancelled < 0 ? -1 : 0;
}

/* Past twice the limit, pause the transport, as feed_data does. */
static int
maybe_pause(PyObject *reader, Py_ssize_t buffered)
{
    PyObject *limit = PyObject_GetAttr(reader, str_limit);
    if (limit == NULL)
        return -1;
    Py_ssize_t lim = PyLong_AsSsize_t(limit);
    Py_DECREF(limit);
    if (lim == -1 && PyErr_Occurred())
        return -1;
    if (buffered <= 2 * lim)
        return 0;
    PyObject *tr = PyObject_GetAttr(reader, str_transport);
    if (tr == NULL)
        return -1;
    PyObject *paused = tr == Py_None ? NULL : PyObject_GetAttr(reader, str_paused);
    int is_paused = paused == NULL ? 1 : PyObject_IsTrue(paused);
    Py_XDECREF(paused);
    if (tr == Py_None || is_paused != 0) {
        Py_DECREF(tr);
        return is_paused < 0 ? -1 : 0;
    }
    PyObject *r = PyObject_CallMethodNoArgs(tr, str_pause_reading);
    Py_DECREF(tr);
    if (r == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_NotImplementedError))
            return -1;
        PyErr_Clear();          /* the transport cannot pause: forget it */
        return PyObject_SetAttr(reader, str_transport, Py_None);
    }
    Py_DECREF(r);
    return PyObject_SetAttr(reader, str_paused, Py_True);
}

int
goloop_stream_feed(PyObject *reader, const char *data, Py_ssize_t n)
{
    PyObject *buf = PyObject_GetAttr(reader, str_buffer);
    if (buf == NULL)
        return -1;
    if (!PyByteArray_CheckExact(buf)) {
        /* Not asyncio's bytearray: extend it the way feed_data would. */
        PyObject *b = PyBytes_FromStringAndSize(data, n);
        PyObject *r = b == NULL ? NULL : PyObject_CallMethod(buf, "extend", "O", b);
        Py_XDECREF(b);
        Py_DECREF(buf);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
        buf = NULL;
    } else {
        Py_ssize_t old = PyByteArray_GET_SIZE(buf);
        if (PyByteArray_Resize(buf, old + n) < 0) {   /* exported: BufferError, as extend */
            Py_DECREF(buf);
            return -1;
        }
        memcpy(PyByteArray_AS_STRING(buf) + old, data, (size_t)n);
    }
    if (wake_waiter(reader) < 0) {
        Py_XDECREF(buf);
        return -1;
    }
    Py_ssize_t buffered = 0;
    if (buf != NULL) {
        buffered = PyByteArray_GET_SIZE(buf);
        Py_DECREF(buf);
    } else {
        PyObject *b = PyObject_GetAttr(reader, str_buffer);
        if (b == NULL)
            return -1;
        buffered = PyObject_Length(b);
        Py_DECREF(b);
        if (buffered < 0)
            return -1;
    }
    return maybe_pause(reader, buffered);
}
