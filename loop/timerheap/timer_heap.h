/* The loop's timer heap ordering, in plain C (no Python.h): a binary
 * min-heap of timers on (when, seq), over opaque pointers to the timer
 * handles. pyext/timers.c keeps the heap in the C LoopCore and does the
 * Python side (references, cancelled handles, moving due timers to the
 * ready queue); loop/timerheap's Go tests check the ordering without an
 * interpreter.
 *
 * seq is the insertion order, so timers due at the same time run in the
 * order they were scheduled. A NaN `when` orders before every number: it
 * is due at once, as asyncio runs it (its `when >= end` test is false),
 * and it must not keep the heap from ordering the timers behind it; inf
 * orders last.
 *
 * Header-only (static inline): call_later and every iteration use it, and
 * the functions compile into pyext/timers.c as the static ones they
 * replaced did. */
#ifndef GOLOOP_TIMER_HEAP_H
#define GOLOOP_TIMER_HEAP_H

#include <stdint.h>
#include <sys/types.h>

typedef struct {
    double when;
    uint64_t seq;               /* insertion order: FIFO among equal `when` */
    void *h;                    /* the timer handle (a PyObject * in pyext) */
} goloop_timer;

/* Whether a runs before b. */
static inline int
timer_before(const goloop_timer *a, const goloop_timer *b)
{
    double x = a->when, y = b->when;
    if (x != y) {
        if (x != x || y != y)          /* a NaN goes first */
            return x != x && y == y;
        return x < y;
    }
    return a->seq < b->seq;
}

static inline void
timer_sift_up(goloop_timer *t, ssize_t i)
{
    goloop_timer x = t[i];
    while (i > 0) {
        ssize_t p = (i - 1) / 2;
        if (!timer_before(&x, &t[p]))
            break;
        t[i] = t[p];
        i = p;
    }
    t[i] = x;
}

static inline void
timer_sift_down(goloop_timer *t, ssize_t n, ssize_t i)
{
    goloop_timer x = t[i];
    for (;;) {
        ssize_t l = 2 * i + 1;
        if (l >= n)
            break;
        ssize_t m = l;
        if (l + 1 < n && timer_before(&t[l + 1], &t[l]))
            m = l + 1;
        if (!timer_before(&t[m], &x))
            break;
        t[i] = t[m];
        i = m;
    }
    t[i] = x;
}

/* Makes t[0, n) a heap again (after slots were removed anywhere). */
static inline void
timer_heapify(goloop_timer *t, ssize_t n)
{
    for (ssize_t i = n / 2 - 1; i >= 0; i--)
        timer_sift_down(t, n, i);
}

/* Adds a timer at t[*n] (the caller made room) and counts it. */
static inline void
timer_push(goloop_timer *t, ssize_t *n, double when, uint64_t seq, void *h)
{
    ssize_t i = (*n)++;
    t[i].when = when;
    t[i].seq = seq;
    t[i].h = h;
    timer_sift_up(t, i);
}

/* Removes the first timer (*n > 0) and returns its handle. */
static inline void *
timer_pop(goloop_timer *t, ssize_t *n)
{
    void *h = t[0].h;
    ssize_t left = --*n;
    if (left > 0) {
        t[0] = t[left];
        timer_sift_down(t, left, 0);
    }
    return h;
}

#endif /* GOLOOP_TIMER_HEAP_H */
