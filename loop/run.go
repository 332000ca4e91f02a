package loop

import (
	"math"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"goloop/cgo"
)

const (
	// Purge cancelled timers when the heap holds more than this many and
	// over half are cancelled (asyncio's rule), so cancel-heavy code does
	// not grow the heap.
	minTimersForPurge = 100
	// Longest single wait; the loop just waits again after it.
	maxTimeoutMs = 24 * 3600 * 1000
	// Timers this close to due are run now (the clock's resolution).
	clockResolution = 1e-9
	// How often the loop goroutine yields to the Go scheduler (see Run).
	yieldEveryNs = 4_000_000
)

// Run iterates until stop() was called. It returns ErrPython when an
// exception (KeyboardInterrupt, SystemExit, a signal handler's) must
// propagate out of run_forever, with the Python error indicator set.
func (e *Engine) Run() error {
	lastYield := nanotime()
	for {
		if err := e.runOnce(); err != nil {
			return err
		}
		if e.core.Stopping() || e.closed() {
			return nil
		}
		// The loop goroutine never blocks in Go, so the scheduler would see
		// it "running" forever: after 10 ms sysmon forces a preemption
		// (SIGURG into the loop thread), takes its P away during the next
		// cgo call and then polls every 20 µs for a while — thousands of
		// wake-ups a second under load. Yielding now and then shows progress.
		if t := nanotime(); t-lastYield > yieldEveryNs {
			lastYield = t
			runtime.Gosched()
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
		case dt <= 0 || dt != dt: // due, or a NaN `when` (due at once)
			timeout = 0
		case dt*1000 >= maxTimeoutMs:
			timeout = maxTimeoutMs
		default:
			timeout = int(math.Ceil(dt * 1000))
		}
	}

	n := pollNow(e.epfd, e.events)
	errno := 0
	if n == 0 && timeout != 0 {
		n, errno = e.core.Wait(e.epfd, unsafe.Pointer(&e.events[0]), len(e.events), timeout)
	}
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
	if err := e.queueDueTimers(); err != nil {
		return err
	}
	if !e.core.RunReady() {
		return ErrPython
	}
	return nil
}

// processEvents queues the callbacks of ready fds. Handles are collected
// and appended to the ready queue in one C call (new references: the
// watchers keep theirs).
func (e *Engine) processEvents(n int) error {
	for i := 0; i < n; i++ {
		ev := e.events[i]
		fd := int(ev.Fd)
		switch fd {
		case e.wakeFD:
			rawRead(fd, e.buf[:8])
			e.core.WakeDrained()
		case e.sigR:
			// Keep asyncio's order: what is already due goes first.
			ok := e.core.Flush(&e.batch, true)
			e.dropCancelled()
			if !ok {
				return ErrPython
			}
			if err := e.readSignals(); err != nil {
				return err
			}
		default:
			w := e.watchers.get(fd)
			if w == nil {
				continue
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP) != 0 && !w.reader.Nil() {
				e.queueWatcher(fd, false, w.reader)
			}
			if ev.Events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 && !w.writer.Nil() {
				e.queueWatcher(fd, true, w.writer)
			}
		}
	}
	ok := e.core.Flush(&e.batch, true)
	e.dropCancelled()
	if !ok {
		return ErrPython
	}
	return nil
}

// queueWatcher adds an fd callback to the batch, or drops the watcher
// when its handle was cancelled (as asyncio does). The batch holds no
// references until flushed, so no Python code may run before then: the
// dropped handles are released after the flush.
func (e *Engine) queueWatcher(fd int, write bool, h cgo.Handle) {
	if h.Cancelled() {
		if old, _ := e.Unwatch(fd, write, h); !old.Nil() {
			e.drop = append(e.drop, old)
		}
		return
	}
	e.batch.Add(h)
}

func (e *Engine) dropCancelled() {
	for i, h := range e.drop {
		e.drop[i] = cgo.Handle{}
		h.DecRef()
	}
	e.drop = e.drop[:0]
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

// queueDueTimers moves due timers to the ready queue, handing over the
// heap's references in one C call.
func (e *Engine) queueDueTimers() error {
	end := now() + clockResolution
	for len(e.timers) > 0 && !(e.timers[0].when >= end) { // NaN is due
		t := e.timers.pop()
		t.h.SetScheduled(false)
		if t.h.Cancelled() {
			e.core.SetTimersCancelled(e.core.TimersCancelled() - 1)
			t.h.DecRef()
			continue
		}
		e.batch.Add(t.h)
	}
	if !e.core.Flush(&e.batch, false) {
		return ErrPython
	}
	return nil
}

// purgeCancelledTimers removes cancelled timers: all of them when they
// dominate the heap, else only those at its top. The references are
// dropped only once the heap and the count are consistent again: freeing
// a handle can run Python (finalizers, weakref callbacks) that schedules
// or cancels timers.
func (e *Engine) purgeCancelledTimers() {
	nc := e.core.TimersCancelled()
	drop := e.purged[:0]
	if len(e.timers) > minTimersForPurge && nc*2 > len(e.timers) {
		kept := e.timers[:0]
		for _, t := range e.timers {
			if t.h.Cancelled() {
				t.h.SetScheduled(false)
				drop = append(drop, t.h)
			} else {
				kept = append(kept, t)
			}
		}
		for i := len(kept); i < len(e.timers); i++ {
			e.timers[i] = timer{}
		}
		e.timers = kept
		e.timers.rebuild()
		nc = 0
	} else {
		for len(e.timers) > 0 && e.timers[0].h.Cancelled() {
			t := e.timers.pop()
			t.h.SetScheduled(false)
			drop = append(drop, t.h)
			if nc > 0 {
				nc--
			}
		}
	}
	e.core.SetTimersCancelled(nc)
	e.purged = drop[:0]
	for i, h := range drop {
		drop[i] = cgo.Handle{}
		h.DecRef()
	}
}
