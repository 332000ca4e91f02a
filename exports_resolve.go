package main

// DNS: the loop's getaddrinfo/getnameinfo (pyext/core.c) start lookups on
// policy's bounded resolver pool; the C iteration (pyext/run.c) calls
// goloop_run_completions when finished lookups wait to settle futures.

/*
#cgo CFLAGS: -I${SRCDIR}/pyext -I/usr/include/python3.11
#include "goloop.h"
*/
import "C"

import (
	"unsafe"

	"goloop/policy"
)

// resolver finds the loop's resolver, or sets RuntimeError("Event loop is
// closed") and returns nil.
func resolver(p *C.GoloopCore) *policy.Resolver {
	e, ok := engine(p)
	if !ok {
		return nil
	}
	return policy.ResolverOf(e)
}

//export goloop_getaddrinfo
func goloop_getaddrinfo(p *C.GoloopCore, fut *C.PyObject, host, port *C.char, family, typ, proto, flags C.int) (rc C.int) {
	defer recoverRC(&rc)
	r := resolver(p)
	if r == nil {
		return -1
	}
	r.GetAddrInfo(unsafe.Pointer(fut), C.GoString(host), C.GoString(port), host == nil, port == nil,
		int(family), int(typ), int(proto), int(flags))
	return 0
}

//export goloop_getnameinfo
func goloop_getnameinfo(p *C.GoloopCore, fut *C.PyObject, host, port *C.char, flowinfo, scopeID C.uint, v6, flags C.int) (rc C.int) {
	defer recoverRC(&rc)
	r := resolver(p)
	if r == nil {
		return -1
	}
	r.GetNameInfo(unsafe.Pointer(fut), C.GoString(host), C.GoString(port), uint32(flowinfo), uint32(scopeID), v6 != 0, int(flags))
	return 0
}

//export goloop_run_completions
func goloop_run_completions(p *C.GoloopCore) (rc C.int) {
	defer recoverRC(&rc)
	r := resolver(p)
	if r == nil {
		return -1
	}
	if err := r.RunCompletions(); err != nil {
		raise(err)
		return -1
	}
	return 0
}
