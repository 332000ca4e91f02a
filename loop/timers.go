package loop

import "goloop/cgo"

// timer is one scheduled TimerHandle; the heap owns one reference to it.
type timer struct {
	when float64
	seq  uint64 // insertion order: FIFO among equal `when`
	h    cgo.Handle
}

// timerHeap is a binary min-heap on (when, seq), written out by hand so
// pushes and pops allocate nothing and make no interface calls.
type timerHeap []timer

// A NaN `when` orders before every number (and among NaNs by seq): it
// is due at once, as asyncio runs it (its `when >= end` test is false),
// and it must not stop the heap from ordering the timers behind it.
func (t timerHeap) less(i, j int) bool {
	a, b := t[i].when, t[j].when
	if a != b {
		if a != a || b != b { // a NaN: it goes first
			return a != a && b == b
		}
		return a < b
	}
	return t[i].seq < t[j].seq
}

func (t *timerHeap) push(x timer) {
	*t = append(*t, x)
	h := *t
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (t *timerHeap) pop() timer {
	h := *t
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = timer{}
	*t = h[:last]
	t.down(0)
	return top
}

func (t timerHeap) down(i int) {
	n := len(t)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && t.less(r, l) {
			m = r
		}
		if !t.less(m, i) {
			return
		}
		t[i], t[m] = t[m], t[i]
		i = m
	}
}

// rebuild restores the heap property after arbitrary removals.
func (t timerHeap) rebuild() {
	for i := len(t)/2 - 1; i >= 0; i-- {
		t.down(i)
	}
}
