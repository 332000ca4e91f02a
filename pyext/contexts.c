/* The contexts callbacks run in. asyncio gives every handle a copy of the
 * current context (contextvars.copy_context()). When the current context
 * is empty -- no ContextVar set, the common case -- that copy is an empty
 * context: goloop then makes none at call_soon time and leases one from a
 * small pool when the callback runs, so a callback costs one GC-tracked
 * allocation (its handle), not two. A leased context goes back to the pool
 * only when it is indistinguishable from a new one: still empty, referred
 * to by nobody else, never handed out through Handle._context or
 * get_context(). Loop thread, GIL held. */
#include "goloop.h"

#define POOL_MAX 64

static PyObject *pool[POOL_MAX];
static int pool_len;

int
goloop_context_capture(PyObject **out)
{
    *out = NULL;
    PyObject *cur = PyThreadState_Get()->context;
    if (cur == NULL)
        return 0;               /* no context yet in this thread: empty */
    Py_ssize_t n = PyObject_Size(cur);
    if (n <= 0)
        return (int)n;          /* empty, or -1 with an exception */
    *out = PyContext_CopyCurrent();
    return *out == NULL ? -1 : 0;
}

PyObject *
goloop_context_lease(void)
{
    if (pool_len > 0)
        return pool[--pool_len];
    return PyContext_New();
}

void
goloop_context_settle(PyObject **slot, int shown)
{
    PyObject *ctx = *slot;
    if (ctx == NULL || shown || Py_REFCNT(ctx) != 1 || pool_len == POOL_MAX)
        return;
    Py_ssize_t n = PyObject_Size(ctx);
    if (n != 0) {
        if (n < 0)
            PyErr_Clear();      /* cannot happen for a Context; keep it */
        return;
    }
    *slot = NULL;
    pool[pool_len++] = ctx;     /* the slot's reference moves to the pool */
}
