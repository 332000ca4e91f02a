package loop

import "goloop/cgo"

// checkSignals runs Python's pending signal handlers (a SIGINT handler
// raises KeyboardInterrupt here). false: a Python exception is set.
func checkSignals() bool { return cgo.CheckSignals() }
