package loop

import "unsafe"

// Traverse hands visit every Python object the engine owns a reference
// to, for the cyclic garbage collector (LoopCore's tp_traverse): those of
// its services (the DNS jobs' futures; the timers and fd watchers are C's,
// visited there). It stops at, and returns, visit's first non-zero. GIL
// held, so nothing here is mutated meanwhile.
func (e *Engine) Traverse(visit func(unsafe.Pointer) int) int {
	for _, s := range e.services {
		if r := s.Traverse(visit); r != 0 {
			return r
		}
	}
	return 0
}
