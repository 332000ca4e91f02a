// Package loop is the Go half of goloop's engine: it makes each loop's
// poller and wake-up fds, runs the blocking work that needs goroutines (DNS
// lookups, on a bounded pool of threads) and hands their results back to
// the loop thread. The iteration itself -- waiting in epoll, dispatching
// ready fds and due timers, running callbacks -- is C (pyext/run.c), where it
// needs no cgo crossing per event. An Engine is used on the thread that
// owns its loop, with the GIL held, except where a comment says otherwise.
package loop

import (
	"errors"
	"sync"

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
	jobs   map[*job]struct{} // started, not yet settled (loop thread)
	jobq   jobQueue
}

var (
	registryMu sync.Mutex
	registry   = map[uint64]*Engine{}
	nextID     uint64
)

// New creates the engine of a new loop and records its id in core.
func New(core pyext.Core) (*Engine, error) {
	e := &Engine{core: core, epfd: -1, wakeFD: -1, sigR: -1, sigW: -1,
		jobs: map[*job]struct{}{}}
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

// Close abandons the jobs in flight and closes the engine's fds (the
// timers and fd watchers are C's, which drops them). It needs the GIL (it
// releases Python references).
func (e *Engine) Close() {
	unregister(e.core.ID())
	e.core.SetID(0)
	e.core.SetFDs(-1, -1, -1, -1)
	e.closeJobs()
	e.closeFDs()
}
