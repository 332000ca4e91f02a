/* The timer heap of a loop, in C: call_at/call_later and TimerHandle.cancel
 * never leave C. (It was a Go heap; every call_later then crossed from C
 * into Go, which costs more than the heap work itself, and the GC had to
 * call into Go to see the handles.) The C iteration (run.c) reads the top
 * straight from C memory to compute its timeout and calls
 * goloop_timers_run_due / goloop_timers_purge only when there is work.
 *
 * A min-heap on (when, seq), NaN first: the ordering is plain C in
 * loop/timerheap/timer_heap.h; this file keeps the Python side (the
 * heap's references, cancelled handles, due timers to the ready queue).
 *
 * Re-entrancy: dropping a reference can run Python code (a finalizer, a
 * weakref callback) that schedules or cancels timers. Every function
 * below leaves the heap whole before it releases a reference. */
#include "goloop.h"

/* asyncio's rule: purge when more than this many timers are scheduled and
 * over half of them are cancelled. */
#define PURGE_MIN 100
/* Timers due within this of now run now (the clock's resolution). */
#define CLOCK_RESOLUTION 1e-9

/* Removes and returns the top's handle (the caller owns its reference). */
static PyObject *
pop_top(GoloopCore *core)
{
    PyObject *h = timer_pop(core->timers, &core->ntimers);
    HDATA(h)->scheduled = 0;
    return h;
}

int
goloop_timer_push(GoloopCore *core, PyObject *h)
{
    if (core->ntimers == core->timers_cap) {
        Py_ssize_t cap = core->timers_cap ? core->timers_cap * 2 : 64;
        GoloopTimer *nt = PyMem_Realloc(core->timers, cap * sizeof(GoloopTimer));
        if (nt == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        core->timers = nt;
        core->timers_cap = cap;
    }
    timer_push(core->timers, &core->ntimers, HDATA(h)->when, ++core->timer_seq, h);
    HDATA(h)->scheduled = 1;
    return 0;
}

void
goloop_timer_cancelled(GoloopCore *core, PyObject *h)
{
    /* The timer scheduled last (a timeout cancelled before any other timer
     * was scheduled: the usual case) is the heap's last slot: drop it now,
     * which leaves the heap a heap. The caller holds a reference to h, so
     * releasing the heap's runs no finalizer. */
    Py_ssize_t n = core->ntimers;
    if (n > 0 && core->timers[n - 1].h == h && Py_REFCNT(h) > 1) {
        core->ntimers = n - 1;
        HDATA(h)->scheduled = 0;
        goloop_handle_release(h);
        return;
    }
    core->timers_cancelled++;
}

/* Moves each due timer to the ready queue, handing over the heap's
 * reference; cancelled ones are released. 0, or -1 with an exception. */
int
goloop_timers_run_due(GoloopCore *core, double now)
{
    double end = now + CLOCK_RESOLUTION;
    while (core->ntimers > 0 && !(core->timers[0].when >= end)) {  /* NaN is due */
        PyObject *h = pop_top(core);
        if (HDATA(h)->cancelled) {
            if (core->timers_cancelled > 0)
                core->timers_cancelled--;
            goloop_handle_release(h);   /* the heap is whole again: may run Python */
            continue;
        }
        if (goloop_ready_push(core, h) < 0)
            return -1;
    }
    return 0;
}

/* Drops cancelled timers: all of them when they dominate the heap, else
 * those at its top. The references are released once the heap and the
 * count are consistent again. */
void
goloop_timers_purge(GoloopCore *core)
{
    Py_ssize_t n = core->ntimers;
    GoloopTimer *t = core->timers;
    if (n > PURGE_MIN && core->timers_cancelled * 2 > n) {
        PyObject **drop = PyMem_Malloc(core->timers_cancelled * sizeof(PyObject *));
        if (drop != NULL) {
            Py_ssize_t kept = 0, ndrop = 0;
            for (Py_ssize_t i = 0; i < n; i++) {
                if (HDATA(t[i].h)->cancelled && ndrop < core->timers_cancelled) {
                    HDATA(t[i].h)->scheduled = 0;
                    drop[ndrop++] = t[i].h;
                } else {
                    t[kept++] = t[i];
                }
            }
            core->ntimers = kept;
            timer_heapify(t, kept);
            core->timers_cancelled = 0;
            for (Py_ssize_t i = 0; i < ndrop; i++)
                goloop_handle_release(drop[i]);
            PyMem_Free(drop);
            return;
        }
        /* Out of memory for the list: fall back to the top only. */
    }
    while (core->ntimers > 0 && HDATA(core->timers[0].h)->cancelled) {
        PyObject *h = pop_top(core);
        if (core->timers_cancelled > 0)
            core->timers_cancelled--;
        goloop_handle_release(h);   /* the heap is whole: may run Python */
    }
}

int
goloop_timers_need_purge(GoloopCore *core)
{
    return core->ntimers > 0 &&
           (HDATA(core->timers[0].h)->cancelled ||
            (core->ntimers > PURGE_MIN && core->timers_cancelled * 2 > core->ntimers));
}

void
goloop_timers_clear(GoloopCore *core)
{
    GoloopTimer *t = core->timers;
    Py_ssize_t n = core->ntimers;
    core->timers = NULL;
    core->ntimers = core->timers_cap = 0;
    core->timers_cancelled = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        HDATA(t[i].h)->scheduled = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        goloop_handle_release(t[i].h);
    PyMem_Free(t);
}

int
goloop_timers_traverse(GoloopCore *core, visitproc visit, void *arg)
{
    for (Py_ssize_t i = 0; i < core->ntimers; i++) {
        int r = goloop_handle_traverse_queued(core->timers[i].h, visit, arg);
        if (r != 0)
            return r;
    }
    return 0;
}
