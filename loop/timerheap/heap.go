// Package timerheap is the ordering of each loop's timer heap, in plain C
// (timer_heap.h): a min-heap on (when, insertion order), NaN first and inf
// last. pyext/timers.c includes the header and keeps the heap in the C
// LoopCore (call_later and the C iteration never cross into Go); this
// package's Go API drives the same functions so heap_test.go can check
// the ordering without an interpreter. pyext imports the package so that
// Go rebuilds the extension whenever the header changes.
package timerheap

/*
#cgo CFLAGS: -Wall -Werror=implicit-function-declaration
#include <stdlib.h>
#include "timer_heap.h"

// The tests' handles are integers, stored in the opaque handle slot.
static void push_id(goloop_timer *t, ssize_t *n, double when, uint64_t seq, uintptr_t id) {
    timer_push(t, n, when, seq, (void *)id);
}
static uintptr_t pop_id(goloop_timer *t, ssize_t *n) {
    return (uintptr_t)timer_pop(t, n);
}
*/
import "C"

import "unsafe"

// Heap is a fixed-capacity timer heap in C memory whose handles are ints.
type Heap struct {
	t   *C.goloop_timer
	n   C.ssize_t
	cap int
	seq uint64
}

// New makes an empty heap for up to capacity timers.
func New(capacity int) *Heap {
	return &Heap{t: (*C.goloop_timer)(C.calloc(C.size_t(capacity), C.sizeof_goloop_timer)), cap: capacity}
}

// Free releases the heap's memory.
func (h *Heap) Free() { C.free(unsafe.Pointer(h.t)); h.t = nil }

// Len is the number of timers.
func (h *Heap) Len() int { return int(h.n) }

// Push schedules timer id at when (after every timer pushed before it).
func (h *Heap) Push(when float64, id int) {
	if int(h.n) == h.cap {
		panic("timerheap: full")
	}
	h.seq++
	C.push_id(h.t, &h.n, C.double(when), C.uint64_t(h.seq), C.uintptr_t(id))
}

// Pop removes the first timer and returns its id.
func (h *Heap) Pop() int { return int(C.pop_id(h.t, &h.n)) }

// Remove drops every timer whose id drop accepts, then rebuilds the heap
// (as the purge of cancelled timers does).
func (h *Heap) Remove(drop func(id int) bool) {
	slots := unsafe.Slice(h.t, h.cap)
	kept := 0
	for i := 0; i < int(h.n); i++ {
		if !drop(int(uintptr(slots[i].h))) {
			slots[kept] = slots[i]
			kept++
		}
	}
	h.n = C.ssize_t(kept)
	C.timer_heapify(h.t, h.n)
}
