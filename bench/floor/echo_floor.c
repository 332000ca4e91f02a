/*
 * echo_floor: the kernel floor of bench/run.py's echo workload.
 *
 *     gcc -O2 -Wall -Werror -o echo_floor echo_floor.c
 *     ./echo_floor PORT          (0 = let the kernel pick one)
 *
 * A single-threaded, level-triggered epoll TCP echo server on 127.0.0.1,
 * no Python: what serving the echo client costs with nothing but the
 * system calls every event loop has to make. Each accepted socket gets
 * TCP_NODELAY (as the asyncio and uvloop transports set it); each time it
 * is readable, one recv() of up to 256 KiB (the stdlib transports' recv
 * size) is sent straight back. What send() does not take is kept, reading
 * from that socket stops, and EPOLLOUT is awaited until it has all gone.
 * A socket is closed on end of input or on any error.
 *
 * The control channel is that of bench/servers.py: once listening, one
 * JSON line {"ready": true, "port": P, "pid": N} on stdout; then commands
 * on stdin, one per line: `cpu` answers with this process's resource usage
 * as a JSON line (user and system CPU seconds, context switches), `quit`
 * or end of input closes everything and exits after a last usage line.
 * stdin is watched by the same epoll set as the sockets. If stdin cannot
 * be watched (a regular file, /dev/null), the server runs without a
 * control channel until it is killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_SIZE (256 * 1024)
#define MAX_EVENTS 64
#define BACKLOG 512
#define CONTROL_LINE_MAX 256

enum kind { LISTENER, CONTROL, CLIENT };

/* One registered fd. Clients are kept on a doubly linked list so that
 * everything still open can be closed on the way out. */
struct watched {
    enum kind kind;
    int fd;
    char *pending;        /* echo bytes send() did not take yet, or NULL */
    size_t pending_len;
    size_t pending_off;
    struct watched *prev, *next;
};

struct server {
    int epfd;
    struct watched listener;
    struct watched control;
    struct watched *clients;
    char control_buf[CONTROL_LINE_MAX];
    size_t control_len;
    int control_overflow;   /* dropping the rest of a line too long */
    int running;
};

static char read_buf[READ_SIZE];

static void say_usage(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        printf("{\"error\": \"getrusage: %s\"}\n", strerror(errno));
    } else {
        printf("{\"utime\": %ld.%06ld, \"stime\": %ld.%06ld, \"nvcsw\": %ld, \"nivcsw\": %ld}\n",
               (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
               (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec,
               ru.ru_nvcsw, ru.ru_nivcsw);
    }
    fflush(stdout);
}

static int watch(struct server *s, struct watched *w, int op, unsigned events)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.ptr = w;
    return epoll_ctl(s->epfd, op, w->fd, &ev);
}

static void close_client(struct server *s, struct watched *c)
{
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c->pending);
    free(c);
}

/* Sends buf[*off:len]; returns 0 when all of it went or the socket is full
 * (*off tells which), -1 on an error. */
