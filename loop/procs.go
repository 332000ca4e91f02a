package loop

import (
	"os"
	"runtime"
)

// The loop thread spends its time inside cgo calls (running Python, or
// waiting in epoll), which the Go scheduler counts as system calls. With a
// single P (one CPU, or a container limited to one), sysmon finds no idle
// P and takes the loop thread's P away every 20 µs of such a call, waking
// itself thousands of times a second and making each return from C take
// the slow path. One spare P lets it leave the P alone (for up to 10 ms).
func init() {
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
}
