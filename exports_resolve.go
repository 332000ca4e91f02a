package main

/*
#cgo CFLAGS: -I${SRCDIR}/pyext -I/usr/include/python3.11
#include "goloop.h"
*/
import "C"

import "unsafe"

//export goloop_getaddrinfo
func goloop_getaddrinfo(p *C.GoloopCore, fut *C.PyObject, host, port *C.char, family, typ, proto, flags C.int) (rc C.int) {
	defer recoverRC(&rc)
	e, ok := engine(p)
	if !ok {
		return -1
	}
	e.GetAddrInfo(unsafe.Pointer(fut), C.GoString(host), C.GoString(port), host == nil, port == nil,
		int(family), int(typ), int(proto), int(flags))
	return 0
}

//export goloop_getnameinfo
func goloop_getnameinfo(p *C.GoloopCore, fut *C.PyObject, host, port *C.char, flowinfo, scopeID C.uint, v6, flags C.int) (rc C.int) {
	defer recoverRC(&rc)
	e, ok := engine(p)
	if !ok {
		return -1
	}
	e.GetNameInfo(unsafe.Pointer(fut), C.GoString(host), C.GoString(port), uint32(flowinfo), uint32(scopeID), v6 != 0, int(flags))
	return 0
}
