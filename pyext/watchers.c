/* The fd watchers of a loop: what add_reader/add_writer (and the C
 * transports, sock_* operations) registered, indexed by fd, and their
 * epoll interest. The iteration (run.c) looks a ready fd up here, so the
 * table is C memory; epoll_ctl is made here too, without entering Go.
 * Loop thread, GIL held. */
#include "goloop.h"
#include <errno.h>
#include <sys/epoll.h>

static uint32_t
mask_of(const GoloopWatch *w)
{
    return (w->reader ? EPOLLIN : 0) | (w->writer ? EPOLLOUT : 0);
}

static int
ctl(int epfd, int op, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    int r;
    do {
        r = epoll_ctl(epfd, op, fd, &ev);
    } while (r < 0 && errno == EINTR);
    return r;
}

/* Applies fd's interest set. A stale registration (the fd was closed and
 * its number reused) is handled by switching between ADD and MOD. 0, or
 * -1 with errno set. */
static int
apply(int epfd, int fd, uint32_t old, uint32_t mask)
{
    if (mask == 0) {
        if (ctl(epfd, EPOLL_CTL_DEL, fd, 0) < 0 && errno != ENOENT && errno != EBADF)
            return -1;
        return 0;
    }
    if (old == 0) {
        if (ctl(epfd, EPOLL_CTL_ADD, fd, mask) == 0)
            return 0;
        return errno == EEXIST ? ctl(epfd, EPOLL_CTL_MOD, fd, mask) : -1;
    }
    if (ctl(epfd, EPOLL_CTL_MOD, fd, mask) == 0)
        return 0;
    return errno == ENOENT ? ctl(epfd, EPOLL_CTL_ADD, fd, mask) : -1;
}

static GoloopWatch *
slot(GoloopCore *core, int fd, int grow)
{
    if (fd < 0)
        return NULL;
    if (fd >= core->nwatch) {
        if (!grow)
            return NULL;
        int n = core->nwatch ? core->nwatch : 64;
        while (n <= fd)
            n *= 2;
        GoloopWatch *t = PyMem_Realloc(core->watch, (size_t)n * sizeof(GoloopWatch));
        if (t == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        memset(t + core->nwatch, 0, (size_t)(n - core->nwatch) * sizeof(GoloopWatch));
        core->watch = t;
        core->nwatch = n;
    }
    return &core->watch[fd];
}

static PyObject *
or_none(PyObject *h)
{
    if (h == NULL)
        Py_RETURN_NONE;
    return h;
}

PyObject *
goloop_watch(GoloopCore *core, int fd, int write, GoloopHandle *h)
{
    if (core->engine == 0) {
        PyErr_SetString(PyExc_RuntimeError, "Event loop is closed");
        return NULL;
    }
    if (fd < 0) {
        PyErr_Format(PyExc_ValueError, "Invalid file descriptor: %d", fd);
        return NULL;
    }
    GoloopWatch *w = slot(core, fd, 1);
    if (w == NULL)
        return NULL;
    uint32_t old = mask_of(w);
    PyObject **place = write ? &w->writer : &w->reader;
    PyObject *prev = *place;
    *place = h;
    if (apply(core->epfd, fd, old, mask_of(w)) < 0) {
        *place = prev;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (old == 0)
        core->nwatched++;
    Py_INCREF(h);
    return or_none(prev);   /* the table's reference goes to the caller */
}

PyObject *
goloop_unwatch(GoloopCore *core, int fd, int write, PyObject *only)
{
    GoloopWatch *w = slot(core, fd, 0);
    if (w == NULL || core->engine == 0)
        Py_RETURN_NONE;
    uint32_t old = mask_of(w);
    PyObject **place = write ? &w->writer : &w->reader;
    PyObject *prev = *place;
    if (prev == NULL || (only != NULL && prev != only))
        Py_RETURN_NONE;
    *place = NULL;
    if (mask_of(w) == 0)
        core->nwatched--;
    /* A closed fd is already gone from epoll: not an error. */
    (void)apply(core->epfd, fd, old, mask_of(w));
    return prev;
}

int
goloop_watch_mask(GoloopCore *core, int fd)
{
    GoloopWatch *w = slot(core, fd, 0);
    if (w == NULL || core->engine == 0)
        return 0;
    return (w->reader ? 1 : 0) | (w->writer ? 2 : 0);
}

void
goloop_watchers_clear(GoloopCore *core)
{
    GoloopWatch *t = core->watch;
    int n = core->nwatch;
    core->watch = NULL;
    core->nwatch = 0;
    core->nwatched = 0;
    for (int i = 0; i < n; i++) {
        Py_XDECREF(t[i].reader);
        Py_XDECREF(t[i].writer);
    }
    PyMem_Free(t);
}

int
goloop_watchers_traverse(GoloopCore *core, visitproc visit, void *arg)
{
    for (int i = 0; i < core->nwatch; i++) {
        Py_VISIT(core->watch[i].reader);
        Py_VISIT(core->watch[i].writer);
    }
    return 0;
}
