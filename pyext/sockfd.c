/* The fd a socket.socket object holds right now, read without a method
 * call: a transport or a pending sock_* call checks before each system
 * call that its socket still has the fd it cached (the user may have
 * closed or detached it, and the kernel given the number to another
 * socket). CPython's socket object keeps the fd right after the object
 * header (Modules/socketmodule.h, unchanged since 3.x began); that layout
 * is verified once at start-up against fileno(), and if it ever differed
 * fileno() would be called instead. */
#include "goloop.h"
#include <sys/socket.h>

static PyTypeObject *socket_base;   /* _socket.socket */
static int layout_ok;

static int
read_fd(PyObject *sock)
{
    return *(int *)((char *)sock + sizeof(PyObject));
}

int
goloop_sockfd_init(void)
{
    PyObject *mod = PyImport_ImportModule("_socket");
    if (mod == NULL)
        return -1;
    socket_base = (PyTypeObject *)PyObject_GetAttrString(mod, "socket");
    Py_DECREF(mod);
    if (socket_base == NULL)
        return -1;
    /* Two sockets (two different fds), one closed: all three must agree. */
    PyObject *a = PyObject_CallFunction((PyObject *)socket_base, "ii", AF_UNIX, SOCK_STREAM);
    PyObject *b = a ? PyObject_CallFunction((PyObject *)socket_base, "ii", AF_UNIX, SOCK_STREAM) : NULL;
    int ok = b != NULL && socket_base->tp_basicsize >= (Py_ssize_t)(sizeof(PyObject) + sizeof(int));
    for (PyObject **s = (PyObject *[]){a, b, NULL}; ok && *s != NULL; s++) {
        PyObject *r = PyObject_CallMethod(*s, "fileno", NULL);
        ok = r != NULL && PyLong_AsLong(r) == read_fd(*s);
        Py_XDECREF(r);
    }
    if (ok) {
        PyObject *r = PyObject_CallMethod(a, "close", NULL);
        ok = r != NULL && read_fd(a) == -1;
        Py_XDECREF(r);
    }
    for (PyObject **s = (PyObject *[]){a, b, NULL}; *s != NULL; s++) {
        PyObject *r = PyObject_CallMethod(*s, "close", NULL);
        Py_XDECREF(r);
        Py_DECREF(*s);
    }
    if (PyErr_Occurred())
        PyErr_Clear();
    layout_ok = ok;
    return 0;
}

/* The last subclass of _socket.socket seen (socket.socket, usually),
 * with a reference so its address cannot be reused by another type: the
 * check is then one comparison instead of a walk of the MRO, twice per
 * echoed message. */
static PyTypeObject *known_subtype;

int
goloop_sock_fd(PyObject *sock)
{
    PyTypeObject *tp = Py_TYPE(sock);
    if (layout_ok && (tp == known_subtype || tp == socket_base))
        return read_fd(sock);
    if (layout_ok && PyType_IsSubtype(tp, socket_base)) {
        Py_INCREF(tp);
        Py_XSETREF(known_subtype, tp);
        return read_fd(sock);
    }
    PyObject *r = PyObject_CallMethod(sock, "fileno", NULL);
    if (r == NULL) {
        PyErr_Clear();
        return -1;
    }
    long fd = PyLong_AsLong(r);
    Py_DECREF(r);
    if (fd == -1 && PyErr_Occurred())
        PyErr_Clear();
    return (int)fd;
}
