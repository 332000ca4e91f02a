// Package cgo is goloop's typed binding to the CPython C API and the home of
// its C extension types (Handle, TimerHandle, LoopCore in *.c). It is the
// only Go package whose C code includes Python.h. Every function here must
// be called on a thread that holds the GIL unless its comment says otherwise.
package cgo

/*
#cgo CFLAGS: -Werror=implicit-function-declaration -Wall -Wno-unused-function
// setup.py puts the target interpreter's include dir in CGO_CFLAGS, which
// cgo places first; this fallback only lets plain `go vet ./...` and
// `go build` find some Python.h (Debian's python3-dev) during development.
#cgo CFLAGS: -I/usr/include/python3.11
#include <stdlib.h>
#include "goloop.h"
*/
import "C"

import "unsafe"

// Core is the C LoopCore object of one loop (C memory, owned by Python).
// Go reads and writes its plain fields directly: no cgo call.
type Core struct{ p *C.GoloopCore }

// CoreFrom wraps a GoloopCore pointer received from C.
func CoreFrom(p unsafe.Pointer) Core { return Core{(*C.GoloopCore)(p)} }

// ID is the Go engine id stored in the core (0 once closed).
func (c Core) ID() uint64 { return uint64(c.p.engine) }

// SetID records the engine id in the core.
func (c Core) SetID(id uint64) { c.p.engine = C.uint64_t(id) }

// ReadyLen is the number of callbacks in the ready queue.
func (c Core) ReadyLen() int { return int(c.p.len) }

// Stopping reports whether stop() was called.
func (c Core) Stopping() bool { return c.p.stopping != 0 }

// SetFDs publishes the fds C writes to: the call_soon_threadsafe eventfd
// and the signal wake-up pipe's write end.
func (c Core) SetFDs(wake, signal int) {
	c.p.wake_fd = C.int(wake)
	c.p.signal_fd = C.int(signal)
}

// WakeDrained clears the "wake-up pending" flag after the eventfd was
// drained, so the next call_soon_threadsafe writes it again.
func (c Core) WakeDrained() { c.p.wake_pending = 0 }

// NextTimer is the `when` of the earliest timer (read from C memory, no
// cgo call); false when no timer is scheduled.
func (c Core) NextTimer() (float64, bool) {
	if c.p.ntimers == 0 {
		return 0, false
	}
	return float64(c.p.timers.when), true
}

// RunDueTimers moves the timers due at now to the ready queue; false: a
// Python exception is set.
func (c Core) RunDueTimers(now float64) bool {
	return C.goloop_timers_run_due(c.p, C.double(now)) == 0
}

// TimersNeedPurge reports whether cancelled timers should be dropped now.
func (c Core) TimersNeedPurge() bool {
	n := int(c.p.ntimers)
	if n == 0 {
		return false
	}
	return c.p.timers_cancelled > 0 && C.goloop_timers_need_purge(c.p) != 0
}

// PurgeTimers drops cancelled timers (asyncio's rule; see timers.c).
func (c Core) PurgeTimers() { C.goloop_timers_purge(c.p) }

// RunReady runs the callbacks ready at entry; false means a Python
// exception is set and must propagate.
func (c Core) RunReady() bool { return C.goloop_run_ready(c.p) == 0 }

// PushReady appends h to the ready queue, handing over one reference.
func (c Core) PushReady(h Handle) bool {
	return C.goloop_ready_push(c.p, h.p) == 0
}

// ReadyBatch collects handles to append to the ready queue in one C call.
// Its array lives in C memory: a Go slice passed to C would be scanned by
// the runtime's cgo pointer check on every flush (measurable per event).
type ReadyBatch struct {
	ptrs     **C.PyObject
	n, capTo int
}

// Add queues h.
func (b *ReadyBatch) Add(h Handle) {
	if b.n == b.capTo {
		b.grow()
	}
	unsafe.Slice(b.ptrs, b.capTo)[b.n] = h.p
	b.n++
}

