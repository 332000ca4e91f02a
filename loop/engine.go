// Package loop is goloop's engine: the epoll poller, fd watchers, the
// signal and thread-safe wake-up fds, DNS jobs, and the iteration that ties
// them to the ready queue and the timer heap kept in C (cgo.Core). An
// Engine is used only on the thread running or owning its loop, with the
// GIL held.
package loop

import (
	"errors"
	"sync"

	"golang.org/x/sys/unix"

	"goloop/cgo"
)

// ErrPython means a Python exception is already set; return it as is.
var ErrPython = errors.New("python exception set")

// Engine is the Go half of one event loop.
type Engine struct {
	core     cgo.Core
	epfd     int
	wakeFD   int // eventfd: call_soon_threadsafe wake-ups
	sigR     int // signal wake-up pipe (Python writes signal numbers)
	sigW     int
	watchers watcherTable
	events   []unix.EpollEvent
	buf      []byte
	jobs     map[*job]struct{} // started, not yet settled (loop thread)
	batch    cgo.ReadyBatch    // handles on their way to the ready queue
	drop     []cgo.Handle      // cancelled watchers to release after a flush
	jobq     jobQueue
}

// watcher is what add_reader/add_writer registered on one fd.
type watcher struct {
	reader cgo.Handle
	writer cgo.Handle
}

var (
	registryMu sync.Mutex
	registry   = map[uint64]*Engine{}
	nextID     uint64
)

// New creates the engine of a new loop and records its id in core.
func New(core cgo.Core) (*Engine, error) {
	e := &Engine{core: core, epfd: -1, wakeFD: -1, sigR: -1, sigW: -1,
		jobs: map[*job]struct{}{}, events: make([]unix.EpollEvent, 256),
		buf: make([]byte, 512)}
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
	core.SetFDs(e.wakeFD, e.sigW)
	return e, nil
}

// Lookup finds the engine of a core; nil once closed.
func Lookup(core cgo.Core) *Engine {
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

// Close drops every watcher reference and closes the engine's fds (the
// timers live in C, which drops them). It needs the GIL (it releases
// Python references).
func (e *Engine) Close() {
	unregister(e.core.ID())
	e.core.SetID(0)
	e.core.SetFDs(-1, -1)
	e.closeJobs()
	watchers := e.watchers
	e.watchers = watcherTable{}
	for _, w := range watchers {
		if w == nil {
			continue
		}
		if !w.reader.Nil() {
			w.reader.DecRef()
		}
		if !w.writer.Nil() {
			w.writer.DecRef()
		}
	}
	e.batch.Free()
	e.closeFDs()
}
