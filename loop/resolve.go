package loop

import (
	"unsafe"

	"goloop/pyext"
)

// GetAddrInfo resolves host/port with libc getaddrinfo on a goroutine (no
// Python thread pool) and settles fut with socket.getaddrinfo's result.
func (e *Engine) GetAddrInfo(fut unsafe.Pointer, host, port string, hostNil, portNil bool, family, typ, proto, flags int) {
	var res pyext.AddrInfo
	var code, errno int
	j := &job{}
	j.complete = func() bool { return pyext.FinishAddrInfo(j.fut, res, code, errno) }
	j.discard = func() { res.Free() }
	e.start(fut, j, func() {
		res, code, errno = pyext.GetAddrInfo(host, port, hostNil, portNil, family, typ, proto, flags)
	})
}

// GetNameInfo runs libc getnameinfo on a goroutine and settles fut.
func (e *Engine) GetNameInfo(fut unsafe.Pointer, host, port string, flowinfo, scopeID uint32, v6 bool, flags int) {
	var ni pyext.NameInfo
	j := &job{}
	j.complete = func() bool { return pyext.FinishNameInfo(j.fut, ni) }
	j.discard = func() {}
	e.start(fut, j, func() {
		ni = pyext.GetNameInfo(host, port, flowinfo, scopeID, v6, flags)
	})
}
