package main

// The engine's life: LoopCore (pyext/core.c) calls these when a loop is
// created, closed and traversed by the cyclic GC.

/*
#cgo CFLAGS: -I${SRCDIR}/pyext -I/usr/include/python3.11
#include "goloop.h"
*/
import "C"

import (
	"unsafe"

	"goloop/loop"
	"goloop/policy"
)

//export goloop_engine_new
func goloop_engine_new(p *C.GoloopCore) (rc C.int) {
	defer recoverRC(&rc)
	e, err := loop.New(core(p))
	if err != nil {
		raise(err)
		return -1
	}
	policy.AttachResolver(e)
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
