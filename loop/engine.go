// Package loop is the Go half of goloop's engine: it creates each loop's
// epoll fd, wake-up eventfd and signal wake-up pipe, keeps the registry
// that maps a C LoopCore to its Engine, and holds the per-loop services
// other packages attach (policy's resolver), which the engine closes and
// lets the GC traverse. The iteration itself -- waiting in epoll,
// dispatching ready fds and due timers, running callbacks -- is C that
// runs Python callbacks (pyext/run.c, timers.c, watchers.c), so it needs no
// cgo crossing per event; the timer heap's ordering is plain C in
// loop/timerheap. See the README, "How a callback runs". An Engine is used
// on the thread that owns its loop, with the GIL held, except where a
// comment says otherwise.
package loop

import (
	"errors"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"goloop/pyext"
)

// ErrPython means a Python exception is already set; return it as is.
var ErrPython = errors.New("python exception set")

// Engine is the Go half of one event loop.
type Engine struct {
	core   pyext.Core
	epfd   int
	wakeFD int // eventfd: call_soon_threadsafe and finished jobs wake the wait
	sigR   int // signal wake-up pipe (Python writes signal numbers)
	sigW   int
	// services attached by other packages, closed (in order) before the
	// fds, so no goroutine of theirs can write to a closed wake-up fd.
	services []Service
}

// A Service is per-loop state that lives in another package (policy's
// DNS resolver) but dies with the loop and may hold Python references.
type Service interface {
	// Close releases what the service holds; GIL held, loop thread.
	Close()
	// Traverse hands visit each Python object the service holds a
	// reference to (LoopCore's tp_traverse), stopping at a non-zero.
	Traverse(visit func(unsafe.Pointer) int) int
}

var (
	registryMu sync.Mutex
	registry   = map[uint64]*Engine{}
	nextID     uint64
)

// New creates the engine of a new loop and records its id in core.
func New(core pyext.Core) (*Engine, error) {
	e := &Engine{core: core, epfd: -1, wakeFD: -1, sigR: -1, sigW: -1}
	var err error
	if e.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, err
	}
	if e.wakeFD, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		e.closeFDs()
		return nil, err
	}
	var p [2]int
	if err = unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		e.closeFDs()
		return nil, err
	}
	e.sigR, e.sigW = p[0], p[1]
	for _, fd := range []int{e.wakeFD, e.sigR} {
		if err = epollCtl(e.epfd, unix.EPOLL_CTL_ADD, fd, unix.EPOLLIN); err != nil {
			e.closeFDs()
			return nil, err
		}
	}
	core.SetID(register(e))
	core.SetFDs(e.epfd, e.wakeFD, e.sigR, e.sigW)
	return e, nil
}

// Lookup finds the engine of a core; nil once closed.
func Lookup(core pyext.Core) *Engine {
	id := core.ID()
	if id == 0 {
		return nil
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	return registry[id]
}

func register(e *Engine) uint64 {
	registryMu.Lock()
	defer registryMu.Unlock()
	nextID++
	registry[nextID] = e
	return nextID
}

func unregister(id uint64) {
	registryMu.Lock()
	defer registryMu.Unlock()
	delete(registry, id)
}

func (e *Engine) closeFDs() {
	for _, fd := range []*int{&e.epfd, &e.wakeFD, &e.sigR, &e.sigW} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

// Core is the C LoopCore of the engine's loop.
func (e *Engine) Core() pyext.Core { return e.core }

// Attach adds a per-loop service (loop thread, GIL held).
func (e *Engine) Attach(s Service) { e.services = append(e.services, s) }

// Services returns the attached services, in the order of attachment.
func (e *Engine) Services() []Service { return e.services }

// Wake makes the loop's wait in epoll return (any thread). The caller
// must know the engine is not closed yet: a service calls it under the
// lock that its own Close takes, and Close runs before closeFDs.
func (e *Engine) Wake() { rawWrite(e.wakeFD, one[:]) }

var one = [8]byte{1}

// Close closes the attached services (DNS lookups in flight are
// abandoned) and the engine's fds (the timers and fd watchers are C's,
// which drops them). It needs the GIL (it releases Python references).
func (e *Engine) Close() {
	unregister(e.core.ID())
	e.core.SetID(0)
	e.core.SetFDs(-1, -1, -1, -1)
	for _, s := range e.services {
		s.Close()
	}
	e.services = nil
	e.closeFDs()
}
