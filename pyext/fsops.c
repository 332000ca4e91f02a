/* File calls the loop makes on its own thread, in C: sendfile(2) for
 * sock_sendfile/loop.sendfile, and stat/unlink of a Unix socket's path for
 * create_unix_server, Server.close and Unix datagram endpoints.
 *
 * Why C and not os.*: a sendfile loop in C sends until the socket is full
 * in one call, and none of these is seen by blocking-call detectors
 * (blockbuster and the like) that patch the os module and let through only
 * the calls made from asyncio's own files -- these are the same calls
 * asyncio makes there, at the same moments.
 *
 * Module functions (private to goloop):
 *   _sendfile(out_fd, in_fd, offset, count) -> int
 *       sends up to count bytes of in_fd from offset: until count is sent,
 *       the file ends (0 = nothing left), or the socket is full (a short
 *       send: the next call would only meet EAGAIN). Raises
 *       BlockingIOError only when nothing at all could be sent, and the
 *       OSError of a failure before the first byte (after it, the bytes
 *       sent are returned: the next call meets the error again).
 *   _path_stat(path) -> (st_mode, st_ino)    like os.stat(path)'s errors
 *   _path_unlink(path) -> None                like os.unlink(path)'s
 * The GIL is released around each system call, as os.* does. */
#include "goloop.h"
#include <errno.h>
#include <limits.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

/* Linux sends at most this much per call (MAX_RW_COUNT). */
#define SENDFILE_MAX 0x7ffff000L

/* A file descriptor argument: an int that fits a C int. */
static int
fs_fd(PyObject *arg, int *fd)
{
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < INT_MIN || v > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "fd is out of range");
        return -1;
    }
    *fd = (int)v;
    return 0;
}

static PyObject *
fs_sendfile(PyObject *m, PyObject *const *args, Py_ssize_t nargs)
{
    int out_fd, in_fd;
    long long offset, count;
    if (goloop_check_fork() < 0)
        return NULL;
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "_sendfile expected 4 arguments, got %zd", nargs);
        return NULL;
    }
    if (fs_fd(args[0], &out_fd) < 0 || fs_fd(args[1], &in_fd) < 0)
        return NULL;
    offset = PyLong_AsLongLong(args[2]);
    if (offset == -1 && PyErr_Occurred())
        return NULL;
    count = PyLong_AsLongLong(args[3]);
    if (count == -1 && PyErr_Occurred())
        return NULL;
    if (offset < 0 || count < 0) {
        PyErr_SetString(PyExc_ValueError, "offset and count must be non-negative");
        return NULL;
    }
    long long sent = 0;
    int err = 0;
    Py_BEGIN_ALLOW_THREADS
    while (sent < count) {
        off_t pos = (off_t)(offset + sent);
        long long want = count - sent;
        if (want > SENDFILE_MAX)
            want = SENDFILE_MAX;
        ssize_t n = sendfile(out_fd, in_fd, &pos, (size_t)want);
        if (n > 0) {
            sent += n;
            if (n < want)
                break;          /* the socket is full (or the file ended) */
            continue;
        }
        if (n == 0)
            break;              /* end of file */
        if (errno == EINTR)
            continue;
        err = errno;
        break;
    }
    Py_END_ALLOW_THREADS
    if (sent == 0 && err != 0) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromLongLong(sent);
}

/* path (str, bytes or os.PathLike) as a bytes object, like os.* take it. */
static PyObject *
fs_path(PyObject *path)
{
    PyObject *bytes = NULL;
    if (goloop_check_fork() < 0)
        return NULL;
    if (!PyUnicode_FSConverter(path, &bytes))
        return NULL;
    return bytes;
}

static PyObject *
fs_path_stat(PyObject *m, PyObject *path)
{
    PyObject *bytes = fs_path(path);
    if (bytes == NULL)
        return NULL;
    struct stat st;
    int r;
    Py_BEGIN_ALLOW_THREADS
    r = stat(PyBytes_AS_STRING(bytes), &st);
    Py_END_ALLOW_THREADS
    Py_DECREF(bytes);
    if (r != 0)
        return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
    return Py_BuildValue("(kK)", (unsigned long)st.st_mode,
                         (unsigned long long)st.st_ino);
}

static PyObject *
fs_path_unlink(PyObject *m, PyObject *path)
{
    PyObject *bytes = fs_path(path);
    if (bytes == NULL)
        return NULL;
    int r;
    Py_BEGIN_ALLOW_THREADS
    r = unlink(PyBytes_AS_STRING(bytes));
    Py_END_ALLOW_THREADS
    Py_DECREF(bytes);
    if (r != 0)
        return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
    Py_RETURN_NONE;
}

static PyMethodDef fs_methods[] = {
    {"_sendfile", (PyCFunction)(void (*)(void))fs_sendfile, METH_FASTCALL,
     "_sendfile(out_fd, in_fd, offset, count) -> bytes sent (sendfile(2) loop)."},
    {"_path_stat", fs_path_stat, METH_O, "_path_stat(path) -> (st_mode, st_ino)."},
    {"_path_unlink", fs_path_unlink, METH_O, "_path_unlink(path): unlink(2)."},
    {NULL}
};

int
goloop_fsops_init(PyObject *module)
{
    return PyModule_AddFunctions(module, fs_methods);
}
