package policy

import (
	"sync"
	"unsafe"

	"goloop/loop"
	"goloop/pyext"
)

// maxBlockingJobs bounds the lookups in a blocking libc call at once, over
// all loops: each pins an OS thread, and past Go's thread limit (10,000)
// the runtime aborts the process. asyncio's default executor caps them
// too. The others wait on jobSlots as parked goroutines, holding no thread.
const maxBlockingJobs = 64

var jobSlots = make(chan struct{}, maxBlockingJobs)

// A job is blocking work (a DNS lookup) done on a goroutine, whose result
// settles a Python future on the loop thread. The goroutine never touches
// Python: it fills the job's result, then hands the job back through
// Resolver.finish, which wakes the loop via its eventfd.
type job struct {
	fut      unsafe.Pointer // the future (one reference, loop thread only)
	complete func() bool    // loop thread, GIL: settle fut; false: error set
	discard  func()         // any thread, no GIL: free what the work produced
}

// Resolver is one loop's share of the resolver: its lookups in flight and
// those finished but not yet settled. It is a loop.Service of the loop's
// engine, closed with it.
type Resolver struct {
	engine *loop.Engine
	jobs   map[*job]struct{} // started, not yet settled (loop thread)

	// The part goroutines touch. Whether jobs are done is also published
	// in the C core (Core.SetJobsPending), which the C iteration reads
	// before calling RunCompletions.
	mu   sync.Mutex
	dead bool   // the loop closed: results are discarded
	done []*job // finished, waiting for the loop thread
}

// AttachResolver gives a new loop's engine its resolver.
func AttachResolver(e *loop.Engine) {
	e.Attach(&Resolver{engine: e, jobs: map[*job]struct{}{}})
}

// ResolverOf is the resolver AttachResolver gave e.
func ResolverOf(e *loop.Engine) *Resolver {
	for _, s := range e.Services() {
		if r, ok := s.(*Resolver); ok {
			return r
		}
	}
	panic("policy: loop engine without a resolver")
}

// GetAddrInfo resolves host/port with libc getaddrinfo on a goroutine (no
// Python thread pool) and settles fut with socket.getaddrinfo's result.
func (r *Resolver) GetAddrInfo(fut unsafe.Pointer, host, port string, hostNil, portNil bool, family, typ, proto, flags int) {
	var res pyext.AddrInfo
	var code, errno int
	j := &job{}
	j.complete = func() bool { return pyext.FinishAddrInfo(j.fut, res, code, errno) }
	j.discard = func() { res.Free() }
	r.start(fut, j, func() {
		res, code, errno = pyext.GetAddrInfo(host, port, hostNil, portNil, family, typ, proto, flags)
	})
}

// GetNameInfo runs libc getnameinfo on a goroutine and settles fut.
func (r *Resolver) GetNameInfo(fut unsafe.Pointer, host, port string, flowinfo, scopeID uint32, v6 bool, flags int) {
	var ni pyext.NameInfo
	j := &job{}
	j.complete = func() bool { return pyext.FinishNameInfo(j.fut, ni) }
	j.discard = func() {}
	r.start(fut, j, func() {
		ni = pyext.GetNameInfo(host, port, flowinfo, scopeID, v6, flags)
	})
}

// start runs work on a goroutine; fut is kept alive until the job settles
// it or the loop closes.
func (r *Resolver) start(fut unsafe.Pointer, j *job, work func()) {
	pyext.IncRefObj(fut)
	j.fut = fut
	r.jobs[j] = struct{}{}
	go func() {
		jobSlots <- struct{}{}
		// A job still queued when its loop closed has no one to hand
		// its result to: skip the lookup (asyncio's executor drops
		// queued work too when the loop shuts it down).
		if !r.closed() {
			work()
		}
		<-jobSlots
		r.finish(j)
	}()
}

// closed reports whether the loop closed (any thread).
func (r *Resolver) closed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dead
}

// finish is called by the job's goroutine.
func (r *Resolver) finish(j *job) {
	r.mu.Lock()
	if r.dead {
		r.mu.Unlock()
		j.discard()
		return
	}
	r.done = append(r.done, j)
	r.engine.Core().SetJobsPending(true)
	// Under the lock: the engine closes its eventfd only after Close
	// (below) set dead.
	r.engine.Wake()
	r.mu.Unlock()
}

// RunCompletions settles the futures of finished jobs (loop thread).
func (r *Resolver) RunCompletions() error {
	r.mu.Lock()
	done := r.done
	r.done = nil
	r.engine.Core().SetJobsPending(false)
	r.mu.Unlock()
	var err error
	for i, j := range done {
		delete(r.jobs, j)
		ok := j.complete()
		pyext.DecRefObj(j.fut)
		if !ok {
			// Keep the rest for the next iteration; surface this error.
			r.mu.Lock()
			r.done = append(done[i+1:], r.done...)
			r.engine.Core().SetJobsPending(len(r.done) > 0)
			r.mu.Unlock()
			err = loop.ErrPython
			break
		}
	}
	return err
}

// Close abandons every job: in-flight ones free their own results when
// they finish; finished ones are freed here. GIL held.
func (r *Resolver) Close() {
	r.mu.Lock()
	r.dead = true
	done := r.done
	r.done = nil
	r.engine.Core().SetJobsPending(false)
	r.mu.Unlock()
	for _, j := range done {
		j.discard()
	}
	for j := range r.jobs {
		pyext.DecRefObj(j.fut)
	}
	r.jobs = nil
}

// Traverse visits each job's future (loop.Service).
func (r *Resolver) Traverse(visit func(unsafe.Pointer) int) int {
	for j := range r.jobs {
		if j.fut == nil {
			continue
		}
		if rc := visit(j.fut); rc != 0 {
			return rc
		}
	}
	return 0
}
