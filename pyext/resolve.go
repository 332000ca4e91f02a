package pyext

/*
#include <stdlib.h>
#include <netdb.h>
#include "goloop.h"
*/
import "C"

import "unsafe"

// AddrInfo is a libc addrinfo list owned by Go until finished or freed.
type AddrInfo struct{ p *C.struct_addrinfo }

// GetAddrInfo calls libc getaddrinfo. It blocks, needs no GIL and touches
// no Python object: call it from a goroutine. Empty host/port mean NULL.
func GetAddrInfo(host, port string, hostNil, portNil bool, family, typ, proto, flags int) (AddrInfo, int, int) {
	var ch, cp *C.char
	if !hostNil {
		ch = C.CString(host)
		defer C.free(unsafe.Pointer(ch))
	}
	if !portNil {
		cp = C.CString(port)
		defer C.free(unsafe.Pointer(cp))
	}
	var res *C.struct_addrinfo
	var errno C.int
	code := C.goloop_gai(ch, cp, C.int(family), C.int(typ), C.int(proto), C.int(flags), &res, &errno)
	return AddrInfo{res}, int(code), int(errno)
}

// Free releases the list without the GIL.
func (a AddrInfo) Free() { C.goloop_gai_free(a.p) }

// FinishAddrInfo converts the result to a Python list (freeing it) and
// settles fut with it or with the matching socket error. GIL held.
func FinishAddrInfo(fut unsafe.Pointer, a AddrInfo, code, errno int) bool {
	res := C.goloop_gai_finish(a.p, C.int(code), C.int(errno))
	return C.goloop_settle_future((*C.PyObject)(fut), res) == 0
}

// NameInfo is getnameinfo's outcome.
type NameInfo struct {
	Code, Errno int
	Host, Serv  string
}

// GetNameInfo calls libc getnameinfo for a numeric host/port. Blocking,
// no GIL: call it from a goroutine.
func GetNameInfo(host, port string, flowinfo, scopeID uint32, v6 bool, flags int) NameInfo {
	ch, cp := C.CString(host), C.CString(port)
	defer C.free(unsafe.Pointer(ch))
	defer C.free(unsafe.Pointer(cp))
	var hbuf [C.NI_MAXHOST]C.char
	var sbuf [C.NI_MAXSERV]C.char
	var errno C.int
	isV6 := C.int(0)
	if v6 {
		isV6 = 1
	}
	code := C.goloop_gni(ch, cp, C.uint(flowinfo), C.uint(scopeID), isV6, C.int(flags),
		&hbuf[0], C.int(len(hbuf)), &sbuf[0], C.int(len(sbuf)), &errno)
	ni := NameInfo{Code: int(code), Errno: int(errno)}
	if code == 0 {
		ni.Host, ni.Serv = C.GoString(&hbuf[0]), C.GoString(&sbuf[0])
	}
	return ni
}

// FinishNameInfo settles fut with (host, serv) or the socket error.
func FinishNameInfo(fut unsafe.Pointer, ni NameInfo) bool {
	ch, cs := C.CString(ni.Host), C.CString(ni.Serv)
	defer C.free(unsafe.Pointer(ch))
	defer C.free(unsafe.Pointer(cs))
	res := C.goloop_gni_finish(C.int(ni.Code), C.int(ni.Errno), ch, cs)
	return C.goloop_settle_future((*C.PyObject)(fut), res) == 0
}

// IncRefObj / DecRefObj manage references to arbitrary Python objects.
func IncRefObj(p unsafe.Pointer) { C.goloop_incref((*C.PyObject)(p)) }

// DecRefObj drops a reference; GIL held.
func DecRefObj(p unsafe.Pointer) { C.goloop_decref((*C.PyObject)(p)) }
