package main

// The guard every exported function shares. Each export runs on the
// calling Python thread with the GIL held, recovers any panic into a
// Python RuntimeError (an unrecovered panic in a c-shared library aborts
// the interpreter), and reports errors by setting a Python exception.

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

func recoverVoid() {
	if r := recover(); r != nil {
		recovered(r)
	}
}

func core(p *C.GoloopCore) pyext.Core { return pyext.CoreFrom(unsafe.Pointer(p)) }

// engine finds the loop's engine, or sets RuntimeError("Event loop is
// closed") and returns false.
func engine(p *C.GoloopCore) (*loop.Engine, bool) {
	e := loop.Lookup(core(p))
	if e == nil {
		pyext.SetError(pyext.RuntimeError, "Event loop is closed")
		return nil, false
	}
	return e, true
}
