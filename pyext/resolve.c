/* Name resolution for loop.getaddrinfo / loop.getnameinfo. The blocking
 * libc calls (goloop_gai, goloop_gni) run on a Go goroutine's thread
 * WITHOUT the GIL and touch no Python object; the conversions to Python
 * (goloop_gai_finish, goloop_gni_finish) run on the loop thread with the
 * GIL. Results and errors match the socket module's. */
#include "goloop.h"
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

int
goloop_gai(const char *host, const char *port, int family, int type,
           int proto, int flags, struct addrinfo **res, int *err_no)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = type;
    hints.ai_protocol = proto;
    hints.ai_flags = flags;
    errno = 0;
    int code = getaddrinfo(host, port, &hints, res);
    *err_no = errno;
    return code;
}

/* Sets the exception the socket module raises for a getaddrinfo code. */
static void
set_gaierror(int code, int err_no)
{
    if (code == EAI_SYSTEM) {
        errno = err_no;
        PyErr_SetFromErrno(PyExc_OSError);
        return;
    }
    PyObject *socket = PyImport_ImportModule("socket");
    if (socket == NULL)
        return;
    PyObject *gaierror = PyObject_GetAttrString(socket, "gaierror");
    Py_DECREF(socket);
    if (gaierror == NULL)
        return;
    PyObject *v = Py_BuildValue("(is)", code, gai_strerror(code));
    if (v != NULL) {
        PyErr_SetObject(gaierror, v);
        Py_DECREF(v);
    }
    Py_DECREF(gaierror);
}

/* A socket address as the socket module represents it. */
static PyObject *
sockaddr_to_python(const struct sockaddr *sa, socklen_t len)
{
    char host[INET6_ADDRSTRLEN];
    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        return Py_BuildValue("(si)", host, ntohs(a->sin_port));
    }
    case AF_INET6: {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        return Py_BuildValue("(siII)", host, ntohs(a->sin6_port),
                             ntohl(a->sin6_flowinfo), a->sin6_scope_id);
    }
    default:
        /* Unusual families: (family, raw bytes), like the socket module. */
        return Py_BuildValue("(iy#)", sa->sa_family, sa->sa_data,
                             (Py_ssize_t)(len > sizeof(sa->sa_family) ? len - sizeof(sa->sa_family) : 0));
    }
}

/* Builds getaddrinfo's list of 5-tuples (ints; goloop._resolve wraps the
 * enums) and frees res. NULL with an exception set on error. */
PyObject *
goloop_gai_finish(struct addrinfo *res, int code, int err_no)
{
    if (code != 0) {
        set_gaierror(code, err_no);
        return NULL;
    }
    PyObject *list = PyList_New(0);
    for (struct addrinfo *ai = res; list != NULL && ai != NULL; ai = ai->ai_next) {
        PyObject *addr = sockaddr_to_python(ai->ai_addr, ai->ai_addrlen);
        PyObject *item = addr == NULL ? NULL :
            Py_BuildValue("(iiisO)", ai->ai_family, ai->ai_socktype, ai->ai_protocol,
                          ai->ai_canonname ? ai->ai_canonname : "", addr);
        Py_XDECREF(addr);
        if (item == NULL || PyList_Append(list, item) < 0)
            Py_CLEAR(list);
        Py_XDECREF(item);
    }
    if (res != NULL)
        freeaddrinfo(res);
    return list;
}

void
goloop_gai_free(struct addrinfo *res)
{
    if (res != NULL)
        freeaddrinfo(res);
}

#define GNI_MULTIPLE 1001  /* sockaddr resolved to multiple addresses */
#define GNI_FAMILY 1002    /* a 4-tuple for an IPv4 address */

/* getnameinfo of a numeric host/port (resolved to exactly one address
 * first, like socket.getnameinfo). Results go to hbuf/sbuf. Returns 0, a
 * gai code, or GNI_MULTIPLE / GNI_FAMILY. */
int
goloop_gni(const char *host, const char *port, unsigned flowinfo,
           unsigned scope_id, int v6, int flags, char *hbuf, int hlen,
           char *sbuf, int slen, int *err_no)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST;
    errno = 0;
    int code = getaddrinfo(host, port, &hints, &res);
    if (code != 0) {
        *err_no = errno;
        return code;
    }
    if (res->ai_next != NULL) {
        freeaddrinfo(res);
        return GNI_MULTIPLE;
    }
    if (res->ai_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)res->ai_addr;
        a->sin6_flowinfo = htonl(flowinfo);
        a->sin6_scope_id = scope_id;
    } else if (v6) {
        freeaddrinfo(res);
        return GNI_FAMILY;
    }
    errno = 0;
    code = getnameinfo(res->ai_addr, res->ai_addrlen, hbuf, hlen, sbuf, slen, flags);
    *err_no = errno;
    freeaddrinfo(res);
    return code;
}

PyObject *
goloop_gni_finish(int code, int err_no, const char *hbuf, const char *sbuf)
{
    if (code == GNI_MULTIPLE) {
        PyErr_SetString(PyExc_OSError, "sockaddr resolved to multiple addresses");
        return NULL;
    }
    if (code == GNI_FAMILY) {
        PyErr_SetString(PyExc_OSError, "IPv4 sockaddr must be 2 tuple");
        return NULL;
    }
    if (code != 0) {
        set_gaierror(code, err_no);
        return NULL;
    }
    return Py_BuildValue("(ss)", hbuf, sbuf);
}

/* Settles fut with result (or the current exception when result is NULL),
 * unless fut was cancelled meanwhile. Steals result. */
int
goloop_settle_future(PyObject *fut, PyObject *result)
{
    PyObject *exc = NULL, *type = NULL, *tb = NULL;
    if (result == NULL) {
        PyErr_Fetch(&type, &exc, &tb);
        PyErr_NormalizeException(&type, &exc, &tb);
        if (exc != NULL && tb != NULL)
            PyException_SetTraceback(exc, tb);
        Py_XDECREF(type);
        Py_XDECREF(tb);
    }
    PyObject *cancelled = PyObject_CallMethod(fut, "cancelled", NULL);
    int rc = 0;
    if (cancelled == NULL) {
        rc = -1;
    } else if (cancelled != Py_True) {
        /* CallMethodOneArg: a tuple result must not become the args. */
        PyObject *name = PyUnicode_FromString(result != NULL ? "set_result" : "set_exception");
        PyObject *r = name == NULL ? NULL :
            PyObject_CallMethodOneArg(fut, name, result != NULL ? result : exc);
        Py_XDECREF(name);
        if (r == NULL)
            rc = -1;
        Py_XDECREF(r);
    }
    Py_XDECREF(cancelled);
    Py_XDECREF(result);
    Py_XDECREF(exc);
    return rc;
}
