/* The socket system calls of the stream transport and the sock_* fast
 * paths, and receiving into a new bytes object.
 *
 * recv/send go through syscall(): glibc's wrappers are thread-cancellation
 * points whose bookkeeping showed in per-event profiles (nothing here uses
 * pthread cancellation). Every call is MSG_DONTWAIT and retried on EINTR.
 *
 * Receiving into bytes: Small reads go through the shared 256 KiB
 * buffer and are copied into a bytes object of the exact size (cheaper
 * than shrinking a big allocation). Once a connection's reads are large
 * (the previous one was at least DIRECT_MIN), the kernel copies straight
 * into a bytes object that is then shrunk in place: one copy of the data
 * instead of two. That object is kept under glibc's default mmap
 * threshold (128 KiB), so an untuned malloc does not map and unmap pages
 * for every read (the trap asyncio's 256 KiB sock.recv falls into).
 * exact (sock_recv on a stream socket): a direct read that fills its
 * buffer goes on with what else is queued, so the call returns
 * min(max, queued) bytes like socket.recv(max).
 * MSG_DONTWAIT: a socket left in blocking mode must not block the loop
 * (and every other thread: the GIL is held here). */
#include "goloop.h"
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>

/* One receive buffer for all small reads (GIL held, and no Python code
 * runs between a recv into it and the copy out of it). */
static char goloop_read_buf[GOLOOP_READ_BUF];

#define DIRECT_MIN (16 * 1024)
#define DIRECT_MAX (128 * 1024 - 512)   /* object + malloc headers < 128 KiB */

ssize_t
goloop_recv(int fd, void *p, size_t n)
{
    ssize_t r;
    do {
        r = (ssize_t)syscall(SYS_recvfrom, fd, p, n, MSG_DONTWAIT, NULL, NULL);
    } while (r < 0 && errno == EINTR);
    return r;
}

ssize_t
goloop_send(int fd, const void *p, size_t n)
{
    ssize_t r;
    do {
        r = (ssize_t)syscall(SYS_sendto, fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT, NULL, 0);
    } while (r < 0 && errno == EINTR);
    return r;
}

ssize_t
goloop_recv_shared(int fd, const char **data)
{
    *data = goloop_read_buf;
    return goloop_recv(fd, goloop_read_buf, GOLOOP_READ_BUF);
}

/* A direct read filled its buffer (want < max): read what else is queued,
 * up to max, straight onto the end of b, as one socket.recv(max) would
 * have returned it. Stream sockets only (FIONREAD is the queued bytes). */
static int
recv_rest(int fd, PyObject **b, Py_ssize_t max, Py_ssize_t *hint)
{
    Py_ssize_t have = PyBytes_GET_SIZE(*b);
    int queued = 0;
    if (ioctl(fd, FIONREAD, &queued) < 0 || queued <= 0)
        return 0;
    Py_ssize_t more = max - have < queued ? max - have : queued;
    if (_PyBytes_Resize(b, have + more) < 0)
        return -1;
    ssize_t r = goloop_recv(fd, PyBytes_AS_STRING(*b) + have, (size_t)more);
    if (r < 0)
        r = 0;  /* keep what was read; an error shows again on the next call */
    *hint = have + r;
    if (r != more && _PyBytes_Resize(b, have + r) < 0)
        return -1;
    return 0;
}

PyObject *
goloop_recv_bytes(int fd, Py_ssize_t max, Py_ssize_t *hint, int exact)
{
    Py_ssize_t last = *hint, want;
    if (last < DIRECT_MIN) {
        if (max <= GOLOOP_READ_BUF) {
            ssize_t r = goloop_recv(fd, goloop_read_buf, (size_t)max);
            if (r < 0)
                return NULL;
            *hint = r;
            return PyBytes_FromStringAndSize(goloop_read_buf, r);
        }
        want = max;  /* a huge request with no history: as socket.recv does */
    } else {
        want = 2 * last < DIRECT_MAX ? 2 * last : DIRECT_MAX;
        if (want > max)
            want = max;
    }
    PyObject *b = PyBytes_FromStringAndSize(NULL, want);
    if (b == NULL)
        return NULL;
    ssize_t r = goloop_recv(fd, PyBytes_AS_STRING(b), (size_t)want);
    if (r < 0) {
        int e = errno;
        Py_DECREF(b);
        errno = e;
        return NULL;
    }
    *hint = r;
    if (r != want && _PyBytes_Resize(&b, r) < 0)
        return NULL;
    if (exact && r == want && want < max && recv_rest(fd, &b, max, hint) < 0)
        return NULL;
    return b;
}
