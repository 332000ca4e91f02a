package timerheap

import (
	"math"
	"math/rand"
	"sort"
	"testing"
)

type timer struct {
	when float64
	id   int // also the insertion order
}

// reference orders timers as asyncio runs them: NaN first, then by when,
// ties in insertion order. The order among NaN timers themselves is not
// specified (NaN compares unequal to NaN, so the heap never reaches the
// insertion-order tie-break; asyncio's heap leaves it open too): same
// compares them as a set.
func reference(ts []timer) []int {
	s := append([]timer(nil), ts...)
	sort.SliceStable(s, func(i, j int) bool {
		a, b := s[i].when, s[j].when
		if math.IsNaN(a) || math.IsNaN(b) {
			return math.IsNaN(a) && !math.IsNaN(b)
		}
		return a < b
	})
	ids := make([]int, len(s))
	for i, t := range s {
		ids[i] = t.id
	}
	return ids
}

func drain(h *Heap) []int {
	var ids []int
	for h.Len() > 0 {
		ids = append(ids, h.Pop())
	}
	return ids
}

// same compares popped timers with reference's order, the first nan of
// them (the NaN timers) as a set.
func same(got, want []int, nan int) bool {
	if len(got) != len(want) {
		return false
	}
	g := append([]int(nil), got[:nan]...)
	w := append([]int(nil), want[:nan]...)
	sort.Ints(g)
	sort.Ints(w)
	return equal(g, w) && equal(got[nan:], want[nan:])
}

func countNaN(ts []timer) int {
	n := 0
	for _, t := range ts {
		if math.IsNaN(t.when) {
			n++
		}
	}
	return n
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNaNFirstInfLastTiesInOrder(t *testing.T) {
	h := New(8)
	defer h.Free()
	for i, w := range []float64{5, math.Inf(1), 1, math.NaN(), 1, math.Inf(-1), math.NaN(), 5} {
		h.Push(w, i)
	}
	got := drain(h)
	want := []int{3, 6, 5, 2, 4, 0, 7, 1}
	if !same(got, want, 2) {
		t.Fatalf("popped %v, want %v", got, want)
	}
}

func TestRandomScheduleMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for round := 0; round < 200; round++ {
		n := 1 + rng.Intn(300)
		h := New(n)
		var ts []timer
		for i := 0; i < n; i++ {
			var w float64
			switch rng.Intn(10) {
			case 0:
				w = math.NaN()
			case 1:
				w = math.Inf(1)
			default:
				w = float64(rng.Intn(20)) // many ties
			}
			ts = append(ts, timer{w, i})
			h.Push(w, i)
		}
		if got, want := drain(h), reference(ts); !same(got, want, countNaN(ts)) {
			t.Fatalf("round %d: popped %v, want %v", round, got, want)
		}
		h.Free()
	}
}

func TestInterleavedPushPop(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	h := New(1000)
	defer h.Free()
	var live []timer
	next := 0
	for step := 0; step < 5000; step++ {
		if h.Len() < 1000 && (h.Len() == 0 || rng.Intn(3) > 0) {
			w := float64(rng.Intn(50))
			h.Push(w, next)
			live = append(live, timer{w, next})
			next++
			continue
		}
		want := reference(live)[0]
		if got := h.Pop(); got != want {
			t.Fatalf("step %d: popped %d, want %d", step, got, want)
		}
		for i, tm := range live {
			if tm.id == want {
				live = append(live[:i], live[i+1:]...)
				break
			}
		}
	}
}

func TestRemoveThenHeapify(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	h := New(500)
	defer h.Free()
	var ts []timer
	for i := 0; i < 500; i++ {
		w := float64(rng.Intn(100))
		h.Push(w, i)
		ts = append(ts, timer{w, i})
	}
	h.Remove(func(id int) bool { return id%3 == 0 }) // "cancelled"
	var kept []timer
	for _, tm := range ts {
		if tm.id%3 != 0 {
			kept = append(kept, tm)
		}
	}
	if got, want := drain(h), reference(kept); !equal(got, want) {
		t.Fatalf("after removal popped %v, want %v", got, want)
	}
}
