/* The stream transport's I/O state machine, in plain C (no Python.h):
 * the fd it owns, the write buffer and its partial-write accounting, the
 * flow-control thresholds, and the close / write_eof sequencing. The
 * Python face is pyext/stream.c (StreamCore): it calls these, then does
 * what they decide (register the writer, call pause_writing(), schedule
 * connection_lost...). transports/stream_test.go drives the same functions
 * over real sockets without an interpreter.
 *
 * Header-only on purpose: C files of one Go package are not compiled into
 * another, and the calls sit on the write path of every transport, so
 * they are static inline and compile into the face exactly as the static
 * functions they replaced did (no call, no extra instructions). Every
 * function runs on the loop thread. */
#ifndef GOLOOP_STREAM_IO_H
#define GOLOOP_STREAM_IO_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* asyncio's numbers: the default write-buffer limits, and the count of
 * writes after the connection was lost from which each one is logged. */
#define SIO_DEFAULT_HIGH (64 * 1024)
#define SIO_DEFAULT_LOW (16 * 1024)
#define SIO_CONN_LOST_LOG_THRESHOLD 5

#define SIO_FIRST_CAP 16384          /* first allocation of the buffer */
#define SIO_KEEP_CAP (1024 * 1024)   /* a drained buffer above this is freed */

typedef struct {
    char *buf;                /* pending output: buf[head, head+len) */
    ssize_t head, len, cap;
    ssize_t high, low;        /* flow control: pause above high, resume at low */
    int fd;                   /* the socket's fd while we own it; -1 once released */
    int conn_lost;            /* >0: the connection is gone (counts lost writes) */
    char closing;             /* close() called: no more reads, lose when drained */
    char eof;                 /* write_eof() called: shut down when drained */
    char protocol_paused;     /* pause_writing() was called, resume_writing() not yet */
} sio_stream;

/* What a transition asks the face to do (negative: an error). */
enum {
    SIO_ERR_NOMEM = -2,
    SIO_ERR_SEND = -1,
    SIO_NOTHING = 0,
    SIO_START_WRITER,         /* data got buffered: register the writer */
    SIO_LOSE_NOW,             /* nothing buffered: connection_lost(None) now */
    SIO_LOSE_WHEN_DRAINED,    /* closing: lost once the buffer drains */
    SIO_SHUTDOWN_NOW,         /* shutdown(SHUT_WR) now */
    SIO_SHUTDOWN_WHEN_DRAINED,
};

/* sio_force_close's flags. */
#define SIO_FC_DONE 1          /* it acted: schedule connection_lost */
#define SIO_FC_DROP_WRITER 2   /* buffered data was dropped: unregister the writer */
#define SIO_FC_DROP_READER 4   /* it was not closing yet: unregister the reader */

/* A fresh state: no fd, empty buffer, asyncio's default limits. */
static inline void
sio_init(sio_stream *io, int fd)
{
    memset(io, 0, sizeof(*io));
    io->fd = fd;
    io->high = SIO_DEFAULT_HIGH;
    io->low = SIO_DEFAULT_LOW;
}

static inline ssize_t sio_pending(const sio_stream *io) { return io->len; }

/* ---- fd ownership -------------------------------------------------------
 * The fd is used only while we own the socket: once given up (released,
 * or closed behind our back) it is -1, so a system call fails with EBADF
 * instead of reaching whichever socket the kernel gave that number next. */

static inline void sio_disown_fd(sio_stream *io) { io->fd = -1; }

/* send(2) on the owned fd, never blocking, never raising SIGPIPE (a raw
 * system call: libc's wrapper is a cancellation point, pure overhead). */
static inline ssize_t
sio_send(sio_stream *io, const char *p, size_t n)
{
    ssize_t r;
    do {
        r = (ssize_t)syscall(SYS_sendto, io->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT, NULL, 0);
    } while (r < 0 && errno == EINTR);
    return r;
}

/* ---- the write buffer ---------------------------------------------------- */

/* Appends n bytes; -1 (errno ENOMEM) if memory ran out, nothing appended. */
static inline int
sio_append(sio_stream *io, const char *data, ssize_t n)
{
    if (io->head > 0 && io->head + io->len + n > io->cap) {
        memmove(io->buf, io->buf + io->head, io->len);
        io->head = 0;
    }
    if (io->len + n > io->cap) {
        ssize_t ncap = io->cap ? io->cap : SIO_FIRST_CAP;
        while (ncap < io->len + n)
            ncap *= 2;
        char *nb = realloc(io->buf, ncap);
        if (nb == NULL) {
            errno = ENOMEM;
            return -1;
        }
        io->buf = nb;
        io->cap = ncap;
    }
    memcpy(io->buf + io->head + io->len, data, n);
    io->len += n;
    return 0;
}

/* Drops the first n pending bytes (they were sent). */
static inline void
sio_consume(sio_stream *io, ssize_t n)
{
    io->head += n;
    io->len -= n;
    if (io->len == 0) {
        io->head = 0;
        if (io->cap > SIO_KEEP_CAP) {  /* give a big burst's memory back */
            free(io->buf);
            io->buf = NULL;
            io->cap = 0;
        }
    }
}

