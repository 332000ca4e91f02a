package loop

import "unsafe"

// Traverse hands visit every Python object the engine owns a reference
// to, for the cyclic garbage collector (LoopCore's tp_traverse): each fd
// watcher's handles, each DNS job's future (the timers are C's).
// It must report only references the engine owns, one visit per
// reference: a handle being released (a batch on its way to the ready
// queue) is left out, which only makes the collector more conservative. It stops at, and returns, visit's first non-zero.
// GIL held, so nothing here is mutated meanwhile.
func (e *Engine) Traverse(visit func(unsafe.Pointer) int) int {
	for _, w := range e.watchers {
		if w == nil {
			continue
		}
		for _, h := range [2]unsafe.Pointer{w.reader.Ptr(), w.writer.Ptr()} {
			if h == nil {
				continue
			}
			if r := visit(h); r != 0 {
				return r
			}
		}
	}
	for j := range e.jobs {
		if j.fut == nil {
			continue
		}
		if r := visit(j.fut); r != 0 {
			return r
		}
	}
	return 0
}