static int send_some(int fd, const char *buf, size_t len, size_t *off)
{
    while (*off < len) {
        ssize_t n = send(fd, buf + *off, len - *off, MSG_NOSIGNAL);
        if (n >= 0) {
            *off += (size_t)n;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        } else if (errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

/* Keeps what send() did not take and waits for EPOLLOUT instead of EPOLLIN. */
static int queue_rest(struct server *s, struct watched *c, const char *rest, size_t len)
{
    c->pending = malloc(len);
    if (c->pending == NULL)
        return -1;
    memcpy(c->pending, rest, len);
    c->pending_len = len;
    c->pending_off = 0;
    return watch(s, c, EPOLL_CTL_MOD, EPOLLOUT);
}

static void on_readable(struct server *s, struct watched *c)
{
    ssize_t n = recv(c->fd, read_buf, READ_SIZE, 0);
    size_t off = 0;

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0 || send_some(c->fd, read_buf, (size_t)n, &off) != 0) {
        close_client(s, c);
        return;
    }
    if (off < (size_t)n && queue_rest(s, c, read_buf + off, (size_t)n - off) != 0)
        close_client(s, c);
}

static void on_writable(struct server *s, struct watched *c)
{
    if (send_some(c->fd, c->pending, c->pending_len, &c->pending_off) != 0) {
        close_client(s, c);
        return;
    }
    if (c->pending_off < c->pending_len)
        return;
    free(c->pending);
    c->pending = NULL;
    c->pending_len = c->pending_off = 0;
    if (watch(s, c, EPOLL_CTL_MOD, EPOLLIN) != 0)
        close_client(s, c);
}

static void add_client(struct server *s, int fd)
{
    int one = 1;
    struct watched *c;

    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        perror("echo_floor: TCP_NODELAY");
        close(fd);
        return;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        return;
    }
    c->kind = CLIENT;
    c->fd = fd;
    if (watch(s, c, EPOLL_CTL_ADD, EPOLLIN) != 0) {
        perror("echo_floor: epoll_ctl");
        close(fd);
        free(c);
        return;
    }
    c->next = s->clients;
    if (s->clients)
        s->clients->prev = c;
    s->clients = c;
}

static void on_accept(struct server *s)
{
    for (;;) {
        int fd = accept4(s->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            add_client(s, fd);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else if (errno != EINTR && errno != ECONNABORTED) {
            perror("echo_floor: accept4");
            return;
        }
    }
}

static void run_command(struct server *s, const char *line)
{
    if (strcmp(line, "cpu") == 0) {
        say_usage();
    } else if (strcmp(line, "quit") == 0) {
        s->running = 0;
    } else {
        printf("{\"error\": \"unknown command\"}\n");
        fflush(stdout);
    }
}

/* Reads what is on stdin and runs every complete line. A line longer than
 * the buffer is dropped as it comes and answered as an unknown command. */
static void on_control(struct server *s)
{
    size_t start = 0, i;
    ssize_t n = read(s->control.fd, s->control_buf + s->control_len,
                     sizeof s->control_buf - s->control_len);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        s->running = 0;
        return;
    }
    s->control_len += (size_t)n;
    for (i = 0; i < s->control_len && s->running; i++) {
        if (s->control_buf[i] != '\n')
            continue;
        s->control_buf[i] = '\0';
        if (i > start && s->control_buf[i - 1] == '\r')
            s->control_buf[i - 1] = '\0';
        run_command(s, s->control_overflow ? "" : s->control_buf + start);
        s->control_overflow = 0;
        start = i + 1;
    }
    if (start == 0 && s->control_len == sizeof s->control_buf) {
        s->control_overflow = 1;
        start = s->control_len;
    }
    memmove(s->control_buf, s->control_buf + start, s->control_len - start);
    s->control_len -= start;
}

static int listen_on(struct server *s, int port)
{
    int one = 1;
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0
        || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0
        || listen(fd, BACKLOG) != 0
        || getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    s->listener.kind = LISTENER;
    s->listener.fd = fd;
    return ntohs(addr.sin_port);
}

/* Watches stdin for commands; 0 if it can be, 1 if it cannot (no control
 * channel), -1 on another error. */
static int watch_control(struct server *s)
{
    s->control.kind = CONTROL;
    s->control.fd = STDIN_FILENO;
    if (watch(s, &s->control, EPOLL_CTL_ADD, EPOLLIN) == 0)
        return 0;
    if (errno != EPERM)
        return -1;
    fprintf(stderr, "echo_floor: stdin cannot be polled: no control channel\n");
    return 1;
}

static void dispatch(struct server *s, const struct epoll_event *ev)
{
    struct watched *w = ev->data.ptr;

    switch (w->kind) {
    case LISTENER:
        on_accept(s);
        break;
    case CONTROL:
        on_control(s);
        break;
    case CLIENT:
        if (w->pending != NULL)
            on_writable(s, w);
        else
            on_readable(s, w);
        break;
    }
}

static int serve(struct server *s)
{
    struct epoll_event events[MAX_EVENTS];

    while (s->running) {
        int i, n = epoll_wait(s->epfd, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("echo_floor: epoll_wait");
            return -1;
        }
        /* A client closed here cannot appear later in the same batch:
         * epoll reports each fd at most once per call. */
        for (i = 0; i < n && s->running; i++)
            dispatch(s, &events[i]);
    }
    return 0;
}

static void close_all(struct server *s)
{
    while (s->clients)
        close_client(s, s->clients);
    if (s->listener.fd >= 0)
        close(s->listener.fd);
    if (s->epfd >= 0)
        close(s->epfd);
}

static int parse_port(const char *text)
{
    char *end;
    long port;

    errno = 0;
    port = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || port < 0 || port > 65535)
        return -1;
    return (int)port;
}

int main(int argc, char **argv)
{
    static struct server s;
    int port, status;

    port = argc == 2 ? parse_port(argv[1]) : -1;
    if (port < 0) {
        fprintf(stderr, "usage: %s PORT   (0 = any free port)\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    s.listener.fd = -1;
    s.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s.epfd < 0) {
        perror("echo_floor: epoll_create1");
        return 1;
    }
    port = listen_on(&s, port);
    if (port < 0 || watch(&s, &s.listener, EPOLL_CTL_ADD, EPOLLIN) != 0 || watch_control(&s) < 0) {
        perror("echo_floor: listen");
        close_all(&s);
        return 1;
    }
    printf("{\"ready\": true, \"port\": %d, \"pid\": %ld, \"loop\": \"c-epoll\"}\n", port, (long)getpid());
    fflush(stdout);
    s.running = 1;
    status = serve(&s) == 0 ? 0 : 1;
    close_all(&s);
    say_usage();
    return status;
}