/* Forgets the pending bytes (a fatal error or abort: they will never go). */
static inline void
sio_discard(sio_stream *io)
{
    io->len = 0;
    io->head = 0;
}

static inline void
sio_free_buffer(sio_stream *io)
{
    free(io->buf);
    io->buf = NULL;
    io->len = io->head = io->cap = 0;
}

/* write(): with nothing pending, sends what the socket takes at once;
 * what is left (or everything, behind pending data) is buffered.
 * SIO_NOTHING: all sent or appended behind pending data; SIO_START_WRITER:
 * the buffer was empty and now holds the rest (the face registers the
 * writer, and on failure calls sio_discard: nothing was pending before);
 * SIO_ERR_SEND: a send error other than EAGAIN (errno; nothing buffered);
 * SIO_ERR_NOMEM: no memory for the rest (nothing buffered). */
static inline int
sio_write(sio_stream *io, const char *p, ssize_t n)
{
    int started = 0;
    if (io->len == 0) {
        ssize_t w = sio_send(io, p, (size_t)n);
        if (w < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return SIO_ERR_SEND;
            w = 0;
        }
        p += w;
        n -= w;
        if (n == 0)
            return SIO_NOTHING;
        started = 1;
    }
    if (sio_append(io, p, n) < 0)
        return SIO_ERR_NOMEM;
    return started ? SIO_START_WRITER : SIO_NOTHING;
}

/* Sends as much of the buffer as the socket takes: the bytes sent (0
 * with nothing pending), or -1 with errno (EAGAIN: nothing went). */
static inline ssize_t
sio_flush(sio_stream *io)
{
    if (io->len == 0)
        return 0;
    ssize_t w = sio_send(io, io->buf + io->head, (size_t)io->len);
    if (w > 0)
        sio_consume(io, w);
    return w;
}

/* ---- flow control ---------------------------------------------------------- */

/* 1 when the buffer just went above the high-water mark: call the
 * protocol's pause_writing() (once, until resumed). */
static inline int
sio_should_pause(sio_stream *io)
{
    if (io->len <= io->high || io->protocol_paused)
        return 0;
    io->protocol_paused = 1;
    return 1;
}

/* 1 when a paused protocol's buffer is down to the low-water mark: call
 * resume_writing(). */
static inline int
sio_should_resume(sio_stream *io)
{
    if (!io->protocol_paused || io->len > io->low)
        return 0;
    io->protocol_paused = 0;
    return 1;
}

/* ---- closing and EOF ------------------------------------------------------- */

/* close(): SIO_NOTHING if already closing; else the face stops reading,
 * and SIO_LOSE_NOW (nothing pending: the loss is counted, the face
 * unregisters the writer and schedules connection_lost) or
 * SIO_LOSE_WHEN_DRAINED (sio_drained will say when). */
static inline int
sio_close(sio_stream *io)
{
    if (io->closing)
        return SIO_NOTHING;
    io->closing = 1;
    if (io->len == 0) {
        io->conn_lost++;
        return SIO_LOSE_NOW;
    }
    return SIO_LOSE_WHEN_DRAINED;
}

/* abort() or a fatal error: drops the pending bytes and marks the
 * connection lost; SIO_FC_* flags (0: it was lost already). */
static inline int
sio_force_close(sio_stream *io)
{
    if (io->conn_lost)
        return 0;
    int flags = SIO_FC_DONE;
    if (io->len) {
        sio_discard(io);
        flags |= SIO_FC_DROP_WRITER;
    }
    if (!io->closing) {
        io->closing = 1;
        flags |= SIO_FC_DROP_READER;
    }
    io->conn_lost++;
    return flags;
}

/* write_eof(): SIO_NOTHING if closing or already done, else shut the
 * write side now (nothing pending) or once drained. */
static inline int
sio_write_eof(sio_stream *io)
{
    if (io->closing || io->eof)
        return SIO_NOTHING;
    io->eof = 1;
    return io->len == 0 ? SIO_SHUTDOWN_NOW : SIO_SHUTDOWN_WHEN_DRAINED;
}

/* The buffer just drained (the face unregistered the writer): what was
 * waiting for it. SIO_LOSE_NOW (close() came first), SIO_SHUTDOWN_NOW
 * (write_eof()), or SIO_NOTHING. */
static inline int
sio_drained(const sio_stream *io)
{
    if (io->closing)
        return SIO_LOSE_NOW;
    return io->eof ? SIO_SHUTDOWN_NOW : SIO_NOTHING;
}

/* The transport gave the socket up (after connection_lost): closing for
 * good, the fd is no longer ours, the buffer's memory is freed. */
static inline void
sio_release(sio_stream *io)
{
    io->closing = 1;
    if (io->conn_lost == 0)
        io->conn_lost = 1;
    io->protocol_paused = 0;
    io->fd = -1;
    sio_free_buffer(io);
}

#endif /* GOLOOP_STREAM_IO_H */
