package loop

import (
	_ "unsafe" // for go:linkname
)

// nanotime is the runtime's CLOCK_MONOTONIC reading (vDSO, no syscall):
// the same clock as Python's time.monotonic() and LoopCore.time().
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// now is the loop's time() in seconds.
func now() float64 { return float64(nanotime()) * 1e-9 }
