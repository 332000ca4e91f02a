package main

// Self-tests of the panic guard (goloop._goloop._selftest_*, pyext/module.c):
// tests call them and expect a RuntimeError, not an aborted interpreter.

import "C"

var selftestNil *int32

// goloop_selftest_fault dereferences a nil pointer in Go code: the fault
// must still reach the Go runtime (a panic, recovered here into a
// RuntimeError) with goloop's fatal-signal handler in front of Go's.
//
//export goloop_selftest_fault
func goloop_selftest_fault() (rc C.int) {
	defer recoverRC(&rc)
	return C.int(*selftestNil)
}

//export goloop_selftest_panic
func goloop_selftest_panic() (rc C.int) {
	defer recoverRC(&rc)
	var empty []int
	i := len(empty)
	return C.int(empty[i]) // index out of range
}