func (b *ReadyBatch) grow() {
	size := max(64, 2*b.capTo)
	p := C.realloc(unsafe.Pointer(b.ptrs), C.size_t(size)*C.size_t(unsafe.Sizeof(b.ptrs)))
	if p == nil {
		panic("goloop: out of memory growing the ready batch")
	}
	b.ptrs, b.capTo = (**C.PyObject)(p), size
}

// Len is the number of queued handles.
func (b *ReadyBatch) Len() int { return b.n }

// Free releases the batch's C array (the batch must be empty).
func (b *ReadyBatch) Free() {
	C.free(unsafe.Pointer(b.ptrs))
	*b = ReadyBatch{}
}

// Flush appends the batch to the core's ready queue. incref: take new
// references (fd watchers keep theirs); else the batch's references are
// handed over (timers leaving the heap). false: a Python error is set.
func (c Core) Flush(b *ReadyBatch, incref bool) bool {
	if b.n == 0 {
		return true
	}
	inc := C.int(0)
	if incref {
		inc = 1
	}
	ok := C.goloop_ready_push_batch(c.p, b.ptrs, C.int(b.n), inc) == 0
	b.n = 0
	return ok
}

// Wait runs epoll_wait on the loop thread, releasing the GIL when
// timeoutMs != 0. events points to a buffer of maxEvents epoll_event.
func (c Core) Wait(epfd int, events unsafe.Pointer, maxEvents, timeoutMs int) (int, int) {
	var errno C.int
	n := C.goloop_wait(c.p, C.int(epfd), events, C.int(maxEvents), C.int(timeoutMs), &errno)
	return int(n), int(errno)
}

// DispatchSignals hands signal numbers read from the wake-up pipe to
// Python and runs Python-level signal handlers. false: exception set.
func (c Core) DispatchSignals(buf []byte) bool {
	var p *C.char
	if len(buf) > 0 {
		p = (*C.char)(unsafe.Pointer(&buf[0]))
	}
	return C.goloop_dispatch_signals(c.p, p, C.int(len(buf))) == 0
}

// CheckSignals runs pending Python signal handlers; false: exception set.
func CheckSignals() bool { return C.goloop_check_signals() == 0 }

// Handle is a goloop Handle/TimerHandle object.
type Handle struct{ p *C.PyObject }

// HandleFrom wraps a handle object pointer received from C.
func HandleFrom(p unsafe.Pointer) Handle { return Handle{(*C.PyObject)(p)} }

// data is the handle's C state (HDATA): read and written without a cgo call.
func (h Handle) data() *C.GoloopHandleData {
	return (*C.GoloopHandleData)(unsafe.Add(unsafe.Pointer(h.p), C.goloop_handle_offset))
}

// Ptr is the object pointer, for returning it to C.
func (h Handle) Ptr() unsafe.Pointer { return unsafe.Pointer(h.p) }

// Nil reports whether h holds no object.
func (h Handle) Nil() bool { return h.p == nil }

// Cancelled reads the handle's cancelled flag.
func (h Handle) Cancelled() bool { return h.data().cancelled != 0 }

// IncRef takes a new reference.
func (h Handle) IncRef() { C.goloop_incref(h.p) }

// DecRef drops a reference.
func (h Handle) DecRef() { C.goloop_decref(h.p) }

// Error kinds for SetError.
const (
	RuntimeError = C.GOLOOP_ERR_RUNTIME
	OSError      = C.GOLOOP_ERR_OS
	ValueError   = C.GOLOOP_ERR_VALUE
	TypeError    = C.GOLOOP_ERR_TYPE
)

// SetError sets a Python exception of the given kind.
func SetError(kind int, msg string) {
	cs := C.CString(msg)
	C.goloop_set_error(C.int(kind), cs)
	C.free(unsafe.Pointer(cs))
}

// SetErrno sets OSError (or its errno subclass) for errno e.
func SetErrno(e int) { C.goloop_set_errno(C.int(e)) }

// ErrOccurred reports whether a Python exception is set.
func ErrOccurred() bool { return C.goloop_err_occurred() != 0 }
