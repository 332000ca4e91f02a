// Command goloop is built with -buildmode=c-shared into the CPython
// extension module goloop/_goloop<EXT_SUFFIX>. This file holds the Go
// functions the C layer (pyext/*.c) calls. Each one runs on the calling
// Python thread with the GIL held, recovers any panic into a Python
// RuntimeError (an unrecovered panic would abort the interpreter), and
// reports errors by setting a Python exception.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/pyext -I/usr/include/python3.11
#include "goloop.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"goloop/loop"
	"goloop/pyext"
)

func main() {}

// raise sets the Python exception describing err (unless already set).
func raise(err error) {
	var errno syscall.Errno
	switch {
	case errors.Is(err, loop.ErrPython):
		if !pyext.ErrOccurred() {
			pyext.SetError(pyext.RuntimeError, "goloop: exception lost")
		}
	case errors.As(err, &errno):
		pyext.SetErrno(int(errno))
	default:
		pyext.SetError(pyext.RuntimeError, err.Error())
	}
}

// recovered turns a panic into a Python RuntimeError.
func recovered(r any) {
	pyext.SetError(pyext.RuntimeError, fmt.Sprintf("goloop internal error: %v", r))
}

// The deferred guards of the exported functions (recover works because
// each is the deferred function itself): a panic becomes a RuntimeError
// and the function returns its error value.

func recoverRC(rc *C.int) {
	if r := recover(); r != nil {
		recovered(r)
		*rc = -1
	}
}

func recoverObj(res **C.PyObject) {
	if r := recover(); r != nil {
		recovered(r)
		*res = nil
	}
}

func recoverVoid() {
	if r := recover(); r != nil {
		recovered(r)
	}
}

func core(p *C.GoloopCore) pyext.Core { return pyext.CoreFrom(unsafe.Pointer(p)) }

func engine(p *C.GoloopCore) (*loop.Engine, bool) {
	e := loop.Lookup(core(p))
	if e == nil {
		pyext.SetError(pyext.RuntimeError, "Event loop is closed")
		return nil, false
	}
	return e, true
}

//export goloop_engine_new
func goloop_engine_new(p *C.GoloopCore) (rc C.int) {
	defer recoverRC(&rc)
	if _, err := loop.New(core(p)); err != nil {
		raise(err)
		return -1
	}
	return 0
}

//export goloop_engine_close
func goloop_engine_close(p *C.GoloopCore) {
	defer recoverVoid()
	if e := loop.Lookup(core(p)); e != nil {
		e.Close()
	}
}

// goloop_engine_traverse is LoopCore's tp_traverse for the references the
// engine holds. It runs inside the cyclic GC: no Python exception may be
// set, so a panic only ends the traversal.
//
//export goloop_engine_traverse
func goloop_engine_traverse(p *C.GoloopCore, visit C.visitproc, arg unsafe.Pointer) (rc C.int) {
	defer func() {
		if recover() != nil {
			rc = 0
		}
	}()
	e := loop.Lookup(core(p))
	if e == nil {
		return 0
	}
	return C.int(e.Traverse(func(o unsafe.Pointer) int {
		return int(C.goloop_visit(visit, (*C.PyObject)(o), arg))
	}))
}

//export goloop_run_completions
func goloop_run_completions(p *C.GoloopCore) (rc C.int) {
	defer recoverRC(&rc)
	e, ok := engine(p)
	if !ok {
		return -1
	}
	if err := e.RunCompletions(); err != nil {
		raise(err)
		return -1
	}
	return 0
}

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
	// Proves the guard: tests call this and expect a RuntimeError, not an
	// aborted interpreter.
	var empty []int
	i := len(empty)
	return C.int(empty[i]) // index out of range

}
