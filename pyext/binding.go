// Package pyext is the CPython extension: every piece of goloop that
// includes Python.h, and only those. Its C files are the extension types
// (Handle, TimerHandle, LoopCore, the stream transport's Python face) and
// the engine's C core that runs Python callbacks and owns their
// references: the iteration (run.c), the timer heap (timers.c), the
// fd-watcher table (watchers.c). Its Go files are the typed binding that
// the other Go packages use to reach Python (binding.go, resolve.go).
// Every Go function here must be called on a thread that holds the GIL
// unless its comment says otherwise.
package pyext

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

import (
	"sync/atomic"
	"unsafe"

	// stream.c and goloop.h include these packages' headers
	// (transports/stream_io.h, loop/timerheap/timer_heap.h): the imports
	// make Go rebuild this package whenever one of them changes (Go
	// tracks a package's own files, not the headers it includes).
	_ "goloop/loop/timerheap"
	_ "goloop/transports"
)

// Core is the C LoopCore object of one loop (C memory, owned by Python).
// Go reads and writes its plain fields directly: no cgo call.
type Core struct{ p *C.GoloopCore }

// CoreFrom wraps a GoloopCore pointer received from C.
func CoreFrom(p unsafe.Pointer) Core { return Core{(*C.GoloopCore)(p)} }

// ID is the Go engine id stored in the core (0 once closed).
func (c Core) ID() uint64 { return uint64(c.p.engine) }

// SetID records the engine id in the core.
func (c Core) SetID(id uint64) { c.p.engine = C.uint64_t(id) }

// SetFDs publishes the engine's fds to the C iteration: the poller, the
// wake-up eventfd, and the signal wake-up pipe's two ends.
func (c Core) SetFDs(epfd, wake, signalR, signalW int) {
	c.p.epfd = C.int(epfd)
	c.p.wake_fd = C.int(wake)
	c.p.signal_rfd = C.int(signalR)
	c.p.signal_fd = C.int(signalW)
}

// SetJobsPending tells the C iteration whether finished jobs wait for
// RunCompletions. Any thread: an atomic store.
func (c Core) SetJobsPending(v bool) {
	var n int32
	if v {
		n = 1
	}
	atomic.StoreInt32((*int32)(unsafe.Pointer(&c.p.jobs_pending)), n)
}

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
