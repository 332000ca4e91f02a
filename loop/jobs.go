package loop

import (
	"sync"
	"unsafe"

	"goloop/pyext"
)

// A job is blocking work (a DNS lookup) done on a goroutine, whose result
// settles a Python future on the loop thread. The goroutine never touches
// Python: it fills the job's result, then hands the job back through
// Engine.finish, which wakes the loop via the eventfd.
type job struct {
	fut      unsafe.Pointer // the future (one reference, loop thread only)
	complete func() bool    // loop thread, GIL: settle fut; false: error set
	discard  func()         // any thread, no GIL: free what the work produced
}

// jobQueue is the part of the engine goroutines may touch. Whether jobs
// are done is also published in the C core (Core.SetJobsPending), which
// the C iteration reads before calling RunCompletions.
type jobQueue struct {
	mu   sync.Mutex
	dead bool   // the loop closed: results are discarded
	done []*job // finished, waiting for the loop thread
}

// maxBlockingJobs bounds the jobs in a blocking C call at once, over all
// loops: each pins an OS thread, and past Go's thread limit (10,000) the
// runtime aborts the process. asyncio's default executor caps them too.
// The others wait on jobSlots as parked goroutines, holding no thread.
const maxBlockingJobs = 64

var jobSlots = make(chan struct{}, maxBlockingJobs)

// start runs work on a goroutine; fut is kept alive until the job settles
// it or the loop closes.
func (e *Engine) start(fut unsafe.Pointer, j *job, work func()) {
	pyext.IncRefObj(fut)
	j.fut = fut
	e.jobs[j] = struct{}{}
	go func() {
		jobSlots <- struct{}{}
		// A job still queued when its loop closed has no one to hand
		// its result to: skip the lookup (asyncio's executor drops
		// queued work too when the loop shuts it down).
		if !e.jobq.closed() {
			work()
		}
		<-jobSlots
		e.finish(j)
	}()
}

// closed reports whether the loop closed (any thread).
func (q *jobQueue) closed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dead
}

// finish is called by the job's goroutine.
func (e *Engine) finish(j *job) {
	q := &e.jobq
	q.mu.Lock()
	if q.dead {
		q.mu.Unlock()
		j.discard()
		return
	}
	q.done = append(q.done, j)
	e.core.SetJobsPending(true)
	// Under the lock: Close closes the eventfd only after setting dead.
	rawWrite(e.wakeFD, one[:])
	q.mu.Unlock()
}

var one = [8]byte{1}

// RunCompletions settles the futures of finished jobs (loop thread).
func (e *Engine) RunCompletions() error {
	q := &e.jobq
	q.mu.Lock()
	done := q.done
	q.done = nil
	e.core.SetJobsPending(false)
	q.mu.Unlock()
	var err error
	for i, j := range done {
		delete(e.jobs, j)
		ok := j.complete()
		pyext.DecRefObj(j.fut)
		if !ok {
			// Keep the rest for the next iteration; surface this error.
			q.mu.Lock()
			q.done = append(done[i+1:], q.done...)
			e.core.SetJobsPending(len(q.done) > 0)
			q.mu.Unlock()
			err = ErrPython
			break
		}
	}
	return err
}

// closeJobs abandons every job: in-flight ones free their own results
// when they finish; finished ones are freed here. GIL held.
func (e *Engine) closeJobs() {
	q := &e.jobq
	q.mu.Lock()
	q.dead = true
	done := q.done
	q.done = nil
	e.core.SetJobsPending(false)
	q.mu.Unlock()
	for _, j := range done {
		j.discard()
	}
	for j := range e.jobs {
		pyext.DecRefObj(j.fut)
	}
	e.jobs = nil
}
