package loop

import (
	"math"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// Purge cancelled timers when they are this many and over half the heap
	// (asyncio's rule), so cancel-heavy code does not grow the heap.
	minCancelledForPurge = 100
	// Longest single wait; the loop just waits again after it.
	maxTimeoutMs = 24 * 3600 * 1000
	// Timers this close to due are run now (the clock's resolution).
	clockResolution = 1e-9
)

// Run iterates until stop() was called. It returns ErrPython when an
// exception (KeyboardInterrupt, SystemExit, a signal handler's) must
// propagate out of run_forever, with the Python error indicator set.
func (e *Engine) Run() error {
	for {
		if err := e.runOnce(); err != nil {
			return err
		}
		if e.core.Stopping() || e.closed() {
			return nil
		}
	}
}

func (e *Engine) closed() bool { return e.core.ID() == 0 }

// runOnce is one iteration: wait for I/O (or the next timer), queue the
// ready fd callbacks and due timers, then run the ready snapshot.
func (e *Engine) runOnce() error {
	e.purgeCancelledTimers()

	timeout := -1
	if e.core.ReadyLen() > 0 || e.core.Stopping() || e.jobq.hasDone.Load() {
		timeout = 0
	} else if len(e.timers) > 0 {
		dt := e.timers[0].when - now()
		switch {
		case dt <= 0:
			timeout = 0
		case dt*1000 >= maxTimeoutMs:
			timeout = maxTimeoutMs
		default:
			timeout = int(math.Ceil(dt * 1000))
		}
	}

	n, errno := e.core.Wait(e.epfd, unsafe.Pointer(&e.events[0]), len(e.events), timeout)
	if n < 0 {
		if syscall.Errno(errno) != unix.EINTR {
			return syscall.Errno(errno)
		}
		n = 0
		// A signal interrupted the wait: run Python's handlers now, so
		// Ctrl-C raises KeyboardInterrupt at once.
		if !checkSignals() {
			return ErrPython
		}
	}
	if err := e.processEvents(n); err != nil {
		return err
	}
	if err := e.runCompletions(); err != nil {
		return err
	}
	e.queueDueTimers()
	if !e.core.RunReady() {
		return ErrPython
	}
	return nil
}

func (e *Engine) processEvents(n int) error {
	for i := 0; i < n; i++ {
		ev := e.events[i]
		fd := int(ev.Fd)
		switch fd {
		case e.wakeFD:
			rawRead(fd, e.buf[:8])
		case e.sigR:
			if err := e.readSignals(); err != nil {
				return err
			}
		default:
			w := e.watchers[fd]
			if w == nil {
				continue
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP) != 0 && !w.reader.Nil() {
				if err := e.queueWatcher(fd, false); err != nil {
					return err
				}
			}
			// The reader callback above has not run yet: w is still current.
			if ev.Events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 && !w.writer.Nil() {
				if err := e.queueWatcher(fd, true); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// queueWatcher puts an fd callback on the ready queue, or drops the
// watcher when its handle was cancelled (as asyncio does).
func (e *Engine) queueWatcher(fd int, write bool) error {
	w := e.watchers[fd]
	hd := w.reader
	if write {
		hd = w.writer
	}
	if hd.Cancelled() {
		if old, _ := e.Unwatch(fd, write); !old.Nil() {
			old.DecRef()
		}
		return nil
	}
	hd.IncRef()
	if !e.core.PushReady(hd) {
		return ErrPython
	}
	return nil
}

// readSignals drains the signal pipe and hands the numbers to Python.
func (e *Engine) readSignals() error {
	var got []byte
	for {
		n, errno := rawRead(e.sigR, e.buf)
		if n <= 0 || errno != 0 {
			break
		}
		got = append(got, e.buf[:n]...)
		if n < len(e.buf) {
			break
		}
	}
	if !e.core.DispatchSignals(got) {
		return ErrPython
	}
	return nil
}

func (e *Engine) queueDueTimers() {
	end := now() + clockResolution
	for len(e.timers) > 0 && e.timers[0].when < end {
		t := e.timers.pop()
		t.h.SetScheduled(false)
		if t.h.Cancelled() {
			e.core.SetTimersCancelled(e.core.TimersCancelled() - 1)
			t.h.DecRef()
			continue
		}
		if !e.core.PushReady(t.h) {
			return // out of memory: the error surfaces on the next call
		}
	}
}

// purgeCancelledTimers removes cancelled timers: all of them when they
// dominate the heap, else only those at its top.
func (e *Engine) purgeCancelledTimers() {
	nc := e.core.TimersCancelled()
	if nc > minCancelledForPurge && nc*2 > len(e.timers) {
		kept := e.timers[:0]
		for _, t := range e.timers {
			if t.h.Cancelled() {
				t.h.SetScheduled(false)
				t.h.DecRef()
			} else {
				kept = append(kept, t)
			}
		}
		for i := len(kept); i < len(e.timers); i++ {
			e.timers[i] = timer{}
		}
		e.timers = kept
		e.timers.rebuild()
		e.core.SetTimersCancelled(0)
		return
	}
	for len(e.timers) > 0 && e.timers[0].h.Cancelled() {
		t := e.timers.pop()
		t.h.SetScheduled(false)
		t.h.DecRef()
		if nc > 0 {
			nc--
		}
	}
	e.core.SetTimersCancelled(nc)
}
